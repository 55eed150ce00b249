package nodes

import (
	"context"
	"time"

	"github.com/opsflow/opsflow/engine/compile"
	"github.com/opsflow/opsflow/engine/node"
)

func init() {
	node.Register(&node.Spec{
		Type:        "logic.event_count",
		Category:    node.Logic,
		Title:       node.Text{En: "Count recent events", Zh: "统计近期事件"},
		Description: node.Text{En: "Counts events of a type received in a recent window, e.g. payment failures of this customer in the last hour.", Zh: "统计最近一段时间内收到的某类事件数量，例如该客户一小时内的支付失败次数。"},
		Icon:        "tally",
		Fields: []node.Field{
			{Name: "event_type", Kind: node.KindString, Required: true, MaxLen: 200, Placeholder: "payment_intent.payment_failed",
				Title: node.Text{En: "Event type", Zh: "事件类型"}},
			{Name: "match_field", Kind: node.KindString, MaxLen: 200, Placeholder: "data.object.customer",
				Title: node.Text{En: "Only where field", Zh: "仅统计字段"},
				Help:  node.Text{En: "Optional dotted path in the counted events' data; leave empty to count all events of the type.", Zh: "可选，被统计事件 data 中的路径；留空则统计该类型全部事件。"}},
			{Name: "match_value", Kind: node.KindTemplate, MaxLen: 500, Placeholder: "{{ event.data.data.object.customer }}",
				Title: node.Text{En: "equals", Zh: "等于"}},
			{Name: "window", Kind: node.KindDuration, Default: "1h", Min: ptr(1), Max: ptr(90 * 24 * 3600),
				Title: node.Text{En: "Within the last", Zh: "统计时长"}},
		},
		Output: node.Object(map[string]*node.Schema{"count": node.Num(), "since": node.Str()}),
		Check: func(cfg map[string]any) []node.FieldError {
			if (str(cfg, "match_field") == "") != (str(cfg, "match_value") == "") {
				return []node.FieldError{{Field: "match_value", Message: "set both the field and the value to match, or neither", Zh: "匹配字段和匹配值要么都填，要么都不填"}}
			}
			return nil
		},
		Run: func(ctx context.Context, in *node.Input) (*node.Result, error) {
			window, err := compile.ParseDuration(str(in.Config, "window"))
			if err != nil {
				return nil, node.Permanent(err)
			}
			since := time.Now().Add(-window)
			n, err := in.Services.CountEvents(ctx, str(in.Config, "event_type"), str(in.Config, "match_field"), str(in.Config, "match_value"), since)
			if err != nil {
				return nil, err
			}
			return &node.Result{Output: map[string]any{"count": n, "since": since.UTC().Format(time.RFC3339)}}, nil
		},
		Docs: node.Text{
			En: "The count includes the event that started this run when it is of the counted type. Values compare as text. At most 10,000 events are read per count.",
			Zh: "如果启动本次运行的事件属于被计数的类型，它也计入其中。值按文本比较。每次计数最多读取 10,000 个事件。",
		},
	})
}
