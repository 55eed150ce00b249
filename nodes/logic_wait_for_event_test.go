package nodes_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/store"
)

const waitFlow = `{"name":"w","nodes":[
	{"id":"t","type":"trigger.event","config":{"event_type":"order.created","sample":{"order_id":"SO-1"}}},
	{"id":"w","type":"logic.wait_for_event","config":{"event_type":"payment.succeeded","match_field":"metadata.order_id","match_value":"{{ event.data.order_id }}","timeout":"%s"}},
	{"id":"paid","type":"action.log","config":{"message":"paid {{ nodes.w.event.data.amount }}"}},
	{"id":"late","type":"action.log","config":{"message":"no payment"}}],
	"edges":[{"from":"t","to":"w"},{"from":"w","to":"paid","port":"received"},{"from":"w","to":"late","port":"timeout"}]}`

// waitForStatus polls until the run has the status.
func waitForStatus(t *testing.T, db *gorm.DB, id, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var r store.Run
		db.Where("id = ?", id).Take(&r)
		if r.Status == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s is %s, want %s", id, r.Status, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

func TestWaitForEvent(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			e := enginetest.New(t, b)
			ctx := context.Background()
			enginetest.Publish(t, e, enginetest.MustFlow(t, sprintf(waitFlow, "1h")))
			a, _ := e.AcceptEvent(ctx, "order.created", map[string]any{"order_id": "SO-1"}, "")
			other, _ := e.AcceptEvent(ctx, "order.created", map[string]any{"order_id": "SO-2"}, "")
			for _, id := range []string{a.RunIDs[0], other.RunIDs[0]} {
				waitForStatus(t, e.Store.DB, id, store.RunWaiting)
			}
			// A payment for another order, and an event of another type, wake nothing.
			if acc, _ := e.AcceptEvent(ctx, "payment.succeeded", map[string]any{"metadata": map[string]any{"order_id": "SO-3"}}, ""); len(acc.ResumedRunIDs) != 0 {
				t.Fatalf("woke %v", acc.ResumedRunIDs)
			}
			if acc, _ := e.AcceptEvent(ctx, "payment.failed", map[string]any{"metadata": map[string]any{"order_id": "SO-1"}}, ""); len(acc.ResumedRunIDs) != 0 {
				t.Fatalf("payment.failed woke %v", acc.ResumedRunIDs)
			}
			acc, err := e.AcceptEvent(ctx, "payment.succeeded", map[string]any{"amount": 99.5, "metadata": map[string]any{"order_id": "SO-1"}}, "")
			if err != nil || len(acc.ResumedRunIDs) != 1 || acc.ResumedRunIDs[0] != a.RunIDs[0] {
				t.Fatalf("resumed %v, %v; want run %s", acc, err, a.RunIDs[0])
			}
			// The waking event is stored like any other (it commits with the wake-up).
			var stored int64
			e.Store.DB.Model(&store.Event{}).Where("id = ?", acc.EventID).Count(&stored)
			if stored != 1 {
				t.Fatalf("the waking event %s is stored %d times, want once", acc.EventID, stored)
			}
			d := enginetest.WaitRun(t, e, a.RunIDs[0], 10*time.Second)
			if d.Run.Status != store.RunSucceeded || enginetest.Step(d, "w").Port != "received" {
				t.Fatalf("run %s, port %s: %s", d.Run.Status, enginetest.Step(d, "w").Port, d.Run.Error)
			}
			if msg := enginetest.Output(t, enginetest.Step(d, "paid"))["message"]; msg != "paid 99.5" {
				t.Errorf("paid step logged %v", msg)
			}
			if enginetest.Step(d, "late") != nil {
				t.Error("the timeout branch ran too")
			}
			// A second matching payment finds no one waiting.
			if acc, _ := e.AcceptEvent(ctx, "payment.succeeded", map[string]any{"metadata": map[string]any{"order_id": "SO-1"}}, ""); len(acc.ResumedRunIDs) != 0 {
				t.Errorf("woke %v again", acc.ResumedRunIDs)
			}
			var left int64
			e.Store.DB.Model(&store.Wait{}).Where("run_id = ?", a.RunIDs[0]).Count(&left)
			if left != 0 {
				t.Errorf("%d wait rows left for a finished run", left)
			}
		})
	}
}

func TestWaitForEventTimesOut(t *testing.T) {
	e := enginetest.New(t, enginetest.Embedded)
	enginetest.Publish(t, e, enginetest.MustFlow(t, sprintf(waitFlow, "1s")))
	a, _ := e.AcceptEvent(context.Background(), "order.created", map[string]any{"order_id": "SO-1"}, "")
	d := enginetest.WaitRun(t, e, a.RunIDs[0], 10*time.Second)
	w := enginetest.Step(d, "w")
	if d.Run.Status != store.RunSucceeded || w.Port != "timeout" || enginetest.Step(d, "late") == nil {
		t.Fatalf("run %s port %s", d.Run.Status, w.Port)
	}
	if waited := enginetest.Output(t, w)["waited_s"].(float64); waited < 1 {
		t.Errorf("waited %vs, want at least the 1s timeout", waited)
	}
	// The payment arriving after the timeout wakes nothing.
	if acc, _ := e.AcceptEvent(context.Background(), "payment.succeeded", map[string]any{"metadata": map[string]any{"order_id": "SO-1"}}, ""); len(acc.ResumedRunIDs) != 0 {
		t.Errorf("a late payment woke %v", acc.ResumedRunIDs)
	}
}
