package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// client posts events to one pipeline's API.
type client struct {
	http  *http.Client
	base  string // http://127.0.0.1:port
	token string
}

func newClient(base, token string) *client {
	// A bound on connections keeps an overloaded server from costing thousands of sockets: beyond it
	// requests wait for a connection, which shows in the API latency.
	tr := &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, MaxConnsPerHost: 1024, IdleConnTimeout: 30 * time.Second}
	return &client{http: &http.Client{Transport: tr, Timeout: 10 * time.Second}, base: base, token: token}
}

func (c *client) close() { c.http.CloseIdleConnections() }

// do sends one API request and returns the status and body.
func (c *client) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

// postEvent posts event n of phase p, stamped with its send time, and returns how long the API took.
func (c *client) postEvent(ctx context.Context, p, n int) (time.Duration, error) {
	start := time.Now()
	body := fmt.Appendf(nil, `{"type":%q,"data":{"amount":250,"p":%d,"n":%d,"sent":%d}}`, eventType, p, n, sinceEpoch(start))
	status, b, err := c.do(ctx, http.MethodPost, "/api/v1/events", body)
	d := time.Since(start)
	if err != nil {
		return d, err
	}
	if status != http.StatusAccepted && status != http.StatusOK {
		return d, fmt.Errorf("POST /api/v1/events: %d %s", status, bytes.TrimSpace(b))
	}
	return d, nil
}

// sendResult is what a load generator did.
type sendResult struct {
	sent, accepted, failed int
	dropped                int // open loop: events not sent because too many requests were outstanding
	elapsed                time.Duration
	ingest                 []time.Duration // API latency of accepted events
	firstErr               error
}

// collector gathers the outcome of concurrent posts.
type collector struct {
	mu  sync.Mutex
	res sendResult
}

func (col *collector) add(d time.Duration, err error) {
	col.mu.Lock()
	defer col.mu.Unlock()
	if err != nil {
		col.res.failed++
		if col.res.firstErr == nil {
			col.res.firstErr = err
		}
		return
	}
	col.res.accepted++
	col.res.ingest = append(col.res.ingest, d)
}

// maxOutstanding bounds the requests an open-loop generator has in flight; beyond it events are
// dropped (and the step counts as not kept up) rather than piling up goroutines.
const maxOutstanding = 4096

// openLoop sends events of phase p at rate per second for dur, Poisson or evenly spaced, without
// waiting for answers: a slow server does not slow the arrivals.
func openLoop(ctx context.Context, c *client, p int, rate float64, dur time.Duration, poisson bool, seed uint64) sendResult {
	rng := rand.New(rand.NewPCG(seed, uint64(p)))
	col := &collector{}
	var wg sync.WaitGroup
	var outstanding atomic.Int64
	start := time.Now()
	end := start.Add(dur)
	offset := 0.0 // seconds after start of the next arrival
	n, dropped := 0, 0
	maxEvents := int(rate*dur.Seconds()*2) + 10 // a bound on the loop whatever the clock does
	for i := 0; i < maxEvents; i++ {
		if poisson {
			offset += rng.ExpFloat64() / rate
		} else {
			offset += 1 / rate
		}
		at := start.Add(time.Duration(offset * float64(time.Second)))
		if !at.Before(end) || ctx.Err() != nil {
			break
		}
		if d := time.Until(at); d > 0 {
			sleep(ctx, d)
		}
		if outstanding.Load() >= maxOutstanding {
			dropped++
			continue
		}
		outstanding.Add(1)
		wg.Add(1)
		go func(n int) {
			defer wg.Done()
			defer outstanding.Add(-1)
			col.add(c.postEvent(ctx, p, n))
		}(n)
		n++
	}
	elapsed := time.Since(start)
	wg.Wait()
	col.res.sent, col.res.dropped, col.res.elapsed = n, dropped, elapsed
	return col.res
}

// closedLoop posts events of phase p from conns connections, each sending its next event when the
// previous one is answered, for dur or until max events were sent (max 0: no count limit).
func closedLoop(ctx context.Context, c *client, p, conns int, dur time.Duration, max int) sendResult {
	col := &collector{}
	var next atomic.Int64
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	start := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				n := int(next.Add(1)) - 1
				if max > 0 && n >= max {
					return
				}
				d, err := c.postEvent(ctx, p, n)
				if ctx.Err() != nil && err != nil {
					next.Add(-1) // cut off by the deadline: not an event
					return
				}
				col.add(d, err)
			}
		}()
	}
	wg.Wait()
	col.res.elapsed = time.Since(start)
	col.res.sent = col.res.accepted + col.res.failed
	return col.res
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// percentile of sorted durations, in milliseconds; q in [0,1].
func percentile(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted)-1) + 0.5)
	return float64(sorted[i]) / float64(time.Millisecond)
}

// latencies summarises durations as p50/p95/p99/max in milliseconds.
type latencies struct {
	P50 float64 `json:"p50_ms"`
	P95 float64 `json:"p95_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

func summarize(ds []time.Duration) latencies {
	s := slices.Clone(ds)
	slices.Sort(s)
	return latencies{P50: percentile(s, 0.5), P95: percentile(s, 0.95), P99: percentile(s, 0.99), Max: percentile(s, 1)}
}
