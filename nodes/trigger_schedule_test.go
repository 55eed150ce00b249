package nodes_test

import (
	"strings"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine/compile"
	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/store"
)

// Two opsflow processes share one database: a schedule firing every second starts exactly one
// run per fire time.
func TestScheduleFiresOncePerTimeAcrossProcesses(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			cfg := enginetest.Config(t, b)
			a := enginetest.Start(t, cfg)
			enginetest.Start(t, cfg)
			enginetest.Publish(t, a, enginetest.MustFlow(t, `{"name":"tick","nodes":[
				{"id":"t","type":"trigger.schedule","config":{"cron":"* * * * * *","timezone":"Asia/Shanghai"}},
				{"id":"l","type":"action.log","config":{"message":"tick {{ event.data.scheduled_at }}"}}],"edges":[{"from":"t","to":"l"}]}`))
			time.Sleep(4500 * time.Millisecond)
			var events []store.Event
			a.Store.DB.Where("source = ?", "schedule").Order("id").Find(&events)
			if len(events) < 2 {
				t.Fatalf("%d scheduled events in 4.5s, want at least 2", len(events))
			}
			seen := map[string]bool{}
			for _, ev := range events {
				if seen[ev.Data] {
					t.Errorf("fire time %s started twice", ev.Data)
				}
				seen[ev.Data] = true
				var runs []store.Run
				a.Store.DB.Where("event_id = ?", ev.ID).Find(&runs)
				if len(runs) != 1 {
					t.Errorf("event %s started %d runs", ev.Data, len(runs))
				}
			}
			if !strings.Contains(events[0].Data, "+08:00") && strings.Contains(events[0].Data, "Asia/Shanghai") {
				t.Errorf("scheduled_at should be in the flow's time zone: %s", events[0].Data)
			}
		})
	}
}

func TestScheduleConfigChecked(t *testing.T) {
	for cfg, want := range map[string]string{
		`{"cron":"61 * * * *"}`:                          "invalid cron expression",
		`{"cron":"0 2 * * *","timezone":"Mars/Olympus"}`: "unknown time zone",
		`{"cron":"CRON_TZ=Asia/Shanghai 0 2 * * *"}`:     "timezone field",
	} {
		f := enginetest.MustFlow(t, `{"name":"s","nodes":[{"id":"t","type":"trigger.schedule","config":`+cfg+`},
			{"id":"l","type":"action.log","config":{"message":"x"}}],"edges":[{"from":"t","to":"l"}]}`)
		_, problems := compile.Compile(f, nil)
		if problems == nil || !strings.Contains(problems.Error(), want) {
			t.Errorf("%s: problems %v, want %q", cfg, problems, want)
		}
	}
	for _, ok := range []string{`{"cron":"0 2 * * *","timezone":"Asia/Shanghai"}`, `{"cron":"@every 15m"}`, `{"cron":"30 0 9 * * MON-FRI"}`} {
		f := enginetest.MustFlow(t, `{"name":"s","nodes":[{"id":"t","type":"trigger.schedule","config":`+ok+`},
			{"id":"l","type":"action.log","config":{"message":"x"}}],"edges":[{"from":"t","to":"l"}]}`)
		if _, problems := compile.Compile(f, nil); problems != nil {
			t.Errorf("%s: %v", ok, problems)
		}
	}
}
