package main

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"github.com/gin-gonic/gin"
	"github.com/glebarez/sqlite"
	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// The baseline is the same pipeline written by hand from the same parts opsflow uses: a gin
// handler stores the event and enqueues an asynq task; the task handler evaluates the flow's
// expressions with expr, makes the same two HTTP calls and stores one result row. It reads the
// same environment variables as opsflow and runs as a child process like opsflow does:
//
//	opsflow-bench baseline -role all|api|worker

// The workload's expressions, shared by the opsflow flow document and the baseline.
const (
	eventType = "bench.run"
	condExpr  = `event.data.amount >= 100`
	body1Expr = `{"p": event.data.p, "amount": event.data.amount, "event": event.id}`
	body2Expr = `{"p": event.data.p, "n": event.data.n, "sent": event.data.sent, "step1": nodes.call1.status}`
	taskType  = "bench:run"
)

type baselineEvent struct {
	ID        string `gorm:"primaryKey;size:36"`
	Type      string `gorm:"size:200"`
	Data      string
	CreatedAt time.Time
}

type baselineResult struct {
	ID         string `gorm:"primaryKey;size:36"`
	EventID    string `gorm:"size:36"`
	Status     string `gorm:"size:20"`
	Output     string
	FinishedAt time.Time
}

type baselineTask struct {
	EventID string         `json:"event_id"`
	Type    string         `json:"type"`
	Data    map[string]any `json:"data"`
}

func baselineMain(args []string) error {
	fs := flag.NewFlagSet("baseline", flag.ContinueOnError)
	role := fs.String("role", "all", "all (API + worker), api or worker")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *role != "all" && *role != "api" && *role != "worker" {
		return fmt.Errorf("-role must be all, api or worker, not %q", *role)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	conc, _ := strconv.Atoi(os.Getenv("OPSFLOW_CONCURRENCY"))
	conc = max(conc, 1)
	db, err := openBaselineDB(os.Getenv("DATABASE_URL"), os.Getenv("OPSFLOW_DATA_DIR"), conc+20)
	if err != nil {
		return err
	}
	if *role != "worker" { // the API process creates the tables before the worker starts
		if err := db.AutoMigrate(&baselineEvent{}, &baselineResult{}); err != nil {
			return err
		}
	}
	redisAddr := os.Getenv("REDIS_ADDR")
	if redisAddr == "" {
		if *role != "all" {
			return errors.New("baseline: separate API and worker processes need REDIS_ADDR")
		}
		mini := miniredis.NewMiniRedis()
		if err := mini.Start(); err != nil {
			return err
		}
		defer mini.Close()
		redisAddr = mini.Addr()
	}
	redis := asynq.RedisClientOpt{Addr: redisAddr}
	queueName := os.Getenv("OPSFLOW_QUEUE")
	if queueName == "" {
		queueName = "baseline"
	}

	if *role != "api" {
		w, err := newBaselineWorker(db, os.Getenv("OPSFLOW_BENCH_SINK"))
		if err != nil {
			return err
		}
		srv := asynq.NewServer(redis, asynq.Config{
			Concurrency:       conc,
			Queues:            map[string]int{queueName: 1},
			TaskCheckInterval: 20 * time.Millisecond, // as opsflow's queue: asynq's 1 s default adds latency
			ShutdownTimeout:   5 * time.Second,
			LogLevel:          asynq.WarnLevel,
		})
		mux := asynq.NewServeMux()
		mux.HandleFunc(taskType, w.handle)
		if err := srv.Start(mux); err != nil {
			return err
		}
		defer srv.Shutdown()
	}
	if *role == "worker" {
		<-ctx.Done()
		return nil
	}

	qc := asynq.NewClient(redis)
	defer qc.Close()
	var tokens []string
	for _, t := range strings.Split(os.Getenv("OPSFLOW_API_TOKENS"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			tokens = append(tokens, t)
		}
	}
	api := &baselineAPI{db: db, queue: qc, queueName: queueName, tokens: tokens, log: log}
	srv := &http.Server{Addr: os.Getenv("OPSFLOW_ADDR"), Handler: api.handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// openBaselineDB opens the database the way opsflow's store does (same drivers, pool and pragmas),
// without gorm's implicit transaction around single statements. pool is opsflow's default
// (concurrency + 20), every connection kept when idle, as opsflow's store keeps them: fewer idle
// than open made the baseline open (and Postgres fork) a connection in every burst.
func openBaselineDB(databaseURL, dataDir string, pool int) (*gorm.DB, error) {
	cfg := &gorm.Config{Logger: logger.Discard, SkipDefaultTransaction: true, NowFunc: func() time.Time { return time.Now().UTC() }}
	if databaseURL == "" {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, err
		}
		path := filepath.Join(dataDir, "baseline.db")
		db, err := gorm.Open(sqlite.Open(path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate"), cfg)
		if err != nil {
			return nil, err
		}
		sqlDB, _ := db.DB()
		sqlDB.SetMaxOpenConns(1)
		return db, nil
	}
	db, err := gorm.Open(postgres.Open(databaseURL), cfg)
	if err != nil {
		return nil, err
	}
	sqlDB, _ := db.DB()
	sqlDB.SetMaxOpenConns(pool)
	sqlDB.SetMaxIdleConns(pool)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	return db, sqlDB.Ping()
}

type baselineAPI struct {
	db        *gorm.DB
	queue     *asynq.Client
	queueName string
	tokens    []string
	log       *slog.Logger
}

func (a *baselineAPI) handler() http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery())
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	// The bench waits for /readyz: opsflow binds its port before its engine is up (503 meanwhile).
	r.GET("/readyz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ready"}) })
	r.POST("/api/v1/events", a.authenticate, a.postEvent)
	return r
}

func (a *baselineAPI) authenticate(c *gin.Context) {
	got, _ := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	for _, t := range a.tokens {
		if subtle.ConstantTimeCompare([]byte(got), []byte(t)) == 1 {
			c.Next()
			return
		}
	}
	if len(a.tokens) == 0 {
		c.Next()
		return
	}
	c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": gin.H{"code": "unauthorized", "message": "send a valid API token"}})
}

func (a *baselineAPI) postEvent(c *gin.Context) {
	var req struct {
		Type           string         `json:"type"`
		Data           map[string]any `json:"data"`
		IdempotencyKey string         `json:"idempotency_key"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, 1<<20))
	if err := dec.Decode(&req); err != nil || req.Type == "" {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": gin.H{"code": "invalid_event", "message": "want {type, data}"}})
		return
	}
	data, _ := json.Marshal(req.Data)
	ev := baselineEvent{ID: uuid.Must(uuid.NewV7()).String(), Type: req.Type, Data: string(data)}
	ctx := c.Request.Context()
	if err := a.db.WithContext(ctx).Create(&ev).Error; err != nil {
		a.fail(c, err)
		return
	}
	payload, _ := json.Marshal(baselineTask{EventID: ev.ID, Type: ev.Type, Data: req.Data})
	_, err := a.queue.EnqueueContext(ctx, asynq.NewTask(taskType, payload),
		asynq.Queue(a.queueName), asynq.TaskID(ev.ID), asynq.MaxRetry(3), asynq.Timeout(30*time.Minute))
	if err != nil {
		a.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"event_id": ev.ID, "run_ids": []string{ev.ID}})
}

func (a *baselineAPI) fail(c *gin.Context, err error) {
	a.log.Error("event", "err", err)
	c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": gin.H{"code": "internal", "message": "could not store the event"}})
}

type baselineWorker struct {
	db                 *gorm.DB
	sink               string
	http               *http.Client
	cond, body1, body2 *vm.Program
}

func newBaselineWorker(db *gorm.DB, sink string) (*baselineWorker, error) {
	if sink == "" {
		return nil, errors.New("baseline: OPSFLOW_BENCH_SINK is not set")
	}
	w := &baselineWorker{db: db, sink: sink, http: &http.Client{Timeout: 30 * time.Second}}
	var err error
	if w.cond, err = expr.Compile(condExpr, expr.AsBool()); err != nil {
		return nil, err
	}
	if w.body1, err = expr.Compile(body1Expr); err != nil {
		return nil, err
	}
	if w.body2, err = expr.Compile(body2Expr); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *baselineWorker) handle(ctx context.Context, t *asynq.Task) error {
	var task baselineTask
	if err := json.Unmarshal(t.Payload(), &task); err != nil {
		return fmt.Errorf("%w: %v", asynq.SkipRetry, err)
	}
	nodes := map[string]any{}
	env := map[string]any{"event": map[string]any{"id": task.EventID, "type": task.Type, "data": task.Data}, "nodes": nodes}
	ok, err := expr.Run(w.cond, env)
	if err != nil {
		return err
	}
	status := "skipped"
	if ok.(bool) {
		out1, err := w.call(ctx, w.body1, env, "/step1")
		if err != nil {
			return err
		}
		nodes["call1"] = out1
		out2, err := w.call(ctx, w.body2, env, "/done")
		if err != nil {
			return err
		}
		nodes["call2"] = out2
		status = "succeeded"
	}
	out, _ := json.Marshal(nodes)
	res := baselineResult{ID: uuid.Must(uuid.NewV7()).String(), EventID: task.EventID, Status: status, Output: string(out), FinishedAt: time.Now()}
	return w.db.WithContext(ctx).Create(&res).Error
}

// call evaluates a body expression and POSTs it to the sink, returning what action.http outputs.
func (w *baselineWorker) call(ctx context.Context, prog *vm.Program, env map[string]any, path string) (map[string]any, error) {
	v, err := expr.Run(prog, env)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.sink+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		return nil, fmt.Errorf("%s: %d", path, resp.StatusCode)
	}
	var parsed any
	json.Unmarshal(b, &parsed)
	return map[string]any{"status": resp.StatusCode, "body": parsed}, nil
}
