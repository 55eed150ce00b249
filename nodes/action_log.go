package nodes

import (
	"context"

	"github.com/opsflow/opsflow/engine/node"
)

func init() {
	node.Register(&node.Spec{
		Type:        "action.log",
		Category:    node.Action,
		Title:       node.Text{En: "Log", Zh: "记录日志"},
		Description: node.Text{En: "Writes a message to the run history and the server log.", Zh: "将消息写入运行记录和服务器日志。"},
		Icon:        "note",
		Fields: []node.Field{
			{Name: "message", Kind: node.KindTemplate, Required: true, Title: node.Text{En: "Message", Zh: "消息"}},
			{Name: "level", Kind: node.KindSelect, Default: "info", Title: node.Text{En: "Level", Zh: "级别"},
				Options: []node.Option{{Value: "info", Title: node.Text{En: "Info", Zh: "信息"}}, {Value: "warn", Title: node.Text{En: "Warning", Zh: "警告"}}, {Value: "error", Title: node.Text{En: "Error", Zh: "错误"}}}},
		},
		Output: node.Object(map[string]*node.Schema{"message": node.Str(), "level": node.Str()}),
		Run: func(_ context.Context, in *node.Input) (*node.Result, error) {
			msg, _ := in.Config["message"].(string)
			level, _ := in.Config["level"].(string)
			switch level {
			case "warn":
				in.Log.Warn(msg)
			case "error":
				in.Log.Error(msg)
			default:
				in.Log.Info(msg)
			}
			return &node.Result{Output: map[string]any{"message": msg, "level": level}}, nil
		},
	})
}
