package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/opsflow/opsflow/engine/store"
	"github.com/opsflow/opsflow/engine/telemetry"
)

// RunFilter selects runs for listing.
type RunFilter struct {
	FlowID string
	Status string
	// FailedNode keeps the runs in which that node's step failed (the dashboard's failing nodes).
	FailedNode string
	Since      time.Time
	Until      time.Time
	// Cursor is the id of the last run of the previous page; runs are listed newest first.
	Cursor string
	Limit  int
}

// ListRuns lists runs newest first, a page at a time.
func (e *Engine) ListRuns(ctx context.Context, f RunFilter) (runs []store.Run, next string, err error) {
	q := e.Store.DB.WithContext(ctx).Order("id desc").Limit(f.Limit + 1)
	if f.FlowID != "" {
		q = q.Where("flow_id = ?", f.FlowID)
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
		if !store.Terminal(f.Status) {
			q = q.Where("finished_at IS NULL") // found by its index
		}
	}
	if f.FailedNode != "" {
		// Per run, through the steps' (run_id, node_id) index.
		q = q.Where("EXISTS (SELECT 1 FROM steps WHERE steps.run_id = runs.id AND steps.node_id = ? AND steps.status = ?)", f.FailedNode, store.StepFailed)
	}
	if !f.Since.IsZero() {
		q = q.Where("created_at >= ?", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		q = q.Where("created_at < ?", f.Until.UTC())
	}
	if f.Cursor != "" {
		q = q.Where("id < ?", f.Cursor)
	}
	if err := q.Find(&runs).Error; err != nil {
		return nil, "", err
	}
	if len(runs) > f.Limit {
		runs = runs[:f.Limit]
		next = runs[len(runs)-1].ID
	}
	return runs, next, nil
}

// RunDetail is a run with its steps and event.
type RunDetail struct {
	Run   store.Run
	Steps []store.Step
	Event store.Event
}

// GetRun loads a run with every step, in the order they started.
func (e *Engine) GetRun(ctx context.Context, id string) (*RunDetail, error) {
	d := &RunDetail{}
	db := e.Store.DB.WithContext(ctx)
	if err := db.Where("id = ?", id).Take(&d.Run).Error; err != nil {
		return nil, store.NotFound(err)
	}
	if err := db.Where("run_id = ?", id).Order("started_at, node_id").Find(&d.Steps).Error; err != nil {
		return nil, err
	}
	if err := db.Where("id = ?", d.Run.EventID).Take(&d.Event).Error; err != nil {
		return nil, store.NotFound(err)
	}
	return d, nil
}

// ErrRunFinished is returned when cancelling a run that already ended.
var ErrRunFinished = errors.New("the run has already finished")

// CancelRun stops a run: a waiting or queued run never resumes; a running one is interrupted in
// the step it is running.
func (e *Engine) CancelRun(ctx context.Context, id string) (*store.Run, error) {
	now := time.Now().UTC()
	res := e.Store.DB.WithContext(ctx).Model(&store.Run{}).
		Where("id = ? AND status IN ?", id, []string{store.RunQueued, store.RunRunning, store.RunWaiting}).
		Updates(map[string]any{"status": store.RunCancelled, "finished_at": now, "updated_at": now, "error": "cancelled"})
	if res.Error != nil {
		return nil, res.Error
	}
	var run store.Run
	if err := e.Store.DB.WithContext(ctx).Where("id = ?", id).Take(&run).Error; err != nil {
		return nil, store.NotFound(err)
	}
	if res.RowsAffected == 0 {
		return &run, ErrRunFinished
	}
	telemetry.RunFinished(run.FlowID, store.RunCancelled, run.CreatedAt)
	// Interrupt the step running now, wherever it runs; a missed notice only delays the stop
	// until the run's next write, which its fence refuses.
	if c, ok := e.running.Load(id); ok {
		c.(context.CancelCauseFunc)(errCancelled)
	}
	if e.Queue != nil {
		if err := e.Queue.PublishCancel(ctx, id); err != nil {
			e.log.Warn("cannot notify workers of a cancel; the run stops at its next write", "run_id", id, "error", err)
		}
	}
	return &run, nil
}

// RetryRun retries a failed (or cancelled) run. from "failed" resumes the same run from its
// failed step, keeping the steps that succeeded; from "start" starts a new run of the same event
// on the flow's latest version.
func (e *Engine) RetryRun(ctx context.Context, id, from string) (string, error) {
	var run store.Run
	if err := e.Store.DB.WithContext(ctx).Where("id = ?", id).Take(&run).Error; err != nil {
		return "", store.NotFound(err)
	}
	if run.Status != store.RunFailed && run.Status != store.RunCancelled {
		return "", fmt.Errorf("only failed or cancelled runs can be retried; this one is %s", run.Status)
	}
	now := time.Now().UTC()
	switch from {
	case "failed", "":
		token := fmt.Sprintf("retry-%d", now.UnixNano())
		d := store.Dispatch{RunID: run.ID, Token: token, ProcessAt: now}
		err := e.Store.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			res := tx.Model(&store.Run{}).Where("id = ? AND status = ?", run.ID, run.Status).
				Updates(map[string]any{"status": store.RunQueued, "token": token, "error": "", "finished_at": nil, "updated_at": now})
			if res.Error != nil || res.RowsAffected == 0 {
				return errors.Join(res.Error, errors.New("the run changed meanwhile; reload and try again"))
			}
			if err := tx.Where("run_id = ? AND status <> ?", run.ID, store.StepSucceeded).Delete(&store.Step{}).Error; err != nil {
				return err
			}
			return tx.Create(&d).Error
		})
		if err != nil {
			return "", err
		}
		e.enqueue(ctx, []store.Dispatch{d})
		return run.ID, nil
	case "start":
		var f store.Flow
		if err := e.Store.DB.WithContext(ctx).Where("id = ?", run.FlowID).Take(&f).Error; err != nil {
			return "", store.NotFound(err)
		}
		if _, err := e.compiledVersion(ctx, f.ID, f.LatestVersion); err != nil {
			return "", err
		}
		nr := store.Run{ID: store.NewID(), FlowID: f.ID, FlowVersion: f.LatestVersion, EventID: run.EventID, Status: store.RunQueued, DryRun: run.DryRun, Token: "start", CreatedAt: now, UpdatedAt: now}
		d := store.Dispatch{RunID: nr.ID, Token: nr.Token, ProcessAt: now}
		err := e.Store.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if err := tx.Create(&nr).Error; err != nil {
				return err
			}
			return tx.Create(&d).Error
		})
		if err != nil {
			return "", err
		}
		e.enqueue(ctx, []store.Dispatch{d})
		return nr.ID, nil
	}
	return "", fmt.Errorf("from must be \"failed\" or \"start\", not %q", from)
}
