package nodes

import (
	"context"
	"strings"
	"time"

	"github.com/opsflow/opsflow/engine/compile"
	"github.com/opsflow/opsflow/engine/node"
)

func init() {
	node.Register(&node.Spec{
		Type:        "logic.wait_for_event",
		Category:    node.Logic,
		Title:       node.Text{En: "Wait for event", Zh: "等待事件"},
		Description: node.Text{En: "Pauses the run until a matching event arrives (e.g. payment.succeeded for the same order) or the time runs out.", Zh: "暂停运行，直到匹配的事件到达（例如同一订单的 payment.succeeded）或超时。"},
		Icon:        "hourglass",
		Fields: []node.Field{
			{Name: "event_type", Kind: node.KindString, Required: true, MaxLen: 200, Placeholder: "payment.succeeded",
				Title: node.Text{En: "Event type", Zh: "事件类型"}},
			{Name: "match_field", Kind: node.KindString, Required: true, MaxLen: 200, Placeholder: "order_id",
				Title: node.Text{En: "Field of the awaited event", Zh: "待等事件的字段"},
				Help:  node.Text{En: "Dotted path in the awaited event's data, e.g. order_id or metadata.order_id.", Zh: "待等事件 data 中的路径，如 order_id 或 metadata.order_id。"}},
			{Name: "match_value", Kind: node.KindTemplate, Required: true, MaxLen: 500, Placeholder: "{{ event.data.order_id }}",
				Title: node.Text{En: "Must equal", Zh: "须等于"}},
			{Name: "timeout", Kind: node.KindDuration, Default: "24h", Min: ptr(1), Max: ptr(90 * 24 * 3600),
				Title: node.Text{En: "Wait at most", Zh: "最长等待"}},
		},
		Ports: []string{"received", "timeout"},
		Output: node.Object(map[string]*node.Schema{
			"received": node.Boolean(),
			"event":    node.Object(map[string]*node.Schema{"id": node.Str(), "type": node.Str(), "data": node.AnyObject()}),
			"waited_s": node.Num(),
		}),
		Check: func(cfg map[string]any) []node.FieldError {
			if f := str(cfg, "match_field"); strings.ContainsAny(f, " *") || strings.HasPrefix(f, ".") || strings.HasSuffix(f, ".") {
				return []node.FieldError{{Field: "match_field", Message: "match field must be a dotted path such as order_id or metadata.order_id", Zh: "匹配字段必须是点分路径，例如 order_id 或 metadata.order_id"}}
			}
			return nil
		},
		Run: func(_ context.Context, in *node.Input) (*node.Result, error) {
			if in.Resumed {
				waited := time.Since(in.WaitStarted).Seconds()
				if in.Received != nil {
					return &node.Result{Port: "received", Output: map[string]any{"received": true, "event": in.Received, "waited_s": waited}}, nil
				}
				return &node.Result{Port: "timeout", Output: map[string]any{"received": false, "event": map[string]any{}, "waited_s": waited}}, nil
			}
			timeout, err := compile.ParseDuration(str(in.Config, "timeout"))
			if err != nil {
				return nil, node.Permanent(err)
			}
			value := str(in.Config, "match_value")
			if value == "" {
				return nil, node.Permanentf("the value to match is empty; the awaited event could never be recognised")
			}
			return &node.Result{
				WaitUntil: time.Now().Add(timeout),
				WaitFor:   &node.WaitFor{EventType: str(in.Config, "event_type"), Field: str(in.Config, "match_field"), Value: value},
			}, nil
		},
		Docs: node.Text{
			En: "The run is parked durably (it survives restarts). The first event of the type whose field equals the value resumes it on the `received` port with the event as `nodes.<id>.event`; otherwise it resumes on `timeout`. Values compare as text, so 42 matches \"42\".",
			Zh: "运行会被持久地挂起（重启后依然有效）。第一个类型相符、且指定字段等于指定值的事件会让它从 `received` 输出继续，事件在 `nodes.<id>.event` 中；否则超时后从 `timeout` 输出继续。值按文本比较，所以 42 与 \"42\" 相等。",
		},
	})
}
