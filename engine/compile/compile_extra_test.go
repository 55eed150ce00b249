package compile_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine/compile"
)

// find returns the problems at node with code.
func find(problems compile.Problems, nodeID, code string) []compile.Problem {
	var out []compile.Problem
	for _, p := range problems {
		if p.NodeID == nodeID && p.Code == code {
			out = append(out, p)
		}
	}
	return out
}

func TestUnreachableAndFieldPointers(t *testing.T) {
	_, problems := compile.Compile(parse(t, `{"name":"u","nodes":[
		{"id":"t","type":"trigger.manual"},
		{"id":"a","type":"action.log","config":{"message":"a"}},
		{"id":"lonely","type":"action.log","config":{"message":"x"}},
		{"id":"after_lonely","type":"action.log","config":{"message":"y"}}],
		"edges":[{"from":"t","to":"a"},{"from":"lonely","to":"after_lonely"}]}`), nil)
	for _, id := range []string{"lonely", "after_lonely"} {
		if len(find(problems, id, "unreachable")) != 1 {
			t.Errorf("%s: want one unreachable problem in %v", id, problems)
		}
	}
	if len(find(problems, "a", "unreachable")) != 0 || len(find(problems, "t", "unreachable")) != 0 {
		t.Errorf("reachable nodes reported: %v", problems)
	}
	if len(problems) != 2 {
		t.Errorf("want exactly 2 problems, got %v", problems)
	}
}

func TestEdgeProblemsNameTheEdge(t *testing.T) {
	_, problems := compile.Compile(parse(t, `{"name":"e","nodes":[
		{"id":"t","type":"trigger.manual"},
		{"id":"c","type":"logic.condition","config":{"expression":"true"}},
		{"id":"a","type":"action.log","config":{"message":"a"}}],
		"edges":[{"from":"t","to":"c"},{"from":"c","to":"a","port":"true"},{"from":"t","to":"c","port":"out"},{"from":"a","to":"a"},{"from":"c","to":"a","port":"nope"}]}`), nil)
	dup := find(problems, "t", "duplicate_edge")
	if len(dup) != 1 || dup[0].Field != "edges[2]" {
		t.Errorf("an edge without port and the same edge with port out are duplicates: %v", problems)
	}
	self := find(problems, "a", "cycle")
	if len(self) != 1 || self[0].Field != "edges[3]" {
		t.Errorf("self loop: %v", problems)
	}
	up := find(problems, "c", "unknown_port")
	if len(up) != 1 || up[0].Field != "edges[4]" || !strings.Contains(up[0].Message, "true, false") {
		t.Errorf("unknown port: %v", problems)
	}
}

func TestZeroTriggersAndEmptyFlow(t *testing.T) {
	_, problems := compile.Compile(parse(t, `{"name":"","nodes":[],"edges":[]}`), nil)
	if len(find(problems, "", "required")) != 2 {
		t.Errorf("empty name and no nodes: %v", problems)
	}
	_, problems = compile.Compile(parse(t, `{"schema":"opsflow/v2","name":"x","nodes":[{"id":"l","type":"action.log","config":{"message":"m"}}],"edges":[]}`), nil)
	if len(find(problems, "", "unsupported_schema")) != 1 || len(find(problems, "", "no_trigger")) != 1 {
		t.Errorf("schema and trigger: %v", problems)
	}
}

func TestInvalidIDs(t *testing.T) {
	for _, id := range []string{"", "9a", "a-b", "a.b", "ä", strings.Repeat("a", 65)} {
		doc := fmt.Sprintf(`{"name":"x","nodes":[{"id":"t","type":"trigger.manual"},{"id":%q,"type":"action.log","config":{"message":"m"}}],"edges":[]}`, id)
		_, problems := compile.Compile(parse(t, doc), nil)
		if p := find(problems, id, "invalid_id"); len(p) != 1 || p[0].Field != "id" {
			t.Errorf("id %q: %v", id, problems)
		}
	}
	for _, id := range []string{"_", "a", "A_1", strings.Repeat("a", 64)} {
		doc := fmt.Sprintf(`{"name":"x","nodes":[{"id":"t","type":"trigger.manual"},{"id":%q,"type":"action.log","config":{"message":"m"}}],"edges":[{"from":"t","to":%q}]}`, id, id)
		if _, problems := compile.Compile(parse(t, doc), nil); problems != nil {
			t.Errorf("id %q refused: %v", id, problems)
		}
	}
}

func TestIllTypedConfig(t *testing.T) {
	_, problems := compile.Compile(parse(t, `{"name":"cfg","nodes":[
		{"id":"t","type":"trigger.manual"},
		{"id":"l","type":"action.log","config":{"message":true,"level":5}},
		{"id":"h","type":"action.http","config":{"url":"https://x.test","headers":{"A":1},"timeout":"10m","retries":11,"method":"GET"}},
		{"id":"h2","type":"action.http","config":{"url":"https://x.test","headers":"A: 1","timeout":30,"retries":"3"}},
		{"id":"c","type":"logic.condition","config":{"expression":1}}],
		"edges":[{"from":"t","to":"l"},{"from":"t","to":"h"},{"from":"t","to":"h2"},{"from":"t","to":"c"}]}`), nil)
	for _, want := range []struct{ node, field, text string }{
		{"l", "config.message", "must be a string, not a boolean"},
		{"l", "config.level", "one of info, warn, error, not 5"},
		{"h", "config.headers", "Headers[A] must be a string, not a number"},
		{"h", "config.timeout", "at most 300"},
		{"h", "config.retries", "at most 10"},
		{"h2", "config.headers", "must be an object of strings, not a string"},
		{"h2", "config.timeout", "not a number"},
		{"h2", "config.retries", "must be a number, not a string"},
		{"c", "config.expression", "expression string, not a number"},
	} {
		found := false
		for _, p := range find(problems, want.node, "invalid_field") {
			if p.Field == want.field && strings.Contains(p.Message, want.text) {
				found = true
			}
		}
		if !found {
			t.Errorf("missing %+v in:\n%v", want, problems)
		}
	}
}

func TestProblemsError(t *testing.T) {
	p := compile.Problems{{NodeID: "a", Field: "config.x", Code: "c", Message: "m1"}, {Code: "c", Message: "m2"}, {NodeID: "b", Code: "c", Message: "m3"}}
	if got, want := p.Error(), "a.config.x: m1; m2; b: m3"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestTemplateMaxLen(t *testing.T) {
	doc := `{"name":"s","nodes":[{"id":"t","type":"trigger.manual"},
		{"id":"s","type":"action.sms","config":{"credential":"tw","to":"+14155550100","body":%q}}],
		"edges":[{"from":"t","to":"s"}]}`
	if _, problems := compile.Compile(parse(t, fmt.Sprintf(doc, strings.Repeat("x", 1600))), nil); problems != nil {
		t.Fatalf("a 1600-character SMS body is allowed: %v", problems)
	}
	_, problems := compile.Compile(parse(t, fmt.Sprintf(doc, strings.Repeat("x", 1601))), nil)
	if !has(problems, "s", "invalid_field", "config.body") || !has(problems, "s", "invalid_field", "at most 1600") {
		t.Errorf("the field's MaxLen must bound a template: %v", problems)
	}
	_, problems = compile.Compile(parse(t, fmt.Sprintf(typed, "action.log", `"message":"`+strings.Repeat("y", compile.MaxTemplateLen+1)+`"`)), nil)
	if !has(problems, "x", "invalid_field", fmt.Sprintf("at most %d", compile.MaxTemplateLen)) {
		t.Errorf("the engine default bounds other templates: %v", problems)
	}
}

func TestExpressionLimitsAreExact(t *testing.T) {
	// Exactly MaxExprLen characters is fine; one more is not.
	base := "event.data.amount >= 1"
	pad := compile.MaxExprLen - len(base)
	ok := strings.Repeat(" ", pad) + base
	if _, problems := compile.Compile(parse(t, fmt.Sprintf(typed, "logic.condition", `"expression":"`+ok+`"`)), nil); problems != nil {
		t.Errorf("a %d-character expression was refused: %v", len(ok), problems)
	}
	_, problems := compile.Compile(parse(t, fmt.Sprintf(typed, "logic.condition", `"expression":" `+ok+`"`)), nil)
	if p := find(problems, "x", "invalid_expression"); len(p) != 1 || !strings.Contains(p[0].Message, fmt.Sprintf("%d characters long; at most %d", compile.MaxExprLen+1, compile.MaxExprLen)) {
		t.Errorf("too long: %v", problems)
	}
	many := strings.Repeat("1+", compile.MaxExprNodes) + "1 > 0"
	if len(many) > compile.MaxExprLen {
		t.Fatal("test expression is over the length limit; it would not test the node limit")
	}
	_, problems = compile.Compile(parse(t, fmt.Sprintf(typed, "logic.condition", `"expression":"`+many+`"`)), nil)
	if p := find(problems, "x", "invalid_expression"); len(p) != 1 || p[0].Field != "config.expression" {
		t.Errorf("too many AST nodes: %v", problems)
	}
	few := strings.Repeat("1+", 50) + "1 > 0"
	if _, problems := compile.Compile(parse(t, fmt.Sprintf(typed, "logic.condition", `"expression":"`+few+`"`)), nil); problems != nil {
		t.Errorf("a 100-node expression was refused: %v", problems)
	}
}

func TestMaxNodesBoundary(t *testing.T) {
	build := func(n int) string {
		nodes := []string{`{"id":"t","type":"trigger.manual"}`}
		var edges []string
		for i := 1; i < n; i++ {
			nodes = append(nodes, fmt.Sprintf(`{"id":"n%d","type":"action.log","config":{"message":"x"}}`, i))
			edges = append(edges, fmt.Sprintf(`{"from":"t","to":"n%d"}`, i))
		}
		return `{"name":"big","nodes":[` + strings.Join(nodes, ",") + `],"edges":[` + strings.Join(edges, ",") + `]}`
	}
	if _, problems := compile.Compile(parse(t, build(compile.MaxNodes)), nil); problems != nil {
		t.Errorf("exactly MaxNodes nodes refused: %v", problems)
	}
	_, problems := compile.Compile(parse(t, build(compile.MaxNodes+1)), nil)
	if p := find(problems, "", "too_many"); len(p) != 1 || p[0].Field != "nodes" {
		t.Errorf("MaxNodes+1: %v", problems)
	}
}

func TestExpressionTypes(t *testing.T) {
	cases := []struct {
		cfg, code, text string
	}{
		{`"expression":"event.data.amout > 1"`, "invalid_expression", "amout"},
		{`"expression":"event.data.customer.name + 1 == \"x\""`, "invalid_expression", "mismatched types"},
		{`"expression":"event.data.customer.name"`, "invalid_expression", "expected bool"},
		{`"expression":"nodes.assign.assignee.phne == \"\""`, "invalid_expression", "phne"},
		{`"expression":"   "`, "invalid_expression", "empty"},
	}
	for _, c := range cases {
		_, problems := compile.Compile(parse(t, fmt.Sprintf(typed, "logic.condition", c.cfg)), nil)
		p := find(problems, "x", c.code)
		if len(p) != 1 || p[0].Field != "config.expression" || !strings.Contains(p[0].Message, c.text) {
			t.Errorf("%s: want %s %q, got %v", c.cfg, c.code, c.text, problems)
		}
	}
	// An upstream node's output works, nested fields too; the assign node's "rule" must be a string.
	_, problems := compile.Compile(parse(t, fmt.Sprintf(typed, "action.assign", `"team":"T","strategy":"rule","rule":"event.data.amount"`)), nil)
	if !has(problems, "x", "invalid_expression", "must give a string") {
		t.Errorf("a number for a string rule: %v", problems)
	}
	if _, problems := compile.Compile(parse(t, fmt.Sprintf(typed, "action.assign", `"team":"T","strategy":"rule","rule":"nodes.assign.assignee.phone"`)), nil); problems != nil {
		t.Errorf("nested upstream output: %v", problems)
	}
	// A node two hops up is upstream too; a sibling branch is not.
	_, problems = compile.Compile(parse(t, `{"name":"d","nodes":[
		{"id":"t","type":"trigger.manual"},
		{"id":"a","type":"action.log","config":{"message":"a"}},
		{"id":"b","type":"action.log","config":{"message":"{{ nodes.a.message }}"}},
		{"id":"c","type":"action.log","config":{"message":"{{ nodes.a.level }} {{ nodes.b.message }}"}},
		{"id":"s","type":"action.log","config":{"message":"{{ nodes.c.message }}"}}],
		"edges":[{"from":"t","to":"a"},{"from":"a","to":"b"},{"from":"b","to":"c"},{"from":"a","to":"s"}]}`), nil)
	if len(problems) != 1 || !has(problems, "s", "invalid_expression", "unknown field c") {
		t.Errorf("want only s's reference to c refused: %v", problems)
	}
}

func TestTemplates(t *testing.T) {
	for msg, want := range map[string]string{
		"{{ }}":                               "empty",
		"a {{ 1 + }} b":                       "unexpected token",
		"{{ event.data.amount":                "unclosed",
		"x }} {{ event.data.amount }} {{ 'y'": "unclosed",
	} {
		_, problems := compile.Compile(parse(t, fmt.Sprintf(typed, "action.log", fmt.Sprintf(`"message":%q`, msg))), nil)
		p := find(problems, "x", "invalid_expression")
		if len(p) != 1 || p[0].Field != "config.message" || !strings.Contains(p[0].Message, want) {
			t.Errorf("%q: want %q, got %v", msg, want, problems)
		}
	}
	cf, problems := compile.Compile(parse(t, fmt.Sprintf(typed, "action.log", `"message":"}} {{event.data.amount}}{{ event.data.amount * 2 }}-{{ event.data.customer }}-{{ event.data.items }}<{{ 'a' }}>","level":"warn"`)), nil)
	if problems != nil {
		t.Fatal(problems)
	}
	env := map[string]any{"event": map[string]any{"data": map[string]any{
		"amount": 10.25, "customer": map[string]any{"name": "<Li>"}, "items": []any{1.0, "b"},
	}}, "nodes": map[string]any{}}
	cfg, err := cf.Node("x").Config(env)
	if err != nil {
		t.Fatal(err)
	}
	if want := `}} 10.2520.5-{"name":"<Li>"}-[1,"b"]<a>`; cfg["message"] != want {
		t.Errorf("message = %q, want %q", cfg["message"], want)
	}
	if cfg["level"] != "warn" {
		t.Errorf("literal config: %v", cfg["level"])
	}
	// A plain string stays exactly as written.
	cf, problems = compile.Compile(parse(t, fmt.Sprintf(typed, "action.log", `"message":"  plain  "`)), nil)
	if problems != nil {
		t.Fatal(problems)
	}
	if cfg, err := cf.Node("x").Config(env); err != nil || cfg["message"] != "  plain  " || cfg["level"] != "info" {
		t.Errorf("plain: %v %v", cfg, err)
	}
}

func TestStringify(t *testing.T) {
	type pair struct {
		A int `json:"a"`
	}
	for _, c := range []struct {
		in   any
		want string
	}{
		{249.0, "249"}, {20.5, "20.5"}, {-3.0, "-3"}, {0.1, "0.1"}, {1e20, "100000000000000000000"},
		{nil, ""}, {"s", "s"}, {7, "7"}, {int64(8), "8"}, {false, "false"},
		{map[string]any{"b": 1.0, "a": "x<y"}, `{"a":"x<y","b":1}`},
		{[]any{1.5, nil, true}, `[1.5,null,true]`},
		{map[string]string{"k": "v"}, `{"k":"v"}`},
		{[]string{"a", "b"}, `["a","b"]`},
		{pair{A: 1}, `{"a":1}`},
		{time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), "2026-11-24T10:00:00Z"},
		{math.NaN(), "NaN"},
	} {
		if got := compile.Stringify(c.in); got != c.want {
			t.Errorf("Stringify(%#v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestRuntimeErrorIsReturned(t *testing.T) {
	cf, problems := compile.Compile(parse(t, fmt.Sprintf(typed, "logic.condition", `"expression":"event.data.items[3].sku == \"A\""`)), nil)
	if problems != nil {
		t.Fatal(problems)
	}
	env := map[string]any{"event": map[string]any{"data": map[string]any{"items": []any{map[string]any{"sku": "A"}}}}, "nodes": map[string]any{}}
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("Config panicked: %v", r)
			}
		}()
		_, err = cf.Node("x").Config(env)
	}()
	if err == nil || !strings.Contains(err.Error(), "config.expression") || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("want an index error naming the field, got %v", err)
	}
	v, err := cf.Node("x").EvalField("expression", map[string]any{"event": map[string]any{"data": map[string]any{"items": []any{1.0, 2.0, 3.0, map[string]any{"sku": "A"}}}}})
	if err != nil || v != true {
		t.Errorf("EvalField: %v %v", v, err)
	}
	if _, err := cf.Node("x").EvalField("nope", env); err == nil {
		t.Error("EvalField of an unset field")
	}
}

func TestOrderIsTopological(t *testing.T) {
	cf, problems := compile.Compile(parse(t, `{"name":"o","nodes":[
		{"id":"d","type":"action.log","config":{"message":"d"}},
		{"id":"c","type":"logic.condition","config":{"expression":"true"}},
		{"id":"b","type":"action.log","config":{"message":"b"}},
		{"id":"t","type":"trigger.manual"}],
		"edges":[{"from":"c","to":"d","port":"false"},{"from":"b","to":"d"},{"from":"t","to":"c"},{"from":"c","to":"b","port":"true"}]}`), nil)
	if problems != nil {
		t.Fatal(problems)
	}
	pos := map[string]int{}
	for i, n := range cf.Order {
		pos[n.Def.ID] = i
	}
	if len(pos) != 4 || cf.Trigger == nil || cf.Trigger.Def.ID != "t" || pos["t"] != 0 {
		t.Fatalf("order %v", pos)
	}
	for _, e := range cf.Def.Edges {
		if pos[e.From] >= pos[e.To] {
			t.Errorf("%s runs after %s", e.From, e.To)
		}
	}
	if d := cf.Node("d"); len(d.In) != 2 || len(cf.Node("c").Out) != 2 {
		t.Errorf("edges: in %v out %v", d.In, cf.Node("c").Out)
	}
}

func TestScopePathsDownstream(t *testing.T) {
	cf := compile.Scopes(parse(t, fmt.Sprintf(typed, "action.log", `"message":"x"`)))
	got := map[string]bool{}
	for _, p := range compile.ScopePaths(cf.Node("x")) {
		got[p] = true
	}
	for _, want := range []string{"event.data.amount", "event.data.customer.phone", "nodes.assign.assignee.phone"} {
		if !got[want] {
			t.Errorf("x lacks %s: %v", want, got)
		}
	}
	for p := range got {
		if strings.HasPrefix(p, ".") || strings.HasPrefix(p, "nodes.x") || strings.HasPrefix(p, "nodes.side") {
			t.Errorf("unexpected path %q", p)
		}
	}
	// The trigger sees the event but no node outputs.
	for _, p := range compile.ScopePaths(cf.Node("t")) {
		if strings.HasPrefix(p, "nodes.") {
			t.Errorf("trigger scope has %s", p)
		}
	}
	if p := compile.ScopePaths(&compile.Node{}); p == nil || len(p) != 0 {
		t.Errorf("a node without scope: %#v", p)
	}
}

func TestRefsReportsEveryKind(t *testing.T) {
	refs := fakeRefs{"Support": "", "tw": "twilio", "mail": "smtp"}
	doc := `{"name":"r","nodes":[{"id":"t","type":"trigger.manual"},
		{"id":"a","type":"action.assign","config":{"team":"Ghost"}},
		{"id":"s","type":"action.sms","config":{"credential":"missing","to":"+1","body":"hi"}},
		{"id":"s2","type":"action.sms","config":{"credential":"mail","to":"+1","body":"hi"}},
		{"id":"h","type":"action.http","config":{"url":"https://x.test","credential":"tw"}}],
		"edges":[{"from":"t","to":"a"},{"from":"t","to":"s"},{"from":"t","to":"s2"},{"from":"t","to":"h"}]}`
	_, problems := compile.Compile(parse(t, doc), refs)
	for _, want := range []struct{ node, text string }{
		{"a", `team "Ghost" does not exist`},
		{"s", `credential "missing" does not exist`},
		{"s2", "is of type smtp; SMS account needs one of twilio, aliyun_sms"},
		{"h", "is of type twilio"},
	} {
		if !has(problems, want.node, "invalid_field", want.text) {
			t.Errorf("missing %+v in %v", want, problems)
		}
	}
	// Without Refs nothing is looked up.
	if _, problems := compile.Compile(parse(t, doc), nil); problems != nil {
		t.Errorf("nil refs: %v", problems)
	}
}

func TestParseDurationMore(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"30s": 30 * time.Second, " 2h ": 2 * time.Hour, "1d": 24 * time.Hour, "1d12h": 36 * time.Hour,
		"0s": 0, "2d30m": 48*time.Hour + 30*time.Minute, "1h30m": 90 * time.Minute, "99999d": 99999 * 24 * time.Hour,
	} {
		if d, err := compile.ParseDuration(in); err != nil || d != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, d, err, want)
		}
	}
	for in, msg := range map[string]string{
		"":            "invalid duration",
		"30":          "invalid duration",
		"1.5d":        "invalid duration",
		"d":           "invalid duration",
		"1dd":         "invalid duration",
		"1d-12h":      "invalid duration",
		"+1d":         "invalid duration",
		"xd":          "invalid duration",
		"1d x":        "invalid duration",
		"9999999999d": "invalid duration",
		"106752d":     "invalid duration",
		"-5s":         "negative",
		"-1d":         "negative",
		" -1h":        "negative",
	} {
		d, err := compile.ParseDuration(in)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseDuration(%q) = %v, %v; want an error with %q", in, d, err, msg)
		} else if !strings.Contains(err.Error(), fmt.Sprintf("%q", in)) {
			t.Errorf("ParseDuration(%q): the error %q should quote the whole input", in, err)
		}
	}
}

func TestCycleNamesOnlyItsMembers(t *testing.T) {
	_, problems := compile.Compile(parse(t, `{"name":"c","nodes":[
		{"id":"t","type":"trigger.manual"},
		{"id":"a","type":"action.log","config":{"message":"a"}},
		{"id":"b","type":"action.log","config":{"message":"b"}},
		{"id":"c","type":"action.log","config":{"message":"c"}},
		{"id":"below","type":"action.log","config":{"message":"d"}}],
		"edges":[{"from":"t","to":"a"},{"from":"a","to":"b"},{"from":"b","to":"c"},{"from":"c","to":"a"},{"from":"b","to":"below"}]}`), nil)
	for _, id := range []string{"a", "b", "c"} {
		if p := find(problems, id, "cycle"); len(p) != 1 || !strings.Contains(p[0].Message, "(a, b, c)") {
			t.Errorf("%s: %v", id, problems)
		}
	}
	if p := find(problems, "below", "cycle"); len(p) != 0 {
		t.Errorf("a node below a cycle is not part of it: %v", p)
	}
	if len(find(problems, "below", "unreachable")) != 0 {
		t.Errorf("below is reachable: %v", problems)
	}
}

// An expression that type-checks but would allocate without bound fails at run time instead.
func TestRuntimeMemoryBudget(t *testing.T) {
	cf, problems := compile.Compile(parse(t, fmt.Sprintf(typed, "logic.condition", `"expression":"len(map(1..100000000, #)) > 0"`)), nil)
	if problems != nil {
		t.Fatal(problems)
	}
	start := time.Now()
	_, err := cf.Node("x").Config(map[string]any{"event": map[string]any{}, "nodes": map[string]any{}})
	if err == nil || !strings.Contains(err.Error(), "memory budget") {
		t.Errorf("want a memory budget error, got %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

// One flow with every kind of problem: all are reported together, each pointing at its node and field.
func TestAllProblemsInOnePass(t *testing.T) {
	_, problems := compile.Compile(parse(t, `{"name":"all","nodes":[
		{"id":"t","type":"trigger.event","config":{"event_type":"p","sample":{"amount":1}}},
		{"id":"fax","type":"action.fax"},
		{"id":"req","type":"action.log"},
		{"id":"typed","type":"action.log","config":{"message":7,"colour":"red","level":"loud"}},
		{"id":"c","type":"logic.condition","config":{"expression":"event.data.amout > 1"}},
		{"id":"tpl","type":"action.log","config":{"message":"{{ event.data.amount"}},
		{"id":"tpl","type":"action.log","config":{"message":"dup"}},
		{"id":"bad-id","type":"action.log","config":{"message":"x"}},
		{"id":"x","type":"action.log","config":{"message":"x"}},
		{"id":"y","type":"action.log","config":{"message":"y"}},
		{"id":"island","type":"action.log","config":{"message":"i"}}],
		"edges":[{"from":"t","to":"fax"},{"from":"t","to":"req"},{"from":"t","to":"typed"},{"from":"t","to":"c"},
		         {"from":"c","to":"tpl"},{"from":"c","to":"tpl","port":"maybe"},{"from":"c","to":"x","port":"true"},
		         {"from":"x","to":"y"},{"from":"y","to":"x"},{"from":"ghost","to":"x"},{"from":"x","to":"void"},
		         {"from":"req","to":"t"},{"from":"t","to":"req"}]}`), nil)
	want := map[[3]string]bool{
		{"fax", "type", "unknown_node_type"}:             true,
		{"req", "config.message", "required"}:            true,
		{"typed", "config.message", "invalid_field"}:     true,
		{"typed", "config.colour", "unknown_field"}:      true,
		{"typed", "config.level", "invalid_field"}:       true,
		{"c", "config.expression", "invalid_expression"}: true,
		{"tpl", "config.message", "invalid_expression"}:  true,
		{"tpl", "id", "duplicate_id"}:                    true,
		{"bad-id", "id", "invalid_id"}:                   true,
		{"c", "edges[4]", "missing_port"}:                true,
		{"c", "edges[5]", "unknown_port"}:                true,
		{"x", "", "cycle"}:                               true,
		{"y", "", "cycle"}:                               true,
		{"ghost", "edges[9]", "dangling_edge"}:           true,
		{"void", "edges[10]", "dangling_edge"}:           true,
		{"t", "edges[11]", "edge_into_trigger"}:          true,
		{"t", "edges[12]", "duplicate_edge"}:             true,
		{"island", "", "unreachable"}:                    true,
		{"tpl", "", "unreachable"}:                       true, // its only edges were refused
	}
	got := map[[3]string]bool{}
	for _, p := range problems {
		if p.Message == "" {
			t.Errorf("problem without a message: %+v", p)
		}
		got[[3]string{p.NodeID, p.Field, p.Code}] = true
	}
	for w := range want {
		if !got[w] {
			t.Errorf("missing %v", w)
		}
	}
	for g := range got {
		if !want[g] {
			t.Errorf("unexpected %v", g)
		}
	}
	if t.Failed() {
		t.Logf("problems:\n%v", problems)
	}
}
