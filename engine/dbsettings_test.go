package engine_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/store"
)

// postgresEngine opens an engine on a fresh Postgres database with cfg changed by adjust.
func postgresEngine(t *testing.T, adjust func(*engine.Config)) *engine.Engine {
	t.Helper()
	if !hasBackend(enginetest.Postgres) {
		t.Skip("needs Postgres: set OPSFLOW_TEST_DATABASE_URL and OPSFLOW_TEST_REDIS_ADDR")
	}
	cfg := enginetest.Config(t, enginetest.Postgres)
	cfg.Offline = true
	adjust(&cfg)
	e, err := engine.Open(cfg)
	if err != nil {
		t.Fatalf("engine.Open: %v", err)
	}
	t.Cleanup(e.Close)
	return e
}

// OPSFLOW_DB_STATEMENT_TIMEOUT holds on the pool's connections: Postgres cancels a statement
// running past it, and shorter ones run.
func TestStatementTimeout(t *testing.T) {
	e := postgresEngine(t, func(c *engine.Config) { c.DBStatementTimeout = 300 * time.Millisecond })
	var setting string
	if err := e.Store.DB.Raw("SHOW statement_timeout").Scan(&setting).Error; err != nil || setting != "300ms" {
		t.Fatalf("statement_timeout on the connection: %q %v", setting, err)
	}
	err := e.Store.DB.Exec("SELECT pg_sleep(5)").Error
	if err == nil || !strings.Contains(err.Error(), "57014") {
		t.Fatalf("a statement past the timeout was not cancelled: %v", err)
	}
	if err := e.Store.DB.Exec("SELECT pg_sleep(0.01)").Error; err != nil {
		t.Fatalf("a short statement: %v", err)
	}
}

// sslmode=require in DATABASE_URL makes the connection TLS (when the server has ssl on).
func TestPostgresSSLModeRequire(t *testing.T) {
	if !hasBackend(enginetest.Postgres) {
		t.Skip("needs Postgres: set OPSFLOW_TEST_DATABASE_URL and OPSFLOW_TEST_REDIS_ADDR")
	}
	admin, err := store.OpenRaw(os.Getenv("OPSFLOW_TEST_DATABASE_URL"))
	if err != nil {
		t.Fatal(err)
	}
	var ssl string
	admin.Raw("SHOW ssl").Scan(&ssl)
	if db, err := admin.DB(); err == nil {
		db.Close()
	}
	if ssl != "on" {
		t.Skip("the test Postgres server has ssl off: sslmode=require cannot be checked here")
	}
	e := postgresEngine(t, func(c *engine.Config) {
		c.DatabaseURL = strings.Replace(c.DatabaseURL, "sslmode=disable", "sslmode=require", 1)
		if !strings.Contains(c.DatabaseURL, "sslmode=require") {
			t.Fatalf("test database URL %q has no sslmode=disable to replace", c.DatabaseURL)
		}
	})
	var encrypted bool
	if err := e.Store.DB.Raw("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&encrypted).Error; err != nil || !encrypted {
		t.Fatalf("connection with sslmode=require is not TLS: %v %v", encrypted, err)
	}
}
