package engine

import (
	"fmt"
	"runtime/debug"
	"sync"
)

// warmStacks runs tasks on a few long-lived goroutines instead of the one asynq starts for each
// task. A run goes deep (pgx, gorm, net/http, expr, encoding/json) and a new goroutine starts with
// a small stack, so each task's goroutine grew its stack several times, copying it at each
// doubling: 4.8 % of the process's CPU at 1,000 runs/s (docs/performance.md, round 9). A warm
// goroutine keeps the stack its last run grew (the garbage collector halves an idle one's now and
// then, so it regrows once, not at every run).
type warmStacks struct {
	free   chan *warmG // goroutines waiting for work
	mu     sync.RWMutex
	closed bool
	stop   chan struct{}
}

type warmG struct{ work chan warmTask }

type warmTask struct {
	fn   func()
	done chan error // the panic, if fn panicked
}

// newWarmStacks starts n goroutines. StartWorker asks for twice the worker's concurrency, so a
// task finds one free even while a task asynq gave up on (past its deadline) still runs.
func newWarmStacks(n int) *warmStacks {
	w := &warmStacks{free: make(chan *warmG, n), stop: make(chan struct{})}
	for range n {
		g := &warmG{work: make(chan warmTask, 1)}
		w.free <- g
		go w.loop(g)
	}
	return w
}

func (w *warmStacks) loop(g *warmG) {
	for {
		select {
		case t := <-g.work:
			err := call(t.fn)
			w.free <- g // free again before the caller goes on, so its next task finds it
			t.done <- err
		case <-w.stop:
			// Close comes after every send (see run): a task sent just before it is still run.
			select {
			case t := <-g.work:
				t.done <- call(t.fn)
			default:
			}
			return
		}
	}
}

// call runs fn and returns its panic, with the stack where it happened, as an error.
func call(fn func()) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v\n%s", p, debug.Stack())
		}
	}()
	fn()
	return nil
}

// run calls fn on a warm goroutine and waits for it; when none is free (or they have stopped) it
// calls fn here. A panic in fn is raised again here, where asynq recovers it as a task's.
func (w *warmStacks) run(fn func()) {
	t := warmTask{fn: fn, done: make(chan error, 1)}
	w.mu.RLock()
	var g *warmG
	if !w.closed {
		select {
		case g = <-w.free:
			g.work <- t
		default:
		}
	}
	w.mu.RUnlock()
	if g == nil {
		fn()
		return
	}
	if p := <-t.done; p != nil {
		panic(p)
	}
}

// Close stops the goroutines once they finish what they run; later calls of run run fn in place.
func (w *warmStacks) Close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	w.mu.Unlock()
	close(w.stop)
}
