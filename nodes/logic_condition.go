package nodes

import (
	"context"

	"github.com/opsflow/opsflow/engine/node"
)

func init() {
	node.Register(&node.Spec{
		Type:        "logic.condition",
		Category:    node.Logic,
		Title:       node.Text{En: "If / else", Zh: "条件判断"},
		Description: node.Text{En: "Takes the true or the false branch depending on an expression.", Zh: "根据表达式结果走“是”或“否”分支。"},
		Icon:        "split",
		Fields: []node.Field{
			{Name: "expression", Kind: node.KindExpr, ExprType: "bool", Required: true, Placeholder: "event.data.amount >= 100",
				Title: node.Text{En: "Condition", Zh: "条件"},
				Help:  node.Text{En: "An expression that is true or false, e.g. event.data.amount >= 100 && event.data.currency == \"USD\"", Zh: "结果为真或假的表达式，例如 event.data.amount >= 100 && event.data.currency == \"USD\""}},
		},
		Ports:  []string{"true", "false"},
		Output: node.Object(map[string]*node.Schema{"result": node.Boolean()}),
		Run: func(_ context.Context, in *node.Input) (*node.Result, error) {
			ok, _ := in.Config["expression"].(bool)
			port := "false"
			if ok {
				port = "true"
			}
			return &node.Result{Port: port, Output: map[string]any{"result": ok}}, nil
		},
		Docs: node.Text{
			En: "Expressions use expr-lang: `==`, `>=`, `&&`, `||`, `in`, `contains`, `startsWith`, `len()`, `now()` and more.",
			Zh: "表达式使用 expr-lang：`==`、`>=`、`&&`、`||`、`in`、`contains`、`startsWith`、`len()`、`now()` 等。",
		},
	})
}
