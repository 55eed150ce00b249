package nodes

import (
	"context"
	"net/http"
	"strings"

	"github.com/opsflow/opsflow/engine/node"
)

func init() {
	node.Register(&node.Spec{
		Type:        "trigger.webhook",
		Category:    node.Trigger,
		Title:       node.Text{En: "Webhook", Zh: "Webhook 触发"},
		Description: node.Text{En: "Starts the flow when an HTTP request arrives at /api/v1/hooks/{flow_id}.", Zh: "当 HTTP 请求到达 /api/v1/hooks/{flow_id} 时启动流程。"},
		Icon:        "webhook",
		Fields: []node.Field{
			{Name: "method", Kind: node.KindSelect, Default: "POST",
				Title:   node.Text{En: "HTTP method", Zh: "HTTP 方法"},
				Options: []node.Option{{Value: "POST", Title: node.Text{En: "POST", Zh: "POST"}}, {Value: "PUT", Title: node.Text{En: "PUT", Zh: "PUT"}}, {Value: "ANY", Title: node.Text{En: "Any", Zh: "任意"}}}},
			sampleField,
		},
		OutputFor: func(cfg map[string]any) *node.Schema {
			return eventSchema(cfg, map[string]*node.Schema{"headers": {Type: "object", Open: true}})
		},
		Receive: func(_ context.Context, cfg map[string]any, _ node.Services, w *node.Webhook) (string, error) {
			if m, _ := cfg["method"].(string); m != "" && m != "ANY" && !strings.EqualFold(m, w.Method) {
				return "", node.Reject(http.StatusMethodNotAllowed, "method_not_allowed", "this webhook accepts "+m+" requests")
			}
			return "", nil
		},
		Docs: "The parsed body (JSON or form) is `event.data`; the headers are `event.headers` (lower-case names; credentials are never stored). The raw body is kept with the event.",
	})
}
