package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The README's walkthrough works on a fresh machine with no accounts: this runs its exact
// commands — the sandbox, the server, then the client block with bash, curl and jq — changing
// only hosts and ports, and checks the run succeeded and the sandbox's Twilio got both texts.
func TestReadmeWalkthrough(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("the README walkthrough test needs %s (.ci/run installs it)", tool)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	sandboxCmd := walkthroughBlock(t, string(readme), "sandbox", "walkthrough:serve")
	serveCmd := walkthroughBlock(t, string(readme), "serve", "walkthrough:start")
	client := walkthroughBlock(t, string(readme), "start", "walkthrough:end")
	const goRun = "go run ./cmd/opsflow"
	if !strings.Contains(sandboxCmd, goRun+" sandbox") || !strings.Contains(serveCmd, goRun+" serve") {
		t.Fatalf("the walkthrough should start the sandbox and the server with %q:\n%s\n%s", goRun, sandboxCmd, serveCmd)
	}

	bin := filepath.Join(t.TempDir(), "opsflow")
	// go test puts its own go first on PATH.
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	sandboxAddr, smtpAddr, apiAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}

	sb := startShell(t, strings.Replace(sandboxCmd, goRun, "exec "+bin, 1)+" -addr "+sandboxAddr+" -smtp-addr "+smtpAddr, env)
	sb.waitFor(t, "opsflow sandbox:")
	srv := startShell(t, strings.Replace(serveCmd, goRun, "exec "+bin, 1), append(env, "OPSFLOW_ADDR="+apiAddr, "OPSFLOW_DATA_DIR="+t.TempDir()))
	waitReady(t, "http://"+apiAddr+"/readyz", srv)

	script := strings.NewReplacer("localhost:8080", apiAddr, "127.0.0.1:8090", sandboxAddr).Replace(client)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = "../.." // the commands name files of the repository
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("walkthrough: %v\n%s\nserver:\n%s", err, out, srv.text())
	}

	// The last command prints the finished run.
	var last map[string]any
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var v map[string]any
		if err := dec.Decode(&v); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("walkthrough output is not JSON: %v\n%s", err, out)
			}
			break
		}
		last = v
	}
	if last["status"] != "succeeded" {
		t.Fatalf("the walkthrough's run ended %v:\n%s", last["status"], out)
	}
	steps, _ := last["steps"].([]any)
	ran := map[string]bool{}
	for _, s := range steps {
		ran[s.(map[string]any)["node_id"].(string)] = true
	}
	if !ran["sms_customer"] || !ran["sms_assignee"] || ran["log_small"] {
		t.Errorf("the run took the wrong path: %s", out)
	}

	resp, err := http.Get("http://" + sandboxAddr + "/_sandbox/requests")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Requests []struct{ Provider, Target, Auth, Body string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, r := range got.Requests {
		if r.Provider == "twilio" && strings.HasSuffix(r.Target, "/Messages.json") && strings.HasPrefix(r.Auth, "Basic AC") {
			texts = append(texts, r.Body)
		}
	}
	if len(texts) != 2 || !strings.Contains(strings.Join(texts, " "), "To=%2B8613800138000") {
		t.Errorf("the sandbox's Twilio received %q, want a text to the customer and one to the agent", texts)
	}
	if !strings.Contains(sb.text(), "twilio") || strings.Contains(sb.text(), "sandbox-token") {
		t.Errorf("the sandbox should print each request with its secrets masked:\n%s", sb.text())
	}
}

// walkthroughBlock returns the shell code between <!-- walkthrough:name --> and the marker end.
func walkthroughBlock(t *testing.T, readme, name, end string) string {
	t.Helper()
	_, rest, ok := strings.Cut(readme, "<!-- walkthrough:"+name+" -->")
	if !ok {
		t.Fatalf("README.md has no <!-- walkthrough:%s --> marker", name)
	}
	block, _, ok := strings.Cut(rest, "<!-- "+end+" -->")
	if !ok {
		t.Fatalf("README.md has no <!-- %s --> marker after walkthrough:%s", end, name)
	}
	var code []string
	inFence := false
	for _, line := range strings.Split(block, "\n") {
		switch {
		case strings.HasPrefix(line, "```"):
			inFence = !inFence
		case inFence:
			code = append(code, line)
		}
	}
	if len(code) == 0 {
		t.Fatalf("README.md: no shell commands after walkthrough:%s", name)
	}
	return strings.Join(code, "\n")
}

// shellProcess is a command line run by bash, which execs the command (so signals reach it),
// with its output collected.
type shellProcess struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

func startShell(t *testing.T, line string, env []string) *shellProcess {
	t.Helper()
	cmd := exec.Command("bash", "-c", line)
	cmd.Env = env
	p := &shellProcess{cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *shellProcess) text() string { return p.out.String() }

func (p *shellProcess) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for !strings.Contains(p.text(), s) {
		select {
		case <-p.done:
			t.Fatalf("%s ended without printing %q:\n%s", p.cmd.Args, s, p.text())
		case <-deadline:
			t.Fatalf("%s did not print %q:\n%s", p.cmd.Args, s, p.text())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitReady polls a readiness URL until it answers 200.
func waitReady(t *testing.T, url string, p *shellProcess) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-p.done:
			t.Fatalf("the server ended:\n%s", p.text())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready:\n%s", url, p.text())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for a process writing while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
