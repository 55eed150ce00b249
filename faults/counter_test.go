//go:build faults

package faults

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// counter is the provider every action.http step calls. It records every call under the step's
// Idempotency-Key (<run id>:<node id>), so a side effect performed twice shows up as a key called
// more than once, and a step recorded as succeeded without a call shows up as a missing key.
type counter struct {
	srv   *httptest.Server
	delay time.Duration // provider latency, so that faults find steps in flight

	mu    sync.Mutex
	calls map[string][]time.Time
	bad   int // calls without a well-formed key or body
}

func newCounter(delay time.Duration) *counter {
	c := &counter{delay: delay, calls: map[string][]time.Time{}}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	return c
}

func (c *counter) serve(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	var body struct {
		Run  string `json:"run"`
		Node string `json:"node"`
		Seq  int    `json:"seq"`
	}
	b, _ := io.ReadAll(r.Body)
	key := r.Header.Get("Idempotency-Key")
	run, nodeID, ok := strings.Cut(key, ":")
	c.mu.Lock()
	if json.Unmarshal(b, &body) != nil || !ok || run == "" || nodeID != body.Node {
		c.bad++
	} else {
		c.calls[key] = append(c.calls[key], at)
	}
	c.mu.Unlock()
	time.Sleep(c.delay)
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"ok":true}`)
}

// snapshot copies the calls recorded so far: key → call times.
func (c *counter) snapshot() (map[string][]time.Time, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string][]time.Time, len(c.calls))
	for k, v := range c.calls {
		out[k] = append([]time.Time(nil), v...)
	}
	return out, c.bad
}

func (c *counter) reset() {
	c.mu.Lock()
	c.calls, c.bad = map[string][]time.Time{}, 0
	c.mu.Unlock()
}
