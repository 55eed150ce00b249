package main

import (
	"context"
	"fmt"
	"time"
)

// Phase is one load phase against one pipeline.
type Phase struct {
	Name         string  `json:"name"`
	OfferedRate  float64 `json:"offered_rate,omitempty"` // events/s; 0 for closed loop
	Connections  int     `json:"connections,omitempty"`  // closed loop
	SendSeconds  float64 `json:"send_seconds"`
	Sent         int     `json:"sent"`
	Accepted     int     `json:"accepted"`
	Failed       int     `json:"failed"`
	Dropped      int     `json:"dropped"` // open loop: not sent, too many requests outstanding
	FirstError   string  `json:"first_error,omitempty"`
	AcceptedPerS float64 `json:"accepted_per_s"`
	// Finished counts runs whose last HTTP call reached the sink; InWindow those that did so by
	// the end of sending plus the keep-up window.
	Finished      int       `json:"finished"`
	InWindow      int       `json:"finished_in_window"`
	FinishedPerS  float64   `json:"finished_per_s"` // InWindow / SendSeconds
	Duplicates    int       `json:"duplicate_finishes"`
	Drained       bool      `json:"drained"`
	KeptUp        bool      `json:"kept_up"`
	EventToFinish latencies `json:"event_to_finished"`
	PostEvents    latencies `json:"post_events"`
	// Commits is the Postgres commit count of the pipeline's database over the phase, -1 without Postgres.
	Commits int64 `json:"pg_commits"`
	// WALRecords and WALBytes are the WAL the whole Postgres cluster wrote over the phase (pg_stat_wal),
	// -1 without Postgres.
	WALRecords int64 `json:"pg_wal_records"`
	WALBytes   int64 `json:"pg_wal_bytes"`
	// CPU time over the phase until drained: the pipeline's processes and its Postgres backends.
	CPUProcessMs float64 `json:"cpu_process_ms"`
	CPUBackendMs float64 `json:"cpu_backend_ms"`
}

// perRun divides a phase total by its finished runs (0 when none finished).
func (ph *Phase) perRun(total float64) float64 {
	if ph == nil || ph.Finished == 0 || total < 0 {
		return 0
	}
	return total / float64(ph.Finished)
}

// phaseSpec says how to load a phase.
type phaseSpec struct {
	name   string
	rate   float64 // open loop when > 0
	conns  int     // closed loop otherwise
	dur    time.Duration
	max    int           // closed loop: stop after this many events (0: no limit)
	settle time.Duration // pause before reading the commit and WAL counts
	drain  bool          // wait until every accepted event finished
}

// runPhase loads the session and measures what happened, waiting for the backlog to drain.
func (s *session) runPhase(ctx context.Context, sp phaseSpec) (*Phase, error) {
	o := s.p.opt
	id := s.nextPhase()
	commits0 := s.commits(ctx)
	wal0 := s.wal(ctx)
	proc0, back0 := s.cpu()
	ph := &Phase{Name: sp.name, OfferedRate: sp.rate}
	var res sendResult
	if sp.rate > 0 {
		res = openLoop(ctx, s.client, id, sp.rate, sp.dur, o.arrivals == "poisson", o.seed)
	} else {
		ph.Connections = sp.conns
		res = closedLoop(ctx, s.client, id, sp.conns, sp.dur, sp.max)
	}
	sendEnd := time.Now()
	if ctx.Err() != nil {
		return nil, errStopped
	}
	ph.SendSeconds = res.elapsed.Seconds()
	ph.Sent, ph.Accepted, ph.Failed, ph.Dropped = res.sent, res.accepted, res.failed, res.dropped
	if res.firstErr != nil {
		ph.FirstError = res.firstErr.Error()
	}
	if ph.SendSeconds > 0 {
		ph.AcceptedPerS = float64(ph.Accepted) / ph.SendSeconds
	}
	ph.PostEvents = summarize(res.ingest)

	windowEnd := sendEnd.Add(o.window)
	sleep(ctx, time.Until(windowEnd))
	if sp.drain {
		deadline := time.Now().Add(o.drainTimeout)
		for s.p.sink.finishedCount(id) < ph.Accepted && time.Now().Before(deadline) && ctx.Err() == nil {
			sleep(ctx, 20*time.Millisecond)
		}
		if ctx.Err() != nil {
			return nil, errStopped
		}
	}
	proc1, back1 := s.cpu()
	rec := s.p.sink.snapshot(id)
	ph.Finished, ph.Duplicates = len(rec.finished), rec.duplicates
	ph.Drained = ph.Finished >= ph.Accepted
	for _, t := range rec.finished {
		if !t.After(windowEnd) {
			ph.InWindow++
		}
	}
	if ph.SendSeconds > 0 {
		ph.FinishedPerS = float64(ph.InWindow) / ph.SendSeconds
	}
	ph.EventToFinish = summarize(rec.latencies)
	ph.CPUProcessMs = float64(proc1-proc0) * 1000 / clockTicks
	ph.CPUBackendMs = float64(back1-back0) * 1000 / clockTicks
	// Kept up: (nearly) every event offered was accepted and finished within the window after sending ended.
	need := o.keepUp * float64(ph.Sent+ph.Dropped)
	ph.KeptUp = float64(ph.Accepted) >= need && float64(ph.InWindow) >= need
	ph.Commits, ph.WALRecords, ph.WALBytes = -1, -1, -1
	if commits0 >= 0 || wal0.records >= 0 {
		sleep(ctx, sp.settle)
		if c := s.commits(ctx); c >= 0 && commits0 >= 0 {
			ph.Commits = c - commits0
		}
		if w := s.wal(ctx); w.records >= 0 && wal0.records >= 0 {
			ph.WALRecords, ph.WALBytes = w.records-wal0.records, w.bytes-wal0.bytes
		}
	}
	if o.verbose {
		fmt.Fprintf(o.log, "  %-8s %-9s offered %7.1f/s sent %6d accepted %6d (%.0f/s) finished %6d in-window %6d kept-up %-5v p50 %6.1f p99 %7.1f ms commits %d WAL %d records %d bytes\n",
			s.p.name, sp.name, sp.rate, ph.Sent, ph.Accepted, ph.AcceptedPerS, ph.Finished, ph.InWindow, ph.KeptUp,
			ph.EventToFinish.P50, ph.EventToFinish.P99, ph.Commits, ph.WALRecords, ph.WALBytes)
	}
	return ph, nil
}

// Knee is the result of the search for the highest rate a pipeline keeps up with.
type Knee struct {
	// Rate is the highest offered rate kept up (0: not even the first); FellBehind the lowest
	// that was not (0: none up to the maximum tried).
	Rate       float64  `json:"rate"`
	FellBehind float64  `json:"fell_behind_at"`
	Best       *Phase   `json:"best,omitempty"` // the phase at Rate
	Steps      []*Phase `json:"steps"`
}

// findKnee raises the offered rate by a factor until the pipeline falls behind (or lowers it until
// it keeps up), then bisects.
func (s *session) findKnee(ctx context.Context) (*Knee, error) {
	o := s.p.opt
	k := &Knee{}
	step := func(rate float64) (bool, error) {
		ph, err := s.runPhase(ctx, phaseSpec{name: fmt.Sprintf("knee@%.0f", rate), rate: rate, dur: o.step, settle: o.settle, drain: true})
		if err != nil {
			return false, err
		}
		k.Steps = append(k.Steps, ph)
		if ph.KeptUp {
			k.Rate, k.Best = rate, ph
		} else {
			k.FellBehind = rate
		}
		if !ph.Drained {
			return false, fmt.Errorf("%s: %d of %d runs of the step at %.0f/s still unfinished %s after it; stopping the search",
				s.p.name, ph.Accepted-ph.Finished, ph.Accepted, rate, o.drainTimeout)
		}
		return ph.KeptUp, nil
	}
	for rate, i := o.kneeStart, 0; rate <= o.kneeMax && i < 100; rate, i = rate*o.kneeFactor, i+1 {
		ok, err := step(rate)
		if err != nil {
			return k, err
		}
		if !ok {
			break
		}
	}
	// Not even the first rate kept up (a slow or busy machine): go down until one does.
	for rate, i := o.kneeStart/o.kneeFactor, 0; k.Rate == 0 && rate >= 1 && i < 10; rate, i = rate/o.kneeFactor, i+1 {
		if _, err := step(rate); err != nil {
			return k, err
		}
	}
	for i := 0; i < o.bisect && k.FellBehind > 0 && k.Rate > 0 && k.FellBehind-k.Rate > 0.05*k.Rate; i++ {
		if _, err := step((k.Rate + k.FellBehind) / 2); err != nil {
			return k, err
		}
	}
	return k, nil
}

// Backlog is the backlog test: events accepted by an API-only process, then one worker drains them.
type Backlog struct {
	Events        int     `json:"events"`
	Accepted      int     `json:"accepted"`
	AcceptSeconds float64 `json:"accept_seconds"`
	ServerRSSMB   float64 `json:"server_rss_mb"` // API process, with the backlog queued
	Finished      int     `json:"finished"`
	DrainSeconds  float64 `json:"drain_seconds"`    // worker start → last run finished
	DrainRunsPerS float64 `json:"drain_runs_per_s"` // first → last run finished
	WorkerRSSMB   float64 `json:"worker_peak_rss_mb"`
	Duplicates    int     `json:"duplicate_finishes"`
	FirstError    string  `json:"first_error,omitempty"`
}

func (s *session) backlog(ctx context.Context) (*Backlog, error) {
	o := s.p.opt
	id := s.nextPhase()
	res := closedLoop(ctx, s.client, id, o.ingestConns, o.drainTimeout+time.Duration(o.backlog)*10*time.Millisecond, o.backlog)
	if ctx.Err() != nil {
		return nil, errStopped
	}
	b := &Backlog{Events: o.backlog, Accepted: res.accepted, AcceptSeconds: res.elapsed.Seconds()}
	if res.firstErr != nil {
		b.FirstError = res.firstErr.Error()
	}
	sleep(ctx, 500*time.Millisecond) // let the API process settle (outbox hand-off) before reading its RSS
	b.ServerRSSMB = s.serverRSS()
	if n := s.p.sink.finishedCount(id); n > 0 {
		return b, fmt.Errorf("%s: %d runs finished with no worker running", s.p.name, n)
	}
	start := time.Now()
	if err := s.startWorker(); err != nil {
		return b, err
	}
	deadline := start.Add(o.drainTimeout + time.Duration(o.backlog)*10*time.Millisecond)
	for s.p.sink.finishedCount(id) < b.Accepted && time.Now().Before(deadline) && ctx.Err() == nil {
		sleep(ctx, 20*time.Millisecond)
	}
	if ctx.Err() != nil {
		return nil, errStopped
	}
	rec := s.p.sink.snapshot(id)
	b.Finished, b.Duplicates = len(rec.finished), rec.duplicates
	if n := len(rec.finished); n > 0 {
		first, last := rec.finished[0], rec.finished[0]
		for _, t := range rec.finished {
			first, last = minTime(first, t), maxTime(last, t)
		}
		b.DrainSeconds = last.Sub(start).Seconds()
		if n > 1 && last.After(first) {
			b.DrainRunsPerS = float64(n-1) / last.Sub(first).Seconds()
		}
	}
	if _, peak, err := memKB(s.procs[len(s.procs)-1].pid()); err == nil {
		b.WorkerRSSMB = float64(peak) / 1024
	}
	if b.Accepted < b.Events {
		return b, fmt.Errorf("only %d of %d events accepted (%s)", b.Accepted, b.Events, b.FirstError)
	}
	if b.Finished < b.Accepted {
		// The drain rate is still measured, over the runs that finished.
		return b, fmt.Errorf("%d of %d runs unfinished %.0f s after the worker started", b.Accepted-b.Finished, b.Accepted, time.Since(start).Seconds())
	}
	return b, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
