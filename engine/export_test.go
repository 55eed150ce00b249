package engine

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/opsflow/opsflow/engine/queue"
	"github.com/opsflow/opsflow/engine/store"
)

// Hooks for the engine's external tests.

// Reassign takes a run from the task carrying token, as the watcher does for a dead worker's task.
func (e *Engine) Reassign(ctx context.Context, runID, token string) error {
	return e.reassign(ctx, []queue.Payload{{RunID: runID, Token: token}})
}

// RecoverRuns runs one recovery pass.
func (e *Engine) RecoverRuns(ctx context.Context, age time.Duration, parked bool) error {
	return e.recoverRuns(ctx, age, parked)
}

// WhileParking calls f while a run parks for an event: after it looked for an earlier match and
// before its wait is committed.
func (e *Engine) WhileParking(f func()) { e.parking.Store(&f) }

// FailWrites makes f decide, before each transaction of the engine's writes, whether it fails
// (a non-nil error, as if the database had failed).
func (e *Engine) FailWrites(f func() error) { e.commit.fault.Store(&f) }

// WriteCheckpoint writes steps as a checkpoint of run (running, holding run.Lease), through the
// same fenced write and committer as the executor.
func (e *Engine) WriteCheckpoint(ctx context.Context, run store.Run, steps []store.Step) error {
	x := &execution{e: e, run: run, pending: steps, log: e.log}
	return x.checkpoint(ctx, store.RunSet{}, nil)
}

// Execute runs the task of run with token (and start hint, if any) in this goroutine, as a worker
// would (not its final retry).
func (e *Engine) Execute(ctx context.Context, runID, token string, start []byte) error {
	return e.execute(ctx, queue.Payload{RunID: runID, Token: token, Start: start}, false)
}

// StartHint is the start hint the first task of a run carries (see startHint).
func (e *Engine) StartHint(run store.Run, ev store.Event) []byte { return newStartHint(&run, &ev) }

// CommitBatch commits writes as one batch of the committer, as a lane does: each with its
// Postgres statement (pg) and its function (fn, used when the batch falls back to transactions).
func (e *Engine) CommitBatch(pgs []*store.Statement, fns []func(tx *gorm.DB) error) []error {
	batch := make([]write, len(pgs))
	for i := range pgs {
		batch[i] = write{fn: fns[i], pg: pgs[i], oneStatement: true, done: make(chan error, 1)}
	}
	e.commit.commit(batch)
	errs := make([]error, len(batch))
	for i := range batch {
		errs[i] = <-batch[i].done
	}
	return errs
}
