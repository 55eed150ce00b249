//go:build faults

package faults

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The processes' shared settings. The secret key is a fixed test key: nothing here is secret.
const (
	secretKey   = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	apiToken    = "faults-suite-token-0123456789abcdef"
	concurrency = 10 // OPSFLOW_CONCURRENCY of each worker
	eventType   = "fault.test"
)

// cluster is one scenario's installation: 1 API process and 2 worker processes on a fresh
// database of the suite's Postgres cluster and a Redis of its own.
type cluster struct {
	t       *testing.T
	bin     string
	dir     string
	pg      *pgCluster
	redis   *redisServer
	api     *proc
	workers []*proc
	apiURL  string
	client  *http.Client
	flowID  string

	load     *load         // the scenario's events and their runs
	frozeFor time.Duration // how long a worker was frozen (SIGSTOP scenario)
	// idempotent: the flow's calls have "Target ignores repeats" on.
	idempotent bool
}

func newCluster(t *testing.T, bin string, pg *pgCluster, name string, counterURL string, idempotent bool) *cluster {
	t.Helper()
	dir := t.TempDir()
	if keep := os.Getenv("OPSFLOW_FAULTS_LOGS"); keep != "" {
		// Process logs (and data dirs) kept for a look after the test, one directory per scenario.
		dir = filepath.Join(keep, fmt.Sprintf("%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().Unix()))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c := &cluster{t: t, bin: bin, dir: dir, pg: pg, client: &http.Client{Timeout: 10 * time.Second}}
	dbURL := pg.createDB(t, fmt.Sprintf("faults_%s_%d", name, time.Now().UnixNano()))
	c.redis = startRedis(t, dir)
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "OPSFLOW_") && k != "DATABASE_URL" && k != "REDIS_ADDR" && k != "REDIS_URL" {
			env = append(env, kv)
		}
	}
	env = append(env, "DATABASE_URL="+dbURL, "REDIS_ADDR="+c.redis.addr, "OPSFLOW_SECRET_KEY="+secretKey,
		"OPSFLOW_QUEUE=faults", "OPSFLOW_HTTP_ALLOW=127.0.0.0/8", "OPSFLOW_LOG_LEVEL=info")
	port := freePort(t, 0, 0)
	c.apiURL = "http://127.0.0.1:" + strconv.Itoa(port)
	c.api = &proc{name: "api", argv: []string{bin, "serve", "-worker=false"}, log: filepath.Join(dir, "api.log"),
		env: append(append([]string{}, env...), "OPSFLOW_ADDR=127.0.0.1:"+strconv.Itoa(port), "OPSFLOW_API_TOKENS="+apiToken,
			"OPSFLOW_DATA_DIR="+filepath.Join(dir, "api"))}
	for i := 1; i <= 2; i++ {
		c.workers = append(c.workers, &proc{name: fmt.Sprintf("worker%d", i), argv: []string{bin, "worker"},
			log: filepath.Join(dir, fmt.Sprintf("worker%d.log", i)),
			env: append(append([]string{}, env...), "OPSFLOW_CONCURRENCY="+strconv.Itoa(concurrency),
				"OPSFLOW_DATA_DIR="+filepath.Join(dir, fmt.Sprintf("worker%d", i)))})
	}
	t.Cleanup(func() {
		for _, p := range append([]*proc{c.api}, c.workers...) {
			p.kill9()
		}
		if t.Failed() {
			for _, p := range append([]*proc{c.api}, c.workers...) {
				t.Logf("last lines of %s:\n%s", p.name, tail(p.log, 8))
			}
		}
	})
	// One after the other: every process migrates the database on start (concurrent migrations
	// are a known, separate defect of issue #9, not what this suite measures).
	c.startAPI()
	for _, w := range c.workers {
		c.startWorker(w)
	}
	c.idempotent = idempotent
	c.flowID = c.publishFlow(counterURL)
	return c
}

func (c *cluster) startAPI() {
	c.t.Helper()
	c.api.start(c.t)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := c.client.Get(c.apiURL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if !c.api.alive() || time.Now().After(deadline) {
			c.t.Fatalf("API not ready (%v):\n%s", err, tail(c.api.log, 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *cluster) startWorker(w *proc) {
	c.t.Helper()
	w.start(c.t)
	w.waitLog(c.t, "opsflow worker started", 60*time.Second)
}

// call sends an authenticated API request; out (if not nil) receives the JSON answer.
func (c *cluster) call(method, path string, body any, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.apiURL+"/api/v1"+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+apiToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(b))
	}
	if out != nil {
		return resp.StatusCode, json.Unmarshal(b, out)
	}
	return resp.StatusCode, nil
}

// chain is the flow's node ids in the order they run: a trigger and three side-effecting calls.
var chain = []string{"start", "call_a", "call_b", "call_c"}

// publishFlow creates and publishes: event fault.test → POST call_a → POST call_b → POST call_c,
// each calling the counting server with the node's id in the body (and "Target ignores repeats"
// on when c.idempotent).
func (c *cluster) publishFlow(counterURL string) string {
	c.t.Helper()
	nodes := []map[string]any{{"id": chain[0], "type": "trigger.event", "position": map[string]int{"x": 0, "y": 0},
		"config": map[string]any{"event_type": eventType, "sample": map[string]any{"seq": 1}}}}
	var edges []map[string]string
	for i, id := range chain[1:] {
		nodes = append(nodes, map[string]any{"id": id, "type": "action.http", "position": map[string]int{"x": 200 * (i + 1), "y": 0},
			"config": map[string]any{"method": "POST", "url": counterURL + "/" + id, "timeout": "10s", "idempotent": c.idempotent,
				"body": fmt.Sprintf(`{"seq": event.data.seq, "node": %q}`, id)}})
		edges = append(edges, map[string]string{"from": chain[i], "to": id})
	}
	doc := map[string]any{"schema": "opsflow/v1", "name": "faults", "nodes": nodes, "edges": edges}
	var created struct {
		ID string `json:"id"`
	}
	if _, err := c.call("POST", "/flows", doc, &created); err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.call("POST", "/flows/"+created.ID+"/publish", nil, nil); err != nil {
		c.t.Fatal(err)
	}
	return created.ID
}

// runView is the part of GET /runs/{id} the checks read.
type runView struct {
	ID         string     `json:"id"`
	Status     string     `json:"status"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at"`
	Steps      []struct {
		NodeID     string     `json:"node_id"`
		Status     string     `json:"status"`
		Attempt    int        `json:"attempt"`
		StartedAt  time.Time  `json:"started_at"`
		FinishedAt *time.Time `json:"finished_at"`
	} `json:"steps"`
}

// unfinished reports whether any run is still queued, running or waiting.
func (c *cluster) unfinished() (bool, error) {
	for _, s := range []string{"queued", "running", "waiting"} {
		var page struct {
			Items []runView `json:"items"`
		}
		if _, err := c.call("GET", "/runs?limit=1&status="+s, nil, &page); err != nil {
			return true, err
		}
		if len(page.Items) > 0 {
			return true, nil
		}
	}
	return false, nil
}

// allRunIDs lists every run stored, through the paged GET /runs.
func (c *cluster) allRunIDs() ([]string, error) {
	var ids []string
	cursor := ""
	for {
		var page struct {
			Items      []runView `json:"items"`
			NextCursor string    `json:"next_cursor"`
		}
		if _, err := c.call("GET", "/runs?limit=200&cursor="+cursor, nil, &page); err != nil {
			return nil, err
		}
		for _, r := range page.Items {
			ids = append(ids, r.ID)
		}
		if page.NextCursor == "" {
			return ids, nil
		}
		cursor = page.NextCursor
	}
}
