package compile_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/opsflow/opsflow/engine/compile"
	"github.com/opsflow/opsflow/engine/flow"
	_ "github.com/opsflow/opsflow/nodes"
)

func parse(t testing.TB, doc string) *flow.Flow {
	t.Helper()
	f, err := flow.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// has reports whether problems contain one at node with code whose field and message contain the given text.
func has(problems compile.Problems, nodeID, code, text string) bool {
	for _, p := range problems {
		if p.NodeID == nodeID && p.Code == code && strings.Contains(p.Field+" "+p.Message, text) {
			return true
		}
	}
	return false
}

func TestEveryGraphProblemAtOnce(t *testing.T) {
	_, problems := compile.Compile(parse(t, `{"name":"bad","nodes":[
		{"id":"t","type":"trigger.event","config":{"event_type":"x"}},
		{"id":"t2","type":"trigger.manual"},
		{"id":"c","type":"logic.condition","config":{"expression":"true"}},
		{"id":"fax","type":"action.fax"},
		{"id":"a","type":"action.log","config":{"message":"a"}},
		{"id":"b","type":"action.log","config":{"message":"b"}},
		{"id":"a","type":"action.log","config":{"message":"dup"}},
		{"id":"9bad","type":"action.log","config":{"message":"x"}},
		{"id":"lonely","type":"action.log","config":{"message":"x"}}],
		"edges":[{"from":"t","to":"c"},{"from":"c","to":"a"},{"from":"c","to":"b","port":"maybe"},{"from":"c","to":"b","port":"true"},{"from":"c","to":"b","port":"true"},
		         {"from":"a","to":"b"},{"from":"b","to":"a"},{"from":"ghost","to":"a"},{"from":"a","to":"nowhere"},{"from":"c","to":"t","port":"false"}]}`), nil)
	for _, want := range []struct{ node, code, text string }{
		{"", "many_triggers", "t, t2"},
		{"fax", "unknown_node_type", "action.fax"},
		{"a", "duplicate_id", "a"},
		{"9bad", "invalid_id", "9bad"},
		{"c", "missing_port", "true, false"},
		{"c", "unknown_port", `"maybe"`},
		{"c", "duplicate_edge", "c → b"},
		{"a", "cycle", "a, b"},
		{"ghost", "dangling_edge", "starts at"},
		{"nowhere", "dangling_edge", "ends at"},
		{"t", "edge_into_trigger", "trigger"},
	} {
		if !has(problems, want.node, want.code, want.text) {
			t.Errorf("missing %+v in:\n%v", want, problems)
		}
	}
	_, problems = compile.Compile(parse(t, `{"name":"none","nodes":[{"id":"l","type":"action.log","config":{"message":"x"}}],"edges":[]}`), nil)
	if !has(problems, "", "no_trigger", "none") {
		t.Errorf("no trigger: %v", problems)
	}
}

func TestConfigChecks(t *testing.T) {
	_, problems := compile.Compile(parse(t, `{"name":"cfg","nodes":[
		{"id":"t","type":"trigger.event","config":{"event_type":"x","sample":{"amount":1}}},
		{"id":"l","type":"action.log","config":{"level":"loud","colour":"red"}},
		{"id":"h","type":"action.http","config":{"url":5,"timeout":"soon","retries":2.5}},
		{"id":"u","type":"action.unreached_is_fine_here","config":{}}],
		"edges":[{"from":"t","to":"l"},{"from":"t","to":"h"}]}`), nil)
	for _, want := range []struct{ node, code, text string }{
		{"l", "required", "config.message"},
		{"l", "invalid_field", "one of info, warn, error"},
		{"l", "unknown_field", "colour"},
		{"h", "invalid_field", "must be a string, not a number"},
		{"h", "invalid_field", "invalid duration"},
		{"h", "invalid_field", "whole number"},
	} {
		if !has(problems, want.node, want.code, want.text) {
			t.Errorf("missing %+v in:\n%v", want, problems)
		}
	}
}

type fakeRefs map[string]string // credential or team id → credential type ("" for teams)

func (f fakeRefs) CredentialType(id string) (string, bool) {
	typ, ok := f[id]
	return typ, ok && typ != ""
}
func (f fakeRefs) TeamExists(id string) bool { typ, ok := f[id]; return ok && typ == "" }

func TestRefs(t *testing.T) {
	doc := `{"name":"r","nodes":[{"id":"t","type":"trigger.manual"},
		{"id":"a","type":"action.assign","config":{"team":"%s"}},
		{"id":"s","type":"action.sms","config":{"credential":"%s","to":"+14155550100","body":"hi"}}],
		"edges":[{"from":"t","to":"a"},{"from":"a","to":"s"}]}`
	refs := fakeRefs{"Support": "", "tw": "twilio", "mail": "smtp"}
	if _, problems := compile.Compile(parse(t, fmt.Sprintf(doc, "Support", "tw")), refs); problems != nil {
		t.Fatalf("valid refs: %v", problems)
	}
	_, problems := compile.Compile(parse(t, fmt.Sprintf(doc, "Sales", "mail")), refs)
	if !has(problems, "a", "invalid_field", `team "Sales" does not exist`) || !has(problems, "s", "invalid_field", "is of type smtp") {
		t.Errorf("bad refs: %v", problems)
	}
}

const typed = `{"name":"types","nodes":[
	{"id":"t","type":"trigger.event","config":{"event_type":"p","sample":{"amount":249,"customer":{"name":"Li","phone":"+1"},"items":[{"sku":"A"}]}}},
	{"id":"assign","type":"action.assign","config":{"team":"Support"}},
	{"id":"side","type":"action.log","config":{"message":"side"}},
	{"id":"x","type":"%s","config":{%s}}],
	"edges":[{"from":"t","to":"assign"},{"from":"t","to":"side"},{"from":"assign","to":"x"}]}`

func TestExpressionsAreTypeChecked(t *testing.T) {
	for cfg, want := range map[string]string{
		`"expression":"event.data.amout >= 100"`:          "unknown field amout",
		`"expression":"event.data.customer.name + 1"`:     "mismatched types",
		`"expression":"event.data.amount"`:                "expected bool",
		`"expression":"nodes.side.message == \"x\""`:      "unknown field side",
		`"expression":"event.data.items[0].skux == \"\""`: "unknown field skux",
		`"expression":"event.data.amount >= "`:            "unexpected token",
	} {
		_, problems := compile.Compile(parse(t, fmt.Sprintf(typed, "logic.condition", cfg)), nil)
		if !has(problems, "x", "invalid_expression", want) {
			t.Errorf("%s: want %q in %v", cfg, want, problems)
		}
	}
	for _, cfg := range []string{
		`"expression":"event.data.amount >= 100 && event.data.customer.name startsWith \"L\""`,
		`"expression":"nodes.assign.assignee.phone != \"\" && len(event.data.items) > 0"`,
	} {
		if _, problems := compile.Compile(parse(t, fmt.Sprintf(typed, "logic.condition", cfg)), nil); problems != nil {
			t.Errorf("%s: %v", cfg, problems)
		}
	}
	for cfg, want := range map[string]string{
		`"message":"Hi {{ event.data.customer.name"`:        "unclosed {{",
		`"message":"Hi {{ event.data.customer.nmae }}"`:     "unknown field nmae",
		`"message":"{{ event.data.amount }} and {{ x.y }}"`: "unknown name x",
	} {
		_, problems := compile.Compile(parse(t, fmt.Sprintf(typed, "action.log", cfg)), nil)
		if !has(problems, "x", "invalid_expression", want) {
			t.Errorf("%s: want %q in %v", cfg, want, problems)
		}
	}
}

func TestLimits(t *testing.T) {
	long := strings.Repeat("1 + ", compile.MaxExprLen/4) + "1 > 0"
	_, problems := compile.Compile(parse(t, fmt.Sprintf(typed, "logic.condition", `"expression":"`+long+`"`)), nil)
	if !has(problems, "x", "invalid_expression", "at most") {
		t.Errorf("long expression: %v", problems)
	}
	many := strings.Repeat("1+", 800) + "1 > 0" // short enough, but too many AST nodes
	_, problems = compile.Compile(parse(t, fmt.Sprintf(typed, "logic.condition", `"expression":"`+many+`"`)), nil)
	if problems == nil {
		t.Error("an expression with more than MaxExprNodes nodes compiled")
	}
	var nodes []string
	nodes = append(nodes, `{"id":"t","type":"trigger.manual"}`)
	for i := 0; i < compile.MaxNodes; i++ {
		nodes = append(nodes, fmt.Sprintf(`{"id":"n%d","type":"action.log","config":{"message":"x"}}`, i))
	}
	_, problems = compile.Compile(parse(t, `{"name":"big","nodes":[`+strings.Join(nodes, ",")+`],"edges":[]}`), nil)
	if !has(problems, "", "too_many", "at most") {
		t.Errorf("too many nodes: %v", problems)
	}
}

func TestRuntimeEvaluation(t *testing.T) {
	cf, problems := compile.Compile(parse(t, fmt.Sprintf(typed, "action.log", `"message":"{{ event.data.customer.name }} owes {{ event.data.amount }}, item {{ event.data.items[0] }} {{ nil }}"`)), nil)
	if problems != nil {
		t.Fatal(problems)
	}
	env := map[string]any{"event": map[string]any{"data": map[string]any{"amount": 20.5, "customer": map[string]any{"name": "Li"}, "items": []any{map[string]any{"sku": "A"}}}}, "nodes": map[string]any{}}
	cfg, err := cf.Node("x").Config(env)
	if err != nil || cfg["message"] != `Li owes 20.5, item {"sku":"A"} ` {
		t.Fatalf("message %q, %v", cfg["message"], err)
	}
	env["event"].(map[string]any)["data"].(map[string]any)["items"] = []any{}
	if _, err := cf.Node("x").Config(env); err == nil {
		t.Error("index out of range at run time should be an error, not a panic or a blank")
	}
	for v, want := range map[any]string{249.0: "249", 20.5: "20.5", nil: "", true: "true", "s": "s"} {
		if got := compile.Stringify(v); got != want {
			t.Errorf("Stringify(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestScopes(t *testing.T) {
	f := parse(t, fmt.Sprintf(typed, "action.log", `"message":"{{ broken"`))
	cf := compile.Scopes(f)
	paths := strings.Join(compile.ScopePaths(cf.Node("x")), " ")
	for _, want := range []string{"event.data.amount", "event.data.customer.name", "nodes.assign.assignee.phone"} {
		if !strings.Contains(paths, want) {
			t.Errorf("scope of x lacks %s: %s", want, paths)
		}
	}
	if strings.Contains(paths, "nodes.side") {
		t.Errorf("side is not upstream of x: %s", paths)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]string{"30s": "30s", "2h": "2h0m0s", "1d": "24h0m0s", "1d12h": "36h0m0s"} {
		d, err := compile.ParseDuration(in)
		if err != nil || d.String() != want {
			t.Errorf("ParseDuration(%q) = %v, %v", in, d, err)
		}
	}
	for _, in := range []string{"", "soon", "1x", "d", "-5s"} {
		if _, err := compile.ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) accepted", in)
		}
	}
}

// No expression string makes the compiler panic, as a condition or inside a {{ }} template; and
// one that compiles runs against an event shaped like the sample without panicking.
func FuzzCompile(f *testing.F) {
	for _, seed := range []string{
		"event.data.amount >= 100", "", "{{", "}}", "nodes.assign.assignee.phone", "len(event.data.items) > 0 ? 1 : 2",
		"[1,2,3] | map(# * 2)", "\"\\u0000\"", "1+", "event.data.items[5].sku == \"A\"", "let x = 1; x > 0",
		"event.data.customer?.name ?? \"\" startsWith \"L\"", "1..3 | all(# > 0)", "nodes.side.message == \"\"",
		strings.Repeat("(", 300) + "true" + strings.Repeat(")", 300), "now() > date(\"2020-01-01\")",
	} {
		f.Add(seed)
	}
	env := map[string]any{
		"event": map[string]any{"data": map[string]any{"amount": 249.0, "customer": map[string]any{"name": "Li", "phone": "+1"}, "items": []any{map[string]any{"sku": "A"}}}},
		"nodes": map[string]any{"assign": map[string]any{"assignee": map[string]any{"phone": "+1"}}},
	}
	f.Fuzz(func(t *testing.T, src string) {
		cond, _ := json.Marshal(src)
		tmpl, _ := json.Marshal("{{ " + src + " }}")
		for _, doc := range []string{
			fmt.Sprintf(typed, "logic.condition", `"expression":`+string(cond)),
			fmt.Sprintf(typed, "action.log", `"message":`+string(tmpl)),
		} {
			fl, err := flow.Parse([]byte(doc))
			if err != nil {
				t.Fatalf("a marshalled string made an invalid document: %v", err)
			}
			cf, problems := compile.Compile(fl, nil)
			if problems != nil {
				if cf != nil {
					t.Fatal("Compile returned a flow and problems")
				}
				continue
			}
			cf.Node("x").Config(env)
		}
	})
}

// Literal reads one field of LiteralConfig without copying it: the value written, else the
// field's default, else nil, for every field of the node type and for unknown names.
func TestLiteralIsOneFieldOfLiteralConfig(t *testing.T) {
	cf, problems := compile.Compile(parse(t, `{"name":"lit","nodes":[
		{"id":"t","type":"trigger.event","config":{"event_type":"x"}},
		{"id":"h","type":"action.http","config":{"url":"https://crm.example.com/o","idempotent":true,"step_timeout":"5s"}},
		{"id":"d","type":"action.http","config":{"url":"https://crm.example.com/o"}}],
		"edges":[{"from":"t","to":"h"},{"from":"h","to":"d"}]}`), nil)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	for _, id := range []string{"h", "d"} {
		n := cf.Node(id)
		lit := n.LiteralConfig()
		names := []string{"no_such_field"}
		for _, f := range n.Spec.Fields {
			names = append(names, f.Name)
		}
		for _, name := range names {
			if got, want := fmt.Sprint(n.Literal(name)), fmt.Sprint(lit[name]); got != want {
				t.Errorf("%s.%s: Literal %s, LiteralConfig %s", id, name, got, want)
			}
		}
	}
	if cf.Node("h").Literal("idempotent") != true || cf.Node("d").Literal("idempotent") != false {
		t.Errorf("idempotent: written true %v, default %v", cf.Node("h").Literal("idempotent"), cf.Node("d").Literal("idempotent"))
	}
	if cf.Node("h").Literal("method") != "POST" {
		t.Errorf("method default: %v", cf.Node("h").Literal("method"))
	}
}
