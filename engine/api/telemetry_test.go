package api

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/opsflow/opsflow/engine/api/apitest"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/store"
	"github.com/opsflow/opsflow/engine/telemetry"
)

// crmFlow posts each order to a CRM; the CRM refuses order "bad" with a 422, failing the run.
func crmFlow(crm string) string {
	return `{"schema":"opsflow/v1","name":"crm","nodes":[
		{"id":"t","type":"trigger.event","config":{"event_type":"order.paid","sample":{"order_id":"SO-1"}}},
		{"id":"call","type":"action.http","config":{"method":"POST","url":"` + crm + `/orders/{{ event.data.order_id }}","body":"{\"status\": \"paid\"}"}},
		{"id":"after","type":"action.log","config":{"message":"crm answered {{ nodes.call.status }}"}}],
		"edges":[{"from":"t","to":"call"},{"from":"call","to":"after"}]}`
}

// hookFlow is a webhook flow checking an HMAC signature and recognising redeliveries by X-Delivery-Id.
const hookFlow = `{"schema":"opsflow/v1","name":"hook","nodes":[
	{"id":"t","type":"trigger.webhook","config":{"method":"POST","verify":"hmac","secret":"hook secret","dedup_header":"X-Delivery-Id","sample":{"id":"1"}}},
	{"id":"l","type":"action.log","config":{"message":"got {{ event.data.id }}"}}],
	"edges":[{"from":"t","to":"l"}]}`

const hookSecret = "whsec-test-0123456789"

// crmServer answers like a CRM's REST API and remembers the traceparent header of each path.
type crmServer struct {
	*httptest.Server
	mu           sync.Mutex
	traceparents map[string]string
}

func newCRM(t *testing.T) *crmServer {
	c := &crmServer{traceparents: map[string]string{}}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.traceparents[r.URL.Path] = r.Header.Get("traceparent")
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/bad") {
			w.WriteHeader(http.StatusUnprocessableEntity)
			io.WriteString(w, `{"error":"unknown order"}`)
			return
		}
		io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(c.Close)
	return c
}

// send makes an API request with the test token and extra headers; it returns the status and body.
func send(t *testing.T, method, url, body string, headers map[string]string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testToken)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func runID(t *testing.T, acc map[string]any) string {
	t.Helper()
	ids, _ := acc["run_ids"].([]any)
	if len(ids) != 1 {
		t.Fatalf("accepted %v, want one run", acc)
	}
	return ids[0].(string)
}

// scrape reads /metrics into "name{label="value",…}" → value; a histogram gives name_count{…}.
func scrape(t *testing.T, addr, token string) map[string]float64 {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.Metric {
			var labels []string
			for _, l := range m.Label {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(labels)
			key := "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.Counter != nil:
				out[name+key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[name+key] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[name+"_count"+key] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out
}

// After real runs the metrics listener shows them: runs by flow and status, step and latency
// histograms with samples, outbound requests by host, webhook verifications, dedup hits, API
// requests by route template, the queue and the outbox; it asks for its token, and the API port
// does not serve /metrics.
func TestMetricsAfterRuns(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			e := enginetest.New(t, b)
			ui := fstest.MapFS{"index.html": {Data: []byte("<html>builder</html>")}}
			api := apitest.NewServer(t, New(e, Options{UI: ui, Tokens: []string{testToken}}))
			defer api.Close()
			const token = "metrics-token-0123456789"
			m, err := telemetry.ListenMetrics("127.0.0.1:0", token, e.MetricsCollectors()...)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			before := scrape(t, m.Addr(), token)

			crm := newCRM(t)
			flowID := enginetest.Publish(t, e, enginetest.MustFlow(t, crmFlow(crm.URL)))
			if code, _ := send(t, "POST", api.URL+"/api/v1/credentials", `{"name":"hook secret","type":"webhook_secret","data":{"secret":"`+hookSecret+`"}}`, nil); code != http.StatusCreated {
				t.Fatalf("create credential: %d", code)
			}
			hookID := enginetest.Publish(t, e, enginetest.MustFlow(t, hookFlow))

			event := `{"type":"order.paid","data":{"order_id":"SO-9"},"idempotency_key":"order-SO-9"}`
			code, acc := send(t, "POST", api.URL+"/api/v1/events", event, nil)
			if code != http.StatusAccepted {
				t.Fatalf("POST /events: %d %v", code, acc)
			}
			if code, _ := send(t, "POST", api.URL+"/api/v1/events", event, nil); code != http.StatusOK {
				t.Fatalf("repeated event: %d, want 200", code)
			}
			_, failed := send(t, "POST", api.URL+"/api/v1/events", `{"type":"order.paid","data":{"order_id":"bad"}}`, nil)

			body := `{"id":"evt_1"}`
			mac := hmac.New(sha256.New, []byte(hookSecret))
			mac.Write([]byte(body))
			signed := map[string]string{"X-Signature": hex.EncodeToString(mac.Sum(nil)), "X-Delivery-Id": "d-1"}
			code, hookAcc := send(t, "POST", api.URL+"/api/v1/hooks/"+hookID, body, signed)
			if code != http.StatusAccepted {
				t.Fatalf("signed webhook: %d %v", code, hookAcc)
			}
			if code, _ := send(t, "POST", api.URL+"/api/v1/hooks/"+hookID, body, signed); code != http.StatusOK {
				t.Fatalf("redelivered webhook: %d, want 200", code)
			}
			forged := map[string]string{"X-Signature": strings.Repeat("0", 64), "X-Delivery-Id": "d-2"}
			if code, _ := send(t, "POST", api.URL+"/api/v1/hooks/"+hookID, body, forged); code != http.StatusUnauthorized {
				t.Fatalf("forged webhook: %d, want 401", code)
			}
			for _, id := range []string{runID(t, acc), runID(t, failed), runID(t, hookAcc)} {
				enginetest.WaitRun(t, e, id, 20*time.Second)
			}

			after := scrape(t, m.Addr(), token)
			delta := func(key string) float64 { return after[key] - before[key] }
			flow := fmt.Sprintf("{flow_id=%q}", flowID)
			crmHost := strings.TrimPrefix(crm.URL, "http://")
			want := map[string]float64{
				"opsflow_runs_started_total" + flow:                                                 2,
				fmt.Sprintf("opsflow_runs_finished_total{flow_id=%q,status=\"succeeded\"}", flowID): 1,
				fmt.Sprintf("opsflow_runs_finished_total{flow_id=%q,status=\"failed\"}", flowID):    1,
				"opsflow_run_latency_seconds_count" + flow:                                          2,
				// The redelivery is verified too, then recognised.
				fmt.Sprintf("opsflow_webhook_verifications_total{flow_id=%q,result=\"ok\"}", hookID):                2,
				fmt.Sprintf("opsflow_webhook_verifications_total{flow_id=%q,result=\"invalid_signature\"}", hookID): 1,
			}
			for key, n := range want {
				if after[key] != n {
					t.Errorf("%s = %v, want %v", key, after[key], n)
				}
			}
			atLeast := map[string]float64{
				`opsflow_step_duration_seconds_count{node_type="action.http",result="ok"}`:                  1,
				`opsflow_step_duration_seconds_count{node_type="action.http",result="error"}`:               1,
				`opsflow_step_duration_seconds_count{node_type="action.log",result="ok"}`:                   2,
				fmt.Sprintf("opsflow_outbound_requests_total{host=%q,status=\"200\"}", crmHost):             1,
				fmt.Sprintf("opsflow_outbound_requests_total{host=%q,status=\"422\"}", crmHost):             1,
				fmt.Sprintf("opsflow_outbound_request_duration_seconds_count{host=%q}", crmHost):            2,
				`opsflow_dedup_hits_total{source="api"}`:                                                    1,
				`opsflow_dedup_hits_total{source="webhook"}`:                                                1,
				`opsflow_events_accepted_total{source="api"}`:                                               2,
				`opsflow_http_requests_total{method="POST",route="/api/v1/events",status="202"}`:            2,
				`opsflow_http_requests_total{method="POST",route="/api/v1/events",status="200"}`:            1,
				`opsflow_http_requests_total{method="POST",route="/api/v1/hooks/:flow_id",status="401"}`:    1,
				`opsflow_http_request_duration_seconds_count{method="POST",route="/api/v1/hooks/:flow_id"}`: 3,
			}
			for key, n := range atLeast {
				if delta(key) < n {
					t.Errorf("%s moved by %v, want at least %v", key, delta(key), n)
				}
			}
			for key := range after {
				if strings.Contains(key, "/api/v1/hooks/"+hookID) || strings.Contains(key, runID(t, acc)) {
					t.Errorf("%s: a raw path or run id as a label", key)
				}
			}
			queue := fmt.Sprintf("queue=%q", e.Queue.Name)
			for _, key := range []string{
				"opsflow_queue_tasks{" + queue + `,state="pending"}`, "opsflow_queue_oldest_task_age_seconds{" + queue + "}",
				"opsflow_outbox_backlog{}", "opsflow_outbox_oldest_age_seconds{}", "go_goroutines{}", "process_resident_memory_bytes{}",
			} {
				if _, ok := after[key]; !ok {
					t.Errorf("/metrics has no %s", key)
				}
			}

			// The token is required, and the API port never serves metrics (not even the builder's page).
			for _, auth := range []string{"", "Bearer wrong-token-0123456789", token} {
				req, _ := http.NewRequest(http.MethodGet, "http://"+m.Addr()+"/metrics", nil)
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if want := http.StatusUnauthorized; resp.StatusCode != want {
					t.Errorf("metrics with Authorization %q: %d, want %d", auth, resp.StatusCode, want)
				}
			}
			if code, _ := send(t, "GET", api.URL+"/metrics", "", nil); code != http.StatusNotFound {
				t.Errorf("API port GET /metrics: %d, want 404", code)
			}
		})
	}
}

// otlpReceiver is an OTLP/HTTP collector: it decodes the protobuf ExportTraceServiceRequest the
// SDK's exporter posts to /v1/traces and keeps the spans.
type otlpReceiver struct {
	*httptest.Server
	mu    sync.Mutex
	spans []*tracepb.Span
}

func newReceiver(t *testing.T) *otlpReceiver {
	rc := &otlpReceiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "want protobuf on /v1/traces", http.StatusBadRequest)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		raw, _ := io.ReadAll(body)
		var req collectortrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(raw, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				rc.spans = append(rc.spans, ss.Spans...)
			}
		}
		rc.mu.Unlock()
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// inTrace lists the received spans of one trace.
func (rc *otlpReceiver) inTrace(traceID string) []*tracepb.Span {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range rc.spans {
		if hex.EncodeToString(s.TraceId) == traceID {
			out = append(out, s)
		}
	}
	return out
}

func attr(s *tracepb.Span, key string) string {
	for _, a := range s.Attributes {
		if a.Key == key {
			return a.Value.GetStringValue()
		}
	}
	return ""
}

// syncBuffer is a log destination written by several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// An event posted with a caller's traceparent becomes one trace across the queue: the API's
// request span, the run, a span per step (with node attributes and the failure's error status),
// and the outbound call, whose traceparent reaches the CRM, so the CRM's own traces join. The
// run's log lines carry the trace id and the run id.
func TestTraceFollowsRunToCRM(t *testing.T) {
	receiver := newReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.URL)
	t.Setenv("OTEL_SERVICE_NAME", "opsflow-test")
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			stopTracing, err := telemetry.SetupTracing(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			// Called below once the spans have ended; also when the test stops early.
			shutdown := sync.OnceValue(func() error { return stopTracing(context.Background()) })
			t.Cleanup(func() { shutdown() })
			logs := &syncBuffer{}
			cfg := enginetest.Config(t, b)
			cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
			e, err := engine.Open(cfg)
			if err != nil {
				t.Fatal(err)
			}
			closeEngine := sync.OnceFunc(e.Close)
			t.Cleanup(closeEngine)
			if err := e.StartWorker(); err != nil {
				t.Fatal(err)
			}
			api := apitest.NewServer(t, New(e, Options{Tokens: []string{testToken}}))
			t.Cleanup(api.Close)
			crm := newCRM(t)
			enginetest.Publish(t, e, enginetest.MustFlow(t, crmFlow(crm.URL)))

			const callerTrace, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
			caller := map[string]string{"traceparent": "00-" + callerTrace + "-" + callerSpan + "-01"}
			_, ok := send(t, "POST", api.URL+"/api/v1/events", `{"type":"order.paid","data":{"order_id":"SO-1"}}`, caller)
			_, bad := send(t, "POST", api.URL+"/api/v1/events", `{"type":"order.paid","data":{"order_id":"bad"}}`, nil)
			okRun := enginetest.WaitRun(t, e, runID(t, ok), 20*time.Second)
			badRun := enginetest.WaitRun(t, e, runID(t, bad), 20*time.Second)
			if okRun.Run.Status != store.RunSucceeded || badRun.Run.Status != store.RunFailed {
				t.Fatalf("runs %s and %s, want succeeded and failed", okRun.Run.Status, badRun.Run.Status)
			}
			// Every span has ended once the API and the worker have stopped; shutdown sends them.
			api.Close()
			closeEngine()
			if err := shutdown(); err != nil {
				t.Fatalf("exporting spans: %v", err)
			}

			crm.mu.Lock()
			okHeader, badHeader := crm.traceparents["/orders/SO-1"], crm.traceparents["/orders/bad"]
			crm.mu.Unlock()
			// The successful run's call continues the caller's trace; its parent is the client span.
			parts := strings.Split(okHeader, "-")
			if len(parts) != 4 || parts[1] != callerTrace {
				t.Fatalf("CRM traceparent %q, want one in the caller's trace %s", okHeader, callerTrace)
			}
			spans := receiver.inTrace(callerTrace)
			byID := map[string]*tracepb.Span{}
			for _, s := range spans {
				byID[hex.EncodeToString(s.SpanId)] = s
			}
			parent := func(s *tracepb.Span) *tracepb.Span { return byID[hex.EncodeToString(s.ParentSpanId)] }
			client := byID[parts[2]]
			if client == nil || client.Kind != tracepb.Span_SPAN_KIND_CLIENT {
				t.Fatalf("the CRM's parent span %s is not a received client span (spans: %d)", parts[2], len(spans))
			}
			step := parent(client)
			if step == nil || attr(step, "opsflow.node_id") != "call" || attr(step, "opsflow.node_type") != "action.http" {
				t.Fatalf("the client span's parent is not the step span of node call: %v", step)
			}
			run := parent(step)
			if run == nil || attr(run, "opsflow.run_id") != okRun.Run.ID {
				t.Fatalf("the step span's parent is not the run %s: %v", okRun.Run.ID, run)
			}
			server := parent(run)
			if server == nil || server.Kind != tracepb.Span_SPAN_KIND_SERVER || server.Name != "POST /api/v1/events" ||
				hex.EncodeToString(server.ParentSpanId) != callerSpan {
				t.Fatalf("the run span's parent is not the API request continuing the caller's span: %v", server)
			}
			steps := 0
			for _, s := range spans {
				if s.ParentSpanId != nil && bytes.Equal(s.ParentSpanId, run.SpanId) {
					steps++
				}
			}
			if steps != 2 {
				t.Errorf("run span has %d step spans, want 2 (call, after)", steps)
			}

			// The failed run is a trace of its own (no caller): its failed step has an error status.
			badParts := strings.Split(badHeader, "-")
			if len(badParts) != 4 || badParts[1] == callerTrace {
				t.Fatalf("the failed run's CRM traceparent %q, want a trace of its own", badHeader)
			}
			var failedStep, failedRun bool
			for _, s := range receiver.inTrace(badParts[1]) {
				if attr(s, "opsflow.node_id") == "call" && s.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR {
					failedStep = true
				}
				if attr(s, "opsflow.run_id") == badRun.Run.ID && s.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR {
					failedRun = true
				}
			}
			if !failedStep || !failedRun {
				t.Errorf("failed run's spans: step error %v, run error %v; want both", failedStep, failedRun)
			}

			// The run's log lines name its trace and run.
			found := false
			for _, line := range strings.Split(logs.String(), "\n") {
				var rec map[string]any
				if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "run finished" && rec["run_id"] == okRun.Run.ID {
					found = rec["trace_id"] == callerTrace
					if !found {
						t.Errorf("run finished log line %s: want trace_id %s", line, callerTrace)
					}
				}
			}
			if !found {
				t.Errorf("no run finished log line for run %s:\n%s", okRun.Run.ID, logs.String())
			}
		})
	}
}
