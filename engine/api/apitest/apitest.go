// Package apitest checks the API against its own description: every request a test makes through
// Handler or NewServer, and every answer, is validated against the OpenAPI document the server
// serves at /api/v1/openapi.json, so the document cannot drift from the API unnoticed.
//
// The rules, for each request under /api/v1 (the builder's pages and the root /healthz and
// /readyz are not part of the document):
//   - a method and path the document lacks must be answered 404 or 405;
//   - a request the document rejects (bad body, bad parameter, no credentials where they are
//     needed) must be refused (4xx or 5xx): bad-input tests are welcome, a 2xx to them is drift;
//   - every answer's status must be documented for the operation, its body must match the
//     documented content type and schema, and a JSON body must carry no field the schema does not
//     name (unless the schema is a free-form object or map).
//
// A mismatch fails the test with the method, the documented path and the status.
package apitest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// DocumentPath is where the API serves its OpenAPI document.
const DocumentPath = "/api/v1/openapi.json"

// NewServer starts an httptest server of Handler(t, h), closed when the test ends.
func NewServer(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(Handler(t, h))
	t.Cleanup(srv.Close)
	return srv
}

// Handler wraps the API handler h so that every request and answer is checked against the
// document h serves; a mismatch fails t. The answer is held until it is checked, so the test's
// client gets it only afterwards (and t is still running when the check reports).
func Handler(t testing.TB, h http.Handler) http.Handler {
	t.Helper()
	return Check(t, Router(t, h), h)
}

// Check is Handler with the document given (from Router), for a handler that does not serve it
// itself, such as one standing in front of the API.
func Check(t testing.TB, doc routers.Router, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/v1/") {
			h.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		for _, problem := range check(doc, r, body, rec) {
			t.Errorf("OpenAPI document vs API: %s", problem)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})
}

// check returns what in this exchange the document does not describe.
func check(router routers.Router, r *http.Request, body []byte, rec *httptest.ResponseRecorder) []string {
	// Validation gets its own copy of the request: it reads the body and may set defaults.
	req := r.Clone(context.Background())
	req.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := router.FindRoute(req)
	if err != nil {
		// A route the document lacks must not exist: the API answers it 404 or 405.
		if rec.Code == http.StatusNotFound || rec.Code == http.StatusMethodNotAllowed {
			return nil
		}
		return []string{fmt.Sprintf("%s %s answered %d but is not in the document (%v)", r.Method, r.URL.Path, rec.Code, err)}
	}
	where := fmt.Sprintf("%s %s (%s) → %d", r.Method, route.Path, r.URL.Path, rec.Code)
	opts := &openapi3filter.Options{
		MultiError:            true,
		IncludeResponseStatus: true,
		AuthenticationFunc:    presentCredentials,
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	var problems []string
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil && rec.Code < 400 {
		problems = append(problems, fmt.Sprintf("%s: the request does not match the document, yet the API accepted it: %v", where, err))
	}
	resp := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rec.Code, Header: rec.Header(), Options: opts}
	resp.SetBodyBytes(rec.Body.Bytes())
	if err := openapi3filter.ValidateResponse(context.Background(), resp); err != nil {
		problems = append(problems, fmt.Sprintf("%s: the answer does not match the document: %v\nbody: %s", where, err, clip(rec.Body.Bytes())))
	} else if extra := undocumentedFields(route, rec); len(extra) > 0 {
		problems = append(problems, fmt.Sprintf("%s: the answer has fields the document does not describe: %s", where, strings.Join(extra, ", ")))
	}
	return problems
}

// undocumentedFields lists, as JSON pointers, the fields of a JSON answer that its documented
// schema does not name: schemas stay open to additions for clients, but an API test's answer
// must not carry a field the document has not been told about.
func undocumentedFields(route *routers.Route, rec *httptest.ResponseRecorder) []string {
	ref := route.Operation.Responses.Status(rec.Code)
	if ref == nil {
		ref = route.Operation.Responses.Default()
	}
	media := ref.Value.Content.Get(rec.Header().Get("Content-Type"))
	if media == nil || media.Schema == nil || !strings.Contains(rec.Header().Get("Content-Type"), "json") {
		return nil
	}
	var body any
	if json.Unmarshal(rec.Body.Bytes(), &body) != nil {
		return nil
	}
	var extra []string
	walkFields(media.Schema.Value, body, "", &extra)
	sort.Strings(extra)
	return extra
}

func walkFields(s *openapi3.Schema, v any, at string, extra *[]string) {
	if s == nil {
		return
	}
	switch v := v.(type) {
	case map[string]any:
		props, open := fieldsOf(s)
		for k, x := range v {
			if p, ok := props[k]; ok {
				walkFields(p, x, at+"/"+k, extra)
			} else if !open {
				*extra = append(*extra, at+"/"+k)
			}
		}
	case []any:
		for i, x := range v {
			walkFields(itemsOf(s), x, fmt.Sprintf("%s/%d", at, i), extra)
		}
	}
}

// fieldsOf collects the properties of s and of its allOf, anyOf and oneOf parts; open means some
// part takes any field (a free-form object, or additionalProperties).
func fieldsOf(s *openapi3.Schema) (props map[string]*openapi3.Schema, open bool) {
	props = map[string]*openapi3.Schema{}
	var visit func(s *openapi3.Schema)
	visit = func(s *openapi3.Schema) {
		parts := append(append(append(openapi3.SchemaRefs{}, s.AllOf...), s.AnyOf...), s.OneOf...)
		if len(s.Properties) == 0 && len(parts) == 0 || s.AdditionalProperties.Schema != nil ||
			s.AdditionalProperties.Has != nil && *s.AdditionalProperties.Has {
			open = true
		}
		for k, p := range s.Properties {
			props[k] = p.Value
		}
		for _, p := range parts {
			visit(p.Value)
		}
	}
	visit(s)
	return props, open
}

// itemsOf is the schema of s's array items, looking into its allOf, anyOf and oneOf parts.
func itemsOf(s *openapi3.Schema) *openapi3.Schema {
	if s.Items != nil {
		return s.Items.Value
	}
	for _, p := range append(append(append(openapi3.SchemaRefs{}, s.AllOf...), s.AnyOf...), s.OneOf...) {
		if it := itemsOf(p.Value); it != nil {
			return it
		}
	}
	return nil
}

// presentCredentials checks that the request carries a credential of the scheme the document
// asks for; whether it is a good one is the API's business (and answered 401).
func presentCredentials(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	r, s := in.RequestValidationInput.Request, in.SecurityScheme
	switch {
	case s.Type == "http" && strings.EqualFold(s.Scheme, "bearer"):
		scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if strings.EqualFold(scheme, "bearer") {
			return nil
		}
	case s.Type == "apiKey" && s.In == "cookie":
		if _, err := r.Cookie(s.Name); err == nil {
			return nil
		}
	case s.Type == "apiKey" && s.In == "header":
		if r.Header.Get(s.Name) != "" {
			return nil
		}
	default:
		return fmt.Errorf("security scheme %q (%s) is not known to apitest", in.SecuritySchemeName, s.Type)
	}
	return errors.New("no credentials for " + in.SecuritySchemeName)
}

func clip(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "…"
	}
	return string(b)
}

var (
	routersMu sync.Mutex
	routerOf  = map[[32]byte]routers.Router{} // by document content: loaded once per test binary
)

// Router loads the document h serves with kin-openapi's default loader, validates it and returns
// a router over its operations; a document that does not load or validate fails t at once.
func Router(t testing.TB, h http.Handler) routers.Router {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, DocumentPath, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", DocumentPath, rec.Code, clip(rec.Body.Bytes()))
	}
	key := sha256.Sum256(rec.Body.Bytes())
	routersMu.Lock()
	defer routersMu.Unlock()
	if r, ok := routerOf[key]; ok {
		return r
	}
	doc, err := Load(rec.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	r, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatalf("routing the OpenAPI document: %v", err)
	}
	routerOf[key] = r
	return r
}

// Load loads an OpenAPI document the way standard tools do: kin-openapi's default loader (no
// external references) and its validation.
func Load(data []byte) (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("loading the OpenAPI document: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("validating the OpenAPI document: %w", err)
	}
	return doc, nil
}
