// Package flow is the flow document: the JSON graph users build and import.
package flow

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
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

// Parse decodes a flow document strictly: unknown keys and trailing data are errors, so a typo
// in a hand-written or imported flow is reported instead of silently dropped.
func Parse(data []byte) (*Flow, error) {
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
	for i := range f.Nodes {
		f.Nodes[i].Config = normalize(f.Nodes[i].Config).(map[string]any)
	}
	if f.Schema == "" {
		f.Schema = SchemaVersion
	}
	return &f, nil
}

// normalize turns json.Number back into float64 so configs look like any decoded JSON.
func normalize(v any) any {
	switch t := v.(type) {
	case nil:
		return map[string]any{}
	case map[string]any:
		for k, e := range t {
			if e == nil {
				continue
			}
			t[k] = normalize(e)
		}
		return t
	case []any:
		for i, e := range t {
			if e != nil {
				t[i] = normalize(e)
			}
		}
		return t
	case json.Number:
		f, _ := t.Float64()
		return f
	default:
		return v
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
	b, err := json.Marshal(f)
	if err != nil {
		panic(err) // a Flow holds only JSON-decoded values
	}
	return b
}
