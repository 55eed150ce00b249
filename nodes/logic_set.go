package nodes

import (
	"context"

	"github.com/opsflow/opsflow/engine/node"
)

func init() {
	node.Register(&node.Spec{
		Type:        "logic.set",
		Category:    node.Logic,
		Title:       node.Text{En: "Set fields", Zh: "设置字段"},
		Description: node.Text{En: "Computes new fields with an expression, for later nodes to use.", Zh: "用表达式计算新字段，供后续节点使用。"},
		Icon:        "edit",
		Fields: []node.Field{
			{Name: "value", Kind: node.KindExpr, Required: true,
				Placeholder: `{"total": event.data.amount * 1.06, "vip": event.data.amount > 1000}`,
				Title:       node.Text{En: "Fields", Zh: "字段"},
				Help:        node.Text{En: "An expression giving a map, e.g. {\"total\": event.data.amount * 1.06}. Later nodes read nodes.<id>.total.", Zh: "给出映射的表达式，例如 {\"total\": event.data.amount * 1.06}。后续节点用 nodes.<id>.total 读取。"}},
		},
		Output: node.AnyObject(),
		Run: func(_ context.Context, in *node.Input) (*node.Result, error) {
			m, ok := in.Config["value"].(map[string]any)
			if !ok {
				return nil, node.Permanentf("the fields expression must give a map such as {\"total\": 1}, not %T", in.Config["value"])
			}
			return &node.Result{Output: m}, nil
		},
	})
}
