// Package engine wires the parts of opsflow together: the store, the queue, the compiler and the
// node registry. The API calls an *Engine; workers run its task handler.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"

	"github.com/opsflow/opsflow/engine/compile"
	"github.com/opsflow/opsflow/engine/netguard"
	"github.com/opsflow/opsflow/engine/queue"
	"github.com/opsflow/opsflow/engine/secret"
	"github.com/opsflow/opsflow/engine/store"
)

// Config configures an Engine. The zero value runs the embedded default: SQLite and an
// in-process queue under ./data, a generated secret key, public-only outbound HTTP.
type Config struct {
	// DataDir holds the embedded default's files (SQLite database, secret key). Default "./data".
	DataDir string
	// DatabaseURL selects Postgres ("postgres://..."); empty means SQLite in DataDir.
	DatabaseURL string
	// RedisAddr selects Redis (host:port); RedisURL does too, in any form queue.RedisOption reads
	// (TLS, Sentinel, Cluster), with RedisCAFile for TLS. Neither: the embedded queue.
	RedisAddr   string
	RedisURL    string
	RedisCAFile string
	// QueueName is the asynq queue; empty means "runs". Deployments sharing one Redis need distinct names.
	QueueName string
	// SecretKey is the base64 AES-256 key for credentials. Empty: read or create DataDir/secret.key,
	// which is allowed only with the embedded queue (scaled-out processes must share one key).
	SecretKey string
	// OldSecretKeys still decrypt credentials sealed before a key rotation (OPSFLOW_SECRET_KEY_OLD);
	// everything new is sealed with SecretKey. RotateCredentials re-seals the rest.
	OldSecretKeys []string
	// HTTPAllow lists CIDRs that outbound HTTP may reach although they are internal. Default: none.
	HTTPAllow []string
	// HTTPTimeout bounds one outbound request. Default 30s.
	HTTPTimeout time.Duration
	// Retention is how long finished runs and their events are kept. Default 90 days; at least
	// 7 days, since webhook redeliveries are recognised by the events kept.
	Retention time.Duration
	// MaxRetry is how often a failing step is retried before the run fails, unless its node has its
	// own "retries" setting. Default 3; -1 means never.
	MaxRetry int
	// RetryDelay overrides the wait before retry n (tests use short delays). Default exponential.
	RetryDelay func(n int) time.Duration
	// Concurrency is how many runs one worker executes at once. Default 10.
	Concurrency int
	// PollInterval is how often an idle worker checks for tasks. Default 20ms.
	PollInterval time.Duration
	// StepTimeout bounds one step of a run unless its node sets step_timeout. Default 5 minutes.
	StepTimeout time.Duration
	// DBPoolSize bounds the Postgres connections of this process. Default: Concurrency + 20.
	DBPoolSize int
	// DBStatementTimeout makes Postgres cancel any statement running longer (its statement_timeout,
	// set per connection). Zero: the server's own setting. Ignored by SQLite.
	DBStatementTimeout time.Duration
	// StartTimeout bounds how long Open keeps retrying Postgres and Redis (DefaultStartTimeout if 0;
	// negative: one attempt).
	StartTimeout time.Duration
	// RequireMigrated makes Open refuse a database with pending migrations instead of applying them.
	RequireMigrated bool
	// ExprTimeout bounds one evaluation of an expression or template field. Default 1s.
	// ExprMemoryBudget bounds what it may build, in bytes of text plus list elements. Default 1,000,000.
	// Both apply to the whole process (see compile.SetExprLimits).
	ExprTimeout      time.Duration
	ExprMemoryBudget uint
	// StepOutputLimit caps each step's stored input and output, in bytes of JSON; a larger one is
	// stored, and seen downstream, as {"_truncated": true, "size": N, "preview": "..."}. Default 256 KiB.
	StepOutputLimit int
	Logger          *slog.Logger
	// Offline opens only the store, for command-line tools: no queue, no dispatcher, no worker.
	// (An embedded queue in a second process would take runs from the outbox that only it could see.)
	Offline bool
}

// MinRetention is the shortest retention: webhook redeliveries are deduplicated for 7 days.
const MinRetention = 7 * 24 * time.Hour

// Engine is one opsflow process's view of the system.
type Engine struct {
	Store *store.Store
	Queue *queue.Queue
	box   *secret.Box
	http  *http.Client
	log   *slog.Logger
	cfg   Config

	compiled sync.Map // "flowID@version" → *compile.Flow; versions are immutable
	running  sync.Map // run id → context.CancelCauseFunc, for runs executing in this process
	commit   *committer
	warm     *warmStacks                        // the goroutines runs execute on (see warmStacks)
	handed   handedOver                         // outbox rows the queue has, to delete
	flows    atomic.Pointer[store.FlowSnapshot] // flows events start, for accepting in one statement (Postgres)
	// parking, when set (tests only), is called while a run parks for an event, after it looked
	// for the event and before the wait is committed.
	parking atomic.Pointer[func()]

	stopDispatch context.CancelFunc
	dispatchDone chan struct{}
	stopCancels  context.CancelFunc
	scheduleDone chan struct{}
	server       *asynq.Server
}

// Open connects to the store and the queue and starts the outbox dispatcher.
func Open(cfg Config) (*Engine, error) {
	cfg = withStartDefaults(cfg)
	if cfg.HTTPTimeout <= 0 {
		cfg.HTTPTimeout = 30 * time.Second
	}
	if cfg.Retention == 0 {
		cfg.Retention = 90 * 24 * time.Hour
	}
	if cfg.Retention < MinRetention {
		return nil, fmt.Errorf("retention must be at least 7 days (redeliveries are recognised by the events kept), not %s", cfg.Retention)
	}
	if cfg.MaxRetry == 0 {
		cfg.MaxRetry = 3
	} else if cfg.MaxRetry < 0 {
		cfg.MaxRetry = 0
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.StepTimeout <= 0 {
		cfg.StepTimeout = 5 * time.Minute
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 10
	}
	if cfg.DBPoolSize <= 0 {
		cfg.DBPoolSize = cfg.Concurrency + 20
	}
	if cfg.StepOutputLimit <= 0 {
		cfg.StepOutputLimit = DefaultStepOutputLimit
	}
	compile.SetExprLimits(cfg.ExprTimeout, cfg.ExprMemoryBudget)
	if err := checkDatabaseURL(cfg.DatabaseURL); err != nil {
		return nil, err
	}
	redisOpt, err := queue.RedisOption(cfg.RedisAddr, cfg.RedisURL, cfg.RedisCAFile)
	if err != nil {
		return nil, err
	}
	var key []byte
	switch {
	case cfg.SecretKey != "":
		key, err = secret.ParseKey(cfg.SecretKey)
	case redisOpt != nil:
		// API and worker processes on other machines must decrypt what this one encrypts.
		err = errors.New("OPSFLOW_SECRET_KEY is required with REDIS_ADDR or REDIS_URL: every process must share it (generate one with: openssl rand -base64 32)")
	default:
		key, err = secret.LoadOrCreateKeyFile(filepath.Join(cfg.DataDir, "secret.key"))
	}
	if err != nil {
		return nil, err
	}
	box, err := secret.NewBox(key)
	if err != nil {
		return nil, err
	}
	if box, err = withOldKeys(box, cfg.OldSecretKeys); err != nil {
		return nil, err
	}
	guard, err := netguard.New(cfg.HTTPAllow)
	if err != nil {
		return nil, err
	}
	st, err := openStore(cfg)
	if err != nil {
		return nil, err
	}
	if err := checkKey(context.Background(), st, box); err != nil {
		st.Close()
		if errors.Is(err, ErrWrongKey) {
			err = wrongKey(cfg)
		}
		return nil, err
	}
	e := &Engine{Store: st, box: box, http: guard.Client(cfg.HTTPTimeout), log: cfg.Logger, cfg: cfg, commit: newCommitter(st.DB)}
	if cfg.Offline {
		return e, nil
	}
	q, err := openQueue(cfg, redisOpt)
	if err != nil {
		st.Close()
		return nil, err
	}
	e.Queue = q
	// Remember this Redis: if it later comes back empty, the watcher refills it (see dispatchLoop).
	if _, err := q.MarkEpoch(context.Background()); err != nil {
		e.Close()
		return nil, fmt.Errorf("queue: %w", err)
	}
	if q.Embedded {
		// The embedded queue starts empty: hand every unfinished run to it again.
		if err := e.recoverRuns(context.Background(), 0, true); err != nil {
			e.Close()
			return nil, fmt.Errorf("recovering unfinished runs: %w", err)
		}
		if err := e.recoverReplays(context.Background()); err != nil {
			e.Close()
			return nil, fmt.Errorf("recovering unfinished replays: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.stopDispatch = cancel
	e.dispatchDone = make(chan struct{})
	e.scheduleDone = make(chan struct{})
	go e.dispatchLoop(ctx)
	go e.scheduleLoop(ctx, time.Second)
	return e, nil
}

// StartWorker starts consuming runs in this process.
func (e *Engine) StartWorker() error {
	srv := e.Queue.NewServer(queue.ServerConfig{
		Concurrency:  e.cfg.Concurrency,
		PollInterval: e.cfg.PollInterval,
		RetryDelay:   e.cfg.RetryDelay,
		Logger:       e.log,
	})
	mux := asynq.NewServeMux()
	e.warm = newWarmStacks(2 * e.cfg.Concurrency)
	mux.HandleFunc(queue.TaskRun, e.handleTask)
	mux.HandleFunc(TaskReplay, e.handleReplayTask)
	if err := srv.Start(mux); err != nil {
		e.warm.Close()
		return fmt.Errorf("starting worker: %w", err)
	}
	e.server = srv
	// A cancel reaches the step running in whichever process holds the run.
	ctx, cancel := context.WithCancel(context.Background())
	e.stopCancels = cancel
	go e.Queue.SubscribeCancels(ctx, e.log, func(runID string) {
		if c, ok := e.running.Load(runID); ok {
			c.(context.CancelCauseFunc)(errCancelled)
		}
	})
	return nil
}

// Close stops the worker (letting running steps finish), the dispatcher, the queue and the store.
func (e *Engine) Close() {
	if e.server != nil {
		e.server.Shutdown()
		e.stopCancels()
		e.warm.Close()
	}
	if e.stopDispatch != nil {
		e.stopDispatch()
		<-e.dispatchDone
		<-e.scheduleDone
	}
	e.commit.Close()
	if e.Queue != nil {
		e.Queue.Close()
	}
	e.Store.Close()
}

// Ready reports whether the store and the queue answer.
func (e *Engine) Ready(ctx context.Context) error {
	sqlDB, err := e.Store.DB.DB()
	if err != nil {
		return err
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	if err := e.Queue.Ping(); err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	return nil
}
