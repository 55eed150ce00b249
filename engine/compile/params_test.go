package compile_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/opsflow/opsflow/engine/compile"
)

// Every problem carries the parameters its message is made of, so the builder can say it in
// Chinese: the rule that failed, the config field (not its English title) and the values.
func TestProblemParams(t *testing.T) {
	_, problems := compile.Compile(parse(t, `{"name":"p","nodes":[
		{"id":"t","type":"trigger.event","config":{"event_type":"p","sample":{"amount":1}}},
		{"id":"fax","type":"action.fax"},
		{"id":"req","type":"action.log"},
		{"id":"typed","type":"action.log","config":{"message":7,"level":"loud"}},
		{"id":"c","type":"logic.condition","config":{"expression":"event.data.amout > 1"}},
		{"id":"s","type":"logic.condition","config":{"expression":"event.data.amount"}},
		{"id":"sms","type":"action.sms","config":{"credential":"tw","to":"+1","body":""}},
		{"id":"island","type":"action.log","config":{"message":"i"}}],
		"edges":[{"from":"t","to":"fax"},{"from":"t","to":"req"},{"from":"t","to":"typed"},{"from":"t","to":"c"},
		         {"from":"t","to":"s"},{"from":"t","to":"sms"},{"from":"c","to":"req","port":"maybe"}]}`), nil)
	want := map[string]string{
		"fax/unknown_node_type":    `{"type":"action.fax"}`,
		"req/required":             `{"field":"message","rule":"field"}`,
		"typed/invalid_field":      `{"field":"level","got":"loud","options":"info, warn, error","rule":"option"}`,
		"c/invalid_expression":     `{"error":"unknown field amout (1:12)","expression":"event.data.amout > 1","field":"expression","rule":"compile"}`,
		"s/invalid_expression":     `{"error":"expected bool, but got float64","expression":"event.data.amount","field":"expression","rule":"compile"}`,
		"c/unknown_port":           `{"node":"c","port":"maybe","ports":"true, false","type":"logic.condition"}`,
		"island/unreachable":       `{"node":"island","trigger":"t"}`,
		"sms/invalid_field":        `{"field":"body","rule":"check","zh":"需要短信内容（Twilio）或模板代码（阿里云）"}`,
		"typed/invalid_field#type": `{"field":"message","got":"number","rule":"type","want":"string"}`,
	}
	got := map[string][]string{}
	for _, p := range problems {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(p.Params); err != nil {
			t.Fatal(err)
		}
		got[p.NodeID+"/"+p.Code] = append(got[p.NodeID+"/"+p.Code], strings.TrimSpace(b.String()))
	}
	for k, w := range want {
		key, _, _ := strings.Cut(k, "#")
		found := false
		for _, g := range got[key] {
			found = found || g == w
		}
		if !found {
			t.Errorf("%s: params %v, want %s", k, got[key], w)
		}
	}
	if t.Failed() {
		t.Logf("problems: %+v", problems)
	}
}
