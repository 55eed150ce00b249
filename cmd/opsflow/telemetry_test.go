package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// serve with OPSFLOW_METRICS_ADDR serves /metrics there, behind OPSFLOW_METRICS_TOKEN, and
// never on the API's port.
func TestServeMetricsListener(t *testing.T) {
	const token = "metrics-token-0123456789"
	api, metrics := freeAddr(t), freeAddr(t)
	p := start(t, []string{"OPSFLOW_DATA_DIR=" + t.TempDir(), "OPSFLOW_ADDR=" + api, "OPSFLOW_METRICS_TOKEN=" + token}, "serve", "-metrics-addr", metrics)
	p.waitLine(t, "opsflow listening")

	get := func(url, auth string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("http://"+metrics+"/metrics", "Bearer "+token); code != http.StatusOK ||
		!strings.Contains(body, "opsflow_queue_tasks{") || !strings.Contains(body, "go_goroutines") {
		t.Errorf("metrics with the token: %d\n%.500s", code, body)
	}
	if code, _ := get("http://"+metrics+"/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("metrics without the token: %d, want 401", code)
	}
	if code, _ := get("http://"+api+"/metrics", "Bearer "+token); code != http.StatusNotFound {
		t.Errorf("API port /metrics: %d, want 404", code)
	}
}

// A metrics token too short to be a secret stops start-up with one line.
func TestShortMetricsToken(t *testing.T) {
	p := start(t, []string{"OPSFLOW_DATA_DIR=" + t.TempDir(), "OPSFLOW_ADDR=" + freeAddr(t), "OPSFLOW_METRICS_TOKEN=short"}, "serve", "-metrics-addr", freeAddr(t))
	code, out := p.exit(t)
	if code != 1 || len(out) != 1 || !strings.Contains(out[0], "OPSFLOW_METRICS_TOKEN must be at least 16 characters") {
		t.Fatalf("exit %d, stderr:\n%s", code, strings.Join(out, "\n"))
	}
}
