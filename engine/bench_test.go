package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/store"
)

const benchFlow = `{"name":"bench","nodes":[
	{"id":"t","type":"trigger.event","config":{"event_type":"payment.failed","sample":{"amount":1,"customer":{"name":"x"}}}},
	{"id":"c","type":"logic.condition","config":{"expression":"event.data.amount >= 100"}},
	{"id":"l","type":"action.log","config":{"message":"{{ event.data.customer.name }} failed {{ event.data.amount }}","level":"info"}}],
	"edges":[{"from":"t","to":"c"},{"from":"c","to":"l","port":"true"}]}`

// benchEngine starts an engine with benchFlow published and returns a matching event's data.
func benchEngine(b *testing.B, backend enginetest.Backend) (*engine.Engine, map[string]any) {
	e := enginetest.New(b, backend)
	enginetest.Publish(b, e, enginetest.MustFlow(b, benchFlow))
	return e, map[string]any{"amount": 250.0, "customer": map[string]any{"name": "Li Wei"}}
}

// BenchmarkEventToRunDone measures one event's latency from POST to a finished three-node run
// (accept, commit, enqueue, worker pick-up, execution with checkpoints).
func BenchmarkEventToRunDone(b *testing.B) {
	for _, backend := range enginetest.Backends() {
		b.Run(string(backend), func(b *testing.B) {
			e, data := benchEngine(b, backend)
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				acc, err := e.AcceptEvent(ctx, "payment.failed", data, "")
				if err != nil {
					b.Fatal(err)
				}
				if d := enginetest.WaitRun(b, e, acc.RunIDs[0], 10*time.Second); d.Run.Status != store.RunSucceeded {
					b.Fatal(d.Run.Error)
				}
			}
		})
	}
}

// BenchmarkEventThroughput accepts b.N events as fast as possible and waits for every run.
func BenchmarkEventThroughput(b *testing.B) {
	for _, backend := range enginetest.Backends() {
		b.Run(string(backend), func(b *testing.B) {
			e, data := benchEngine(b, backend)
			ctx := context.Background()
			b.ResetTimer()
			ids := make([]string, 0, b.N)
			for i := 0; i < b.N; i++ {
				acc, err := e.AcceptEvent(ctx, "payment.failed", data, "")
				if err != nil {
					b.Fatal(err)
				}
				ids = append(ids, acc.RunIDs[0])
			}
			for _, id := range ids {
				if d := enginetest.WaitRun(b, e, id, time.Minute); d.Run.Status != store.RunSucceeded {
					b.Fatal(d.Run.Error)
				}
			}
		})
	}
}

// canonicalFlow is the performance issue's workload: trigger.event → logic.condition →
// action.http → action.http, against a local sink.
func canonicalFlow(sink string) string { return canonicalFlowCalls(sink, false) }

// canonicalFlowCalls is canonicalFlow, with idempotent: its calls have "Target ignores repeats" on.
func canonicalFlowCalls(sink string, idempotent bool) string {
	idem := fmt.Sprint(idempotent)
	return `{"schema":"opsflow/v1","name":"canonical","nodes":[
	{"id":"t","type":"trigger.event","config":{"event_type":"payment.failed","sample":{"amount":1,"order_id":"x"}}},
	{"id":"c","type":"logic.condition","config":{"expression":"event.data.amount >= 100"}},
	{"id":"crm","type":"action.http","config":{"idempotent":` + idem + `,"url":"` + sink + `/crm/{{ event.data.order_id }}","body":"{\"status\": \"failed\"}"}},
	{"id":"notify","type":"action.http","config":{"idempotent":` + idem + `,"url":"` + sink + `/notify","body":"{\"order\": event.data.order_id, \"crm\": nodes.crm.status}"}}],
	"edges":[{"from":"t","to":"c"},{"from":"c","to":"crm","port":"true"},{"from":"crm","to":"notify"}]}`
}

// commits reads the database's committed transactions (Postgres only; -1 elsewhere). Backends
// publish their counts once idle for a second, so it waits that long first.
func commits(b *testing.B, e *engine.Engine) int64 {
	if e.Store.Embedded {
		return -1
	}
	time.Sleep(1500 * time.Millisecond)
	var n int64
	if err := e.Store.DB.Raw("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()").Scan(&n).Error; err != nil {
		b.Fatal(err)
	}
	return n
}

// meter measures a benchmark's items: their rate, the CPU time of this process and of the
// engine's Postgres backends (read from /proc, so only with Postgres on this machine) per item,
// and on Postgres the commits per item.
type meter struct {
	e        *engine.Engine
	self, pg time.Duration
	commits  int64
	start    time.Time
}

// startMeter reads the counters and restarts the benchmark's timer.
func startMeter(b *testing.B, e *engine.Engine) *meter {
	m := &meter{e: e, commits: commits(b, e)}
	m.self, m.pg = m.read()
	b.ResetTimer()
	m.start = time.Now()
	return m
}

// stop stops the timer and reports, per unit ("run", "event", …): b.N units per second, CPU per
// unit and, on Postgres, commits per unit.
func (m *meter) stop(b *testing.B, unit string) {
	elapsed := time.Since(m.start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), unit+"s/s")
	m.report(b, unit)
	if m.commits >= 0 {
		b.ReportMetric(float64(commits(b, m.e)-m.commits)/float64(b.N), "commits/"+unit)
	}
}

func (m *meter) read() (self, pg time.Duration) {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	if m.e.Store.Embedded {
		return self, 0
	}
	var pids []int
	m.e.Store.DB.Raw("SELECT pid FROM pg_stat_activity WHERE datname = current_database()").Scan(&pids)
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if i := bytes.LastIndexByte(b, ')'); err == nil && i > 0 {
			f := strings.Fields(string(b[i+1:]))
			if len(f) > 12 {
				u, _ := strconv.ParseInt(f[11], 10, 64)
				s, _ := strconv.ParseInt(f[12], 10, 64)
				pg += time.Duration(u+s) * 10 * time.Millisecond // USER_HZ is 100
			}
		}
	}
	return self, pg
}

// report adds CPU per item: the process (with the benchmark's own clients) and, on Postgres, its
// backends that are still connected (the pool keeps them).
func (m *meter) report(b *testing.B, unit string) {
	self, pg := m.read()
	b.ReportMetric(float64(self-m.self)/float64(time.Millisecond)/float64(b.N), "cpu-ms/"+unit)
	if !m.e.Store.Embedded {
		b.ReportMetric(float64(pg-m.pg)/float64(time.Millisecond)/float64(b.N), "pg-cpu-ms/"+unit)
	}
}

// BenchmarkThreeNodeRuns accepts b.N events of the canonical flow from 10 clients and waits until
// every run finished; it reports runs/s and, on Postgres, commits per run (every transaction the
// database committed while the runs went through, reads included). The "-idempotent" variants
// run the flow with its calls marked "Target ignores repeats" (no record before each call).
func BenchmarkThreeNodeRuns(b *testing.B) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}`))
	}))
	defer sink.Close()
	for _, backend := range enginetest.Backends() {
		for _, idempotent := range []bool{false, true} {
			name := string(backend)
			if idempotent {
				name += "-idempotent"
			}
			b.Run(name, func(b *testing.B) { threeNodeRuns(b, backend, sink.URL, idempotent) })
		}
	}
}

func threeNodeRuns(b *testing.B, backend enginetest.Backend, sink string, idempotent bool) {
	e := enginetest.New(b, backend)
	enginetest.Publish(b, e, enginetest.MustFlow(b, canonicalFlowCalls(sink, idempotent)))
	ctx := context.Background()
	m := startMeter(b, e)
	tenClients(b, func(i int64) error {
		_, err := e.AcceptEvent(ctx, "payment.failed", map[string]any{"amount": 250.0, "order_id": fmt.Sprint("SO-", i+1)}, "")
		return err
	})
	// One count every 50 ms, so that waiting adds few transactions of its own.
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var finished, ok int64
		e.Store.DB.Raw("SELECT count(*), count(CASE WHEN status = ? THEN 1 END) FROM runs WHERE finished_at IS NOT NULL", store.RunSucceeded).Row().Scan(&finished, &ok)
		if finished >= int64(b.N) {
			if ok != finished {
				b.Fatalf("%d of %d runs did not succeed", finished-ok, finished)
			}
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d runs finished", finished, b.N)
		}
		time.Sleep(50 * time.Millisecond)
	}
	m.stop(b, "run")
	if !e.Store.Embedded {
		// Updates of runs and steps done in place (HOT), without index writes.
		for _, table := range []string{"runs", "steps"} {
			var upd, hot float64
			e.Store.DB.Raw("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = ?", table).Row().Scan(&upd, &hot)
			b.ReportMetric(100*hot/max(upd, 1), table+"-hot-%")
		}
	}
}

// BenchmarkAccept measures durable acceptance alone (no worker): 10 clients post events that
// start a run of the canonical flow; it reports events/s and, on Postgres, commits per event.
func BenchmarkAccept(b *testing.B) {
	for _, backend := range enginetest.Backends() {
		b.Run(string(backend), func(b *testing.B) {
			e := idleEngine(b, backend)
			ctx := context.Background()
			b.SetParallelism(5) // 10 clients on 2 cores
			m := startMeter(b, e)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := e.AcceptEvent(ctx, "payment.failed", map[string]any{"amount": 250.0, "order_id": "SO-1"}, ""); err != nil {
						b.Error(err)
						return
					}
				}
			})
			m.stop(b, "event")
			// Every run reached the queue, so the outbox empties (its rows are deleted in batches).
			var left int64
			for i := 0; i < 100; i++ {
				if e.Store.DB.Model(&store.Dispatch{}).Count(&left); left == 0 {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if left != 0 {
				b.Fatalf("%d outbox rows left", left)
			}
		})
	}
}

// BenchmarkCheckpoint measures checkpoint flushes alone: 10 workers each write the checkpoint of a
// running run (three steps, fenced on its lease) through the committer, as before a side effect.
func BenchmarkCheckpoint(b *testing.B) {
	for _, backend := range enginetest.Backends() {
		b.Run(string(backend), func(b *testing.B) {
			e := idleEngine(b, backend)
			ctx := context.Background()
			runs := make([]store.Run, b.N)
			for i := range runs {
				acc, err := e.AcceptEvent(ctx, "payment.failed", map[string]any{"amount": 250.0, "order_id": "SO-1"}, "")
				if err != nil {
					b.Fatal(err)
				}
				runs[i] = store.Run{ID: acc.RunIDs[0], Lease: 1}
			}
			// Claimed, as a worker leaves them.
			if err := e.Store.DB.Exec("UPDATE runs SET status = ?, lease = 1", store.RunRunning).Error; err != nil {
				b.Fatal(err)
			}
			m := startMeter(b, e)
			tenClients(b, func(i int64) error {
				now := time.Now().UTC()
				var steps []store.Step
				for _, n := range []string{"t", "c", "crm"} {
					steps = append(steps, store.Step{RunID: runs[i].ID, NodeID: n, NodeType: "x", Status: store.StepSucceeded,
						Input: `{"amount":250}`, Output: `{"ok":true}`, Attempt: 1, StartedAt: now, FinishedAt: &now})
				}
				return e.WriteCheckpoint(ctx, runs[i], steps)
			})
			m.stop(b, "checkpoint")
			var written int64
			e.Store.DB.Model(&store.Step{}).Count(&written)
			if written != int64(3*b.N) {
				b.Fatalf("%d steps written, want %d", written, 3*b.N)
			}
		})
	}
}

// idleEngine is an engine without a worker, with the canonical flow published (its HTTP calls go
// nowhere: nothing executes them), for benchmarks of accepting and checkpointing alone.
func idleEngine(b *testing.B, backend enginetest.Backend) *engine.Engine {
	e, err := engine.Open(enginetest.Config(b, backend))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(e.Close)
	enginetest.Publish(b, e, enginetest.MustFlow(b, canonicalFlow("http://127.0.0.1:9")))
	return e
}

// tenClients calls do(i) for every i in [0, b.N) from 10 goroutines (10 clients or workers on 2
// cores), stopping a goroutine at its first error.
func tenClients(b *testing.B, do func(i int64) error) {
	var wg sync.WaitGroup
	var next atomic.Int64
	for c := 0; c < 10; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(b.N); i = next.Add(1) - 1 {
				if err := do(i); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
