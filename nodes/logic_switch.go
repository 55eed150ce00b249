package nodes

import (
	"context"
	"fmt"

	"github.com/opsflow/opsflow/engine/node"
)

// switchCases is how many ordered cases logic.switch offers; ports are static, one per case.
const switchCases = 5

func init() {
	fields := make([]node.Field, 0, switchCases)
	ports := make([]string, 0, switchCases+1)
	for i := 1; i <= switchCases; i++ {
		name := fmt.Sprintf("case_%d", i)
		fields = append(fields, node.Field{Name: name, Kind: node.KindExpr, ExprType: "bool", Required: i == 1,
			Placeholder: `event.data.currency == "CNY"`,
			Title:       node.Text{En: fmt.Sprintf("Case %d", i), Zh: fmt.Sprintf("条件 %d", i)},
			Help:        node.Text{En: fmt.Sprintf("Taken (port %s) when true and no earlier case was.", name), Zh: fmt.Sprintf("为真且前面的条件都不成立时，走 %s 分支。", name)}})
		ports = append(ports, name)
	}
	ports = append(ports, "default")
	node.Register(&node.Spec{
		Type:        "logic.switch",
		Category:    node.Logic,
		Title:       node.Text{En: "Switch", Zh: "多路分支"},
		Description: node.Text{En: "Takes the branch of the first case that is true, or default.", Zh: "走第一个成立条件的分支，都不成立则走默认分支。"},
		Icon:        "switch",
		Fields:      fields,
		Ports:       ports,
		Output:      node.Object(map[string]*node.Schema{"case": node.Str()}),
		Run: func(_ context.Context, in *node.Input) (*node.Result, error) {
			for _, port := range ports[:switchCases] {
				if ok, _ := in.Config[port].(bool); ok {
					return &node.Result{Port: port, Output: map[string]any{"case": port}}, nil
				}
			}
			return &node.Result{Port: "default", Output: map[string]any{"case": "default"}}, nil
		},
		Docs: node.Text{
			En: "Cases are checked in order, case_1 first; leave the ones you do not need empty. Connect each case's port (case_1 … case_5) and default.",
			Zh: "按顺序检查各个分支，从 case_1 开始；用不到的留空即可。请连接每个分支的输出（case_1 … case_5）和 default。",
		},
	})
}
