package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/opsflow/opsflow/engine/compile"
	"github.com/opsflow/opsflow/engine/mask"
	"github.com/opsflow/opsflow/engine/node"
	"github.com/opsflow/opsflow/engine/queue"
	"github.com/opsflow/opsflow/engine/store"
	"github.com/opsflow/opsflow/engine/telemetry"
)

// Accepted is the answer to an event: the stored event and the runs it started.
type Accepted struct {
	EventID string   `json:"event_id"`
	RunIDs  []string `json:"run_ids"`
	// Duplicate is true when the idempotency key was seen before; nothing new was started.
	Duplicate bool `json:"duplicate,omitempty"`
	// ResumedRunIDs are waiting runs this event woke (logic.wait_for_event).
	ResumedRunIDs []string `json:"resumed_run_ids,omitempty"`
	// RespondWithin is set for webhook flows that answer the request themselves: how long to wait.
	RespondWithin time.Duration `json:"-"`
}

// target is a flow version a new event runs against.
type target struct {
	flowID  string
	version int
	dryRun  bool
}

// Common errors the API maps to 4xx codes.
var (
	ErrFlowNotPublished = errors.New("the flow has no published version")
	ErrFlowDisabled     = errors.New("the flow is disabled")
	ErrWrongTrigger     = errors.New("the flow's trigger does not accept this kind of request")
)

// AcceptEvent stores an API event and starts a run in every enabled published flow whose
// trigger.event matches its type. It returns only after everything is committed.
func (e *Engine) AcceptEvent(ctx context.Context, typ string, data any, idempotencyKey string) (*Accepted, error) {
	ev := &store.Event{Type: typ, Source: "api"}
	if idempotencyKey != "" {
		k := "api:" + idempotencyKey
		ev.IdempotencyKey = &k
	}
	// No fixed targets: the flows are looked up in the accepting transaction.
	return e.accept(ctx, ev, data, nil)
}

// matching lists the flows whose trigger pattern matches an event type, among those found by
// their exact type or a wildcard.
func matching(found []store.FlowTarget, typ string) []target {
	var targets []target
	for _, f := range found {
		if EventTypeMatches(f.EventType, typ) {
			targets = append(targets, target{flowID: f.ID, version: f.Version})
		}
	}
	return targets
}

// EventTypeMatches reports whether an event type pattern ("payment.failed", "payment.*", "*")
// matches an event type.
func EventTypeMatches(pattern, typ string) bool {
	if pattern == typ {
		return true
	}
	if !strings.Contains(pattern, "*") {
		return false
	}
	ok, err := path.Match(strings.ReplaceAll(pattern, "/", "\x00"), strings.ReplaceAll(typ, "/", "\x00"))
	return err == nil && ok
}

// WebhookError is a rejected webhook delivery (bad signature, wrong method); the API answers Status.
type WebhookError struct {
	Status  int
	Code    string
	Message string
}

func (e *WebhookError) Error() string { return e.Message }

// AcceptWebhook stores a delivery to a trigger.webhook flow and starts a run of its published version.
func (e *Engine) AcceptWebhook(ctx context.Context, flowID string, w *node.Webhook) (*Accepted, error) {
	var f store.Flow
	if err := e.Store.DB.WithContext(ctx).Where("id = ?", flowID).Take(&f).Error; err != nil {
		return nil, store.NotFound(err)
	}
	if f.PublishedVersion == 0 {
		return nil, ErrFlowNotPublished
	}
	if f.TriggerType != "trigger.webhook" {
		return nil, ErrWrongTrigger
	}
	if !f.Enabled {
		return nil, ErrFlowDisabled
	}
	cf, err := e.compiledVersion(ctx, f.ID, f.PublishedVersion)
	if err != nil {
		return nil, err
	}
	trig := cf.Trigger
	dedupID := ""
	if trig.Spec.Receive != nil {
		dedupID, err = trig.Spec.Receive(ctx, trig.LiteralConfig(), e.services(), w)
		if err != nil {
			var re *node.RejectError
			if errors.As(err, &re) {
				telemetry.WebhookVerified(f.ID, re.Code)
				e.log.Warn("webhook rejected", "flow_id", flowID, "reason", re.Message)
				if err := e.Store.DB.WithContext(ctx).Model(&store.Flow{}).Where("id = ?", f.ID).
					UpdateColumn("rejected_deliveries", gorm.Expr("rejected_deliveries + 1")).Error; err != nil {
					e.log.Warn("counting a rejected delivery", "flow_id", flowID, "error", err)
				}
				return nil, &WebhookError{Status: re.Status, Code: re.Code, Message: re.Message}
			}
			return nil, err
		}
		telemetry.WebhookVerified(f.ID, "ok")
	}
	data := webhookData(w)
	ev := &store.Event{Type: webhookType(data), Source: "webhook", FlowID: f.ID, RawBody: []byte(mask.String(string(w.Body)))}
	hdr, _ := json.Marshal(safeHeaders(w.Headers))
	ev.Headers = mask.String(string(hdr))
	if dedupID != "" {
		k := "hook:" + f.ID + ":" + dedupID
		ev.IdempotencyKey = &k
	}
	acc, err := e.accept(ctx, ev, data, []target{{flowID: f.ID, version: f.PublishedVersion}})
	if err != nil || acc.Duplicate {
		return acc, err
	}
	for _, n := range cf.Order {
		if n.Spec.Responds {
			acc.RespondWithin = 10 * time.Second
			if s, ok := n.LiteralConfig()["timeout"].(string); ok {
				if d, err := compile.ParseDuration(s); err == nil {
					acc.RespondWithin = d
				}
			}
		}
	}
	return acc, nil
}

// WebhookResponse is what a flow answers to the webhook that started it.
type WebhookResponse struct {
	Status  int
	Headers map[string]string
	Body    any
}

// Why a webhook flow gave no response.
var (
	ErrNoResponse        = errors.New("the flow did not respond in time")
	ErrFailedBeforeReply = errors.New("the flow failed before it responded")
)

// WaitResponse waits until the run's responding node has run, or the run ends, or within passes.
func (e *Engine) WaitResponse(ctx context.Context, runID string, within time.Duration) (*WebhookResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	responders := map[string]bool{}
	for _, s := range node.All() {
		if s.Responds {
			responders[s.Type] = true
		}
	}
	types := make([]string, 0, len(responders))
	for t := range responders {
		types = append(types, t)
	}
	for {
		// Read the run's status before looking for the step: a run seen finished here cannot
		// write its response step after the look.
		status, statusErr := e.runStatus(ctx, runID)
		var st store.Step
		err := e.Store.DB.WithContext(ctx).Where("run_id = ? AND node_type IN ? AND status = ?", runID, types, store.StepSucceeded).Take(&st).Error
		if err == nil {
			var out struct {
				Status  int               `json:"status"`
				Headers map[string]string `json:"headers"`
				Body    any               `json:"body"`
			}
			if err := json.Unmarshal([]byte(st.Output), &out); err != nil {
				return nil, err
			}
			return &WebhookResponse{Status: out.Status, Headers: out.Headers, Body: out.Body}, nil
		}
		if statusErr == nil && store.Terminal(status) {
			if status == store.RunFailed {
				return nil, ErrFailedBeforeReply
			}
			return nil, ErrNoResponse
		}
		select {
		case <-ctx.Done():
			return nil, ErrNoResponse
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// webhookType names a delivery by the body's own top-level "type" (Stripe, Standard Webhooks and
// many CRMs send one, e.g. "invoice.paid"), so runs waiting for that event can recognise it;
// otherwise it is "webhook".
func webhookType(data any) string {
	if m, ok := data.(map[string]any); ok {
		if t, ok := m["type"].(string); ok && t != "" && len(t) <= 200 && !strings.ContainsAny(t, " *") {
			return t
		}
	}
	return "webhook"
}

// webhookData is what a webhook flow sees as event.data: the JSON body, a form, or the text.
func webhookData(w *node.Webhook) any {
	ct := strings.ToLower(w.Headers.Get("Content-Type"))
	switch {
	case len(w.Body) == 0:
		return map[string]any{}
	case strings.Contains(ct, "application/x-www-form-urlencoded"):
		if vals, err := url.ParseQuery(string(w.Body)); err == nil {
			form := map[string]any{}
			for k, v := range vals {
				form[k] = strings.Join(v, ",")
			}
			return form
		}
	default:
		var v any
		if json.Unmarshal(w.Body, &v) == nil {
			return v
		}
	}
	return string(w.Body)
}

// secretHeader reports whether a header (lower case) carries credentials.
func secretHeader(lk string) bool {
	return lk == "authorization" || lk == "cookie" || lk == "proxy-authorization" || strings.Contains(lk, "token") || strings.Contains(lk, "api-key") || strings.Contains(lk, "apikey")
}

// safeHeaders drops headers that carry credentials before anything is stored.
func safeHeaders(h http.Header) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		lk := strings.ToLower(k)
		if secretHeader(lk) {
			continue
		}
		out[lk] = strings.Join(v, ", ")
	}
	return out
}

// RunManual runs version v (0 = latest, usually the draft) of a flow with a sample payload.
func (e *Engine) RunManual(ctx context.Context, flowID string, v int, data any, dryRun bool) (*Accepted, error) {
	var f store.Flow
	if err := e.Store.DB.WithContext(ctx).Where("id = ?", flowID).Take(&f).Error; err != nil {
		return nil, store.NotFound(err)
	}
	if v == 0 {
		v = f.LatestVersion
	}
	if _, err := e.compiledVersion(ctx, f.ID, v); err != nil {
		return nil, err
	}
	ev := &store.Event{Type: "manual", Source: "manual", FlowID: f.ID}
	return e.accept(ctx, ev, data, []target{{flowID: f.ID, version: v, dryRun: dryRun}})
}

// accept commits the event, its runs and their dispatch rows in one transaction, then hands the
// runs to the queue. If the process dies after the commit, the dispatcher enqueues them later.
// The runs are of the fixed targets, or when there are none, of the flows matching the event's type.
func (e *Engine) accept(ctx context.Context, ev *store.Event, data any, fixed []target) (*Accepted, error) {
	e.cleanEventKeys(ev)
	data = mask.Value(cleanData(data))
	b, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("event data: %w", err)
	}
	ev.ID = store.NewID()
	ev.Data = string(b)
	// Microseconds, as Postgres keeps them: a run started from its task's copy of the event sees
	// the same time as one that reads the event back.
	ev.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	ev.Traceparent = telemetry.Traceparent(ctx)
	acc := &Accepted{EventID: ev.ID, RunIDs: []string{}}
	var dispatches []store.Dispatch
	done := false
	if e.Store.Postgres() {
		done, err = e.acceptAlone(ctx, ev, fixed, acc, &dispatches)
	}
	// Otherwise event, runs, woken waits and outbox rows commit together (with other requests'
	// writes in the same transaction under load); the runs are handed to the queue right after.
	if err == nil && !done {
		err = e.commit.do(ctx, func(tx *gorm.DB) error {
			*acc = Accepted{EventID: ev.ID, RunIDs: []string{}}
			dispatches = nil
			if ev.IdempotencyKey != nil {
				if dup, err := findDuplicate(tx, *ev.IdempotencyKey); err != nil || dup != nil {
					if dup != nil {
						*acc = *dup
					}
					return err
				}
			}
			// One statement finds the flows to run and what waiting runs look for in events of this type.
			found, waitFields, err := e.Store.EventLookup(tx, ev.Type, len(fixed) == 0)
			if err != nil {
				return err
			}
			runs := newRuns(ev, targetsOf(found, fixed, ev.Type), acc, &dispatches)
			if err := e.Store.InsertAccepted(tx, ev, runs, dispatches); err != nil {
				return err
			}
			woken, err := wakeWaits(tx, ev, data, waitFields)
			if err != nil {
				return err
			}
			for _, d := range woken {
				acc.ResumedRunIDs = append(acc.ResumedRunIDs, d.RunID)
			}
			dispatches = append(dispatches, woken...)
			return nil
		})
	}
	if err != nil && ev.IdempotencyKey != nil && store.IsUniqueViolation(err) {
		// A concurrent request with the same key won the race: answer with its event.
		dup, err2 := findDuplicate(e.Store.DB.WithContext(ctx), *ev.IdempotencyKey)
		if err2 == nil && dup != nil {
			return dup, nil
		}
	}
	if err != nil {
		return nil, err
	}
	telemetry.EventAccepted(ev.Source, acc.Duplicate)
	if !acc.Duplicate {
		e.enqueue(ctx, dispatches)
	}
	return acc, nil
}

// acceptAlone is accept on Postgres without a transaction: one statement, sent without BEGIN and
// COMMIT when the committer's lane is free, that writes the event, its runs and their outbox rows.
// The runs are made from the flows this process keeps in memory (see flowSnapshot); the statement
// writes nothing when those changed meanwhile (then they are read again and it is sent again),
// when runs wait for events of this type (waking them must commit with the event, in a
// transaction: it reports false, having written nothing), or when the idempotency key is taken
// (the earlier event is the answer). So an acceptance is one round trip, reading nothing first.
func (e *Engine) acceptAlone(ctx context.Context, ev *store.Event, fixed []target, acc *Accepted, dispatches *[]store.Dispatch) (bool, error) {
	for try := 0; try < 3; try++ {
		var gen *int64
		var found []store.FlowTarget
		if len(fixed) == 0 {
			snap, err := e.flowSnapshot(ctx, try > 0)
			if err != nil {
				return false, err
			}
			gen, found = &snap.Gen, snap.Flows
		}
		*acc, *dispatches = Accepted{EventID: ev.ID, RunIDs: []string{}}, nil
		runs := newRuns(ev, targetsOf(found, fixed, ev.Type), acc, dispatches)
		var outcome store.AcceptOutcome
		pg := store.CheckedAcceptStatement(ev, runs, *dispatches, gen, true, &outcome)
		if err := e.commit.doStatement(ctx, &pg, func(tx *gorm.DB) error { return e.Store.RunStatement(tx, pg) }); err != nil {
			return false, err
		}
		switch outcome {
		case store.AcceptWritten:
			return true, nil
		case store.AcceptWaitedOn:
			return false, nil
		case store.AcceptDuplicate:
			if ev.IdempotencyKey == nil {
				return false, fmt.Errorf("event %s was not written: its id exists", ev.ID)
			}
			dup, err := findDuplicate(e.Store.DB.WithContext(ctx), *ev.IdempotencyKey)
			if err == nil && dup == nil {
				err = fmt.Errorf("event with idempotency key %q neither written nor found", *ev.IdempotencyKey)
			}
			if err != nil {
				return false, err
			}
			*acc, *dispatches = *dup, nil
			return true, nil
		}
		// The flows changed since they were read: read them again.
	}
	return false, nil // the flows keep changing: the transaction reads them itself
}

// flowSnapshot is the flows events start, as this process last read them (again when fresh).
// Acceptances check its generation in their statement, so an old copy is never used, only replaced.
func (e *Engine) flowSnapshot(ctx context.Context, fresh bool) (*store.FlowSnapshot, error) {
	if snap := e.flows.Load(); snap != nil && !fresh {
		return snap, nil
	}
	snap, err := e.Store.ReadFlowSnapshot(e.Store.DB.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	e.flows.Store(snap)
	return snap, nil
}

// targetsOf is fixed, or when there are none, the flows found whose pattern matches typ.
func targetsOf(found []store.FlowTarget, fixed []target, typ string) []target {
	if len(fixed) > 0 {
		return fixed
	}
	return matching(found, typ)
}

// newRuns makes the queued runs of ev for the targets, with their outbox rows (added to
// dispatches) and ids (added to acc).
func newRuns(ev *store.Event, targets []target, acc *Accepted, dispatches *[]store.Dispatch) []store.Run {
	runs := make([]store.Run, 0, len(targets))
	for _, t := range targets {
		run := store.Run{ID: store.NewID(), FlowID: t.flowID, FlowVersion: t.version, EventID: ev.ID, Status: store.RunQueued, DryRun: t.dryRun, Token: "start", CreatedAt: ev.CreatedAt, UpdatedAt: ev.CreatedAt}
		runs = append(runs, run)
		acc.RunIDs = append(acc.RunIDs, run.ID)
		*dispatches = append(*dispatches, store.Dispatch{RunID: run.ID, Token: run.Token, ProcessAt: ev.CreatedAt, CreatedAt: ev.CreatedAt,
			Start: newStartHint(&run, ev)})
	}
	return runs
}

// wakeWaits resumes the runs waiting for this event, in the accepting transaction: the received
// event is recorded on the waiting step and the run gets a new token and an outbox row (written
// here; returned for the queue). A run whose timeout already woke it (its token moved on) is left
// alone. fields are the data fields those runs match on (see store.EventLookup).
func wakeWaits(tx *gorm.DB, ev *store.Event, data any, fields []string) ([]store.Dispatch, error) {
	var out []store.Dispatch
	for _, field := range fields {
		v, ok := node.Get(data, field)
		if !ok {
			continue
		}
		var waits []store.Wait
		if err := tx.Where("event_type = ? AND field = ? AND value = ?", ev.Type, field, compile.Stringify(v)).Find(&waits).Error; err != nil {
			return nil, err
		}
		for _, w := range waits {
			token := "event-" + ev.ID
			res := tx.Model(&store.Run{}).Where("id = ? AND token = ? AND status = ?", w.RunID, w.Token, store.RunWaiting).
				Updates(map[string]any{"token": token, "status": store.RunQueued, "updated_at": ev.CreatedAt})
			if res.Error != nil {
				return nil, res.Error
			}
			if res.RowsAffected == 0 {
				continue
			}
			received := toJSON(map[string]any{"id": ev.ID, "type": ev.Type, "data": data})
			if err := tx.Model(&store.Step{}).Where("run_id = ? AND node_id = ?", w.RunID, w.NodeID).Update("received", received).Error; err != nil {
				return nil, err
			}
			if err := tx.Delete(&w).Error; err != nil {
				return nil, err
			}
			out = append(out, store.Dispatch{RunID: w.RunID, Token: token, ProcessAt: ev.CreatedAt, CreatedAt: ev.CreatedAt})
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, tx.Create(&out).Error
}

func findDuplicate(tx *gorm.DB, key string) (*Accepted, error) {
	var prev store.Event
	err := tx.Select("id").Where("idempotency_key = ?", key).Take(&prev).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	acc := &Accepted{EventID: prev.ID, RunIDs: []string{}, Duplicate: true}
	err = tx.Model(&store.Run{}).Where("event_id = ?", prev.ID).Order("id").Pluck("id", &acc.RunIDs).Error
	return acc, err
}

// taskMaxRetry backstops asynq's own retries; steps count their attempts themselves (see retries).
const taskMaxRetry = 25

// enqueue hands committed dispatches to the queue; the outbox rows of those it handed over are
// deleted in a coming batch of writes (a row left behind is enqueued again harmlessly: the task
// id is the same). Any that fail stay in the outbox for the dispatcher.
func (e *Engine) enqueue(ctx context.Context, ds []store.Dispatch) {
	if e.Queue == nil {
		return // offline (a command-line tool): the outbox keeps them for a running process's dispatcher
	}
	var done []uint
	for _, d := range ds {
		if err := e.Queue.Enqueue(ctx, queue.Payload{RunID: d.RunID, Token: d.Token, Start: d.Start}, d.ProcessAt, taskMaxRetry); err != nil {
			e.log.Warn("enqueue failed; the dispatcher will retry", "run_id", d.RunID, "error", err)
			continue
		}
		done = append(done, d.ID)
	}
	e.handed.drop(e.commit, e.Store, done)
}

// handedOver collects the outbox rows of runs the queue has, so that one statement deletes those
// of many runs.
type handedOver struct {
	mu  sync.Mutex
	ids []uint
}

// outboxDelay is how long handed-over rows wait before they are deleted: at low rates one delete
// (and one commit) then serves many runs instead of one each. It is well under the 2 s after which
// the dispatcher looks at outbox rows, and a delete lost to a crash only costs a task sent twice.
const outboxDelay = 100 * time.Millisecond

// drop adds ids; the first ids after a delete schedule the next one, outboxDelay later.
func (h *handedOver) drop(c *committer, st *store.Store, ids []uint) {
	if len(ids) == 0 {
		return
	}
	h.mu.Lock()
	first := len(h.ids) == 0
	h.ids = append(h.ids, ids...)
	h.mu.Unlock()
	if first {
		time.AfterFunc(outboxDelay, func() { h.flush(c, st) })
	}
}

// flush deletes the rows collected so far in a coming batch of writes.
func (h *handedOver) flush(c *committer, st *store.Store) {
	var taken []uint // kept for a retry of the same write
	if !c.later(func(tx *gorm.DB) error {
		if taken == nil {
			h.mu.Lock()
			taken, h.ids = h.ids, nil
			h.mu.Unlock()
		}
		return st.DeleteDispatches(tx, taken)
	}) {
		h.mu.Lock()
		h.ids = nil // the sweep sends them again, and they are deleted then
		h.mu.Unlock()
	}
}

// Recovery bounds, also in docs/reliability.md.
const (
	// recoverEvery is how often unfinished runs are checked for lost tasks.
	recoverEvery = 15 * time.Second
	// staleAfter is how long a queued or running run may go without a write before its task is
	// looked for (and replaced if lost or archived); a waiting run is looked at once overdue by as much.
	staleAfter = 60 * time.Second
	// watchEvery is how often orphaned tasks (dead or frozen workers) and a Redis that lost its
	// data are looked for: a dead worker's runs resume within asynq's 30 s lease plus this.
	watchEvery = 5 * time.Second
	// recoverBatch bounds one pass, so a large backlog costs a bounded amount of Redis work.
	recoverBatch = 1000
)

// dispatchLoop drains the outbox every second; every few seconds it gives new tasks to runs whose
// worker died and refills the queue if Redis lost its data; it re-enqueues runs the queue has lost
// every 15 s and prunes runs past retention every hour. Runs parked on a timer cost nothing here
// until they are overdue.
func (e *Engine) dispatchLoop(ctx context.Context) {
	defer close(e.dispatchDone)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var lastRecover, lastWatch time.Time
	lastPrune := time.Now().Add(-time.Hour + time.Minute) // first prune a minute after start
	warn := func(what string, err error) {
		if err != nil && ctx.Err() == nil {
			e.log.Warn(what, "error", err)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var ds []store.Dispatch
		if err := e.Store.DB.WithContext(ctx).Where("created_at < ?", time.Now().UTC().Add(-2*time.Second)).Order("id").Limit(500).Find(&ds).Error; err != nil {
			warn("reading outbox", err)
			continue
		}
		e.enqueue(ctx, ds)
		if time.Since(lastWatch) >= watchEvery {
			lastWatch = time.Now()
			warn("resuming runs of dead workers", e.redispatchOrphans(ctx))
			if kept, err := e.Queue.MarkEpoch(ctx); err != nil {
				warn("checking the queue", err)
			} else if !kept {
				e.log.Warn("the queue lost its data (Redis restarted empty?): handing every unfinished run to it again")
				warn("refilling the queue", e.recoverRuns(ctx, 30*time.Second, true))
			}
		}
		if time.Since(lastRecover) >= recoverEvery {
			lastRecover = time.Now()
			warn("recovering runs", e.recoverRuns(ctx, staleAfter, false))
		}
		if time.Since(lastPrune) > time.Hour {
			lastPrune = time.Now()
			if n, err := e.Prune(ctx, time.Now().Add(-e.cfg.Retention)); err != nil {
				warn("pruning old runs", err)
			} else if n > 0 {
				e.log.Info("pruned old runs", "runs", n)
			}
			warn("pruning old replays", e.PruneReplays(ctx, time.Now().Add(-ReplayRetention)))
		}
	}
}

// recoverRuns enqueues the tasks of queued and running runs untouched for longer than age, and of
// waiting runs overdue by as much, or (parked) of every waiting run at its wake-up time. The task id
// is derived from the run's token, so a run whose task is still in the queue is not enqueued twice;
// an archived task is replaced (see queue.Enqueue).
func (e *Engine) recoverRuns(ctx context.Context, age time.Duration, parked bool) error {
	cutoff := time.Now().UTC().Add(-age)
	cursor := ""
	for {
		var runs []store.Run
		// Queued and running runs untouched for age; a waiting one once overdue by as much.
		lost := e.Store.DB.Where("status IN ? AND updated_at <= ?", []string{store.RunQueued, store.RunRunning}, cutoff).
			Or("status = ? AND wake_at <= ?", store.RunWaiting, cutoff)
		if parked {
			// The queue lost everything: also every queued and parked run, however recent. Only
			// running runs wait for age, since a live worker may still be finishing them.
			lost = lost.Or("status IN ?", []string{store.RunQueued, store.RunWaiting})
		}
		// Unfinished runs are found by the finished_at index (status has none; see migration 7).
		q := e.Store.DB.WithContext(ctx).Select("id", "token", "wake_at", "status").Where("finished_at IS NULL").Where(lost)
		if parked {
			// A refill goes through every unfinished run.
			q = q.Where("id > ?", cursor).Order("id")
		} else {
			// A routine pass looks at the longest-forgotten runs first, a bounded number of them.
			q = q.Order("updated_at")
		}
		if err := q.Limit(recoverBatch).Find(&runs).Error; err != nil {
			return err
		}
		for _, r := range runs {
			if _, mine := e.running.Load(r.ID); mine {
				continue
			}
			at := time.Time{}
			if r.Status == store.RunWaiting && r.WakeAt != nil {
				at = *r.WakeAt
			}
			if err := e.Queue.Enqueue(ctx, queue.Payload{RunID: r.ID, Token: r.Token}, at, taskMaxRetry); err != nil {
				return err
			}
		}
		if !parked || len(runs) < recoverBatch {
			return nil
		}
		cursor = runs[len(runs)-1].ID
	}
}

// redispatchOrphans gives a new task to each run whose task lost its worker. The run goes back to
// queued with its lease bumped, so the worker that had it, if it was only frozen, can write nothing.
func (e *Engine) redispatchOrphans(ctx context.Context) error {
	orphans, err := e.Queue.Orphans()
	if err != nil || len(orphans) == 0 {
		return err
	}
	return e.reassign(ctx, orphans)
}

// reassign takes runs away from the tasks named and gives them new ones (see redispatchOrphans).
func (e *Engine) reassign(ctx context.Context, orphans []queue.Payload) error {
	var ds []store.Dispatch
	err := e.commit.do(ctx, func(tx *gorm.DB) error {
		ds = ds[:0]
		now := time.Now().UTC()
		for _, p := range orphans {
			token := fmt.Sprintf("orphan-%d", now.UnixNano())
			res := tx.Model(&store.Run{}).Where("id = ? AND token = ? AND status IN ?", p.RunID, p.Token, []string{store.RunQueued, store.RunRunning}).
				Updates(map[string]any{"token": token, "status": store.RunQueued, "lease": gorm.Expr("lease + 1"), "updated_at": now})
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected == 1 {
				ds = append(ds, store.Dispatch{RunID: p.RunID, Token: token, ProcessAt: now, CreatedAt: now})
			}
		}
		if len(ds) == 0 {
			return nil
		}
		return tx.Create(&ds).Error
	})
	if err != nil {
		return err
	}
	if len(ds) > 0 {
		e.log.Warn("resuming runs whose worker stopped", "runs", len(ds))
	}
	e.enqueue(ctx, ds)
	return nil
}

// Prune deletes finished runs (with their steps) that ended before cutoff, and events older than
// cutoff that no remaining run refers to. It returns how many runs it deleted.
func (e *Engine) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	var pruned int64
	for {
		var ids []string
		err := e.Store.DB.WithContext(ctx).Model(&store.Run{}).
			Where("status IN ? AND finished_at < ?", []string{store.RunSucceeded, store.RunFailed, store.RunCancelled}, cutoff.UTC()).
			Limit(500).Pluck("id", &ids).Error
		if err != nil || len(ids) == 0 {
			if err == nil {
				err = e.Store.DB.WithContext(ctx).Where("created_at < ? AND id NOT IN (?)", cutoff.UTC(),
					e.Store.DB.Model(&store.Run{}).Select("event_id")).Delete(&store.Event{}).Error
			}
			return pruned, err
		}
		err = e.Store.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if err := tx.Where("run_id IN ?", ids).Delete(&store.Step{}).Error; err != nil {
				return err
			}
			return tx.Where("id IN ?", ids).Delete(&store.Run{}).Error
		})
		if err != nil {
			return pruned, err
		}
		pruned += int64(len(ids))
	}
}
