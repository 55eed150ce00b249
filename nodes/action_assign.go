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
		Description: node.Text{En: "Assigns the work to the next member of a team (round-robin) and records the assignment.", Zh: "按轮询将工作分配给团队的下一位成员，并记录分配。"},
		Icon:        "user-plus",
		Fields: []node.Field{
			{Name: "team", Kind: node.KindTeam, Required: true, Title: node.Text{En: "Team", Zh: "团队"}},
			{Name: "strategy", Kind: node.KindSelect, Default: "round_robin", Title: node.Text{En: "Strategy", Zh: "分配方式"},
				Options: []node.Option{{Value: "round_robin", Title: node.Text{En: "Round-robin", Zh: "轮询"}}}},
			{Name: "subject", Kind: node.KindTemplate, Title: node.Text{En: "Subject", Zh: "事项"}, Placeholder: "Payment {{ event.data.payment_id }} failed"},
			{Name: "reason", Kind: node.KindTemplate, Title: node.Text{En: "Reason", Zh: "原因"}},
			{Name: "due_in", Kind: node.KindDuration, Title: node.Text{En: "Due in", Zh: "截止时长"}, Placeholder: "4h"},
		},
		Output: node.Object(map[string]*node.Schema{
			"assignment_id": node.Str(), "team_id": node.Str(), "team_name": node.Str(),
			"assignee": memberSchema, "subject": node.Str(), "due_at": node.Str(),
		}),
		Run: func(ctx context.Context, in *node.Input) (*node.Result, error) {
			req := node.AssignRequest{RunID: in.RunID, NodeID: in.NodeID, Strategy: "round_robin"}
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
		Docs: "Use the assignee downstream, e.g. `{{ nodes.assign.assignee.phone }}`. A retried step keeps its first assignee.",
	})
}
