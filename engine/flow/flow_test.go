package flow

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	f, err := Parse([]byte(`{"name":"x","nodes":[{"id":"t","type":"trigger.manual","config":{"n":5,"list":[1,{"k":2.5}]}}],"edges":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	if f.Schema != SchemaVersion {
		t.Errorf("schema defaulted to %q", f.Schema)
	}
	cfg := f.Nodes[0].Config
	if cfg["n"] != 5.0 || cfg["list"].([]any)[0] != 1.0 || cfg["list"].([]any)[1].(map[string]any)["k"] != 2.5 {
		t.Errorf("numbers must decode as float64: %#v", cfg)
	}
	for doc, want := range map[string]string{
		`{"name":"x","nodes":[],"edges":[],"extra":1}`:     `unknown field "extra"`,
		`{"name":"x","nodes":[{"id":"a","colour":"red"}]}`: `unknown field "colour"`,
		`{"name":"x"} {"name":"y"}`:                        "unexpected data after",
		`{"name":`:                                         "invalid flow JSON",
		`[1,2]`:                                            "invalid flow JSON",
	} {
		if _, err := Parse([]byte(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%s): %v, want %q", doc, err, want)
		}
	}
}

func TestJSONSchemaMatchesTheModel(t *testing.T) {
	var s struct {
		Properties struct {
			Nodes struct {
				Items struct {
					Properties map[string]struct {
						Pattern string `json:"pattern"`
					} `json:"properties"`
				} `json:"items"`
			} `json:"nodes"`
			Schema struct {
				Const string `json:"const"`
			} `json:"schema"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(JSONSchema, &s); err != nil {
		t.Fatal(err)
	}
	if s.Properties.Schema.Const != SchemaVersion {
		t.Errorf("schema const %q", s.Properties.Schema.Const)
	}
	if p := s.Properties.Nodes.Items.Properties["id"].Pattern; p != `^[A-Za-z_][A-Za-z0-9_]{0,63}$` {
		t.Errorf("id pattern %q differs from the compiler's", p)
	}
	for _, field := range []string{"id", "type", "name", "config", "position"} {
		if _, ok := s.Properties.Nodes.Items.Properties[field]; !ok {
			t.Errorf("schema lacks node field %s", field)
		}
	}
}
