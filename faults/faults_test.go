//go:build faults

package faults

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// scale is how hard and how long each scenario drives the cluster.
type scale struct {
	rate     float64       // events posted per second
	duration time.Duration // how long events are posted
	bound    time.Duration // how long to wait after the fault and the load for every run to end
	outage   time.Duration // how long the API, Redis or Postgres stays down
	freeze   time.Duration // longest SIGSTOP; the worker is resumed earlier once its runs were taken over
	burst    int           // events posted at once right before the fault, so that the queue holds a backlog
}

var (
	full  = scale{rate: 50, duration: 16 * time.Second, bound: 180 * time.Second, outage: 10 * time.Second, freeze: 150 * time.Second, burst: 300}
	small = scale{rate: 25, duration: 5 * time.Second, bound: 40 * time.Second, outage: 3 * time.Second, freeze: 40 * time.Second, burst: 150}
)

// Targets of issue #9.
const (
	refillTarget = 15 * time.Second // runs refilled after Redis comes back empty
	resumeTarget = 35 * time.Second // a dead (or frozen) worker's runs resumed by another
)

// scenario is one fault injected into a fresh cluster while runs are driven through it.
type scenario struct {
	name string
	// inject performs the fault. It returns the moment recovery is measured from: runs accepted
	// before it must all finish, and how long after it the last one did is the recovery time.
	inject func(c *cluster, s scale) time.Time
	target time.Duration // recovery bound; 0: none
	// dupAllowed is how many repeated side effects are tolerated: a step whose process is killed
	// after the provider answered and before its checkpoint is written is necessarily repeated
	// (at most one per run in flight, the worker's concurrency). Nothing else may repeat one.
	dupAllowed int
	short      bool // part of the -short set
	// idempotent turns on "Target ignores repeats" on the flow's calls: a run's first execution
	// records each call with its result only, so a killed worker's runs may repeat every call
	// they made, and a step may have been called once more than its attempt says.
	idempotent bool
}

var scenarios = []scenario{
	{name: "no fault", inject: func(c *cluster, s scale) time.Time { return time.Now() }},
	{name: "kill -9 worker", short: true, target: resumeTarget, dupAllowed: concurrency, inject: func(c *cluster, s scale) time.Time {
		c.workers[0].kill9()
		return time.Now()
	}},
	{name: "kill -9 worker, idempotent calls", short: true, target: resumeTarget, idempotent: true, dupAllowed: concurrency * (len(chain) - 1), inject: func(c *cluster, s scale) time.Time {
		c.workers[0].kill9()
		return time.Now()
	}},
	{name: "kill -9 API, restart", short: true, inject: func(c *cluster, s scale) time.Time {
		c.api.kill9()
		time.Sleep(s.outage)
		c.startAPI()
		return time.Now()
	}},
	{name: "kill -9 Redis, restart empty", short: true, target: refillTarget, inject: func(c *cluster, s scale) time.Time {
		c.redis.kill9()
		time.Sleep(s.outage)
		c.redis.restart(c.t)
		return time.Now()
	}},
	{name: "SIGSTOP worker past lease", target: resumeTarget, dupAllowed: concurrency, inject: freezeWorker},
	{name: "SIGSTOP worker past lease, idempotent calls", target: resumeTarget, idempotent: true, dupAllowed: concurrency * (len(chain) - 1), inject: freezeWorker},
	{name: "Postgres outage", short: true, inject: func(c *cluster, s scale) time.Time {
		c.pg.stop(c.t)
		time.Sleep(s.outage)
		c.pg.start(c.t)
		return time.Now()
	}},
}

// freezeWorker stops worker 1 (SIGSTOP) and resumes it only once every run accepted before the
// freeze has ended (another worker took the frozen one's over), or at the freeze limit: then the
// frozen worker wakes up stale.
func freezeWorker(c *cluster, s scale) time.Time {
	w := c.workers[0]
	w.signal(syscall.SIGSTOP)
	stopped := time.Now()
	c.waitEnded(c.load.acceptedBefore(stopped), stopped.Add(s.freeze))
	c.frozeFor = time.Since(stopped)
	w.signal(syscall.SIGCONT)
	time.Sleep(5 * time.Second) // let the stale worker write whatever it still holds
	return stopped
}

// TestFaults drives runs through 1 API and 2 worker processes while injecting each fault, then
// counts per scenario what was accepted, finished, lost, stuck, repeated at the provider, or
// rewritten in history, and prints a table. See docs/reliability.md.
func TestFaults(t *testing.T) {
	sc := full
	if testing.Short() {
		sc = small
	}
	dir := t.TempDir()
	began := time.Now()
	bin := buildOpsflow(t, dir)
	t.Logf("built cmd/opsflow in %s", time.Since(began).Round(time.Second))
	began = time.Now()
	pg := startPostgres(t)
	t.Logf("started Postgres on port %d in %s", pg.port, time.Since(began).Round(time.Second))
	ctr := newCounter(50 * time.Millisecond)
	defer ctr.srv.Close()

	var results []*result
	for i, s := range scenarios {
		if testing.Short() && !s.short {
			continue
		}
		t.Run(slug(s.name), func(t *testing.T) {
			ctr.reset()
			c := newCluster(t, bin, pg, fmt.Sprintf("s%d", i), ctr.srv.URL, s.idempotent)
			r := runScenario(t, c, s, sc, ctr)
			results = append(results, r)
			r.assert(t, s)
		})
	}
	t.Log("\n" + table(results, sc))
}

func slug(s string) string {
	return strings.NewReplacer(" ", "_", "-", "", ",", "").Replace(s)
}

// runScenario posts events for sc.duration, injects the fault a third of the way in, waits for
// every run to end (at most sc.bound after the fault and the load), and checks the result.
func runScenario(t *testing.T, c *cluster, s scenario, sc scale, ctr *counter) *result {
	start := time.Now()
	var loadDone <-chan struct{}
	c.load, loadDone = startLoad(c, sc.rate, sc.duration, sc.duration+sc.bound, sc.burst)
	time.Sleep(sc.duration / 3)
	c.load.burst(sc.burst, 20*time.Second)
	ref := s.inject(c, sc)
	faultEnd := time.Now()
	<-loadDone
	deadline := time.Now().Add(sc.bound)
	if d := faultEnd.Add(sc.bound); d.After(deadline) {
		deadline = d
	}
	for time.Now().Before(deadline) {
		if busy, err := c.unfinished(); err == nil && !busy {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	r := check(t, c, ctr, s.name, ref)
	r.elapsed, r.frozeFor = time.Since(start), c.frozeFor
	return r
}

// load posts events, each with its own idempotency key, retrying one until it is accepted as a
// client of a real provider would; a retry after a lost answer gets the same run back.
type load struct {
	c     *cluster
	stop  time.Time // give up on an event not accepted by then
	seqs  chan int
	posts sync.WaitGroup

	mu          sync.Mutex
	next        int
	closed      bool
	outstanding int                  // events handed to the posters and not yet accepted or given up
	runs        map[string]time.Time // run id → when its event was accepted
	refused     int                  // events never accepted before giving up
	failures    map[int]int          // failed attempts (retried) by HTTP status; 0: no answer
}

// startLoad posts rate events a second for d from 8 concurrent clients; done is closed once every
// event was accepted or given up on (at giveUp).
func startLoad(c *cluster, rate float64, d, giveUp time.Duration, burst int) (l *load, done <-chan struct{}) {
	l = &load{c: c, stop: time.Now().Add(giveUp), seqs: make(chan int, int(rate*d.Seconds())+burst+100), runs: map[string]time.Time{}, failures: map[int]int{}}
	for range 8 {
		l.posts.Add(1)
		go func() {
			defer l.posts.Done()
			for seq := range l.seqs {
				l.post(seq)
			}
		}()
	}
	ch := make(chan struct{})
	go func() {
		tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
		for end := time.Now().Add(d); time.Now().Before(end); {
			<-tick.C
			l.add(1)
		}
		tick.Stop()
		l.mu.Lock()
		l.closed = true
		close(l.seqs)
		l.mu.Unlock()
		l.posts.Wait()
		close(ch)
	}()
	return l, ch
}

// add hands n more events to the posters at once.
func (l *load) add(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for range n {
		if l.closed {
			return
		}
		l.next++
		l.outstanding++
		l.seqs <- l.next
	}
}

// burst posts n events at once and waits until they were accepted: the queue then holds a backlog.
func (l *load) burst(n int, within time.Duration) {
	l.add(n)
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		left := l.outstanding
		l.mu.Unlock()
		if left <= 8 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (l *load) post(seq int) {
	defer func() {
		l.mu.Lock()
		l.outstanding--
		l.mu.Unlock()
	}()
	body := map[string]any{"type": eventType, "data": map[string]any{"seq": seq}, "idempotency_key": fmt.Sprintf("seq-%d", seq)}
	for time.Now().Before(l.stop) {
		var acc struct {
			RunIDs []string `json:"run_ids"`
		}
		code, err := l.c.call("POST", "/events", body, &acc)
		if err == nil && (code == http.StatusAccepted || code == http.StatusOK) && len(acc.RunIDs) == 1 {
			l.mu.Lock()
			if _, seen := l.runs[acc.RunIDs[0]]; !seen {
				l.runs[acc.RunIDs[0]] = time.Now()
			}
			l.mu.Unlock()
			return
		}
		l.mu.Lock()
		l.failures[code]++
		l.mu.Unlock()
		time.Sleep(200 * time.Millisecond)
	}
	l.mu.Lock()
	l.refused++
	l.mu.Unlock()
}

// acceptedBefore lists the runs accepted before t.
func (l *load) acceptedBefore(t time.Time) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ids []string
	for id, at := range l.runs {
		if at.Before(t) {
			ids = append(ids, id)
		}
	}
	return ids
}

// waitEnded waits until every run of ids has ended, or until.
func (c *cluster) waitEnded(ids []string, until time.Time) {
	for len(ids) > 0 && time.Now().Before(until) {
		var left []string
		for _, id := range ids {
			var r runView
			if _, err := c.call("GET", "/runs/"+id, nil, &r); err != nil || !terminal(r.Status) {
				left = append(left, id)
			}
		}
		ids = left
		time.Sleep(500 * time.Millisecond)
	}
}

func terminal(status string) bool {
	return status == "succeeded" || status == "failed" || status == "cancelled"
}

// result is one scenario's row of the table.
type result struct {
	name              string
	accepted, refused int
	failures          string // failed POST /events attempts by status
	succeeded, failed int
	lost, stuck       int
	extraRuns         int // runs stored that no accepted event answered with
	dupKeys, dupCalls int // steps called more than once, and the extra calls
	rewritten         int // runs whose history is inconsistent
	samples           []string
	recovery          time.Duration // last run accepted before ref ended this long after ref
	recovered         bool          // false: some run accepted before ref never ended
	elapsed, frozeFor time.Duration
	badCalls          int // calls without a step's key and body
	strayCalls        int // calls for runs the API does not list
}

// check reads every run back through the API and compares it with the counting server.
func check(t *testing.T, c *cluster, ctr *counter, name string, ref time.Time) *result {
	t.Helper()
	l := c.load
	l.mu.Lock()
	r := &result{name: name, accepted: len(l.runs), refused: l.refused, failures: countsText(l.failures)}
	accepted := map[string]bool{}
	for id := range l.runs {
		accepted[id] = true
	}
	l.mu.Unlock()
	stored, err := c.allRunIDs()
	if err != nil {
		t.Fatalf("listing runs: %v", err)
	}
	ids := map[string]bool{}
	for id := range accepted {
		ids[id] = true
	}
	for _, id := range stored {
		if !accepted[id] {
			r.extraRuns++
			ids[id] = true
		}
	}
	calls, bad := ctr.snapshot()
	r.badCalls = bad
	views := fetchRuns(c, ids)
	before := map[string]bool{}
	for _, id := range l.acceptedBefore(ref) {
		before[id] = true
	}
	r.recovered = true
	for id := range ids {
		v := views[id]
		switch {
		case v == nil || v.Status == "queued":
			r.lost++ // never stored, or never picked up by any worker
		case !terminal(v.Status):
			r.stuck++
		case v.Status == "succeeded":
			r.succeeded++
		default:
			r.failed++
		}
		if before[id] {
			if v == nil || v.FinishedAt == nil {
				r.recovered = false
			} else if d := v.FinishedAt.Sub(ref); d > r.recovery {
				r.recovery = d
			}
		}
		if v != nil {
			if why := inconsistent(v, calls, c.idempotent); why != "" {
				r.rewritten++
				if len(r.samples) < 5 {
					r.samples = append(r.samples, fmt.Sprintf("run %s (%s): %s", id, v.Status, why))
				}
			}
		}
	}
	for key, at := range calls {
		if len(at) > 1 {
			r.dupKeys++
			r.dupCalls += len(at) - 1
		}
		if run, _, _ := strings.Cut(key, ":"); !ids[run] {
			r.strayCalls++
		}
	}
	return r
}

// fetchRuns reads GET /runs/{id} for every id, a few at a time; a run that cannot be read is nil.
func fetchRuns(c *cluster, ids map[string]bool) map[string]*runView {
	out := map[string]*runView{}
	var mu sync.Mutex
	work := make(chan string)
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				var v runView
				var err error
				for try := 0; try < 3; try++ {
					var code int
					if code, err = c.call("GET", "/runs/"+id, nil, &v); err == nil || code == http.StatusNotFound {
						break
					}
					time.Sleep(200 * time.Millisecond)
				}
				if err == nil {
					mu.Lock()
					out[id] = &v
					mu.Unlock()
				}
			}
		}()
	}
	for id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	return out
}

// inconsistent explains why a run's history cannot be true, or returns "". Steps are checkpointed
// (attempt counted) before their call, so the provider can never have seen more calls of a step
// than its attempt (with idempotent calls, one more: the run's first execution counts a call
// with its result); a succeeded run has every step succeeded; nothing is written after the run
// ended; and each step of the chain started after the previous one finished.
func inconsistent(v *runView, calls map[string][]time.Time, idempotent bool) string {
	uncounted := 0
	if idempotent {
		uncounted = 1
	}
	steps := map[string]int{}
	for i, s := range v.Steps {
		steps[s.NodeID] = i
	}
	for i, id := range chain {
		j, ok := steps[id]
		if v.Status == "succeeded" {
			if !ok {
				return fmt.Sprintf("succeeded without step %s", id)
			}
			if st := v.Steps[j].Status; st != "succeeded" {
				return fmt.Sprintf("succeeded with step %s %s (attempt %d)", id, st, v.Steps[j].Attempt)
			}
		}
		if i > 0 && ok {
			if k, prev := steps[chain[i-1]]; !prev {
				return fmt.Sprintf("step %s without step %s", id, chain[i-1])
			} else if p := v.Steps[k]; p.FinishedAt == nil || v.Steps[j].StartedAt.Before(*p.FinishedAt) {
				return fmt.Sprintf("step %s started before step %s finished", id, chain[i-1])
			}
		}
	}
	for _, s := range v.Steps {
		if terminal(v.Status) && s.Status == "running" {
			return fmt.Sprintf("step %s still running in an ended run", s.NodeID)
		}
		if s.NodeID != chain[0] {
			n := len(calls[v.ID+":"+s.NodeID])
			if n > s.Attempt+uncounted {
				return fmt.Sprintf("step %s has attempt %d but the provider saw %d calls", s.NodeID, s.Attempt, n)
			}
			if s.Status == "succeeded" && n == 0 {
				return fmt.Sprintf("step %s succeeded without a call", s.NodeID)
			}
		}
		if v.FinishedAt != nil && s.FinishedAt != nil && s.FinishedAt.After(*v.FinishedAt) {
			return fmt.Sprintf("step %s (%s, attempt %d) finished %s after the run", s.NodeID, s.Status, s.Attempt, s.FinishedAt.Sub(*v.FinishedAt).Round(time.Millisecond))
		}
	}
	return ""
}

func (r *result) assert(t *testing.T, s scenario) {
	t.Helper()
	for _, x := range r.samples {
		t.Log(x)
	}
	if r.accepted < 10 || r.succeeded == 0 {
		t.Errorf("the load did not get through: %d accepted, %d succeeded", r.accepted, r.succeeded)
	}
	if r.badCalls > 0 {
		t.Errorf("%d calls at the counting server without a step's key and body", r.badCalls)
	}
	if r.strayCalls > 0 {
		t.Errorf("%d steps called for runs the API does not list", r.strayCalls)
	}
	if r.lost > 0 {
		t.Errorf("%d runs lost (accepted but not stored, or never picked up)", r.lost)
	}
	if r.stuck > 0 {
		t.Errorf("%d runs stuck (not ended within the bound)", r.stuck)
	}
	if r.rewritten > 0 {
		t.Errorf("%d runs with rewritten or inconsistent history", r.rewritten)
	}
	if r.dupCalls > s.dupAllowed {
		t.Errorf("%d repeated side effects at the provider (%d steps), at most %d allowed", r.dupCalls, r.dupKeys, s.dupAllowed)
	}
	if s.name == "no fault" && r.failed > 0 {
		t.Errorf("%d runs failed without any fault", r.failed)
	}
	switch {
	case s.target == 0:
	case !r.recovered:
		t.Errorf("runs accepted before the fault did not all end (target %s)", s.target)
	case r.recovery > s.target:
		t.Errorf("recovery took %s, target %s", r.recovery.Round(100*time.Millisecond), s.target)
	}
}

// table renders the results.
func table(rs []*result, sc scale) string {
	var b strings.Builder
	fmt.Fprintf(&b, "load: %.0f events/s for %s per scenario and a burst of %d events right before the fault at %s; bound %s; 3 action.http calls per run\n",
		sc.rate, sc.duration, sc.burst, sc.duration/3, sc.bound)
	fmt.Fprintf(&b, "| %-44s | %8s | %8s | %6s | %4s | %5s | %9s | %9s | %9s | %7s |\n",
		"scenario", "accepted", "finished", "failed", "lost", "stuck", "dup calls", "rewritten", "recovery", "elapsed")
	fmt.Fprintf(&b, "|%s|%s:|%s:|%s:|%s:|%s:|%s:|%s:|%s:|%s:|\n", strings.Repeat("-", 46), strings.Repeat("-", 9), strings.Repeat("-", 9),
		strings.Repeat("-", 7), strings.Repeat("-", 5), strings.Repeat("-", 6), strings.Repeat("-", 10), strings.Repeat("-", 10), strings.Repeat("-", 10), strings.Repeat("-", 8))
	for _, r := range rs {
		rec := "never"
		if r.recovered {
			rec = fmt.Sprintf("%.1f s", r.recovery.Seconds())
		}
		fmt.Fprintf(&b, "| %-44s | %8d | %8d | %6d | %4d | %5d | %9d | %9d | %9s | %5.0f s |\n",
			r.name, r.accepted, r.succeeded+r.failed, r.failed, r.lost, r.stuck, r.dupCalls, r.rewritten, rec, r.elapsed.Seconds())
	}
	for _, r := range rs {
		var notes []string
		if r.extraRuns > 0 {
			notes = append(notes, fmt.Sprintf("%d stored runs no answer named", r.extraRuns))
		}
		if r.refused > 0 {
			notes = append(notes, fmt.Sprintf("%d events never accepted", r.refused))
		}
		if r.failures != "" {
			notes = append(notes, "POST /events attempts failed and retried: "+r.failures)
		}
		if r.frozeFor > 0 {
			notes = append(notes, fmt.Sprintf("worker frozen %.0f s", r.frozeFor.Seconds()))
		}
		if len(notes) > 0 {
			fmt.Fprintf(&b, "%s: %s\n", r.name, strings.Join(notes, "; "))
		}
	}
	return b.String()
}

// countsText renders failed attempts by status, e.g. "500 ×12, no answer ×3".
func countsText(m map[int]int) string {
	var parts []string
	for code, n := range m {
		what := strconv.Itoa(code)
		if code == 0 {
			what = "no answer"
		}
		parts = append(parts, fmt.Sprintf("%s ×%d", what, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
