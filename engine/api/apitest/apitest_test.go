package apitest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/routers/legacy"
)

// A small document in the API's style: one secured operation with a body, one public one.
const testDoc = `{
  "openapi": "3.1.0",
  "info": {"title": "t", "version": "1"},
  "servers": [{"url": "/api/v1"}],
  "security": [{"bearer": []}],
  "components": {
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    "schemas": {"Thing": {"type": "object", "required": ["id", "done_at"],
      "properties": {"id": {"type": "string"}, "done_at": {"type": ["string", "null"], "format": "date-time"}}}},
    "responses": {"Error": {"description": "Error", "content": {"application/json": {"schema": {
      "type": "object", "required": ["error"], "properties": {"error": {"type": "object"}}}}}}}
  },
  "paths": {
    "/things/{id}": {
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
      "put": {
        "requestBody": {"required": true, "content": {"application/json": {"schema": {
          "type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}}}},
        "responses": {
          "200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "401": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/healthz": {"get": {"security": [], "responses": {"200": {"description": "OK"}}}}
  }
}`

// check finds each kind of drift between an exchange and the document, and says where.
func TestCheck(t *testing.T) {
	doc, err := Load([]byte(testDoc))
	if err != nil {
		t.Fatal(err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	const auth = "Bearer k"
	cases := []struct {
		name, method, path, auth, body string
		status                         int
		answer                         string
		want                           string // "" for no problem, else a part of the one problem
	}{
		{"documented", "PUT", "/api/v1/things/1", auth, `{"name":"a"}`, 200, `{"id":"1","done_at":null}`, ""},
		{"bad input refused", "PUT", "/api/v1/things/1", auth, `{"nom":"a"}`, 400, `{"error":{}}`, ""},
		{"no credentials refused", "PUT", "/api/v1/things/1", "", `{"name":"a"}`, 401, `{"error":{}}`, ""},
		{"unknown route refused", "GET", "/api/v1/nothing", auth, "", 404, `{"error":{}}`, ""},
		{"public", "GET", "/api/v1/healthz", "", "", 200, `{}`, ""},
		{"undocumented status", "PUT", "/api/v1/things/1", auth, `{"name":"a"}`, 409, `{"error":{}}`, "PUT /things/{id} (/api/v1/things/1) → 409: the answer does not match"},
		{"answer off schema", "PUT", "/api/v1/things/1", auth, `{"name":"a"}`, 200, `{"id":"1"}`, "PUT /things/{id} (/api/v1/things/1) → 200: the answer does not match"},
		{"undocumented field", "PUT", "/api/v1/things/1", auth, `{"name":"a"}`, 200, `{"id":"1","done_at":null,"owner":{"id":"u"}}`, "→ 200: the answer has fields the document does not describe: /owner"},
		{"undocumented error detail", "PUT", "/api/v1/things/1", auth, `{"nom":"a"}`, 400, `{"error":{"code":"x"},"trace":"…"}`, "fields the document does not describe: /trace"},
		{"wrong content type", "PUT", "/api/v1/things/1", auth, `{"name":"a"}`, 200, `<html>`, "→ 200: the answer does not match"},
		{"bad input accepted", "PUT", "/api/v1/things/1", auth, `{}`, 200, `{"id":"1","done_at":null}`, "→ 200: the request does not match the document, yet the API accepted it"},
		{"no credentials accepted", "PUT", "/api/v1/things/1", "", `{"name":"a"}`, 200, `{"id":"1","done_at":null}`, "yet the API accepted it"},
		{"undocumented route", "GET", "/api/v1/nothing", auth, "", 200, `{}`, "GET /api/v1/nothing answered 200 but is not in the document"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/json")
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			rec := httptest.NewRecorder()
			if strings.HasPrefix(tc.answer, "<") {
				rec.Header().Set("Content-Type", "text/html")
			} else {
				rec.Header().Set("Content-Type", "application/json")
			}
			rec.WriteHeader(tc.status)
			rec.WriteString(tc.answer)
			problems := check(router, r, []byte(tc.body), rec)
			switch {
			case tc.want == "" && len(problems) > 0:
				t.Errorf("unexpected problems: %q", problems)
			case tc.want != "" && (len(problems) != 1 || !strings.Contains(problems[0], tc.want)):
				t.Errorf("problems %q, want one containing %q", problems, tc.want)
			}
		})
	}
}

// Handler passes the answer through unchanged, and leaves paths outside the API alone.
func TestHandlerPassesThrough(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case DocumentPath:
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(testDoc))
		case "/api/v1/things/1":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Thing", "1")
			w.WriteHeader(http.StatusOK)
			w.Write([]byte(`{"id":"1","done_at":"2026-12-06T10:00:00Z"}`))
		default:
			w.Write([]byte("page"))
		}
	})
	srv := NewServer(t, h)
	req, _ := http.NewRequest("PUT", srv.URL+"/api/v1/things/1", strings.NewReader(`{"name":"a"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Thing") != "1" {
		t.Errorf("answer changed: %d %v", resp.StatusCode, resp.Header)
	}
	resp, err = http.Get(srv.URL + "/flows/1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("builder page: %d", resp.StatusCode)
	}
}
