package template

import (
	"strings"
	"testing"

	"github.com/opsflow/opsflow/engine/flow"
	_ "github.com/opsflow/opsflow/nodes"
)

const tmpl = `{"template":"opsflow-template/v1","id":"t","title":{"en":"T","zh-CN":"T"},"description":{"en":"D","zh-CN":"D"},
	"category":"x","credentials":[],"teams":[],"samples":[],
	"parameters":[{"name":"greeting","title":{"en":"G","zh-CN":"G"},"type":"string","default":"hi"},
	              {"name":"limit","title":{"en":"L","zh-CN":"L"},"type":"number","default":100}],
	"flow":{"name":"f","nodes":[{"id":"t","type":"trigger.manual","config":{"sample":{"amount":1}}},
		{"id":"c","type":"logic.condition","config":{"expression":"event.data.amount >= ${limit}"}},
		{"id":"l","type":"action.log","config":{"message":"${greeting}"}}],
		"edges":[{"from":"t","to":"c"},{"from":"c","to":"l","port":"true"}]}}`

func TestInstantiateSubstitutesAndEscapes(t *testing.T) {
	tp, err := Parse([]byte(tmpl))
	if err != nil {
		t.Fatal(err)
	}
	f, err := tp.Instantiate(Choices{Parameters: map[string]any{"greeting": `say "hi" \ bye`}})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Node("l").Config["message"]; got != `say "hi" \ bye` {
		t.Errorf("message = %q: quotes and backslashes must survive substitution into JSON", got)
	}
	if got := f.Node("c").Config["expression"]; got != "event.data.amount >= 100" {
		t.Errorf("expression = %q: the default should apply", got)
	}
	if _, err := tp.Instantiate(Choices{Parameters: map[string]any{"nope": 1}}); err == nil || !strings.Contains(err.Error(), "no parameter") {
		t.Errorf("unknown parameter: %v", err)
	}
	if _, err := tp.Instantiate(Choices{Parameters: map[string]any{"limit": true}}); err == nil || !strings.Contains(err.Error(), "must be a number") {
		t.Errorf("ill-typed parameter: %v", err)
	}
}

func TestParseRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"undeclared placeholder": strings.Replace(tmpl, "${greeting}", "${farewell}", 1),
		"missing zh title":       strings.Replace(tmpl, `"title":{"en":"T","zh-CN":"T"}`, `"title":{"en":"T"}`, 1),
		"bad format":             strings.Replace(tmpl, "opsflow-template/v1", "v0", 1),
		"unknown key":            strings.Replace(tmpl, `"category":"x"`, `"category":"x","colour":1`, 1),
	} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

type fakeNames map[string]string

func (f fakeNames) CredentialName(ref string) (string, string, bool) {
	n, ok := f[ref]
	return n, "http_bearer", ok
}
func (f fakeNames) TeamName(ref string) (string, bool) { n, ok := f[ref]; return n, ok }

func TestFromFlowStripsSecretsAndIDs(t *testing.T) {
	f, err := flow.Parse([]byte(`{"name":"crm sync","nodes":[{"id":"t","type":"trigger.manual"},
		{"id":"h","type":"action.http","config":{"url":"https://crm.example.com/x","credential":"0193-cred-id",
			"headers":{"Authorization":"Bearer sk_live_abc","X-Api-Key":"k","X-Trace":"keep"}}},
		{"id":"a","type":"action.assign","config":{"team":"0193-team-id"}}],
		"edges":[{"from":"t","to":"h"},{"from":"h","to":"a"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	tp, err := FromFlow("crm-sync", f, fakeNames{"0193-cred-id": "crm", "0193-team-id": "Support"})
	if err != nil {
		t.Fatal(err)
	}
	flowText := string(tp.Flow)
	for _, leaked := range []string{"sk_live_abc", `"k"`, "0193-"} {
		if strings.Contains(flowText, leaked) {
			t.Errorf("template flow contains %s: %s", leaked, flowText)
		}
	}
	if !strings.Contains(flowText, `"X-Trace":"keep"`) || len(tp.Credentials) != 1 || tp.Credentials[0].Name != "crm" || tp.Teams[0].Name != "Support" {
		t.Errorf("template: %+v %s", tp, flowText)
	}
}
