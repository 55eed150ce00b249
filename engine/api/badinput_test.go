package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/opsflow/opsflow/engine/api/apitest"
	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/store"
)

// The project's bad-input test: every route, on every backend, gets NUL bytes and invalid UTF-8
// in its path ids and query parameters, unknown ids, and (where it takes a body) malformed JSON,
// JSON strings with NUL or invalid UTF-8, over-long values and an oversize body. Every answer must
// be a JSON error with a 4xx code; bad bytes in ids and parameters must be a 400.
func TestBadInputEveryRoute(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			e := enginetest.New(t, b)
			h := New(e, Options{MaxBody: 64 << 10, Tokens: []string{testToken}})
			srv := apitest.NewServer(t, h)
			defer srv.Close()
			ids := seed(t, srv)

			send := func(method, path, body string, hdr ...string) (int, string) {
				t.Helper()
				req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
				if err != nil {
					t.Fatalf("%s %q: %v", method, path, err)
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+testToken)
				for i := 0; i+1 < len(hdr); i += 2 {
					req.Header.Set(hdr[i], hdr[i+1])
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatalf("%s %q: %v", method, path, err)
				}
				defer resp.Body.Close()
				raw, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(raw)
			}
			// isError checks a 4xx answer with the JSON error shape.
			isError := func(what string, status int, raw string, want int) {
				t.Helper()
				var body ErrorBody
				if status < 400 || status >= 500 || (want != 0 && status != want) {
					t.Errorf("%s: %d, want %s: %.300s", what, status, map[bool]string{true: "4xx", false: http.StatusText(want)}[want == 0], raw)
					return
				}
				if err := json.Unmarshal([]byte(raw), &body); err != nil || body.Error.Code == "" || body.Error.Message == "" {
					t.Errorf("%s: %d without a JSON error: %.300s", what, status, raw)
				}
			}
			queryKeys := []string{"flow_id", "status", "type", "q", "cursor", "limit", "since", "until", "run_id", "team_id", "member_id", "category", "version"}
			unknown := "0190f7d2-0000-7000-8000-000000000000"
			for _, r := range h.(*gin.Engine).Routes() {
				if !strings.HasPrefix(r.Path, "/api/v1/") && r.Path != "/readyz" && r.Path != "/healthz" {
					continue
				}
				path := func(val func(param string) string) string {
					parts := strings.Split(r.Path, "/")
					for i, p := range parts {
						if strings.HasPrefix(p, ":") {
							parts[i] = val(p[1:])
						}
					}
					return strings.Join(parts, "/")
				}
				hasParam := strings.Contains(r.Path, ":")
				valid := path(func(p string) string { return ids.of(r.Path, p) })
				name := r.Method + " " + r.Path
				if hasParam {
					for _, bad := range []string{"%00", "a%00b", "%FF", "M%FCller", "%C0%AF"} {
						status, raw := send(r.Method, path(func(string) string { return bad }), `{}`)
						isError(name+" with id "+bad, status, raw, 400)
					}
					status, raw := send(r.Method, path(func(p string) string {
						if p == "version" {
							return "99"
						}
						return unknown
					}), `{}`)
					if r.Method == "GET" || r.Method == "DELETE" {
						isError(name+" with an unknown id", status, raw, 404)
					} else {
						isError(name+" with an unknown id", status, raw, 0)
					}
					status, raw = send(r.Method, path(func(string) string { return strings.Repeat("x", 5000) }), `{}`)
					isError(name+" with a 5000-byte id", status, raw, 0)
				}
				for _, bad := range []string{"%00", "%FF", "x%00y", "M%FCller"} {
					q := make([]string, len(queryKeys))
					for i, k := range queryKeys {
						q[i] = k + "=" + bad
					}
					status, raw := send(r.Method, valid+"?"+strings.Join(q, "&"), `{}`)
					isError(name+" with query parameters "+bad, status, raw, 400)
				}
				// Odd but valid text: never a 500.
				for _, odd := range []string{"%5C", "%25", "_", "99999999999999999999", "-1", "%27%3B--", strings.Repeat("9", 900)} {
					q := make([]string, len(queryKeys))
					for i, k := range queryKeys {
						q[i] = k + "=" + odd
					}
					if status, raw := send(r.Method, valid+"?"+strings.Join(q, "&"), `{}`); status >= 500 {
						t.Errorf("%s with query parameters %s: %d %.300s", name, odd, status, raw)
					}
				}
				if r.Method != "POST" && r.Method != "PUT" && r.Method != "PATCH" {
					continue
				}
				if strings.HasPrefix(r.Path, "/api/v1/hooks/") {
					continue // webhooks take any body; TestWebhookAnyBytes
				}
				if strings.HasSuffix(r.Path, "/cancel") || strings.HasSuffix(r.Path, "/done") || r.Path == "/api/v1/auth/logout" {
					continue // no body: they ignore one
				}
				long := strings.Repeat("n", 400)
				for what, body := range map[string]string{
					"malformed JSON":           `{"name":`,
					"a JSON string":            `"x"`,
					"a JSON array":             `[1]`,
					"JSON null":                `null`,
					"not JSON":                 `name=x`,
					"a raw NUL byte":           "{\"name\":\"a\x00b\"}",
					"a NUL escape":             `{"name":"a\u0000b","type":"t\u0000","description":"\u0000","data":{"k\u0000":"v\u0000"},"phone":"\u0000","email":"\u0000"}`,
					"a NUL escape deep inside": `{"name":"ok","nodes":[{"id":"t","type":"trigger.manual","config":{"x":"\u0000"}}],"edges":[],"data":{"a":["\u0000"]}}`,
					"invalid UTF-8":            "{\"name\":\"M\xfcller\",\"type\":\"\xff\",\"data\":{\"k\":\"\xc0\xaf\"}}",
					"over-long values":         `{"name":"` + long + `","type":"` + long + `","email":"` + long + `@x.io","phone":"+1` + strings.Repeat("5", 40) + `","idempotency_key":"` + long + `","data":{"k":"v"}}`,
					"an oversize body":         `{"name":"` + strings.Repeat("a", 70<<10) + `"}`,
				} {
					status, raw := send(r.Method, valid, body)
					isError(name+" with "+what, status, raw, 0)
				}
			}
			// Values that reach the database from headers.
			for what, key := range map[string]string{"invalid UTF-8": "M\xfcller", "a card number": "pay-4242424242424242", "an over-long key": strings.Repeat("k", 250)} {
				status, raw := send("POST", "/api/v1/events", `{"type":"x"}`, "Idempotency-Key", key)
				if status != 202 {
					t.Errorf("event with an Idempotency-Key header holding %s: %d %s", what, status, raw)
				}
			}
			// Rows stored before raw bodies were bytes are still read.
			old := store.Event{ID: store.NewID(), Type: "webhook", Source: "webhook", Data: "{}", LegacyRawBody: "name=old", CreatedAt: time.Now()}
			if err := e.Store.DB.Create(&old).Error; err != nil {
				t.Fatal(err)
			}
			var back store.Event
			if err := e.Store.DB.Where("id = ?", old.ID).Take(&back).Error; err != nil || string(back.Body()) != "name=old" {
				t.Errorf("legacy raw body: %q, %v", back.Body(), err)
			}
		})
	}
}

// fixtureIDs names a real record for each path parameter, so bodies reach their handlers.
type fixtureIDs map[string]string

func (f fixtureIDs) of(route, param string) string {
	switch {
	case param == "version":
		return "1"
	case param == "flow_id" || strings.HasPrefix(route, "/api/v1/flows/"):
		return f["flow"]
	case strings.HasPrefix(route, "/api/v1/runs/"):
		return f["run"]
	case strings.HasPrefix(route, "/api/v1/teams/"):
		return f["team"]
	case strings.HasPrefix(route, "/api/v1/members/"):
		return f["member"]
	case strings.HasPrefix(route, "/api/v1/credentials/"):
		return f["credential"]
	case strings.HasPrefix(route, "/api/v1/templates/"):
		return "payment-failed-support-sms"
	}
	return "x"
}

// seed creates one of everything through the API.
func seed(t *testing.T, srv *httptest.Server) fixtureIDs {
	t.Helper()
	ids := fixtureIDs{}
	create := func(key, path, body string) map[string]any {
		t.Helper()
		status, out, raw := call(t, srv, "POST", path, body)
		if status >= 300 {
			t.Fatalf("seed %s: %d %s", path, status, raw)
		}
		if id, ok := out["id"].(string); ok && key != "" {
			ids[key] = id
		}
		return out
	}
	create("team", "/api/v1/teams", `{"name":"Support"}`)
	create("member", "/api/v1/teams/"+ids["team"]+"/members", `{"name":"Ana","phone":"+14155550101"}`)
	create("credential", "/api/v1/credentials", `{"name":"crm","type":"http_bearer","data":{"token":"sk_live_seed_token"}}`)
	create("flow", "/api/v1/flows", `{"name":"hook","nodes":[{"id":"t","type":"trigger.webhook"},
		{"id":"a","type":"action.assign","config":{"team":"Support","subject":"s"}}],"edges":[{"from":"t","to":"a"}]}`)
	create("", "/api/v1/flows/"+ids["flow"]+"/publish", ``)
	acc := create("", "/api/v1/hooks/"+ids["flow"], `{"x":1}`)
	ids["run"] = acc["run_ids"].([]any)[0].(string)
	return ids
}

// A Latin-1 form delivery (as some providers still send) is accepted on every backend, and
// every body is kept byte for byte: NUL bytes and invalid UTF-8 included.
func TestWebhookAnyBytes(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			e := enginetest.New(t, b)
			srv := apitest.NewServer(t, New(e, Options{Tokens: []string{testToken}}))
			defer srv.Close()
			ids := seed(t, srv)
			for what, c := range map[string]struct{ ct, body string }{
				"Latin-1 form":       {"application/x-www-form-urlencoded", "name=M\xfcller&city=K\xf6ln"},
				"Latin-1 text":       {"text/plain; charset=iso-8859-1", "Gr\xfc\xdfe"},
				"JSON with NUL":      {"application/json", `{"type":"a\u0000b","name":"x\u0000"}`},
				"raw NUL":            {"application/octet-stream", "a\x00b\xff"},
				"invalid UTF-8 JSON": {"application/json", "{\"name\":\"M\xfcller\"}"},
			} {
				req, _ := http.NewRequest("POST", srv.URL+"/api/v1/hooks/"+ids["flow"], strings.NewReader(c.body))
				req.Header.Set("Content-Type", c.ct)
				req.Header.Set("X-Note", "Gr\xfc\xdfe")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 202 {
					t.Errorf("%s: %d %s", what, resp.StatusCode, raw)
					continue
				}
				var acc struct {
					EventID string `json:"event_id"`
				}
				json.Unmarshal(raw, &acc)
				var ev store.Event
				if err := e.Store.DB.Where("id = ?", acc.EventID).Take(&ev).Error; err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if string(ev.Body()) != c.body {
					t.Errorf("%s: raw body stored as %q, want %q", what, ev.Body(), c.body)
				}
				if want := map[string]string{"Latin-1 form": `{"city":"Köln","name":"Müller"}`, "Latin-1 text": `"Grüße"`, "JSON with NUL": `{"name":"x","type":"ab"}`}[what]; want != "" && ev.Data != want {
					t.Errorf("%s: event data %s, want %s", what, ev.Data, want)
				}
			}
			// Rows stored before raw bodies were bytes are still read.
			old := store.Event{ID: store.NewID(), Type: "webhook", Source: "webhook", Data: "{}", LegacyRawBody: "name=old", CreatedAt: time.Now()}
			if err := e.Store.DB.Create(&old).Error; err != nil {
				t.Fatal(err)
			}
			var back store.Event
			if err := e.Store.DB.Where("id = ?", old.ID).Take(&back).Error; err != nil || string(back.Body()) != "name=old" {
				t.Errorf("legacy raw body: %q, %v", back.Body(), err)
			}
		})
	}
}
