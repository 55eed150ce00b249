package engine_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/store"
)

const (
	keyA = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	keyB = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="
)

// Processes started together on a new database all come up, and each migration runs once:
// six engines open at once, in a few rounds, on a fresh database each.
func TestConcurrentStartOnNewDatabase(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			for round := range 3 {
				cfg := enginetest.Config(t, b)
				cfg.Offline = b == enginetest.Embedded // six embedded queues would each recover the same runs
				var wg sync.WaitGroup
				errs := make([]error, 6)
				engines := make([]*engine.Engine, 6)
				for i := range engines {
					wg.Go(func() { engines[i], errs[i] = engine.Open(cfg) })
				}
				wg.Wait()
				for i, e := range engines {
					if errs[i] != nil {
						t.Errorf("round %d: engine %d: %v", round, i, errs[i])
						continue
					}
					defer e.Close()
				}
				if t.Failed() {
					return
				}
				var n int64
				engines[0].Store.DB.Table("schema_migrations").Count(&n)
				if int(n) != len(store.Migrations) {
					t.Fatalf("round %d: schema_migrations has %d rows, want %d", round, n, len(store.Migrations))
				}
			}
		})
	}
}

// Migrations are versioned and an upgrade is explicit: with RequireMigrated a database lacking
// migrations is refused until engine.Migrate applies them; applying again changes nothing.
func TestMigrateIsExplicitAndRepeatable(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			cfg := enginetest.Config(t, b)
			cfg.RequireMigrated = true
			if _, err := engine.Open(cfg); err == nil || !strings.Contains(err.Error(), "opsflow migrate") {
				t.Fatalf("open of an unmigrated database with RequireMigrated: %v", err)
			}
			applied, err := engine.Migrate(cfg)
			if err != nil || len(applied) != len(store.Migrations) {
				t.Fatalf("migrate: %d applied, %v", len(applied), err)
			}
			if applied, err := engine.Migrate(cfg); err != nil || len(applied) != 0 {
				t.Fatalf("second migrate: %d applied, %v", len(applied), err)
			}
			e, err := engine.Open(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			pending, err := e.Store.PendingMigrations(context.Background())
			if err != nil || len(pending) != 0 {
				t.Fatalf("pending after migrate: %v, %v", pending, err)
			}
		})
	}
}

// A database migrated by a newer opsflow (a rolled-back upgrade) starts with a warning.
func TestNewerSchemaWarns(t *testing.T) {
	cfg := enginetest.Config(t, enginetest.Embedded)
	cfg.Offline = true
	if _, err := engine.Migrate(cfg); err != nil {
		t.Fatal(err)
	}
	st, err := store.Connect("", cfg.DataDir, 0)
	if err != nil {
		t.Fatal(err)
	}
	st.DB.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', ?)", time.Now())
	st.Close()
	var logs logBuffer
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	e, err := engine.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	if logs.count("schema is newer than this opsflow") != 1 {
		t.Fatalf("no warning:\n%s", logs.buf.String())
	}
}

// A database made before migrations were versioned (tables, no schema_migrations) is adopted:
// its data stays and every migration is recorded.
func TestMigrateAdoptsUnversionedDatabase(t *testing.T) {
	cfg := enginetest.Config(t, enginetest.Embedded)
	st, err := store.Connect("", cfg.DataDir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DB.AutoMigrate(store.Models...); err != nil {
		t.Fatal(err)
	}
	st.DB.Create(&store.Team{ID: store.NewID(), Name: "Support"})
	st.Close()
	e, err := engine.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var teams int64
	e.Store.DB.Model(&store.Team{}).Count(&teams)
	done, _ := e.Store.AppliedMigrations(context.Background())
	if teams != 1 || len(done) != len(store.Migrations) {
		t.Fatalf("teams %d, applied migrations %v", teams, done)
	}
}

// A wrong but well-formed secret key refuses to start, whether the database has credentials or not.
func TestWrongSecretKeyRefused(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			cfg := enginetest.Config(t, b)
			cfg.Offline = true
			cfg.SecretKey = keyA
			e, err := engine.Open(cfg)
			if err != nil {
				t.Fatal(err)
			}
			e.Close()
			cfg.SecretKey = keyB
			if _, err := engine.Open(cfg); !errors.Is(err, engine.ErrWrongKey) {
				t.Fatalf("empty database, other key: %v", err)
			}
			cfg.SecretKey = keyA
			e, err = engine.Open(cfg)
			if err != nil {
				t.Fatalf("right key refused: %v", err)
			}
			if _, err := e.CreateCredential(context.Background(), "sms", "twilio", map[string]string{"account_sid": "AC1", "auth_token": "t", "from": "+14155550000"}); err != nil {
				t.Fatal(err)
			}
			e.Close()
			cfg.SecretKey = keyB
			_, err = engine.Open(cfg)
			if !errors.Is(err, engine.ErrWrongKey) || !strings.Contains(err.Error(), "OPSFLOW_SECRET_KEY") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("other key with credentials stored: %v", err)
			}
		})
	}
}

// A database with credentials but no key check value (made before check values existed) is
// checked by decrypting a credential; the right key then stores the check value.
func TestKeyCheckOfExistingCredentials(t *testing.T) {
	cfg := enginetest.Config(t, enginetest.Embedded)
	cfg.Offline = true
	cfg.SecretKey = keyA
	e, err := engine.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.CreateCredential(context.Background(), "sms", "twilio", map[string]string{"account_sid": "AC1", "auth_token": "t", "from": "+14155550000"}); err != nil {
		t.Fatal(err)
	}
	e.Store.DB.Exec("DELETE FROM settings")
	e.Close()
	cfg.SecretKey = keyB
	if _, err := engine.Open(cfg); !errors.Is(err, engine.ErrWrongKey) {
		t.Fatalf("other key, credentials without check value: %v", err)
	}
	cfg.SecretKey = keyA
	e, err = engine.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := e.Store.GetSetting(context.Background(), "key_check"); err != nil {
		t.Fatalf("key check value not stored after a verified start: %v", err)
	}
}

// A replaced secret.key file (the embedded default's generated key) is refused, naming the file.
func TestReplacedKeyFileRefused(t *testing.T) {
	cfg := enginetest.Config(t, enginetest.Embedded)
	cfg.Offline = true
	e, err := engine.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	if err := os.WriteFile(filepath.Join(cfg.DataDir, "secret.key"), []byte(keyB+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Open(cfg); !errors.Is(err, engine.ErrWrongKey) || !strings.Contains(err.Error(), "secret.key") {
		t.Fatalf("replaced key file: %v", err)
	}
}

// logBuffer collects JSON log lines from several goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), s)
}

// waitFor polls until the log holds n lines containing s.
func (b *logBuffer) waitFor(t *testing.T, s string, n int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); b.count(s) < n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("log never had %d lines with %q:\n%s", n, s, b.buf.String())
		}
	}
}

// freePort returns a loopback port nothing listens on (from range, if given).
func freePort(t *testing.T, from, to int) int {
	t.Helper()
	for p := from; p <= to; p++ {
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
			l.Close()
			return p
		}
	}
	t.Fatal("no free port")
	return 0
}

// A Postgres that is not up yet is retried, each attempt logged, until it answers; one that never
// answers gives up after the start timeout with the reason.
func TestStartWaitsForPostgres(t *testing.T) {
	if !hasBackend(enginetest.Postgres) {
		t.Skip("needs OPSFLOW_TEST_DATABASE_URL and OPSFLOW_TEST_REDIS_ADDR")
	}
	cfg := enginetest.Config(t, enginetest.Postgres)
	port := freePort(t, 20000, 30000)
	cfg.DatabaseURL = strings.Replace(cfg.DatabaseURL, "127.0.0.1:5432", fmt.Sprintf("127.0.0.1:%d", port), 1)
	var logs logBuffer
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))

	cfg.StartTimeout = time.Second
	if _, err := engine.Open(cfg); err == nil || !strings.Contains(err.Error(), "gave up after") || logs.count("cannot reach the database yet") == 0 {
		t.Fatalf("Postgres never up: %v\n%s", err, logs.buf.String())
	}

	// A database that does not exist will not appear by waiting: no retries.
	missing := cfg
	u, err := url.Parse(os.Getenv("OPSFLOW_TEST_DATABASE_URL"))
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/opsflow_no_such_database"
	missing.DatabaseURL = u.String()
	missing.StartTimeout = time.Minute
	before := logs.count("cannot reach the database yet")
	if _, err := engine.Open(missing); err == nil || !strings.Contains(err.Error(), "does not exist") || logs.count("cannot reach the database yet") != before {
		t.Fatalf("missing database: %v\n%s", err, logs.buf.String())
	}

	cfg.StartTimeout = time.Minute
	opened := make(chan error, 1)
	go func() {
		e, err := engine.Open(cfg)
		if err == nil {
			e.Close()
		}
		opened <- err
	}()
	logs.waitFor(t, "cannot reach the database yet", before+1)
	proxy(t, fmt.Sprintf("127.0.0.1:%d", port), "127.0.0.1:5432") // Postgres "comes up"
	if err := <-opened; err != nil {
		t.Fatalf("Open after Postgres came up: %v", err)
	}
}

// A Redis that is not up yet is retried until it answers.
func TestStartWaitsForRedis(t *testing.T) {
	redis, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("needs redis-server")
	}
	cfg := enginetest.Config(t, enginetest.Embedded)
	port := freePort(t, 6400, 6499)
	cfg.RedisAddr = fmt.Sprintf("127.0.0.1:%d", port)
	cfg.SecretKey = keyA
	var logs logBuffer
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	opened := make(chan error, 1)
	go func() {
		e, err := engine.Open(cfg)
		if err == nil {
			e.Close()
		}
		opened <- err
	}()
	logs.waitFor(t, "cannot reach Redis yet", 1)
	srv := exec.Command(redis, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	if err := <-opened; err != nil {
		t.Fatalf("Open after Redis came up: %v\n%s", err, logs.buf.String())
	}
}

func hasBackend(b enginetest.Backend) bool {
	for _, have := range enginetest.Backends() {
		if have == b {
			return true
		}
	}
	return false
}

// proxy forwards connections from addr to target until the test ends.
func proxy(t *testing.T, addr, target string) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				u, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer u.Close()
				go io.Copy(u, c)
				io.Copy(c, u)
			}()
		}
	}()
}

// legacyStep and legacyEvent are steps and events as migrations 1–11 made them: a step with a
// surrogate id beside its unique (run, node) index, and events' flow and idempotency-key indexes
// over every row.
type legacyStep struct {
	ID          uint   `gorm:"primaryKey"`
	RunID       string `gorm:"size:36;not null;uniqueIndex:run_node"`
	NodeID      string `gorm:"size:64;not null;uniqueIndex:run_node"`
	NodeType    string `gorm:"size:64;not null"`
	Status      string `gorm:"size:16;not null"`
	Port        string `gorm:"size:64"`
	Input       string `gorm:"type:text"`
	Output      string `gorm:"type:text"`
	Error       string `gorm:"type:text"`
	Attempt     int    `gorm:"not null"`
	StartedAt   time.Time
	FinishedAt  *time.Time
	DurationMs  int64
	WaitStarted *time.Time
	Received    string `gorm:"type:text"`
}

func (legacyStep) TableName() string { return "steps" }

type legacyEvent struct {
	ID             string  `gorm:"primaryKey;size:36"`
	Type           string  `gorm:"size:200;index"`
	Source         string  `gorm:"size:16;not null"`
	FlowID         string  `gorm:"size:36;index"`
	IdempotencyKey *string `gorm:"size:300;uniqueIndex"`
	Data           string  `gorm:"type:text;not null"`
	Headers        string  `gorm:"type:text"`
	RawBody        []byte  `gorm:"column:raw_bytes"`
	LegacyRawBody  string  `gorm:"column:raw_body;type:text"`
	Traceparent    string  `gorm:"size:55"`
	CreatedAt      time.Time
}

func (legacyEvent) TableName() string { return "events" }

// Migration 12 on a database of migrations 1–11 with runs in it: the runs' steps stay and read as
// before, the steps are keyed by run and node (Postgres), the events' flow and idempotency-key
// indexes leave out rows without one, and runs after it write and order their steps as before.
func TestMigrationKeysStepsByRunAndNode(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			cfg := enginetest.Config(t, b)
			st, err := store.Connect(cfg.DatabaseURL, cfg.DataDir, 0)
			if err != nil {
				t.Fatal(err)
			}
			// The tables as they were: the legacy steps and events first, so migration 1's AutoMigrate
			// finds them and leaves them.
			if err := st.DB.AutoMigrate(&legacyStep{}, &legacyEvent{}); err != nil {
				t.Fatal(err)
			}
			st.DB.Exec("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name varchar(200) NOT NULL, applied_at timestamp NOT NULL)")
			for _, m := range store.Migrations {
				if m.Version == 12 {
					break
				}
				if err := m.Up(st.DB); err != nil {
					t.Fatalf("migration %d: %v", m.Version, err)
				}
				st.DB.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", m.Version, m.Name, time.Now().UTC())
			}
			if !st.DB.Migrator().HasColumn("steps", "id") {
				t.Fatal("the legacy steps table has no id: the test is not starting from the old schema")
			}
			// A finished run of before, with two steps.
			t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
			st.DB.Create(&legacyEvent{ID: "ev-old", Type: "payment.failed", Source: "api", Data: `{}`, CreatedAt: t0})
			st.DB.Create(&store.Run{ID: "run-old", FlowID: "f-old", FlowVersion: 1, EventID: "ev-old", Status: store.RunSucceeded, Token: "x",
				CreatedAt: t0, UpdatedAt: t0, StartedAt: &t0, FinishedAt: &t0})
			for i, node := range []string{"t", "c"} {
				at := t0.Add(time.Duration(i) * time.Millisecond)
				st.DB.Create(&legacyStep{RunID: "run-old", NodeID: node, NodeType: "x", Status: store.StepSucceeded, Input: "{}", Output: `{"i":1}`,
					Attempt: 1, StartedAt: at, FinishedAt: &at})
			}
			st.Close()

			e := enginetest.Start(t, cfg) // applies migration 12
			if pending, err := e.Store.PendingMigrations(context.Background()); err != nil || len(pending) != 0 {
				t.Fatalf("pending after open: %v, %v", pending, err)
			}
			old, err := e.GetRun(context.Background(), "run-old")
			if err != nil || len(old.Steps) != 2 || old.Steps[0].NodeID != "t" || old.Steps[1].NodeID != "c" {
				t.Fatalf("the run of before: %+v, %v", old, err)
			}
			indexSQL := func(name string) string {
				var def string
				q := "SELECT sql FROM sqlite_master WHERE name = ?"
				if e.Store.Postgres() {
					q = "SELECT indexdef FROM pg_indexes WHERE indexname = ?"
				}
				if err := e.Store.DB.Raw(q, name).Scan(&def).Error; err != nil {
					t.Fatal(err)
				}
				return def
			}
			for _, idx := range []string{"idx_events_flow_id", "idx_events_idempotency_key"} {
				if def := indexSQL(idx); !strings.Contains(def, "WHERE") || !strings.Contains(def, "IS NOT NULL") {
					t.Errorf("%s is not partial: %q", idx, def)
				}
			}
			if e.Store.Postgres() {
				if e.Store.DB.Migrator().HasColumn("steps", "id") {
					t.Error("steps still have their surrogate id")
				}
				if def := indexSQL("steps_pkey"); !strings.Contains(def, "(run_id, node_id)") {
					t.Errorf("steps_pkey: %q", def)
				}
			}

			// A run after the migration: a chain of pure nodes (written together, started within
			// microseconds of each other) comes back in the order it ran, and API events store no flow id.
			enginetest.Publish(t, e, enginetest.MustFlow(t, `{"name":"chain","nodes":[
				{"id":"t","type":"trigger.event","config":{"event_type":"chain"}},
				{"id":"z","type":"logic.set","config":{"value":"{\"a\": 1}"}},
				{"id":"y","type":"logic.set","config":{"value":"{\"b\": nodes.z.a + 1}"}},
				{"id":"x","type":"logic.set","config":{"value":"{\"c\": nodes.y.b + 1}"}},
				{"id":"w","type":"logic.set","config":{"value":"{\"d\": nodes.x.c + 1}"}}],
				"edges":[{"from":"t","to":"z"},{"from":"z","to":"y"},{"from":"y","to":"x"},{"from":"x","to":"w"}]}`))
			for range 5 {
				acc, err := e.AcceptEvent(context.Background(), "chain", map[string]any{}, "")
				if err != nil || len(acc.RunIDs) != 1 {
					t.Fatalf("accept: %+v, %v", acc, err)
				}
				d := enginetest.WaitRun(t, e, acc.RunIDs[0], 10*time.Second)
				var order []string
				for i, s := range d.Steps {
					order = append(order, s.NodeID)
					if i > 0 && !s.StartedAt.After(d.Steps[i-1].StartedAt) {
						t.Errorf("step %s starts at %s, not after %s's %s", s.NodeID, s.StartedAt, d.Steps[i-1].NodeID, d.Steps[i-1].StartedAt)
					}
				}
				if got := strings.Join(order, ","); d.Run.Status != store.RunSucceeded || got != "t,z,y,x,w" {
					t.Fatalf("run %s: steps %s, want t,z,y,x,w", d.Run.Status, got)
				}
				if out := enginetest.Output(t, enginetest.Step(d, "w")); out["d"] != float64(4) {
					t.Fatalf("w's output: %v", out)
				}
				var nulls int64
				e.Store.DB.Model(&store.Event{}).Where("id = ? AND flow_id IS NULL", acc.EventID).Count(&nulls)
				if nulls != 1 {
					t.Errorf("the API event %s has a flow id stored", acc.EventID)
				}
			}
		})
	}
}
