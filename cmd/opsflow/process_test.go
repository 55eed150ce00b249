package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine/api"
	"github.com/opsflow/opsflow/engine/api/apitest"
	"github.com/opsflow/opsflow/engine/enginetest"
)

// TestMain lets tests start real opsflow processes: the test binary runs main() when asked to.
func TestMain(m *testing.M) {
	if os.Getenv("OPSFLOW_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// process is a running opsflow command whose stderr lines are collected.
type process struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	done  chan struct{}
}

// start runs "opsflow args..." with env added to a clean configuration.
func start(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append([]string{"OPSFLOW_TEST_MAIN=1", "PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
		}
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	return p
}

func (p *process) output() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// waitLine waits for a stderr line containing s.
func (p *process) waitLine(t *testing.T, s string) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		for _, l := range p.output() {
			if strings.Contains(l, s) {
				return
			}
		}
		select {
		case <-p.done:
			t.Fatalf("process ended without logging %q:\n%s", s, strings.Join(p.output(), "\n"))
		case <-deadline:
			t.Fatalf("no line with %q:\n%s", s, strings.Join(p.output(), "\n"))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// exit waits for the process to end and returns its exit code and stderr.
func (p *process) exit(t *testing.T) (int, []string) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("process still running:\n%s", strings.Join(p.output(), "\n"))
	}
	return p.cmd.ProcessState.ExitCode(), p.output()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// A second serve on the same data directory, or on a taken port, exits with one line before it
// opens anything: it never recovers (and so repeats) the first one's runs.
func TestSecondServeRefused(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	first := start(t, []string{"OPSFLOW_DATA_DIR=" + dir, "OPSFLOW_ADDR=" + addr}, "serve")
	first.waitLine(t, "opsflow listening")

	sameDir := start(t, []string{"OPSFLOW_DATA_DIR=" + dir, "OPSFLOW_ADDR=" + freeAddr(t)}, "serve")
	code, out := sameDir.exit(t)
	if code != 1 || len(out) != 1 || !strings.Contains(out[0], "is in use by another opsflow process (pid "+fmt.Sprint(first.cmd.Process.Pid)+")") {
		t.Fatalf("second serve on the same data directory: exit %d, stderr:\n%s", code, strings.Join(out, "\n"))
	}

	otherDir := t.TempDir()
	samePort := start(t, []string{"OPSFLOW_DATA_DIR=" + otherDir, "OPSFLOW_ADDR=" + addr}, "serve")
	code, out = samePort.exit(t)
	if code != 1 || len(out) != 1 || !strings.Contains(out[0], "cannot listen on "+addr) {
		t.Fatalf("second serve on the same port: exit %d, stderr:\n%s", code, strings.Join(out, "\n"))
	}
	if _, err := os.Stat(filepath.Join(otherDir, "opsflow.db")); !os.IsNotExist(err) {
		t.Fatalf("the refused serve opened a database: %v", err)
	}
}

// When Redis drops, the Redis client's complaints reach the JSON log as JSON, like every other line.
func TestRedisClientLogsJSON(t *testing.T) {
	redis, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("needs redis-server")
	}
	var port int
	for port = 6400; port < 6500; port++ {
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			l.Close()
			break
		}
	}
	srv := exec.Command(redis, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	srv.Stdout = io.Discard
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	p := start(t, []string{"OPSFLOW_DATA_DIR=" + t.TempDir(), "OPSFLOW_ADDR=" + freeAddr(t), fmt.Sprintf("REDIS_ADDR=127.0.0.1:%d", port),
		"OPSFLOW_SECRET_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}, "serve")
	p.waitLine(t, "opsflow listening")
	srv.Process.Kill() // Redis drops: the client's subscription to it breaks
	srv.Wait()
	p.waitLine(t, "bad PubSub connection")
	for _, l := range p.output() {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Errorf("log line is not JSON: %s", l)
		}
	}
}

// While the engine starts (the port is already bound), the API answers 503 with Retry-After and
// /healthz says the process lives, as the API's OpenAPI document describes; then requests reach
// the API.
func TestStartingHandler(t *testing.T) {
	var h startingHandler
	doc := apitest.Router(t, api.New(enginetest.New(t, enginetest.Embedded), api.Options{}))
	checked := apitest.Check(t, doc, &h)
	rec := httptest.NewRecorder()
	checked.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/flows", nil))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), `"code":"starting"`) {
		t.Fatalf("while starting: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	for _, path := range []string{"/healthz", "/api/v1/healthz"} {
		rec = httptest.NewRecorder()
		checked.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "starting") {
			t.Fatalf("%s while starting: %d %s", path, rec.Code, rec.Body)
		}
	}
	h.ready(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/flows", nil))
	if rec.Code != http.StatusTeapot {
		t.Fatalf("after start: %d", rec.Code)
	}
}

// opsflow migrate applies the pending migrations once; with OPSFLOW_AUTO_MIGRATE=false the other
// commands refuse a database that lacks them.
func TestMigrateCommand(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("OPSFLOW_DATA_DIR", dir)
	t.Setenv("DATABASE_URL", "")
	t.Setenv("REDIS_ADDR", "")
	t.Setenv("OPSFLOW_AUTO_MIGRATE", "false")
	t.Setenv("OPSFLOW_LOG_LEVEL", "error")
	var out bytes.Buffer
	if err := exportFlow([]string{"no-such-flow"}, &out); err == nil || !strings.Contains(err.Error(), "run opsflow migrate first") {
		t.Fatalf("unmigrated database without auto-migration: %v", err)
	}
	if err := migrate(nil, &out); err != nil || !strings.Contains(out.String(), "applied migration 1: initial schema") {
		t.Fatalf("migrate: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := migrate(nil, &out); err != nil || !strings.Contains(out.String(), "up to date") {
		t.Fatalf("migrate again: %v\n%s", err, out.String())
	}
	if err := exportFlow([]string{"no-such-flow"}, &out); err == nil || strings.Contains(err.Error(), "migrate") {
		t.Fatalf("export after migrate should reach the store: %v", err)
	}
	t.Setenv("OPSFLOW_START_TIMEOUT", "soon")
	if err := migrate(nil, &out); err == nil || !strings.Contains(err.Error(), "OPSFLOW_START_TIMEOUT") {
		t.Fatalf("bad OPSFLOW_START_TIMEOUT: %v", err)
	}
}

// serve with a wrong but well-formed OPSFLOW_SECRET_KEY exits with one line before running anything.
func TestServeRefusesWrongKey(t *testing.T) {
	env := []string{"OPSFLOW_DATA_DIR=" + t.TempDir(), "OPSFLOW_ADDR=" + freeAddr(t)}
	first := start(t, append(env, "OPSFLOW_SECRET_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="), "serve")
	first.waitLine(t, "opsflow listening")
	first.cmd.Process.Signal(os.Interrupt)
	if code, out := first.exit(t); code != 0 {
		t.Fatalf("first serve: exit %d\n%s", code, strings.Join(out, "\n"))
	}
	second := start(t, append(env, "OPSFLOW_SECRET_KEY=ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="), "serve")
	code, out := second.exit(t)
	if code != 1 || len(out) != 1 || !strings.Contains(out[0], "OPSFLOW_SECRET_KEY is not the key") {
		t.Fatalf("serve with another key: exit %d, stderr:\n%s", code, strings.Join(out, "\n"))
	}
}
