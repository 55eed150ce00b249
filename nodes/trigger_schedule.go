package nodes

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // time zones work on minimal images too

	"github.com/robfig/cron/v3"

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
		Docs: node.Text{
			En: "`event.data.scheduled_at` is the fire time (RFC 3339, in the flow's time zone). Each fire time starts one run even when several opsflow processes are running; fire times missed while every process was down are not replayed.",
			Zh: "`event.data.scheduled_at` 是触发时间（RFC 3339，按流程的时区）。即使运行着多个 opsflow 进程，每个触发时间也只启动一次运行；所有进程都停机期间错过的触发时间不会补跑。",
		},
	})
}
