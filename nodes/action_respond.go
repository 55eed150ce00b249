package nodes

import (
	"context"

	"github.com/opsflow/opsflow/engine/compile"
	"github.com/opsflow/opsflow/engine/node"
)

func init() {
	node.Register(&node.Spec{
		Type:        "action.respond",
		Category:    node.Action,
		Title:       node.Text{En: "Respond to webhook", Zh: "响应 Webhook"},
		Description: node.Text{En: "Answers the webhook request that started the flow with a computed status and body.", Zh: "用计算出的状态码和内容答复启动流程的 Webhook 请求。"},
		Icon:        "reply",
		Responds:    true,
		Fields: []node.Field{
			{Name: "status", Kind: node.KindInteger, Default: 200.0, Min: ptr(100), Max: ptr(599), Title: node.Text{En: "Status code", Zh: "状态码"}},
			{Name: "body", Kind: node.KindExpr, Placeholder: `{"received": true, "order": event.data.order_id}`,
				Title: node.Text{En: "Body", Zh: "响应内容"},
				Help:  node.Text{En: "An expression: a map or list is sent as JSON, a string as text.", Zh: "表达式：映射或列表以 JSON 发送，字符串以文本发送。"}},
			{Name: "headers", Kind: node.KindKeyValue, Title: node.Text{En: "Headers", Zh: "响应头"}},
			{Name: "timeout", Kind: node.KindDuration, Default: "10s", Min: ptr(1), Max: ptr(30),
				Title: node.Text{En: "Wait at most", Zh: "最长等待"},
				Help:  node.Text{En: "If the flow has not reached this node by then, the caller gets 202 Accepted and the run goes on.", Zh: "若届时流程仍未到达此节点，调用方收到 202 Accepted，流程继续运行。"}},
		},
		Output: node.Object(map[string]*node.Schema{"status": node.Num(), "headers": {Type: "object", Open: true}, "body": node.Any()}),
		Run: func(_ context.Context, in *node.Input) (*node.Result, error) {
			headers := map[string]any{}
			if h, ok := in.Config["headers"].(map[string]any); ok {
				for k, v := range h {
					headers[k] = compile.Stringify(v)
				}
			}
			status, _ := in.Config["status"].(float64)
			return &node.Result{Output: map[string]any{"status": status, "headers": headers, "body": in.Config["body"]}}, nil
		},
		Docs: node.Text{
			En: "Put it in a flow started by trigger.webhook: the request waits (up to the timeout) for this node and gets its answer. Without it, webhooks get 202 Accepted at once.",
			Zh: "放在由 trigger.webhook 启动的流程中：请求会等待此节点（最长到超时），并以它的结果作为响应。没有此节点时，Webhook 立即得到 202 Accepted。",
		},
	})
}
