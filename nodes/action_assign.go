package nodes

import (
	"context"

	"github.com/opsflow/opsflow/engine/compile"
	"github.com/opsflow/opsflow/engine/node"
)

var memberSchema = node.Object(map[string]*node.Schema{"id": node.Str(), "name": node.Str(), "email": node.Str(), "phone": node.Str()})

func init() {
	node.Register(&node.Spec{
		Type:        "action.assign",
		Category:    node.Action,
		Title:       node.Text{En: "Assign to team", Zh: "分配给团队"},
		Description: node.Text{En: "Assigns the work to a team member — round-robin, fewest open assignments, or by rule — and records the assignment.", Zh: "将工作分配给团队成员（轮询、未完成最少者或按规则），并记录分配。"},
		Icon:        "user-plus",
		Fields: []node.Field{
			{Name: "team", Kind: node.KindTeam, Required: true, Title: node.Text{En: "Team", Zh: "团队"}},
			{Name: "strategy", Kind: node.KindSelect, Default: "round_robin", Title: node.Text{En: "Strategy", Zh: "分配方式"},
				Options: []node.Option{
					{Value: "round_robin", Title: node.Text{En: "Round-robin", Zh: "轮询"}},
					{Value: "least_open", Title: node.Text{En: "Fewest open assignments", Zh: "未完成最少者"}},
					{Value: "rule", Title: node.Text{En: "By rule", Zh: "按规则"}},
				}},
			{Name: "rule", Kind: node.KindExpr, ExprType: "string", Placeholder: `event.data.country == "CN" ? "Li Wei" : "Ana"`,
				Title: node.Text{En: "Rule", Zh: "规则"},
				Help:  node.Text{En: "With the rule strategy: an expression giving the member's name, email, phone or id.", Zh: "按规则分配时：给出成员姓名、邮箱、电话或 ID 的表达式。"}},
			{Name: "subject", Kind: node.KindTemplate, Title: node.Text{En: "Subject", Zh: "事项"}, Placeholder: "Payment {{ event.data.payment_id }} failed"},
			{Name: "reason", Kind: node.KindTemplate, Title: node.Text{En: "Reason", Zh: "原因"}},
			{Name: "due_in", Kind: node.KindDuration, Title: node.Text{En: "Due in", Zh: "截止时长"}, Placeholder: "4h"},
		},
		Output: node.Object(map[string]*node.Schema{
			"assignment_id": node.Str(), "team_id": node.Str(), "team_name": node.Str(),
			"assignee": memberSchema, "subject": node.Str(), "due_at": node.Str(),
		}),
		Run: func(ctx context.Context, in *node.Input) (*node.Result, error) {
			req := node.AssignRequest{RunID: in.RunID, NodeID: in.NodeID}
			req.Strategy, _ = in.Config["strategy"].(string)
			req.Member, _ = in.Config["rule"].(string)
			req.TeamID, _ = in.Config["team"].(string)
			req.Subject, _ = in.Config["subject"].(string)
			req.Reason, _ = in.Config["reason"].(string)
			if s, ok := in.Config["due_in"].(string); ok && s != "" {
				req.Due, _ = compile.ParseDuration(s)
			}
			a, err := in.Services.Assign(ctx, req)
			if err != nil {
				return nil, err
			}
			return &node.Result{Output: map[string]any{
				"assignment_id": a.ID, "team_id": a.TeamID, "team_name": a.TeamName, "subject": a.Subject, "due_at": a.DueAt,
				"assignee": map[string]any{"id": a.Assignee.ID, "name": a.Assignee.Name, "email": a.Assignee.Email, "phone": a.Assignee.Phone},
			}}, nil
		},
		Check: func(cfg map[string]any) []node.FieldError {
			if cfg["strategy"] == "rule" && cfg["rule"] == nil {
				return []node.FieldError{{Field: "rule", Message: "the rule strategy needs a rule", Zh: "“规则”分配方式需要填写规则"}}
			}
			return nil
		},
		Docs: node.Text{
			En: "Use the assignee downstream, e.g. `{{ nodes.assign.assignee.phone }}`. A retried step keeps its first assignee. Assignments are listed at GET /api/v1/assignments and closed with POST /api/v1/assignments/{id}/done, which also makes the member count as less busy for the least_open strategy.",
			Zh: "在后续节点中使用被分配的人，例如 `{{ nodes.assign.assignee.phone }}`。重试的步骤保留第一次分配的人。分配记录可在 GET /api/v1/assignments 查看，用 POST /api/v1/assignments/{id}/done 关闭；关闭后该成员在“最少未结”策略中算作更空闲。",
		},
	})
}
