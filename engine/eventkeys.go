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

// cleanData makes every string of event data storable and comparable on Postgres (a waiting run
// is matched by a data value): NUL bytes are dropped, and a string that is not UTF-8 is read as
// Latin-1 (forms like name=M%FCller from older systems), where every byte is a character. The
// raw body of a webhook keeps the original bytes.
func cleanData(v any) any {
	switch x := v.(type) {
	case string:
		return cleanString(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[cleanString(k)] = cleanData(val)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = cleanData(val)
		}
		return out
	}
	return v
}

func cleanString(s string) string {
	if !utf8.ValidString(s) {
		r := make([]rune, len(s))
		for i := 0; i < len(s); i++ {
			r[i] = rune(s[i]) // Latin-1: byte n is code point n
		}
		s = string(r)
	}
	return strings.ReplaceAll(s, "\x00", "")
}
