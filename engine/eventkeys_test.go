package engine_test

import (
	"context"
	"strings"
	"testing"

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
