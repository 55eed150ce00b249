package api

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/api/apitest"
	"github.com/opsflow/opsflow/engine/enginetest"
)

// With the database down, API calls answer 503 with Retry-After and a JSON error (not 500), and
// /readyz says so without the driver's details (user, database, host:port).
func TestDatabaseDown(t *testing.T) {
	for _, b := range enginetest.Backends() {
		if b != enginetest.Postgres {
			continue // the embedded database is a file in the process: it cannot go down alone
		}
		cfg := enginetest.Config(t, b)
		u, err := url.Parse(cfg.DatabaseURL)
		if err != nil {
			t.Fatal(err)
		}
		p := startProxy(t, u.Host)
		u.Host = p.addr
		cfg.DatabaseURL = u.String()
		e := enginetest.Start(t, cfg)
		srv := apitest.NewServer(t, New(e, Options{Tokens: []string{testToken}}))
		defer srv.Close()
		if status, _, raw := call(t, srv, "GET", "/readyz", ""); status != 200 {
			t.Fatalf("readyz while up: %d %s", status, raw)
		}
		p.setDown(true)
		defer p.setDown(false) // let the engine shut down cleanly
		for _, r := range []struct{ method, path, body string }{
			{"GET", "/api/v1/flows", ""}, {"GET", "/api/v1/runs", ""}, {"POST", "/api/v1/events", `{"type":"x"}`},
			{"POST", "/api/v1/teams", `{"name":"t"}`}, {"GET", "/api/v1/status", ""},
		} {
			req, _ := http.NewRequest(r.method, srv.URL+r.path, strings.NewReader(r.body))
			req.Header.Set("Authorization", "Bearer "+testToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(raw), `"code":"unavailable"`) {
				t.Errorf("%s %s with the database down: %d Retry-After %q %s", r.method, r.path, resp.StatusCode, resp.Header.Get("Retry-After"), raw)
			}
		}
		status, _, raw := call(t, srv, "GET", "/readyz", "")
		if status != 503 || !strings.Contains(raw, "database") {
			t.Errorf("readyz with the database down: %d %s", status, raw)
		}
		for _, leak := range []string{u.User.Username(), strings.TrimPrefix(u.Path, "/"), p.addr, p.target, "127.0.0.1", "dial", "connect"} {
			if leak != "" && strings.Contains(raw, leak) {
				t.Errorf("readyz leaks %q: %s", leak, raw)
			}
		}
	}
}

// The status endpoint reports live workers and the oldest queued run's age: "no_workers" for an
// API-only deployment whose runs wait for nobody, while /readyz of that process stays 200.
func TestStatusReportsWorkers(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			cfg := enginetest.Config(t, b)
			api, err := engine.Open(cfg) // an API-only process: no worker
			if err != nil {
				t.Fatal(err)
			}
			defer api.Close()
			srv := apitest.NewServer(t, New(api, Options{Tokens: []string{testToken}}))
			defer srv.Close()
			_, fl, raw := call(t, srv, "POST", "/api/v1/flows", `{"name":"m","nodes":[{"id":"t","type":"trigger.manual"},
				{"id":"l","type":"action.log","config":{"message":"hi"}}],"edges":[{"from":"t","to":"l"}]}`)
			if fl["id"] == nil {
				t.Fatal(raw)
			}
			if status, _, raw := call(t, srv, "POST", "/api/v1/flows/"+fl["id"].(string)+"/run", `{"data":{}}`); status != 202 {
				t.Fatal(raw)
			}
			time.Sleep(20 * time.Millisecond) // the age below must be positive
			status, st, raw := call(t, srv, "GET", "/api/v1/status", "")
			if status != 200 || st["status"] != "no_workers" || st["workers"] != 0.0 || st["queued_runs"] != 1.0 || !(st["oldest_queued_seconds"].(float64) > 0) {
				t.Errorf("status without workers: %d %s", status, raw)
			}
			if status, _, raw := call(t, srv, "GET", "/readyz", ""); status != 200 {
				t.Errorf("readyz of an API-only process: %d %s", status, raw)
			}
			if b == enginetest.Embedded {
				return // a second process cannot share the embedded queue
			}
			enginetest.Start(t, cfg) // a worker process on the same database and queue
			deadline := time.Now().Add(10 * time.Second)
			for {
				_, st, raw = call(t, srv, "GET", "/api/v1/status", "")
				if st["status"] == "ok" && st["workers"] == 1.0 && st["queued_runs"] == 0.0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("status with a worker: %s", raw)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// proxy forwards TCP to target until it is set down: then it drops every connection and hangs up
// on new ones at once, as a stopped database server would.
type proxy struct {
	addr, target string
	mu           sync.Mutex
	down         bool
	conns        []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: l.Addr().String(), target: target}
	t.Cleanup(func() { l.Close(); p.setDown(true) })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			down := p.down
			p.mu.Unlock()
			if down {
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

func (p *proxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}
