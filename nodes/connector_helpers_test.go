package nodes

// Helpers shared by the connector tests (action.sms, action.email, action.notify,
// action.crm_update, action.payment_link). Names start with cx to stay clear of other tests.
// Tests of the connectors the sandbox stands in for (engine/sandbox) use it, with its FailWith
// for provider errors.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/node"
	"github.com/opsflow/opsflow/engine/sandbox"
	"github.com/opsflow/opsflow/engine/store"
)

// cxBackends runs fn once per available engine backend, each with a fresh engine.
func cxBackends(t *testing.T, fn func(t *testing.T, e *engine.Engine)) {
	t.Helper()
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			fn(t, enginetest.New(t, b))
		})
	}
}

// cxSandbox starts the local provider stand-ins for one test.
func cxSandbox(t *testing.T) *sandbox.Sandbox {
	t.Helper()
	sb, err := sandbox.Start(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	return sb
}

// cxCredential stores a credential and returns its id.
func cxCredential(t *testing.T, e *engine.Engine, typ string, data map[string]string) string {
	t.Helper()
	c, err := e.CreateCredential(context.Background(), fmt.Sprintf("test %s %d", typ, cxSeq.Add(1)), typ, data)
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

var cxSeq atomic.Int64

// cxPublish publishes "trigger.event (eventType) → act (nodeType with cfg)" and returns the event type.
func cxPublish(t *testing.T, e *engine.Engine, nodeType string, cfg map[string]any) string {
	t.Helper()
	eventType := fmt.Sprintf("cx.test.%d", cxSeq.Add(1))
	doc := map[string]any{
		"schema": "opsflow/v1",
		"name":   "connector test " + nodeType,
		"nodes": []any{
			map[string]any{"id": "start", "type": "trigger.event", "config": map[string]any{"event_type": eventType}, "position": map[string]any{"x": 0, "y": 0}},
			map[string]any{"id": "act", "type": nodeType, "config": cfg, "position": map[string]any{"x": 200, "y": 0}},
		},
		"edges": []any{map[string]any{"from": "start", "to": "act"}},
	}
	b, _ := json.Marshal(doc)
	enginetest.Publish(t, e, enginetest.MustFlow(t, string(b)))
	return eventType
}

// cxRun posts an event and waits for the single run it starts.
func cxRun(t *testing.T, e *engine.Engine, eventType string, data map[string]any) *engine.RunDetail {
	t.Helper()
	acc, err := e.AcceptEvent(context.Background(), eventType, data, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(acc.RunIDs) != 1 {
		t.Fatalf("event started %d runs, want 1", len(acc.RunIDs))
	}
	return enginetest.WaitRun(t, e, acc.RunIDs[0], 20*time.Second)
}

// cxStep returns the action step, failing the test if it is missing.
func cxStep(t *testing.T, d *engine.RunDetail) *store.Step {
	t.Helper()
	s := enginetest.Step(d, "act")
	if s == nil {
		t.Fatalf("run %s (%s, %q) has no step act", d.Run.ID, d.Run.Status, d.Run.Error)
	}
	return s
}

// cxSucceeded asserts the run succeeded and returns the action's output.
func cxSucceeded(t *testing.T, d *engine.RunDetail) map[string]any {
	t.Helper()
	s := cxStep(t, d)
	if d.Run.Status != store.RunSucceeded {
		t.Fatalf("run %s: %q (step error %q)", d.Run.Status, d.Run.Error, s.Error)
	}
	return enginetest.Output(t, s)
}

// cxFailed asserts the run failed after the given number of attempts of the action step.
func cxFailed(t *testing.T, d *engine.RunDetail, attempts int) *store.Step {
	t.Helper()
	s := cxStep(t, d)
	if d.Run.Status != store.RunFailed {
		t.Fatalf("run %s, want failed (output %s)", d.Run.Status, s.Output)
	}
	if s.Attempt != attempts {
		t.Fatalf("step ran %d times, want %d (error %q)", s.Attempt, attempts, s.Error)
	}
	return s
}

// cxNoSecrets fails if any secret appears anywhere in what the run stored.
func cxNoSecrets(t *testing.T, d *engine.RunDetail, secrets ...string) {
	t.Helper()
	var b strings.Builder
	b.WriteString(d.Run.Error)
	for _, s := range d.Steps {
		b.WriteString("\n" + s.Input + "\n" + s.Output + "\n" + s.Error)
	}
	all := b.String()
	for _, s := range secrets {
		if s != "" && strings.Contains(all, s) {
			t.Errorf("secret %q leaked into the run record: %s", s, all)
		}
	}
}

// cxRetried is how often a retryable failure runs in the test engine (1 + MaxRetry 2).
const cxRetried = 3

// cxSpec returns a registered node type.
func cxSpec(t *testing.T, typ string) *node.Spec {
	t.Helper()
	s := node.Lookup(typ)
	if s == nil {
		t.Fatalf("node type %s is not registered", typ)
	}
	return s
}
