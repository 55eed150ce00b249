// Command opsflow-bench measures opsflow against a hand-written baseline built from the same parts
// (gin handler → asynq task → expr + two HTTP calls → one result row), black-box: it starts both as
// child processes on a fresh database and queue, drives events at them open-loop and reads what
// finished at a local HTTP sink. It prints runs/s at the knee, event→finished latency, ingest
// throughput, Postgres commits and WAL, CPU and RSS per run for both side by side, with ratios.
//
//	opsflow-bench [flags]             Postgres + Redis on 127.0.0.1 (see -h)
//	opsflow-bench -embedded [flags]   the embedded default (SQLite + in-process queue)
//	opsflow-bench -quick              a few seconds per pipeline, for CI
//	opsflow-bench baseline -role R    the baseline itself (started by the bench)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "baseline" {
		if err := baselineMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "opsflow-bench baseline:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "opsflow-bench:", err)
		os.Exit(1)
	}
}

type options struct {
	opsflowBin, src, self  string
	embedded, split        bool
	idempotent             bool
	databaseURL, redisAddr string
	concurrency            int
	providerLatency        time.Duration
	pipelines              string
	arrivals               string
	seed                   uint64
	rate                   float64
	duration, warmup       time.Duration
	kneeStart, kneeMax     float64
	kneeFactor             float64
	step, window           time.Duration
	bisect                 int
	keepUp                 float64
	ingestConns            int
	ingestDuration         time.Duration
	backlog                int
	drainTimeout, settle   time.Duration
	skip                   string
	quick, verbose, keep   bool
	jsonOut                string
	workDir                string
	log                    io.Writer
}

func (o *options) register(fs *flag.FlagSet) {
	fs.StringVar(&o.opsflowBin, "opsflow", "", "opsflow binary to measure (default: build ./cmd/opsflow of -src)")
	fs.StringVar(&o.src, "src", "", "opsflow source tree to build (default: the module containing the working directory)")
	fs.StringVar(&o.self, "self", "", "binary that runs the baseline as its 'baseline' subcommand (default: this program)")
	fs.BoolVar(&o.embedded, "embedded", false, "use the embedded default (SQLite in a temp dir, in-process queue) instead of Postgres + Redis")
	fs.BoolVar(&o.idempotent, "idempotent", false, "turn on \"Target ignores repeats\" on both calls of opsflow's flow: no record before each call on a run's first execution (at-least-once calls, as the baseline's)")
	fs.BoolVar(&o.split, "split", false, "run an API-only process plus one worker process instead of serve with its in-process worker")
	fs.StringVar(&o.databaseURL, "database-url", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "Postgres to create the fresh databases in (they are dropped at the end)")
	fs.StringVar(&o.redisAddr, "redis-addr", "127.0.0.1:6379", "Redis for the queues (each run uses queues of its own and deletes them; never flushed)")
	fs.IntVar(&o.concurrency, "concurrency", 10, "runs a worker executes at once (OPSFLOW_CONCURRENCY of both pipelines)")
	fs.DurationVar(&o.providerLatency, "provider-latency", 0, "how long the local sink takes to answer each call, as a remote provider would (0: at once, as the issue measures)")
	fs.StringVar(&o.pipelines, "pipelines", "opsflow,baseline", "pipelines to measure, in order")
	fs.StringVar(&o.arrivals, "arrivals", "poisson", "open-loop arrivals: poisson or fixed (evenly spaced)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the Poisson arrivals")
	fs.Float64Var(&o.rate, "rate", 150, "events/s of the latency phase (event→finished percentiles, commits, WAL and CPU per run)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of the latency phase")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "warm-up at min(rate, 50)/s before measuring")
	fs.Float64Var(&o.kneeStart, "knee-start", 100, "first rate of the knee search (events/s)")
	fs.Float64Var(&o.kneeMax, "knee-max", 6000, "highest rate the knee search tries")
	fs.Float64Var(&o.kneeFactor, "knee-factor", 1.5, "rate multiplier between knee steps until one falls behind")
	fs.IntVar(&o.bisect, "bisect", 3, "bisection steps between the last rate kept up and the first that was not")
	fs.DurationVar(&o.step, "step", 5*time.Second, "length of each knee step")
	fs.DurationVar(&o.window, "window", time.Second, "a step keeps up when its runs finish within this long after sending ends")
	fs.Float64Var(&o.keepUp, "keep-up", 0.99, "fraction of a step's events that must be accepted and finished within the window")
	fs.IntVar(&o.ingestConns, "ingest-conns", 16, "connections of the closed-loop ingest phase and of the backlog fill")
	fs.DurationVar(&o.ingestDuration, "ingest-duration", 5*time.Second, "length of the closed-loop ingest phase")
	fs.IntVar(&o.backlog, "backlog", 10000, "events of the backlog test (Postgres + Redis only; 0 skips it)")
	fs.DurationVar(&o.drainTimeout, "drain-timeout", 60*time.Second, "longest wait for a phase's runs to finish")
	fs.DurationVar(&o.settle, "settle", 11*time.Second, "pause before reading a phase's commit and WAL counts (idle Postgres backends report statistics up to 10 s late)")
	fs.StringVar(&o.skip, "skip", "", "comma-separated phases to skip: latency, knee, ingest, backlog")
	fs.BoolVar(&o.quick, "quick", false, "a few seconds per pipeline (CI): small rates and counts for every flag not given")
	fs.BoolVar(&o.verbose, "v", false, "print every phase as it ends (on stderr)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (child logs, SQLite files) and the Postgres databases, to inspect runs afterwards")
	fs.StringVar(&o.jsonOut, "json", "", "also write the report as JSON to this file")
}

// quickDefaults shrinks every flag the user did not set.
func (o *options) quickDefaults(set map[string]bool) {
	q := map[string]func(){
		"rate": func() { o.rate = 20 }, "duration": func() { o.duration = time.Second },
		"warmup": func() { o.warmup = 0 }, "knee-start": func() { o.kneeStart = 20 },
		"knee-max": func() { o.kneeMax = 20 }, "knee-factor": func() { o.kneeFactor = 2 }, "bisect": func() { o.bisect = 0 },
		"step": func() { o.step = time.Second }, "ingest-conns": func() { o.ingestConns = 4 },
		"ingest-duration": func() { o.ingestDuration = time.Second }, "backlog": func() { o.backlog = 100 },
		"drain-timeout": func() { o.drainTimeout = 20 * time.Second }, "settle": func() { o.settle = settleStats },
		"keep-up": func() { o.keepUp = 0.9 }, "window": func() { o.window = 500 * time.Millisecond },
	}
	for name, f := range q {
		if !set[name] {
			f()
		}
	}
}

func (o *options) skipped(phase string) bool {
	for _, s := range strings.Split(o.skip, ",") {
		if strings.TrimSpace(s) == phase {
			return true
		}
	}
	return false
}

func (o *options) check() error {
	switch {
	case o.arrivals != "poisson" && o.arrivals != "fixed":
		return fmt.Errorf("-arrivals must be poisson or fixed, not %q", o.arrivals)
	case o.embedded && o.split:
		return errors.New("-split needs Postgres + Redis: with the embedded queue only one process can execute runs")
	case o.rate <= 0 || o.kneeStart <= 0 || o.kneeMax < o.kneeStart || o.kneeFactor <= 1:
		return errors.New("rates must be positive, -knee-max ≥ -knee-start and -knee-factor > 1")
	case o.duration <= 0 || o.step <= 0 || o.window < 0 || o.drainTimeout <= 0 || o.ingestDuration <= 0 || o.providerLatency < 0:
		return errors.New("durations must be positive (-window and -provider-latency may be 0)")
	case o.keepUp <= 0 || o.keepUp > 1:
		return errors.New("-keep-up must be in (0, 1]")
	case o.concurrency < 1 || o.ingestConns < 1 || o.backlog < 0 || o.bisect < 0:
		return errors.New("-concurrency and -ingest-conns must be positive, -backlog and -bisect not negative")
	}
	for _, p := range strings.Split(o.pipelines, ",") {
		if p != "opsflow" && p != "baseline" {
			return fmt.Errorf("-pipelines: unknown pipeline %q (want opsflow, baseline)", p)
		}
	}
	return nil
}

// Report is everything one bench run measured.
type Report struct {
	Machine     string    `json:"machine"`
	Backend     string    `json:"backend"`
	Processes   string    `json:"processes"`
	Arrivals    string    `json:"arrivals"`
	Workload    string    `json:"workload"`
	Concurrency int       `json:"concurrency"`
	Rate        float64   `json:"rate"`
	Started     time.Time `json:"started"`
	Results     []*Result `json:"results"`
}

// Result is what was measured of one pipeline.
type Result struct {
	Pipeline  string   `json:"pipeline"`
	Latency   *Phase   `json:"latency,omitempty"` // open loop at -rate
	Knee      *Knee    `json:"knee,omitempty"`
	HalfKnee  *Phase   `json:"half_knee,omitempty"` // open loop at half the knee rate
	Ingest    *Phase   `json:"ingest,omitempty"`    // closed loop
	PeakRSSMB float64  `json:"peak_rss_mb"`         // all the pipeline's processes, over latency, knee and ingest
	Backlog   *Backlog `json:"backlog,omitempty"`
	// LoadAvg is the machine's 1-minute load average when the pipeline's measurement started and
	// ended: on a shared machine, the other work it competed with.
	LoadAvg [2]float64 `json:"load_avg"`
	Errors  []string   `json:"errors,omitempty"`
}

// run is the bench: it returns the report (also printed to out) and an error if any part failed.
func run(ctx context.Context, args []string, out, errOut io.Writer) (*Report, error) {
	o := &options{log: errOut}
	fs := flag.NewFlagSet("opsflow-bench", flag.ContinueOnError)
	fs.SetOutput(errOut)
	o.register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.quick {
		o.quickDefaults(set)
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	var err error
	if o.workDir, err = os.MkdirTemp("", "opsflow-bench-"); err != nil {
		return nil, err
	}
	if !o.keep {
		defer os.RemoveAll(o.workDir)
	} else {
		fmt.Fprintln(errOut, "opsflow-bench: work directory", o.workDir)
	}
	if o.self == "" {
		if o.self, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	if o.opsflowBin == "" {
		if o.opsflowBin, err = buildOpsflow(ctx, o.src, o.workDir, errOut); err != nil {
			return nil, err
		}
	}
	sk, err := startSink(o.providerLatency)
	if err != nil {
		return nil, err
	}
	defer sk.close()
	var pg *pgAdmin
	if !o.embedded {
		if !isLoopback(o.databaseURL) || !isLoopback("//"+o.redisAddr+"/") {
			return nil, errors.New("-database-url and -redis-addr must be on 127.0.0.1 or localhost: the bench only talks to loopback")
		}
		if pg, err = openPG(o.databaseURL); err != nil {
			return nil, err
		}
		defer pg.close()
	}
	rep := &Report{
		Machine:     fmt.Sprintf("%d CPUs, %s, %s %s/%s", runtime.NumCPU(), cpuModel(), runtime.Version(), runtime.GOOS, runtime.GOARCH),
		Backend:     "postgres+redis",
		Processes:   "serve with in-process worker",
		Arrivals:    o.arrivals,
		Workload:    workload(o.idempotent, o.providerLatency),
		Concurrency: o.concurrency,
		Rate:        o.rate,
		Started:     time.Now().UTC(),
	}
	if o.embedded {
		rep.Backend = "embedded (SQLite + in-process queue)"
	}
	if o.split {
		rep.Processes = "API process + 1 worker process"
	}
	phases := 0
	var failed bool
	for _, name := range strings.Split(o.pipelines, ",") {
		p := &pipeline{name: name, opt: o, sink: sk, pg: pg}
		r := p.measure(ctx, &phases)
		rep.Results = append(rep.Results, r)
		failed = failed || len(r.Errors) > 0
		if ctx.Err() != nil {
			return rep, errStopped
		}
	}
	printReport(out, rep, o)
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(o.jsonOut, append(b, '\n'), 0o644); err != nil {
			return rep, err
		}
	}
	if failed {
		return rep, errors.New("some measurements failed (see errors in the report)")
	}
	return rep, nil
}

func isLoopback(url string) bool {
	for _, h := range []string{"@127.0.0.1:", "@127.0.0.1/", "@localhost:", "@localhost/", "//127.0.0.1:", "//127.0.0.1/", "//localhost:", "//localhost/", "@[::1]", "//[::1]"} {
		if strings.Contains(url, h) {
			return true
		}
	}
	return false
}

// measure runs every phase against one pipeline. Failures are recorded in the result, so the other
// pipeline is still measured.
func (p *pipeline) measure(ctx context.Context, phases *int) *Result {
	o := p.opt
	r := &Result{Pipeline: p.name}
	r.LoadAvg[0] = loadAvg()
	defer func() { r.LoadAvg[1] = loadAvg() }()
	fail := func(what string, err error) {
		if ctx.Err() == nil {
			r.Errors = append(r.Errors, what+": "+strings.TrimSpace(err.Error()))
			fmt.Fprintf(o.log, "opsflow-bench: %s %s: %v\n", p.name, what, err)
		}
	}
	if o.verbose {
		fmt.Fprintf(o.log, "opsflow-bench: measuring %s\n", p.name)
	}
	s, err := p.open(ctx, phases, false, o.split)
	if err != nil {
		fail("start", err)
		return r
	}
	if o.warmup > 0 {
		if _, err := s.runPhase(ctx, phaseSpec{name: "warmup", rate: min(o.rate, 50), dur: o.warmup, settle: o.settle, drain: true}); err != nil {
			fail("warm-up", err)
		}
	}
	if !o.skipped("latency") && ctx.Err() == nil {
		if r.Latency, err = s.runPhase(ctx, phaseSpec{name: "latency", rate: o.rate, dur: o.duration, settle: o.settle, drain: true}); err != nil {
			fail("latency", err)
		} else if !r.Latency.Drained {
			fail("latency", fmt.Errorf("%d of %d runs unfinished %s after sending ended", r.Latency.Accepted-r.Latency.Finished, r.Latency.Accepted, o.drainTimeout))
		}
	}
	if !o.skipped("knee") && ctx.Err() == nil {
		if r.Knee, err = s.findKnee(ctx); err != nil {
			fail("knee", err)
		} else if r.Knee.Rate > 0 && ctx.Err() == nil {
			// The latency targets are set at half the knee, where the pipeline is not saturated.
			if r.HalfKnee, err = s.runPhase(ctx, phaseSpec{name: "half-knee", rate: r.Knee.Rate / 2, dur: o.duration, settle: o.settle, drain: true}); err != nil {
				fail("half-knee", err)
			}
		}
	}
	if !o.skipped("ingest") && ctx.Err() == nil {
		// Last with this server: the runs it queues are not waited for.
		if r.Ingest, err = s.runPhase(ctx, phaseSpec{name: "ingest", conns: o.ingestConns, dur: o.ingestDuration}); err != nil {
			fail("ingest", err)
		}
	}
	r.PeakRSSMB = s.peakRSS()
	s.close()
	if o.backlog > 0 && !o.skipped("backlog") && ctx.Err() == nil {
		if o.embedded {
			if o.verbose {
				fmt.Fprintln(o.log, "opsflow-bench: backlog test skipped: it needs an API-only process, which needs Redis")
			}
		} else if s, err := p.open(ctx, phases, true, false); err != nil {
			fail("backlog start", err)
		} else {
			if r.Backlog, err = s.backlog(ctx); err != nil {
				fail("backlog", err)
			}
			s.close()
		}
	}
	return r
}

// buildOpsflow builds ./cmd/opsflow of the source tree into dir.
func buildOpsflow(ctx context.Context, src, dir string, errOut io.Writer) (string, error) {
	if src == "" {
		out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
		if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == os.DevNull {
			return "", errors.New("not inside the opsflow module: give -src DIR or -opsflow BIN")
		}
		src = filepath.Dir(strings.TrimSpace(string(out)))
	}
	bin := filepath.Join(dir, "opsflow")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/opsflow")
	cmd.Dir = src
	cmd.Stdout, cmd.Stderr = errOut, errOut
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building opsflow in %s: %w", src, err)
	}
	return bin, nil
}
