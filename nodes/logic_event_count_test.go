package nodes_test

import (
	"context"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/store"
)

func TestEventCount(t *testing.T) {
	e := enginetest.New(t, enginetest.Embedded)
	ctx := context.Background()
	enginetest.Publish(t, e, enginetest.MustFlow(t, `{"name":"count","nodes":[
		{"id":"t","type":"trigger.event","config":{"event_type":"payment.failed","sample":{"customer":"c"}}},
		{"id":"n","type":"logic.event_count","config":{"event_type":"payment.failed","match_field":"customer","match_value":"{{ event.data.customer }}","window":"1h"}},
		{"id":"all","type":"logic.event_count","config":{"event_type":"payment.failed"}}],
		"edges":[{"from":"t","to":"n"},{"from":"t","to":"all"}]}`))
	// An old failure outside the window does not count.
	old := store.Event{ID: store.NewID(), Type: "payment.failed", Source: "api", Data: `{"customer":"cus_1"}`, CreatedAt: time.Now().Add(-2 * time.Hour)}
	e.Store.DB.Create(&old)
	var last *store.Run
	for i, cust := range []string{"cus_1", "cus_2", "cus_1", "cus_1"} {
		acc, err := e.AcceptEvent(ctx, "payment.failed", map[string]any{"customer": cust}, "")
		if err != nil {
			t.Fatal(err)
		}
		d := enginetest.WaitRun(t, e, acc.RunIDs[0], 5*time.Second)
		last = &d.Run
		want := map[int]float64{0: 1, 1: 1, 2: 2, 3: 3}[i]
		if got := enginetest.Output(t, enginetest.Step(d, "n"))["count"]; got != want {
			t.Errorf("event %d (%s): count %v, want %v", i, cust, got, want)
		}
		if got := enginetest.Output(t, enginetest.Step(d, "all"))["count"]; got != float64(i+1) {
			t.Errorf("event %d: all-count %v, want %d", i, got, i+1)
		}
	}
	if last.Status != store.RunSucceeded {
		t.Error(last.Error)
	}
}
