// Package queue hands runs to workers through asynq. With a Redis connection option it uses that
// Redis (one server, Sentinel or Cluster); without one it starts an in-process Redis-compatible server (miniredis) so the embedded default
// runs exactly the same asynq code path.
package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// TaskRun is the asynq task type that executes (or resumes) one run.
const TaskRun = "run:execute"

// DefaultName is the asynq queue runs go to unless Config.Name says otherwise.
const DefaultName = "runs"

// Payload of a TaskRun task.
type Payload struct {
	RunID string `json:"run_id"`
	Token string `json:"token"`
	// Start, on the first task of a run, is what the engine needs to start it without reading the
	// database first (a hint: a task without it, or whose run was claimed since, claims as usual).
	Start json.RawMessage `json:"start,omitempty"`
}

// Config of the queue. The zero value is the embedded default.
type Config struct {
	// Redis is how to reach Redis (see RedisOption); nil starts an in-process server.
	Redis asynq.RedisConnOpt
	// Name is the asynq queue name; "" means DefaultName. Deployments sharing one Redis use different names.
	Name string
}

// Queue is a connection to the task queue.
type Queue struct {
	Opt       asynq.RedisConnOpt // every Redis client of the queue is made from this one option
	Client    *asynq.Client
	Inspector *asynq.Inspector
	Embedded  bool
	Name      string
	rdb       redis.UniversalClient // for what asynq does not do: cancel notices, the epoch key
	mini      *miniredis.Miniredis
}

// Open connects to Redis, or starts the embedded server.
func Open(cfg Config) (*Queue, error) {
	q := &Queue{Opt: cfg.Redis, Name: cfg.Name}
	if q.Name == "" {
		q.Name = DefaultName
	}
	if cfg.Redis == nil {
		q.mini = miniredis.NewMiniRedis()
		if err := q.mini.Start(); err != nil {
			return nil, fmt.Errorf("cannot start embedded queue: %w", err)
		}
		q.Opt = asynq.RedisClientOpt{Addr: q.mini.Addr()}
		q.Embedded = true
	}
	q.Client = asynq.NewClient(q.Opt)
	q.Inspector = asynq.NewInspector(q.Opt)
	q.rdb = q.Opt.MakeRedisClient().(redis.UniversalClient)
	if err := q.Ping(); err != nil {
		q.Close()
		return nil, fmt.Errorf("cannot reach Redis at %s: %w", Describe(q.Opt), err)
	}
	return q, nil
}

// Ping checks the connection.
func (q *Queue) Ping() error {
	return q.Client.Ping()
}

// Close releases the connection and stops the embedded server.
func (q *Queue) Close() {
	if q.Client != nil {
		q.Client.Close()
	}
	if q.Inspector != nil {
		q.Inspector.Close()
	}
	if q.rdb != nil {
		q.rdb.Close()
	}
	if q.mini != nil {
		q.mini.Close()
	}
}

// TaskID is the asynq task id of a dispatch: the same run and token always give the same id,
// so a dispatch enqueued twice is one task.
func TaskID(runID, token string) string { return "run:" + runID + ":" + token }

// Enqueue hands a run to the workers. Enqueueing a task that is already queued is not an error.
func (q *Queue) Enqueue(ctx context.Context, p Payload, at time.Time, maxRetry int) error {
	b, _ := json.Marshal(p)
	opts := []asynq.Option{
		asynq.Queue(q.Name),
		asynq.TaskID(TaskID(p.RunID, p.Token)),
		asynq.MaxRetry(maxRetry),
		asynq.Timeout(30 * time.Minute),
	}
	if !at.IsZero() && at.After(time.Now()) {
		// asynq keeps schedule times in whole seconds, truncating: round up so a timer never fires early.
		if up := at.Truncate(time.Second); up.Before(at) {
			at = up.Add(time.Second)
		}
		opts = append(opts, asynq.ProcessAt(at))
	}
	task := asynq.NewTask(TaskRun, b)
	_, err := q.Client.EnqueueContext(ctx, task, opts...)
	if errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask) {
		// The task is there already, unless it was archived (its retries ran out, for instance
		// while no worker could take it): then it would never run, so it is replaced.
		info, ierr := q.Inspector.GetTaskInfo(q.Name, TaskID(p.RunID, p.Token))
		if ierr != nil || info.State != asynq.TaskStateArchived {
			return nil
		}
		if err := q.Inspector.DeleteTask(q.Name, info.ID); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
			return err
		}
		_, err = q.Client.EnqueueContext(ctx, task, opts...)
		if errors.Is(err, asynq.ErrTaskIDConflict) {
			return nil
		}
	}
	return err
}

// Orphans lists the runs whose tasks are active with no live worker behind them: the worker died
// or froze and its lease ran out. asynq itself retries such tasks only 30 s after the lease ends,
// and checks once a minute; the engine gives these runs a new task sooner.
func (q *Queue) Orphans() ([]Payload, error) {
	var out []Payload
	for page := 1; page <= 20; page++ {
		tasks, err := q.Inspector.ListActiveTasks(q.Name, asynq.PageSize(500), asynq.Page(page))
		if errors.Is(err, asynq.ErrQueueNotFound) {
			return nil, nil // nothing was ever enqueued
		}
		if err != nil {
			return out, err
		}
		for _, t := range tasks {
			var p Payload
			if t.IsOrphaned && json.Unmarshal(t.Payload, &p) == nil && p.RunID != "" {
				out = append(out, p)
			}
		}
		if len(tasks) < 500 {
			break
		}
	}
	return out, nil
}

// Workers counts the live worker processes consuming this queue: asynq servers that sent a
// heartbeat recently (a dead one's record expires within about half a minute).
func (q *Queue) Workers() (int, error) {
	servers, err := q.Inspector.Servers()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range servers {
		if _, ok := s.Queues[q.Name]; ok && s.Status == "active" {
			n++
		}
	}
	return n, nil
}

// MarkEpoch reports whether Redis still holds the queue's epoch key, setting it if not. A missing
// key means Redis lost its data (restarted empty, flushed, failed over to an empty replica): every
// task may be gone and unfinished runs need new ones.
func (q *Queue) MarkEpoch(ctx context.Context) (kept bool, err error) {
	set, err := q.rdb.SetNX(ctx, "opsflow:{"+q.Name+"}:epoch", time.Now().UTC().Format(time.RFC3339), 0).Result()
	return !set, err
}

func (q *Queue) cancelChannel() string { return "opsflow:{" + q.Name + "}:cancel" }

// PublishCancel tells every worker process that a run was cancelled.
func (q *Queue) PublishCancel(ctx context.Context, runID string) error {
	return q.rdb.Publish(ctx, q.cancelChannel(), runID).Err()
}

// SubscribeCancels calls fn with every cancelled run id until ctx ends, resubscribing after
// connection losses. A notice missed while disconnected costs only promptness: the run's writes
// are fenced on its status, so it stops at its next checkpoint anyway.
func (q *Queue) SubscribeCancels(ctx context.Context, log *slog.Logger, fn func(runID string)) {
	for ctx.Err() == nil {
		sub := q.rdb.Subscribe(ctx, q.cancelChannel())
		ch := sub.Channel()
	read:
		for {
			select {
			case <-ctx.Done():
				break read
			case m, ok := <-ch:
				if !ok {
					break read
				}
				fn(m.Payload)
			}
		}
		sub.Close()
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
			log.Debug("resubscribing to cancel notices")
		}
	}
}

// ServerConfig tunes a worker.
type ServerConfig struct {
	// Concurrency is how many runs execute at once; 0 means 10.
	Concurrency int
	// PollInterval is how often an idle worker checks Redis for new tasks; 0 means 20ms. asynq's own
	// default of 1s would add about half a second to every run.
	PollInterval time.Duration
	// RetryDelay computes the wait before retry n of a failed step; nil means exponential from 1s to 5 min.
	RetryDelay func(n int) time.Duration
	Logger     *slog.Logger
}

// NewServer creates an asynq server that consumes runs.
func (q *Queue) NewServer(cfg ServerConfig) *asynq.Server {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 10
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 20 * time.Millisecond
	}
	delay := cfg.RetryDelay
	if delay == nil {
		delay = func(n int) time.Duration {
			d := time.Second << min(n, 9)
			return min(d, 5*time.Minute)
		}
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.Default()
	}
	return asynq.NewServer(q.Opt, asynq.Config{
		Concurrency:              cfg.Concurrency,
		Queues:                   map[string]int{q.Name: 1},
		TaskCheckInterval:        cfg.PollInterval,
		DelayedTaskCheckInterval: time.Second,
		RetryDelayFunc:           func(n int, _ error, _ *asynq.Task) time.Duration { return delay(n) },
		ShutdownTimeout:          20 * time.Second,
		Logger:                   slogAdapter{lg},
		LogLevel:                 asynq.WarnLevel,
	})
}

// slogAdapter sends asynq's log lines to slog.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...), "component", "asynq") }
func (a slogAdapter) Info(args ...any)  { a.l.Info(fmt.Sprint(args...), "component", "asynq") }
func (a slogAdapter) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...), "component", "asynq") }
func (a slogAdapter) Error(args ...any) { a.l.Error(fmt.Sprint(args...), "component", "asynq") }
func (a slogAdapter) Fatal(args ...any) { a.l.Error(fmt.Sprint(args...), "component", "asynq") }
