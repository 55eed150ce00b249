package engine_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/store"
)

// replayBenchFlow texts large failed payments: a condition, then a side-effecting action.
const replayBenchFlow = `{"name":"replay bench","nodes":[
	{"id":"t","type":"trigger.event","config":{"event_type":"payment.failed","sample":{"amount":1,"phone":"+14155550100"}}},
	{"id":"large_amount","type":"logic.condition","config":{"expression":"event.data.amount >= 100"}},
	{"id":"sms","type":"action.sms","config":{"credential":"twilio","to":"{{ event.data.phone }}","body":"Payment of {{ event.data.amount }} failed"}}],
	"edges":[{"from":"t","to":"large_amount"},{"from":"large_amount","to":"sms","port":"true"}]}`

// recordedTraffic starts an engine whose flow really ran for n events (every other one large),
// with a Twilio stand-in; it returns the engine, the flow id and the count of SMS received.
func recordedTraffic(t testing.TB, b enginetest.Backend, n int) (*engine.Engine, string, *atomic.Int64) {
	var sent atomic.Int64
	tw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"sid":"SM00000000000000000000000000000001","status":"queued"}`)
	}))
	t.Cleanup(tw.Close)
	e := enginetest.New(t, b)
	ctx := context.Background()
	if _, err := e.CreateCredential(ctx, "twilio", "twilio", map[string]string{"account_sid": "AC0123456789abcdef0123456789abcdef",
		"auth_token": "replay-test-token", "from": "+14155550000", "base_url": tw.URL}); err != nil {
		t.Fatal(err)
	}
	flowID := enginetest.Publish(t, e, enginetest.MustFlow(t, replayBenchFlow))
	var runs []string
	for i := 0; i < n; i++ {
		acc, err := e.AcceptEvent(ctx, "payment.failed", map[string]any{"amount": 50 + 100*(i%2), "phone": fmt.Sprintf("+1415555%04d", i)}, "")
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, acc.RunIDs...)
	}
	for _, id := range runs {
		if d := enginetest.WaitRun(t, e, id, 60*time.Second); d.Run.Status != store.RunSucceeded {
			t.Fatalf("run %s: %s", d.Run.Status, d.Run.Error)
		}
	}
	return e, flowID, &sent
}

func waitReplayDone(t testing.TB, e *engine.Engine, id string) *store.Replay {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		r, err := e.GetReplay(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != store.ReplayQueued && r.Status != store.ReplayRunning {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("replay %s still %s", id, r.Status)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A replay cancelled while it runs stops after the batch it is in, keeping what it compared.
func TestReplayCancelMidway(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			e, flowID, sent := recordedTraffic(t, b, 250)
			before := sent.Load()
			ctx := context.Background()
			r, err := e.CreateReplay(ctx, flowID, 0, engine.ReplaySelection{Last: 250}, "test")
			if err != nil {
				t.Fatal(err)
			}
			engine.SetAfterReplayBatch(func(id string, done int) {
				if id == r.ID && done == 100 {
					if _, err := e.CancelReplay(ctx, id); err != nil {
						t.Error(err)
					}
				}
			})
			defer engine.SetAfterReplayBatch(nil)
			if err := e.EnqueueReplay(ctx, r.ID); err != nil {
				t.Fatal(err)
			}
			got := waitReplayDone(t, e, r.ID)
			results, err := e.ReplayResults(ctx, r.ID, "", 200, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != store.ReplayCancelled || got.Done != 100 || got.Total != 250 || len(results) != 100 {
				t.Fatalf("cancelled replay: status %s, done %d of %d, %d results", got.Status, got.Done, got.Total, len(results))
			}
			summary, failing, err := e.ReplaySummary(ctx, r.ID)
			if err != nil || failing != 0 || len(summary) != 1 || summary[0].Outcome != "unchanged" || summary[0].Count != 100 {
				t.Errorf("summary so far: %+v, %d failing, %v", summary, failing, err)
			}
			if sent.Load() != before {
				t.Errorf("the replay sent %d SMS", sent.Load()-before)
			}
		})
	}
}

// BenchmarkReplay1000 replays 1,000 recorded events (half of them texting) on the embedded
// default, in the worker's own way (RunReplay), and reports events per second.
func BenchmarkReplay1000(b *testing.B) {
	e, flowID, sent := recordedTraffic(b, enginetest.Embedded, 1000)
	before := sent.Load()
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := e.CreateReplay(ctx, flowID, 0, engine.ReplaySelection{Last: 1000}, "bench")
		if err != nil {
			b.Fatal(err)
		}
		if err := e.RunReplay(ctx, r.ID); err != nil {
			b.Fatal(err)
		}
		if got, _ := e.GetReplay(ctx, r.ID); got.Status != store.ReplaySucceeded || got.Done != 1000 {
			b.Fatalf("replay %s: %d done", got.Status, got.Done)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "events/s")
	if sent.Load() != before {
		b.Fatalf("the replay sent %d SMS", sent.Load()-before)
	}
}

// Waits end in a replay as if their time had passed: a 2-hour delay goes by, and a wait for the
// payment finds it among the recorded events within its window (or times out).
func TestReplayWaits(t *testing.T) {
	e, _, sent := recordedTraffic(t, enginetest.Embedded, 0)
	ctx := context.Background()
	flowID := enginetest.Publish(t, e, enginetest.MustFlow(t, `{"name":"await payment","nodes":[
		{"id":"t","type":"trigger.event","config":{"event_type":"order.created","sample":{"order_id":"SO-1","phone":"+14155550100"}}},
		{"id":"later","type":"logic.delay","config":{"duration":"2h"}},
		{"id":"paid","type":"logic.wait_for_event","config":{"event_type":"payment.succeeded","match_field":"order_id","match_value":"{{ event.data.order_id }}","timeout":"24h"}},
		{"id":"thanks","type":"action.sms","config":{"credential":"twilio","to":"{{ event.data.phone }}","body":"Thanks for paying {{ nodes.paid.event.data.order_id }}"}},
		{"id":"remind","type":"action.sms","config":{"credential":"twilio","to":"{{ event.data.phone }}","body":"Order {{ event.data.order_id }} is unpaid"}}],
		"edges":[{"from":"t","to":"later"},{"from":"later","to":"paid"},{"from":"paid","to":"thanks","port":"received"},{"from":"paid","to":"remind","port":"timeout"}]}`))
	var runs []string
	for _, order := range []string{"SO-1", "SO-2"} {
		acc, err := e.AcceptEvent(ctx, "order.created", map[string]any{"order_id": order, "phone": "+14155550101"}, "")
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, acc.RunIDs...)
	}
	for _, order := range []string{"SO-1", "SO-3"} {
		if _, err := e.AcceptEvent(ctx, "payment.succeeded", map[string]any{"order_id": order}, ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range runs { // the real runs park in the delay
		for {
			d, err := e.GetRun(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if d.Run.Status == store.RunWaiting {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	r, err := e.CreateReplay(ctx, flowID, 0, engine.ReplaySelection{}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.RunReplay(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	results, err := e.ReplayResults(ctx, r.ID, "", 10, 0)
	if err != nil || len(results) != 2 {
		t.Fatalf("%d results, %v", len(results), err)
	}
	if results[0].Outcome != "action_added:thanks" || results[1].Outcome != "action_added:remind" {
		t.Errorf("outcomes %s / %s", results[0].Outcome, results[1].Outcome)
	}
	if !strings.Contains(results[0].Detail, "Thanks+for+paying+SO-1") || !strings.Contains(results[1].Detail, "Order+SO-2+is+unpaid") {
		t.Errorf("recorded SMS: %s / %s", results[0].Detail, results[1].Detail)
	}
	if sent.Load() != 0 {
		t.Errorf("the replay sent %d SMS", sent.Load())
	}

	// Retention: a replay is kept until the cutoff passes its creation, then goes with its results.
	if err := e.PruneReplays(ctx, r.CreatedAt); err != nil {
		t.Fatal(err)
	}
	if _, err := e.GetReplay(ctx, r.ID); err != nil {
		t.Fatalf("pruned too early: %v", err)
	}
	if err := e.PruneReplays(ctx, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.GetReplay(ctx, r.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("pruned replay: %v", err)
	}
	if left, _ := e.ReplayResults(ctx, r.ID, "", 10, 0); len(left) != 0 {
		t.Errorf("%d results of a pruned replay left", len(left))
	}
}
