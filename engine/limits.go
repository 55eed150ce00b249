package engine

import (
	"encoding/json"
	"unicode/utf8"
)

// DefaultStepOutputLimit is Config.StepOutputLimit's default: 256 KiB of JSON.
const DefaultStepOutputLimit = 256 << 10

// previewLen bounds the start of a truncated value kept in its marker.
const previewLen = 1024

// capJSON returns s, a JSON document, if it is at most limit bytes long; otherwise a marker that
// is valid JSON, says that the value was truncated and how large it was, and shows its start:
//
//	{"_truncated": true, "size": 104857600, "preview": "{\"items\":[{\"id\":..."}
func capJSON(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	n := min(previewLen, limit/8)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n-- // cut between characters, so the preview stays valid text
	}
	b, _ := json.Marshal(map[string]any{"_truncated": true, "size": len(s), "preview": s[:n]})
	return string(b)
}

// capOutput is what a step stores as its output and what downstream nodes see: the same value,
// so a run reads alike whether it continues at once or resumes from the database. An output
// over limit becomes capJSON's marker; expressions downstream see {_truncated, size, preview}.
func capOutput(out any, limit int) (stored string, seen any) {
	s := toJSON(out)
	if len(s) <= limit {
		return s, out
	}
	stored = capJSON(s, limit)
	return stored, fromJSON(stored)
}
