package engine

import (
	"strings"
	"unicode/utf8"

	"github.com/opsflow/opsflow/engine/mask"
	"github.com/opsflow/opsflow/engine/store"
)

// maxKeyText is how much of an idempotency key is kept readable when it has to be digested.
const maxKeyText = 200

// cleanEventKeys makes an event's type and idempotency key safe to store on every backend: card
// numbers masked like event data, NUL bytes and invalid UTF-8 (which Postgres refuses) removed.
// A key that had to change, or is too long for its column, becomes its cleaned text plus a keyed
// digest of the original: masking keeps only the first six and last four digits, and two
// different cards must never make two different events look like one.
func (e *Engine) cleanEventKeys(ev *store.Event) {
	ev.Type = mask.String(cleanText(ev.Type))
	if ev.IdempotencyKey == nil {
		return
	}
	k := *ev.IdempotencyKey
	safe := mask.String(cleanText(k))
	if safe == k && len(k) <= maxKeyText {
		return
	}
	for len(safe) > maxKeyText || !utf8.ValidString(safe) {
		safe = safe[:min(len(safe), maxKeyText)-1]
	}
	safe += "#" + e.box.Digest([]byte(k))
	ev.IdempotencyKey = &safe
}

// cleanText drops NUL bytes and replaces invalid UTF-8.
func cleanText(s string) string {
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
}
