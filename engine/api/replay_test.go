package api

import (
	"encoding/base64"
	"fmt"
	"github.com/opsflow/opsflow/engine/api/apitest"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine/enginetest"
)

// replayFlow is a payment-failed flow: from threshold on, SMS the customer naming the card.
func replayFlow(threshold int, smallSMS bool) string {
	nodes := `{"id":"t","type":"trigger.event","config":{"event_type":"payment.failed","sample":{"amount":1,"phone":"+14155550100","card":"x"}}},
	{"id":"large_amount","type":"logic.condition","config":{"expression":"event.data.amount >= ` + fmt.Sprint(threshold) + `"}},
	{"id":"sms","type":"action.sms","config":{"credential":"twilio","to":"{{ event.data.phone }}","body":"Payment of {{ event.data.amount }} with card {{ event.data.card }} failed"}}`
	edges := `{"from":"t","to":"large_amount"},{"from":"large_amount","to":"sms","port":"true"}`
	if smallSMS {
		nodes += `,{"id":"sms_small","type":"action.sms","config":{"credential":"twilio","to":"{{ event.data.phone }}","body":"Small payment of {{ event.data.amount }} failed"}}`
		edges += `,{"from":"large_amount","to":"sms_small","port":"false"}`
	}
	return `{"schema":"opsflow/v1","name":"replayed","nodes":[` + nodes + `],"edges":[` + edges + `]}`
}

// twilioServer answers like Twilio's Messages API and counts what it gets.
func twilioServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		k := n.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"sid":"SM%032d","status":"queued"}`, k)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

const twilioToken = "tw-secret-auth-token-42"

func waitReplay(t *testing.T, srv *httptest.Server, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, body, raw := call(t, srv, "GET", "/api/v1/replays/"+id, "")
		if status != 200 {
			t.Fatalf("replay %s: %d %s", id, status, raw)
		}
		if s := body["status"]; s != "queued" && s != "running" {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("replay %s still %v", id, body["status"])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// summaryCounts is a replay's summary as outcome → count.
func summaryCounts(replay map[string]any) map[string]int {
	out := map[string]int{}
	for _, o := range replay["summary"].([]any) {
		m := o.(map[string]any)
		out[m["outcome"].(string)] = int(m["count"].(float64))
	}
	return out
}

func sameCounts(got, want map[string]int) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// A changed flow replayed over the events really received: the summary counts exactly what the
// change does, nothing is sent, secrets and card numbers stay out of the output, and a deleted
// credential is reported per event.
func TestReplayOverRecordedEvents(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			e := enginetest.New(t, b)
			srv := apitest.NewServer(t, New(e, Options{Tokens: []string{testToken}}))
			t.Cleanup(srv.Close)
			tw, sent := twilioServer(t)
			cred := fmt.Sprintf(`{"name":"twilio","type":"twilio","data":{"account_sid":"AC0123456789abcdef0123456789abcdef","auth_token":%q,"from":"+14155550000","base_url":%q}}`, twilioToken, tw.URL)
			if status, _, raw := call(t, srv, "POST", "/api/v1/credentials", cred); status != 201 {
				t.Fatalf("credential: %d %s", status, raw)
			}
			status, flow, raw := call(t, srv, "POST", "/api/v1/flows", replayFlow(100, false))
			if status != 201 {
				t.Fatalf("flow: %d %s", status, raw)
			}
			flowID := flow["id"].(string)
			if status, _, raw := call(t, srv, "POST", "/api/v1/flows/"+flowID+"/publish", ""); status != 200 {
				t.Fatalf("publish: %d %s", status, raw)
			}
			events := map[int]string{} // amount → event id
			for _, amount := range []int{50, 150, 250} {
				_, acc, raw := call(t, srv, "POST", "/api/v1/events", fmt.Sprintf(`{"type":"payment.failed","data":{"amount":%d,"phone":"+1415555%04d","card":"4111 1111 1111 1111"}}`, amount, amount))
				runs, _ := acc["run_ids"].([]any)
				if len(runs) != 1 {
					t.Fatalf("event: %s", raw)
				}
				events[amount] = acc["event_id"].(string)
				if run := enginetest.WaitRun(t, e, runs[0].(string), 10*time.Second); run.Run.Status != "succeeded" {
					t.Fatalf("run %s: %s", run.Run.Status, run.Run.Error)
				}
			}
			if sent.Load() != 2 {
				t.Fatalf("%d SMS sent by the real runs, want 2", sent.Load())
			}

			// The published version itself replays unchanged.
			status, r, raw := call(t, srv, "POST", "/api/v1/flows/"+flowID+"/replay", `{"version":1,"last":10}`)
			if status != 202 || r["total"] != 3.0 {
				t.Fatalf("replay: %d %s", status, raw)
			}
			if got := summaryCounts(waitReplay(t, srv, r["id"].(string))); !sameCounts(got, map[string]int{"unchanged": 3}) {
				t.Errorf("published version replayed: %v", got)
			}

			// The draft raises the threshold to 200 and texts small failures too.
			if status, _, raw := call(t, srv, "PUT", "/api/v1/flows/"+flowID, replayFlow(200, true)); status != 200 {
				t.Fatalf("save draft: %d %s", status, raw)
			}
			status, r, raw = call(t, srv, "POST", "/api/v1/flows/"+flowID+"/replay", `{"version":"draft","since":"1h"}`)
			if status != 202 || r["version"] != 2.0 || r["draft"] != true {
				t.Fatalf("replay draft: %d %s", status, raw)
			}
			done := waitReplay(t, srv, r["id"].(string))
			want := map[string]int{"unchanged": 1, "action_added:sms_small": 1, "action_added:sms_small,action_removed:sms": 1}
			if got := summaryCounts(done); done["status"] != "succeeded" || !sameCounts(got, want) || done["failing"] != 0.0 || done["done"] != 3.0 {
				t.Fatalf("draft replay: %v, summary %v, want %v", done["status"], got, want)
			}
			if text := done["summary_text"].(string); !strings.Contains(text, "1 now also run sms_small, no longer run sms") {
				t.Errorf("summary text: %s", text)
			}
			if sent.Load() != 2 {
				t.Errorf("the replay sent %d SMS", sent.Load()-2)
			}
			status, res, rawResults := call(t, srv, "GET", "/api/v1/replays/"+r["id"].(string)+"/results?limit=2", "")
			if status != 200 || len(res["items"].([]any)) != 2 || res["next_cursor"] != "2" {
				t.Fatalf("results page: %d %s", status, rawResults)
			}
			_, res2, rawPage2 := call(t, srv, "GET", "/api/v1/replays/"+r["id"].(string)+"/results?cursor=2", "")
			rawResults += rawPage2
			byEvent := map[string]map[string]any{}
			for _, it := range append(res["items"].([]any), res2["items"].([]any)...) {
				m := it.(map[string]any)
				byEvent[m["event_id"].(string)] = m
			}
			small := byEvent[events[50]]
			reqs := small["requests"].([]any)
			if len(reqs) != 1 {
				t.Fatalf("event 50: requests %v", reqs)
			}
			req := reqs[0].(map[string]any)
			form, _ := url.ParseQuery(req["body"].(string))
			if req["method"] != "POST" || !strings.HasSuffix(req["url"].(string), "/Messages.json") || form.Get("To") != "+14155550050" ||
				form.Get("Body") != "Small payment of 50 failed" || req["headers"].(map[string]any)["authorization"] != "[redacted]" {
				t.Errorf("recorded request: %v", req)
			}
			if path := small["new_path"].([]any); len(path) != 3 || path[2].(map[string]any)["node"] != "sms_small" {
				t.Errorf("event 50 new path: %v", path)
			}
			basic := base64.StdEncoding.EncodeToString([]byte("AC0123456789abcdef0123456789abcdef:" + twilioToken))
			if strings.Contains(rawResults, twilioToken) || strings.Contains(rawResults, basic) || strings.Contains(rawResults, "4111111111111111") || strings.Contains(rawResults, "4111 1111 1111 1111") {
				t.Errorf("secret or card number in replay results: %s", rawResults)
			}
			if !strings.Contains(rawResults, url.QueryEscape("411111******1111")) {
				t.Errorf("masked card missing from the recorded SMS: %s", rawResults)
			}

			// A deleted credential is reported for the events that need it; the job still succeeds.
			_, creds, _ := call(t, srv, "GET", "/api/v1/credentials", "")
			credID := creds["items"].([]any)[0].(map[string]any)["id"].(string)
			if status, _, raw := call(t, srv, "DELETE", "/api/v1/credentials/"+credID, ""); status != 204 && status != 200 {
				t.Fatalf("delete credential: %d %s", status, raw)
			}
			_, r, raw = call(t, srv, "POST", "/api/v1/flows/"+flowID+"/replay", fmt.Sprintf(`{"version":1,"event_ids":[%q,%q]}`, events[250], events[50]))
			done = waitReplay(t, srv, r["id"].(string))
			if got := summaryCounts(done); done["status"] != "succeeded" || !sameCounts(got, map[string]int{"credential_missing:sms": 1, "unchanged": 1}) || done["failing"] != 1.0 {
				t.Fatalf("deleted credential: %s %v (%s)", done["status"], got, raw)
			}
			_, res, _ = call(t, srv, "GET", "/api/v1/replays/"+r["id"].(string)+"/results?outcome=credential_missing:sms", "")
			items := res["items"].([]any)
			if len(items) != 1 || items[0].(map[string]any)["event_id"] != events[250] ||
				items[0].(map[string]any)["changes"].([]any)[0].(map[string]any)["credential"] != "twilio" {
				t.Errorf("credential_missing result: %v", items)
			}

			// Listed for the flow, newest first; a finished replay cannot be cancelled.
			_, list, _ := call(t, srv, "GET", "/api/v1/flows/"+flowID+"/replays", "")
			if items := list["items"].([]any); len(items) != 3 || items[0].(map[string]any)["id"] != r["id"] {
				t.Errorf("replay list: %v", list)
			}
			if status, body, raw := call(t, srv, "POST", "/api/v1/replays/"+r["id"].(string)+"/cancel", ""); status != 409 || body["error"].(map[string]any)["code"] != "replay_finished" {
				t.Errorf("cancel finished replay: %d %s", status, raw)
			}
			_, audit, _ := call(t, srv, "GET", "/api/v1/audit?action=replay.started", "")
			if n := len(audit["items"].([]any)); n != 3 {
				t.Errorf("%d replay.started audit rows, want 3", n)
			}
		})
	}
}

// Every bad replay request gets a JSON 4xx that says what is wrong.
func TestReplayBadInput(t *testing.T) {
	e := enginetest.New(t, enginetest.Embedded)
	srv := apitest.NewServer(t, New(e, Options{Tokens: []string{testToken}}))
	t.Cleanup(srv.Close)
	_, flow, _ := call(t, srv, "POST", "/api/v1/flows", validFlow)
	id := flow["id"].(string)
	_, ev, _ := call(t, srv, "POST", "/api/v1/events", `{"type":"other","data":{}}`)
	many := make([]string, 10001)
	for i := range many {
		many[i] = fmt.Sprintf("%q", fmt.Sprint("ev-", i))
	}
	cases := []struct {
		name, method, path, body string
		status                   int
		code, mention            string
	}{
		{"version word", "POST", "/flows/" + id + "/replay", `{"version":"latest"}`, 400, "invalid_request", "draft"},
		{"version zero", "POST", "/flows/" + id + "/replay", `{"version":0}`, 400, "invalid_request", "version"},
		{"no such version", "POST", "/flows/" + id + "/replay", `{"version":7}`, 400, "invalid_replay", "no version 7"},
		{"too many last", "POST", "/flows/" + id + "/replay", `{"last":10001}`, 400, "invalid_replay", "between 1 and 10000"},
		{"too many ids", "POST", "/flows/" + id + "/replay", `{"event_ids":[` + strings.Join(many, ",") + `]}`, 400, "invalid_replay", "at most 10000"},
		{"two selections", "POST", "/flows/" + id + "/replay", `{"last":5,"event_ids":["a"]}`, 400, "invalid_replay", "one selection"},
		{"unknown event", "POST", "/flows/" + id + "/replay", `{"event_ids":["nope",` + fmt.Sprintf("%q", ev["event_id"]) + `]}`, 400, "invalid_replay", "no such events: nope"},
		{"bad since", "POST", "/flows/" + id + "/replay", `{"since":"last week"}`, 400, "invalid_replay", "duration"},
		{"until before since", "POST", "/flows/" + id + "/replay", `{"since":"2026-12-02T00:00:00Z","until":"2026-12-01T00:00:00Z"}`, 400, "invalid_replay", "before since"},
		{"unknown field", "POST", "/flows/" + id + "/replay", `{"lats":5}`, 400, "invalid_json", "lats"},
		{"unknown flow", "POST", "/flows/nope/replay", `{}`, 404, "not_found", "not found"},
		{"unknown replay", "GET", "/replays/nope", "", 404, "not_found", "not found"},
		{"unknown replay results", "GET", "/replays/nope/results", "", 404, "not_found", "not found"},
		{"cancel unknown replay", "POST", "/replays/nope/cancel", "", 404, "not_found", "not found"},
		{"bad list limit", "GET", "/flows/" + id + "/replays?limit=0", "", 400, "invalid_request", "limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body, raw := call(t, srv, tc.method, "/api/v1"+tc.path, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, raw)
			}
			e, _ := body["error"].(map[string]any)
			if e == nil || e["code"] != tc.code || !strings.Contains(e["message"].(string), tc.mention) {
				t.Fatalf("error %s; want code %s mentioning %q", raw, tc.code, tc.mention)
			}
		})
	}
	// With nothing selected, the last events the flow ran for (none here): an empty, finished replay.
	status, r, raw := call(t, srv, "POST", "/api/v1/flows/"+id+"/replay", "")
	if status != 202 || r["total"] != 0.0 {
		t.Fatalf("empty replay: %d %s", status, raw)
	}
	if done := waitReplay(t, srv, r["id"].(string)); done["status"] != "succeeded" || done["summary_text"] != "no events replayed" {
		t.Errorf("empty replay: %v", done)
	}
}
