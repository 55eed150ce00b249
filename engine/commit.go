package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"github.com/opsflow/opsflow/engine/store"
)

// The committer groups the writes of many runs into few transactions, as riverqueue's job
// completer does: every write the hot path makes (claims, checkpoints, finishes, accepted events)
// is a write function handed to its one lane; the lane commits at once when it is free, and
// while it is busy it collects what arrives and commits that together next. There is no fixed
// delay, so an idle system pays no latency, and a loaded one pays one commit for many runs.
//
// One lane, not several: with several, a write nearly always found one free and committed alone,
// so under load Postgres spent its time on commits (docs/performance.md, round 8: at 1,200 runs/s
// one lane made 0.5 commits a run where four made 1.3, and runs took 49 ms (p50) instead of a
// second; at 150/s the latency was the same). Processes (an API, workers) each have their own.
// The price: a write waiting for a row lock another transaction holds holds up the writes behind
// it, where several lanes would have let others pass (the engine's own transactions are short).
//
// A write that is one statement (a checkpoint without extra writes, on Postgres) and finds the
// lane free is sent without BEGIN and COMMIT: one round trip instead of three, which is most of a
// checkpoint's latency at low rates. A statement on its own is a transaction of its own, so this
// changes nothing of what is committed together. A batch made only of such writes goes to Postgres
// as one pipeline (one round trip, one implicit transaction) instead of a round trip per statement.
//
// A write function must not fail for reasons of its own run only (a fenced run is not an error:
// it reports that through its own result). A database error rolls the whole batch back; the lane
// then runs each write once in a transaction of its own, so one bad write cannot fail the others.
// Retrying a write through an outage is the caller's business (see execution.checkpoint), so the
// lane is never held up and the API fails fast while the database is away.

type write struct {
	fn   func(tx *gorm.DB) error
	done chan error // nil: nobody waits (outbox clean-up)
	// oneStatement: fn makes exactly one statement, so alone in a batch it needs no transaction.
	oneStatement bool
	// pg is fn's statement on Postgres: a batch whose writes all have one is sent as one pipeline.
	pg *store.Statement
}

type committer struct {
	db       *gorm.DB
	in       chan write
	maxBatch int
	stop     chan struct{}
	stopped  chan struct{} // closed when the lane has stopped
	mu       sync.RWMutex  // guards closed against sends racing Close
	closed   bool
	// fault, when set (tests only), is called before each transaction's writes; its error fails
	// the transaction like a database error.
	fault atomic.Pointer[func() error]
}

// newCommitter starts the lane.
func newCommitter(db *gorm.DB) *committer {
	c := &committer{db: db, in: make(chan write, 4096), maxBatch: 128, stop: make(chan struct{}), stopped: make(chan struct{})}
	go c.lane()
	return c
}

// errCommitterClosed answers writes submitted after Close.
var errCommitterClosed = errors.New("the engine is shutting down")

// errQueueFull means a write that nobody waits for was dropped.
var errQueueFull = errors.New("the write queue is full")

// do runs fn in a shared transaction and waits until it is committed (or failed). ctx bounds only
// the wait for a place in the queue: once accepted, a write is carried out.
func (c *committer) do(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return c.doWrite(ctx, write{fn: fn})
}

// doStatement is do for a fn that makes exactly one statement, pg on Postgres (else nil).
func (c *committer) doStatement(ctx context.Context, pg *store.Statement, fn func(tx *gorm.DB) error) error {
	return c.doWrite(ctx, write{fn: fn, oneStatement: true, pg: pg})
}

func (c *committer) doWrite(ctx context.Context, w write) error {
	w.done = make(chan error, 1)
	if err := c.send(ctx, w, true); err != nil {
		return err
	}
	return <-w.done
}

// later runs fn in a coming batch without waiting for it; when the queue is full it is dropped
// and later reports false (used only for clean-up that a sweep repeats).
func (c *committer) later(fn func(tx *gorm.DB) error) bool {
	return c.send(context.Background(), write{fn: fn}, false) == nil
}

// send queues w unless the committer is closed. Holding the read lock while sending keeps Close
// from draining the queue before w is in it, so every accepted write is answered.
func (c *committer) send(ctx context.Context, w write, wait bool) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return errCommitterClosed
	}
	if !wait {
		select {
		case c.in <- w:
			return nil
		default:
			return errQueueFull
		}
	}
	select {
	case c.in <- w:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the lane after the batch it holds; writes still queued are answered with an error.
func (c *committer) Close() {
	c.mu.Lock()
	already := c.closed
	c.closed = true
	c.mu.Unlock()
	if already {
		return
	}
	close(c.stop)
	<-c.stopped
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
	defer close(c.stopped)
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

// commit writes a batch in one transaction (or pipeline); on failure each write is retried on its own.
func (c *committer) commit(batch []write) {
	if len(batch) == 1 && batch[0].oneStatement {
		err := c.injected()
		if err == nil {
			err = batch[0].fn(c.db.Session(&gorm.Session{}))
		}
		if batch[0].done != nil {
			batch[0].done <- err
		}
		return
	}
	var err error
	if c.pipelines(batch) {
		if err = c.injected(); err == nil {
			err = c.pipeline(batch)
		}
	} else {
		err = c.db.Transaction(func(tx *gorm.DB) error {
			if err := c.injected(); err != nil {
				return err
			}
			for _, w := range batch {
				if err := w.fn(tx); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err == nil {
		for _, w := range batch {
			if w.done != nil {
				w.done <- nil
			}
		}
		return
	}
	for _, w := range batch {
		err := c.db.Transaction(func(tx *gorm.DB) error {
			if err := c.injected(); err != nil {
				return err
			}
			return w.fn(tx)
		})
		if w.done != nil {
			w.done <- err
		}
	}
}

// pipelines reports whether every write of the batch has its Postgres statement.
func (c *committer) pipelines(batch []write) bool {
	for _, w := range batch {
		if w.pg == nil {
			return false
		}
	}
	return true
}

// pipeline sends the batch's statements to Postgres at once and reads their results: one round
// trip for the whole batch instead of one per statement plus BEGIN and COMMIT. Statements sent
// together run in one implicit transaction, so an error in any rolls all of them back.
func (c *committer) pipeline(batch []write) error {
	db, err := c.db.DB()
	if err != nil {
		return err
	}
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		pc, ok := dc.(interface{ Conn() *pgx.Conn })
		if !ok {
			return fmt.Errorf("pipelined writes need a pgx connection, not %T", dc)
		}
		var b pgx.Batch
		for _, w := range batch {
			b.Queue(w.pg.SQL, w.pg.Args...)
		}
		br := pc.Conn().SendBatch(ctx, &b)
		for _, w := range batch {
			rows, err := br.Query()
			if err == nil {
				err = w.pg.Read(rows)
				rows.Close()
				if err == nil {
					err = rows.Err()
				}
			}
			if err != nil {
				br.Close()
				return err
			}
		}
		return br.Close()
	})
}

func (c *committer) injected() error {
	if f := c.fault.Load(); f != nil {
		return (*f)()
	}
	return nil
}

// transient reports whether a database error may go away by itself: anything but a constraint
// violation, invalid data, or the engine shutting down.
func transient(err error) bool {
	return !errors.Is(err, errCommitterClosed) && !errors.Is(err, gorm.ErrRecordNotFound) && !isConstraint(err)
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
