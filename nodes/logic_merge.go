package nodes

import (
	"context"

	"github.com/opsflow/opsflow/engine/node"
)

func init() {
	node.Register(&node.Spec{
		Type:        "logic.merge",
		Category:    node.Logic,
		Title:       node.Text{En: "Merge", Zh: "合并"},
		Description: node.Text{En: "Joins branches: runs once, after every branch leading here has finished or been skipped.", Zh: "汇合分支：在所有通向此处的分支完成或跳过后运行一次。"},
		Icon:        "merge",
		Output: node.Object(map[string]*node.Schema{
			"branches": node.ArrayOf(node.Str()),
			"outputs":  node.AnyObject(),
		}),
		Run: func(_ context.Context, in *node.Input) (*node.Result, error) {
			nodes, _ := in.Env["nodes"].(map[string]any)
			outputs := map[string]any{}
			branches := make([]any, 0, len(in.Inputs))
			for _, id := range in.Inputs {
				branches = append(branches, id)
				outputs[id] = nodes[id]
			}
			return &node.Result{Output: map[string]any{"branches": branches, "outputs": outputs}}, nil
		},
		Docs: node.Text{
			En: "Flows run in dependency order, so a merge always sees every incoming branch decided. `nodes.<id>.branches` lists the incoming nodes that ran; `nodes.<id>.outputs.<node>` their outputs.",
			Zh: "流程按依赖顺序运行，所以合并节点总能看到每个输入分支的结果。`nodes.<id>.branches` 列出实际运行过的输入节点；`nodes.<id>.outputs.<node>` 是它们的输出。",
		},
	})
}
