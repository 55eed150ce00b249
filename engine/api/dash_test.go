package api

import (
	"context"
	"github.com/opsflow/opsflow/engine/api/apitest"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/store"
)

// A node is tested on pinned input without running its flow: a condition takes the port its
// input decides, an SMS action answers with what it would send and sends nothing, and nothing is stored.
func TestNodeTest(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			var sent atomic.Int32
			twilio := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				sent.Add(1)
				w.WriteHeader(http.StatusCreated)
				w.Write([]byte(`{"sid":"SM1","status":"queued"}`))
			}))
			defer twilio.Close()
			e := enginetest.New(t, b)
			srv := apitest.NewServer(t, New(e, Options{Tokens: []string{testToken}}))
			defer srv.Close()
			if status, _, raw := call(t, srv, "POST", "/api/v1/credentials", `{"name":"twilio","type":"twilio","data":{"account_sid":"AC0123456789","auth_token":"secret-token-123456","from":"+14155550000","base_url":"`+twilio.URL+`"}}`); status != 201 {
				t.Fatalf("credential: %d %s", status, raw)
			}
			status, flow, raw := call(t, srv, "POST", "/api/v1/flows", `{"name":"node test","nodes":[
				{"id":"t","type":"trigger.event","config":{"event_type":"payment.failed","sample":{"amount":1,"phone":"+14155550101"}}},
				{"id":"c","type":"logic.condition","config":{"expression":"event.data.amount >= 100"}},
				{"id":"sms","type":"action.sms","config":{"credential":"twilio","to":"{{ event.data.phone }}","body":"failed: {{ event.data.amount }}"}},
				{"id":"l","type":"action.log","config":{"message":"small"}}],
				"edges":[{"from":"t","to":"c"},{"from":"c","to":"sms","port":"true"},{"from":"c","to":"l","port":"false"}]}`)
			if status != 201 {
				t.Fatalf("flow: %d %s", status, raw)
			}
			id := flow["id"].(string)
			acc, err := e.RunManual(context.Background(), id, 0, map[string]any{"amount": 150, "phone": "+14155550101"}, true)
			if err != nil {
				t.Fatal(err)
			}
			runID := acc.RunIDs[0]
			enginetest.WaitRun(t, e, runID, 30*time.Second)
			counts := func() [2]int64 {
				var runs, steps int64
				e.Store.DB.Model(&store.Run{}).Count(&runs)
				e.Store.DB.Model(&store.Step{}).Count(&steps)
				return [2]int64{runs, steps}
			}
			before := counts()
			path := "/api/v1/flows/" + id + "/nodes/"

			// The recorded run's event: amount 150 takes the true port.
			status, res, raw := call(t, srv, "POST", path+"c/test", `{"run_id":"`+runID+`"}`)
			if status != 200 || res["port"] != "true" || res["output"].(map[string]any)["result"] != true || res["error"] != nil {
				t.Fatalf("condition on the run's data: %d %s", status, raw)
			}
			// JSON given in the body: amount 5 takes the false port.
			status, res, raw = call(t, srv, "POST", path+"c/test", `{"input":{"event":{"data":{"amount":5}},"nodes":{}}}`)
			if status != 200 || res["port"] != "false" {
				t.Fatalf("condition on given data: %d %s", status, raw)
			}
			// A runtime error is an answer with error, not a failed request.
			status, res, raw = call(t, srv, "POST", path+"c/test", `{"input":{"event":{"data":{"amount":"lots"}}}}`)
			if status != 200 || res["error"] == nil || res["port"] != nil {
				t.Fatalf("condition on bad data: %d %s", status, raw)
			}
			// The SMS action answers with what it would send, and sends nothing.
			status, res, raw = call(t, srv, "POST", path+"sms/test", `{"run_id":"`+runID+`"}`)
			in, _ := res["input"].(map[string]any)
			if status != 200 || res["dry_run"] != true || res["output"].(map[string]any)["dry_run"] != true || in["to"] != "+14155550101" || in["body"] != "failed: 150" {
				t.Fatalf("sms: %d %s", status, raw)
			}
			if strings.Contains(raw, "secret-token-123456") {
				t.Errorf("the answer holds the credential's secret: %s", raw)
			}
			if n := sent.Load(); n != 0 {
				t.Errorf("the SMS provider got %d requests", n)
			}
			if after := counts(); after != before {
				t.Errorf("runs and steps %v before the node tests, %v after", before, after)
			}

			for _, tc := range []struct {
				name, path, body string
				status           int
				code             string
			}{
				{"unknown node", path + "nope/test", `{"run_id":"` + runID + `"}`, 404, "not_found"},
				{"unknown flow", "/api/v1/flows/nope/nodes/c/test", `{"run_id":"` + runID + `"}`, 404, "not_found"},
				{"unknown run", path + "c/test", `{"run_id":"nope"}`, 404, "not_found"},
				{"bad json", path + "c/test", `{"run_id":`, 400, "invalid_json"},
				{"unknown field", path + "c/test", `{"runid":"x"}`, 400, "invalid_json"},
				{"no input", path + "c/test", `{}`, 400, "invalid_request"},
				{"both inputs", path + "c/test", `{"run_id":"` + runID + `","input":{}}`, 400, "invalid_request"},
				{"unknown version", path + "c/test", `{"version":9,"input":{}}`, 404, "not_found"},
			} {
				status, body, raw := call(t, srv, "POST", tc.path, tc.body)
				if e, _ := body["error"].(map[string]any); status != tc.status || e == nil || e["code"] != tc.code {
					t.Errorf("%s: %d %s; want %d %s", tc.name, status, raw, tc.status, tc.code)
				}
			}
		})
	}
}

// The dashboard's numbers match the runs the test makes: per hour, per flow (counts, success rate,
// p50/p95 of their durations), the failing node, and the runs list filtered to its failed runs.
func TestStats(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			e := enginetest.New(t, b)
			srv := apitest.NewServer(t, New(e, Options{Tokens: []string{testToken}}))
			defer srv.Close()
			id := enginetest.Publish(t, e, enginetest.MustFlow(t, `{"name":"stats","nodes":[
				{"id":"t","type":"trigger.event","config":{"event_type":"stats.test","sample":{"s":"1"}}},
				{"id":"c","type":"logic.condition","config":{"expression":"int(event.data.s) >= 100"}},
				{"id":"l","type":"action.log","config":{"message":"big"}}],
				"edges":[{"from":"t","to":"c"},{"from":"c","to":"l","port":"true"}]}`))
			other := enginetest.Publish(t, e, enginetest.MustFlow(t, `{"name":"quiet","nodes":[
				{"id":"t","type":"trigger.event","config":{"event_type":"other.test"}}],"edges":[]}`))
			var runs []string
			for _, s := range []string{"150", "5", "abc", "7"} {
				acc, err := e.AcceptEvent(context.Background(), "stats.test", map[string]any{"s": s}, "")
				if err != nil {
					t.Fatal(err)
				}
				runs = append(runs, acc.RunIDs...)
			}
			// A test run is left out of the numbers.
			dry, err := e.RunManual(context.Background(), id, 0, map[string]any{"s": "500"}, true)
			if err != nil {
				t.Fatal(err)
			}
			var durations []float64
			failed := ""
			for _, r := range append(runs, dry.RunIDs...) {
				d := enginetest.WaitRun(t, e, r, 30*time.Second)
				if d.Run.DryRun {
					continue
				}
				durations = append(durations, float64(d.Run.FinishedAt.Sub(*d.Run.StartedAt).Microseconds())/1000)
				if d.Run.Status == store.RunFailed {
					failed = r
				}
			}
			if len(runs) != 4 || failed == "" {
				t.Fatalf("runs %v, failed %q", runs, failed)
			}

			status, st, raw := call(t, srv, "GET", "/api/v1/stats?window=24h", "")
			if status != 200 {
				t.Fatalf("stats: %d %s", status, raw)
			}
			total := map[string]float64{}
			for _, h := range st["hours"].([]any) {
				for k, v := range h.(map[string]any)["counts"].(map[string]any) {
					total[k] += v.(float64)
				}
			}
			if len(st["hours"].([]any)) < 24 || total["succeeded"] != 3 || total["failed"] != 1 || len(total) != 2 {
				t.Errorf("hours: %d buckets, totals %v: %s", len(st["hours"].([]any)), total, raw)
			}
			flows := st["flows"].([]any)
			if len(flows) != 1 {
				t.Fatalf("flows with runs: %s", raw)
			}
			f := flows[0].(map[string]any)
			counts := f["counts"].(map[string]any)
			if f["flow_id"] != id || f["flow_name"] != "stats" || f["runs"] != 4.0 || counts["succeeded"] != 3.0 || counts["failed"] != 1.0 || f["success_rate"] != 0.75 {
				t.Errorf("flow: %v", f)
			}
			sort.Float64s(durations)
			p50 := (durations[1] + durations[2]) / 2
			p95 := durations[2] + 0.85*(durations[3]-durations[2])
			if math.Abs(f["p50_ms"].(float64)-math.Round(p50)) > 1 || math.Abs(f["p95_ms"].(float64)-math.Round(p95)) > 1 {
				t.Errorf("p50 %v p95 %v; durations %v", f["p50_ms"], f["p95_ms"], durations)
			}
			wantPct := map[enginetest.Backend]string{enginetest.Embedded: "sample", enginetest.Postgres: "exact"}[b]
			if st["percentiles"] != wantPct {
				t.Errorf("percentiles %v, want %s", st["percentiles"], wantPct)
			}
			nodes := st["failing_nodes"].([]any)
			if len(nodes) != 1 {
				t.Fatalf("failing nodes: %s", raw)
			}
			n := nodes[0].(map[string]any)
			if n["flow_id"] != id || n["node_id"] != "c" || n["node_type"] != "logic.condition" || n["failures"] != 1.0 || n["last_run_id"] != failed {
				t.Errorf("failing node: %v", n)
			}

			// The link from a failing node: the runs list filtered to its failed runs.
			status, list, raw := call(t, srv, "GET", "/api/v1/runs?flow_id="+id+"&status=failed&failed_node=c", "")
			if items := list["items"].([]any); status != 200 || len(items) != 1 || items[0].(map[string]any)["id"] != failed {
				t.Errorf("failed runs of c: %d %s", status, raw)
			}
			if _, list, raw = call(t, srv, "GET", "/api/v1/runs?failed_node=l", ""); len(list["items"].([]any)) != 0 {
				t.Errorf("failed runs of l: %s", raw)
			}

			// One flow, the other window, and bad input.
			if _, st, raw = call(t, srv, "GET", "/api/v1/stats?window=7d&flow_id="+other, ""); len(st["flows"].([]any)) != 0 || len(st["failing_nodes"].([]any)) != 0 || len(st["hours"].([]any)) < 7*24 {
				t.Errorf("7d for a flow without runs: %s", raw)
			}
			if _, st, raw = call(t, srv, "GET", "/api/v1/stats?window=7d&flow_id="+id, ""); len(st["flows"].([]any)) != 1 || st["totals"].(map[string]any)["failed"] != 1.0 {
				t.Errorf("7d for the flow: %s", raw)
			}
			if status, body, raw := call(t, srv, "GET", "/api/v1/stats?window=1y", ""); status != 400 || body["error"].(map[string]any)["code"] != "invalid_request" {
				t.Errorf("bad window: %d %s", status, raw)
			}
		})
	}
}
