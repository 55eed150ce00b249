package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/opsflow/opsflow/engine/compile"
	"github.com/opsflow/opsflow/engine/store"
)

// Replay jobs: CreateReplay fixes the version and the events; the job runs as a task on the
// queue (RunReplay), in batches, checking between batches whether it was cancelled; each event's
// comparison is stored as it is made, so a retried task continues where the last one stopped.

// TaskReplay is the asynq task type that runs a replay job.
const TaskReplay = "replay:run"

const (
	// MaxReplayEvents is the most events one replay may select.
	MaxReplayEvents = 10000
	// DefaultReplayLast is how many of the latest events a replay without a selection takes.
	DefaultReplayLast = 100
	// ReplayRetention is how long replays are kept.
	ReplayRetention = 7 * 24 * time.Hour
	// replayBatch is how many events are replayed between cancel checks and progress writes.
	replayBatch = 100
)

// ReplaySelection chooses recorded events: the last N this flow ran for, those it ran for within
// a time range, or explicit event ids.
type ReplaySelection struct {
	Last     int        `json:"last,omitempty"`
	Since    *time.Time `json:"since,omitempty"`
	Until    *time.Time `json:"until,omitempty"`
	EventIDs []string   `json:"event_ids,omitempty"`
}

// ReplayInputError is a replay request that cannot be carried out as asked.
type ReplayInputError struct{ Msg string }

func (e *ReplayInputError) Error() string { return e.Msg }

// ErrReplayFinished answers a cancel of a replay that already ended.
var ErrReplayFinished = errors.New("the replay has already finished")

// CreateReplay stores a replay job of version (0: the draft, i.e. the latest version) over the
// selected events. The caller hands it to the queue (EnqueueReplay) or runs it (RunReplay).
func (e *Engine) CreateReplay(ctx context.Context, flowID string, version int, sel ReplaySelection, by string) (*store.Replay, error) {
	db := e.Store.DB.WithContext(ctx)
	var f store.Flow
	if err := db.Where("id = ?", flowID).Take(&f).Error; err != nil {
		return nil, store.NotFound(err)
	}
	draft := version == 0
	if draft {
		version = f.LatestVersion
	}
	if version < 0 || version > f.LatestVersion {
		return nil, &ReplayInputError{fmt.Sprintf("the flow has no version %d (latest: %d)", version, f.LatestVersion)}
	}
	if _, err := e.compiledVersion(ctx, f.ID, version); err != nil {
		return nil, err
	}
	ids, err := e.selectReplayEvents(ctx, f.ID, &sel)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	r := &store.Replay{ID: store.NewID(), FlowID: f.ID, FlowVersion: version, Draft: draft, Status: store.ReplayQueued,
		Selection: toJSON(sel), EventIDs: toJSON(ids), Total: len(ids), CreatedBy: by, CreatedAt: now, UpdatedAt: now}
	if err := db.Create(r).Error; err != nil {
		return nil, err
	}
	return r, nil
}

// selectReplayEvents resolves a selection to event ids, oldest first.
func (e *Engine) selectReplayEvents(ctx context.Context, flowID string, sel *ReplaySelection) ([]string, error) {
	db := e.Store.DB.WithContext(ctx)
	ranged := sel.Since != nil || sel.Until != nil
	kinds := 0
	for _, set := range []bool{sel.Last != 0, ranged, len(sel.EventIDs) > 0} {
		if set {
			kinds++
		}
	}
	switch {
	case kinds > 1:
		return nil, &ReplayInputError{"choose one selection: last, since/until, or event_ids"}
	case sel.Last < 0 || sel.Last > MaxReplayEvents:
		return nil, &ReplayInputError{fmt.Sprintf("last must be between 1 and %d", MaxReplayEvents)}
	case len(sel.EventIDs) > MaxReplayEvents:
		return nil, &ReplayInputError{fmt.Sprintf("at most %d events per replay (%d given)", MaxReplayEvents, len(sel.EventIDs))}
	case sel.Since != nil && sel.Until != nil && sel.Until.Before(*sel.Since):
		return nil, &ReplayInputError{"until is before since"}
	case kinds == 0:
		sel.Last = DefaultReplayLast
	}
	if len(sel.EventIDs) > 0 {
		want := slices.Compact(slices.Sorted(slices.Values(sel.EventIDs)))
		var found []store.Event
		if err := db.Select("id", "created_at").Where("id IN ?", want).Order("created_at, id").Find(&found).Error; err != nil {
			return nil, err
		}
		if len(found) < len(want) {
			have := map[string]bool{}
			for _, ev := range found {
				have[ev.ID] = true
			}
			var missing []string
			for _, id := range want {
				if !have[id] && len(missing) < 10 {
					missing = append(missing, id)
				}
			}
			return nil, &ReplayInputError{"no such events: " + strings.Join(missing, ", ")}
		}
		ids := make([]string, len(found))
		for i, ev := range found {
			ids[i] = ev.ID
		}
		return ids, nil
	}
	// The events this flow really ran for (test runs with dry_run are not recorded traffic).
	q := db.Model(&store.Event{}).Where("id IN (?)", e.Store.DB.Model(&store.Run{}).Select("event_id").Where("flow_id = ? AND dry_run = ?", flowID, false))
	limit := sel.Last
	if ranged {
		if sel.Since != nil {
			q = q.Where("created_at >= ?", sel.Since.UTC())
		}
		if sel.Until != nil {
			q = q.Where("created_at <= ?", sel.Until.UTC())
		}
		limit = MaxReplayEvents + 1
	}
	var ids []string
	if err := q.Order("created_at desc, id desc").Limit(limit).Pluck("id", &ids).Error; err != nil {
		return nil, err
	}
	if len(ids) > MaxReplayEvents {
		return nil, &ReplayInputError{fmt.Sprintf("more than %d events in that time range; narrow it", MaxReplayEvents)}
	}
	slices.Reverse(ids)
	return ids, nil
}

// afterReplayBatch, set only by tests, is called after each batch of a replay is stored.
var afterReplayBatch func(replayID string, done int)

type replayPayload struct {
	ReplayID string `json:"replay_id"`
}

// EnqueueReplay hands a stored replay to the workers.
func (e *Engine) EnqueueReplay(ctx context.Context, id string) error {
	if e.Queue == nil {
		return errors.New("no queue: this process is offline")
	}
	b, _ := json.Marshal(replayPayload{id})
	_, err := e.Queue.Client.EnqueueContext(ctx, asynq.NewTask(TaskReplay, b), asynq.Queue(e.Queue.Name),
		asynq.TaskID("replay:"+id), asynq.MaxRetry(3), asynq.Timeout(time.Hour))
	if errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask) {
		return nil
	}
	return err
}

// recoverReplays hands unfinished replays to a queue that starts empty (the embedded one).
func (e *Engine) recoverReplays(ctx context.Context) error {
	var ids []string
	if err := e.Store.DB.WithContext(ctx).Model(&store.Replay{}).Where("status IN ?", []string{store.ReplayQueued, store.ReplayRunning}).Pluck("id", &ids).Error; err != nil {
		return err
	}
	for _, id := range ids {
		if err := e.EnqueueReplay(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) handleReplayTask(ctx context.Context, t *asynq.Task) error {
	var p replayPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.ReplayID == "" {
		return fmt.Errorf("malformed replay task payload: %w", asynq.SkipRetry)
	}
	return e.RunReplay(ctx, p.ReplayID)
}

// RunReplay runs a stored replay to its end, or until it is cancelled (checked between batches).
// Events already compared (by an earlier, interrupted task) are not replayed again.
func (e *Engine) RunReplay(ctx context.Context, id string) error {
	db := e.Store.DB.WithContext(ctx)
	var job store.Replay
	if err := db.Where("id = ?", id).Take(&job).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil // pruned
		}
		return err
	}
	if job.Status != store.ReplayQueued && job.Status != store.ReplayRunning {
		return nil
	}
	if err := db.Model(&job).Where("status = ?", job.Status).Updates(map[string]any{"status": store.ReplayRunning, "updated_at": time.Now().UTC()}).Error; err != nil {
		return err
	}
	cf, err := e.compiledVersion(ctx, job.FlowID, job.FlowVersion)
	if err != nil {
		return e.endReplay(ctx, &job, store.ReplayFailed, "cannot load the flow version: "+err.Error())
	}
	var ids []string
	if err := json.Unmarshal([]byte(job.EventIDs), &ids); err != nil {
		return e.endReplay(ctx, &job, store.ReplayFailed, "corrupt event list")
	}
	var doneIDs []string
	if err := db.Model(&store.ReplayResult{}).Where("replay_id = ?", id).Pluck("event_id", &doneIDs).Error; err != nil {
		return err
	}
	done := map[string]bool{}
	for _, d := range doneIDs {
		done[d] = true
	}
	for start := 0; start < len(ids); start += replayBatch {
		var status string
		if err := db.Model(&store.Replay{}).Where("id = ?", id).Pluck("status", &status).Error; err != nil {
			return err
		}
		if status != store.ReplayRunning {
			return nil // cancelled
		}
		end := min(start+replayBatch, len(ids))
		var batch []int // positions still to replay
		for i := start; i < end; i++ {
			if !done[ids[i]] {
				batch = append(batch, i)
			}
		}
		results, err := e.replayBatch(ctx, cf, &job, ids, batch)
		if err != nil {
			return err
		}
		err = e.Store.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if len(results) > 0 {
				if err := tx.Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(results, 200).Error; err != nil {
					return err
				}
			}
			return tx.Model(&store.Replay{}).Where("id = ? AND status = ?", id, store.ReplayRunning).
				Updates(map[string]any{"done": end, "updated_at": time.Now().UTC()}).Error
		})
		if err != nil {
			return err
		}
		if afterReplayBatch != nil {
			afterReplayBatch(id, end)
		}
	}
	return e.endReplay(ctx, &job, store.ReplaySucceeded, "")
}

// endReplay records the replay's end with its summary, unless it was cancelled meanwhile.
func (e *Engine) endReplay(ctx context.Context, job *store.Replay, status, msg string) error {
	summary, failing, err := e.ReplaySummary(ctx, job.ID)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	return e.Store.DB.WithContext(ctx).Model(&store.Replay{}).Where("id = ? AND status = ?", job.ID, store.ReplayRunning).
		Updates(map[string]any{"status": status, "error": msg, "summary": toJSON(summary), "failing": failing, "finished_at": now, "updated_at": now}).Error
}

// ReplaySummary groups a replay's results by outcome, largest group first.
func (e *Engine) ReplaySummary(ctx context.Context, id string) ([]ReplayOutcome, int, error) {
	type row struct {
		Outcome string
		Failing bool
		N       int
	}
	var rows []row
	err := e.Store.DB.WithContext(ctx).Model(&store.ReplayResult{}).Select("outcome, failing, COUNT(*) AS n").
		Where("replay_id = ?", id).Group("outcome, failing").Scan(&rows).Error
	if err != nil {
		return nil, 0, err
	}
	out := []ReplayOutcome{}
	failing := 0
	for _, r := range rows {
		changes := parseOutcome(r.Outcome)
		out = append(out, ReplayOutcome{Outcome: r.Outcome, Changes: changes, Count: r.N, Text: outcomeText(changes)})
		if r.Failing {
			failing += r.N
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Outcome < out[j].Outcome
	})
	return out, failing, nil
}

// replayBatch replays the events at the given positions of ids and compares each with its real run.
func (e *Engine) replayBatch(ctx context.Context, cf *compile.Flow, job *store.Replay, ids []string, positions []int) ([]store.ReplayResult, error) {
	if len(positions) == 0 {
		return nil, nil
	}
	db := e.Store.DB.WithContext(ctx)
	want := make([]string, len(positions))
	for i, p := range positions {
		want[i] = ids[p]
	}
	var evs []store.Event
	if err := db.Where("id IN ?", want).Find(&evs).Error; err != nil {
		return nil, err
	}
	events := map[string]*store.Event{}
	for i := range evs {
		events[evs[i].ID] = &evs[i]
	}
	// The real run of each event: the latest one of this flow that was not a test.
	var runs []store.Run
	if err := db.Where("flow_id = ? AND dry_run = ? AND event_id IN ?", job.FlowID, false, want).Order("created_at, id").Find(&runs).Error; err != nil {
		return nil, err
	}
	realRun := map[string]*store.Run{}
	runIDs := make([]string, 0, len(runs))
	for i := range runs {
		realRun[runs[i].EventID] = &runs[i]
		runIDs = append(runIDs, runs[i].ID)
	}
	realSteps := map[string][]store.Step{}
	if len(runIDs) > 0 {
		var steps []store.Step
		if err := db.Where("run_id IN ?", runIDs).Order("started_at, node_id").Find(&steps).Error; err != nil {
			return nil, err
		}
		for _, s := range steps {
			realSteps[s.RunID] = append(realSteps[s.RunID], s)
		}
	}
	now := time.Now().UTC()
	out := make([]store.ReplayResult, 0, len(positions))
	for _, p := range positions {
		res := store.ReplayResult{ReplayID: job.ID, EventID: ids[p], Seq: p, CreatedAt: now}
		ev := events[ids[p]]
		var d ReplayDetail
		if ev == nil {
			d = ReplayDetail{Changes: []ReplayChange{{Code: ReplayEventMissing}}}
		} else {
			r := &replayEvent{e: e, ev: ev, realRun: realRun[ev.ID], realSteps: map[string]*store.Step{}}
			var old []store.Step
			if r.realRun != nil {
				res.RunID = r.realRun.ID
				old = realSteps[r.realRun.ID]
				for i := range old {
					r.realSteps[old[i].NodeID] = &old[i]
				}
			}
			steps, failedAt, failure, err := e.replayOne(ctx, cf, job.FlowID, job.FlowVersion, r)
			if err != nil {
				return nil, err
			}
			d = compareReplay(r, inFlowOrder(cf, old), steps, failedAt, failure)
		}
		res.Outcome = outcomeKey(d.Changes)
		res.Failing = slices.ContainsFunc(d.Changes, func(c ReplayChange) bool {
			return c.Code == ReplayNowFails || c.Code == ReplayCredentialMissing
		})
		res.Detail = toJSON(d)
		out = append(out, res)
	}
	return out, nil
}

// GetReplay loads a replay.
func (e *Engine) GetReplay(ctx context.Context, id string) (*store.Replay, error) {
	var r store.Replay
	if err := e.Store.DB.WithContext(ctx).Omit("event_ids").Where("id = ?", id).Take(&r).Error; err != nil {
		return nil, store.NotFound(err)
	}
	return &r, nil
}

// ListReplays lists a flow's replays, newest first.
func (e *Engine) ListReplays(ctx context.Context, flowID string, limit int) ([]store.Replay, error) {
	var rs []store.Replay
	err := e.Store.DB.WithContext(ctx).Omit("event_ids").Where("flow_id = ?", flowID).Order("created_at desc, id desc").Limit(limit).Find(&rs).Error
	return rs, err
}

// ReplayResults pages through a replay's results in selection order, optionally of one outcome.
func (e *Engine) ReplayResults(ctx context.Context, id, outcome string, limit, offset int) ([]store.ReplayResult, error) {
	q := e.Store.DB.WithContext(ctx).Where("replay_id = ?", id)
	if outcome != "" {
		q = q.Where("outcome = ?", outcome)
	}
	var out []store.ReplayResult
	err := q.Order("seq").Limit(limit).Offset(offset).Find(&out).Error
	return out, err
}

// CancelReplay stops a replay at its next batch.
func (e *Engine) CancelReplay(ctx context.Context, id string) (*store.Replay, error) {
	now := time.Now().UTC()
	res := e.Store.DB.WithContext(ctx).Model(&store.Replay{}).Where("id = ? AND status IN ?", id, []string{store.ReplayQueued, store.ReplayRunning}).
		Updates(map[string]any{"status": store.ReplayCancelled, "finished_at": now, "updated_at": now})
	if res.Error != nil {
		return nil, res.Error
	}
	r, err := e.GetReplay(ctx, id)
	if err != nil {
		return nil, err
	}
	if res.RowsAffected == 0 {
		return r, ErrReplayFinished
	}
	return r, nil
}

// PruneReplays deletes replays created before cutoff, with their results.
func (e *Engine) PruneReplays(ctx context.Context, cutoff time.Time) error {
	db := e.Store.DB.WithContext(ctx)
	old := db.Model(&store.Replay{}).Select("id").Where("created_at < ?", cutoff.UTC())
	if err := db.Where("replay_id IN (?)", old).Delete(&store.ReplayResult{}).Error; err != nil {
		return err
	}
	return db.Where("created_at < ?", cutoff.UTC()).Delete(&store.Replay{}).Error
}

// ParseReplayTime reads a selection bound: an RFC 3339 time, or a duration back from now ("7d", "36h").
func ParseReplayTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := compile.ParseDuration(s)
	if err != nil {
		return time.Time{}, &ReplayInputError{fmt.Sprintf("%q is neither an RFC 3339 time nor a duration such as 7d or 36h", s)}
	}
	return time.Now().Add(-d), nil
}
