// Command opsflow runs the opsflow workflow engine.
//
//	opsflow serve            API + builder + worker in one process
//	opsflow worker           workers only (needs DATABASE_URL and REDIS_ADDR)
//	opsflow migrate          apply the pending database migrations
//	opsflow validate FILE    check a flow document
//	opsflow import FILE      store a flow document as a new flow (--publish to publish it)
//	opsflow export ID        print a flow's document
//	opsflow users create     add a user (-admin for the first admin)
//	opsflow keys rotate      re-encrypt credentials under a new secret key
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
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	builderui "github.com/opsflow/opsflow/builder-ui"
	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/api"
	"github.com/opsflow/opsflow/engine/compile"
	"github.com/opsflow/opsflow/engine/flow"
	"github.com/opsflow/opsflow/engine/node"
	"github.com/opsflow/opsflow/engine/queue"
	"github.com/opsflow/opsflow/engine/store"
	"github.com/opsflow/opsflow/engine/template"
	"github.com/opsflow/opsflow/examples"
	_ "github.com/opsflow/opsflow/nodes" // registers every node type
)

const usage = `opsflow — low-code workflows joining your CRM and payment systems

Usage:
  opsflow serve     [flags]        run the API, the builder and a worker (http://localhost:8080)
  opsflow worker    [flags]        run workers only (needs DATABASE_URL and REDIS_ADDR)
  opsflow migrate   [flags]        apply the pending database migrations (serve and worker do too,
                                   unless OPSFLOW_AUTO_MIGRATE=false)
  opsflow validate  FILE           check a flow document and list every problem
  opsflow import    [flags] FILE   store a flow document or template as a new flow (-publish to publish it;
                                   -template ID imports from the gallery, with -param/-credential/-team)
  opsflow export    [flags] ID     print a flow's document (-version N for an older one)
  opsflow replay    [flags] FLOW  replay recorded events through a version (-version N|draft, -last N,
                                   -since 7d, -events ID,ID) without side effects; exit 1 if any now fails
  opsflow users     create [-admin | -role R] EMAIL
                                   add a user (password from OPSFLOW_PASSWORD, or generated and printed)
  opsflow keys      rotate         re-encrypt every credential under OPSFLOW_SECRET_KEY, reading
                                   the old ones with OPSFLOW_SECRET_KEY_OLD
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
	case "migrate":
		err = migrate(args, os.Stdout)
	case "validate":
		err = validate(args, os.Stdout)
	case "import":
		err = importFlow(args, os.Stdout)
	case "export":
		err = exportFlow(args, os.Stdout)
	case "replay":
		err = replayCommand(args, os.Stdout)
	case "users":
		err = usersCommand(args, os.Stdout)
	case "keys":
		err = keysCommand(args, os.Stdout)
	case "docs":
		fmt.Print(node.Markdown())
	case "help", "-h", "--help":
		fmt.Print(usage)
		return
	default:
		err = fmt.Errorf("unknown command %q (want serve, worker, migrate, validate, import, export, users, keys or docs)", cmd)
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
	stepTimeout string
	dbPool      int
	startWait   time.Duration
	autoMigrate *bool // nil (settings made in tests): true
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
	dbPool, err := strconv.Atoi(env("OPSFLOW_DB_POOL", "0"))
	if err != nil || dbPool < 0 {
		return fmt.Errorf("OPSFLOW_DB_POOL must be a whole number, not %q", os.Getenv("OPSFLOW_DB_POOL"))
	}
	startWait, err := time.ParseDuration(env("OPSFLOW_START_TIMEOUT", engine.DefaultStartTimeout.String()))
	if err != nil || startWait < 0 {
		return fmt.Errorf("OPSFLOW_START_TIMEOUT must be a duration such as 60s or 0s, not %q", os.Getenv("OPSFLOW_START_TIMEOUT"))
	}
	autoMigrate, err := strconv.ParseBool(env("OPSFLOW_AUTO_MIGRATE", "true"))
	if err != nil {
		return fmt.Errorf("OPSFLOW_AUTO_MIGRATE must be true or false, not %q", os.Getenv("OPSFLOW_AUTO_MIGRATE"))
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
	fs.StringVar(&s.stepTimeout, "step-timeout", env("OPSFLOW_STEP_TIMEOUT", "5m"), "longest one step may run unless its node sets step_timeout (OPSFLOW_STEP_TIMEOUT)")
	fs.IntVar(&s.dbPool, "db-pool", dbPool, "Postgres connections of this process; 0: concurrency + 20 (OPSFLOW_DB_POOL)")
	fs.DurationVar(&s.startWait, "start-timeout", startWait, "how long to keep retrying Postgres and Redis at start; 0s: one attempt (OPSFLOW_START_TIMEOUT)")
	s.autoMigrate = fs.Bool("auto-migrate", autoMigrate, "apply pending database migrations at start; false: refuse to start until opsflow migrate ran (OPSFLOW_AUTO_MIGRATE)")
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
	var old []string
	for _, k := range strings.Split(os.Getenv("OPSFLOW_SECRET_KEY_OLD"), ",") {
		if k = strings.TrimSpace(k); k != "" {
			old = append(old, k)
		}
	}
	var stepTimeout time.Duration // zero: the engine's default
	if s.stepTimeout != "" {
		var err error
		if stepTimeout, err = compile.ParseDuration(s.stepTimeout); err != nil || stepTimeout <= 0 {
			return engine.Config{}, fmt.Errorf("step timeout must be a positive duration such as 30s or 5m, not %q", s.stepTimeout)
		}
	}
	startWait := s.startWait
	if startWait == 0 {
		startWait = -1 // engine.Config: negative is one attempt, zero the default
	}
	return engine.Config{
		OldSecretKeys: old,
		StartTimeout:  startWait, RequireMigrated: s.autoMigrate != nil && !*s.autoMigrate,
		DataDir: s.dataDir, DatabaseURL: s.databaseURL, RedisAddr: s.redisAddr, SecretKey: os.Getenv("OPSFLOW_SECRET_KEY"),
		HTTPAllow: allow, Concurrency: s.concurrency, Logger: log, QueueName: os.Getenv("OPSFLOW_QUEUE"), Retention: retention,
		StepTimeout: stepTimeout, DBPoolSize: s.dbPool,
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
	queue.LogRedisTo(log)
	if !withAPI && (s.databaseURL == "" || s.redisAddr == "") {
		return errors.New("worker needs DATABASE_URL and REDIS_ADDR (a separate worker must share the database and queue); for one process use: opsflow serve")
	}
	if withAPI && !s.worker && s.redisAddr == "" {
		return errors.New("-worker=false needs REDIS_ADDR: with the embedded queue only this process can execute runs")
	}
	cfg, err := s.engineConfig(log)
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
	// Nothing may run before this process knows it is the only one on its data directory and its
	// port: a second serve would otherwise recover (and so repeat) the first one's runs.
	if s.databaseURL == "" || s.redisAddr == "" {
		lock, err := lockDataDir(s.dataDir)
		if err != nil {
			return err
		}
		defer lock.Close()
	}
	var srv *http.Server
	var handler startingHandler
	errc := make(chan error, 1)
	if withAPI {
		ln, err := net.Listen("tcp", s.addr)
		if err != nil {
			return fmt.Errorf("cannot listen on %s: %w", s.addr, err)
		}
		srv = &http.Server{Handler: &handler, ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- srv.Serve(ln) }()
		defer srv.Close()
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
	if err := bootstrap(e, log, "http://"+displayAddr(s.addr), os.Stdout); err != nil {
		return err
	}
	handler.ready(api.New(e, api.Options{MaxBody: s.maxBody, UI: ui, Templates: gallery, Tokens: tokens, Logger: log}))
	storeKind, queueKind := "sqlite ("+s.dataDir+")", "embedded"
	if s.databaseURL != "" {
		storeKind = "postgres"
	}
	if s.redisAddr != "" {
		queueKind = "redis " + s.redisAddr
	}
	log.Info("opsflow listening", "addr", s.addr, "url", "http://"+displayAddr(s.addr), "store", storeKind, "queue", queueKind, "api_tokens", len(tokens))
	select {
	case err := <-errc:
		return fmt.Errorf("serving on %s: %w", s.addr, err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// startingHandler answers while the engine starts (the port is bound first): /healthz says the
// process lives, everything else is 503 with Retry-After; then it hands over to the API.
type startingHandler struct{ api atomic.Pointer[http.Handler] }

func (h *startingHandler) ready(api http.Handler) { h.api.Store(&api) }

func (h *startingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if api := h.api.Load(); api != nil {
		(*api).ServeHTTP(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/healthz" || r.URL.Path == "/api/v1/healthz" {
		io.WriteString(w, `{"status":"starting"}`)
		return
	}
	w.Header().Set("Retry-After", "2")
	w.WriteHeader(http.StatusServiceUnavailable)
	io.WriteString(w, `{"error":{"code":"starting","message":"opsflow is starting (connecting to the database and queue); retry shortly"}}`)
}

// migrate applies the pending database migrations: the explicit upgrade step.
func migrate(args []string, out io.Writer) error {
	s, fs, err := parse("migrate", args, nil)
	if err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return errors.New("usage: opsflow migrate [flags]")
	}
	log, err := s.logger()
	if err != nil {
		return err
	}
	cfg, err := s.engineConfig(log)
	if err != nil {
		return err
	}
	applied, err := engine.Migrate(cfg)
	for _, m := range applied {
		fmt.Fprintf(out, "applied migration %d: %s\n", m.Version, m.Name)
	}
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintf(out, "the database is up to date (migration %d)\n", store.Migrations[len(store.Migrations)-1].Version)
	}
	return nil
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
