package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/opsflow/opsflow/engine/api/apitest"
	"github.com/opsflow/opsflow/engine/enginetest"
	_ "github.com/opsflow/opsflow/nodes"
)

func newServer(t *testing.T) (*httptest.Server, http.Handler) {
	e := enginetest.New(t, enginetest.Embedded)
	ui := fstest.MapFS{"index.html": {Data: []byte("<html>builder</html>")}, "assets/app.js": {Data: []byte("console.log(1)")}}
	h := New(e, Options{MaxBody: 4096, UI: ui, Tokens: []string{testToken}})
	srv := apitest.NewServer(t, h)
	t.Cleanup(srv.Close)
	return srv, h
}

// testToken is an OPSFLOW_API_TOKENS service key (admin): the API is never open.
const testToken = "api-test-token-0123456789"

func call(t *testing.T, srv *httptest.Server, method, path, body string) (int, map[string]any, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out, string(raw)
}

const validFlow = `{"schema":"opsflow/v1","name":"f","nodes":[
	{"id":"t","type":"trigger.event","config":{"event_type":"payment.failed","sample":{"amount":1}}},
	{"id":"c","type":"logic.condition","config":{"expression":"event.data.amount >= 100"}},
	{"id":"l","type":"action.log","config":{"message":"big {{ event.data.amount }}"}}],
	"edges":[{"from":"t","to":"c"},{"from":"c","to":"l","port":"true"}]}`

// Every bad input gets a JSON error with a 4xx code and a message that says what is wrong.
func TestBadInputs(t *testing.T) {
	srv, _ := newServer(t)
	cases := []struct {
		name, method, path, body string
		status                   int
		code, mention            string
	}{
		{"malformed flow", "POST", "/api/v1/flows", `{"name":`, 400, "invalid_json", "invalid flow JSON"},
		{"unknown key", "POST", "/api/v1/flows", `{"name":"x","nodes":[],"edges":[],"colour":1}`, 400, "invalid_json", "colour"},
		{"oversize body", "POST", "/api/v1/events", `{"type":"x","data":"` + strings.Repeat("a", 5000) + `"}`, 413, "body_too_large", "larger"},
		{"event without type", "POST", "/api/v1/events", `{"data":{}}`, 400, "invalid_event", "type is required"},
		{"event wrong type", "POST", "/api/v1/events", `{"type":5}`, 400, "invalid_json", "type"},
		{"empty body", "POST", "/api/v1/events", ``, 400, "invalid_json", "empty"},
		{"unknown flow", "GET", "/api/v1/flows/nope", "", 404, "not_found", "not found"},
		{"webhook to unknown flow", "POST", "/api/v1/hooks/nope", `{}`, 404, "not_found", "not found"},
		{"unknown run", "GET", "/api/v1/runs/nope", "", 404, "not_found", "not found"},
		{"bad run status filter", "GET", "/api/v1/runs?status=done", "", 400, "invalid_request", "status"},
		{"bad limit", "GET", "/api/v1/runs?limit=0", "", 400, "invalid_request", "limit"},
		{"bad since", "GET", "/api/v1/runs?since=yesterday", "", 400, "invalid_request", "RFC 3339"},
		{"unknown api path", "GET", "/api/v1/nothing", "", 404, "not_found", "no such endpoint"},
		{"wrong method", "DELETE", "/api/v1/events", "", 405, "method_not_allowed", "not allowed"},
		{"team without name", "POST", "/api/v1/teams", `{"name":""}`, 400, "invalid_request", "name is required"},
		{"credential without data", "POST", "/api/v1/credentials", `{"name":"a","type":"twilio"}`, 400, "invalid_request", "data"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body, raw := call(t, srv, tc.method, tc.path, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, raw)
			}
			e, _ := body["error"].(map[string]any)
			if e == nil || e["code"] != tc.code || !strings.Contains(e["message"].(string), tc.mention) {
				t.Fatalf("error %s; want code %s mentioning %q", raw, tc.code, tc.mention)
			}
		})
	}
}

// An incomplete flow is saved as a draft with every problem listed (node, field, code), so the
// builder can point at each; publishing it answers 422 with the same problems until they are fixed.
func TestInvalidDraftIsSavedButNotPublished(t *testing.T) {
	srv, _ := newServer(t)
	bad := `{"name":"f","nodes":[
		{"id":"t","type":"trigger.event","config":{"event_type":"p","sample":{"amount":1}}},
		{"id":"c","type":"logic.condition","config":{"expression":"event.data.amout > 1"}},
		{"id":"x","type":"action.fax"},
		{"id":"l","type":"action.log","config":{}}],
		"edges":[{"from":"t","to":"c"},{"from":"c","to":"l","port":"maybe"},{"from":"c","to":"ghost","port":"true"}]}`
	want := []string{"c/invalid_expression", "x/unknown_node_type", "c/unknown_port", "ghost/dangling_edge", "l/required", "x/unreachable", "l/unreachable"}
	codes := func(problems []any) map[string]bool {
		got := map[string]bool{}
		for _, p := range problems {
			m := p.(map[string]any)
			got[m["node_id"].(string)+"/"+m["code"].(string)] = true
		}
		return got
	}
	status, body, raw := call(t, srv, "POST", "/api/v1/flows", bad)
	if status != 201 {
		t.Fatalf("create: status %d: %s", status, raw)
	}
	id := body["id"].(string)
	got := codes(body["problems"].([]any))
	for _, w := range want {
		if !got[w] {
			t.Errorf("create: missing problem %s in %s", w, raw)
		}
	}
	if d := body["definition"].(map[string]any); len(d["nodes"].([]any)) != 4 {
		t.Errorf("the draft was not stored as sent: %s", raw)
	}

	status, body, raw = call(t, srv, "POST", "/api/v1/flows/"+id+"/publish", "")
	if status != 422 {
		t.Fatalf("publish: status %d: %s", status, raw)
	}
	e := body["error"].(map[string]any)
	if e["code"] != "invalid_flow" || !strings.Contains(e["message"].(string), "amout") {
		t.Errorf("publish error: %s", raw)
	}
	got = codes(e["details"].(map[string]any)["problems"].([]any))
	for _, w := range want {
		if !got[w] {
			t.Errorf("publish: missing problem %s in %s", w, raw)
		}
	}

	status, body, raw = call(t, srv, "PUT", "/api/v1/flows/"+id, validFlow)
	if status != 200 || len(body["problems"].([]any)) != 0 || body["latest_version"] != float64(2) {
		t.Fatalf("save the fix: %d %s", status, raw)
	}
	if status, _, raw = call(t, srv, "POST", "/api/v1/flows/"+id+"/publish", ""); status != 200 {
		t.Fatalf("publish the fix: %d %s", status, raw)
	}
}

// Validation returns the scope each node's expressions may use, for autocomplete.
func TestValidateScopes(t *testing.T) {
	srv, _ := newServer(t)
	status, body, raw := call(t, srv, "POST", "/api/v1/flows/validate", validFlow)
	if status != 200 || body["valid"] != true {
		t.Fatalf("%d %s", status, raw)
	}
	scope := body["scopes"].(map[string]any)["l"].([]any)
	var paths []string
	for _, p := range scope {
		paths = append(paths, p.(string))
	}
	joined := strings.Join(paths, " ")
	if !strings.Contains(joined, "event.data.amount") || !strings.Contains(joined, "nodes.c.result") {
		t.Errorf("scope of l = %v", paths)
	}
}

// The OpenAPI document describes every route the server has, and nothing else.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	_, h := newServer(t)
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`:([a-z_]+)`)
	seen := map[string]bool{}
	for _, r := range h.(*gin.Engine).Routes() {
		if !strings.HasPrefix(r.Path, "/api/v1/") {
			continue
		}
		p := param.ReplaceAllString(strings.TrimPrefix(r.Path, "/api/v1"), "{$1}")
		seen[strings.ToLower(r.Method)+" "+p] = true
		if _, ok := doc.Paths[p][strings.ToLower(r.Method)]; !ok {
			t.Errorf("route %s %s is not in openapi.json", r.Method, p)
		}
	}
	for p, ops := range doc.Paths {
		for m := range ops {
			if m != "parameters" && !seen[m+" "+p] {
				t.Errorf("openapi.json documents %s %s, which the server does not have", m, p)
			}
		}
	}
}

// The builder is served at /, its files directly, and any other page path falls back to
// index.html so the SPA's routes survive a reload; /api paths never do.
func TestBuilderServing(t *testing.T) {
	srv, _ := newServer(t)
	for path, want := range map[string]string{"/": "builder", "/flows/123/edit": "builder", "/assets/app.js": "console.log"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("GET %s: %d %q", path, resp.StatusCode, b)
		}
	}
}

// Secrets go in and never come out: not from the list, not from an update.
func TestCredentialsNeverReturned(t *testing.T) {
	srv, _ := newServer(t)
	status, body, raw := call(t, srv, "POST", "/api/v1/credentials", `{"name":"crm","type":"http_bearer","data":{"token":"sk_live_very_secret"}}`)
	if status != 201 || strings.Contains(raw, "sk_live_very_secret") {
		t.Fatalf("%d %s", status, raw)
	}
	id := body["id"].(string)
	for _, r := range []struct{ m, p, b string }{{"GET", "/api/v1/credentials", ""}, {"PUT", "/api/v1/credentials/" + id, `{"data":{"token":"sk_live_rotated"}}`}} {
		_, _, raw := call(t, srv, r.m, r.p, r.b)
		if strings.Contains(raw, "sk_live") {
			t.Errorf("%s %s returned a secret: %s", r.m, r.p, raw)
		}
	}
}

// action.assign's records are listed over the API and an assignee can close them.
func TestAssignmentsAPI(t *testing.T) {
	srv, _ := newServer(t)
	_, team, _ := call(t, srv, "POST", "/api/v1/teams", `{"name":"Support"}`)
	status, member, raw := call(t, srv, "POST", "/api/v1/teams/"+team["id"].(string)+"/members", `{"name":"Ana","phone":"+14155550101","email":"ana@example.com"}`)
	if status != 201 {
		t.Fatal(raw)
	}
	if status, _, raw := call(t, srv, "POST", "/api/v1/teams/"+team["id"].(string)+"/members", `{"name":"Bo","phone":"12345"}`); status != 400 || !strings.Contains(raw, "E.164") {
		t.Errorf("bad phone: %d %s", status, raw)
	}
	_, fl, raw := call(t, srv, "POST", "/api/v1/flows", `{"name":"a","nodes":[{"id":"t","type":"trigger.manual"},
		{"id":"a","type":"action.assign","config":{"team":"Support","subject":"call back","due_in":"4h"}}],"edges":[{"from":"t","to":"a"}]}`)
	if fl["id"] == nil {
		t.Fatal(raw)
	}
	_, acc, _ := call(t, srv, "POST", "/api/v1/flows/"+fl["id"].(string)+"/run", `{"data":{}}`)
	runID := acc["run_ids"].([]any)[0].(string)
	var items []any
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && len(items) == 0; time.Sleep(10 * time.Millisecond) {
		_, list, _ := call(t, srv, "GET", "/api/v1/assignments?status=open&run_id="+runID, "")
		items, _ = list["items"].([]any)
	}
	if len(items) != 1 {
		t.Fatalf("open assignments: %v", items)
	}
	a := items[0].(map[string]any)
	if a["member_id"] != member["id"] || a["subject"] != "call back" || a["due_at"] == nil {
		t.Errorf("assignment %v", a)
	}
	if status, done, raw := call(t, srv, "POST", "/api/v1/assignments/"+a["id"].(string)+"/done", ""); status != 200 || done["status"] != "done" || done["done_at"] == nil {
		t.Errorf("done: %d %s", status, raw)
	}
	if _, list, _ := call(t, srv, "GET", "/api/v1/assignments?status=open", ""); len(list["items"].([]any)) != 0 {
		t.Errorf("still open: %v", list)
	}
}

// With API tokens configured, every API call needs one; webhooks, health checks and the API's
// description do not.
func TestAPITokens(t *testing.T) {
	e := enginetest.New(t, enginetest.Embedded)
	srv := apitest.NewServer(t, New(e, Options{Tokens: []string{"tok-ops-1", "tok-crm-2"}}))
	defer srv.Close()
	get := func(path, auth string) int {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for auth, want := range map[string]int{"": 401, "Bearer nope": 401, "tok-ops-1": 401, "Bearer tok-ops-1": 200, "Bearer tok-crm-2": 200,
		"bearer tok-ops-1": 200, "BEARER tok-crm-2": 200, "Bearer  tok-ops-1": 200, "Basic tok-ops-1": 401, "Bearertok-ops-1": 401} {
		if got := get("/api/v1/flows", auth); got != want {
			t.Errorf("GET /flows with %q: %d, want %d", auth, got, want)
		}
	}
	for _, path := range []string{"/healthz", "/api/v1/healthz", "/api/v1/openapi.json", "/api/v1/schema/flow.json"} {
		if got := get(path, ""); got != 200 {
			t.Errorf("GET %s without a token: %d", path, got)
		}
	}
	resp, err := http.Post(srv.URL+"/api/v1/hooks/unknown", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("webhook without a token: %d, want 404 (not 401: webhooks authenticate by signature)", resp.StatusCode)
	}
	status, body, _ := call(t, srv, "POST", "/api/v1/events", `{"type":"x"}`)
	if status != 401 || body["error"].(map[string]any)["code"] != "unauthorized" {
		t.Errorf("event without a token: %d %v", status, body)
	}
}

func TestCredentialTypesAndChecks(t *testing.T) {
	srv, _ := newServer(t)
	status, _, raw := call(t, srv, "GET", "/api/v1/credential-types", "")
	if status != 200 || !strings.Contains(raw, `"type":"twilio"`) || !strings.Contains(raw, `"secret":true`) {
		t.Fatalf("%d %s", status, raw)
	}
	for doc, want := range map[string]string{
		`{"name":"a","type":"twillio","data":{"x":"y"}}`:                                  `unknown credential type \"twillio\"`,
		`{"name":"a","type":"twilio","data":{"account_sid":"AC1","from":"+14155550000"}}`: "auth_token is required",
		`{"name":"a","type":"http_bearer","data":{"token":"t","tokn":"typo"}}`:            `no value \"tokn\"`,
	} {
		status, body, raw := call(t, srv, "POST", "/api/v1/credentials", doc)
		if status != 400 || body["error"].(map[string]any)["code"] != "invalid_credential" || !strings.Contains(raw, want) {
			t.Errorf("%s: %d %s", doc, status, raw)
		}
	}
}

// The builder learns from GET /node-types which triggers have a webhook URL to show and which
// settings apply only to one choice of another (HMAC settings only for HMAC verification).
func TestNodeTypesWebhookAndShowIf(t *testing.T) {
	srv, _ := newServer(t)
	status, body, raw := call(t, srv, "GET", "/api/v1/node-types", "")
	if status != 200 {
		t.Fatalf("%d %s", status, raw)
	}
	found := false
	for _, x := range body["node_types"].([]any) {
		nt := x.(map[string]any)
		if nt["type"] != "trigger.webhook" {
			if nt["webhook"] != nil {
				t.Errorf("%s is marked as a webhook trigger", nt["type"])
			}
			continue
		}
		found = true
		if nt["webhook"] != true {
			t.Errorf("trigger.webhook is not marked: %v", nt["webhook"])
		}
		for _, f := range nt["fields"].([]any) {
			fd := f.(map[string]any)
			if fd["name"] == "hmac_header" {
				b, _ := json.Marshal(fd["show_if"])
				if string(b) != `{"verify":["hmac"]}` {
					t.Errorf("hmac_header show_if %s", b)
				}
			}
		}
		if d, _ := nt["docs"].(map[string]any); d == nil || d["en"] == "" || d["zh-CN"] == "" {
			t.Errorf("docs in both languages: %v", nt["docs"])
		}
	}
	if !found {
		t.Fatal("no trigger.webhook")
	}
}
