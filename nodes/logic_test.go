package nodes_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine/compile"
	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/store"
)

// runOnce publishes doc (a flow with a trigger.manual named t), runs it with data and returns the run.
func runOnce(t *testing.T, doc string, data map[string]any) *enginetestRun {
	t.Helper()
	e := enginetest.New(t, enginetest.Embedded)
	info, err := e.CreateFlow(context.Background(), enginetest.MustFlow(t, doc))
	if err != nil {
		t.Fatal(err)
	}
	acc, err := e.RunManual(context.Background(), info.Flow.ID, 0, data, false)
	if err != nil {
		t.Fatal(err)
	}
	d := enginetest.WaitRun(t, e, acc.RunIDs[0], 15*time.Second)
	return &enginetestRun{status: d.Run.Status, err: d.Run.Error, out: func(id string) map[string]any {
		s := enginetest.Step(d, id)
		if s == nil {
			return nil
		}
		return enginetest.Output(t, s)
	}, port: func(id string) string {
		if s := enginetest.Step(d, id); s != nil {
			return s.Port
		}
		return ""
	}}
}

type enginetestRun struct {
	status string
	err    string
	out    func(id string) map[string]any
	port   func(id string) string
}

func TestSwitchTakesFirstTrueCase(t *testing.T) {
	doc := `{"name":"sw","nodes":[{"id":"t","type":"trigger.manual","config":{"sample":{"amount":1,"currency":"x"}}},
		{"id":"s","type":"logic.switch","config":{"case_1":"event.data.amount > 1000","case_2":"event.data.currency == \"CNY\"","case_3":"event.data.amount > 10"}},
		{"id":"big","type":"action.log","config":{"message":"big"}},
		{"id":"cny","type":"action.log","config":{"message":"cny"}},
		{"id":"other","type":"action.log","config":{"message":"other"}}],
		"edges":[{"from":"t","to":"s"},{"from":"s","to":"big","port":"case_1"},{"from":"s","to":"cny","port":"case_2"},{"from":"s","to":"cny","port":"case_3"},{"from":"s","to":"other","port":"default"}]}`
	for _, c := range []struct {
		amount   float64
		currency string
		port     string
		ran      string
	}{{5000, "CNY", "case_1", "big"}, {50, "CNY", "case_2", "cny"}, {50, "USD", "case_3", "cny"}, {5, "USD", "default", "other"}} {
		r := runOnce(t, doc, map[string]any{"amount": c.amount, "currency": c.currency})
		if r.status != store.RunSucceeded || r.port("s") != c.port || r.out(c.ran) == nil {
			t.Errorf("%v %s: status %s port %s, want %s running %s (%s)", c.amount, c.currency, r.status, r.port("s"), c.port, c.ran, r.err)
		}
	}
}

func TestSetAndStop(t *testing.T) {
	r := runOnce(t, `{"name":"set","nodes":[{"id":"t","type":"trigger.manual","config":{"sample":{"amount":1}}},
		{"id":"calc","type":"logic.set","config":{"value":"{\"total\": event.data.amount * 1.5, \"vip\": event.data.amount > 100}"}},
		{"id":"done","type":"logic.stop","config":{"message":"total {{ nodes.calc.total }}"}},
		{"id":"never","type":"action.log","config":{"message":"after stop"}}],
		"edges":[{"from":"t","to":"calc"},{"from":"calc","to":"done"},{"from":"done","to":"never"}]}`, map[string]any{"amount": 200})
	if r.status != store.RunSucceeded || r.out("calc")["vip"] != true || r.out("done")["message"] != "total 300" || r.out("never") != nil {
		t.Fatalf("status %s: calc %v done %v never %v", r.status, r.out("calc"), r.out("done"), r.out("never"))
	}
	r = runOnce(t, `{"name":"stop","nodes":[{"id":"t","type":"trigger.manual","config":{"sample":{"id":"x"}}},
		{"id":"halt","type":"logic.stop","config":{"outcome":"error","message":"order {{ event.data.id }} is on hold"}}],
		"edges":[{"from":"t","to":"halt"}]}`, map[string]any{"id": "SO-9"})
	if r.status != store.RunFailed || !strings.Contains(r.err, "order SO-9 is on hold") {
		t.Fatalf("stop with error: %s %q", r.status, r.err)
	}
}

func TestMergeWaitsForBranches(t *testing.T) {
	r := runOnce(t, `{"name":"merge","nodes":[{"id":"t","type":"trigger.manual","config":{"sample":{"vip":true}}},
		{"id":"c","type":"logic.condition","config":{"expression":"event.data.vip"}},
		{"id":"a","type":"action.log","config":{"message":"a"}},
		{"id":"b","type":"action.log","config":{"message":"b"}},
		{"id":"n","type":"action.log","config":{"message":"not vip"}},
		{"id":"m","type":"logic.merge"}],
		"edges":[{"from":"t","to":"c"},{"from":"c","to":"a","port":"true"},{"from":"c","to":"n","port":"false"},{"from":"t","to":"b"},
		         {"from":"a","to":"m"},{"from":"b","to":"m"},{"from":"n","to":"m"}]}`, map[string]any{"vip": true})
	got := r.out("m")
	if r.status != store.RunSucceeded || len(got["branches"].([]any)) != 2 || got["outputs"].(map[string]any)["a"] == nil || got["outputs"].(map[string]any)["n"] != nil {
		t.Fatalf("merge: %s %v", r.status, got)
	}
}

func TestForeach(t *testing.T) {
	r := runOnce(t, `{"name":"each","nodes":[{"id":"t","type":"trigger.manual","config":{"sample":{"orders":[{"id":"a","amount":1,"paid":1}]}}},
		{"id":"due","type":"logic.foreach","config":{"items":"event.data.orders","filter":"item.amount > item.paid","map":"{\"id\": item.id, \"due\": item.amount - item.paid, \"pos\": index}","concurrency":3}},
		{"id":"l","type":"action.log","config":{"message":"{{ nodes.due.count }} due"}}],
		"edges":[{"from":"t","to":"due"},{"from":"due","to":"l"}]}`,
		map[string]any{"orders": []any{
			map[string]any{"id": "SO-1", "amount": 100, "paid": 100},
			map[string]any{"id": "SO-2", "amount": 80, "paid": 30},
			map[string]any{"id": "SO-3", "amount": 10, "paid": 0},
		}})
	if r.status != store.RunSucceeded {
		t.Fatal(r.err)
	}
	items := r.out("due")["items"].([]any)
	if len(items) != 2 || items[0].(map[string]any)["id"] != "SO-2" || items[0].(map[string]any)["due"] != 50.0 || items[1].(map[string]any)["pos"] != 2.0 {
		t.Errorf("items %v", items)
	}
	if r.out("l")["message"] != "2 due" {
		t.Errorf("log %v", r.out("l"))
	}
	// item is known only inside the loop's own fields: anywhere else it is a save-time error.
	f := enginetest.MustFlow(t, `{"name":"bad","nodes":[{"id":"t","type":"trigger.manual"},{"id":"l","type":"action.log","config":{"message":"{{ item.id }}"}}],"edges":[{"from":"t","to":"l"}]}`)
	if _, problems := compile.Compile(f, nil); problems == nil || !strings.Contains(problems.Error(), "unknown name item") {
		t.Errorf("item outside foreach: %v", problems)
	}
}

// Any list an expression gives is a list at run time, as the save-time check said: a range is an
// []int, items of a map() an []any, keys() an []string.
func TestForeachOverAnyList(t *testing.T) {
	r := runOnce(t, `{"name":"range","nodes":[{"id":"t","type":"trigger.manual","config":{"sample":{"n":1}}},
		{"id":"r","type":"logic.foreach","config":{"items":"1..3","map":"item * 10"}},
		{"id":"k","type":"logic.foreach","config":{"items":"keys({\"a\": 1})","map":"item + \"!\""}}],
		"edges":[{"from":"t","to":"r"},{"from":"r","to":"k"}]}`, map[string]any{"n": 1})
	if r.status != store.RunSucceeded {
		t.Fatal(r.err)
	}
	if items := r.out("r")["items"].([]any); len(items) != 3 || items[2] != 30.0 {
		t.Errorf("range items %v", items)
	}
	if items := r.out("k")["items"].([]any); len(items) != 1 || items[0] != "a!" {
		t.Errorf("keys items %v", items)
	}
}

// A loop whose per-item expression runs too long (the default deadline is 1 s) fails the step
// with the deadline's error instead of holding the worker.
func TestForeachItemDeadline(t *testing.T) {
	r := runOnce(t, `{"name":"slow","nodes":[{"id":"t","type":"trigger.manual","config":{"sample":{"n":1}}},
		{"id":"r","type":"logic.foreach","config":{"items":"[1, 2]","map":"let x = 1..40000; count(x, any(x, # == -item))"}}],
		"edges":[{"from":"t","to":"r"}]}`, map[string]any{"n": 1})
	if r.status != store.RunFailed || !strings.Contains(r.err, "expression ran too long") {
		t.Fatalf("status %s, error %q", r.status, r.err)
	}
}

func TestDelaySurvivesAsScheduledWake(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			e := enginetest.New(t, b)
			info, err := e.CreateFlow(context.Background(), enginetest.MustFlow(t, `{"name":"delay","nodes":[{"id":"t","type":"trigger.manual"},
				{"id":"wait","type":"logic.delay","config":{"duration":"1s"}},{"id":"l","type":"action.log","config":{"message":"after"}}],
				"edges":[{"from":"t","to":"wait"},{"from":"wait","to":"l"}]}`))
			if err != nil {
				t.Fatal(err)
			}
			acc, err := e.RunManual(context.Background(), info.Flow.ID, 0, nil, false)
			if err != nil {
				t.Fatal(err)
			}
			waitForStatus(t, e.Store.DB, acc.RunIDs[0], store.RunWaiting)
			d := enginetest.WaitRun(t, e, acc.RunIDs[0], 10*time.Second)
			w := enginetest.Step(d, "wait")
			if d.Run.Status != store.RunSucceeded || enginetest.Step(d, "l") == nil || enginetest.Output(t, w)["waited_s"].(float64) < 1 {
				t.Fatalf("run %s, wait output %s", d.Run.Status, w.Output)
			}
		})
	}
}
