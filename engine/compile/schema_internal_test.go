package compile

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/opsflow/opsflow/engine/flow"
)

// The published JSON Schema and the compiler must agree on what a node id is.
func TestJSONSchemaIDPatternMatchesCompiler(t *testing.T) {
	var s struct {
		Properties struct {
			Nodes struct {
				Items struct {
					Properties struct {
						ID struct {
							Pattern string `json:"pattern"`
						} `json:"id"`
					} `json:"properties"`
				} `json:"items"`
			} `json:"nodes"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(flow.JSONSchema, &s); err != nil {
		t.Fatalf("the embedded schema is not valid JSON: %v", err)
	}
	p := s.Properties.Nodes.Items.Properties.ID.Pattern
	if p != idPattern.String() {
		t.Fatalf("schema id pattern %q, compiler %q", p, idPattern.String())
	}
	schemaRE := regexp.MustCompile(p)
	for _, id := range []string{"a", "_x", "Node_1", "9a", "a-b", "", "é"} {
		if schemaRE.MatchString(id) != idPattern.MatchString(id) {
			t.Errorf("%q: schema and compiler disagree", id)
		}
	}
}
