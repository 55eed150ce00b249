// Package enginetest starts a real engine for tests: the embedded default (SQLite in a temp dir and
// the in-process queue) or, when OPSFLOW_TEST_DATABASE_URL / OPSFLOW_TEST_REDIS_ADDR are set and
// Backend asks for them, Postgres and Redis. Outbound HTTP may reach loopback servers.
package enginetest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/flow"
	"github.com/opsflow/opsflow/engine/store"
)

// Backend names where a test engine keeps its data.
type Backend string

const (
	Embedded Backend = "embedded"
	Postgres Backend = "postgres+redis"
)

// Backends lists the backends to test on: always Embedded, plus Postgres+Redis when the
// OPSFLOW_TEST_* variables are set, or when CI is set (then a missing variable fails the test in
// Config rather than leaving the Postgres cases silently out).
func Backends() []Backend {
	b := []Backend{Embedded}
	if havePostgres() || os.Getenv("CI") != "" {
		b = append(b, Postgres)
	}
	return b
}

func havePostgres() bool {
	return os.Getenv("OPSFLOW_TEST_DATABASE_URL") != "" && os.Getenv("OPSFLOW_TEST_REDIS_ADDR") != ""
}

// New starts an engine with a worker and stops it when the test ends.
func New(t testing.TB, b Backend) *engine.Engine {
	t.Helper()
	return Start(t, Config(t, b))
}

// Start opens an engine with cfg, starts its worker and stops it when the test ends. Opening two
// engines with one Config gives two processes' worth of engine sharing a database and queue.
func Start(t testing.TB, cfg engine.Config) *engine.Engine {
	t.Helper()
	e, err := engine.Open(cfg)
	if err != nil {
		t.Fatalf("engine.Open: %v", err)
	}
	if err := e.StartWorker(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// Config is a test engine's configuration for backend b, with a fresh database.
func Config(t testing.TB, b Backend) engine.Config {
	t.Helper()
	cfg := engine.Config{
		DataDir:      t.TempDir(),
		HTTPAllow:    []string{"127.0.0.0/8", "::1/128"},
		HTTPTimeout:  10 * time.Second,
		MaxRetry:     2,
		RetryDelay:   func(int) time.Duration { return 50 * time.Millisecond },
		PollInterval: 10 * time.Millisecond,
		Logger:       slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if b == Postgres {
		if !havePostgres() {
			t.Fatal("this test needs Postgres and Redis: set OPSFLOW_TEST_DATABASE_URL and OPSFLOW_TEST_REDIS_ADDR (CI must run every backend)")
		}
		cfg.DatabaseURL = freshDatabase(t, os.Getenv("OPSFLOW_TEST_DATABASE_URL"))
		cfg.RedisAddr = os.Getenv("OPSFLOW_TEST_REDIS_ADDR")
		cfg.SecretKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
		// Tests share one Redis: a queue of its own keeps each engine's tasks away from the others.
		cfg.QueueName = fmt.Sprintf("test-%d", time.Now().UnixNano())
	}
	return cfg
}

// freshDatabase creates a database of its own for one test, dropped at the end, so tests can run
// in parallel against one Postgres server.
func freshDatabase(t testing.TB, base string) string {
	t.Helper()
	name := fmt.Sprintf("opsflow_test_%d", time.Now().UnixNano())
	admin, err := store.OpenRaw(base)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	if err := admin.Exec("CREATE DATABASE " + name).Error; err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		if db, err := admin.DB(); err == nil {
			db.Close()
		}
	})
	i := strings.LastIndex(base, "/")
	rest := ""
	if q := strings.Index(base[i:], "?"); q >= 0 {
		rest = base[i+q:]
	}
	return base[:i+1] + name + rest
}

// MustFlow parses a flow document or fails the test.
func MustFlow(t testing.TB, doc string) *flow.Flow {
	t.Helper()
	f, err := flow.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Publish creates and publishes a flow, returning its id.
func Publish(t testing.TB, e *engine.Engine, f *flow.Flow) string {
	t.Helper()
	info, err := e.CreateFlow(context.Background(), f)
	if err != nil {
		t.Fatalf("create flow: %v", err)
	}
	if _, err := e.PublishFlow(context.Background(), info.Flow.ID, 0); err != nil {
		t.Fatalf("publish flow: %v", err)
	}
	return info.Flow.ID
}

// WaitRun polls a run until it is finished and returns it with its steps.
func WaitRun(t testing.TB, e *engine.Engine, runID string, timeout time.Duration) *engine.RunDetail {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		d, err := e.GetRun(context.Background(), runID)
		if err != nil {
			t.Fatalf("get run: %v", err)
		}
		if store.Terminal(d.Run.Status) {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s still %s after %s", runID, d.Run.Status, timeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Step returns the step of a node, or nil.
func Step(d *engine.RunDetail, nodeID string) *store.Step {
	for i := range d.Steps {
		if d.Steps[i].NodeID == nodeID {
			return &d.Steps[i]
		}
	}
	return nil
}

// Output decodes a step's output.
func Output(t testing.TB, s *store.Step) map[string]any {
	t.Helper()
	var out map[string]any
	if err := json.Unmarshal([]byte(s.Output), &out); err != nil {
		t.Fatalf("step %s output %q: %v", s.NodeID, s.Output, err)
	}
	return out
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
