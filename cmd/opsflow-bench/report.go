package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// row is one line of the side-by-side table: a value per result, and whether a ratio makes sense.
type row struct {
	label string
	value func(r *Result) (float64, bool) // false: not measured
	ratio bool
	unit  string
}

func printReport(out io.Writer, rep *Report, o *options) {
	fmt.Fprintf(out, "opsflow-bench: %s, %s, concurrency %d, %s arrivals\n", rep.Backend, rep.Processes, rep.Concurrency, rep.Arrivals)
	fmt.Fprintf(out, "machine: %s\n", rep.Machine)
	fmt.Fprintf(out, "workload: %s\n\n", rep.Workload)
	lat := func(f func(*Phase) float64) func(*Result) (float64, bool) {
		return func(r *Result) (float64, bool) {
			if r.Latency == nil || r.Latency.Finished == 0 {
				return 0, false
			}
			return f(r.Latency), true
		}
	}
	half := func(f func(*Phase) float64) func(*Result) (float64, bool) {
		return func(r *Result) (float64, bool) {
			if r.HalfKnee == nil || r.HalfKnee.Finished == 0 {
				return 0, false
			}
			return f(r.HalfKnee), true
		}
	}
	knee := func(f func(*Knee) (float64, bool)) func(*Result) (float64, bool) {
		return func(r *Result) (float64, bool) {
			if r.Knee == nil {
				return 0, false
			}
			return f(r.Knee)
		}
	}
	ingest := func(f func(*Phase) float64) func(*Result) (float64, bool) {
		return func(r *Result) (float64, bool) {
			if r.Ingest == nil || r.Ingest.Accepted == 0 {
				return 0, false
			}
			return f(r.Ingest), true
		}
	}
	backlog := func(f func(*Backlog) float64) func(*Result) (float64, bool) {
		return func(r *Result) (float64, bool) {
			if r.Backlog == nil {
				return 0, false
			}
			return f(r.Backlog), true
		}
	}
	perRun := func(ph *Phase, total float64) (float64, bool) {
		if ph == nil || ph.Finished == 0 || total < 0 {
			return 0, false
		}
		return ph.perRun(total), true
	}
	// atRate and atKnee are a phase's total (commits, WAL, CPU) per run finished: of the latency
	// phase, and of the knee's best step.
	atRate := func(total func(*Phase) float64) func(*Result) (float64, bool) {
		return func(r *Result) (float64, bool) {
			if r.Latency == nil {
				return 0, false
			}
			return perRun(r.Latency, total(r.Latency))
		}
	}
	atKnee := func(total func(*Phase) float64) func(*Result) (float64, bool) {
		return knee(func(k *Knee) (float64, bool) {
			if k.Best == nil {
				return 0, false
			}
			return perRun(k.Best, total(k.Best))
		})
	}
	// postgres leaves out what only Postgres has (its backends' CPU) on the embedded default.
	postgres := func(f func(*Result) (float64, bool)) func(*Result) (float64, bool) {
		return func(r *Result) (float64, bool) {
			if o.embedded {
				return 0, false
			}
			return f(r)
		}
	}
	rate := fmt.Sprintf("at %g/s", o.rate)
	rows := []row{
		{"highest rate kept up (knee), runs/s", knee(func(k *Knee) (float64, bool) { return k.Rate, true }), true, "runs/s"},
		{"  runs finished per s at the knee", knee(func(k *Knee) (float64, bool) {
			if k.Best == nil {
				return 0, false
			}
			return k.Best.FinishedPerS, true
		}), true, "runs/s"},
		{"  first rate that fell behind, runs/s", knee(func(k *Knee) (float64, bool) { return k.FellBehind, k.FellBehind > 0 }), false, "runs/s"},
		{"event→finished p50 " + rate, lat(func(p *Phase) float64 { return p.EventToFinish.P50 }), true, "ms"},
		{"event→finished p95 " + rate, lat(func(p *Phase) float64 { return p.EventToFinish.P95 }), true, "ms"},
		{"event→finished p99 " + rate, lat(func(p *Phase) float64 { return p.EventToFinish.P99 }), true, "ms"},
		{"POST /events p99 " + rate, lat(func(p *Phase) float64 { return p.PostEvents.P99 }), true, "ms"},
		{"event→finished p50 at half the knee", half(func(p *Phase) float64 { return p.EventToFinish.P50 }), true, "ms"},
		{"event→finished p99 at half the knee", half(func(p *Phase) float64 { return p.EventToFinish.P99 }), true, "ms"},
		{"POST /events p99 at half the knee", half(func(p *Phase) float64 { return p.PostEvents.P99 }), true, "ms"},
		{fmt.Sprintf("ingest, closed loop, %d conns, req/s", o.ingestConns), ingest(func(p *Phase) float64 { return p.AcceptedPerS }), true, "req/s"},
		{"  POST /events p99", ingest(func(p *Phase) float64 { return p.PostEvents.P99 }), true, "ms"},
		{"Postgres commits per run " + rate, atRate(func(p *Phase) float64 { return float64(p.Commits) }), true, ""},
		{"Postgres commits per run at the knee", atKnee(func(p *Phase) float64 { return float64(p.Commits) }), true, ""},
		{"Postgres WAL records per run " + rate, atRate(func(p *Phase) float64 { return float64(p.WALRecords) }), true, ""},
		{"Postgres WAL records per run at the knee", atKnee(func(p *Phase) float64 { return float64(p.WALRecords) }), true, ""},
		{"Postgres WAL KB per run " + rate, atRate(func(p *Phase) float64 { return float64(p.WALBytes) / 1024 }), true, ""},
		{"Postgres WAL KB per run at the knee", atKnee(func(p *Phase) float64 { return float64(p.WALBytes) / 1024 }), true, ""},
		{"CPU per run, processes " + rate, atRate(func(p *Phase) float64 { return p.CPUProcessMs }), true, "ms"},
		{"CPU per run, Postgres backends " + rate, postgres(atRate(func(p *Phase) float64 { return p.CPUBackendMs })), true, "ms"},
		{"CPU per run, processes at the knee", atKnee(func(p *Phase) float64 { return p.CPUProcessMs }), true, "ms"},
		{"CPU per run, Postgres backends at the knee", postgres(atKnee(func(p *Phase) float64 { return p.CPUBackendMs })), true, "ms"},
		{"peak RSS, all processes", func(r *Result) (float64, bool) { return r.PeakRSSMB, r.PeakRSSMB > 0 }, true, "MB"},
		{fmt.Sprintf("backlog: %d events into API-only, req/s", o.backlog), backlog(func(b *Backlog) float64 { return float64(b.Accepted) / max(b.AcceptSeconds, 1e-9) }), true, "req/s"},
		{"  RSS of the API process then", backlog(func(b *Backlog) float64 { return b.ServerRSSMB }), true, "MB"},
		{"  drain rate, 1 worker process, runs/s", backlog(func(b *Backlog) float64 { return b.DrainRunsPerS }), true, "runs/s"},
		{"  worker start → all finished", backlog(func(b *Backlog) float64 { return b.DrainSeconds }), true, "s"},
	}
	names := make([]string, len(rep.Results))
	for i, r := range rep.Results {
		names[i] = r.Pipeline
	}
	header := fmt.Sprintf("%-44s", "")
	for _, n := range names {
		header += fmt.Sprintf(" %12s", n)
	}
	if len(rep.Results) == 2 {
		header += fmt.Sprintf(" %8s", "ratio")
	}
	fmt.Fprintln(out, header)
	for _, rw := range rows {
		line := fmt.Sprintf("%-44s", rw.label)
		vals := make([]float64, len(rep.Results))
		oks := make([]bool, len(rep.Results))
		for i, r := range rep.Results {
			vals[i], oks[i] = rw.value(r)
			if oks[i] {
				line += fmt.Sprintf(" %12s", num(vals[i])+unitSuffix(rw.unit))
			} else {
				line += fmt.Sprintf(" %12s", "–")
			}
		}
		if len(vals) == 2 && rw.ratio && oks[0] && oks[1] && vals[1] != 0 {
			line += fmt.Sprintf(" %8.2f", vals[0]/vals[1])
		}
		fmt.Fprintln(out, strings.TrimRight(line, " "))
	}
	if len(rep.Results) == 2 {
		fmt.Fprintf(out, "(ratio = %s / %s)\n", names[0], names[1])
	}
	for _, r := range rep.Results {
		fmt.Fprintf(out, "%s: machine load average %.1f at the start, %.1f at the end\n", r.Pipeline, r.LoadAvg[0], r.LoadAvg[1])
		if r.Knee != nil {
			var steps []string
			for _, st := range r.Knee.Steps {
				mark := "✗"
				if st.KeptUp {
					mark = "✓"
				}
				steps = append(steps, fmt.Sprintf("%.0f%s", st.OfferedRate, mark))
			}
			fmt.Fprintf(out, "%s knee steps (offered events/s, ✓ kept up): %s\n", r.Pipeline, strings.Join(steps, " "))
		}
		dup, failed := 0, 0
		for _, ph := range r.phases() {
			dup += ph.Duplicates
			failed += ph.Failed
		}
		if dup > 0 || failed > 0 {
			fmt.Fprintf(out, "%s: %d POST /events failed, %d runs called the sink's last step twice\n", r.Pipeline, failed, dup)
		}
		for _, e := range r.Errors {
			fmt.Fprintf(out, "%s error: %s\n", r.Pipeline, e)
		}
	}
}

func (r *Result) phases() []*Phase {
	var out []*Phase
	if r.Latency != nil {
		out = append(out, r.Latency)
	}
	if r.Knee != nil {
		out = append(out, r.Knee.Steps...)
	}
	if r.HalfKnee != nil {
		out = append(out, r.HalfKnee)
	}
	if r.Ingest != nil {
		out = append(out, r.Ingest)
	}
	return out
}

func unitSuffix(u string) string {
	if u == "" || u == "runs/s" || u == "req/s" {
		return ""
	}
	return " " + u
}

// num prints a value with about three significant digits.
func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// workload names what both pipelines run.
func workload(idempotent bool, providerLatency time.Duration) string {
	sink := "local sink"
	if providerLatency > 0 {
		sink = fmt.Sprintf("local sink answering after %v, -provider-latency", providerLatency)
	}
	w := "trigger.event → logic.condition → action.http → action.http (" + sink + ")"
	if idempotent {
		w += "; opsflow's calls marked \"Target ignores repeats\" (-idempotent)"
	}
	return w
}
