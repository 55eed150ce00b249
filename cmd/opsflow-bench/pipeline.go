package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
)

// pipeline is one of the two systems measured: opsflow or the baseline.
type pipeline struct {
	name string // "opsflow" or "baseline"
	opt  *options
	sink *sink
	pg   *pgAdmin // nil on the embedded default
}

// session is a pipeline running on a fresh database and queue.
type session struct {
	p        *pipeline
	dir      string
	dbName   string
	env      []string
	procs    []*child
	server   *child
	client   *client
	backends *backendCPU
	queue    string
	phases   *int // phase counter shared by all sessions of the run, so sink records never mix
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// open starts the pipeline: a server with a worker inside, or API-only (apiOnly) to which
// startWorker adds a worker process. split starts the worker process at once.
func (p *pipeline) open(ctx context.Context, phases *int, apiOnly, split bool) (s *session, err error) {
	dir, err := os.MkdirTemp(p.opt.workDir, p.name+"-")
	if err != nil {
		return nil, err
	}
	s = &session{p: p, dir: dir, phases: phases}
	defer func() {
		if err != nil {
			s.close()
			s = nil
		}
	}()
	key := make([]byte, 32)
	rand.Read(key)
	token := randomHex(24)
	s.env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + dir,
		"OPSFLOW_DATA_DIR=" + filepath.Join(dir, "data"),
		"OPSFLOW_API_TOKENS=" + token,
		"OPSFLOW_SECRET_KEY=" + base64.StdEncoding.EncodeToString(key),
		"OPSFLOW_CONCURRENCY=" + strconv.Itoa(p.opt.concurrency),
		"OPSFLOW_HTTP_ALLOW=127.0.0.0/8",
		"OPSFLOW_LOG_LEVEL=warn",
		"OPSFLOW_BENCH_SINK=" + p.sink.url,
	}
	for _, k := range []string{"GOMAXPROCS", "GOGC", "GOMEMLIMIT"} {
		if v, ok := os.LookupEnv(k); ok {
			s.env = append(s.env, k+"="+v)
		}
	}
	if p.pg != nil {
		name, url, err := p.pg.createDB("opsflow_bench_" + p.name)
		if err != nil {
			return s, err
		}
		s.dbName = name
		s.queue = name // unique, and found again by anyone reading the shared Redis
		s.env = append(s.env, "DATABASE_URL="+url, "REDIS_ADDR="+p.opt.redisAddr, "OPSFLOW_QUEUE="+s.queue)
		s.backends = p.pg.followBackends(name, 100*time.Millisecond)
	}
	addr, err := freeAddr()
	if err != nil {
		return s, err
	}
	args := p.serverArgs(addr, apiOnly || split)
	s.server, err = startChild(p.name+" server", args[0], args[1:], append(s.env, "OPSFLOW_ADDR="+addr), filepath.Join(dir, "server.log"))
	if err != nil {
		return s, err
	}
	s.procs = append(s.procs, s.server)
	if err := s.server.waitHealthy(ctx, "http://"+addr+"/readyz", 60*time.Second); err != nil {
		return s, err
	}
	s.client = newClient("http://"+addr, token)
	if p.name == "opsflow" {
		if err := s.publishFlow(ctx); err != nil {
			return s, err
		}
	}
	if split && !apiOnly {
		if err := s.startWorker(); err != nil {
			return s, err
		}
	}
	return s, nil
}

func (p *pipeline) serverArgs(addr string, apiOnly bool) []string {
	if p.name == "opsflow" {
		return []string{p.opt.opsflowBin, "serve", "-addr", addr, "-worker=" + strconv.FormatBool(!apiOnly)}
	}
	role := "all"
	if apiOnly {
		role = "api"
	}
	return []string{p.opt.self, "baseline", "-role", role}
}

// startWorker starts a separate worker process (Redis only).
func (s *session) startWorker() error {
	args := []string{s.p.opt.opsflowBin, "worker"}
	if s.p.name != "opsflow" {
		args = []string{s.p.opt.self, "baseline", "-role", "worker"}
	}
	w, err := startChild(s.p.name+" worker", args[0], args[1:], s.env, filepath.Join(s.dir, "worker.log"))
	if err != nil {
		return err
	}
	s.procs = append(s.procs, w)
	// A worker has no HTTP endpoint: make sure it did not exit at once (bad configuration).
	sleep(context.Background(), 300*time.Millisecond)
	if w.exited() {
		return fmt.Errorf("%s exited during start-up (%v):\n%s", w.name, w.err, w.logTail())
	}
	return nil
}

// flowDoc is the workload as an opsflow flow: trigger.event → logic.condition → action.http → action.http.
// With idempotent, both calls have "Target ignores repeats" on (see node.IdempotentField).
func flowDoc(sinkURL string, idempotent bool) []byte {
	doc := map[string]any{
		"name": "bench",
		"nodes": []map[string]any{
			{"id": "t", "type": "trigger.event", "config": map[string]any{"event_type": eventType,
				"sample": map[string]any{"amount": 1, "p": 1, "n": 1, "sent": 1}}},
			{"id": "c", "type": "logic.condition", "config": map[string]any{"expression": condExpr}},
			{"id": "call1", "type": "action.http", "config": map[string]any{"method": "POST", "url": sinkURL + "/step1", "body": body1Expr, "idempotent": idempotent}},
			{"id": "call2", "type": "action.http", "config": map[string]any{"method": "POST", "url": sinkURL + "/done", "body": body2Expr, "idempotent": idempotent}},
		},
		"edges": []map[string]any{{"from": "t", "to": "c"}, {"from": "c", "to": "call1", "port": "true"}, {"from": "call1", "to": "call2"}},
	}
	b, _ := json.Marshal(doc)
	return b
}

func (s *session) publishFlow(ctx context.Context) error {
	status, body, err := s.client.do(ctx, http.MethodPost, "/api/v1/flows", flowDoc(s.p.sink.url, s.p.opt.idempotent))
	if err != nil {
		return err
	}
	if status != http.StatusCreated {
		return fmt.Errorf("opsflow: creating the bench flow: %d %s", status, body)
	}
	var f struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &f); err != nil || f.ID == "" {
		return fmt.Errorf("opsflow: creating the bench flow: no id in %s", body)
	}
	status, body, err = s.client.do(ctx, http.MethodPost, "/api/v1/flows/"+f.ID+"/publish", nil)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("opsflow: publishing the bench flow: %d %s", status, body)
	}
	return nil
}

// cpu is the CPU time so far of the session's processes and of its database's backends, in ticks.
func (s *session) cpu() (procs, backends int64) {
	for _, c := range s.procs {
		if t, err := cpuTicks(c.pid()); err == nil {
			procs += t
		}
	}
	if s.backends != nil {
		backends = s.backends.total()
	}
	return procs, backends
}

// peakRSS is the sum of the peak resident sizes of the session's processes, in MiB.
func (s *session) peakRSS() float64 {
	var kb int64
	for _, c := range s.procs {
		if _, peak, err := memKB(c.pid()); err == nil {
			kb += peak
		}
	}
	return float64(kb) / 1024
}

func (s *session) serverRSS() float64 {
	rss, _, _ := memKB(s.server.pid())
	return float64(rss) / 1024
}

// commits is the database's commit count, or -1 on the embedded default.
func (s *session) commits(ctx context.Context) int64 {
	if s.p.pg == nil {
		return -1
	}
	n, err := s.p.pg.commits(ctx, s.dbName)
	if err != nil {
		return -1
	}
	return n
}

// wal is the cluster's WAL counters, or -1s on the embedded default.
func (s *session) wal(ctx context.Context) walUsage {
	if s.p.pg == nil {
		return walUsage{-1, -1}
	}
	w, err := s.p.pg.wal(ctx)
	if err != nil {
		return walUsage{-1, -1}
	}
	return w
}

// close stops the processes (workers first), then drops the database and the queue.
func (s *session) close() {
	if s.client != nil {
		s.client.close()
	}
	for i := len(s.procs) - 1; i >= 0; i-- {
		s.procs[i].stop(10 * time.Second)
	}
	if s.backends != nil {
		s.backends.close()
	}
	if s.dbName != "" && s.p.opt.keep {
		fmt.Fprintf(os.Stderr, "opsflow-bench: kept database %s\n", s.dbName)
	} else if s.dbName != "" {
		if err := s.p.pg.dropDB(s.dbName); err != nil {
			fmt.Fprintf(os.Stderr, "opsflow-bench: drop database %s: %v\n", s.dbName, err)
		}
		insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: s.p.opt.redisAddr})
		if err := insp.DeleteQueue(s.queue, true); err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
			fmt.Fprintf(os.Stderr, "opsflow-bench: delete queue %s: %v\n", s.queue, err)
		}
		insp.Close()
		if err := deleteQueueKeys(s.p.opt.redisAddr, s.queue); err != nil {
			fmt.Fprintf(os.Stderr, "opsflow-bench: delete keys of queue %s: %v\n", s.queue, err)
		}
	}
	if !s.p.opt.keep {
		os.RemoveAll(s.dir)
	}
}

// nextPhase numbers a new phase.
func (s *session) nextPhase() int {
	*s.phases++
	return *s.phases
}
