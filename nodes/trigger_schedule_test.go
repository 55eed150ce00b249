package nodes_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/compile"
	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/node"
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
		`{"cron":"0 2 * * *","catch_up":"sometimes"}`:    "must be one of last, all, none",
		`{"cron":"0 2 * * *","catch_up_window":"30d"}`:   "must be at most",
	} {
		f := enginetest.MustFlow(t, `{"name":"s","nodes":[{"id":"t","type":"trigger.schedule","config":`+cfg+`},
			{"id":"l","type":"action.log","config":{"message":"x"}}],"edges":[{"from":"t","to":"l"}]}`)
		_, problems := compile.Compile(f, nil)
		if problems == nil || !strings.Contains(problems.Error(), want) {
			t.Errorf("%s: problems %v, want %q", cfg, problems, want)
		}
	}
	for _, ok := range []string{`{"cron":"0 2 * * *","timezone":"Asia/Shanghai"}`, `{"cron":"@every 15m"}`, `{"cron":"30 0 9 * * MON-FRI"}`, `{"cron":"0 2 * * *","catch_up":"all","catch_up_window":"7d"}`} {
		f := enginetest.MustFlow(t, `{"name":"s","nodes":[{"id":"t","type":"trigger.schedule","config":`+ok+`},
			{"id":"l","type":"action.log","config":{"message":"x"}}],"edges":[{"from":"t","to":"l"}]}`)
		if _, problems := compile.Compile(f, nil); problems != nil {
			t.Errorf("%s: %v", ok, problems)
		}
	}
}

// Fire times missed while every process was down: a flow whose mark (the time up to which its fire
// times were handled) lies hours back gets, when a process starts, the runs its catch_up policy
// names, within its window and cap, each once however many processes start.
func TestScheduleCatchUpAfterDowntime(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			// Missed fire times are counted back from the first pass of the starting process, which
			// the test learns after the fact (the mark it records), so an hour or minute that turns
			// meanwhile changes what is expected, not whether the test passes.
			now := time.Now().UTC()
			hour := now.Truncate(time.Hour)
			hoursFrom := func(first time.Time) func(time.Time) []time.Time { // first … the pass's hour
				return func(pass time.Time) (out []time.Time) {
					for h := first; !h.After(pass); h = h.Add(time.Hour) {
						out = append(out, h)
					}
					return out
				}
			}
			latest := func(n int, every time.Duration) func(time.Time) []time.Time { // the n fire times up to the pass
				return func(pass time.Time) (out []time.Time) {
					for i := n - 1; i >= 0; i-- {
						out = append(out, pass.Truncate(every).Add(-time.Duration(i)*every))
					}
					return out
				}
			}
			none := func(time.Time) []time.Time { return nil }
			for _, c := range []struct {
				name, cron, config string
				mark               time.Time
				want               func(pass time.Time) []time.Time
				processes          int
			}{
				{"last is the default", "0 * * * *", ``, hour.Add(-4*time.Hour - 30*time.Minute), latest(1, time.Hour), 1},
				{"all", "0 * * * *", `,"catch_up":"all"`, hour.Add(-4*time.Hour - 30*time.Minute), hoursFrom(hour.Add(-4 * time.Hour)), 2},
				{"all within the window", "0 * * * *", `,"catch_up":"all","catch_up_window":"2h"`, hour.Add(-72 * time.Hour), latest(2, time.Hour), 1},
				{"all is capped", "* * * * *", `,"catch_up":"all"`, now.Add(-10 * time.Hour), latest(node.MaxCatchUpRuns, time.Minute), 1},
				{"none", "0 * * * *", `,"catch_up":"none"`, hour.Add(-4*time.Hour - 30*time.Minute), none, 1},
			} {
				t.Run(c.name, func(t *testing.T) {
					cfg := enginetest.Config(t, b)
					// Publish while no process runs the scheduler, and record a mark in the past.
					offline := cfg
					offline.Offline = true
					e, err := engine.Open(offline)
					if err != nil {
						t.Fatal(err)
					}
					flowID := enginetest.Publish(t, e, enginetest.MustFlow(t, `{"name":"catch up","nodes":[
						{"id":"t","type":"trigger.schedule","config":{"cron":"`+c.cron+`"`+c.config+`}},
						{"id":"l","type":"action.log","config":{"message":"tick {{ event.data.scheduled_at }}"}}],"edges":[{"from":"t","to":"l"}]}`))
					for _, m := range []time.Time{c.mark, c.mark.Add(-time.Hour)} { // a mark never moves back
						if err := e.Store.AdvanceScheduleMark(context.Background(), flowID, m); err != nil {
							t.Fatal(err)
						}
					}
					if marks, _ := e.Store.ScheduleMarks(context.Background(), []string{flowID}); !marks[flowID].Equal(c.mark.Truncate(time.Second)) {
						t.Fatalf("mark %v, want %v", marks[flowID], c.mark)
					}
					e.Close()

					started := time.Now().UTC()
					var procs []*engine.Engine
					for range c.processes {
						procs = append(procs, enginetest.Start(t, cfg))
					}
					a := procs[0]
					// Once the mark reaches the start, a first pass (with its catch-up) is done, and the
					// mark is the time it ran.
					var pass time.Time
					for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
						marks, err := a.Store.ScheduleMarks(context.Background(), []string{flowID})
						if err != nil {
							t.Fatal(err)
						}
						if pass = marks[flowID]; !pass.Before(started.Truncate(time.Second)) {
							break
						}
						if time.Now().After(deadline) {
							t.Fatalf("no process handled the schedule: mark %v", marks[flowID])
						}
					}
					var events []store.Event
					a.Store.DB.Where("source = ? AND flow_id = ?", "schedule", flowID).Find(&events)
					fired := map[time.Time]int{}
					for _, ev := range events {
						var data struct {
							ScheduledAt time.Time `json:"scheduled_at"`
						}
						if err := json.Unmarshal([]byte(ev.Data), &data); err != nil {
							t.Fatal(err)
						}
						fired[data.ScheduledAt.UTC()]++
						var runs int64
						a.Store.DB.Model(&store.Run{}).Where("event_id = ?", ev.ID).Count(&runs)
						if runs != 1 {
							t.Errorf("fire time %s started %d runs", data.ScheduledAt, runs)
						}
					}
					want := c.want(pass)
					for _, w := range want {
						if fired[w] != 1 {
							t.Errorf("missed fire time %s ran %d times, want once", w, fired[w])
						}
					}
					for ft := range fired {
						// Fire times after the first pass are the schedule running on, not catch-up.
						if !ft.After(pass) && !slices.Contains(want, ft) {
							t.Errorf("fire time %s ran; the catch-up should run only %v", ft, want)
						}
					}

				})
			}
		})
	}
}

// A deleted flow leaves no schedule mark behind.
func TestScheduleMarkDeletedWithFlow(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			cfg := enginetest.Config(t, b)
			cfg.Offline = true // no scheduler: nothing writes marks but the test
			e, err := engine.Open(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			ctx := context.Background()
			flowID := enginetest.Publish(t, e, enginetest.MustFlow(t, `{"name":"s","nodes":[{"id":"t","type":"trigger.schedule","config":{"cron":"@daily"}},
				{"id":"l","type":"action.log","config":{"message":"x"}}],"edges":[{"from":"t","to":"l"}]}`))
			if err := e.Store.AdvanceScheduleMark(ctx, flowID, time.Now()); err != nil {
				t.Fatal(err)
			}
			if marks, _ := e.Store.ScheduleMarks(ctx, []string{flowID}); len(marks) != 1 {
				t.Fatalf("marks %v", marks)
			}
			if err := e.DeleteFlow(ctx, flowID); err != nil {
				t.Fatal(err)
			}
			if marks, err := e.Store.ScheduleMarks(ctx, []string{flowID}); err != nil || len(marks) != 0 {
				t.Errorf("marks after delete: %v %v", marks, err)
			}
		})
	}
}
