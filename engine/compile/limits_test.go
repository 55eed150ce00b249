package compile_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine/compile"
)

// limitsFlow has a node x of some type after a trigger whose events have data.s and data.amount.
const limitsFlow = `{"name":"limits","nodes":[
	{"id":"t","type":"trigger.event","config":{"event_type":"p","sample":{"s":"text","amount":1}}},
	{"id":"x","type":"%s","config":{%s}}],
	"edges":[{"from":"t","to":"x"}]}`

// compileField compiles one config field of a node of type typ and returns the node; a
// logic.foreach gets the other required field too.
func compileField(t *testing.T, typ, field, src string) *compile.Node {
	t.Helper()
	cfg := map[string]any{field: src}
	if typ == "logic.foreach" {
		for k, v := range map[string]any{"items": "[1]", "map": "item"} {
			if _, ok := cfg[k]; !ok {
				cfg[k] = v
			}
		}
	}
	v, _ := json.Marshal(cfg)
	cf, problems := compile.Compile(parse(t, fmt.Sprintf(limitsFlow, typ, strings.Trim(string(v), "{}"))), nil)
	if problems != nil {
		t.Fatal(problems)
	}
	return cf.Node("x")
}

func limitsEnv(s string) map[string]any {
	return map[string]any{"event": map[string]any{"data": map[string]any{"s": s, "amount": 5.0}}, "nodes": map[string]any{}}
}

// withLimits sets the process-wide expression limits for one test.
func withLimits(t *testing.T, timeout time.Duration, budget uint) {
	compile.SetExprLimits(timeout, budget)
	t.Cleanup(func() { compile.SetExprLimits(0, 0) })
}

// The 49-character condition from issue #9 ran 40–75 s; it now stops at the deadline, in the
// evaluating goroutine (nothing is left running).
func TestExprDeadline(t *testing.T) {
	withLimits(t, 50*time.Millisecond, 0)
	n := compileField(t, "logic.condition", "expression", `let x = 1..40000; count(x, any(x, # == -1)) >= 0`)
	_, err := n.Config(limitsEnv(""))
	if !errors.Is(err, compile.ErrExprTimeout) {
		t.Fatalf("want ErrExprTimeout, got %v", err)
	}
	if !strings.Contains(err.Error(), "config.expression") || !strings.Contains(err.Error(), "stopped after 50ms") {
		t.Errorf("the error should name the field and the limit: %v", err)
	}
	// Per-item fields evaluated by the node itself (logic.foreach's map) are bounded too, and so
	// are templates.
	n = compileField(t, "logic.foreach", "map", `reduce(1..40000, #acc + count(1..40000, # == index), 0)`)
	if _, err := n.EvalFieldCtx(context.Background(), "map", map[string]any{"item": 1.0, "index": 2.0}); !errors.Is(err, compile.ErrExprTimeout) {
		t.Errorf("foreach map: want ErrExprTimeout, got %v", err)
	}
	n = compileField(t, "action.log", "message", `n = {{ count(1..40000, none(1..40000, # == 0)) }}`)
	if _, err := n.Config(limitsEnv("")); !errors.Is(err, compile.ErrExprTimeout) {
		t.Errorf("template: want ErrExprTimeout, got %v", err)
	}
}

// cancelledLate is a context whose Done channel is closed but whose Err reports the cancellation
// only from its second call on: the evaluation passes its check at the start and must be
// stopped by the check inside the loop.
type cancelledLate struct {
	context.Context
	calls atomic.Int32
	done  chan struct{}
}

func (c *cancelledLate) Done() <-chan struct{} { return c.done }
func (c *cancelledLate) Err() error {
	if c.calls.Add(1) == 1 {
		return nil
	}
	return context.Canceled
}

// Cancelling the step's context stops a running evaluation (here the deadline is an hour away).
func TestExprCancelStopsLoop(t *testing.T) {
	withLimits(t, time.Hour, 0)
	n := compileField(t, "logic.condition", "expression", `let x = 1..40000; count(x, any(x, # == -1)) >= 0`)
	ctx := &cancelledLate{Context: context.Background(), done: make(chan struct{})}
	close(ctx.done)
	_, err := n.ConfigCtx(ctx, limitsEnv(""))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	if ctx.calls.Load() < 2 {
		t.Errorf("the loop's check was not reached (Err called %d times)", ctx.calls.Load())
	}
	// A context cancelled before the evaluation starts stops it at once.
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := n.ConfigCtx(cancelled, limitsEnv("")); !errors.Is(err, context.Canceled) {
		t.Errorf("want context.Canceled, got %v", err)
	}
}

// allocated runs f and returns the bytes it allocated.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// The 108-character condition from issue #9 reached 300 MB by concatenating repeat("x",999999);
// concatenation now counts against the budget, before it allocates.
func TestExprMemoryBudgetCountsConcatenation(t *testing.T) {
	withLimits(t, time.Hour, 0)
	src := `let s = repeat("x", 999999); len(s + s + s + s + s + s + s + s + s + s + s + s + s + s + s + s + s + s) >= 0`
	if len(src) != 108 {
		t.Fatalf("the example is %d characters", len(src))
	}
	n := compileField(t, "logic.condition", "expression", src)
	var err error
	bytes := allocated(func() { _, err = n.Config(limitsEnv("")) })
	if !errors.Is(err, compile.ErrExprMemory) {
		t.Fatalf("want ErrExprMemory, got %v", err)
	}
	if !strings.Contains(err.Error(), "memory budget exceeded") {
		t.Errorf("unclear error: %v", err)
	}
	if bytes > 8<<20 {
		t.Errorf("allocated %d bytes before failing", bytes)
	}
}

// Every other way of building a large value fails the same way, with bounded memory.
func TestExprMemoryBudgetBuilders(t *testing.T) {
	withLimits(t, time.Hour, 0)         // only the budget may stop these, however loaded the machine
	big := strings.Repeat("y", 100_000) // from the event: data a flow legitimately sees
	for _, src := range []string{
		`reduce(1..40, #acc + #acc, "x")`,                                                 // doubling in a loop
		`len(repeat(repeat("x", 999999), 999999))`,                                        // 10^12 bytes in one call
		`len(replace(repeat("x", 900000), "x", "yyyyyyyyyy"))`,                            // growth by replacement
		`len(join(map(1..1000, event.data.s), ","))`,                                      // one string joined many times
		`len(toJSON(map(1..1000, event.data.s)))`,                                         // the same, as JSON
		`len(string(map(1..1000, event.data.s)))`,                                         // the same, as text
		`len(upper(event.data.s + event.data.s)) + len(map(1..200, upper(event.data.s)))`, // string functions in a loop
		`len(split(repeat(",", 999000), ","))`,                                            // a list built from a string
	} {
		n := compileField(t, "action.log", "message", "{{ "+src+" }}")
		var err error
		bytes := allocated(func() { _, err = n.Config(limitsEnv(big)) })
		if !errors.Is(err, compile.ErrExprMemory) && !strings.Contains(fmt.Sprint(err), "memory budget exceeded") {
			t.Errorf("%s: want a memory budget error, got %v", src, err)
		}
		if bytes > 64<<20 {
			t.Errorf("%s: allocated %d MB before failing", src, bytes>>20)
		}
	}
}

// A result that holds a large value many times, and a template of many parts, count in full:
// they become that much text.
func TestExprMemoryBudgetResults(t *testing.T) {
	big := strings.Repeat("y", 100_000)
	n := compileField(t, "logic.foreach", "items", `map(1..100, event.data.s)`)
	if _, err := n.Config(limitsEnv(big)); !errors.Is(err, compile.ErrExprMemory) {
		t.Errorf("list result: want ErrExprMemory, got %v", err)
	}
	n = compileField(t, "action.log", "message", strings.Repeat("{{ event.data.s }}", 20))
	if _, err := n.Config(limitsEnv(big)); !errors.Is(err, compile.ErrExprMemory) {
		t.Errorf("template: want ErrExprMemory, got %v", err)
	}
	// What is built and what is returned count separately: a result may use the whole budget.
	n = compileField(t, "action.log", "message", `{{ repeat("x", 900000) }}`)
	if cfg, err := n.Config(limitsEnv("")); err != nil || len(cfg["message"].(string)) != 900000 {
		t.Errorf("a 900,000-byte result: %v", err)
	}
	n = compileField(t, "action.log", "message", strings.Repeat("{{ event.data.s }}", 20))
	// Under the budget all of it works, and the budget is configurable.
	withLimits(t, 0, 10_000_000)
	cfg, err := n.Config(limitsEnv(big))
	if err != nil || len(cfg["message"].(string)) != 20*len(big) {
		t.Errorf("with a larger budget: %v", err)
	}
}

// Patching leaves what expressions mean and how they are type-checked unchanged.
func TestExprLimitsKeepMeaning(t *testing.T) {
	for src, want := range map[string]string{
		`{{ "a" + "b" }}`:                                          "ab",
		`{{ event.data.s + "!" }}`:                                 "hi!",
		`{{ event.data.amount + 1 }}`:                              "6",
		`{{ len(event.data.s + event.data.s) }}`:                   "4",
		`{{ upper(event.data.s) + lower("X") }}`:                   "HIx",
		`{{ join(map(1..3, string(#)), "-") }}`:                    "1-2-3",
		`{{ count(1..10, # > 5) }} {{ filter(1..4, # % 2 == 0) }}`: "5 [2,4]",
		`{{ reduce(1..4, #acc + "x", "") }}`:                       "xxxx",
		`{{ replace("aXa", "a", "bb") }} {{ repeat("ab", 2) }}`:    "bbXbb abab",
		`{{ toJSON({"k": 1}) }} {{ keys({"k": 1}) }}`:              "{\n  \"k\": 1\n} [\"k\"]",
		`{{ split("a,b", ",") }} {{ toBase64("hi") }}`:             `["a","b"] aGk=`,
		`{{ let s = "q"; s + s }}`:                                 "qq",
	} {
		n := compileField(t, "action.log", "message", src)
		cfg, err := n.Config(limitsEnv("hi"))
		if err != nil || cfg["message"] != want {
			t.Errorf("%s = %q, %v; want %q", src, cfg["message"], err, want)
		}
	}
	// Types are still checked at save time: a string concatenation is not a number.
	_, problems := compile.Compile(parse(t, fmt.Sprintf(limitsFlow, "logic.condition", `"expression":"\"a\" + \"b\" > 1"`)), nil)
	if problems == nil {
		t.Error(`"a" + "b" > 1 should not type-check`)
	}
	_, problems = compile.Compile(parse(t, fmt.Sprintf(limitsFlow, "logic.condition", `"expression":"len(upper(\"a\") + \"b\") > 1"`)), nil)
	if problems != nil {
		t.Errorf("a typed string concatenation: %v", problems)
	}
	// Errors still point into the expression as written.
	n := compileField(t, "logic.condition", "expression", `all(1..3, # > 0) && int(event.data.s) > 0`)
	if _, err := n.Config(limitsEnv("hi")); err == nil || !strings.Contains(err.Error(), "invalid operation: int(hi) (1:21)") {
		t.Errorf("want expr's own error with its position, got %v", err)
	}
}

// A field that must give a list gives an []any whatever list type the expression produced, so
// nodes accept at run time what the save-time check accepted.
func TestListFieldsGiveAnyList(t *testing.T) {
	for src, want := range map[string]int{`1..3`: 3, `keys({"a": 1, "b": 2})`: 2, `split("a,b", ",")`: 2, `[1, "x"]`: 2, `map(1..4, # * 2)`: 4} {
		n := compileField(t, "logic.foreach", "items", src)
		cfg, err := n.Config(limitsEnv(""))
		if l, ok := cfg["items"].([]any); err != nil || !ok || len(l) != want {
			t.Errorf("%s gave %T %v, %v", src, cfg["items"], cfg["items"], err)
		}
	}
}
