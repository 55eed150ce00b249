package engine

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCapJSON(t *testing.T) {
	small := `{"a":1}`
	if got := capJSON(small, 100); got != small {
		t.Errorf("a document under the limit changed: %s", got)
	}
	// Multi-byte characters everywhere, so the cut must move to a character boundary.
	big := toJSON(map[string]any{"items": strings.Split(strings.Repeat("货币€,", 20000), ",")})
	for _, limit := range []int{0, 10, 1000, 100_000} {
		got := capJSON(big, limit)
		var m struct {
			Truncated bool   `json:"_truncated"`
			Size      int    `json:"size"`
			Preview   string `json:"preview"`
		}
		if err := json.Unmarshal([]byte(got), &m); err != nil {
			t.Fatalf("limit %d: not JSON: %v", limit, err)
		}
		if !m.Truncated || m.Size != len(big) || !strings.HasPrefix(big, m.Preview) || !utf8.ValidString(m.Preview) {
			t.Errorf("limit %d: marker %+v", limit, m)
		}
		if limit >= 1000 && (len(got) > limit || len(m.Preview) == 0) {
			t.Errorf("limit %d: the marker is %d bytes, preview %d", limit, len(got), len(m.Preview))
		}
	}
}

// What downstream nodes see is what was stored.
func TestCapOutput(t *testing.T) {
	out := map[string]any{"n": 1.0}
	stored, seen := capOutput(out, 100)
	if stored != `{"n":1}` || seen.(map[string]any)["n"] != 1.0 {
		t.Errorf("small output: %s %v", stored, seen)
	}
	out = map[string]any{"text": strings.Repeat("x", 5000)}
	stored, seen = capOutput(out, 1000)
	m, _ := seen.(map[string]any)
	if len(stored) > 1000 || m["_truncated"] != true || m["size"] != 5011.0 || toJSON(seen) != stored {
		t.Errorf("large output: stored %s, seen %v", stored, seen)
	}
}
