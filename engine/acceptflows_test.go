package engine_test

import (
	"context"
	"testing"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/store"
)

// An event starts the flows enabled and published when it is accepted, whoever changed them and
// however: on Postgres the API keeps those flows in memory and its one-statement insert checks
// they have not changed since (the flows' generation, bumped by a trigger), so a change made by
// another process, or by SQL, is never missed. Changes that do not decide what an event starts
// (a name, the rejected-deliveries counter) leave the generation alone, so they cost no re-read.
func TestAcceptSeesEveryFlowChange(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			e := enginetest.New(t, b)
			ctx := context.Background()
			wild := enginetest.Publish(t, e, enginetest.MustFlow(t, `{"name":"any payment","nodes":[
				{"id":"t","type":"trigger.event","config":{"event_type":"payment.*"}}],"edges":[]}`))
			starts := func(want int, when string) {
				t.Helper()
				acc, err := e.AcceptEvent(ctx, "payment.failed", map[string]any{"n": 1}, "")
				if err != nil {
					t.Fatalf("%s: %v", when, err)
				}
				if len(acc.RunIDs) != want {
					t.Fatalf("%s: %d runs, want %d", when, len(acc.RunIDs), want)
				}
				var runs int64
				e.Store.DB.Model(&store.Run{}).Where("event_id = ?", acc.EventID).Count(&runs)
				if runs != int64(want) {
					t.Fatalf("%s: %d runs stored, want %d", when, runs, want)
				}
			}
			gen := func() int64 {
				var n int64 = -1
				if e.Store.Postgres() {
					if err := e.Store.DB.Raw("SELECT n FROM flow_generation").Scan(&n).Error; err != nil {
						t.Fatal(err)
					}
				}
				return n
			}
			starts(1, "published")
			// Another process (here: SQL) disables and enables the flow; this one is not told.
			e.Store.DB.Exec("UPDATE flows SET enabled = false WHERE id = ?", wild)
			starts(0, "disabled elsewhere")
			e.Store.DB.Exec("UPDATE flows SET enabled = true WHERE id = ?", wild)
			starts(1, "enabled elsewhere")
			exact := enginetest.Publish(t, e, enginetest.MustFlow(t, `{"name":"failed","nodes":[
				{"id":"t","type":"trigger.event","config":{"event_type":"payment.failed"}}],"edges":[]}`))
			starts(2, "second flow published")
			before := gen()
			e.Store.DB.Exec("UPDATE flows SET name = 'renamed', rejected_deliveries = rejected_deliveries + 1 WHERE id = ?", exact)
			if after := gen(); after != before {
				t.Errorf("a rename moved the generation from %d to %d", before, after)
			}
			starts(2, "renamed")
			if _, err := e.SetEnabled(ctx, exact, false); err != nil {
				t.Fatal(err)
			}
			if e.Store.Postgres() && gen() == before {
				t.Error("disabling a flow left the generation alone")
			}
			starts(1, "disabled here")
			if err := e.DeleteFlow(ctx, wild); err != nil {
				t.Fatal(err)
			}
			starts(0, "deleted")
			e.Store.DB.Exec("DELETE FROM flows")
			starts(0, "all gone")
			var got *engine.Accepted
			if got, _ = e.AcceptEvent(ctx, "payment.failed", map[string]any{}, "k1"); got == nil || got.Duplicate {
				t.Fatalf("first with a key: %+v", got)
			}
			if again, err := e.AcceptEvent(ctx, "payment.failed", map[string]any{}, "k1"); err != nil || !again.Duplicate || again.EventID != got.EventID {
				t.Fatalf("repeat with a key: %+v %v", again, err)
			}
		})
	}
}
