package nodes_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/store"
)

func TestSubflow(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			e := enginetest.New(t, b)
			ctx := context.Background()
			enginetest.Publish(t, e, enginetest.MustFlow(t, `{"name":"Compute tax","nodes":[
				{"id":"t","type":"trigger.manual","config":{"sample":{"amount":1}}},
				{"id":"tax","type":"action.log","config":{"message":"{{ event.data.amount * 0.06 }}"}}],"edges":[{"from":"t","to":"tax"}]}`))
			enginetest.Publish(t, e, enginetest.MustFlow(t, `{"name":"Order","nodes":[
				{"id":"t","type":"trigger.event","config":{"event_type":"order.created","sample":{"amount":1}}},
				{"id":"sub","type":"logic.subflow","config":{"flow":"Compute tax","input":"{\"amount\": event.data.amount * 2}"}},
				{"id":"l","type":"action.log","config":{"message":"tax {{ nodes.sub.result.message }}"}}],
				"edges":[{"from":"t","to":"sub"},{"from":"sub","to":"l"}]}`))
			acc, err := e.AcceptEvent(ctx, "order.created", map[string]any{"amount": 50}, "")
			if err != nil {
				t.Fatal(err)
			}
			d := enginetest.WaitRun(t, e, acc.RunIDs[0], 10*time.Second)
			if d.Run.Status != store.RunSucceeded {
				t.Fatalf("parent %s: %s", d.Run.Status, d.Run.Error)
			}
			if msg := enginetest.Output(t, enginetest.Step(d, "l"))["message"]; msg != "tax 6" {
				t.Errorf("parent logged %v, want tax 6", msg)
			}
			child := enginetest.Output(t, enginetest.Step(d, "sub"))["run_id"].(string)
			if cd := enginetest.WaitRun(t, e, child, time.Second); cd.Event.Source != "subflow" {
				t.Errorf("child run's event source %s", cd.Event.Source)
			}
		})
	}
}

// A flow that calls itself stops at the depth limit with a clear error.
func TestSubflowRecursionStops(t *testing.T) {
	e := enginetest.New(t, enginetest.Embedded)
	enginetest.Publish(t, e, enginetest.MustFlow(t, `{"name":"Loop","nodes":[
		{"id":"t","type":"trigger.manual"},
		{"id":"sub","type":"logic.subflow","config":{"flow":"Loop"}}],"edges":[{"from":"t","to":"sub"}]}`))
	var f store.Flow
	e.Store.DB.Where("name = ?", "Loop").Take(&f)
	acc, err := e.RunManual(context.Background(), f.ID, 0, map[string]any{}, false)
	if err != nil {
		t.Fatal(err)
	}
	d := enginetest.WaitRun(t, e, acc.RunIDs[0], 20*time.Second)
	if d.Run.Status != store.RunFailed || !strings.Contains(d.Run.Error, "deeper than 5") {
		t.Fatalf("run %s: %q", d.Run.Status, d.Run.Error)
	}
}
