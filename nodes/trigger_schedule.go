package nodes

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // time zones work on minimal images too

	"github.com/robfig/cron/v3"

	"github.com/opsflow/opsflow/engine/compile"
	"github.com/opsflow/opsflow/engine/node"
)

// cronParser accepts standard 5-field cron, an optional leading seconds field, and descriptors
// such as @daily or @every 15m.
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

func parseSchedule(cfg map[string]any) (node.Schedule, error) {
	expr := strings.TrimSpace(str(cfg, "cron"))
	if strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ=") {
		return nil, fmt.Errorf("set the time zone in the timezone field, not in the cron expression")
	}
	tz := str(cfg, "timezone")
	if tz == "" {
		tz = "UTC"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q (use an IANA name such as Asia/Shanghai)", tz)
	}
	sched, err := cronParser.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("invalid cron expression %q: %v", expr, err)
	}
	return func(after time.Time) time.Time { return sched.Next(after.In(loc)) }, nil
}

// parseCatchUp reads the catch-up policy; the compiler has checked both fields and applied
// their defaults.
func parseCatchUp(cfg map[string]any) node.CatchUp {
	c := node.CatchUp{Policy: str(cfg, "catch_up"), Window: 24 * time.Hour}
	if c.Policy == "" {
		c.Policy = node.CatchUpLast
	}
	if w, err := compile.ParseDuration(str(cfg, "catch_up_window")); err == nil && w > 0 {
		c.Window = w
	}
	return c
}

func init() {
	node.Register(&node.Spec{
		Type:        "trigger.schedule",
		Category:    node.Trigger,
		Title:       node.Text{En: "Schedule", Zh: "定时触发"},
		Description: node.Text{En: "Starts the flow on a cron schedule in a time zone, once per fire time however many workers run.", Zh: "按时区内的 cron 计划启动流程；无论多少个 worker 运行，每个时刻只触发一次。"},
		Icon:        "clock",
		Fields: []node.Field{
			{Name: "cron", Kind: node.KindString, Required: true, MaxLen: 200, Placeholder: "0 2 * * *",
				Title: node.Text{En: "Cron expression", Zh: "Cron 表达式"},
				Help:  node.Text{En: "minute hour day month weekday, with optional leading seconds; or @daily, @hourly, @every 15m.", Zh: "分 时 日 月 周，可在最前加秒；或 @daily、@hourly、@every 15m。"}},
			{Name: "timezone", Kind: node.KindString, Default: "UTC", MaxLen: 64, Placeholder: "Asia/Shanghai",
				Title: node.Text{En: "Time zone", Zh: "时区"}},
			{Name: "catch_up", Kind: node.KindSelect, Default: node.CatchUpLast,
				Title: node.Text{En: "Missed while down", Zh: "停机期间错过的"},
				Help: node.Text{En: "Fire times missed while every opsflow process was down: run the latest once, run each, or skip them.",
					Zh: "所有 opsflow 进程都停机期间错过的触发时间：只补跑最近一次、逐个补跑，或跳过。"},
				Options: []node.Option{
					{Value: node.CatchUpLast, Title: node.Text{En: "Run the latest once", Zh: "补跑最近一次"}},
					{Value: node.CatchUpAll, Title: node.Text{En: fmt.Sprintf("Run each (at most %d)", node.MaxCatchUpRuns), Zh: fmt.Sprintf("逐个补跑（最多 %d 次）", node.MaxCatchUpRuns)}},
					{Value: node.CatchUpNone, Title: node.Text{En: "Skip", Zh: "跳过"}},
				}},
			{Name: "catch_up_window", Kind: node.KindDuration, Default: "24h", Min: ptr(1), Max: ptr(7 * 24 * 3600),
				ShowIf: map[string][]string{"catch_up": {node.CatchUpLast, node.CatchUpAll}},
				Title:  node.Text{En: "Catch up at most", Zh: "最多补跑"},
				Help:   node.Text{En: "Only fire times this recent are caught up (up to 7d).", Zh: "只补跑这段时间内的触发时间（最长 7d）。"}},
		},
		OutputFor: func(map[string]any) *node.Schema {
			return eventSchema(map[string]any{"sample": map[string]any{"scheduled_at": "", "timezone": ""}}, nil)
		},
		Check: func(cfg map[string]any) []node.FieldError {
			if _, err := parseSchedule(cfg); err != nil {
				field := "cron"
				if strings.Contains(err.Error(), "time zone") {
					field = "timezone"
				}
				return []node.FieldError{{Field: field, Message: err.Error()}}
			}
			return nil
		},
		Schedule: parseSchedule,
		CatchUp:  parseCatchUp,
		Docs: node.Text{
			En: "`event.data.scheduled_at` is the fire time (RFC 3339, in the flow's time zone). Each fire time starts one run even when several opsflow processes are running. " +
				"Fire times missed while every process was down are handled by the first process to start, by `catch_up`: `last` (the default) runs the latest of them once, " +
				fmt.Sprintf("`all` runs each (the latest %d at most), `none` skips them; only those within `catch_up_window` (default 24h, at most 7d) count. ", node.MaxCatchUpRuns) +
				"A flow published, or enabled again, while processes run starts from then: earlier fire times are not run.",
			Zh: "`event.data.scheduled_at` 是触发时间（RFC 3339，按流程的时区）。即使运行着多个 opsflow 进程，每个触发时间也只启动一次运行。" +
				"所有进程都停机期间错过的触发时间由第一个启动的进程按 `catch_up` 处理：`last`（默认）只补跑其中最近的一次，" +
				fmt.Sprintf("`all` 逐个补跑（最多最近 %d 次），`none` 跳过；只计 `catch_up_window`（默认 24h，最长 7d）之内的。", node.MaxCatchUpRuns) +
				"在进程运行时发布或重新启用的流程从那时开始：之前的触发时间不会运行。",
		},
	})
}
