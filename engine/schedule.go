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
// time, the database lets exactly one of them start the run.
func (e *Engine) scheduleLoop(ctx context.Context, every time.Duration) {
	defer close(e.scheduleDone)
	checked := map[string]time.Time{} // flow@version → fire times up to here are handled
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if err := e.fireSchedules(ctx, now.UTC(), checked); err != nil && ctx.Err() == nil {
				e.log.Warn("scheduler", "error", err)
			}
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

func (e *Engine) fireSchedules(ctx context.Context, now time.Time, checked map[string]time.Time) error {
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
	live := map[string]bool{}
	for _, f := range flows {
		key := fmt.Sprintf("%s@%d", f.ID, f.PublishedVersion)
		live[key] = true
		from, seen := checked[key]
		if !seen {
			// A newly seen schedule starts from now: fire times before this process saw it are not replayed.
			checked[key] = now
			continue
		}
		cf, err := e.compiledVersion(ctx, f.ID, f.PublishedVersion)
		if err != nil {
			return err
		}
		trig := cf.Trigger
		next, err := trig.Spec.Schedule(trig.LiteralConfig())
		if err != nil {
			return fmt.Errorf("flow %s: %w", f.ID, err)
		}
		tz, _ := trig.LiteralConfig()["timezone"].(string)
		n := 0
		for t := next(from); !t.After(now) && n < maxFiresPerTick; t = next(t) {
			n++
			idem := fmt.Sprintf("schedule:%s:%d", f.ID, t.Unix())
			ev := &store.Event{Type: "schedule", Source: "schedule", FlowID: f.ID, IdempotencyKey: &idem}
			data := map[string]any{"scheduled_at": t.Format(time.RFC3339), "timezone": tz}
			if _, err := e.accept(ctx, ev, data, []target{{flowID: f.ID, version: f.PublishedVersion}}); err != nil {
				return err
			}
			from = t
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

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
