package engine

import (
	"testing"
	"time"
)

// Steps are ordered by their starts alone (they have no other order), so an execution hands out
// starts that are strictly increasing at the microsecond Postgres keeps, even for steps started
// within one microsecond, and after every step the run had before (another worker's clock may be
// ahead).
func TestStepStartsStrictlyIncrease(t *testing.T) {
	ahead := time.Now().UTC().Add(time.Second).Truncate(time.Microsecond)
	x := &execution{lastStart: ahead}
	prev := ahead
	for i := range 1000 {
		got := x.startTime()
		if !got.After(prev) || got.Truncate(time.Microsecond) != got {
			t.Fatalf("start %d: %s after %s", i, got.Format(time.RFC3339Nano), prev.Format(time.RFC3339Nano))
		}
		prev = got
	}
}
