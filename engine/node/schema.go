package node

import (
	"sort"

	"github.com/expr-lang/expr/types"
)

// Schema is the subset of JSON Schema that describes data flowing between nodes. It drives
// save-time type checking of expressions and autocomplete in the builder.
type Schema struct {
	Type        string             `json:"type,omitempty"` // object, array, string, number, integer, boolean, null; "" = any
	Description string             `json:"description,omitempty"`
	Properties  map[string]*Schema `json:"properties,omitempty"`
	Items       *Schema            `json:"items,omitempty"`
	// Open objects accept keys beyond Properties (their type is then unknown).
	Open bool `json:"additionalProperties,omitempty"`
}

// Object is a closed object schema with the given properties.
func Object(props map[string]*Schema) *Schema { return &Schema{Type: "object", Properties: props} }

// AnyObject is an object whose keys are not known in advance.
func AnyObject() *Schema { return &Schema{Type: "object", Open: true} }

// Shorthands for leaf schemas.
func Str() *Schema              { return &Schema{Type: "string"} }
func Num() *Schema              { return &Schema{Type: "number"} }
func Boolean() *Schema          { return &Schema{Type: "boolean"} }
func Any() *Schema              { return &Schema{} }
func ArrayOf(s *Schema) *Schema { return &Schema{Type: "array", Items: s} }

// SchemaFromSample infers a closed schema from a sample JSON value (as decoded by encoding/json).
func SchemaFromSample(v any) *Schema {
	switch t := v.(type) {
	case map[string]any:
		props := make(map[string]*Schema, len(t))
		for k, e := range t {
			props[k] = SchemaFromSample(e)
		}
		return Object(props)
	case []any:
		if len(t) == 0 {
			return ArrayOf(Any())
		}
		return ArrayOf(SchemaFromSample(t[0]))
	case string:
		return Str()
	case float64, int, int64, float32:
		return Num()
	case bool:
		return Boolean()
	default:
		return Any()
	}
}

// ExprType converts the schema into the type expr-lang checks expressions against. Numbers are
// float64 because every value in a run passes through JSON.
func (s *Schema) ExprType() types.Type {
	if s == nil {
		return types.Any
	}
	switch s.Type {
	case "object":
		m := types.Map{}
		for k, p := range s.Properties {
			m[k] = p.ExprType()
		}
		if s.Open {
			m[types.Extra] = types.Any
		}
		return m
	case "array":
		return types.Array(s.Items.ExprType())
	case "string":
		return types.String
	case "number", "integer":
		return types.Float64
	case "boolean":
		return types.Bool
	default:
		return types.Any
	}
}

// Paths lists the dotted paths the schema defines, for autocomplete.
func (s *Schema) Paths(prefix string) []string {
	var out []string
	if s == nil {
		return out
	}
	if s.Type == "object" {
		keys := make([]string, 0, len(s.Properties))
		for k := range s.Properties {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := prefix + "." + k
			out = append(out, p)
			out = append(out, s.Properties[k].Paths(p)...)
		}
	}
	return out
}

// ConfigSchema renders the node's config as a JSON Schema document.
func (s *Spec) ConfigSchema() map[string]any {
	props := map[string]any{}
	var required []string
	for _, f := range s.Fields {
		p := map[string]any{"title": f.Title.En, "x-kind": string(f.Kind)}
		if f.Help.En != "" {
			p["description"] = f.Help.En
		}
		if f.Default != nil {
			p["default"] = f.Default
		}
		switch f.Kind {
		case KindNumber:
			p["type"] = "number"
		case KindInteger:
			p["type"] = "integer"
		case KindBool:
			p["type"] = "boolean"
		case KindKeyValue:
			p["type"] = "object"
			p["additionalProperties"] = map[string]any{"type": "string"}
		case KindStringList:
			p["type"] = "array"
			p["items"] = map[string]any{"type": "string"}
		case KindJSON:
		case KindSelect:
			p["type"] = "string"
			enum := make([]string, len(f.Options))
			for i, o := range f.Options {
				enum[i] = o.Value
			}
			p["enum"] = enum
		default:
			p["type"] = "string"
		}
		if f.Min != nil {
			p["minimum"] = *f.Min
		}
		if f.Max != nil {
			p["maximum"] = *f.Max
		}
		props[f.Name] = p
		if f.Required {
			required = append(required, f.Name)
		}
	}
	out := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}
