package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// opsflow runs one command line in this process and returns its exit code, stdout and stderr.
func opsflow(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// Every command answers -h with its own usage and only the flags that apply to it; a wrong
// argument is a usage error, exit 2, with that usage on stderr.
func TestCommandUsage(t *testing.T) {
	cliEnv(t)
	serverOnly := []string{"  -addr ", "-max-body-bytes", "-worker"}
	queueOnly := []string{"-redis-url", "-redis-addr", "-concurrency", "-step-timeout", "-http-allow"}
	for _, c := range []struct {
		args     []string
		want     []string
		mustNot  []string
		wantCode int
	}{
		{[]string{"validate", "-h"}, []string{"Usage: opsflow validate FILE"}, []string{"-data-dir", "no such file"}, 0},
		{[]string{"docs", "-h"}, []string{"Usage: opsflow docs\n"}, []string{"action.http"}, 0},
		{[]string{"import", "-h"}, []string{"Usage: opsflow import", "-publish", "-template", "-data-dir", "OPSFLOW_DATA_DIR"}, append(serverOnly, queueOnly...), 0},
		{[]string{"export", "-h"}, []string{"Usage: opsflow export [flags] ID", "-version", "-database-url"}, append(serverOnly, queueOnly...), 0},
		{[]string{"worker", "-h"}, []string{"Usage: opsflow worker", "-health-addr", "-redis-url", "-db-statement-timeout"}, serverOnly, 0},
		{[]string{"serve", "-h"}, []string{"  -addr ", "-redis-url", "-redis-ca-file", "-max-body-bytes"}, []string{"-health-addr"}, 0},
		{[]string{"migrate", "-h"}, []string{"-database-url"}, append(serverOnly, queueOnly...), 0},
		{[]string{"healthcheck", "-h"}, []string{"-addr", "/readyz"}, []string{"-data-dir"}, 0},
		{[]string{"runs", "-h"}, []string{"cancel|list|retry"}, nil, 0},
		{[]string{"runs", "retry", "-h"}, []string{"Usage: opsflow runs retry", "-from"}, queueOnly, 0},
		{[]string{"credentials", "create", "-h"}, []string{"-type", "-data-file", "standard input"}, queueOnly, 0},
		{[]string{"help", "export"}, []string{"Usage: opsflow export"}, nil, 0},
		{[]string{"help"}, []string{"opsflow credentials", "opsflow runs", "opsflow healthcheck"}, nil, 0},
	} {
		code, stdout, stderr := opsflow(t, c.args...)
		if code != c.wantCode || stderr != "" {
			t.Errorf("%v: exit %d, stderr %q", c.args, code, stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(stdout, w) {
				t.Errorf("%v: output lacks %q:\n%s", c.args, w, stdout)
			}
		}
		for _, w := range c.mustNot {
			if strings.Contains(stdout, w) {
				t.Errorf("%v: output has %q, which does not apply:\n%s", c.args, w, stdout)
			}
		}
	}
}

func TestUsageErrors(t *testing.T) {
	cliEnv(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "extra"}, `serve takes no arguments, got "extra"`},
		{[]string{"worker", "extra"}, `worker takes no arguments, got "extra"`},
		{[]string{"docs", "extra"}, `docs takes no arguments`},
		{[]string{"serve", "-addr", ""}, "serve needs a listen address"},
		{[]string{"validate"}, "validate wants FILE"},
		{[]string{"validate", "a.json", "b.json"}, "validate wants FILE"},
		{[]string{"export"}, "export wants [flags] ID"},
		{[]string{"migrate", "-no-such-flag"}, "flag provided but not defined: -no-such-flag"},
		{[]string{"import", "-addr", ":9"}, "flag provided but not defined: -addr"},
		{[]string{"runs"}, "runs needs a subcommand: cancel, list, retry"},
		{[]string{"runs", "rerun"}, `unknown runs subcommand "rerun"`},
		{[]string{"runs", "list", "-status", "lost"}, "-status must be one of"},
		{[]string{"runs", "retry", "-from", "middle", "r1"}, "-from must be failed or start"},
		{[]string{"credentials", "create", "twilio"}, "say the credential's type with -type"},
		{[]string{"users", "create", "x@example.com"}, "say which role"},
	} {
		code, stdout, stderr := opsflow(t, c.args...)
		if code != 2 || stdout != "" || !strings.Contains(stderr, c.want) || !strings.Contains(stderr, "Usage: opsflow") {
			t.Errorf("%v: exit %d, stdout %q, stderr:\n%s\nwant %q", c.args, code, stdout, stderr, c.want)
		}
	}
	// An unknown command lists the command table.
	code, _, stderr := opsflow(t, "sevre")
	if code != 2 || !strings.Contains(stderr, `unknown command "sevre"`) {
		t.Fatalf("unknown command: %d %s", code, stderr)
	}
	for _, c := range commands {
		if !strings.Contains(stderr, "opsflow "+c.name) {
			t.Errorf("the unknown-command message does not list %s", c.name)
		}
	}
}

// Errors about the data directory and bad settings are one line naming the setting.
func TestSettingErrorsNameTheSetting(t *testing.T) {
	cliEnv(t)
	notADir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notADir, []byte("x"), 0o600)
	for _, c := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"OPSFLOW_DATA_DIR": notADir}, []string{"export", "x"}, "OPSFLOW_DATA_DIR, -data-dir"},
		{map[string]string{"OPSFLOW_DATA_DIR": notADir}, []string{"migrate"}, "OPSFLOW_DATA_DIR, -data-dir"},
		{map[string]string{"OPSFLOW_DATA_DIR": notADir}, []string{"serve", "-addr", "127.0.0.1:0"}, "OPSFLOW_DATA_DIR, -data-dir"},
		{map[string]string{"OPSFLOW_DB_STATEMENT_TIMEOUT": "soon"}, []string{"migrate"}, "OPSFLOW_DB_STATEMENT_TIMEOUT must be a duration"},
		{map[string]string{"OPSFLOW_DB_POOL": "-3"}, []string{"runs", "list"}, "OPSFLOW_DB_POOL"},
		{map[string]string{"OPSFLOW_LOG_LEVEL": "loud"}, []string{"credentials", "list"}, "OPSFLOW_LOG_LEVEL (-log-level)"},
		{map[string]string{"OPSFLOW_WORKER": "maybe"}, []string{"serve"}, "OPSFLOW_WORKER must be true or false"},
		{map[string]string{"REDIS_URL": "redis://ops:hunter2@cache"}, []string{"serve"}, "REDIS_URL: want host:port"},
		{map[string]string{"REDIS_URL": "redis://cache:6379", "REDIS_ADDR": "cache:6379"}, []string{"serve"}, "REDIS_ADDR or REDIS_URL, not both"},
		{map[string]string{"OPSFLOW_REDIS_CA_FILE": "/ca.pem", "REDIS_URL": "redis://cache:6379"}, []string{"serve"}, "OPSFLOW_REDIS_CA_FILE needs a rediss://"},
		{map[string]string{"OPSFLOW_RETENTION": "forever"}, []string{"serve", "-addr", "127.0.0.1:0"}, "OPSFLOW_RETENTION (-retention)"},
	} {
		for k, v := range c.env {
			t.Setenv(k, v)
		}
		code, _, stderr := opsflow(t, c.args...)
		if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, c.want) || strings.Contains(stderr, "hunter2") {
			t.Errorf("%v with %v: exit %d, stderr %q, want one line with %q", c.args, c.env, code, stderr, c.want)
		}
		for k := range c.env {
			t.Setenv(k, "")
		}
	}
}

// export says what was not found and how to list what there is.
func TestExportNotFound(t *testing.T) {
	dir := cliEnv(t).dataDir
	code, _, stderr := opsflow(t, "export", "no-such-flow")
	if code != 1 || !strings.Contains(stderr, `no flow with id "no-such-flow" in the SQLite database in `+dir) || !strings.Contains(stderr, "opsflow flows list") {
		t.Fatalf("unknown flow: %d %s", code, stderr)
	}
	file := filepath.Join(t.TempDir(), "f.json")
	os.WriteFile(file, []byte(`{"name":"cli","nodes":[{"id":"t","type":"trigger.manual"}],"edges":[]}`), 0o600)
	code, id, stderr := opsflow(t, "import", file)
	if code != 0 {
		t.Fatalf("import: %s", stderr)
	}
	id = strings.TrimSpace(id)
	code, _, stderr = opsflow(t, "export", "-version", "4", id)
	if code != 1 || !strings.Contains(stderr, "flow "+id+" has no version 4 (its versions are 1 to 1)") {
		t.Fatalf("unknown version: %d %s", code, stderr)
	}
	code, stdout, _ := opsflow(t, "flows", "list")
	if code != 0 || !strings.Contains(stdout, id) || !strings.Contains(stdout, "cli") {
		t.Fatalf("flows list: %d %s", code, stdout)
	}
}

// Every environment variable a command's flags name is in the README's configuration table.
func TestSettingsDocumented(t *testing.T) {
	cliEnv(t)
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, args := range [][]string{{"serve", "-h"}, {"worker", "-h"}, {"migrate", "-h"}, {"import", "-h"}, {"healthcheck", "-h"}} {
		_, stdout, _ := opsflow(t, args...)
		for _, m := range regexp.MustCompile(`\(((?:OPSFLOW|REDIS|DATABASE)_[A-Z_]+)\)`).FindAllStringSubmatch(stdout, -1) {
			seen[m[1]] = true
		}
	}
	if len(seen) < 15 {
		t.Fatalf("found only %d settings in the commands' help: %v", len(seen), seen)
	}
	for name := range seen {
		if !strings.Contains(string(readme), "| `"+name+"` |") {
			t.Errorf("%s is not in the README's configuration table", name)
		}
	}
}
