package engine_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
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
func canonicalFlow(sink string) string {
	return `{"schema":"opsflow/v1","name":"canonical","nodes":[
	{"id":"t","type":"trigger.event","config":{"event_type":"payment.failed","sample":{"amount":1,"order_id":"x"}}},
	{"id":"c","type":"logic.condition","config":{"expression":"event.data.amount >= 100"}},
	{"id":"crm","type":"action.http","config":{"url":"` + sink + `/crm/{{ event.data.order_id }}","body":"{\"status\": \"failed\"}"}},
	{"id":"notify","type":"action.http","config":{"url":"` + sink + `/notify","body":"{\"order\": event.data.order_id, \"crm\": nodes.crm.status}"}}],
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

// BenchmarkThreeNodeRuns accepts b.N events of the canonical flow from 10 clients and waits until
// every run finished; it reports runs/s and, on Postgres, commits per run (every transaction the
// database committed while the runs went through, reads included).
func BenchmarkThreeNodeRuns(b *testing.B) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}`))
	}))
	defer sink.Close()
	for _, backend := range enginetest.Backends() {
		b.Run(string(backend), func(b *testing.B) {
			e := enginetest.New(b, backend)
			enginetest.Publish(b, e, enginetest.MustFlow(b, canonicalFlow(sink.URL)))
			ctx := context.Background()
			before := commits(b, e)
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			var next atomic.Int64
			for c := 0; c < 10; c++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
						if _, err := e.AcceptEvent(ctx, "payment.failed", map[string]any{"amount": 250.0, "order_id": fmt.Sprint("SO-", i)}, ""); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
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
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "runs/s")
			if before >= 0 {
				b.ReportMetric(float64(commits(b, e)-before)/float64(b.N), "commits/run")
			}
		})
	}
}

// BenchmarkAccept measures durable acceptance alone (no worker): 10 clients post events that
// start a run of the canonical flow; it reports events/s and, on Postgres, commits per event.
func BenchmarkAccept(b *testing.B) {
	for _, backend := range enginetest.Backends() {
		b.Run(string(backend), func(b *testing.B) {
			e, err := engine.Open(enginetest.Config(b, backend))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(e.Close)
			enginetest.Publish(b, e, enginetest.MustFlow(b, canonicalFlow("http://127.0.0.1:9")))
			ctx := context.Background()
			before := commits(b, e)
			b.SetParallelism(5) // 10 clients on 2 cores
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := e.AcceptEvent(ctx, "payment.failed", map[string]any{"amount": 250.0, "order_id": "SO-1"}, ""); err != nil {
						b.Error(err)
						return
					}
				}
			})
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
			if before >= 0 {
				b.ReportMetric(float64(commits(b, e)-before)/float64(b.N), "commits/event")
			}
		})
	}
}
