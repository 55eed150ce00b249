package engine_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/store"
)

// A card number in an event's type or idempotency key is stored masked, like event data; keys
// that differ only in masked digits stay different events, and a repeat is still a repeat. Keys
// Postgres could not store (invalid UTF-8, NUL, too long) are accepted too.
func TestEventKeysMaskedAndStorable(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			e := enginetest.New(t, b)
			ctx := context.Background()
			const card, sameEnds = "4242424242424242", "4242420000004242" // same first six and last four
			first, err := e.AcceptEvent(ctx, "pay."+card, map[string]any{}, "pay-"+card)
			if err != nil {
				t.Fatal(err)
			}
			again, err := e.AcceptEvent(ctx, "pay."+card, map[string]any{}, "pay-"+card)
			if err != nil || !again.Duplicate || again.EventID != first.EventID {
				t.Errorf("repeat: %+v %v", again, err)
			}
			other, err := e.AcceptEvent(ctx, "pay."+card, map[string]any{}, "pay-"+sameEnds)
			if err != nil || other.Duplicate {
				t.Errorf("another card with the same ends: %+v %v", other, err)
			}
			var evs []store.Event
			if err := e.Store.DB.Find(&evs).Error; err != nil {
				t.Fatal(err)
			}
			for _, ev := range evs {
				if strings.Contains(ev.Type, card) || ev.IdempotencyKey == nil || strings.Contains(*ev.IdempotencyKey, card) || strings.Contains(*ev.IdempotencyKey, sameEnds) {
					t.Errorf("unmasked card: type %q key %v", ev.Type, *ev.IdempotencyKey)
				}
				if !strings.Contains(ev.Type, "424242******4242") {
					t.Errorf("type %q is not masked like event data", ev.Type)
				}
			}
			for _, key := range []string{"M\xfcller", "a\x00b", strings.Repeat("k", 400)} {
				acc, err := e.AcceptEvent(ctx, "x", map[string]any{}, key)
				if err != nil {
					t.Errorf("key %.20q: %v", key, err)
					continue
				}
				if again, err := e.AcceptEvent(ctx, "x", map[string]any{}, key); err != nil || again.EventID != acc.EventID {
					t.Errorf("key %.20q repeated: %+v %v", key, again, err)
				}
			}
		})
	}
}

// Requests racing with the same idempotency key make one event and one run: every answer names
// them, and all but one are duplicates (on Postgres nothing is read before the insert, so the race
// is settled by the unique index: the losers' inserts write nothing).
func TestSameKeyConcurrently(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			e := enginetest.New(t, b)
			enginetest.Publish(t, e, enginetest.MustFlow(t, `{"name":"p","nodes":[
				{"id":"t","type":"trigger.event","config":{"event_type":"payment.failed"}},
				{"id":"c","type":"logic.condition","config":{"expression":"event.data.amount > 100"}}],
				"edges":[{"from":"t","to":"c"}]}`))
			const n = 20
			got := make([]*engine.Accepted, n)
			var wg sync.WaitGroup
			for i := range got {
				wg.Add(1)
				go func() {
					defer wg.Done()
					acc, err := e.AcceptEvent(context.Background(), "payment.failed", map[string]any{"amount": 250.0}, "same-key")
					if err != nil {
						t.Error(err)
					}
					got[i] = acc
				}()
			}
			wg.Wait()
			if t.Failed() {
				return
			}
			fresh := 0
			for _, acc := range got {
				if !acc.Duplicate {
					fresh++
				}
				if acc.EventID != got[0].EventID || len(acc.RunIDs) != 1 || acc.RunIDs[0] != got[0].RunIDs[0] {
					t.Fatalf("answers differ: %+v and %+v", acc, got[0])
				}
			}
			var events, runs int64
			e.Store.DB.Model(&store.Event{}).Count(&events)
			e.Store.DB.Model(&store.Run{}).Count(&runs)
			if fresh != 1 || events != 1 || runs != 1 {
				t.Fatalf("%d fresh answers, %d events, %d runs; want 1 each", fresh, events, runs)
			}
		})
	}
}
