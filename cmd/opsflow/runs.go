package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/auth"
	"github.com/opsflow/opsflow/engine/store"
)

// runsCommand: opsflow runs list|retry|cancel. Retry and cancel change the store like the API's
// endpoints (the same engine calls, audited with the command line as actor); a retried run waits in
// the outbox until a running serve or worker process hands it to the queue.
func runsCommand(args []string, out io.Writer) error {
	return subcommands(out, "runs", args, map[string]func([]string, io.Writer) error{
		"list": listRuns, "retry": retryRun, "cancel": cancelRun,
	})
}

var runStatuses = []string{store.RunQueued, store.RunRunning, store.RunWaiting, store.RunSucceeded, store.RunFailed, store.RunCancelled}

func listRuns(args []string, out io.Writer) error {
	var f engine.RunFilter
	s := &settings{}
	fs := newFlags(out, "runs list", "[flags]", "List runs, newest first.")
	fs.StringVar(&f.FlowID, "flow", "", "only this flow's runs (ids: opsflow flows list)")
	fs.StringVar(&f.Status, "status", "", "only runs in this status: "+strings.Join(runStatuses, ", "))
	fs.IntVar(&f.Limit, "limit", 50, "at most this many (1-1000)")
	fs.StringVar(&f.Cursor, "cursor", "", "continue after this run id (printed when there are more)")
	if err := s.storeFlags(fs); err != nil {
		return err
	}
	if err := fs.parse(args, 0); err != nil {
		return err
	}
	if f.Status != "" && !slices.Contains(runStatuses, f.Status) {
		return fs.usage("-status must be one of %s, not %q", strings.Join(runStatuses, ", "), f.Status)
	}
	if f.Limit < 1 || f.Limit > 1000 {
		return fs.usage("-limit must be from 1 to 1000, not %d", f.Limit)
	}
	e, err := offlineEngine(s)
	if err != nil {
		return err
	}
	defer e.Close()
	runs, next, err := e.ListRuns(context.Background(), f)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tFLOW\tVERSION\tSTATUS\tCREATED\tERROR")
	for _, r := range runs {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", r.ID, r.FlowID, r.FlowVersion, r.Status, r.CreatedAt.UTC().Format(time.RFC3339), oneLine(r.Error))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if next != "" {
		fmt.Fprintf(out, "more: opsflow runs list -cursor %s\n", next)
	}
	return nil
}

func retryRun(args []string, out io.Writer) error {
	var from string
	s := &settings{}
	fs := newFlags(out, "runs retry", "[-from failed|start] ID",
		"Retry a failed or cancelled run: from its failed step (the steps that succeeded are kept), or from the start as a new run.\n"+
			"It runs once a serve or worker process picks it up. Prints the run id (a new one with -from start).")
	fs.StringVar(&from, "from", "failed", "failed: resume the run at its failed step; start: a new run of the same event")
	if err := s.storeFlags(fs); err != nil {
		return err
	}
	if err := fs.parse(args, 1); err != nil {
		return err
	}
	if from != "failed" && from != "start" {
		return fs.usage("-from must be failed or start, not %q", from)
	}
	e, err := offlineEngine(s)
	if err != nil {
		return err
	}
	defer e.Close()
	ctx, id := context.Background(), fs.Arg(0)
	runID, err := e.RetryRun(ctx, id, from)
	if errors.Is(err, store.ErrNotFound) {
		return noRun(id, s)
	}
	if err != nil {
		return err
	}
	if err := auth.New(e.Store.DB, auth.Config{}).Record(ctx, cliActor, auth.Entry{Action: "run.retried", ObjectType: "run",
		ObjectID: runID, Diff: map[string]string{"from": from, "retry_of": id}}); err != nil {
		return err
	}
	fmt.Fprintln(out, runID)
	return nil
}

func cancelRun(args []string, out io.Writer) error {
	fs := newFlags(out, "runs cancel", "[flags] ID", "Cancel a queued, running or waiting run: it never resumes, and a running step is interrupted.")
	e, s, err := openOffline(fs, args, 1)
	if err != nil {
		return err
	}
	defer e.Close()
	ctx, id := context.Background(), fs.Arg(0)
	run, err := e.CancelRun(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return noRun(id, s)
	case errors.Is(err, engine.ErrRunFinished) && run.Status != store.RunCancelled:
		return fmt.Errorf("run %s has already finished (%s)", id, run.Status)
	case err != nil && !errors.Is(err, engine.ErrRunFinished):
		return err
	}
	if err := auth.New(e.Store.DB, auth.Config{}).Record(ctx, cliActor, auth.Entry{Action: "run.cancelled", ObjectType: "run",
		ObjectID: run.ID, Diff: map[string]string{"flow_id": run.FlowID, "status": run.Status}}); err != nil {
		return err
	}
	fmt.Fprintf(out, "run %s cancelled\n", run.ID)
	return nil
}

func noRun(id string, s *settings) error {
	return fmt.Errorf("no run with id %q in %s; list them with: opsflow runs list", id, s.storeName())
}

// flowsCommand: opsflow flows list, the ids export and runs list -flow take.
func flowsCommand(args []string, out io.Writer) error {
	return subcommands(out, "flows", args, map[string]func([]string, io.Writer) error{"list": listFlows})
}

func listFlows(args []string, out io.Writer) error {
	var search string
	fs := newFlags(out, "flows list", "[flags]", "List the flows by name: id, name, latest and published version, enabled.")
	fs.StringVar(&search, "search", "", "only flows whose name or description contains this")
	e, _, err := openOffline(fs, args, 0)
	if err != nil {
		return err
	}
	defer e.Close()
	flows, err := e.ListFlows(context.Background(), search, 10000, 0)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tLATEST\tPUBLISHED\tENABLED")
	for _, f := range flows {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%t\n", f.ID, f.Name, f.LatestVersion, f.PublishedVersion, f.Enabled)
	}
	return tw.Flush()
}
