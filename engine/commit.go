package engine

import (
	"context"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/opsflow/opsflow/engine/store"
)

// The committer groups the writes of many runs into few transactions, as riverqueue's job
// completer does: every write the hot path makes (claims, checkpoints, finishes, accepted events)
// is a write function handed to a lane; a lane that is free commits at once, and one that is busy
// collects what arrives meanwhile and commits it together next. There is no fixed delay, so an
// idle system pays no latency, and a loaded one pays one commit for many runs.
//
// A write function must not fail for reasons of its own run only (a fenced run is not an error:
// it reports that through its own result). A database error rolls the whole batch back; the lane
// then runs each write in a transaction of its own, so one bad write cannot fail the others, and
// retries transient failures with backoff for up to retryFor: a result already obtained from a
// provider is written again, never fetched again.

type write struct {
	fn   func(tx *gorm.DB) error
	done chan error // nil: nobody waits (outbox clean-up)
}

type committer struct {
	db       *gorm.DB
	in       chan write
	maxBatch int
	retryFor time.Duration
	stop     chan struct{}
	stopped  chan struct{}
	lanes    int
}

// newCommitter starts lanes goroutines. SQLite has one writer, so it gets one lane.
func newCommitter(db *gorm.DB, lanes int) *committer {
	if lanes < 1 {
		lanes = 1
	}
	c := &committer{db: db, in: make(chan write, 4096), maxBatch: 128, retryFor: 2 * time.Minute,
		stop: make(chan struct{}), stopped: make(chan struct{}, lanes), lanes: lanes}
	for i := 0; i < lanes; i++ {
		go c.lane()
	}
	return c
}

// errCommitterClosed answers writes submitted after Close.
var errCommitterClosed = errors.New("the engine is shutting down")

// do runs fn in a shared transaction and waits until it is committed (or failed for good).
// ctx bounds only the wait for a place in the queue: once accepted, a write is carried out.
func (c *committer) do(ctx context.Context, fn func(tx *gorm.DB) error) error {
	w := write{fn: fn, done: make(chan error, 1)}
	select {
	case c.in <- w:
	case <-c.stop:
		return errCommitterClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-w.done:
		return err
	case <-c.stop:
		// The lane finishes what it took before stopping; wait for that answer.
		return <-w.done
	}
}

// later runs fn in a coming batch without waiting for it; when the queue is full it is dropped
// (used only for clean-up that a sweep repeats).
func (c *committer) later(fn func(tx *gorm.DB) error) {
	select {
	case c.in <- write{fn: fn}:
	default:
	}
}

// Close stops the lanes after the writes they hold; writes still queued are answered with an error.
func (c *committer) Close() {
	close(c.stop)
	for i := 0; i < c.lanes; i++ {
		<-c.stopped
	}
	for {
		select {
		case w := <-c.in:
			if w.done != nil {
				w.done <- errCommitterClosed
			}
		default:
			return
		}
	}
}

func (c *committer) lane() {
	defer func() { c.stopped <- struct{}{} }()
	batch := make([]write, 0, c.maxBatch)
	for {
		select {
		case <-c.stop:
			return
		case w := <-c.in:
			batch = append(batch[:0], w)
		}
	fill:
		for len(batch) < c.maxBatch {
			select {
			case w := <-c.in:
				batch = append(batch, w)
			default:
				break fill
			}
		}
		c.commit(batch)
	}
}

// commit writes a batch in one transaction; on failure each write is retried on its own.
func (c *committer) commit(batch []write) {
	err := c.db.Transaction(func(tx *gorm.DB) error {
		for _, w := range batch {
			if err := w.fn(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		for _, w := range batch {
			if w.done != nil {
				w.done <- nil
			}
		}
		return
	}
	for _, w := range batch {
		err := c.alone(w.fn)
		if w.done != nil {
			w.done <- err
		}
	}
}

// alone runs one write in its own transaction, retrying failures of the database (a restart, a
// lost connection) with backoff for up to retryFor. An error a write function reports itself
// (a permanent condition, such as a unique key already taken) is returned at once.
func (c *committer) alone(fn func(tx *gorm.DB) error) error {
	deadline := time.Now().Add(c.retryFor)
	delay := 50 * time.Millisecond
	for {
		var own error
		err := c.db.Transaction(func(tx *gorm.DB) error {
			if err := fn(tx); err != nil {
				if !transient(err) {
					own = err
				}
				return err
			}
			return nil
		})
		if err == nil || own != nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-c.stop:
			return err
		case <-time.After(delay):
		}
		delay = min(delay*2, 2*time.Second)
	}
}

// transient reports whether a database error may go away by itself: anything but a constraint
// violation or an error the engine made on purpose.
func transient(err error) bool {
	var fenced *fencedError
	if errors.As(err, &fenced) || errors.Is(err, errCancelled) || errors.Is(err, gorm.ErrRecordNotFound) {
		return false
	}
	return !isConstraint(err)
}

// isConstraint reports errors the same statement would meet again: integrity constraints
// (SQLSTATE class 23, SQLite "constraint failed") and invalid data (class 22, such as a NUL byte
// in text on Postgres).
func isConstraint(err error) bool {
	if store.IsUniqueViolation(err) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "SQLSTATE 23") || strings.Contains(msg, "SQLSTATE 22") || strings.Contains(msg, "constraint failed")
}
