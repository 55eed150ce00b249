package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/opsflow/opsflow/engine/compile"
	"github.com/opsflow/opsflow/engine/mask"
	"github.com/opsflow/opsflow/engine/node"
	"github.com/opsflow/opsflow/engine/queue"
	"github.com/opsflow/opsflow/engine/store"
	"github.com/opsflow/opsflow/engine/telemetry"
)

// How a run executes (one asynq task per run segment):
//
//   - Claim: one statement moves the run to running and bumps its lease. Every later write of this
//     execution is fenced on that lease and on the run still running, so a worker that was frozen
//     past its lease (or a run cancelled meanwhile) can no longer write anything.
//   - Pure nodes (conditions, switches, sets, merges, loops) run in memory; their steps are written
//     together with the next checkpoint.
//   - A checkpoint is written before a side-effecting action (its "started" record, with every
//     step before it) and when the run ends or parks. So a provider is never called twice because
//     a result was not recorded: the write is retried (see committer), not the call. An action
//     whose provider drops repeats of its idempotency key (node.IdempotentField set) skips that
//     record on the run's first execution: nothing can have called it before, and if this
//     execution dies mid-run the next one records attempts again, so crashes stay bounded.
//   - All writes go through the engine's committer, which commits many runs' writes at once.

func (e *Engine) handleTask(ctx context.Context, t *asynq.Task) error {
	var err error
	e.warm.run(func() { err = e.runTask(ctx, t) })
	return err
}

// runTask executes the run a task names (on a warm goroutine: see warmStacks).
func (e *Engine) runTask(ctx context.Context, t *asynq.Task) error {
	var p queue.Payload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.RunID == "" {
		return fmt.Errorf("malformed task payload: %w", asynq.SkipRetry)
	}
	final := true
	if retried, ok := asynq.GetRetryCount(ctx); ok {
		if max, ok := asynq.GetMaxRetry(ctx); ok {
			final = retried >= max
		}
	}
	err := e.execute(ctx, p, final)
	var perm *node.PermanentError
	if errors.As(err, &perm) {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	return err
}

// errCancelled is the cause of a run context cancelled by CancelRun.
var errCancelled = errors.New("run cancelled")

// errFenced means the run is no longer this execution's: another worker claimed it, or it was
// cancelled or finished. The execution stops without writing anything more.
var errFenced = &fencedError{}

type fencedError struct{}

func (*fencedError) Error() string { return "the run is no longer held by this worker" }

// execution is one task's hold on a run.
type execution struct {
	e   *Engine
	run store.Run // as claimed; run.Lease fences every write
	// fresh: the run is not claimed yet; its first write claims it (see write).
	fresh bool
	// first: this is the run's first execution (started from its task's start hint on the task's
	// first delivery), so no earlier one can have called a provider for it.
	first   bool
	pending []store.Step // steps not written yet, one per node
	// lastStart is the latest start of the run's steps (see startTime).
	lastStart time.Time
	// dropWait lists waits that ended (their rows go with the next checkpoint).
	dropWait []string
	log      *slog.Logger
	// replay, when set, makes this an execution of a replay (see replay.go): nothing is written,
	// requests are recorded instead of sent, and waits end as if their time had passed.
	replay *replayEvent
}

// errNotFresh means a run started from its task's start hint had been claimed (or cancelled,
// or recovered) before its first write: nothing was written, and the task claims it as usual.
var errNotFresh = errors.New("the run was claimed before: claim it as usual")

// startHint is what the first task of a new run carries so that it starts without a read: the
// run as accepted and its event (without the raw body, which the executor does not use). Large
// events are left out; their runs claim as usual.
type startHint struct {
	FlowID      string      `json:"f"`
	FlowVersion int         `json:"v"`
	DryRun      bool        `json:"d,omitempty"`
	Event       store.Event `json:"e"`
}

// maxHintEvent bounds the event data and headers a task carries, to keep Redis payloads small.
const maxHintEvent = 8 << 10

func newStartHint(run *store.Run, ev *store.Event) []byte {
	if len(ev.Data)+len(ev.Headers) > maxHintEvent {
		return nil
	}
	e := store.Event{ID: ev.ID, Type: ev.Type, Source: ev.Source, FlowID: ev.FlowID, Data: ev.Data, Headers: ev.Headers,
		Traceparent: ev.Traceparent, CreatedAt: ev.CreatedAt}
	b, err := json.Marshal(startHint{FlowID: run.FlowID, FlowVersion: run.FlowVersion, DryRun: run.DryRun, Event: e})
	if err != nil {
		return nil
	}
	return b
}

// execute runs (or resumes) a run. It returns an error only when the task should be retried.
func (e *Engine) execute(ctx context.Context, p queue.Payload, final bool) error {
	var h startHint
	if len(p.Start) > 0 && json.Unmarshal(p.Start, &h) == nil {
		// A new run: its pure nodes run in memory and its claim goes with its first write (see
		// execution.write), one commit less. Lease 1 is the lease that write gives it.
		run := &store.Run{ID: p.RunID, FlowID: h.FlowID, FlowVersion: h.FlowVersion, EventID: h.Event.ID, Status: store.RunRunning,
			DryRun: h.DryRun, Token: p.Token, Lease: 1, CreatedAt: h.Event.CreatedAt}
		if err := e.run(ctx, run, &h.Event, nil, true, final); !errors.Is(err, errNotFresh) {
			return err
		}
	}
	run, ev, steps, err := e.claim(ctx, p)
	if err != nil || run == nil {
		return err
	}
	return e.run(ctx, run, ev, steps, false, final)
}

// run executes a claimed run, or with fresh a new run not claimed yet (see startHint).
func (e *Engine) run(ctx context.Context, run *store.Run, ev *store.Event, steps []store.Step, fresh, final bool) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	e.running.Store(run.ID, cancel)
	defer e.running.Delete(run.ID)
	ctx, endSpan := telemetry.StartRun(ctx, run.ID, run.FlowID, eventTraceparent(ev))
	defer endSpan()
	if run.Lease == 1 && !fresh { // the first claim: the run starts (a fresh run counts at its first write)
		telemetry.RunStarted(run.FlowID)
	}

	x := &execution{e: e, run: *run, fresh: fresh, first: fresh && firstDelivery(ctx), log: telemetry.WithTrace(ctx, e.log).With("run_id", run.ID, "flow_id", run.FlowID)}
	if ev == nil {
		return x.finish(ctx, store.RunFailed, "cannot load the event: it no longer exists", nil)
	}
	cf, err := e.compiledVersion(ctx, run.FlowID, run.FlowVersion)
	if err != nil {
		return x.finish(ctx, store.RunFailed, "cannot load the flow: "+err.Error(), nil)
	}
	done := map[string]*store.Step{}
	x.lastStart = ev.CreatedAt.Truncate(time.Microsecond) // the trigger's step starts then
	for i := range steps {
		done[steps[i].NodeID] = &steps[i]
		if t := steps[i].StartedAt.Truncate(time.Microsecond); t.After(x.lastStart) {
			x.lastStart = t
		}
	}

	event := eventEnv(ev)
	outputs := map[string]any{}
	env := map[string]any{"event": event, "nodes": outputs}
	taken := map[string]string{} // node id → port taken, for nodes that ran
	result := &runResult{event: ev, outputs: outputs}
	for _, n := range cf.Order {
		id := n.Def.ID
		if n == cf.Trigger {
			outputs[id] = event
			taken[id] = n.Spec.PortList()[0]
			if done[id] == nil {
				x.pending = append(x.pending, triggerStep(run, n, ev, event))
			}
			continue
		}
		if !activated(n, taken) {
			continue
		}
		if context.Cause(ctx) == errCancelled {
			x.log.Info("run cancelled")
			return nil
		}
		if s := done[id]; s != nil && s.Status == store.StepSucceeded {
			out := fromJSON(s.Output)
			outputs[id] = out
			taken[id] = s.Port
			result.last = out
			continue
		}
		port, stop, err := x.step(ctx, n, env, done[id], firedInputs(n, taken))
		var fenced *fencedError
		switch {
		case errors.Is(err, errNotFresh):
			return err
		case errors.As(err, &fenced):
			x.log.Info("run left: another worker holds it, or it was cancelled or finished")
			return nil
		case context.Cause(ctx) == errCancelled:
			x.log.Info("run cancelled")
			return nil
		case err != nil && ctx.Err() != nil:
			// asynq took the task away (its lease could not be extended, or the worker is shutting
			// down): hand the run back through the outbox rather than count on this task's retry.
			return x.handBack(ctx)
		case err != nil:
			var perm *node.PermanentError
			if final || x.attempt(id) > e.retries(n) || errors.As(err, &perm) {
				return x.finish(ctx, store.RunFailed, fmt.Sprintf("node %s: %v", id, err), result)
			}
			x.log.Warn("step failed; will retry", "node_id", id, "error", err)
			// Keep the failed attempt (and the steps before it) so the retry counts it.
			if werr := x.checkpoint(ctx, store.RunSet{}, nil); werr != nil && !errors.As(werr, &fenced) {
				return werr
			}
			return err
		case stop == stopWait:
			return nil
		case stop == stopRun:
			result.last = outputs[id]
			return x.finish(ctx, store.RunSucceeded, "", result)
		}
		taken[id] = port
		result.last = outputs[id]
	}
	return x.finish(ctx, store.RunSucceeded, "", result)
}

// claim moves a run to running for the task carrying its current token, bumping its lease, and
// reads its event and (for a resumed or retried run) its steps in the same transaction. It returns
// a nil run when there is nothing to do: a stale task (wrong token) or a finished run; a nil event
// when the event is gone.
func (e *Engine) claim(ctx context.Context, p queue.Payload) (*store.Run, *store.Event, []store.Step, error) {
	var (
		run   *store.Run
		ev    *store.Event
		steps []store.Step
	)
	err := e.commit.do(ctx, func(tx *gorm.DB) error {
		var err error
		steps = nil
		if run, ev, err = e.Store.ClaimRun(tx, p.RunID, p.Token, time.Now().UTC()); err != nil || run == nil {
			return err
		}
		// A run claimed for the first time has no steps yet: only a resumed or retried one reads them.
		if run.Lease > 1 {
			return tx.Where("run_id = ?", run.ID).Find(&steps).Error
		}
		return nil
	})
	if err != nil || run == nil {
		return nil, nil, nil, err
	}
	return run, ev, steps, nil
}

// triggerStep is the trigger's step: what started the run, shown in the history like any step.
func triggerStep(run *store.Run, n *compile.Node, ev *store.Event, event map[string]any) store.Step {
	now := time.Now().UTC()
	return store.Step{RunID: run.ID, NodeID: n.Def.ID, NodeType: n.Spec.Type, Status: store.StepSucceeded, Port: n.Spec.PortList()[0],
		Input: "{}", Output: toJSON(event), Attempt: 1, StartedAt: ev.CreatedAt, FinishedAt: &now}
}

// startTime is when a step starts: now, at the microsecond Postgres keeps, and after every step
// of the run before it (even one another worker's clock started), because a run's steps are
// shown, compared and replayed in the order of their starts and have no other.
func (x *execution) startTime() time.Time {
	t := time.Now().UTC().Truncate(time.Microsecond)
	if !t.After(x.lastStart) {
		t = x.lastStart.Add(time.Microsecond)
	}
	x.lastStart = t
	return t
}

// idempotent reports whether n's provider drops repeated calls with the same idempotency key,
// as its node.IdempotentField setting says.
func idempotent(n *compile.Node) bool {
	on, _ := n.Literal(node.IdempotentField).(bool)
	return on && n.Spec.Field(node.IdempotentField) != nil
}

// firstDelivery reports whether the task being handled is delivered for the first time (asynq
// redelivers a task after its handler failed or its worker died).
func firstDelivery(ctx context.Context) bool {
	n, ok := asynq.GetRetryCount(ctx)
	return ok && n == 0
}

// retries is how often a failing step of n is retried: the node's own "retries" setting when it
// has one, else the engine's MaxRetry.
func (e *Engine) retries(n *compile.Node) int {
	if r, ok := n.Literal("retries").(float64); ok && n.Spec.Field("retries") != nil {
		return int(r)
	}
	return e.cfg.MaxRetry
}

// activated reports whether any edge into n comes from a node that ran and took that edge's port.
func activated(n *compile.Node, taken map[string]string) bool {
	return len(firedInputs(n, taken)) > 0
}

// firedInputs lists the nodes whose edges into n fired.
func firedInputs(n *compile.Node, taken map[string]string) []string {
	var out []string
	for _, in := range n.In {
		if port, ran := taken[in.From]; ran && port == in.Port {
			out = append(out, in.From)
		}
	}
	return out
}

// stopKind tells the executor whether to go on after a step.
type stopKind int

const (
	goOn     stopKind = iota
	stopWait          // the run is parked until a scheduled wake-up
	stopRun           // the node ended the run
)

// step runs one node. Its step record is left last in x.pending (written by the next checkpoint);
// a side-effecting node first writes a checkpoint with its "started" record. It reports the port
// taken and whether the run goes on.
func (x *execution) step(ctx context.Context, n *compile.Node, env map[string]any, prev *store.Step, inputs []string) (port string, stop stopKind, err error) {
	e, run, id := x.e, &x.run, n.Def.ID
	ctx, endSpan := telemetry.StartStep(ctx, id, n.Spec.Type)
	defer func() { endSpan(err) }()
	outputs := env["nodes"].(map[string]any)
	st := store.Step{RunID: run.ID, NodeID: id, NodeType: n.Spec.Type}
	if prev != nil {
		st = *prev
	}
	resumed := st.Status == store.StepWaiting
	st.Attempt++
	st.Status, st.Error, st.Port, st.Output = store.StepRunning, "", "", ""
	st.StartedAt, st.FinishedAt = x.startTime(), nil

	cfg, cfgErr := n.ConfigCtx(ctx, env)
	st.Input = capJSON(toJSON(mask.Value(cfg)), e.cfg.StepOutputLimit)
	if cfgErr != nil {
		return "", goOn, x.failStep(st, node.Permanent(cfgErr))
	}
	effect := n.Spec.SideEffect && !run.DryRun
	if effect && !(x.first && idempotent(n)) {
		// At most one call per recorded attempt: the attempt is durable before the provider is called.
		x.pending = append(x.pending, st)
		if err := x.checkpoint(ctx, store.RunSet{}, nil); err != nil {
			return "", goOn, err
		}
	}

	svc := e.services()
	sctx, cancel := context.WithTimeoutCause(ctx, e.stepTimeout(n), errStepTimeout)
	defer cancel()
	in := &node.Input{
		RunID: run.ID, NodeID: id, Config: cfg, Env: env, Attempt: st.Attempt, Resumed: resumed, Inputs: inputs,
		DryRun: run.DryRun, Services: x.nodeServices(svc, id), Log: x.log.With("node_id", id),
		Eval: func(field string, env map[string]any) (any, error) { return n.EvalFieldCtx(sctx, field, env) },
	}
	if st.WaitStarted != nil {
		in.WaitStarted = *st.WaitStarted
	}
	if resumed && st.Received != "" {
		in.Received, _ = fromJSON(st.Received).(map[string]any)
	}
	res, err := callNode(sctx, n, in)
	if err != nil {
		if context.Cause(sctx) == errStepTimeout {
			err = fmt.Errorf("%w (%s)", errStepTimeout, e.stepTimeout(n))
		}
		if context.Cause(ctx) == errCancelled {
			return "", goOn, x.stopCancelled(st)
		}
		return "", goOn, x.failStep(st, scrubbed(err, svc))
	}
	if res == nil {
		res = &node.Result{}
	}
	if res.Port == "" {
		res.Port = n.Spec.PortList()[0]
	}
	if !n.Spec.HasPort(res.Port) {
		return "", goOn, x.failStep(st, node.Permanentf("node type %s returned unknown port %q", n.Spec.Type, res.Port))
	}
	if !res.WaitUntil.IsZero() {
		return "", stopWait, x.park(ctx, st, res.WaitUntil, res.WaitFor)
	}
	// Outputs pass through JSON so expressions downstream see the same types they were checked against.
	var out any = map[string]any{}
	if res.Output != nil {
		out = mask.Value(fromJSON(svc.scrub(toJSON(res.Output))))
	}
	now := time.Now().UTC()
	stored, seen := capOutput(out, e.cfg.StepOutputLimit)
	st.Status, st.Port, st.Output, st.FinishedAt = store.StepSucceeded, res.Port, stored, &now
	st.DurationMs = now.Sub(st.StartedAt).Milliseconds()
	x.put(st)
	outputs[id] = seen
	if resumed {
		// The wait is over: its row goes with the next checkpoint.
		x.dropWait = append(x.dropWait, id)
	}
	if n.Spec.Responds {
		// The webhook request is waiting for this step: write it now.
		if err := x.checkpoint(ctx, store.RunSet{}, nil); err != nil {
			return "", goOn, err
		}
	}
	if res.Stop {
		return res.Port, stopRun, nil
	}
	return res.Port, goOn, nil
}

// errStepTimeout is the cause of a step context that ran out of time.
var errStepTimeout = errors.New("step timed out")

// stepTimeout is how long one step of n may run: the node's step_timeout setting, else the engine's.
func (e *Engine) stepTimeout(n *compile.Node) time.Duration {
	if s, ok := n.Literal(node.StepTimeoutField).(string); ok {
		if d, err := compile.ParseDuration(s); err == nil && d > 0 {
			return d
		}
	}
	return e.cfg.StepTimeout
}

// put records st as the newest version of its node's step among the pending writes.
func (x *execution) put(st store.Step) {
	for i := range x.pending {
		if x.pending[i].NodeID == st.NodeID {
			x.pending[i] = st
			return
		}
	}
	x.pending = append(x.pending, st)
}

// attempt is the attempt number of the pending step of a node.
func (x *execution) attempt(nodeID string) int {
	for i := range x.pending {
		if x.pending[i].NodeID == nodeID {
			return x.pending[i].Attempt
		}
	}
	return 0
}

// scrubbed is err with the step's secrets redacted from its message, keeping whether it is permanent.
func scrubbed(err error, svc services) error {
	msg := svc.scrub(err.Error())
	if msg == err.Error() {
		return err
	}
	var perm *node.PermanentError
	if errors.As(err, &perm) {
		return node.Permanent(errors.New(msg))
	}
	return errors.New(msg)
}

// callNode runs n, except a side-effecting node in a dry run, which is recorded instead of performed.
// The executor and node tests (TestNode) both call nodes through it.
func callNode(ctx context.Context, n *compile.Node, in *node.Input) (*node.Result, error) {
	if in.DryRun && n.Spec.SideEffect {
		return &node.Result{Output: map[string]any{"dry_run": true}}, nil
	}
	return safeRun(ctx, n.Spec, in)
}

// safeRun runs a node, turning a panic into a permanent step failure instead of a crashed worker.
func safeRun(ctx context.Context, spec *node.Spec, in *node.Input) (res *node.Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = node.Permanentf("node type %s panicked: %v", spec.Type, r)
		}
	}()
	return spec.Run(ctx, in)
}

// failStep records the step as failed (written by the checkpoint that follows) and returns cause.
func (x *execution) failStep(st store.Step, cause error) error {
	now := time.Now().UTC()
	st.Status, st.Error, st.FinishedAt = store.StepFailed, mask.String(cause.Error()), &now
	st.DurationMs = now.Sub(st.StartedAt).Milliseconds()
	x.put(st)
	return cause
}

// stopCancelled records the step interrupted by a cancel, fenced on the run being cancelled.
func (x *execution) stopCancelled(st store.Step) error {
	_ = x.failStep(st, errors.New("cancelled"))
	var fenced *fencedError
	if err := x.write(context.Background(), store.RunCancelled, store.RunSet{}, nil); err != nil && !errors.As(err, &fenced) {
		x.log.Warn("recording the cancelled step", "error", err)
	}
	return errCancelled
}

// checkpoint writes the pending steps, fenced on this execution's lease and the run still running,
// together with upd (more columns of the run) and more (further writes in the same transaction).
// It returns errFenced when the run is no longer this execution's.
func (x *execution) checkpoint(ctx context.Context, upd store.RunSet, more func(tx *gorm.DB) error) error {
	return x.write(ctx, store.RunRunning, upd, more)
}

// write is checkpoint fenced on the run having the given status.
func (x *execution) write(ctx context.Context, status string, upd store.RunSet, more func(tx *gorm.DB) error) error {
	if x.replay != nil {
		return nil // a replay keeps its steps in x.pending and writes nothing
	}
	lease, fence := x.run.Lease, status
	if x.fresh {
		// The first write of a new run is its claim too: fenced on the run never having been
		// claimed and on the task's token. Only a running execution's first write can claim.
		if status != store.RunRunning {
			return errNotFresh
		}
		lease, fence = 0, store.RunQueued
		upd.Claim = &x.run.Token
		if upd.Status == nil {
			upd.Status = ptr(store.RunRunning)
		}
	}
	steps := append([]store.Step(nil), x.pending...)
	drop := x.dropWait
	fenced := false
	// Once a side effect may have happened its record must be written: the caller's cancellation
	// does not stop the write (the fence does, if the run is no longer ours), and a database that is
	// away is waited for (up to checkpointRetry) rather than the step being run again.
	// On Postgres a checkpoint without extra writes is one statement (see store.FencedWrite), sent
	// alone or in a pipeline with other runs' (see committer).
	attempt := func() write {
		now := time.Now().UTC()
		w := write{fn: func(tx *gorm.DB) error {
			var err error
			if fenced, err = x.e.Store.FencedWrite(tx, x.run.ID, lease, fence, now, upd, steps); err != nil || fenced {
				return err
			}
			if len(drop) > 0 {
				if err := tx.Where("run_id = ? AND node_id IN ?", x.run.ID, drop).Delete(&store.Wait{}).Error; err != nil {
					return err
				}
			}
			if more != nil {
				return more(tx)
			}
			return nil
		}}
		if x.e.Store.Postgres() && len(drop) == 0 && more == nil {
			pg := store.FenceStatement(x.run.ID, lease, fence, now, upd, steps, &fenced)
			w.oneStatement, w.pg = true, &pg
		}
		return w
	}
	err := retryWrite(x.e.commit, context.WithoutCancel(ctx), x.log, attempt)
	if err != nil {
		return err
	}
	if fenced && x.fresh {
		return errNotFresh
	}
	if fenced {
		return errFenced
	}
	if x.fresh {
		x.fresh = false
		telemetry.RunStarted(x.run.FlowID)
	}
	x.pending = x.pending[:0]
	x.dropWait = nil
	return nil
}

// checkpointRetry is how long a checkpoint is retried while the database is unreachable.
const checkpointRetry = 2 * time.Minute

// retryWrite commits fn, retrying transient failures with backoff for up to checkpointRetry.
// attempt makes the write anew for each try.
func retryWrite(c *committer, ctx context.Context, log *slog.Logger, attempt func() write) error {
	deadline := time.Now().Add(checkpointRetry)
	delay := 50 * time.Millisecond
	for {
		err := c.doWrite(ctx, attempt())
		if err == nil || !transient(err) || time.Now().After(deadline) {
			return err
		}
		log.Warn("writing a checkpoint failed; retrying", "error", err)
		time.Sleep(delay)
		delay = min(delay*2, 2*time.Second)
	}
}

// park suspends the run until at: the step is marked waiting and a scheduled dispatch with a new
// token is written in the same transaction, so the wake-up cannot be lost.
func (x *execution) park(ctx context.Context, st store.Step, at time.Time, wf *node.WaitFor) error {
	if x.replay != nil {
		return x.replay.park(ctx, x, st, at, wf)
	}
	now := time.Now().UTC()
	if st.WaitStarted == nil {
		// The wait began when the node first ran: its deadline was computed from then.
		started := st.StartedAt
		st.WaitStarted = &started
	}
	st.Status, st.Received = store.StepWaiting, ""
	x.put(st)
	token := fmt.Sprintf("wait-%s-%d", st.NodeID, now.UnixNano())
	var d store.Dispatch
	matched := false // the awaited event was there already: the run resumes at once
	wake := at.UTC()
	upd := store.RunSet{Status: ptr(store.RunWaiting), Token: &token, WakeAt: &wake}
	err := x.checkpoint(ctx, upd, func(tx *gorm.DB) error {
		d = store.Dispatch{RunID: x.run.ID, Token: token, ProcessAt: at.UTC(), CreatedAt: now}
		if wf != nil {
			// The awaited event may have arrived between the step's start and now; then resume at once.
			got, err := earlierMatch(tx, wf, st.StartedAt)
			if err != nil {
				return err
			}
			matched = got != nil
			if f := x.e.parking.Load(); f != nil && !matched {
				(*f)()
			}
			if got != nil {
				received := toJSON(map[string]any{"id": got.ID, "type": got.Type, "data": fromJSON(got.Data)})
				if err := tx.Model(&store.Step{}).Where("run_id = ? AND node_id = ?", x.run.ID, st.NodeID).Update("received", received).Error; err != nil {
					return err
				}
				d.ProcessAt = now
				return tx.Create(&d).Error
			}
			w := store.Wait{RunID: x.run.ID, NodeID: st.NodeID, Token: token, EventType: wf.EventType, Field: wf.Field, Value: wf.Value, ExpiresAt: at.UTC(), CreatedAt: now}
			if err := tx.Where("run_id = ? AND node_id = ?", x.run.ID, st.NodeID).Delete(&store.Wait{}).Error; err != nil {
				return err
			}
			if err := tx.Create(&w).Error; err != nil {
				return err
			}
		}
		return tx.Create(&d).Error
	})
	if err != nil {
		return err
	}
	x.e.enqueue(ctx, []store.Dispatch{d})
	if wf != nil && !matched {
		// An event accepted while this wait was being written may have checked for waits before
		// the wait was committed, and been committed after the check above: look once more, now
		// that the wait is visible to every later acceptance (see wakeAgain).
		if got, err := earlierMatch(x.e.Store.DB.WithContext(ctx), wf, st.StartedAt); err == nil && got != nil {
			x.e.wakeAgain(ctx, got, fromJSON(got.Data), []string{wf.Field})
		}
	}
	return nil
}

// wakeAgain wakes the runs still waiting for ev (on the given data fields), after the transaction
// that recorded ev (or the one that parked a run) committed. Two transactions at read committed,
// one parking a run and one recording the event it waits for, can each miss the other's write;
// each side looking again after its own commit closes that gap: whichever commits second sees
// the other's. Waking is fenced on the wait's token, so a run woken twice is woken once. nil
// fields means every field runs wait on for events of ev's type.
func (e *Engine) wakeAgain(ctx context.Context, ev *store.Event, data any, fields []string) {
	var woken []store.Dispatch
	err := e.commit.do(ctx, func(tx *gorm.DB) error {
		var err error
		if fields == nil {
			if _, fields, err = e.Store.EventLookup(tx, ev.Type, false); err != nil {
				return err
			}
		}
		woken, err = wakeWaits(tx, ev, data, fields)
		return err
	})
	if err != nil {
		e.log.Warn("waking runs that wait for an event", "event_id", ev.ID, "error", err)
		return
	}
	e.enqueue(ctx, woken)
}

// handBack writes the pending steps and returns the run to the queue with a new token, fenced
// like every write: a worker that lost its task gives its run to another at once.
func (x *execution) handBack(ctx context.Context) error {
	now := time.Now().UTC()
	token := fmt.Sprintf("handback-%d", now.UnixNano())
	d := store.Dispatch{RunID: x.run.ID, Token: token, ProcessAt: now, CreatedAt: now}
	err := x.checkpoint(ctx, store.RunSet{Status: ptr(store.RunQueued), Token: &token}, func(tx *gorm.DB) error {
		d.ID = 0
		return tx.Create(&d).Error
	})
	var fenced *fencedError
	if errors.As(err, &fenced) {
		return nil
	}
	if err != nil {
		return err
	}
	x.log.Warn("run handed back: its task was taken from this worker")
	x.e.enqueue(context.WithoutCancel(ctx), []store.Dispatch{d})
	return nil
}

// runResult is what a finished run produced.
type runResult struct {
	event   *store.Event
	outputs map[string]any // node id → output, for nodes that ran
	last    any            // output of the last node that ran
}

// earlierMatch finds an event of the awaited kind that arrived since the waiting step started.
func earlierMatch(tx *gorm.DB, wf *node.WaitFor, since time.Time) (*store.Event, error) {
	var evs []store.Event
	if err := tx.Where("type = ? AND created_at >= ?", wf.EventType, since.Add(-time.Second)).Order("id").Limit(1000).Find(&evs).Error; err != nil {
		return nil, err
	}
	for i := range evs {
		if v, ok := node.Get(fromJSON(evs[i].Data), wf.Field); ok && compile.Stringify(v) == wf.Value {
			return &evs[i], nil
		}
	}
	return nil, nil
}

// finish records the run's final status with its pending steps, unless the run is no longer this
// execution's. A run started by a subflow node also records a run.finished event, which wakes
// the parent waiting for it.
func (x *execution) finish(ctx context.Context, status, msg string, res *runResult) error {
	run := &x.run
	now := time.Now().UTC()
	var (
		woken    []store.Dispatch
		finished *store.Event // the run.finished event of a subflow's run
	)
	upd := store.RunSet{Status: &status, Error: ptr(mask.String(msg)), FinishedAt: &now}
	var more func(tx *gorm.DB) error
	if res != nil && res.event.Source == "subflow" {
		more = func(tx *gorm.DB) error {
			var err error
			finished, woken, err = x.wakeParent(tx, status, msg, res, now)
			return err
		}
	}
	err := x.checkpoint(ctx, upd, more)
	var fenced *fencedError
	if errors.As(err, &fenced) {
		return nil
	}
	if err == nil {
		x.log.Info("run finished", "status", status)
		telemetry.RunEnded(ctx, run.FlowID, status, msg, run.CreatedAt)
		x.e.enqueue(ctx, woken)
		if finished != nil && len(woken) == 0 {
			// The parent may have been parking meanwhile: look again now (see wakeAgain).
			x.e.wakeAgain(ctx, finished, fromJSON(finished.Data), nil)
		}
	}
	return err
}

// wakeParent records the run.finished event of a subflow's run and wakes the parent waiting for it,
// in the transaction that finishes the run. It returns the event and the dispatches to enqueue.
func (x *execution) wakeParent(tx *gorm.DB, status, msg string, res *runResult, now time.Time) (*store.Event, []store.Dispatch, error) {
	run := &x.run
	data := map[string]any{"run_id": run.ID, "status": status, "error": msg, "result": res.last, "nodes": res.outputs}
	data = mask.Value(fromJSON(toJSON(data))).(map[string]any)
	ev := &store.Event{ID: store.NewID(), Type: runFinishedEvent, Source: "engine", FlowID: run.FlowID, Data: toJSON(data), CreatedAt: now}
	if err := tx.Create(ev).Error; err != nil {
		return nil, nil, err
	}
	_, fields, err := x.e.Store.EventLookup(tx, ev.Type, false)
	if err != nil {
		return nil, nil, err
	}
	woken, err := wakeWaits(tx, ev, data, fields)
	return ev, woken, err
}

// runFinishedEvent is the event type a subflow's run records when it ends.
const runFinishedEvent = "run.finished"

func (e *Engine) runStatus(ctx context.Context, id string) (string, error) {
	var status string
	err := e.Store.DB.WithContext(ctx).Model(&store.Run{}).Where("id = ?", id).Pluck("status", &status).Error
	return status, err
}

// eventEnv is what expressions see as event.
func eventEnv(ev *store.Event) map[string]any {
	out := map[string]any{"id": ev.ID, "type": ev.Type, "source": ev.Source, "data": fromJSON(ev.Data), "received_at": ev.CreatedAt.UTC().Format(time.RFC3339Nano)}
	if ev.Headers != "" {
		out["headers"] = fromJSON(ev.Headers)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func toJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "null"
	}
	return string(b)
}

func fromJSON(s string) any {
	var v any
	if s == "" || json.Unmarshal([]byte(s), &v) != nil {
		return nil
	}
	return v
}
