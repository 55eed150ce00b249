package nodes

import "github.com/opsflow/opsflow/engine/node"

func init() {
	node.Register(&node.Spec{
		Type:        "trigger.manual",
		Category:    node.Trigger,
		Title:       node.Text{En: "Manual start", Zh: "手动触发"},
		Description: node.Text{En: "Starts the flow from the builder or POST /api/v1/flows/{id}/run with a payload.", Zh: "从编辑器或 POST /api/v1/flows/{id}/run 携带数据启动流程。"},
		Icon:        "play",
		Fields:      []node.Field{sampleField},
		OutputFor:   func(cfg map[string]any) *node.Schema { return eventSchema(cfg, nil) },
		Docs: node.Text{
			En: "The payload is available as `event.data`.",
			Zh: "提交的数据在 `event.data` 中。",
		},
	})
}
