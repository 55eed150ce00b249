package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/opsflow/opsflow/engine/compile"
	"github.com/opsflow/opsflow/engine/mask"
	"github.com/opsflow/opsflow/engine/node"
	"github.com/opsflow/opsflow/engine/queue"
	"github.com/opsflow/opsflow/engine/store"
)

// handleTask executes one run in-process, node after node, checkpointing every step. It splits
// only at durable waits: the run is parked with a scheduled dispatch and a new task resumes it.
func (e *Engine) handleTask(ctx context.Context, t *asynq.Task) error {
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

// errCancelled stops a run that was cancelled while it ran.
var errCancelled = errors.New("run cancelled")

// execute runs (or resumes) a run. It returns an error only when the task should be retried.
func (e *Engine) execute(ctx context.Context, p queue.Payload, final bool) error {
	db := e.Store.DB.WithContext(ctx)
	now := time.Now().UTC()
	// Claim the run: a stale task (wrong token) or a finished run does nothing.
	res := db.Model(&store.Run{}).
		Where("id = ? AND token = ? AND status IN ?", p.RunID, p.Token, []string{store.RunQueued, store.RunRunning, store.RunWaiting}).
		Updates(map[string]any{"status": store.RunRunning, "updated_at": now, "started_at": gorm.Expr("COALESCE(started_at, ?)", now)})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return nil
	}
	var run store.Run
	if err := db.Where("id = ?", p.RunID).Take(&run).Error; err != nil {
		return err
	}
	log := e.log.With("run_id", run.ID, "flow_id", run.FlowID)
	cf, err := e.compiledVersion(ctx, run.FlowID, run.FlowVersion)
	if err != nil {
		return e.finish(ctx, &run, store.RunFailed, "cannot load the flow: "+err.Error(), nil)
	}
	var ev store.Event
	if err := db.Where("id = ?", run.EventID).Take(&ev).Error; err != nil {
		return e.finish(ctx, &run, store.RunFailed, "cannot load the event: "+err.Error(), nil)
	}
	var steps []store.Step
	if err := db.Where("run_id = ?", run.ID).Find(&steps).Error; err != nil {
		return err
	}
	done := map[string]*store.Step{}
	for i := range steps {
		done[steps[i].NodeID] = &steps[i]
	}

	event := eventEnv(&ev)
	outputs := map[string]any{}
	env := map[string]any{"event": event, "nodes": outputs}
	taken := map[string]string{} // node id → port taken, for nodes that ran
	result := &runResult{event: &ev, outputs: outputs}
	for _, n := range cf.Order {
		id := n.Def.ID
		if n == cf.Trigger {
			outputs[id] = event
			taken[id] = n.Spec.PortList()[0]
			if done[id] == nil {
				if err := recordTrigger(db, &run, n, &ev, event); err != nil {
					return err
				}
			}
			continue
		}
		if !activated(n, taken) {
			continue
		}
		if s := done[id]; s != nil && s.Status == store.StepSucceeded {
			var out any
			_ = json.Unmarshal([]byte(s.Output), &out)
			outputs[id] = out
			taken[id] = s.Port
			result.last = out
			continue
		}
		status, err := e.runStatus(ctx, run.ID)
		if err != nil {
			return err
		}
		if status == store.RunCancelled {
			log.Info("run cancelled")
			return nil
		}
		attempt := 1
		if done[id] != nil {
			attempt = done[id].Attempt + 1
		}
		port, stop, err := e.step(ctx, &run, n, env, done[id], firedInputs(n, taken))
		switch {
		case errors.Is(err, errCancelled):
			return nil
		case err != nil:
			var perm *node.PermanentError
			if final || attempt > e.retries(n) || errors.As(err, &perm) {
				return e.finish(ctx, &run, store.RunFailed, fmt.Sprintf("node %s: %v", id, err), result)
			}
			log.Warn("step failed; will retry", "node_id", id, "error", err)
			return err
		case stop == stopWait:
			return nil
		case stop == stopRun:
			result.last = outputs[id]
			return e.finish(ctx, &run, store.RunSucceeded, "", result)
		}
		taken[id] = port
		result.last = outputs[id]
	}
	return e.finish(ctx, &run, store.RunSucceeded, "", result)
}

// recordTrigger writes the trigger's step: what started the run, shown in the history like any step.
func recordTrigger(db *gorm.DB, run *store.Run, n *compile.Node, ev *store.Event, event map[string]any) error {
	now := time.Now().UTC()
	st := store.Step{RunID: run.ID, NodeID: n.Def.ID, NodeType: n.Spec.Type, Status: store.StepSucceeded, Port: n.Spec.PortList()[0],
		Input: "{}", Output: toJSON(event), Attempt: 1, StartedAt: ev.CreatedAt, FinishedAt: &now}
	if err := db.Create(&st).Error; err != nil && !store.IsUniqueViolation(err) {
		return err
	}
	return nil
}

// retries is how often a failing step of n is retried: the node's own "retries" setting when it
// has one, else the engine's MaxRetry.
func (e *Engine) retries(n *compile.Node) int {
	if r, ok := n.LiteralConfig()["retries"].(float64); ok && n.Spec.Field("retries") != nil {
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

// step runs one node with checkpoints before and after. It reports the port taken and whether
// the run goes on.
func (e *Engine) step(ctx context.Context, run *store.Run, n *compile.Node, env map[string]any, prev *store.Step, inputs []string) (port string, stop stopKind, err error) {
	id := n.Def.ID
	outputs := env["nodes"].(map[string]any)
	st := prev
	if st == nil {
		st = &store.Step{RunID: run.ID, NodeID: id, NodeType: n.Spec.Type}
	}
	resumed := st.Status == store.StepWaiting
	st.Attempt++
	st.Status, st.Error, st.Port, st.Output = store.StepRunning, "", "", ""
	st.StartedAt, st.FinishedAt = time.Now().UTC(), nil

	cfg, cfgErr := n.ConfigCtx(ctx, env)
	st.Input = capJSON(toJSON(mask.Value(cfg)), e.cfg.StepOutputLimit)
	if err := e.Store.DB.WithContext(ctx).Save(st).Error; err != nil {
		return "", goOn, err
	}
	if cfgErr != nil {
		return "", goOn, e.failStep(ctx, st, node.Permanent(cfgErr))
	}

	svc := e.services()
	in := &node.Input{
		RunID: run.ID, NodeID: id, Config: cfg, Env: env, Attempt: st.Attempt, Resumed: resumed, Inputs: inputs,
		DryRun: run.DryRun, Services: svc, Log: e.log.With("run_id", run.ID, "node_id", id),
		Eval: func(field string, env map[string]any) (any, error) { return n.EvalFieldCtx(ctx, field, env) },
	}
	if st.WaitStarted != nil {
		in.WaitStarted = *st.WaitStarted
	}
	if resumed && st.Received != "" {
		in.Received, _ = fromJSON(st.Received).(map[string]any)
	}
	var res *node.Result
	if run.DryRun && n.Spec.SideEffect {
		res = &node.Result{Output: map[string]any{"dry_run": true}}
	} else {
		res, err = safeRun(ctx, n.Spec, in)
		if err != nil {
			return "", goOn, e.failStep(ctx, st, scrubbed(err, svc))
		}
	}
	if res == nil {
		res = &node.Result{}
	}
	if res.Port == "" {
		res.Port = n.Spec.PortList()[0]
	}
	if !n.Spec.HasPort(res.Port) {
		return "", goOn, e.failStep(ctx, st, node.Permanentf("node type %s returned unknown port %q", n.Spec.Type, res.Port))
	}
	if !res.WaitUntil.IsZero() {
		return "", stopWait, e.park(ctx, run, st, res.WaitUntil, res.WaitFor)
	}
	if resumed {
		if err := e.Store.DB.WithContext(ctx).Where("run_id = ? AND node_id = ?", run.ID, id).Delete(&store.Wait{}).Error; err != nil {
			return "", goOn, err
		}
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
	if err := e.Store.DB.WithContext(ctx).Save(st).Error; err != nil {
		return "", goOn, err
	}
	outputs[id] = seen
	if res.Stop {
		return res.Port, stopRun, nil
	}
	return res.Port, goOn, nil
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

// safeRun runs a node, turning a panic into a permanent step failure instead of a crashed worker.
func safeRun(ctx context.Context, spec *node.Spec, in *node.Input) (res *node.Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = node.Permanentf("node type %s panicked: %v", spec.Type, r)
		}
	}()
	return spec.Run(ctx, in)
}

func (e *Engine) failStep(ctx context.Context, st *store.Step, cause error) error {
	now := time.Now().UTC()
	st.Status, st.Error, st.FinishedAt = store.StepFailed, mask.String(cause.Error()), &now
	st.DurationMs = now.Sub(st.StartedAt).Milliseconds()
	if err := e.Store.DB.WithContext(context.WithoutCancel(ctx)).Save(st).Error; err != nil {
		return err
	}
	return cause
}

// park suspends the run until at: the step is marked waiting and a scheduled dispatch with a new
// token is written in the same transaction, so the wake-up cannot be lost.
func (e *Engine) park(ctx context.Context, run *store.Run, st *store.Step, at time.Time, wf *node.WaitFor) error {
	now := time.Now().UTC()
	if st.WaitStarted == nil {
		// The wait began when the node first ran: its deadline was computed from then.
		started := st.StartedAt
		st.WaitStarted = &started
	}
	st.Status, st.Received = store.StepWaiting, ""
	token := fmt.Sprintf("wait-%s-%d", st.NodeID, now.UnixNano())
	d := store.Dispatch{RunID: run.ID, Token: token, ProcessAt: at.UTC()}
	err := e.Store.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Save(st).Error; err != nil {
			return err
		}
		res := tx.Model(&store.Run{}).Where("id = ? AND status = ?", run.ID, store.RunRunning).
			Updates(map[string]any{"status": store.RunWaiting, "token": token, "wake_at": at.UTC(), "updated_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return errCancelled
		}
		if wf != nil {
			// The awaited event may have arrived between the step's start and now; then resume at once.
			if got, err := earlierMatch(tx, wf, st.StartedAt); err != nil || got != nil {
				if got != nil {
					st.Received = toJSON(map[string]any{"id": got.ID, "type": got.Type, "data": fromJSON(got.Data)})
					d.ProcessAt = now
					if err := tx.Save(st).Error; err != nil {
						return err
					}
					return tx.Create(&d).Error
				}
				return err
			}
			w := store.Wait{RunID: run.ID, NodeID: st.NodeID, Token: token, EventType: wf.EventType, Field: wf.Field, Value: wf.Value, ExpiresAt: at.UTC(), CreatedAt: now}
			if err := tx.Where("run_id = ? AND node_id = ?", run.ID, st.NodeID).Delete(&store.Wait{}).Error; err != nil {
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
	e.enqueue(ctx, []store.Dispatch{d})
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

// finish records a run's final status unless it was cancelled meanwhile. A run started by a
// subflow node also records a run.finished event, which wakes the parent waiting for it.
func (e *Engine) finish(ctx context.Context, run *store.Run, status, msg string, res *runResult) error {
	ctx = context.WithoutCancel(ctx)
	now := time.Now().UTC()
	var woken []store.Dispatch
	err := e.Store.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		upd := tx.Model(&store.Run{}).Where("id = ? AND status = ?", run.ID, store.RunRunning).
			Updates(map[string]any{"status": status, "error": mask.String(msg), "finished_at": now, "updated_at": now})
		if upd.Error != nil || upd.RowsAffected == 0 || res == nil || res.event.Source != "subflow" {
			return upd.Error
		}
		data := map[string]any{"run_id": run.ID, "status": status, "error": msg, "result": res.last, "nodes": res.outputs}
		data = mask.Value(fromJSON(toJSON(data))).(map[string]any)
		ev := &store.Event{ID: store.NewID(), Type: runFinishedEvent, Source: "engine", FlowID: run.FlowID, Data: toJSON(data), CreatedAt: now}
		if err := tx.Create(ev).Error; err != nil {
			return err
		}
		var err error
		if woken, err = wakeWaits(tx, ev, data); err != nil || len(woken) == 0 {
			return err
		}
		return tx.Create(&woken).Error
	})
	if err == nil {
		e.log.Info("run finished", "run_id", run.ID, "flow_id", run.FlowID, "status", status)
		e.enqueue(ctx, woken)
	}
	return err
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
