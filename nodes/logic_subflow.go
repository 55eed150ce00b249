package nodes

import (
	"context"
	"time"

	"github.com/opsflow/opsflow/engine/compile"
	"github.com/opsflow/opsflow/engine/node"
)

func init() {
	node.Register(&node.Spec{
		Type:        "logic.subflow",
		Category:    node.Logic,
		Title:       node.Text{En: "Run another flow", Zh: "调用子流程"},
		Description: node.Text{En: "Runs another published flow with the given data and continues with its result.", Zh: "用给定数据运行另一个已发布流程，并使用其结果继续。"},
		Icon:        "flow",
		Fields: []node.Field{
			{Name: "flow", Kind: node.KindString, Required: true, MaxLen: 200,
				Title: node.Text{En: "Flow (name or id)", Zh: "流程（名称或 ID）"}},
			{Name: "input", Kind: node.KindExpr, Default: "event.data",
				Title: node.Text{En: "Input data", Zh: "输入数据"},
				Help:  node.Text{En: "What the called flow sees as event.data.", Zh: "被调用流程中的 event.data。"}},
			{Name: "timeout", Kind: node.KindDuration, Default: "1h", Min: ptr(1), Max: ptr(30 * 24 * 3600),
				Title: node.Text{En: "Wait at most", Zh: "最长等待"}},
		},
		Output: node.Object(map[string]*node.Schema{
			"run_id": node.Str(), "status": node.Str(), "result": node.Any(), "nodes": node.AnyObject(),
		}),
		Run: func(ctx context.Context, in *node.Input) (*node.Result, error) {
			if !in.Resumed {
				timeout, err := compile.ParseDuration(str(in.Config, "timeout"))
				if err != nil {
					return nil, node.Permanent(err)
				}
				id, err := in.Services.StartSubflow(ctx, node.SubflowRequest{ParentRunID: in.RunID, NodeID: in.NodeID, Flow: str(in.Config, "flow"), Data: in.Config["input"], DryRun: in.DryRun})
				if err != nil {
					return nil, err
				}
				return &node.Result{WaitUntil: time.Now().Add(timeout), WaitFor: &node.WaitFor{EventType: "run.finished", Field: "run_id", Value: id}}, nil
			}
			if in.Received == nil {
				return nil, node.Permanentf("flow %q did not finish within %s", str(in.Config, "flow"), str(in.Config, "timeout"))
			}
			data, _ := in.Received["data"].(map[string]any)
			if data["status"] != "succeeded" {
				return nil, node.Permanentf("flow %q %v: %v (run %v)", str(in.Config, "flow"), data["status"], data["error"], data["run_id"])
			}
			return &node.Result{Output: map[string]any{"run_id": data["run_id"], "status": data["status"], "result": data["result"], "nodes": data["nodes"]}}, nil
		},
		Docs: node.Text{
			En: "The called flow runs its published version as its own run (visible in the run history). `nodes.<id>.result` is the output of the last node it ran, `nodes.<id>.nodes.<node>` any of its nodes' outputs. If it fails, this step fails. Calls nest at most 5 deep.",
			Zh: "被调用的流程以其已发布版本作为独立的运行执行（可在运行记录中查看）。`nodes.<id>.result` 是它最后运行的节点的输出，`nodes.<id>.nodes.<node>` 是其中任一节点的输出。子流程失败，此步骤也失败。最多嵌套 5 层。",
		},
	})
}
