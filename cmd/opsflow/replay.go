package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/store"
)

// replayCommand replays recorded events through a version of a flow (id or name), in this process
// and without side effects, prints the summary and exits 1 when any event now fails: a check
// to run before publishing a flow. The replay is stored like one started from the builder.
func replayCommand(args []string, out io.Writer) error {
	var version, since, until, events string
	var last int
	s := &settings{}
	fs := newFlags(out, "replay", "[flags] FLOW", "Replay recorded events through a version of a flow (id or name) without side effects, print the summary, exit 1 when any event now fails.")
	fs.StringVar(&version, "version", "draft", `version to replay: a number, or "draft" (the latest)`)
	fs.IntVar(&last, "last", 0, "the last N events the flow ran for (default 100 when nothing else is chosen)")
	fs.StringVar(&since, "since", "", "events since this RFC 3339 time or duration ago (7d, 36h)")
	fs.StringVar(&until, "until", "", "events until this RFC 3339 time or duration ago")
	fs.StringVar(&events, "events", "", "comma-separated event ids")
	if err := s.storeFlags(fs); err != nil {
		return err
	}
	if err := fs.parse(args, 1); err != nil {
		return err
	}
	var err error
	v := 0
	if version != "draft" {
		if v, err = strconv.Atoi(version); err != nil || v < 1 {
			return errors.New(`-version must be a version number or "draft"`)
		}
	}
	sel := engine.ReplaySelection{Last: last}
	if events != "" {
		sel.EventIDs = strings.Split(events, ",")
	}
	for _, b := range []struct {
		text string
		dst  **time.Time
	}{{since, &sel.Since}, {until, &sel.Until}} {
		if b.text != "" {
			t, err := engine.ParseReplayTime(b.text)
			if err != nil {
				return err
			}
			*b.dst = &t
		}
	}
	e, err := offlineEngine(s)
	if err != nil {
		return err
	}
	defer e.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var f store.Flow
	if err := e.Store.DB.WithContext(ctx).Scopes(store.ByRef(fs.Arg(0))).Take(&f).Error; err != nil {
		return fmt.Errorf("flow %q: %w", fs.Arg(0), store.NotFound(err))
	}
	r, err := e.CreateReplay(ctx, f.ID, v, sel, "opsflow replay")
	if err != nil {
		return err
	}
	start := time.Now()
	if err := e.RunReplay(ctx, r.ID); err != nil {
		if ctx.Err() != nil {
			_, _ = e.CancelReplay(context.Background(), r.ID)
			return errors.New("interrupted; the replay is cancelled")
		}
		return err
	}
	summary, failing, err := e.ReplaySummary(ctx, r.ID)
	if err != nil {
		return err
	}
	which := fmt.Sprintf("version %d", r.FlowVersion)
	if r.Draft {
		which += " (draft)"
	}
	fmt.Fprintf(out, "Replayed %d events of %q through %s in %.1f s (replay %s):\n", r.Total, f.Name, which, time.Since(start).Seconds(), r.ID)
	for _, o := range summary {
		fmt.Fprintf(out, "%7d  %s\n", o.Count, o.Text)
	}
	if failing > 0 {
		fmt.Fprintf(out, "%d of %d events now fail.\n", failing, r.Total)
		return exitError(1)
	}
	return nil
}
