package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/auth"
	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/store"
)

// adminEnv points the commands at a fresh store of backend b (the same one cfg opens) and returns
// cfg for a test engine.
func adminEnv(t *testing.T, b enginetest.Backend) engine.Config {
	t.Helper()
	cliEnv(t)
	cfg := enginetest.Config(t, b)
	t.Setenv("OPSFLOW_DATA_DIR", cfg.DataDir)
	t.Setenv("DATABASE_URL", cfg.DatabaseURL)
	t.Setenv("OPSFLOW_SECRET_KEY", cfg.SecretKey)
	t.Setenv("OPSFLOW_LOG_LEVEL", "error")
	return cfg
}

// cliAudit returns the audit rows the command line wrote for action.
func cliAudit(t *testing.T, e *engine.Engine, action string) []store.AuditEntry {
	t.Helper()
	rows, err := auth.New(e.Store.DB, auth.Config{}).Audit(context.Background(), auth.AuditFilter{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	var out []store.AuditEntry
	for _, r := range rows {
		if r.ActorID == "cli" {
			out = append(out, r)
		}
	}
	return out
}

// credentials create reads the secret from standard input or a file, stores it encrypted, never
// prints it; list shows names and types; delete takes an id or a name; all of it is audited.
func TestCredentialsCommand(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			cfg := adminEnv(t, b)
			const secret = "tok-5ec7e7-value"
			stdin = strings.NewReader(`{"account_sid":"AC123","auth_token":"` + secret + `","from":"+14155550000"}`)
			t.Cleanup(func() { stdin = os.Stdin })
			code, stdout, stderr := opsflow(t, "credentials", "create", "-type", "twilio", "sms")
			if code != 0 || !strings.Contains(stdout, "created credential sms (twilio)") || strings.Contains(stdout+stderr, secret) {
				t.Fatalf("create from stdin: %d %q %q", code, stdout, stderr)
			}
			file := filepath.Join(t.TempDir(), "smtp.json")
			os.WriteFile(file, []byte(`{"host":"smtp.example.com","port":"587","username":"u","password":"`+secret+`","from":"ops@example.com"}`), 0o600)
			if code, stdout, stderr = opsflow(t, "credentials", "create", "-type", "smtp", "-data-file", file, "mail"); code != 0 {
				t.Fatalf("create from a file: %d %q %q", code, stdout, stderr)
			}
			// Bad data: named where it came from, never echoed.
			stdin = strings.NewReader(`{"auth_token": ` + secret + `}`)
			code, stdout, stderr = opsflow(t, "credentials", "create", "-type", "twilio", "bad")
			if code != 1 || !strings.Contains(stderr, "from standard input must be a non-empty JSON object of strings (invalid JSON at byte") || strings.Contains(stdout+stderr, secret) {
				t.Fatalf("bad data: %d %q %q", code, stdout, stderr)
			}
			stdin = strings.NewReader(`{"account_sid":"AC1","auth_token":"x","from":"+1"}`)
			if code, _, stderr = opsflow(t, "credentials", "create", "-type", "twilio", "sms"); code != 1 || !strings.Contains(stderr, `a credential named "sms" exists already`) {
				t.Fatalf("duplicate name: %d %q", code, stderr)
			}

			code, stdout, _ = opsflow(t, "credentials", "list")
			if code != 0 || !strings.Contains(stdout, "sms") || !strings.Contains(stdout, "twilio") || !strings.Contains(stdout, "mail") || strings.Contains(stdout, secret) {
				t.Fatalf("list: %d %q", code, stdout)
			}

			e := enginetest.Start(t, cfg) // a server process on the same store reads what the command stored
			c, err := e.Credential(context.Background(), "sms")
			if err != nil || c.Data["auth_token"] != secret {
				t.Fatalf("stored credential: %+v %v", c, err)
			}
			var raw store.Credential
			e.Store.DB.Where("name = ?", "sms").Take(&raw)
			if strings.Contains(string(raw.Ciphertext), secret) {
				t.Fatal("the secret is stored in plain text")
			}
			created := cliAudit(t, e, "credential.created")
			if len(created) != 2 || !strings.Contains(created[0].Diff+created[1].Diff, `"auth_token"`) || strings.Contains(created[0].Diff+created[1].Diff, secret) {
				t.Fatalf("audit of creation: %+v", created)
			}

			if code, stdout, _ = opsflow(t, "credentials", "delete", "sms"); code != 0 || !strings.Contains(stdout, "deleted credential sms (twilio) "+c.ID) {
				t.Fatalf("delete by name: %d %q", code, stdout)
			}
			code, _, stderr = opsflow(t, "credentials", "delete", c.ID)
			if code != 1 || !strings.Contains(stderr, fmt.Sprintf("no credential with id or name %q", c.ID)) || !strings.Contains(stderr, "opsflow credentials list") {
				t.Fatalf("delete again: %d %q", code, stderr)
			}
			if deleted := cliAudit(t, e, "credential.deleted"); len(deleted) != 1 || deleted[0].ObjectID != c.ID || deleted[0].ObjectName != "sms" {
				t.Fatalf("audit of deletion: %+v", deleted)
			}
		})
	}
}

// runs list shows a failed run, runs retry hands it back to the running process (through the
// outbox) which finishes it, and runs cancel stops a waiting run; both are audited.
func TestRunsCommand(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			cfg := adminEnv(t, b)
			var healthy atomic.Bool
			provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !healthy.Load() {
					w.WriteHeader(http.StatusBadRequest) // a 4xx fails the run at once
				}
				w.Write([]byte(`{}`))
			}))
			t.Cleanup(provider.Close)
			e := enginetest.Start(t, cfg)
			flowID := enginetest.Publish(t, e, enginetest.MustFlow(t, `{"schema":"opsflow/v1","name":"cli runs","nodes":[
				{"id":"t","type":"trigger.event","config":{"event_type":"order.paid","sample":{"order_id":"SO-1"}}},
				{"id":"call","type":"action.http","config":{"method":"POST","url":"`+provider.URL+`/orders","body":"{}"}}],
				"edges":[{"from":"t","to":"call"}]}`))
			acc, err := e.AcceptEvent(context.Background(), "order.paid", map[string]any{"order_id": "SO-1"}, "")
			if err != nil {
				t.Fatal(err)
			}
			runID := acc.RunIDs[0]
			if d := enginetest.WaitRun(t, e, runID, 30*time.Second); d.Run.Status != store.RunFailed {
				t.Fatalf("run %s, want failed", d.Run.Status)
			}

			code, stdout, stderr := opsflow(t, "runs", "list", "-status", "failed", "-flow", flowID)
			if code != 0 || !strings.Contains(stdout, runID) || !strings.Contains(stdout, "failed") {
				t.Fatalf("runs list: %d %q %q", code, stdout, stderr)
			}
			if code, stdout, _ = opsflow(t, "runs", "list", "-status", "succeeded"); code != 0 || strings.Contains(stdout, runID) {
				t.Fatalf("runs list -status succeeded shows the failed run: %q", stdout)
			}

			healthy.Store(true)
			code, stdout, stderr = opsflow(t, "runs", "retry", runID)
			if code != 0 || strings.TrimSpace(stdout) != runID {
				t.Fatalf("runs retry: %d %q %q", code, stdout, stderr)
			}
			// The command only wrote the outbox; the running engine's dispatcher hands it to a worker.
			if d := enginetest.WaitRun(t, e, runID, 30*time.Second); d.Run.Status != store.RunSucceeded {
				t.Fatalf("retried run %s: %s", d.Run.Status, d.Run.Error)
			}
			if code, _, stderr = opsflow(t, "runs", "retry", runID); code != 1 || !strings.Contains(stderr, "only failed or cancelled runs can be retried") {
				t.Fatalf("retry of a succeeded run: %d %q", code, stderr)
			}
			if code, _, stderr = opsflow(t, "runs", "retry", "no-such-run"); code != 1 || !strings.Contains(stderr, `no run with id "no-such-run"`) || !strings.Contains(stderr, "opsflow runs list") {
				t.Fatalf("retry of an unknown run: %d %q", code, stderr)
			}
			if rows := cliAudit(t, e, "run.retried"); len(rows) != 1 || rows[0].ObjectID != runID || !strings.Contains(rows[0].Diff, `"retry_of":"`+runID+`"`) {
				t.Fatalf("audit of retry: %+v", rows)
			}

			waiting := enginetest.Publish(t, e, enginetest.MustFlow(t, `{"schema":"opsflow/v1","name":"cli wait","nodes":[
				{"id":"t","type":"trigger.event","config":{"event_type":"order.waits","sample":{}}},
				{"id":"d","type":"logic.delay","config":{"duration":"1h"}},
				{"id":"l","type":"action.log","config":{"message":"later"}}],
				"edges":[{"from":"t","to":"d"},{"from":"d","to":"l"}]}`))
			acc, err = e.AcceptEvent(context.Background(), "order.waits", map[string]any{}, "")
			if err != nil {
				t.Fatal(err)
			}
			waitID := acc.RunIDs[0]
			waitFor(t, e, waitID, store.RunWaiting)
			if code, stdout, stderr = opsflow(t, "runs", "cancel", waitID); code != 0 || !strings.Contains(stdout, "run "+waitID+" cancelled") {
				t.Fatalf("runs cancel: %d %q %q", code, stdout, stderr)
			}
			waitFor(t, e, waitID, store.RunCancelled)
			if code, _, stderr = opsflow(t, "runs", "cancel", runID); code != 1 || !strings.Contains(stderr, "has already finished (succeeded)") {
				t.Fatalf("cancel of a finished run: %d %q", code, stderr)
			}
			rows := cliAudit(t, e, "run.cancelled")
			if len(rows) != 1 || rows[0].ObjectID != waitID {
				t.Fatalf("audit of cancel: %+v", rows)
			}
			var diff map[string]string
			if json.Unmarshal([]byte(rows[0].Diff), &diff); diff["flow_id"] != waiting {
				t.Fatalf("audit of cancel names flow %q, want %q", diff["flow_id"], waiting)
			}
		})
	}
}

func waitFor(t *testing.T, e *engine.Engine, runID, status string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		d, err := e.GetRun(context.Background(), runID)
		if err == nil && d.Run.Status == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s never became %s (%v)", runID, status, err)
		}
	}
}
