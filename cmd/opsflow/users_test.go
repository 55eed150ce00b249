package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/opsflow/opsflow/engine/auth"
)

func cliEnv(t *testing.T) *settings {
	dir := t.TempDir()
	t.Setenv("OPSFLOW_DATA_DIR", dir)
	t.Setenv("DATABASE_URL", "")
	t.Setenv("REDIS_ADDR", "")
	t.Setenv("OPSFLOW_BOOTSTRAP_ADMIN_EMAIL", "")
	t.Setenv("OPSFLOW_PASSWORD", "")
	return &settings{dataDir: dir, logLevel: "error"}
}

// An empty store prints a one-time setup link; "users create -admin" and the bootstrap
// variables make the first admin unattended, after which no link is printed.
func TestFirstAdmin(t *testing.T) {
	s := cliEnv(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e, err := offlineEngine(s)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := bootstrap(e, log, "http://localhost:8080", &out); err != nil || !strings.Contains(out.String(), "http://localhost:8080/setup?token=") {
		t.Fatalf("setup link: %v %q", err, out.String())
	}
	e.Close()

	out.Reset()
	if err := usersCommand([]string{"create", "-role", "admin", "-admin", "-name", "Ana"}, &out); err == nil {
		t.Error("no email accepted")
	}
	if err := usersCommand([]string{"create", "-admin", "ana@example.com"}, &out); err != nil {
		t.Fatal(err)
	}
	pw := strings.TrimSpace(strings.TrimPrefix(strings.Split(out.String(), "\n")[1], "password: "))
	if !strings.Contains(out.String(), "created admin ana@example.com") || len(pw) < auth.MinPasswordLen {
		t.Fatalf("output %q", out.String())
	}
	t.Setenv("OPSFLOW_PASSWORD", "a chosen long password")
	out.Reset()
	if err := usersCommand([]string{"create", "-role", "viewer", "vic@example.com"}, &out); err != nil || strings.Contains(out.String(), "password") {
		t.Fatalf("%v %q", err, out.String())
	}
	if err := usersCommand([]string{"create", "-role", "boss", "x@example.com"}, &out); err == nil || !strings.Contains(err.Error(), "role must be") {
		t.Errorf("bad role: %v", err)
	}
	e, _ = offlineEngine(s)
	defer e.Close()
	svc := auth.New(e.Store.DB, auth.Config{})
	if _, _, _, err := svc.Login(context.Background(), "ana@example.com", pw, "127.0.0.1", ""); err != nil {
		t.Errorf("the printed password does not sign in: %v", err)
	}
	if _, _, _, err := svc.Login(context.Background(), "vic@example.com", "a chosen long password", "127.0.0.1", ""); err != nil {
		t.Errorf("OPSFLOW_PASSWORD does not sign in: %v", err)
	}
	out.Reset()
	if err := bootstrap(e, log, "http://localhost:8080", &out); err != nil || out.Len() != 0 {
		t.Errorf("with users, bootstrap printed %q (%v)", out.String(), err)
	}
	rows, _ := svc.Audit(context.Background(), auth.AuditFilter{Action: "user.created"})
	if len(rows) != 2 || rows[0].ActorName != "opsflow command line" {
		t.Errorf("audit rows %+v", rows)
	}
}

func TestBootstrapAdminFromEnvironment(t *testing.T) {
	s := cliEnv(t)
	t.Setenv("OPSFLOW_BOOTSTRAP_ADMIN_EMAIL", "ops@example.com")
	t.Setenv("OPSFLOW_BOOTSTRAP_ADMIN_PASSWORD", "")
	e, err := offlineEngine(s)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var out bytes.Buffer
	if err := bootstrap(e, log, "http://x", &out); err == nil || !strings.Contains(err.Error(), "OPSFLOW_BOOTSTRAP_ADMIN_PASSWORD") {
		t.Errorf("email without password: %v", err)
	}
	t.Setenv("OPSFLOW_BOOTSTRAP_ADMIN_PASSWORD", "bootstrap password 1")
	if err := bootstrap(e, log, "http://x", &out); err != nil || out.Len() != 0 {
		t.Fatalf("%v %q", err, out.String())
	}
	if err := bootstrap(e, log, "http://x", &out); err != nil {
		t.Errorf("second start: %v", err)
	}
	svc := auth.New(e.Store.DB, auth.Config{})
	if u, _, _, err := svc.Login(context.Background(), "ops@example.com", "bootstrap password 1", "127.0.0.1", ""); err != nil || u.Role != "admin" {
		t.Errorf("bootstrap admin: %v %v", u, err)
	}
}

func TestKeysRotateCommand(t *testing.T) {
	cliEnv(t)
	t.Setenv("OPSFLOW_SECRET_KEY", "")
	var out bytes.Buffer
	if err := keysCommand([]string{"rotate"}, &out); err == nil || !strings.Contains(err.Error(), "OPSFLOW_SECRET_KEY_OLD") {
		t.Errorf("rotate without keys: %v", err)
	}
	t.Setenv("OPSFLOW_SECRET_KEY", "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=")
	t.Setenv("OPSFLOW_SECRET_KEY_OLD", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	if err := keysCommand([]string{"rotate"}, &out); err != nil || !strings.Contains(out.String(), "re-encrypted 0 credential(s)") {
		t.Errorf("rotate: %v %q", err, out.String())
	}
}
