package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/opsflow/opsflow/engine/node"
	"github.com/opsflow/opsflow/engine/store"
)

// maxFiresPerTick bounds the catch-up after a pause (a slow tick, a suspended laptop).
const maxFiresPerTick = 10

// scheduleLoop starts time-triggered flows. Every process runs it; each fire time's event carries
// the idempotency key schedule:<flow>:<unix time>, so when several processes see the same fire
// time, the database lets exactly one of them start the run. Its first pass also catches up on
// fire times missed while every process was down (see missedFireTimes).
func (e *Engine) scheduleLoop(ctx context.Context, every time.Duration) {
	defer close(e.scheduleDone)
	checked := map[string]time.Time{} // flow@version → fire times up to here are handled
	startingUp := true
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			err := e.fireSchedules(ctx, now.UTC(), checked, startingUp)
			if err != nil && ctx.Err() == nil {
				e.log.Warn("scheduler", "error", err)
			}
			startingUp = err != nil // until a pass has gone through (the database may be down)
		}
	}
}

func scheduledTriggerTypes() []string {
	var out []string
	for _, s := range node.All() {
		if s.Schedule != nil {
			out = append(out, s.Type)
		}
	}
	return out
}

func (e *Engine) fireSchedules(ctx context.Context, now time.Time, checked map[string]time.Time, startingUp bool) error {
	types := scheduledTriggerTypes()
	if len(types) == 0 {
		return nil
	}
	var flows []store.Flow
	err := e.Store.DB.WithContext(ctx).Select("id", "published_version").
		Where("enabled = ? AND published_version > 0 AND trigger_type IN ?", true, types).Find(&flows).Error
	if err != nil {
		return err
	}
	var marks map[string]time.Time
	if startingUp {
		ids := make([]string, len(flows))
		for i, f := range flows {
			ids[i] = f.ID
		}
		if marks, err = e.Store.ScheduleMarks(ctx, ids); err != nil {
			return err
		}
	}
	live := map[string]bool{}
	for _, f := range flows {
		key := fmt.Sprintf("%s@%d", f.ID, f.PublishedVersion)
		live[key] = true
		from, seen := checked[key]
		cf, err := e.compiledVersion(ctx, f.ID, f.PublishedVersion)
		if err != nil {
			return err
		}
		trig := cf.Trigger
		next, err := trig.Spec.Schedule(trig.LiteralConfig())
		if err != nil {
			return fmt.Errorf("flow %s: %w", f.ID, err)
		}
		if !seen {
			// A schedule seen for the first time starts from now. At start-up, the fire times
			// after its mark were missed while every process was down: its policy says which run.
			if mark, ok := marks[f.ID]; ok && trig.Spec.CatchUp != nil {
				for _, t := range missedFireTimes(next, trig.Spec.CatchUp(trig.LiteralConfig()), mark, now) {
					if err := e.fireSchedule(ctx, f, trig.LiteralConfig(), t); err != nil {
						return err
					}
				}
			}
			if err := e.Store.AdvanceScheduleMark(ctx, f.ID, now); err != nil {
				return err
			}
			checked[key] = now
			continue
		}
		n := 0
		for t := next(from); !t.After(now) && n < maxFiresPerTick; t = next(t) {
			n++
			if err := e.fireSchedule(ctx, f, trig.LiteralConfig(), t); err != nil {
				return err
			}
			from = t
		}
		if n > 0 {
			if err := e.Store.AdvanceScheduleMark(ctx, f.ID, from); err != nil {
				return err
			}
		}
		if n < maxFiresPerTick {
			from = maxTime(from, now)
		}
		checked[key] = from
	}
	for key := range checked {
		if !live[key] {
			delete(checked, key)
		}
	}
	return nil
}

// fireSchedule starts the run of one fire time, unless a process already did.
func (e *Engine) fireSchedule(ctx context.Context, f store.Flow, cfg map[string]any, t time.Time) error {
	tz, _ := cfg["timezone"].(string)
	idem := fmt.Sprintf("schedule:%s:%d", f.ID, t.Unix())
	ev := &store.Event{Type: "schedule", Source: "schedule", FlowID: f.ID, IdempotencyKey: &idem}
	data := map[string]any{"scheduled_at": t.Format(time.RFC3339), "timezone": tz}
	_, err := e.accept(ctx, ev, data, []target{{flowID: f.ID, version: f.PublishedVersion}})
	return err
}

// missedFireTimes returns the fire times after mark, up to now, that a catch-up policy runs: none,
// the latest, or each (the latest node.MaxCatchUpRuns), counting only those within its window.
func missedFireTimes(next node.Schedule, c node.CatchUp, mark, now time.Time) []time.Time {
	if c.Policy != node.CatchUpLast && c.Policy != node.CatchUpAll {
		return nil
	}
	var missed []time.Time
	for t := next(maxTime(mark, now.Add(-c.Window))); !t.After(now); t = next(t) {
		missed = append(missed, t)
		if len(missed) > node.MaxCatchUpRuns {
			missed = missed[1:]
		}
	}
	if c.Policy == node.CatchUpLast && len(missed) > 1 {
		missed = missed[len(missed)-1:]
	}
	return missed
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
