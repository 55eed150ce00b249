// Command opsflow runs the opsflow workflow engine. "opsflow help" lists the commands (the table
// below); "opsflow COMMAND -h" shows one command's usage and flags.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
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

// command is one "opsflow NAME ..." command: run gets the arguments after NAME and writes its
// output to out (errors are returned; main prints them as one line).
type command struct {
	name, args, summary string
	run                 func(args []string, out io.Writer) error
}

// commands is the dispatch table, in the order "opsflow help" lists them. A new command is one
// entry here and its code in a file of its own.
var commands = []command{
	{"serve", "[flags]", "run the API, the builder and a worker (http://localhost:8080)", serveCommand},
	{"worker", "[flags]", "run workers only (needs DATABASE_URL and REDIS_ADDR or REDIS_URL)", workerCommand},
	{"migrate", "[flags]", "apply the pending database migrations (serve and worker do too, unless OPSFLOW_AUTO_MIGRATE=false)", migrate},
	{"validate", "FILE", "check a flow document and list every problem", validate},
	{"import", "[flags] FILE", "store a flow document or template (or -template ID of the gallery) as a new flow", importFlow},
	{"export", "[flags] ID", "print a flow's document", exportFlow},
	{"replay", "[flags] FLOW", "replay recorded events through a version (-version N|draft, -last N, -since 7d); exit 1 if any now fails", replayCommand},
	{"flows", "list", "list the flows (ids for export)", flowsCommand},
	{"runs", "list|retry|cancel", "list runs, retry failed ones, cancel running ones", runsCommand},
	{"credentials", "list|create|delete", "manage credentials (secrets from stdin or a file, never echoed)", credentialsCommand},
	{"users", "create", "add a user (password from OPSFLOW_PASSWORD, or generated and printed)", usersCommand},
	{"keys", "rotate", "re-encrypt every credential under OPSFLOW_SECRET_KEY (old key in OPSFLOW_SECRET_KEY_OLD)", keysCommand},
	{"healthcheck", "[-addr HOST:PORT]", "exit 0 if the local serve or worker answers ready, else 1 (container health checks)", healthcheckCommand},
	{"sandbox", "[flags]", "run local stand-ins for Twilio, Stripe, HubSpot and SMTP (try flows with no real accounts)", sandboxCommand},
	{"docs", "", "print the node reference (Markdown)", docsCommand},
}

// usage lists the commands of the table.
func usage() string {
	var b strings.Builder
	b.WriteString("opsflow — low-code workflows joining your CRM and payment systems\n\nUsage:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  opsflow %-11s %-22s %s\n", c.name, c.args, c.summary)
	}
	b.WriteString("\nRun \"opsflow COMMAND -h\" for a command's flags; each has an environment variable.\n")
	return b.String()
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit code: 0 done, 1 failed, 2 used wrongly.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return 2
	}
	name, rest := args[0], args[1:]
	if name == "help" || name == "-h" || name == "-help" || name == "--help" {
		if len(rest) == 0 {
			fmt.Fprint(stdout, usage())
			return 0
		}
		name, rest = rest[0], []string{"-h"} // opsflow help CMD: CMD's usage
	}
	var err error
	found := false
	for _, c := range commands {
		if c.name == name {
			found = true
			err = c.run(rest, stdout)
			break
		}
	}
	if !found {
		fmt.Fprintf(stderr, "opsflow: unknown command %q\n\n%s", name, usage())
		return 2
	}
	if err == nil {
		return 0
	}
	var ex exitError
	var ue *usageError
	switch {
	case errors.As(err, &ex):
		return int(ex)
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "opsflow: %s\n\n%s", oneLine(ue.err.Error()), ue.usage)
		return 2
	}
	fmt.Fprintln(stderr, "opsflow:", oneLine(err.Error()))
	return 1
}

// oneLine joins a message's lines, however many the cause had (drivers like to wrap theirs).
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func docsCommand(args []string, out io.Writer) error {
	f := newFlags(out, "docs", "", "Print the node reference, every node type's fields, ports and outputs, as Markdown (docs/nodes.md)")
	if err := f.parse(args, 0); err != nil {
		return err
	}
	_, err := fmt.Fprint(out, node.Markdown())
	return err
}

// serverFlags parses the flags of serve (withAPI) or worker.
func serverFlags(out io.Writer, args []string, withAPI bool) (*settings, error) {
	s := &settings{}
	var f *cmdFlags
	if withAPI {
		f = newFlags(out, "serve", "[flags]", "Run the API, the builder and (unless -worker=false) a worker in one process.")
	} else {
		f = newFlags(out, "worker", "[flags]", "Run a worker process: it executes runs from Redis and serves /healthz and /readyz on OPSFLOW_HEALTH_ADDR.")
	}
	if err := s.storeFlags(f); err != nil {
		return nil, err
	}
	if err := s.queueFlags(f); err != nil {
		return nil, err
	}
	if withAPI {
		if err := s.httpFlags(f); err != nil {
			return nil, err
		}
	} else {
		f.StringVar(&s.addr, "health-addr", env("OPSFLOW_HEALTH_ADDR", ""), "serve /healthz and /readyz here (e.g. :8081); empty: none (OPSFLOW_HEALTH_ADDR)")
	}
	if err := f.parse(args, 0); err != nil {
		return nil, err
	}
	if withAPI && s.addr == "" {
		return nil, f.usage("serve needs a listen address: -addr (OPSFLOW_ADDR), e.g. :8080")
	}
	return s, nil
}

func serveCommand(args []string, out io.Writer) error {
	s, err := serverFlags(out, args, true)
	if err != nil {
		return err
	}
	return serve(s, true)
}

func workerCommand(args []string, out io.Writer) error {
	s, err := serverFlags(out, args, false)
	if err != nil {
		return err
	}
	return serve(s, false)
}

// serve runs a server process: with the API (serve) or a worker only; s.addr is where it listens
// (the worker's health address, if any).
func serve(s *settings, withAPI bool) error {
	log, err := s.logger()
	if err != nil {
		return err
	}
	queue.LogRedisTo(log)
	redisOpt, err := queue.RedisOption(s.redisAddr, s.redisURL, s.redisCAFile)
	if err != nil {
		return err
	}
	if !withAPI && (s.databaseURL == "" || !s.externalQueue()) {
		return errors.New("worker needs DATABASE_URL and REDIS_ADDR or REDIS_URL (a separate worker must share the database and queue); for one process use: opsflow serve")
	}
	if withAPI && !s.worker && !s.externalQueue() {
		return errors.New("OPSFLOW_WORKER=false (-worker=false) needs REDIS_ADDR or REDIS_URL: with the embedded queue only this process can execute runs")
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
	if s.databaseURL == "" || !s.externalQueue() {
		lock, err := lockDataDir(s.dataDir)
		if err != nil {
			return err
		}
		defer lock.Close()
	}
	if s.usesDataDir() {
		if err := checkDataDir(s.dataDir); err != nil {
			return err
		}
	}
	var srv *http.Server
	var handler startingHandler
	errc := make(chan error, 1)
	if s.addr != "" { // the API's port, or the worker's health port
		ln, err := net.Listen("tcp", s.addr)
		if err != nil {
			return fmt.Errorf("cannot listen on %s: %w", s.addr, err)
		}
		srv = &http.Server{Handler: &handler, ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- srv.Serve(ln) }()
		defer srv.Close()
	}
	stopTracing, err := startTracing(log) // stopped last: the worker's final spans are flushed
	if err != nil {
		return err
	}
	defer stopTracing()
	e, err := engine.Open(cfg)
	if err != nil {
		return err
	}
	defer e.Close()
	closeMetrics, err := listenMetrics(s, e, log)
	if err != nil {
		return err
	}
	defer closeMetrics()
	if !withAPI || s.worker {
		if err := e.StartWorker(); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if !withAPI {
		if srv != nil {
			handler.ready(api.Health(e, log))
		}
		log.Info("opsflow worker started", "concurrency", s.concurrency, "queue", queue.Describe(redisOpt), "health_addr", s.addr)
		select {
		case err := <-errc:
			return fmt.Errorf("serving health checks on %s: %w", s.addr, err)
		case <-ctx.Done():
		}
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
	if redisOpt != nil {
		queueKind = "redis " + queue.Describe(redisOpt)
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
	s := &settings{}
	f := newFlags(out, "migrate", "[flags]", "Apply the pending database migrations and print them (the explicit upgrade step).")
	if err := s.storeFlags(f); err != nil {
		return err
	}
	if err := f.parse(args, 0); err != nil {
		return err
	}
	if s.databaseURL == "" {
		if err := checkDataDir(s.dataDir); err != nil {
			return err
		}
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
	fl := newFlags(out, "validate", "FILE", "Check a flow document offline: list every problem, exit 1 if there is any.")
	if err := fl.parse(args, 1); err != nil {
		return err
	}
	args = fl.Args()
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
	s := &settings{}
	fs := newFlags(out, "import", "[flags] (FILE | -template ID)", "Store a flow document, or a template (a file or -template from the built-in gallery), as a new flow and print its id.")
	fs.BoolVar(&publish, "publish", false, "publish the imported flow")
	fs.StringVar(&name, "name", "", "name of the new flow")
	fs.StringVar(&galleryID, "template", "", "import this template of the built-in gallery instead of a FILE")
	fs.Var(params, "param", "template parameter name=value (repeatable)")
	fs.Var(creds, "credential", "map a template's credential to a stored one: need=name-or-id (repeatable)")
	fs.Var(teams, "team", "map a template's team to a stored one: need=name-or-id (repeatable)")
	if err := s.storeFlags(fs); err != nil {
		return err
	}
	if err := fs.parse(args, -1); err != nil {
		return err
	}
	var raw []byte
	var err error
	switch {
	case galleryID != "" && fs.NArg() == 0:
	case galleryID == "" && fs.NArg() == 1:
		if raw, err = os.ReadFile(fs.Arg(0)); err != nil {
			return err
		}
	default:
		return fs.usage("import wants one FILE, or -template ID without a FILE")
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
	fs := newFlags(out, "export", "[flags] ID", "Print a flow's document (the ids: opsflow flows list).")
	fs.IntVar(&version, "version", 0, "version to export (default: latest)")
	e, s, err := openOffline(fs, args, 1)
	if err != nil {
		return err
	}
	defer e.Close()
	ctx, id := context.Background(), fs.Arg(0)
	b, err := e.ExportFlow(ctx, id, version)
	if errors.Is(err, store.ErrNotFound) {
		if info, ferr := e.GetFlow(ctx, id, 0); ferr == nil {
			return fmt.Errorf("flow %s has no version %d (its versions are 1 to %d)", id, version, info.Flow.LatestVersion)
		}
		return fmt.Errorf("no flow with id %q in %s; list the flows and their ids with: opsflow flows list", id, s.storeName())
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, string(b))
	return err
}
