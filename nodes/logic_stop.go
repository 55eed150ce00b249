package nodes

import (
	"context"
	"errors"

	"github.com/opsflow/opsflow/engine/node"
)

func init() {
	node.Register(&node.Spec{
		Type:        "logic.stop",
		Category:    node.Logic,
		Title:       node.Text{En: "Stop", Zh: "结束"},
		Description: node.Text{En: "Ends the run here, as a success or as an error with a message.", Zh: "在此结束运行：成功，或带消息的失败。"},
		Icon:        "stop",
		Fields: []node.Field{
			{Name: "outcome", Kind: node.KindSelect, Default: "success", Title: node.Text{En: "Outcome", Zh: "结果"},
				Options: []node.Option{{Value: "success", Title: node.Text{En: "Success", Zh: "成功"}}, {Value: "error", Title: node.Text{En: "Error", Zh: "失败"}}}},
			{Name: "message", Kind: node.KindTemplate, MaxLen: 2000, Title: node.Text{En: "Message", Zh: "消息"}},
		},
		Output: node.Object(map[string]*node.Schema{"message": node.Str()}),
		Run: func(_ context.Context, in *node.Input) (*node.Result, error) {
			msg := str(in.Config, "message")
			if str(in.Config, "outcome") == "error" {
				if msg == "" {
					msg = "stopped with an error"
				}
				return nil, node.Permanent(errors.New(msg))
			}
			return &node.Result{Stop: true, Output: map[string]any{"message": msg}}, nil
		},
		Docs: node.Text{
			En: "Nothing after this node runs. A subflow ending here passes its message as the result.",
			Zh: "此节点之后的节点都不会运行。在子流程中以此结束时，它的消息就是子流程的结果。",
		},
	})
}
