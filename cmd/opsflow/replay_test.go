package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/flow"
	"github.com/opsflow/opsflow/engine/store"
)

// opsflow replay prints the summary and exits 1 when the draft now fails for some event.
func TestReplayCommand(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("OPSFLOW_DATA_DIR", dir)
	t.Setenv("DATABASE_URL", "")
	t.Setenv("REDIS_ADDR", "")
	doc := func(expr string) *flow.Flow {
		f, err := flow.Parse([]byte(`{"name":"cli replay","nodes":[
			{"id":"t","type":"trigger.event","config":{"event_type":"order.paid","sample":{"amount":1,"code":"1"}}},
			{"id":"big","type":"logic.condition","config":{"expression":` + expr + `}},
			{"id":"l","type":"action.log","config":{"message":"big order"}}],
			"edges":[{"from":"t","to":"big"},{"from":"big","to":"l","port":"true"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	// Real traffic first: a server's engine runs the published version for two events.
	e, err := engine.Open(engine.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.StartWorker(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	info, err := e.CreateFlow(ctx, doc(`"event.data.amount >= 100"`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.PublishFlow(ctx, info.Flow.ID, 0); err != nil {
		t.Fatal(err)
	}
	var runs []string
	for _, data := range []map[string]any{{"amount": 150, "code": "150"}, {"amount": 20, "code": "n/a"}} {
		acc, err := e.AcceptEvent(ctx, "order.paid", data, "")
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, acc.RunIDs...)
	}
	for _, id := range runs {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			d, err := e.GetRun(ctx, id)
			if err != nil || time.Now().After(deadline) {
				t.Fatalf("run %s: %v", id, err)
			}
			if store.Terminal(d.Run.Status) {
				break
			}
		}
	}
	// The draft reads the amount from a text field that one event does not have as a number.
	if _, err := e.SaveFlow(ctx, info.Flow.ID, doc(`"int(event.data.code) >= 100"`)); err != nil {
		t.Fatal(err)
	}
	e.Close()

	var out bytes.Buffer
	if err := replayCommand([]string{"-version", "1", "cli replay"}, &out); err != nil {
		t.Fatalf("published version: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "Replayed 2 events") || !strings.Contains(out.String(), "      2  unchanged") {
		t.Errorf("published version: %s", out.String())
	}
	out.Reset()
	err = replayCommand([]string{"-last", "5", info.Flow.ID}, &out)
	if ex, ok := err.(exitError); !ok || ex != 1 {
		t.Fatalf("draft: err %v\n%s", err, out.String())
	}
	for _, want := range []string{"through version 2 (draft)", "      1  unchanged", "      1  now fail at node big", "1 of 2 events now fail."} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("draft output lacks %q:\n%s", want, out.String())
		}
	}
	for _, bad := range [][]string{{}, {"-version", "two", "x"}, {"-since", "last week", "x"}, {"nope"}} {
		if err := replayCommand(bad, &out); err == nil {
			t.Errorf("replay %v: no error", bad)
		}
	}
}
