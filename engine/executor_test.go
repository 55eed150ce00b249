package engine_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/queue"
	"github.com/opsflow/opsflow/engine/store"
)

// gate is a provider stand-in whose calls block until the test lets them go.
type gate struct {
	*httptest.Server
	arrived chan *http.Request
	release chan int // status to answer the blocked call with
	calls   atomic.Int32
	gone    chan struct{} // closed when a blocked caller hangs up
}

func newGate(t *testing.T, blockFirst int) *gate {
	g := &gate{arrived: make(chan *http.Request, 16), release: make(chan int, 16), gone: make(chan struct{})}
	var once sync.Once
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := g.calls.Add(1)
		io.Copy(io.Discard, r.Body) // the server notices a hang-up only once the body is read
		g.arrived <- r
		if int(n) <= blockFirst {
			select {
			case status, ok := <-g.release:
				if !ok {
					return
				}
				w.WriteHeader(status)
				w.Write([]byte(`{}`))
			case <-r.Context().Done():
				once.Do(func() { close(g.gone) })
			case <-time.After(30 * time.Second):
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(func() {
		close(g.release)
		g.Close()
	})
	return g
}

func (g *gate) wait(t *testing.T) *http.Request {
	t.Helper()
	select {
	case r := <-g.arrived:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("the provider was never called")
		return nil
	}
}

func runOf(t *testing.T, e *engine.Engine, id string) store.Run {
	t.Helper()
	var r store.Run
	if err := e.Store.DB.Where("id = ?", id).Take(&r).Error; err != nil {
		t.Fatal(err)
	}
	return r
}

// A worker that lost its run while stuck in a step (frozen past its lease, say) and then wakes
// up must not write over the history the new holder wrote: its writes are fenced by the lease.
func TestStaleWorkerCannotRewriteHistory(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			e := enginetest.New(t, b)
			g := newGate(t, 1)
			id := enginetest.Publish(t, e, enginetest.MustFlow(t, httpFlow(g.URL)))
			_ = id
			acc := accept(t, e, "order.paid", map[string]any{"order_id": "SO-9", "card": "none"}, "")
			runID := acc.RunIDs[0]
			g.wait(t) // the first holder is now inside the call, and stays there

			// The watcher finds the task orphaned and gives the run a new one.
			if err := e.Reassign(context.Background(), runID, runOf(t, e, runID).Token); err != nil {
				t.Fatal(err)
			}
			g.wait(t) // the new holder calls (and is answered at once)
			d := enginetest.WaitRun(t, e, runID, 20*time.Second)
			if d.Run.Status != store.RunSucceeded {
				t.Fatalf("run %s: %s", d.Run.Status, d.Run.Error)
			}
			before := stepsJSON(t, e, runID)

			// The old holder wakes up to a failure and tries to record it.
			g.release <- http.StatusInternalServerError
			deadline := time.Now().Add(3 * time.Second)
			for time.Now().Before(deadline) {
				if after := stepsJSON(t, e, runID); after != before {
					t.Fatalf("a stale worker rewrote the history:\nbefore %s\nafter  %s", before, after)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if r := runOf(t, e, runID); r.Status != store.RunSucceeded {
				t.Fatalf("run became %s", r.Status)
			}
			for _, s := range d.Steps {
				if s.Status != store.StepSucceeded {
					t.Errorf("step %s is %s in a succeeded run", s.NodeID, s.Status)
				}
			}
		})
	}
}

func stepsJSON(t *testing.T, e *engine.Engine, runID string) string {
	t.Helper()
	var steps []store.Step
	if err := e.Store.DB.Where("run_id = ?", runID).Order("node_id").Find(&steps).Error; err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, s := range steps {
		b.WriteString(s.NodeID + ":" + s.Status + ":" + s.Error + ";")
	}
	return b.String()
}

// Cancelling a run interrupts the step it is in (the provider sees the caller hang up), from any
// process, and the history says the step was cancelled.
func TestCancelInterruptsRunningStep(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			cfg := enginetest.Config(t, b)
			e := enginetest.Start(t, cfg)
			canceller := e
			if b == enginetest.Postgres {
				// Another process (an API server) cancels; the worker hears of it through Redis.
				other := cfg
				other.DataDir = t.TempDir()
				var err error
				if canceller, err = engine.Open(other); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(canceller.Close)
			}
			g := newGate(t, 1)
			enginetest.Publish(t, e, enginetest.MustFlow(t, httpFlow(g.URL)))
			acc := accept(t, e, "order.paid", map[string]any{"order_id": "SO-3", "card": "none"}, "")
			g.wait(t)
			if _, err := canceller.CancelRun(context.Background(), acc.RunIDs[0]); err != nil {
				t.Fatal(err)
			}
			select {
			case <-g.gone:
			case <-time.After(15 * time.Second):
				t.Fatal("the running step was not interrupted by the cancel")
			}
			d := enginetest.WaitRun(t, e, acc.RunIDs[0], 10*time.Second)
			if d.Run.Status != store.RunCancelled {
				t.Fatalf("run is %s", d.Run.Status)
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				s := enginetest.Step(d, "call")
				if s != nil && s.Status == store.StepFailed && s.Error == "cancelled" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the interrupted step is recorded as %+v", s)
				}
				time.Sleep(20 * time.Millisecond)
				d, _ = e.GetRun(context.Background(), acc.RunIDs[0])
			}
			if enginetest.Step(d, "after") != nil {
				t.Error("a step after the cancel ran")
			}
		})
	}
}

// A step that runs past its step_timeout is stopped and fails with a clear reason.
func TestStepTimeout(t *testing.T) {
	e := enginetest.New(t, enginetest.Embedded)
	g := newGate(t, 100)
	doc := strings.Replace(httpFlow(g.URL), `"action.http","config":{`, `"action.http","config":{"step_timeout":"1s","retries":0,`, 1)
	enginetest.Publish(t, e, enginetest.MustFlow(t, doc))
	acc := accept(t, e, "order.paid", map[string]any{"order_id": "SO-4", "card": "none"}, "")
	d := enginetest.WaitRun(t, e, acc.RunIDs[0], 20*time.Second)
	if d.Run.Status != store.RunFailed || !strings.Contains(d.Run.Error, "step timed out (1s)") {
		t.Fatalf("run %s: %q", d.Run.Status, d.Run.Error)
	}
	if s := enginetest.Step(d, "call"); s == nil || s.Status != store.StepFailed || s.Attempt != 1 {
		t.Fatalf("step: %+v", s)
	}
}

// When the write after a side effect fails (the database blips), the write is retried, not the
// provider call; also when the call was not recorded before it was sent (idempotent).
func TestCheckpointWriteRetriedNotSideEffect(t *testing.T) {
	for _, b := range enginetest.Backends() {
		for _, idem := range []bool{false, true} {
			name := string(b)
			if idem {
				name += "/idempotent"
			}
			t.Run(name, func(t *testing.T) { checkpointWriteRetried(t, b, idem) })
		}
	}
}

// idempotentFlow is httpFlow with its call marked "Target ignores repeats" when idem is set.
func idempotentFlow(url string, idem bool) string {
	return strings.Replace(httpFlow(url), `"method":"POST"`, fmt.Sprintf(`"method":"POST","idempotent":%v`, idem), 1)
}

func checkpointWriteRetried(t *testing.T, b enginetest.Backend, idem bool) {
	e := enginetest.New(t, b)
	srv, calls := countingProvider(t)
	enginetest.Publish(t, e, enginetest.MustFlow(t, idempotentFlow(srv.URL, idem)))
	// From the provider's answer on, the next 5 transactions of writes fail like a lost connection.
	var failing atomic.Int32
	e.FailWrites(func() error {
		if calls.Load() > 0 && failing.Add(1) <= 5 {
			return errors.New("simulated: connection reset by peer")
		}
		return nil
	})
	acc := accept(t, e, "order.paid", map[string]any{"order_id": "SO-5", "card": "none"}, "")
	d := enginetest.WaitRun(t, e, acc.RunIDs[0], 30*time.Second)
	if d.Run.Status != store.RunSucceeded {
		t.Fatalf("run %s: %s", d.Run.Status, d.Run.Error)
	}
	if failing.Load() < 5 {
		t.Fatalf("only %d writes were made to fail", failing.Load())
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("the provider was called %d times", n)
	}
}

// A call whose target drops repeats ("Target ignores repeats") is not recorded before it is sent
// on the run's first execution, only with its result. When that execution is lost (its worker
// died or stalled and the run was given to another), the next one records the attempt before it
// calls again, with the same key, so repeated losses stay counted and bounded. Without the
// setting, every attempt is recorded before its call.
func TestIdempotentCallRecordedWithItsResult(t *testing.T) {
	for _, b := range enginetest.Backends() {
		for _, idem := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/idempotent=%v", b, idem), func(t *testing.T) {
				e := enginetest.New(t, b)
				type call struct {
					key, status string // status: of the step when the call arrived ("" if none stored)
					attempt     int
				}
				var (
					mu      sync.Mutex
					calls   []call
					n       atomic.Int32
					release = make(chan struct{})
				)
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					io.Copy(io.Discard, r.Body)
					c := call{key: r.Header.Get("Idempotency-Key")}
					runID, nodeID, _ := strings.Cut(c.key, ":")
					var st store.Step
					if e.Store.DB.Where("run_id = ? AND node_id = ?", runID, nodeID).Limit(1).Find(&st).RowsAffected > 0 {
						c.status, c.attempt = st.Status, st.Attempt
					}
					mu.Lock()
					calls = append(calls, c)
					mu.Unlock()
					if n.Add(1) == 1 { // the first execution stays in its call until the end
						select {
						case <-release:
						case <-r.Context().Done():
						}
						w.WriteHeader(http.StatusInternalServerError)
						return
					}
					w.Header().Set("Content-Type", "application/json")
					w.Write([]byte(`{"ok":true}`))
				}))
				defer srv.Close()
				defer close(release)
				enginetest.Publish(t, e, enginetest.MustFlow(t, idempotentFlow(srv.URL, idem)))
				runID := accept(t, e, "order.paid", map[string]any{"order_id": "SO-7", "card": "none"}, "").RunIDs[0]
				seen := func(k int) call {
					t.Helper()
					for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
						mu.Lock()
						if len(calls) >= k {
							c := calls[k-1]
							mu.Unlock()
							return c
						}
						mu.Unlock()
					}
					t.Fatalf("call %d never arrived", k)
					return call{}
				}
				first := seen(1)
				if idem && (first.status != "" || runOf(t, e, runID).Lease != 0) {
					t.Fatalf("idempotent: the first call was recorded before it was sent: %+v, lease %d", first, runOf(t, e, runID).Lease)
				}
				if !idem && (first.status != store.StepRunning || first.attempt != 1) {
					t.Fatalf("the first call was not recorded as attempt 1 before it was sent: %+v", first)
				}

				// The watcher finds the task orphaned and gives the run a new one.
				if err := e.Reassign(context.Background(), runID, runOf(t, e, runID).Token); err != nil {
					t.Fatal(err)
				}
				second := seen(2)
				wantAttempt := 2 // the lost attempt was counted
				if idem {
					wantAttempt = 1 // nothing knew of the lost one; this one is counted before its call
				}
				if second.status != store.StepRunning || second.attempt != wantAttempt || second.key != first.key {
					t.Fatalf("second call: %+v, want step running, attempt %d, key %q", second, wantAttempt, first.key)
				}
				d := enginetest.WaitRun(t, e, runID, 20*time.Second)
				if s := enginetest.Step(d, "call"); d.Run.Status != store.RunSucceeded || s == nil || s.Attempt != wantAttempt {
					t.Fatalf("run %s (%s), step %+v", d.Run.Status, d.Run.Error, s)
				}
				before := stepsJSON(t, e, runID)
				release <- struct{}{} // the lost execution's call fails now; its write must be refused
				time.Sleep(time.Second)
				if after := stepsJSON(t, e, runID); after != before || runOf(t, e, runID).Status != store.RunSucceeded {
					t.Fatalf("the lost execution rewrote the history:\nbefore %s\nafter  %s", before, after)
				}
				if got := n.Load(); got != 2 {
					t.Fatalf("%d calls, want 2", got)
				}
			})
		}
	}
}

// A run whose task was archived (its retries ran out while no worker could take it) gets a new
// task from recovery instead of staying queued for ever.
func TestArchivedTaskIsReplaced(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			e, runID := acceptedWithoutWorker(t, b)
			if err := e.Queue.Inspector.ArchiveTask(e.Queue.Name, queue.TaskID(runID, "start")); err != nil {
				t.Fatal(err)
			}
			if err := e.StartWorker(); err != nil {
				t.Fatal(err)
			}
			if err := e.RecoverRuns(context.Background(), 0, false); err != nil {
				t.Fatal(err)
			}
			if d := enginetest.WaitRun(t, e, runID, 20*time.Second); d.Run.Status != store.RunSucceeded {
				t.Fatalf("run %s: %s", d.Run.Status, d.Run.Error)
			}
		})
	}
}

const delayFlow = `{"schema":"opsflow/v1","name":"delay","nodes":[
	{"id":"t","type":"trigger.event","config":{"event_type":"order.created","sample":{"order_id":"SO-1"}}},
	{"id":"wait","type":"logic.delay","config":{"duration":"1h"}},
	{"id":"after","type":"action.log","config":{"message":"woke"}}],
	"edges":[{"from":"t","to":"wait"},{"from":"wait","to":"after"}]}`

// A run parked on a timer costs recovery nothing until it is overdue: its lost task is not
// re-created by a routine pass (the old engine re-enqueued every parked run every 30 s), but an
// overdue one is.
func TestParkedRunsCostNothingUntilOverdue(t *testing.T) {
	e := enginetest.New(t, enginetest.Embedded)
	enginetest.Publish(t, e, enginetest.MustFlow(t, delayFlow))
	acc := accept(t, e, "order.created", map[string]any{"order_id": "SO-7"}, "")
	runID := acc.RunIDs[0]
	deadline := time.Now().Add(10 * time.Second)
	for runOf(t, e, runID).Status != store.RunWaiting {
		if time.Now().After(deadline) {
			t.Fatal("the run never parked")
		}
		time.Sleep(10 * time.Millisecond)
	}
	r := runOf(t, e, runID)
	taskID := queue.TaskID(runID, r.Token)
	// The wake-up task is enqueued just after the park commits: wait for it, then lose it.
	for {
		err := e.Queue.Inspector.DeleteTask(e.Queue.Name, taskID)
		if err == nil {
			break
		}
		if !errors.Is(err, asynq.ErrTaskNotFound) || time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Make the run look long untouched.
	e.Store.DB.Model(&store.Run{}).Where("id = ?", runID).Update("updated_at", time.Now().UTC().Add(-time.Hour))
	if err := e.RecoverRuns(context.Background(), time.Minute, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Queue.Inspector.GetTaskInfo(e.Queue.Name, taskID); !errors.Is(err, asynq.ErrTaskNotFound) {
		t.Fatalf("a routine pass touched a parked run that is not due: %v", err)
	}
	// Overdue: the same pass hands it over again.
	e.Store.DB.Model(&store.Run{}).Where("id = ?", runID).Update("wake_at", time.Now().UTC().Add(-2*time.Minute))
	if err := e.RecoverRuns(context.Background(), time.Minute, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Queue.Inspector.GetTaskInfo(e.Queue.Name, taskID); err != nil {
		t.Fatalf("an overdue parked run got no task: %v", err)
	}
}

// When Redis loses its data (restarted empty), the queue is refilled within seconds, not minutes.
// Only the embedded queue is flushed here: the shared Redis of the Postgres tests is never touched.
func TestQueueRefilledAfterRedisLosesData(t *testing.T) {
	e, runID := acceptedWithoutWorker(t, enginetest.Embedded)
	rdb := e.Queue.Opt.MakeRedisClient().(redis.UniversalClient)
	defer rdb.Close()
	if err := rdb.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	if err := e.StartWorker(); err != nil {
		t.Fatal(err)
	}
	// The watcher looks every 5 s; 20 s leaves room on a busy machine, and is far below the
	// 2 minutes the old recovery needed.
	if d := enginetest.WaitRun(t, e, runID, 20*time.Second); d.Run.Status != store.RunSucceeded {
		t.Fatalf("run %s: %s", d.Run.Status, d.Run.Error)
	}
}

// acceptedWithoutWorker opens an engine whose worker is not started yet, with httpFlow published
// against a provider that answers OK, and accepts one event: the run waits in the queue.
func acceptedWithoutWorker(t *testing.T, b enginetest.Backend) (*engine.Engine, string) {
	t.Helper()
	e, err := engine.Open(enginetest.Config(t, b))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{}`)) }))
	t.Cleanup(srv.Close)
	enginetest.Publish(t, e, enginetest.MustFlow(t, httpFlow(srv.URL)))
	return e, accept(t, e, "order.paid", map[string]any{"order_id": "SO-6", "card": "none"}, "").RunIDs[0]
}

// countingProvider is a provider that answers every request with a JSON success and counts them.
func countingProvider(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// An event accepted while a run parks for it — after the park looked for an earlier match, before
// the wait is committed — still wakes the run. At read committed each of the two transactions
// can miss the other's write; the park looks once more after its commit. Postgres only: SQLite
// writes one transaction at a time (and the acceptance would wait for the park's).
func TestEventDuringParkWakesRun(t *testing.T) {
	cfg := enginetest.Config(t, enginetest.Postgres)
	e := enginetest.Start(t, cfg)
	// The payment arrives at another API process: the hook runs inside the parking write, which
	// holds this process's committer until it returns.
	api, err := engine.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	ctx := context.Background()
	enginetest.Publish(t, e, enginetest.MustFlow(t, `{"name":"wait","nodes":[
		{"id":"t","type":"trigger.event","config":{"event_type":"order.created","sample":{"order_id":"SO-1"}}},
		{"id":"w","type":"logic.wait_for_event","config":{"event_type":"payment.succeeded","match_field":"order_id","match_value":"{{ event.data.order_id }}","timeout":"1h"}},
		{"id":"l","type":"action.log","config":{"message":"paid"}}],
		"edges":[{"from":"t","to":"w"},{"from":"w","to":"l","port":"received"}]}`))
	var (
		once    sync.Once
		payment *engine.Accepted
	)
	e.WhileParking(func() {
		once.Do(func() {
			payment, err = api.AcceptEvent(ctx, "payment.succeeded", map[string]any{"order_id": "SO-1"}, "")
		})
	})
	runID := accept(t, e, "order.created", map[string]any{"order_id": "SO-1"}, "").RunIDs[0]
	d := enginetest.WaitRun(t, e, runID, 15*time.Second)
	if err != nil || payment == nil {
		t.Fatalf("accepting the payment while the run parked: %v", err)
	}
	if len(payment.ResumedRunIDs) != 0 {
		t.Fatalf("the payment saw the uncommitted wait: %v", payment.ResumedRunIDs)
	}
	if d.Run.Status != store.RunSucceeded || enginetest.Step(d, "l") == nil {
		t.Fatalf("run %s (%s): the payment accepted while it parked did not wake it", d.Run.Status, d.Run.Error)
	}
}
