// Command opsflow runs the opsflow workflow engine.
//
//	opsflow serve            API + builder + worker in one process
//	opsflow worker           workers only (needs DATABASE_URL and REDIS_ADDR)
//	opsflow validate FILE    check a flow document
//	opsflow import FILE      store a flow document as a new flow (--publish to publish it)
//	opsflow export ID        print a flow's document
//	opsflow docs             print the node reference
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	builderui "github.com/opsflow/opsflow/builder-ui"
	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/api"
	"github.com/opsflow/opsflow/engine/compile"
	"github.com/opsflow/opsflow/engine/flow"
	"github.com/opsflow/opsflow/engine/node"
	"github.com/opsflow/opsflow/engine/template"
	"github.com/opsflow/opsflow/examples"
	_ "github.com/opsflow/opsflow/nodes" // registers every node type
)

const usage = `opsflow — low-code workflows joining your CRM and payment systems

Usage:
  opsflow serve     [flags]        run the API, the builder and a worker (http://localhost:8080)
  opsflow worker    [flags]        run workers only (needs DATABASE_URL and REDIS_ADDR)
  opsflow validate  FILE           check a flow document and list every problem
  opsflow import    [flags] FILE   store a flow document or template as a new flow (-publish to publish it;
                                   -template ID imports from the gallery, with -param/-credential/-team)
  opsflow export    [flags] ID     print a flow's document (-version N for an older one)
  opsflow docs                     print the node reference (Markdown)

Run "opsflow serve -h" for the configuration flags; each has an environment variable.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "serve":
		err = serve(args, true)
	case "worker":
		err = serve(args, false)
	case "validate":
		err = validate(args, os.Stdout)
	case "import":
		err = importFlow(args, os.Stdout)
	case "export":
		err = exportFlow(args, os.Stdout)
	case "docs":
		fmt.Print(node.Markdown())
	case "help", "-h", "--help":
		fmt.Print(usage)
		return
	default:
		err = fmt.Errorf("unknown command %q (want serve, worker, validate, import, export or docs)", cmd)
	}
	if err != nil {
		var ex exitError
		if errors.As(err, &ex) {
			os.Exit(int(ex))
		}
		// One line, however many lines the cause had (drivers like to wrap theirs).
		fmt.Fprintln(os.Stderr, "opsflow:", strings.Join(strings.Fields(err.Error()), " "))
		os.Exit(1)
	}
}

// exitError ends the program with a code after the command already printed why.
type exitError int

func (e exitError) Error() string { return "exit " + strconv.Itoa(int(e)) }

// settings is the configuration shared by every command: flags that default to environment variables.
type settings struct {
	addr        string
	dataDir     string
	databaseURL string
	redisAddr   string
	concurrency int
	logLevel    string
	httpAllow   string
	maxBody     int64
	worker      bool
	retention   string
}

func env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

func (s *settings) register(fs *flag.FlagSet) error {
	conc, err := strconv.Atoi(env("OPSFLOW_CONCURRENCY", "10"))
	if err != nil || conc < 1 {
		return fmt.Errorf("OPSFLOW_CONCURRENCY must be a positive whole number, not %q", os.Getenv("OPSFLOW_CONCURRENCY"))
	}
	maxBody, err := strconv.ParseInt(env("OPSFLOW_MAX_BODY_BYTES", strconv.Itoa(api.DefaultMaxBody)), 10, 64)
	if err != nil || maxBody < 1 {
		return fmt.Errorf("OPSFLOW_MAX_BODY_BYTES must be a positive whole number, not %q", os.Getenv("OPSFLOW_MAX_BODY_BYTES"))
	}
	fs.StringVar(&s.addr, "addr", env("OPSFLOW_ADDR", ":8080"), "listen address (OPSFLOW_ADDR)")
	fs.StringVar(&s.dataDir, "data-dir", env("OPSFLOW_DATA_DIR", "./data"), "embedded default's files (OPSFLOW_DATA_DIR)")
	fs.StringVar(&s.databaseURL, "database-url", env("DATABASE_URL", ""), "Postgres URL; empty uses SQLite in the data dir (DATABASE_URL)")
	fs.StringVar(&s.redisAddr, "redis-addr", env("REDIS_ADDR", ""), "Redis host:port; empty uses the embedded queue (REDIS_ADDR)")
	fs.IntVar(&s.concurrency, "concurrency", conc, "runs a worker executes at once (OPSFLOW_CONCURRENCY)")
	fs.StringVar(&s.logLevel, "log-level", env("OPSFLOW_LOG_LEVEL", "info"), "debug, info, warn or error (OPSFLOW_LOG_LEVEL)")
	fs.StringVar(&s.httpAllow, "http-allow", env("OPSFLOW_HTTP_ALLOW", ""), "comma-separated CIDRs outbound HTTP may reach although internal (OPSFLOW_HTTP_ALLOW)")
	fs.Int64Var(&s.maxBody, "max-body-bytes", maxBody, "largest accepted request body (OPSFLOW_MAX_BODY_BYTES)")
	fs.StringVar(&s.retention, "retention", env("OPSFLOW_RETENTION", "90d"), "how long finished runs and their events are kept, at least 7d (OPSFLOW_RETENTION)")
	fs.BoolVar(&s.worker, "worker", env("OPSFLOW_WORKER", "true") != "false", "serve: also execute runs in this process (OPSFLOW_WORKER)")
	return nil
}

func (s *settings) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(s.logLevel)); err != nil {
		return nil, fmt.Errorf("log level must be debug, info, warn or error, not %q", s.logLevel)
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})), nil
}

func (s *settings) engineConfig(log *slog.Logger) (engine.Config, error) {
	var allow []string
	for _, c := range strings.Split(s.httpAllow, ",") {
		if c = strings.TrimSpace(c); c != "" {
			allow = append(allow, c)
		}
	}
	var retention time.Duration // zero: the engine's default
	if s.retention != "" {
		var err error
		if retention, err = compile.ParseDuration(s.retention); err != nil {
			return engine.Config{}, fmt.Errorf("retention: %w", err)
		}
	}
	return engine.Config{
		DataDir: s.dataDir, DatabaseURL: s.databaseURL, RedisAddr: s.redisAddr, SecretKey: os.Getenv("OPSFLOW_SECRET_KEY"),
		HTTPAllow: allow, Concurrency: s.concurrency, Logger: log, QueueName: os.Getenv("OPSFLOW_QUEUE"), Retention: retention,
	}, nil
}

// parse reads flags after the environment; a bad value is one clear line.
func parse(name string, args []string, extra func(*flag.FlagSet)) (*settings, *flag.FlagSet, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	s := &settings{}
	if err := s.register(fs); err != nil {
		return nil, nil, err
	}
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stdout)
			fmt.Printf("Usage of opsflow %s:\n", name)
			fs.PrintDefaults()
			return nil, nil, exitError(0)
		}
		return nil, nil, err
	}
	return s, fs, nil
}

func serve(args []string, withAPI bool) error {
	name := "serve"
	if !withAPI {
		name = "worker"
	}
	s, _, err := parse(name, args, nil)
	if err != nil {
		return err
	}
	log, err := s.logger()
	if err != nil {
		return err
	}
	if !withAPI && (s.databaseURL == "" || s.redisAddr == "") {
		return errors.New("worker needs DATABASE_URL and REDIS_ADDR (a separate worker must share the database and queue); for one process use: opsflow serve")
	}
	cfg, err := s.engineConfig(log)
	if err != nil {
		return err
	}
	e, err := engine.Open(cfg)
	if err != nil {
		return err
	}
	defer e.Close()
	if !withAPI || s.worker {
		if err := e.StartWorker(); err != nil {
			return err
		}
	} else if s.redisAddr == "" {
		return errors.New("-worker=false needs REDIS_ADDR: with the embedded queue only this process can execute runs")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if !withAPI {
		log.Info("opsflow worker started", "concurrency", s.concurrency)
		<-ctx.Done()
		log.Info("shutting down")
		return nil
	}
	ui, err := fs.Sub(builderui.Dist, "dist")
	if err != nil {
		return err
	}
	gallery, err := template.Gallery(examples.Templates, "templates")
	if err != nil {
		return err
	}
	var tokens []string // secrets: from the environment only, never a flag (flags show in ps)
	for _, t := range strings.Split(os.Getenv("OPSFLOW_API_TOKENS"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			if len(t) < 16 {
				return errors.New("OPSFLOW_API_TOKENS: each token must be at least 16 characters (generate one with: openssl rand -hex 24)")
			}
			tokens = append(tokens, t)
		}
	}
	handler := api.New(e, api.Options{MaxBody: s.maxBody, UI: ui, Templates: gallery, Tokens: tokens, Logger: log})
	srv := &http.Server{Addr: s.addr, Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	store, queue := "sqlite ("+s.dataDir+")", "embedded"
	if s.databaseURL != "" {
		store = "postgres"
	}
	if s.redisAddr != "" {
		queue = "redis " + s.redisAddr
	}
	log.Info("opsflow listening", "addr", s.addr, "url", "http://"+displayAddr(s.addr), "store", store, "queue", queue, "api_tokens", len(tokens))
	if len(tokens) == 0 {
		log.Warn("the API is open to anyone who can reach it; set OPSFLOW_API_TOKENS to require a token")
	}
	select {
	case err := <-errc:
		return fmt.Errorf("cannot listen on %s: %w", s.addr, err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

func displayAddr(addr string) string {
	if strings.HasPrefix(addr, ":") {
		return "localhost" + addr
	}
	return addr
}

func readFlowFile(path string) (*flow.Flow, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return flow.Parse(b)
}

func validate(args []string, out io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: opsflow validate FILE")
	}
	f, err := readFlowFile(args[0])
	if err != nil {
		return err
	}
	if _, problems := compile.Compile(f, nil); problems != nil {
		for _, p := range problems {
			loc := p.NodeID
			if p.Field != "" {
				loc = strings.TrimPrefix(loc+"."+p.Field, ".")
			}
			fmt.Fprintf(out, "%s: %s: %s [%s]\n", args[0], loc, p.Message, p.Code)
		}
		fmt.Fprintf(out, "%d problem(s)\n", len(problems))
		return exitError(1)
	}
	fmt.Fprintf(out, "%s: valid (%d nodes, %d edges)\n", args[0], len(f.Nodes), len(f.Edges))
	return nil
}

func offlineEngine(s *settings) (*engine.Engine, error) {
	log, err := s.logger()
	if err != nil {
		return nil, err
	}
	cfg, err := s.engineConfig(log)
	if err != nil {
		return nil, err
	}
	cfg.Offline = true
	return engine.Open(cfg)
}

// pairs collects repeated -flag key=value options.
type pairs map[string]string

func (p pairs) String() string { return "" }
func (p pairs) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("want name=value, got %q", v)
	}
	p[k] = val
	return nil
}

func importFlow(args []string, out io.Writer) error {
	var publish bool
	var name, galleryID string
	params, creds, teams := pairs{}, pairs{}, pairs{}
	s, fs, err := parse("import", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&publish, "publish", false, "publish the imported flow")
		fs.StringVar(&name, "name", "", "name of the new flow (templates)")
		fs.StringVar(&galleryID, "template", "", "import this template of the built-in gallery instead of a FILE")
		fs.Var(params, "param", "template parameter name=value (repeatable)")
		fs.Var(creds, "credential", "map a template's credential to a stored one: need=name-or-id (repeatable)")
		fs.Var(teams, "team", "map a template's team to a stored one: need=name-or-id (repeatable)")
	})
	if err != nil {
		return err
	}
	var raw []byte
	switch {
	case galleryID != "" && fs.NArg() == 0:
	case galleryID == "" && fs.NArg() == 1:
		if raw, err = os.ReadFile(fs.Arg(0)); err != nil {
			return err
		}
	default:
		return errors.New("usage: opsflow import [-publish] [-name N] [-param k=v] [-credential need=ref] [-team need=ref] (FILE | -template ID)")
	}
	var tmpl *template.Template
	var f *flow.Flow
	switch {
	case galleryID != "":
		gallery, err := template.Gallery(examples.Templates, "templates")
		if err != nil {
			return err
		}
		for _, t := range gallery {
			if t.ID == galleryID {
				tmpl = t
			}
		}
		if tmpl == nil {
			return fmt.Errorf("no template %q in the gallery", galleryID)
		}
	case bytes.Contains(raw[:min(len(raw), 200)], []byte(`"template"`)):
		if tmpl, err = template.Parse(raw); err != nil {
			return err
		}
	default:
		if f, err = flow.Parse(raw); err != nil {
			return err
		}
	}
	e, err := offlineEngine(s)
	if err != nil {
		return err
	}
	defer e.Close()
	ctx := context.Background()
	var info *engine.FlowInfo
	if tmpl != nil {
		choices := template.Choices{Name: name, Parameters: map[string]any{}, Credentials: creds, Teams: teams}
		for k, v := range params {
			choices.Parameters[k] = paramValue(tmpl, k, v)
		}
		info, err = e.ImportTemplate(ctx, tmpl, choices)
	} else {
		if name != "" {
			f.Name = name
		}
		// The API keeps incomplete drafts for the builder; a command-line import is all or nothing.
		if _, problems := e.Compile(ctx, f); problems != nil {
			return &engine.InvalidFlowError{Problems: problems}
		}
		info, err = e.CreateFlow(ctx, f)
	}
	if err != nil {
		return err
	}
	if publish {
		if _, err := e.PublishFlow(ctx, info.Flow.ID, 0); err != nil {
			return err
		}
	}
	fmt.Fprintln(out, info.Flow.ID)
	return nil
}

// paramValue converts a command-line value to the parameter's declared type.
func paramValue(t *template.Template, name, v string) any {
	for _, p := range t.Parameters {
		if p.Name != name {
			continue
		}
		switch p.Type {
		case "number":
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				return f
			}
		case "boolean":
			if b, err := strconv.ParseBool(v); err == nil {
				return b
			}
		}
	}
	return v
}

func exportFlow(args []string, out io.Writer) error {
	var version int
	s, fs, err := parse("export", args, func(fs *flag.FlagSet) { fs.IntVar(&version, "version", 0, "version to export (default: latest)") })
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: opsflow export [-version N] ID")
	}
	e, err := offlineEngine(s)
	if err != nil {
		return err
	}
	defer e.Close()
	b, err := e.ExportFlow(context.Background(), fs.Arg(0), version)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, string(b))
	return err
}
