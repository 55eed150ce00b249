package main

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/opsflow/opsflow/engine/enginetest"
)

// opsflow healthcheck (the containers' health check) exits 0 when serve or a worker answers
// /readyz, 1 when nothing does; a worker serves /healthz and /readyz on OPSFLOW_HEALTH_ADDR.
func TestHealthcheck(t *testing.T) {
	cliEnv(t)
	code, stdout, stderr := opsflow(t, "healthcheck", "-addr", freeAddr(t))
	if code != 1 || stdout != "" || !strings.Contains(stderr, "not healthy") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("nothing listening: exit %d, %q %q", code, stdout, stderr)
	}

	addr := freeAddr(t)
	serve := start(t, []string{"OPSFLOW_DATA_DIR=" + t.TempDir(), "OPSFLOW_ADDR=" + addr}, "serve")
	serve.waitLine(t, "opsflow listening")
	t.Setenv("OPSFLOW_ADDR", addr) // the default address: serve's
	if code, stdout, stderr = opsflow(t, "healthcheck"); code != 0 || stdout != "ready\n" {
		t.Fatalf("serve: exit %d, %q %q", code, stdout, stderr)
	}

	if !hasPostgres(t) {
		return
	}
	cfg := enginetest.Config(t, enginetest.Postgres)
	health := freeAddr(t)
	worker := start(t, []string{"DATABASE_URL=" + cfg.DatabaseURL, "REDIS_URL=redis://" + os.Getenv("OPSFLOW_TEST_REDIS_ADDR") + "/0",
		"OPSFLOW_SECRET_KEY=" + cfg.SecretKey, "OPSFLOW_QUEUE=" + cfg.QueueName, "OPSFLOW_HEALTH_ADDR=" + health}, "worker")
	worker.waitLine(t, "opsflow worker started")
	t.Setenv("OPSFLOW_HEALTH_ADDR", health) // the default address when set: the worker's
	if code, stdout, stderr = opsflow(t, "healthcheck"); code != 0 || stdout != "ready\n" {
		t.Fatalf("worker: exit %d, %q %q", code, stdout, stderr)
	}
	for path, want := range map[string]int{"/healthz": http.StatusOK, "/readyz": http.StatusOK, "/api/v1/flows": http.StatusNotFound} {
		resp, err := http.Get("http://" + health + path)
		if err != nil || resp.StatusCode != want {
			t.Fatalf("worker %s: %v %v, want %d", path, resp, err, want)
		}
		resp.Body.Close()
	}
}

// hasPostgres reports whether the Postgres+Redis backend is configured (under CI it must be:
// enginetest.Config then fails the test).
func hasPostgres(t *testing.T) bool {
	for _, b := range enginetest.Backends() {
		if b == enginetest.Postgres {
			return true
		}
	}
	t.Log("Postgres and Redis not configured: the worker's health check is not tested")
	return false
}
