package flow

import (
	"encoding/json"
	"sort"
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

func TestParseErrors(t *testing.T) {
	for doc, want := range map[string]string{
		``:                                  "the document is empty",
		"  \n\t ":                           "the document is empty",
		`null`:                              "must be an object, not null",
		`{"name":"x"} garbage`:              "unexpected data after the flow object",
		`{"name":"x"}{}`:                    "unexpected data after the flow object",
		`{"name":"x",}`:                     "invalid character '}'",
		`{"name":5}`:                        "cannot unmarshal number into Go struct field Flow.name of type string",
		`{"name":"x","nodes":{}}`:           "cannot unmarshal object",
		`{"Name":"x"}`:                      `unknown field "Name"`,
		`{"name":"x","NODES":[]}`:           `unknown field "NODES"`,
		`{"name":"x","nodes":[{"ID":"a"}]}`: `unknown field "ID" at nodes[0].ID`,
		`{"name":"x","nodes":[{"id":"a","position":{"X":1}}]}`:              `nodes[0].position.X`,
		`{"name":"x","nodes":[{"id":"a","position":{"z":1}}]}`:              `unknown field "z"`,
		`{"name":"x","edges":[{"from":"a","To":"b"}]}`:                      `unknown field "To" at edges[0].To`,
		`{"name":"x","edges":[{"from":"a","to":"b","weight":1}]}`:           `unknown field "weight"`,
		`{"name":"x","nodes":[{"id":"a","config":{"big":1e400}}]}`:          `nodes[0].config.big: the number 1e400 is out of range`,
		`{"name":"x","nodes":[{"id":"a","config":{"l":[1,{"n":-1e999}]}}]}`: `nodes[0].config.l[1].n`,
	} {
		f, err := Parse([]byte(doc))
		if err == nil {
			t.Errorf("Parse(%q) accepted: %+v", doc, f)
			continue
		}
		if !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "invalid flow JSON: ") {
			t.Errorf("Parse(%q): %q, want %q", doc, err, want)
		}
	}
}

func TestParseNormalizes(t *testing.T) {
	f, err := Parse([]byte(`{"schema":"opsflow/v1","name":"x","description":"d","nodes":[
		{"id":"a","type":"t","name":"A","position":{"x":1.5,"y":-2},"config":{"i":1,"f":0.25,"e":2e3,"neg":-7,"s":"5","b":true,"z":null,"deep":{"m":{"n":[[3]]}}}},
		{"id":"b","type":"t","config":null},
		{"id":"c","type":"t"}],
		"edges":[{"from":"a","to":"b","port":"out"}]}  `))
	if err != nil {
		t.Fatal(err)
	}
	cfg := f.Nodes[0].Config
	for k, want := range map[string]any{"i": 1.0, "f": 0.25, "e": 2000.0, "neg": -7.0, "s": "5", "b": true, "z": nil} {
		if got, ok := cfg[k]; !ok || got != want {
			t.Errorf("config.%s = %#v, want %#v", k, got, want)
		}
	}
	if n := cfg["deep"].(map[string]any)["m"].(map[string]any)["n"].([]any)[0].([]any)[0]; n != 3.0 {
		t.Errorf("deep number %#v", n)
	}
	for _, id := range []string{"b", "c"} {
		if c := f.Node(id).Config; c == nil || len(c) != 0 {
			t.Errorf("%s: a missing or null config is an empty map, got %#v", id, c)
		}
	}
	if p := f.Node("a").Position; p.X != 1.5 || p.Y != -2 {
		t.Errorf("position %+v", p)
	}
	if f.Node("nope") != nil {
		t.Error("Node of an unknown id")
	}
	if f.Edges[0] != (Edge{From: "a", To: "b", Port: "out"}) {
		t.Errorf("edge %+v", f.Edges[0])
	}
	// JSON round-trips to the same flow.
	again, err := Parse(f.JSON())
	if err != nil {
		t.Fatalf("JSON output does not parse: %v\n%s", err, f.JSON())
	}
	if string(again.JSON()) != string(f.JSON()) {
		t.Errorf("round trip changed the flow:\n%s\n%s", f.JSON(), again.JSON())
	}
	g, err := Parse([]byte(`{"name":"x","nodes":[],"edges":[]}`))
	if err != nil || g.Schema != "opsflow/v1" {
		t.Errorf("missing schema: %q %v", g.Schema, err)
	}
	h, err := Parse([]byte(`{"schema":"opsflow/v9","name":"x"}`))
	if err != nil || h.Schema != "opsflow/v9" {
		t.Errorf("an explicit schema is kept for the compiler to judge: %q %v", h.Schema, err)
	}
}

func TestJSONSchemaIsValidJSON(t *testing.T) {
	var v map[string]any
	if err := json.Unmarshal(JSONSchema, &v); err != nil {
		t.Fatalf("embedded schema: %v", err)
	}
	if v["$schema"] == nil || v["additionalProperties"] != false {
		t.Errorf("schema header: %v %v", v["$schema"], v["additionalProperties"])
	}
	// The keys Parse accepts are exactly the keys the schema documents.
	props := func(m map[string]any) []string {
		var out []string
		for k := range m["properties"].(map[string]any) {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	sorted := func(s []string) []string { s = append([]string(nil), s...); sort.Strings(s); return s }
	p := v["properties"].(map[string]any)
	nodeSchema := p["nodes"].(map[string]any)["items"].(map[string]any)
	for _, c := range []struct {
		name      string
		got, want []string
	}{
		{"flow", props(v), sorted(flowKeys)},
		{"node", props(nodeSchema), sorted(nodeKeys)},
		{"position", props(nodeSchema["properties"].(map[string]any)["position"].(map[string]any)), sorted(positionKeys)},
		{"edge", props(p["edges"].(map[string]any)["items"].(map[string]any)), sorted(edgeKeys)},
	} {
		if strings.Join(c.got, ",") != strings.Join(c.want, ",") {
			t.Errorf("%s keys: schema %v, Parse %v", c.name, c.got, c.want)
		}
	}
}

func TestJSONHasNoNullLists(t *testing.T) {
	f, err := Parse([]byte(`{"name":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(f.JSON(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"nodes", "edges"} {
		if l, ok := doc[k].([]any); !ok || len(l) != 0 {
			t.Errorf("%s = %#v, want []", k, doc[k])
		}
	}
	if doc["schema"] != SchemaVersion || doc["name"] != "x" {
		t.Errorf("JSON() = %s", f.JSON())
	}
	if f.Nodes != nil || f.Edges != nil {
		t.Error("JSON() changed the flow")
	}
}
