package nodes

import (
	"strings"

	"github.com/opsflow/opsflow/engine/node"
)

func init() {
	node.Register(&node.Spec{
		Type:        "trigger.event",
		Category:    node.Trigger,
		Title:       node.Text{En: "On event", Zh: "事件触发"},
		Description: node.Text{En: "Starts the flow when an event of the given type is posted to /api/v1/events.", Zh: "当指定类型的事件提交到 /api/v1/events 时启动流程。"},
		Icon:        "bolt",
		Fields: []node.Field{
			{Name: "event_type", Kind: node.KindString, Required: true, MaxLen: 200, Placeholder: "payment.failed",
				Title: node.Text{En: "Event type", Zh: "事件类型"},
				Help:  node.Text{En: "Exact type, or a pattern with * such as payment.*", Zh: "精确类型，或带 * 的模式，如 payment.*"}},
			sampleField,
		},
		OutputFor: func(cfg map[string]any) *node.Schema { return eventSchema(cfg, nil) },
		Check: func(cfg map[string]any) []node.FieldError {
			t, _ := cfg["event_type"].(string)
			if strings.ContainsAny(t, " \t\n") {
				return []node.FieldError{{Field: "event_type", Message: "event type must not contain spaces", Zh: "事件类型不能包含空格"}}
			}
			return nil
		},
		Docs: node.Text{
			En: "The event is available to expressions as `event`: `event.type`, `event.id` and the posted `event.data`.",
			Zh: "事件在表达式中是 `event`：`event.type`、`event.id` 和提交的 `event.data`。",
		},
	})
}
