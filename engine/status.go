package engine

import (
	"context"
	"time"

	"github.com/opsflow/opsflow/engine/store"
)

// Status is what operators need to see that runs are moving: live workers and the queue's backlog.
type Status struct {
	// Workers is how many worker processes are alive; 0 means queued runs wait for nobody.
	Workers int `json:"workers"`
	// QueuedRuns counts runs waiting for a worker; OldestQueuedSeconds is how long the oldest has waited.
	QueuedRuns          int64   `json:"queued_runs"`
	OldestQueuedSeconds float64 `json:"oldest_queued_seconds"`
}

// Status reports live workers and the age of the oldest queued run.
func (e *Engine) Status(ctx context.Context) (*Status, error) {
	st := &Status{}
	var err error
	if st.Workers, err = e.Queue.Workers(); err != nil {
		return nil, err
	}
	db := e.Store.DB.WithContext(ctx).Model(&store.Run{}).Where("finished_at IS NULL AND status = ?", store.RunQueued)
	if err := db.Count(&st.QueuedRuns).Error; err != nil {
		return nil, err
	}
	if st.QueuedRuns > 0 {
		var oldest store.Run
		err := e.Store.DB.WithContext(ctx).Select("created_at").Where("finished_at IS NULL AND status = ?", store.RunQueued).Order("created_at").Take(&oldest).Error
		if err != nil {
			return nil, store.NotFound(err)
		}
		st.OldestQueuedSeconds = time.Since(oldest.CreatedAt).Seconds()
	}
	return st, nil
}
