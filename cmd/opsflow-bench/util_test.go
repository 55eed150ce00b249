package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
)

func TestSummarize(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	got := summarize(ds)
	if got.P50 != 51 || got.P95 != 95 || got.P99 != 99 || got.Max != 100 {
		t.Errorf("summarize 1..100 ms = %+v", got)
	}
	if (summarize(nil) != latencies{}) {
		t.Error("summarize(nil) should be zero")
	}
	if ds[0] != 100*time.Millisecond {
		t.Error("summarize must not reorder its input")
	}
}

func TestWithDatabase(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable": "postgres://postgres@127.0.0.1:5432/b1?sslmode=disable",
		"postgres://u:p@localhost/x":                                  "postgres://u:p@localhost/b1",
		"postgres://localhost":                                        "postgres://localhost/b1",
	} {
		if got := withDatabase(in, "b1"); got != want {
			t.Errorf("withDatabase(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestProcReaders(t *testing.T) {
	// Burn a little CPU so the tick count is not zero.
	deadline := time.Now().Add(30 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = x * x
	}
	ticks, err := cpuTicks(os.Getpid())
	if err != nil || ticks <= 0 {
		t.Errorf("cpuTicks(self) = %d, %v", ticks, err)
	}
	rss, peak, err := memKB(os.Getpid())
	if err != nil || rss <= 0 || peak < rss {
		t.Errorf("memKB(self) = %d, %d, %v", rss, peak, err)
	}
	if _, err := cpuTicks(1 << 30); err == nil {
		t.Error("cpuTicks of a missing process should fail")
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-arrivals", "bursty"},
		{"-embedded", "-split"},
		{"-knee-factor", "1"},
		{"-pipelines", "opsflow,n8n"},
		{"-keep-up", "0"},
		{"-provider-latency", "-1ms"},
		{"-database-url", "postgres://db.example.com/x", "-opsflow", "/bin/true"},
		{"extra"},
	} {
		var out, errOut bytes.Buffer
		if _, err := run(context.Background(), args, &out, &errOut); err == nil {
			t.Errorf("run(%q) should fail", args)
		} else if out.Len() != 0 {
			t.Errorf("run(%q) printed a report: %s", args, out.String())
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for url, want := range map[string]bool{
		"postgres://postgres@127.0.0.1:5432/postgres": true,
		"postgres://localhost/x":                      true,
		"//127.0.0.1:6379/":                           true,
		"postgres://db.internal:5432/x":               false,
		"postgres://u@127.0.0.1.evil.com/x":           false,
	} {
		if got := isLoopback(url); got != want {
			t.Errorf("isLoopback(%q) = %v", url, got)
		}
	}
}

func TestDeleteQueueKeys(t *testing.T) {
	mini := miniredis.RunT(t)
	for i := range 2500 { // more than one SCAN page
		mini.Set(fmt.Sprintf("asynq:{q1}:processed:%d", i), "1")
	}
	mini.Set("asynq:{q1}:failed", "1")
	mini.Set("asynq:{q10}:processed", "1") // another queue whose name starts alike
	mini.Set("asynq:queues", "x")
	if err := deleteQueueKeys(mini.Addr(), "q1"); err != nil {
		t.Fatal(err)
	}
	if got := mini.Keys(); !slices.Equal(got, []string{"asynq:queues", "asynq:{q10}:processed"}) {
		t.Errorf("keys left: %d, first %q", len(got), got[:min(len(got), 3)])
	}
}

// The sink answers each call after -provider-latency, and counts a run finished when its second
// call arrives, not when the answer leaves.
func TestSinkProviderLatency(t *testing.T) {
	const latency = 200 * time.Millisecond // far above a local POST's own time, even on a loaded CI machine
	sk, err := startSink(latency)
	if err != nil {
		t.Fatal(err)
	}
	defer sk.close()
	for _, path := range []string{"/step1", "/done"} {
		start := time.Now()
		body := fmt.Sprintf(`{"p":7,"n":1,"sent":%d}`, sinceEpoch(start))
		resp, err := http.Post(sk.url+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if took := time.Since(start); resp.StatusCode != http.StatusOK || took < latency {
			t.Errorf("POST %s: %d after %v, want 200 after at least %v", path, resp.StatusCode, took, latency)
		}
	}
	rec := sk.snapshot(7)
	if rec.firstCalls != 1 || len(rec.latencies) != 1 {
		t.Fatalf("sink saw %d first calls and %d finished runs, want 1 and 1", rec.firstCalls, len(rec.latencies))
	}
	if rec.latencies[0] >= latency {
		t.Errorf("the run counted finished %v after it was sent: the answer's wait was counted, want the arrival", rec.latencies[0])
	}
	if w := workload(false, latency); !strings.Contains(w, "200ms") {
		t.Errorf("the report's workload does not give the provider latency: %q", w)
	}
}
