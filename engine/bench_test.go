package engine_test

import (
	"context"
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
