package nodes

import "github.com/opsflow/opsflow/engine/node"

// eventSchema is the shape of event for a trigger whose data is described by a sample.
func eventSchema(cfg map[string]any, extra map[string]*node.Schema) *node.Schema {
	data := node.AnyObject()
	if s, ok := cfg["sample"]; ok && s != nil {
		data = node.SchemaFromSample(s)
	}
	props := map[string]*node.Schema{
		"id":          node.Str(),
		"type":        node.Str(),
		"source":      node.Str(),
		"received_at": node.Str(),
		"data":        data,
	}
	for k, v := range extra {
		props[k] = v
	}
	return node.Object(props)
}

// sampleField lets a trigger declare the shape of its data, so expressions are type-checked.
var sampleField = node.Field{
	Name:  "sample",
	Kind:  node.KindJSON,
	Title: node.Text{En: "Sample data", Zh: "示例数据"},
	Help: node.Text{
		En: "An example of event.data. Expressions are checked against it when the flow is saved: a misspelt field is an error. Leave empty to accept any data unchecked.",
		Zh: "event.data 的示例。保存流程时会据此检查表达式：拼错的字段会报错。留空则不检查。",
	},
}
