package engine_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/node"
	"github.com/opsflow/opsflow/engine/store"
	_ "github.com/opsflow/opsflow/nodes"
)

// httpFlow is a flow whose single action calls url; later nodes show whether the run went on.
func httpFlow(url string) string {
	return `{"schema":"opsflow/v1","name":"http","nodes":[
		{"id":"t","type":"trigger.event","config":{"event_type":"order.paid","sample":{"order_id":"SO-1","card":"x"}}},
		{"id":"call","type":"action.http","config":{"method":"POST","url":"` + url + `/orders/{{ event.data.order_id }}","body":"{\"status\": \"paid\", \"card\": event.data.card}"}},
		{"id":"after","type":"action.log","config":{"message":"status {{ nodes.call.status }}"}}],
		"edges":[{"from":"t","to":"call"},{"from":"call","to":"after"}]}`
}

func accept(t *testing.T, e *engine.Engine, typ string, data any, key string) *engine.Accepted {
	t.Helper()
	acc, err := e.AcceptEvent(context.Background(), typ, data, key)
	if err != nil {
		t.Fatal(err)
	}
	return acc
}

// A failing step is retried with the same Idempotency-Key; the run then goes on.
func TestRetryKeepsIdempotencyKey(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			e := enginetest.New(t, b)
			var calls atomic.Int32
			var mu sync.Mutex
			var keys []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				keys = append(keys, r.Header.Get("Idempotency-Key"))
				mu.Unlock()
				if calls.Add(1) == 1 {
					http.Error(w, "upstream busy", http.StatusServiceUnavailable)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"ok":true}`)
			}))
			defer srv.Close()
			enginetest.Publish(t, e, enginetest.MustFlow(t, httpFlow(srv.URL)))
			acc := accept(t, e, "order.paid", map[string]any{"order_id": "SO-7", "card": "no card"}, "")
			d := enginetest.WaitRun(t, e, acc.RunIDs[0], 10*time.Second)
			if d.Run.Status != store.RunSucceeded {
				t.Fatalf("run %s: %s", d.Run.Status, d.Run.Error)
			}
			call := enginetest.Step(d, "call")
			if call.Attempt != 2 {
				t.Errorf("call attempts = %d, want 2", call.Attempt)
			}
			if len(keys) != 2 || keys[0] != keys[1] || keys[0] != acc.RunIDs[0]+":call" {
				t.Errorf("idempotency keys = %v, want the same run:node key twice", keys)
			}
			if out := enginetest.Output(t, enginetest.Step(d, "after")); out["message"] != "status 200" {
				t.Errorf("after saw %v", out)
			}
		})
	}
}

// A 4xx is permanent: the run fails at once, the error names the node, nothing after it runs.
func TestClientErrorFailsWithoutRetry(t *testing.T) {
	e := enginetest.New(t, enginetest.Embedded)
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, `{"error":"order not found"}`, http.StatusNotFound)
	}))
	defer srv.Close()
	enginetest.Publish(t, e, enginetest.MustFlow(t, httpFlow(srv.URL)))
	acc := accept(t, e, "order.paid", map[string]any{"order_id": "SO-404", "card": ""}, "")
	d := enginetest.WaitRun(t, e, acc.RunIDs[0], 10*time.Second)
	if d.Run.Status != store.RunFailed || !strings.Contains(d.Run.Error, "node call") || !strings.Contains(d.Run.Error, "404") {
		t.Fatalf("run %s with error %q; want failed naming node call and 404", d.Run.Status, d.Run.Error)
	}
	if calls.Load() != 1 {
		t.Errorf("server called %d times, want 1", calls.Load())
	}
	if enginetest.Step(d, "after") != nil {
		t.Error("a node after the failed one ran")
	}
}

// Card numbers never reach the store: not in the event, the step input or the output.
func TestCardNumbersMasked(t *testing.T) {
	e := enginetest.New(t, enginetest.Embedded)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(w, r.Body) // echo: the output would hold the card if the input did
	}))
	defer srv.Close()
	enginetest.Publish(t, e, enginetest.MustFlow(t, httpFlow(srv.URL)))
	pan := "4111 1111 1111 1111"
	acc := accept(t, e, "order.paid", map[string]any{"order_id": "SO-9", "card": pan}, "")
	d := enginetest.WaitRun(t, e, acc.RunIDs[0], 10*time.Second)
	all := d.Event.Data
	for _, s := range d.Steps {
		all += s.Input + s.Output
	}
	if strings.Contains(all, "4111 1111 1111 1111") || strings.Contains(all, "4111111111111111") {
		t.Fatalf("card number stored in clear: %s", all)
	}
	if !strings.Contains(d.Event.Data, "411111******1111") {
		t.Errorf("event data %s: want the masked card 411111******1111", d.Event.Data)
	}
}

// Concurrent deliveries with one idempotency key make one event and one run.
func TestIdempotencyUnderConcurrency(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			e := enginetest.New(t, b)
			enginetest.Publish(t, e, enginetest.MustFlow(t, `{"name":"log","nodes":[
				{"id":"t","type":"trigger.event","config":{"event_type":"payment.*"}},
				{"id":"l","type":"action.log","config":{"message":"hi"}}],"edges":[{"from":"t","to":"l"}]}`))
			var wg sync.WaitGroup
			results := make([]*engine.Accepted, 20)
			errs := make([]error, 20)
			for i := range results {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[i], errs[i] = e.AcceptEvent(context.Background(), "payment.failed", map[string]any{"n": i}, "same-key")
				}()
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
			}
			first := results[0].EventID
			for _, r := range results {
				if r.EventID != first || len(r.RunIDs) != 1 || r.RunIDs[0] != results[0].RunIDs[0] {
					t.Fatalf("answers differ: %+v vs %+v", r, results[0])
				}
			}
			var events, runs int64
			e.Store.DB.Model(&store.Event{}).Count(&events)
			e.Store.DB.Model(&store.Run{}).Count(&runs)
			if events != 1 || runs != 1 {
				t.Errorf("%d events and %d runs stored, want 1 and 1", events, runs)
			}
			// The wildcard trigger matched payment.failed but not refund.created.
			if acc := accept(t, e, "refund.created", nil, ""); len(acc.RunIDs) != 0 {
				t.Errorf("payment.* started %d runs for refund.created", len(acc.RunIDs))
			}
		})
	}
}

// If the process dies after an event is committed but before its run reaches the queue, the
// outbox hands it over later: here the dispatch row is written as a dead process would leave it.
func TestOutboxDeliversOrphanedDispatch(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			e := enginetest.New(t, b)
			flowID := enginetest.Publish(t, e, enginetest.MustFlow(t, `{"name":"log","nodes":[
				{"id":"t","type":"trigger.event","config":{"event_type":"x"}},
				{"id":"l","type":"action.log","config":{"message":"hi"}}],"edges":[{"from":"t","to":"l"}]}`))
			now := time.Now().UTC()
			ev := store.Event{ID: store.NewID(), Type: "x", Source: "api", Data: "{}", CreatedAt: now}
			run := store.Run{ID: store.NewID(), FlowID: flowID, FlowVersion: 1, EventID: ev.ID, Status: store.RunQueued, Token: "start", CreatedAt: now, UpdatedAt: now}
			for _, rec := range []any{&ev, &run, &store.Dispatch{RunID: run.ID, Token: "start", ProcessAt: now, CreatedAt: now}} {
				if err := e.Store.DB.Create(rec).Error; err != nil {
					t.Fatal(err)
				}
			}
			d := enginetest.WaitRun(t, e, run.ID, 15*time.Second)
			if d.Run.Status != store.RunSucceeded {
				t.Fatalf("run %s: %s", d.Run.Status, d.Run.Error)
			}
			// Outbox rows are deleted a little after their runs were handed to the queue.
			var left int64
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				e.Store.DB.Model(&store.Dispatch{}).Count(&left)
				if left == 0 || time.Now().After(deadline) {
					break
				}
			}
			if left != 0 {
				t.Errorf("%d dispatch rows left in the outbox", left)
			}
		})
	}
}

// The embedded default loses its in-process queue on restart; the runs it had accepted are
// re-enqueued from the store and finish.
func TestEmbeddedRestartLosesNothing(t *testing.T) {
	dir := t.TempDir()
	cfg := engine.Config{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), PollInterval: 10 * time.Millisecond}
	first, err := engine.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	info, err := first.CreateFlow(ctx, enginetest.MustFlow(t, `{"name":"log","nodes":[
		{"id":"t","type":"trigger.event","config":{"event_type":"x"}},
		{"id":"l","type":"action.log","config":{"message":"{{ event.data.n }}"}}],"edges":[{"from":"t","to":"l"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.PublishFlow(ctx, info.Flow.ID, 0); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := 0; i < 5; i++ {
		acc, err := first.AcceptEvent(ctx, "x", map[string]any{"n": i}, "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, acc.RunIDs...)
	}
	first.Close() // no worker ever ran: every run is still queued, and the queue is gone

	second, err := engine.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if err := second.StartWorker(); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		d := enginetest.WaitRun(t, second, id, 10*time.Second)
		if d.Run.Status != store.RunSucceeded {
			t.Fatalf("run %d: %s %s", i, d.Run.Status, d.Run.Error)
		}
		if got := enginetest.Output(t, enginetest.Step(d, "l"))["message"]; got != fmt.Sprint(i) {
			t.Errorf("run %d logged %v", i, got)
		}
	}
}

// Cancelling a running run stops it before its next step.
func TestCancelStopsBeforeNextStep(t *testing.T) {
	e := enginetest.New(t, enginetest.Embedded)
	entered := make(chan struct{})
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, `{}`)
	}))
	defer srv.Close()
	enginetest.Publish(t, e, enginetest.MustFlow(t, httpFlow(srv.URL)))
	acc := accept(t, e, "order.paid", map[string]any{"order_id": "SO-1", "card": ""}, "")
	<-entered
	run, err := e.CancelRun(context.Background(), acc.RunIDs[0])
	if err != nil || run.Status != store.RunCancelled {
		t.Fatalf("cancel: %v, status %v", err, run)
	}
	close(release)
	time.Sleep(300 * time.Millisecond)
	d := enginetest.WaitRun(t, e, acc.RunIDs[0], 5*time.Second)
	if d.Run.Status != store.RunCancelled {
		t.Errorf("status %s, want cancelled", d.Run.Status)
	}
	if enginetest.Step(d, "after") != nil {
		t.Error("the step after the cancelled one ran")
	}
	if _, err := e.CancelRun(context.Background(), acc.RunIDs[0]); err != engine.ErrRunFinished {
		t.Errorf("second cancel: %v, want ErrRunFinished", err)
	}
}

// Saving makes a new immutable version; runs record the published version; publishing an old
// version rolls back; retry from start uses the latest version.
func TestVersionsPublishRollback(t *testing.T) {
	e := enginetest.New(t, enginetest.Embedded)
	ctx := context.Background()
	doc := func(msg string) string {
		return `{"name":"v","nodes":[{"id":"t","type":"trigger.event","config":{"event_type":"v"}},
			{"id":"l","type":"action.log","config":{"message":"` + msg + `"}}],"edges":[{"from":"t","to":"l"}]}`
	}
	info, err := e.CreateFlow(ctx, enginetest.MustFlow(t, doc("one")))
	if err != nil {
		t.Fatal(err)
	}
	id := info.Flow.ID
	if _, err := e.PublishFlow(ctx, id, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.SaveFlow(ctx, id, enginetest.MustFlow(t, doc("two"))); err != nil {
		t.Fatal(err)
	}
	message := func() (string, int) {
		acc := accept(t, e, "v", nil, "")
		d := enginetest.WaitRun(t, e, acc.RunIDs[0], 5*time.Second)
		return enginetest.Output(t, enginetest.Step(d, "l"))["message"].(string), d.Run.FlowVersion
	}
	if m, v := message(); m != "one" || v != 1 {
		t.Errorf("a saved draft changed the live flow: %q v%d", m, v)
	}
	if _, err := e.PublishFlow(ctx, id, 2); err != nil {
		t.Fatal(err)
	}
	if m, v := message(); m != "two" || v != 2 {
		t.Errorf("after publishing v2: %q v%d", m, v)
	}
	if _, err := e.PublishFlow(ctx, id, 1); err != nil { // rollback
		t.Fatal(err)
	}
	if m, v := message(); m != "one" || v != 1 {
		t.Errorf("after rollback: %q v%d", m, v)
	}
	vs, _ := e.Versions(ctx, id)
	if len(vs) != 2 || !vs[0].Published || !vs[1].Published {
		t.Errorf("versions: %+v", vs)
	}
	// An invalid draft is kept, with its problems, but cannot be published or run; the live
	// version stays live.
	bad, err := e.SaveFlow(ctx, id, enginetest.MustFlow(t, `{"name":"v","nodes":[{"id":"t","type":"trigger.event","config":{"event_type":"v"}},
		{"id":"c","type":"logic.condition","config":{"expression":"event.data.nope > 1"}}],"edges":[{"from":"t","to":"c","port":"true"}]}`))
	if err != nil {
		t.Fatalf("an invalid draft was refused: %v", err)
	}
	if bad.Version.Version != 3 || len(bad.Problems) != 2 || bad.Problems[1].NodeID != "c" {
		t.Fatalf("draft v%d with problems %+v", bad.Version.Version, bad.Problems)
	}
	var invalid *engine.InvalidFlowError
	if _, err := e.PublishFlow(ctx, id, 3); !errors.As(err, &invalid) || len(invalid.Problems) != 2 || invalid.Problems[1].NodeID != "c" {
		t.Fatalf("publishing the invalid draft: %v", err)
	}
	if _, err := e.RunManual(ctx, id, 3, map[string]any{}, true); !errors.As(err, &invalid) {
		t.Fatalf("running the invalid draft: %v", err)
	}
	if info, err := e.GetFlow(ctx, id, 0); err != nil || info.Flow.PublishedVersion != 1 || info.Flow.LatestVersion != 3 {
		t.Fatalf("after the refused publish: %+v %v", info, err)
	}
}

// A manual dry run records side-effecting steps instead of performing them.
func TestManualDryRun(t *testing.T) {
	e := enginetest.New(t, enginetest.Embedded)
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	defer srv.Close()
	info, err := e.CreateFlow(context.Background(), enginetest.MustFlow(t, httpFlow(srv.URL)))
	if err != nil {
		t.Fatal(err)
	}
	acc, err := e.RunManual(context.Background(), info.Flow.ID, 0, map[string]any{"order_id": "SO-1"}, true)
	if err != nil {
		t.Fatal(err)
	}
	d := enginetest.WaitRun(t, e, acc.RunIDs[0], 5*time.Second)
	if d.Run.Status != store.RunSucceeded || calls.Load() != 0 {
		t.Fatalf("dry run: status %s, %d real calls", d.Run.Status, calls.Load())
	}
	if out := enginetest.Output(t, enginetest.Step(d, "call")); out["dry_run"] != true {
		t.Errorf("dry-run step output %v", out)
	}
	if !strings.Contains(enginetest.Step(d, "call").Input, "/orders/SO-1") {
		t.Errorf("dry-run step input should show what would be sent: %s", enginetest.Step(d, "call").Input)
	}
}

// Outbound HTTP to internal addresses is refused unless allowed.
func TestSSRFGuardByDefault(t *testing.T) {
	dir := t.TempDir()
	e, err := engine.Open(engine.Config{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.StartWorker(); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	defer srv.Close()
	enginetest.Publish(t, e, enginetest.MustFlow(t, httpFlow(srv.URL)))
	acc := accept(t, e, "order.paid", map[string]any{"order_id": "1", "card": ""}, "")
	d := enginetest.WaitRun(t, e, acc.RunIDs[0], 5*time.Second)
	if d.Run.Status != store.RunFailed || !strings.Contains(d.Run.Error, "internal addresses are blocked") || calls.Load() != 0 {
		t.Fatalf("status %s, error %q, %d calls; want failed by the SSRF guard", d.Run.Status, d.Run.Error, calls.Load())
	}
}

// Webhook deliveries run the published flow with the parsed body; refused ones are counted.
func TestWebhookAcceptAndReject(t *testing.T) {
	e := enginetest.New(t, enginetest.Embedded)
	flowID := enginetest.Publish(t, e, enginetest.MustFlow(t, `{"name":"hook","nodes":[
		{"id":"t","type":"trigger.webhook","config":{"method":"POST","sample":{"order":{"id":"SO-1"}}}},
		{"id":"l","type":"action.log","config":{"message":"order {{ event.data.order.id }} via {{ event.headers[\"x-source\"] }}"}}],
		"edges":[{"from":"t","to":"l"}]}`))
	ctx := context.Background()
	hdr := http.Header{"Content-Type": {"application/json"}, "X-Source": {"crm"}, "Authorization": {"Bearer sk_secret"}}
	acc, err := e.AcceptWebhook(ctx, flowID, &node.Webhook{Method: "POST", Headers: hdr, Body: []byte(`{"order":{"id":"SO-77"}}`), Received: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	d := enginetest.WaitRun(t, e, acc.RunIDs[0], 5*time.Second)
	if got := enginetest.Output(t, enginetest.Step(d, "l"))["message"]; got != "order SO-77 via crm" {
		t.Errorf("logged %q", got)
	}
	if trig := enginetest.Step(d, "t"); trig == nil || !strings.Contains(trig.Output, `"id":"SO-77"`) {
		t.Errorf("the trigger's step should record the event: %+v", trig)
	}
	if strings.Contains(d.Event.Headers, "sk_secret") || string(d.Event.Body()) != `{"order":{"id":"SO-77"}}` {
		t.Errorf("stored headers %s, raw body %q", d.Event.Headers, d.Event.Body())
	}
	_, err = e.AcceptWebhook(ctx, flowID, &node.Webhook{Method: "PUT", Headers: hdr, Body: []byte(`{}`), Received: time.Now()})
	var we *engine.WebhookError
	if !errors.As(err, &we) || we.Status != http.StatusMethodNotAllowed {
		t.Fatalf("PUT to a POST webhook: %v", err)
	}
	var f store.Flow
	e.Store.DB.Where("id = ?", flowID).Take(&f)
	if f.RejectedDeliveries != 1 {
		t.Errorf("rejected deliveries = %d, want 1", f.RejectedDeliveries)
	}
}

// A node's own retries setting bounds its attempts.
func TestNodeRetriesSetting(t *testing.T) {
	e := enginetest.New(t, enginetest.Embedded)
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "down", http.StatusBadGateway)
	}))
	defer srv.Close()
	for _, retries := range []int{0, 1} {
		calls.Store(0)
		doc := strings.Replace(httpFlow(srv.URL), `"method":"POST"`, fmt.Sprintf(`"method":"POST","retries":%d`, retries), 1)
		doc = strings.Replace(doc, `"event_type":"order.paid"`, fmt.Sprintf(`"event_type":"order.paid.%d"`, retries), 1)
		enginetest.Publish(t, e, enginetest.MustFlow(t, doc))
		acc := accept(t, e, fmt.Sprintf("order.paid.%d", retries), map[string]any{"order_id": "SO-1", "card": ""}, "")
		d := enginetest.WaitRun(t, e, acc.RunIDs[0], 10*time.Second)
		if d.Run.Status != store.RunFailed || int(calls.Load()) != retries+1 || enginetest.Step(d, "call").Attempt != retries+1 {
			t.Errorf("retries %d: status %s after %d calls", retries, d.Run.Status, calls.Load())
		}
	}
}

// A provider that echoes a secret back cannot get it into the run history: errors and outputs
// are scrubbed of every credential value the step loaded.
func TestSecretsScrubbedFromStepErrorsAndOutputs(t *testing.T) {
	e := enginetest.New(t, enginetest.Embedded)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status := http.StatusOK
		if strings.Contains(r.URL.Path, "bad") {
			status = http.StatusBadRequest
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"echo":"your key was %s"}`, r.Header.Get("X-Api-Key"))
	}))
	defer srv.Close()
	if _, err := e.CreateCredential(context.Background(), "crm-key", "http_header", map[string]string{"name": "X-Api-Key", "value": "sk_live_leaky_123"}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"good", "bad"} {
		doc := strings.Replace(httpFlow(srv.URL+"/"+path), `"method":"POST"`, `"method":"POST","credential":"crm-key"`, 1)
		doc = strings.Replace(doc, `"event_type":"order.paid"`, `"event_type":"leak.`+path+`"`, 1)
		enginetest.Publish(t, e, enginetest.MustFlow(t, doc))
		acc := accept(t, e, "leak."+path, map[string]any{"order_id": "1", "card": ""}, "")
		d := enginetest.WaitRun(t, e, acc.RunIDs[0], 10*time.Second)
		all := d.Run.Error
		for _, s := range d.Steps {
			all += s.Input + s.Output + s.Error
		}
		if strings.Contains(all, "sk_live_leaky_123") || !strings.Contains(all, "[redacted]") {
			t.Errorf("%s: history %s", path, all)
		}
	}
}

// Finished runs past retention go, with their steps and events; recent and unfinished ones stay.
func TestPrune(t *testing.T) {
	e := enginetest.New(t, enginetest.Embedded)
	enginetest.Publish(t, e, enginetest.MustFlow(t, `{"name":"p","nodes":[{"id":"t","type":"trigger.event","config":{"event_type":"p"}},
		{"id":"l","type":"action.log","config":{"message":"x"}}],"edges":[{"from":"t","to":"l"}]}`))
	old := accept(t, e, "p", nil, "old")
	recent := accept(t, e, "p", nil, "recent")
	for _, id := range []string{old.RunIDs[0], recent.RunIDs[0]} {
		enginetest.WaitRun(t, e, id, 5*time.Second)
	}
	waiting := store.Run{ID: store.NewID(), FlowID: "f", EventID: old.EventID, Status: store.RunWaiting, Token: "w"}
	e.Store.DB.Create(&waiting)
	long := time.Now().Add(-100 * 24 * time.Hour)
	e.Store.DB.Model(&store.Run{}).Where("id = ?", old.RunIDs[0]).Update("finished_at", long)
	e.Store.DB.Model(&store.Event{}).Where("id IN ?", []string{old.EventID, recent.EventID}).Update("created_at", long)
	n, err := e.Prune(context.Background(), time.Now().Add(-90*24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("pruned %d runs, %v; want 1", n, err)
	}
	count := func(model any, where string, args ...any) int64 {
		var c int64
		e.Store.DB.Model(model).Where(where, args...).Count(&c)
		return c
	}
	if count(&store.Run{}, "id = ?", old.RunIDs[0]) != 0 || count(&store.Step{}, "run_id = ?", old.RunIDs[0]) != 0 {
		t.Error("the old run or its steps survived")
	}
	if count(&store.Run{}, "id IN ?", []string{recent.RunIDs[0], waiting.ID}) != 2 {
		t.Error("a recent or unfinished run was pruned")
	}
	// The old event stays while the waiting run refers to it; the recent run's event stays too.
	if count(&store.Event{}, "id IN ?", []string{old.EventID, recent.EventID}) != 2 {
		t.Error("an event still referred to by a run was pruned")
	}
	e.Store.DB.Delete(&waiting)
	e.Prune(context.Background(), time.Now().Add(-90*24*time.Hour))
	if count(&store.Event{}, "id = ?", old.EventID) != 0 {
		t.Error("the old event outlived its runs")
	}
	if _, err := engine.Open(engine.Config{DataDir: t.TempDir(), Retention: 24 * time.Hour, Offline: true}); err == nil || !strings.Contains(err.Error(), "at least 7 days") {
		t.Errorf("retention of a day: %v", err)
	}
}

// A step's stored input and output are capped, with a marker downstream nodes see as well.
func TestStepOutputCapped(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			cfg := enginetest.Config(t, b)
			cfg.StepOutputLimit = 4096
			e := enginetest.Start(t, cfg)
			info, err := e.CreateFlow(context.Background(), enginetest.MustFlow(t, `{"name":"cap","nodes":[
				{"id":"t","type":"trigger.manual"},
				{"id":"big","type":"logic.foreach","config":{"items":"1..3000","map":"item"}},
				{"id":"long","type":"action.log","config":{"message":"{{ repeat(\"x\", 5000) }}"}},
				{"id":"after","type":"action.log","config":{"message":"{{ nodes.big }}|{{ nodes.big.count }}"}}],
				"edges":[{"from":"t","to":"big"},{"from":"big","to":"long"},{"from":"long","to":"after"}]}`))
			if err != nil {
				t.Fatal(err)
			}
			acc, err := e.RunManual(context.Background(), info.Flow.ID, 0, nil, false)
			if err != nil {
				t.Fatal(err)
			}
			d := enginetest.WaitRun(t, e, acc.RunIDs[0], 15*time.Second)
			if d.Run.Status != store.RunSucceeded {
				t.Fatalf("run %s: %s", d.Run.Status, d.Run.Error)
			}
			big := enginetest.Step(d, "big")
			if len(big.Output) > 4096 || enginetest.Output(t, big)["_truncated"] != true {
				t.Errorf("big output (%d bytes): %.200s", len(big.Output), big.Output)
			}
			if long := enginetest.Step(d, "long"); len(long.Input) > 4096 || !strings.Contains(long.Input, `"_truncated":true`) {
				t.Errorf("long input (%d bytes): %.200s", len(long.Input), long.Input)
			}
			// Downstream sees what is stored: the marker, in which the output's own fields are missing.
			msg := fmt.Sprint(enginetest.Output(t, enginetest.Step(d, "after"))["message"])
			if !strings.HasPrefix(msg, `{"_truncated":true,"preview":"{\"count\":3000,\"items\":[1,2,3`) || !strings.HasSuffix(msg, `"size":13917}|`) {
				t.Errorf("downstream saw %.300q", msg)
			}
		})
	}
}
