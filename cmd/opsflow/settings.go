package main

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/api"
	"github.com/opsflow/opsflow/engine/compile"
)

// settings is the configuration: flags that default to environment variables. Each command
// registers only the groups it uses, so its -h lists only flags that apply to it.
type settings struct {
	// storeFlags: every command that opens the database.
	dataDir          string
	databaseURL      string
	dbPool           int
	statementTimeout time.Duration
	startWait        time.Duration
	autoMigrate      *bool // nil (settings made in tests): true
	logLevel         string
	// queueFlags: processes that run or hand over runs (serve, worker).
	redisAddr   string
	redisURL    string
	redisCAFile string
	concurrency int
	httpAllow   string
	retention   string
	stepTimeout string
	metricsAddr string
	// metricsToken is OPSFLOW_METRICS_TOKEN, from the environment only (flags show in ps).
	metricsToken string
	// httpFlags: serve.
	addr    string
	maxBody int64
	worker  bool
}

func env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

// storeFlags registers the database settings. A bad environment value is an error naming it.
func (s *settings) storeFlags(c *cmdFlags) error {
	dbPool, err := strconv.Atoi(env("OPSFLOW_DB_POOL", "0"))
	if err != nil || dbPool < 0 {
		return fmt.Errorf("OPSFLOW_DB_POOL must be a whole number, not %q", os.Getenv("OPSFLOW_DB_POOL"))
	}
	stmt, err := time.ParseDuration(env("OPSFLOW_DB_STATEMENT_TIMEOUT", "0s"))
	if err != nil || stmt < 0 {
		return fmt.Errorf("OPSFLOW_DB_STATEMENT_TIMEOUT must be a duration such as 30s, or 0s for none, not %q", os.Getenv("OPSFLOW_DB_STATEMENT_TIMEOUT"))
	}
	startWait, err := time.ParseDuration(env("OPSFLOW_START_TIMEOUT", engine.DefaultStartTimeout.String()))
	if err != nil || startWait < 0 {
		return fmt.Errorf("OPSFLOW_START_TIMEOUT must be a duration such as 60s or 0s, not %q", os.Getenv("OPSFLOW_START_TIMEOUT"))
	}
	autoMigrate, err := strconv.ParseBool(env("OPSFLOW_AUTO_MIGRATE", "true"))
	if err != nil {
		return fmt.Errorf("OPSFLOW_AUTO_MIGRATE must be true or false, not %q", os.Getenv("OPSFLOW_AUTO_MIGRATE"))
	}
	fs := c.FlagSet
	fs.StringVar(&s.dataDir, "data-dir", env("OPSFLOW_DATA_DIR", "./data"), "embedded default's files: SQLite database, secret key (OPSFLOW_DATA_DIR)")
	fs.StringVar(&s.databaseURL, "database-url", env("DATABASE_URL", ""), "Postgres URL (sslmode=require for TLS); empty uses SQLite in the data dir (DATABASE_URL)")
	fs.IntVar(&s.dbPool, "db-pool", dbPool, "Postgres connections of this process; 0: concurrency + 20 (OPSFLOW_DB_POOL)")
	fs.DurationVar(&s.statementTimeout, "db-statement-timeout", stmt, "Postgres cancels statements running longer; 0s: the server's setting (OPSFLOW_DB_STATEMENT_TIMEOUT)")
	fs.DurationVar(&s.startWait, "start-timeout", startWait, "how long to keep retrying Postgres and Redis at start; 0s: one attempt (OPSFLOW_START_TIMEOUT)")
	s.autoMigrate = fs.Bool("auto-migrate", autoMigrate, "apply pending database migrations at start; false: refuse to start until opsflow migrate ran (OPSFLOW_AUTO_MIGRATE)")
	fs.StringVar(&s.logLevel, "log-level", env("OPSFLOW_LOG_LEVEL", "info"), "debug, info, warn or error (OPSFLOW_LOG_LEVEL)")
	return nil
}

// queueFlags registers the settings of processes that hand over or execute runs.
func (s *settings) queueFlags(c *cmdFlags) error {
	conc, err := strconv.Atoi(env("OPSFLOW_CONCURRENCY", "10"))
	if err != nil || conc < 1 {
		return fmt.Errorf("OPSFLOW_CONCURRENCY must be a positive whole number, not %q", os.Getenv("OPSFLOW_CONCURRENCY"))
	}
	s.metricsToken = os.Getenv("OPSFLOW_METRICS_TOKEN")
	if s.metricsToken != "" && len(s.metricsToken) < 16 {
		return fmt.Errorf("OPSFLOW_METRICS_TOKEN must be at least 16 characters (generate one with: openssl rand -hex 24)")
	}
	fs := c.FlagSet
	fs.StringVar(&s.redisAddr, "redis-addr", env("REDIS_ADDR", ""), "Redis host:port; empty (and no REDIS_URL) uses the embedded queue (REDIS_ADDR)")
	fs.StringVar(&s.redisURL, "redis-url", env("REDIS_URL", ""), "Redis as redis://user:pass@host:port/db, rediss:// (TLS), redis-sentinel://h:p,h:p?master=NAME or redis-cluster://h:p,h:p; prefer the variable, flags show in ps (REDIS_URL)")
	fs.StringVar(&s.redisCAFile, "redis-ca-file", env("OPSFLOW_REDIS_CA_FILE", ""), "PEM file of the CAs trusted for rediss://; empty: the system's (OPSFLOW_REDIS_CA_FILE)")
	fs.IntVar(&s.concurrency, "concurrency", conc, "runs a worker executes at once (OPSFLOW_CONCURRENCY)")
	fs.StringVar(&s.httpAllow, "http-allow", env("OPSFLOW_HTTP_ALLOW", ""), "comma-separated CIDRs outbound HTTP may reach although internal (OPSFLOW_HTTP_ALLOW)")
	fs.StringVar(&s.retention, "retention", env("OPSFLOW_RETENTION", "90d"), "how long finished runs and their events are kept, at least 7d (OPSFLOW_RETENTION)")
	fs.StringVar(&s.metricsAddr, "metrics-addr", env("OPSFLOW_METRICS_ADDR", ""), "serve Prometheus /metrics on this address, never the API's; empty: off (OPSFLOW_METRICS_ADDR)")
	fs.StringVar(&s.stepTimeout, "step-timeout", env("OPSFLOW_STEP_TIMEOUT", "5m"), "longest one step may run unless its node sets step_timeout (OPSFLOW_STEP_TIMEOUT)")
	return nil
}

// httpFlags registers the API server's settings (serve).
func (s *settings) httpFlags(c *cmdFlags) error {
	maxBody, err := strconv.ParseInt(env("OPSFLOW_MAX_BODY_BYTES", strconv.Itoa(api.DefaultMaxBody)), 10, 64)
	if err != nil || maxBody < 1 {
		return fmt.Errorf("OPSFLOW_MAX_BODY_BYTES must be a positive whole number, not %q", os.Getenv("OPSFLOW_MAX_BODY_BYTES"))
	}
	worker, err := strconv.ParseBool(env("OPSFLOW_WORKER", "true"))
	if err != nil {
		return fmt.Errorf("OPSFLOW_WORKER must be true or false, not %q", os.Getenv("OPSFLOW_WORKER"))
	}
	fs := c.FlagSet
	fs.StringVar(&s.addr, "addr", env("OPSFLOW_ADDR", ":8080"), "listen address (OPSFLOW_ADDR)")
	fs.Int64Var(&s.maxBody, "max-body-bytes", maxBody, "largest accepted request body (OPSFLOW_MAX_BODY_BYTES)")
	fs.BoolVar(&s.worker, "worker", worker, "also execute runs in this process; false: API only, needs REDIS_ADDR or REDIS_URL (OPSFLOW_WORKER)")
	return nil
}

// externalQueue reports whether Redis is configured (else the embedded queue runs in-process).
func (s *settings) externalQueue() bool { return s.redisAddr != "" || s.redisURL != "" }

func (s *settings) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(s.logLevel)); err != nil {
		return nil, fmt.Errorf("OPSFLOW_LOG_LEVEL (-log-level) must be debug, info, warn or error, not %q", s.logLevel)
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
			return engine.Config{}, fmt.Errorf("OPSFLOW_RETENTION (-retention): %w", err)
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
			return engine.Config{}, fmt.Errorf("OPSFLOW_STEP_TIMEOUT (-step-timeout) must be a positive duration such as 30s or 5m, not %q", s.stepTimeout)
		}
	}
	startWait := s.startWait
	if startWait == 0 {
		startWait = -1 // engine.Config: negative is one attempt, zero the default
	}
	return engine.Config{
		OldSecretKeys: old,
		StartTimeout:  startWait, RequireMigrated: s.autoMigrate != nil && !*s.autoMigrate,
		DataDir: s.dataDir, DatabaseURL: s.databaseURL, SecretKey: os.Getenv("OPSFLOW_SECRET_KEY"),
		RedisAddr: s.redisAddr, RedisURL: s.redisURL, RedisCAFile: s.redisCAFile,
		HTTPAllow: allow, Concurrency: s.concurrency, Logger: log, QueueName: os.Getenv("OPSFLOW_QUEUE"), Retention: retention,
		StepTimeout: stepTimeout, DBPoolSize: s.dbPool, DBStatementTimeout: s.statementTimeout,
	}, nil
}

// offlineEngine opens only the store, for commands that change data while servers may run: what
// they queue waits in the outbox for a running process's dispatcher.
func offlineEngine(s *settings) (*engine.Engine, error) {
	log, err := s.logger()
	if err != nil {
		return nil, err
	}
	cfg, err := s.engineConfig(log)
	if err != nil {
		return nil, err
	}
	if s.usesDataDir() {
		if err := checkDataDir(s.dataDir); err != nil {
			return nil, err
		}
	}
	cfg.Offline = true
	return engine.Open(cfg)
}

// openOffline is the start of every command that only reads or changes data: it adds the database
// settings to the command's flags, parses args (nargs as in parse) and opens the store.
func openOffline(f *cmdFlags, args []string, nargs int) (*engine.Engine, *settings, error) {
	s := &settings{}
	if err := s.storeFlags(f); err != nil {
		return nil, nil, err
	}
	if err := f.parse(args, nargs); err != nil {
		return nil, nil, err
	}
	e, err := offlineEngine(s)
	return e, s, err
}

// storeName says which database the command used, for "not found" messages.
func (s *settings) storeName() string {
	if s.databaseURL != "" {
		return "the Postgres database of DATABASE_URL"
	}
	return "the SQLite database in " + s.dataDir + " (OPSFLOW_DATA_DIR)"
}

// usesDataDir reports whether the data directory holds anything of this configuration: the
// SQLite database or the generated secret key.
func (s *settings) usesDataDir() bool {
	return s.databaseURL == "" || os.Getenv("OPSFLOW_SECRET_KEY") == ""
}

// checkDataDir makes sure the data directory exists and is writable, and otherwise says which
// setting names it.
func checkDataDir(dir string) error {
	if dir == "" {
		dir = "./data"
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return dataDirError(dir, err)
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return dataDirError(dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

func dataDirError(dir string, err error) error {
	return fmt.Errorf("data directory %s (OPSFLOW_DATA_DIR, -data-dir) is not usable: %w", dir, err)
}
