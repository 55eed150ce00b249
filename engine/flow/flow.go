// Package flow is the flow document: the JSON graph users build and import.
package flow

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// SchemaVersion is the value of the "schema" key of every flow document this engine reads.
const SchemaVersion = "opsflow/v1"

// JSONSchema is the JSON Schema of the flow document format.
//
//go:embed flow.schema.json
var JSONSchema []byte

// Flow is a trigger → condition → action graph.
type Flow struct {
	Schema      string `json:"schema"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Nodes       []Node `json:"nodes"`
	Edges       []Edge `json:"edges"`
}

// Node is one step of a flow.
type Node struct {
	ID       string         `json:"id"`
	Type     string         `json:"type"`
	Name     string         `json:"name,omitempty"`
	Config   map[string]any `json:"config,omitempty"`
	Position Position       `json:"position"`
}

// Position is where the builder draws the node.
type Position struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// Edge connects an output port of one node to another node. Port is empty for single-output nodes.
type Edge struct {
	From string `json:"from"`
	To   string `json:"to"`
	Port string `json:"port,omitempty"`
}

// Parse decodes a flow document strictly: unknown keys (including known ones spelled with other
// capitals, which encoding/json would accept), trailing data and numbers too large for a float64
// are errors, so a typo in a hand-written or imported flow is reported instead of silently dropped.
func Parse(data []byte) (*Flow, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("invalid flow JSON: the document is empty")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	var f Flow
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("invalid flow JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("invalid flow JSON: unexpected data after the flow object")
	}
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return nil, fmt.Errorf("invalid flow JSON: the flow must be an object, not null")
	}
	if err := exactKeys(data); err != nil {
		return nil, fmt.Errorf("invalid flow JSON: %w", err)
	}
	for i := range f.Nodes {
		cfg, err := normalize(f.Nodes[i].Config)
		if err != nil {
			return nil, fmt.Errorf("invalid flow JSON: nodes[%d].config%w", i, err)
		}
		f.Nodes[i].Config = cfg.(map[string]any)
	}
	if f.Schema == "" {
		f.Schema = SchemaVersion
	}
	return &f, nil
}

var (
	flowKeys     = []string{"schema", "name", "description", "nodes", "edges"}
	nodeKeys     = []string{"id", "type", "name", "config", "position"}
	positionKeys = []string{"x", "y"}
	edgeKeys     = []string{"from", "to", "port"}
)

// exactKeys checks that every key of the document, nodes, positions and edges is spelled exactly
// as documented. Decode has already checked the structure, so only the spelling is left.
func exactKeys(data []byte) error {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return err
	}
	if err := keysIn("", doc, flowKeys); err != nil {
		return err
	}
	var nodes, edges []map[string]json.RawMessage
	if raw, ok := doc["nodes"]; ok {
		if err := json.Unmarshal(raw, &nodes); err != nil {
			return err
		}
	}
	if raw, ok := doc["edges"]; ok {
		if err := json.Unmarshal(raw, &edges); err != nil {
			return err
		}
	}
	for i, n := range nodes {
		where := fmt.Sprintf("nodes[%d]", i)
		if err := keysIn(where, n, nodeKeys); err != nil {
			return err
		}
		if raw, ok := n["position"]; ok {
			var pos map[string]json.RawMessage
			if err := json.Unmarshal(raw, &pos); err != nil {
				return err
			}
			if err := keysIn(where+".position", pos, positionKeys); err != nil {
				return err
			}
		}
	}
	for i, e := range edges {
		if err := keysIn(fmt.Sprintf("edges[%d]", i), e, edgeKeys); err != nil {
			return err
		}
	}
	return nil
}

func keysIn(where string, obj map[string]json.RawMessage, known []string) error {
	for k := range obj {
		ok := false
		for _, want := range known {
			if k == want {
				ok = true
				break
			}
		}
		if !ok {
			if where != "" {
				where += "."
			}
			return fmt.Errorf("unknown field %q at %s%s (keys are lower case: %s)", k, where, k, strings.Join(known, ", "))
		}
	}
	return nil
}

// normalize turns json.Number back into float64 so configs look like any decoded JSON. A number
// float64 cannot hold is an error naming where it is (the error text starts with its path).
func normalize(v any) (any, error) {
	switch t := v.(type) {
	case nil:
		return map[string]any{}, nil
	case map[string]any:
		if t == nil {
			return map[string]any{}, nil
		}
		for k, e := range t {
			if e == nil {
				continue
			}
			n, err := normalize(e)
			if err != nil {
				return nil, fmt.Errorf(".%s%w", k, err)
			}
			t[k] = n
		}
		return t, nil
	case []any:
		for i, e := range t {
			if e == nil {
				continue
			}
			n, err := normalize(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]%w", i, err)
			}
			t[i] = n
		}
		return t, nil
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			return nil, fmt.Errorf(": the number %s is out of range", t)
		}
		return f, nil
	default:
		return v, nil
	}
}

// Node returns the node with the given id, or nil.
func (f *Flow) Node(id string) *Node {
	for i := range f.Nodes {
		if f.Nodes[i].ID == id {
			return &f.Nodes[i]
		}
	}
	return nil
}

// JSON encodes the flow canonically.
func (f *Flow) JSON() []byte {
	c := *f
	if c.Nodes == nil {
		c.Nodes = []Node{} // the schema wants arrays, never null
	}
	if c.Edges == nil {
		c.Edges = []Edge{}
	}
	b, err := json.Marshal(&c)
	if err != nil {
		panic(err) // a Flow holds only JSON-decoded values
	}
	return b
}
