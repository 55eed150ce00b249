package engine_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/store"
)

// openIdle opens an engine without a worker: the test runs tasks itself with Execute.
func openIdle(t *testing.T, b enginetest.Backend) *engine.Engine {
	t.Helper()
	e, err := engine.Open(enginetest.Config(t, b))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// acceptIdle accepts an event and waits until its outbox row is deleted (a write of its own in a
// coming batch), so that the committer is quiet afterwards. It returns the run and its start hint.
func acceptIdle(t *testing.T, e *engine.Engine, key string) (store.Run, []byte) {
	t.Helper()
	acc := accept(t, e, "order.paid", map[string]any{"order_id": key, "card": "none"}, "")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var n int64
		if err := e.Store.DB.Model(&store.Dispatch{}).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the outbox row was never deleted")
		}
	}
	run := runOf(t, e, acc.RunIDs[0])
	var ev store.Event
	if err := e.Store.DB.Where("id = ?", run.EventID).Take(&ev).Error; err != nil {
		t.Fatal(err)
	}
	hint := e.StartHint(run, ev)
	if hint == nil {
		t.Fatal("no start hint")
	}
	return run, hint
}

// A new run whose task carries its start hint claims together with its first checkpoint: one
// transaction fewer than a run that is claimed first, with the same result.
func TestFreshRunClaimsWithFirstCheckpoint(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			e := openIdle(t, b)
			srv, calls := countingProvider(t)
			enginetest.Publish(t, e, enginetest.MustFlow(t, httpFlow(srv.URL)))
			var txs atomic.Int32
			e.FailWrites(func() error { txs.Add(1); return nil })

			count := func(run store.Run, hint []byte) int32 {
				before := txs.Load()
				if err := e.Execute(context.Background(), run.ID, run.Token, hint); err != nil {
					t.Fatal(err)
				}
				n := txs.Load() - before
				d := enginetest.WaitRun(t, e, run.ID, 20*time.Second)
				if d.Run.Status != store.RunSucceeded || d.Run.Lease != 1 || d.Run.StartedAt == nil {
					t.Fatalf("run %s, lease %d, started %v: %s", d.Run.Status, d.Run.Lease, d.Run.StartedAt, d.Run.Error)
				}
				for _, id := range []string{"t", "call", "after"} {
					if s := enginetest.Step(d, id); s == nil || s.Status != store.StepSucceeded || s.Attempt != 1 {
						t.Fatalf("step %s: %+v", id, s)
					}
				}
				return n
			}
			fresh, hint := acceptIdle(t, e, "SO-1")
			claimed, _ := acceptIdle(t, e, "SO-2")
			withHint := count(fresh, hint)
			without := count(claimed, nil)
			// claim + "started" record of call + finish, against ("started" + claim) + finish.
			if without != 3 || withHint != 2 {
				t.Fatalf("transactions per run: %d with the start hint, %d without (want 2 and 3)", withHint, without)
			}
			if n := calls.Load(); n != 2 {
				t.Fatalf("the provider was called %d times", n)
			}
		})
	}
}

// A stale task of a new run (its run was claimed, then taken away and given a new token, say
// for a frozen worker) cannot write, neither by the first-write claim nor by the usual claim;
// and the execution that did claim it is fenced once the run is given to another task.
func TestStaleFreshTaskCannotWrite(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			e := openIdle(t, b)
			g := newGate(t, 1)
			enginetest.Publish(t, e, enginetest.MustFlow(t, httpFlow(g.URL)))
			run, hint := acceptIdle(t, e, "SO-3")

			// The first holder claims with its first checkpoint and is then stuck in the call.
			first := make(chan error, 1)
			go func() { first <- e.Execute(context.Background(), run.ID, run.Token, hint) }()
			g.wait(t)
			if r := runOf(t, e, run.ID); r.Status != store.RunRunning || r.Lease != 1 {
				t.Fatalf("after the first write: %s, lease %d", r.Status, r.Lease)
			}
			// The watcher gives the run a new task (queued again, lease 2, a new token).
			if err := e.Reassign(context.Background(), run.ID, run.Token); err != nil {
				t.Fatal(err)
			}
			before := runOf(t, e, run.ID)
			steps := stepsJSON(t, e, run.ID)

			// A duplicate of the first task arrives: it writes nothing and calls nobody.
			if err := e.Execute(context.Background(), run.ID, run.Token, hint); err != nil {
				t.Fatal(err)
			}
			// The first holder's call returns: its writes are refused.
			g.release <- http.StatusOK
			if err := <-first; err != nil {
				t.Fatal(err)
			}
			after := runOf(t, e, run.ID)
			if after.Status != store.RunQueued || after.Lease != before.Lease || after.Token != before.Token || !after.UpdatedAt.Equal(before.UpdatedAt) {
				t.Fatalf("a stale task wrote the run: before %+v, after %+v", before, after)
			}
			if s := stepsJSON(t, e, run.ID); s != steps {
				t.Fatalf("a stale task wrote steps:\nbefore %s\nafter  %s", steps, s)
			}
			if n := g.calls.Load(); n != 1 {
				t.Fatalf("the provider was called %d times", n)
			}

			// The same for a run that finished: a duplicate of its first task does nothing.
			run2, hint2 := acceptIdle(t, e, "SO-4")
			if err := e.Execute(context.Background(), run2.ID, run2.Token, hint2); err != nil {
				t.Fatal(err)
			}
			done := runOf(t, e, run2.ID)
			steps2 := stepsJSON(t, e, run2.ID)
			if err := e.Execute(context.Background(), run2.ID, run2.Token, hint2); err != nil {
				t.Fatal(err)
			}
			if r := runOf(t, e, run2.ID); r.Status != store.RunSucceeded || r.Lease != 1 || !r.UpdatedAt.Equal(done.UpdatedAt) || stepsJSON(t, e, run2.ID) != steps2 {
				t.Fatalf("a duplicate task rewrote a finished run: %+v", r)
			}
			if n := g.calls.Load(); n != 2 {
				t.Fatalf("the provider was called %d times", n)
			}
		})
	}
}
