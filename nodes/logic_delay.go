package nodes

import (
	"context"
	"time"

	"github.com/opsflow/opsflow/engine/compile"
	"github.com/opsflow/opsflow/engine/node"
)

func init() {
	node.Register(&node.Spec{
		Type:        "logic.delay",
		Category:    node.Logic,
		Title:       node.Text{En: "Delay", Zh: "延时"},
		Description: node.Text{En: "Waits for a while, or until a time, then goes on. The wait survives restarts.", Zh: "等待一段时间或到某个时刻后继续。等待可跨越重启。"},
		Icon:        "clock",
		Fields: []node.Field{
			{Name: "duration", Kind: node.KindDuration, Placeholder: "2h", Max: ptr(365 * 24 * 3600),
				Title: node.Text{En: "Wait for", Zh: "等待时长"}},
			{Name: "until", Kind: node.KindTemplate, MaxLen: 100, Placeholder: "{{ event.data.due_at }}",
				Title: node.Text{En: "Or wait until", Zh: "或等到"},
				Help:  node.Text{En: "A time in RFC 3339 form, e.g. 2026-12-01T09:00:00+08:00. A time in the past does not wait.", Zh: "RFC 3339 格式的时间，如 2026-12-01T09:00:00+08:00。已过去的时间不等待。"}},
		},
		Output: node.Object(map[string]*node.Schema{"waited_s": node.Num(), "until": node.Str()}),
		Check: func(cfg map[string]any) []node.FieldError {
			if (cfg["duration"] == nil) == (cfg["until"] == nil) {
				return []node.FieldError{{Field: "duration", Message: "set either how long to wait or until when", Zh: "请设置等待多久，或等到何时（二选一）"}}
			}
			return nil
		},
		Run: func(_ context.Context, in *node.Input) (*node.Result, error) {
			start := time.Now()
			if in.Resumed {
				start = in.WaitStarted
			}
			var target time.Time
			if s := str(in.Config, "duration"); s != "" {
				d, err := compile.ParseDuration(s)
				if err != nil {
					return nil, node.Permanent(err)
				}
				target = start.Add(d)
			} else {
				t, err := time.Parse(time.RFC3339, str(in.Config, "until"))
				if err != nil {
					return nil, node.Permanentf("until %q is not an RFC 3339 time such as 2026-12-01T09:00:00+08:00", str(in.Config, "until"))
				}
				target = t
			}
			if time.Now().Before(target) {
				return &node.Result{WaitUntil: target}, nil
			}
			return &node.Result{Output: map[string]any{"waited_s": time.Since(start).Seconds(), "until": target.UTC().Format(time.RFC3339)}}, nil
		},
		Docs: node.Text{
			En: "The run is parked in the store and a scheduled task wakes it, so a 2-hour or 3-day delay survives restarts and deploys.",
			Zh: "运行会保存在数据库中，由定时任务唤醒，所以 2 小时或 3 天的等待在重启和部署后依然有效。",
		},
	})
}
