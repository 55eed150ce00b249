package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary play the baseline, as the bench binary does: the bench starts
// "<itself> baseline -role ...".
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "baseline" {
		if err := baselineMain(os.Args[2:]); err != nil {
			os.Stderr.WriteString("baseline: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestQuick runs the whole bench in -quick mode on the embedded default and, when the
// OPSFLOW_TEST_* variables are set, on Postgres + Redis, and checks that the report is sane.
// It asserts no speed: only that every measurement happened and is consistent.
func TestQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real servers")
	}
	bin := filepath.Join(t.TempDir(), "opsflow")
	build := exec.Command("go", "build", "-o", bin, "github.com/opsflow/opsflow/cmd/opsflow")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cases := map[string][]string{"embedded": {"-embedded"}}
	if db, redis := os.Getenv("OPSFLOW_TEST_DATABASE_URL"), os.Getenv("OPSFLOW_TEST_REDIS_ADDR"); db != "" && redis != "" {
		cases["postgres+redis"] = []string{"-database-url", db, "-redis-addr", redis}
	}
	for name, extra := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			var out, errOut bytes.Buffer
			args := append([]string{"-quick", "-opsflow", bin}, extra...)
			rep, err := run(ctx, args, &out, &errOut)
			t.Logf("report:\n%s", out.String())
			if err != nil {
				t.Fatalf("run: %v\n%s", err, errOut.String())
			}
			checkReport(t, rep, name == "postgres+redis")
			for _, want := range []string{"opsflow", "baseline", "ratio", "event→finished p99", "highest rate kept up"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("printed report lacks %q", want)
				}
			}
		})
	}
}

func checkReport(t *testing.T, rep *Report, postgres bool) {
	t.Helper()
	if len(rep.Results) != 2 || rep.Results[0].Pipeline != "opsflow" || rep.Results[1].Pipeline != "baseline" {
		t.Fatalf("want results for opsflow and baseline, got %+v", rep.Results)
	}
	for _, r := range rep.Results {
		if len(r.Errors) > 0 {
			t.Errorf("%s: errors %q", r.Pipeline, r.Errors)
		}
		lat := r.Latency
		if lat == nil || lat.Accepted == 0 || lat.Finished != lat.Accepted || lat.Failed != 0 {
			t.Fatalf("%s latency phase: want every accepted event finished, got %+v", r.Pipeline, lat)
		}
		for what, l := range map[string]latencies{"event→finished": lat.EventToFinish, "POST /events": lat.PostEvents} {
			if !(0 < l.P50 && l.P50 <= l.P95 && l.P95 <= l.P99 && l.P99 <= l.Max) {
				t.Errorf("%s %s percentiles not ordered: %+v", r.Pipeline, what, l)
			}
		}
		if lat.CPUProcessMs <= 0 || r.PeakRSSMB <= 0 {
			t.Errorf("%s: CPU %.1f ms and peak RSS %.1f MB should be positive", r.Pipeline, lat.CPUProcessMs, r.PeakRSSMB)
		}
		if r.Knee == nil || len(r.Knee.Steps) == 0 {
			t.Errorf("%s: no knee steps", r.Pipeline)
		} else {
			for _, st := range r.Knee.Steps {
				if st.Finished == 0 || !st.Drained {
					t.Errorf("%s knee step at %.0f/s: %d of %d finished", r.Pipeline, st.OfferedRate, st.Finished, st.Accepted)
				}
			}
		}
		if r.Ingest == nil || r.Ingest.Accepted == 0 || r.Ingest.AcceptedPerS <= 0 {
			t.Errorf("%s: ingest phase accepted nothing: %+v", r.Pipeline, r.Ingest)
		}
		if !postgres {
			if lat.Commits != -1 || lat.WALRecords != -1 || lat.WALBytes != -1 || r.Backlog != nil {
				t.Errorf("%s embedded: want no commit count (%d), no WAL count (%d records, %d bytes) and no backlog test (%+v)",
					r.Pipeline, lat.Commits, lat.WALRecords, lat.WALBytes, r.Backlog)
			}
			continue
		}
		if lat.Commits <= 0 || lat.CPUBackendMs < 0 {
			t.Errorf("%s: want Postgres commits counted, got %d (backend CPU %.1f ms)", r.Pipeline, lat.Commits, lat.CPUBackendMs)
		}
		// Backends flush their statistics up to 10 s late when idle, so -quick's short pauses can
		// miss a phase's WAL (at 20/s the baseline's backends are mostly idle): what is checked is
		// that WAL is counted, over all phases, and never negative.
		phases := []*Phase{lat, r.HalfKnee, r.Ingest}
		if r.Knee != nil {
			phases = append(phases, r.Knee.Steps...)
		}
		var records, walBytes int64
		for _, ph := range phases {
			if ph == nil {
				continue
			}
			if ph.WALRecords < 0 || ph.WALBytes < 0 {
				t.Errorf("%s %s: WAL not counted: %d records, %d bytes", r.Pipeline, ph.Name, ph.WALRecords, ph.WALBytes)
			}
			records, walBytes = records+ph.WALRecords, walBytes+ph.WALBytes
		}
		if records <= 0 || walBytes <= 0 {
			t.Errorf("%s: want Postgres WAL counted, got %d records, %d bytes over all phases", r.Pipeline, records, walBytes)
		}
		b := r.Backlog
		if b == nil || b.Accepted != b.Events || b.Finished != b.Accepted || b.ServerRSSMB <= 0 || b.DrainRunsPerS <= 0 {
			t.Errorf("%s backlog: want every event accepted and drained, got %+v", r.Pipeline, b)
		}
	}
}
