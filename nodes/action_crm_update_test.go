package nodes

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/opsflow/opsflow/engine"
)

// crmFake checks method, path, bearer token and JSON content type, records the body and answers.
type crmFake struct {
	t      *testing.T
	method string
	path   string
	query  string
	token  string
	hits   atomic.Int32
	mu     sync.Mutex
	status int
	answer string
	body   map[string]any
}

func (s *crmFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	if r.Method != s.method || r.URL.EscapedPath() != s.path || r.URL.RawQuery != s.query {
		s.t.Errorf("%s %s?%s, want %s %s?%s", r.Method, r.URL.EscapedPath(), r.URL.RawQuery, s.method, s.path, s.query)
	}
	if r.Header.Get("Authorization") != "Bearer "+s.token || r.Header.Get("Content-Type") != "application/json" {
		s.t.Errorf("headers %v", r.Header)
	}
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		s.t.Errorf("body %q: %v", raw, err)
	}
	s.mu.Lock()
	s.body = body
	status, answer := s.status, s.answer
	s.mu.Unlock()
	if answer != "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, answer)
}

func (s *crmFake) set(status int, answer string) {
	s.mu.Lock()
	s.status, s.answer = status, answer
	s.mu.Unlock()
}

func (s *crmFake) got() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.body
}

func TestCRMUpdateHubSpot(t *testing.T) {
	const token = "pat-na1-hubspot-secret"
	cxBackends(t, func(t *testing.T, e *engine.Engine) {
		sb := cxSandbox(t)
		attempts := func() int { return len(sb.Requests("/crm/v3/objects/")) }
		cred := cxCredential(t, e, "hubspot", map[string]string{"token": token, "base_url": sb.URL})
		typ := cxPublish(t, e, "action.crm_update", map[string]any{
			"credential": cred, "object_type": "deals", "record_id": "{{ event.data.deal_id }}",
			"properties": `{"dealstage": "closedwon", "payment_status": event.data.status, "amount": event.data.amount}`,
		})
		d := cxRun(t, e, typ, map[string]any{"deal_id": 123456, "status": "paid", "amount": 1999.5})
		out := cxSucceeded(t, d)
		if out["provider"] != "hubspot" || out["id"] != "123456" || out["status"] != 200.0 || out["updated_at"] == "" {
			t.Fatalf("output %v", out)
		}
		if p, _ := out["properties"].(map[string]any); p["payment_status"] != "paid" {
			t.Fatalf("output properties %v", out["properties"])
		}
		req := sb.Requests("/crm/v3/objects/")[0]
		var got map[string]any
		if err := json.Unmarshal([]byte(req.Body), &got); err != nil {
			t.Fatalf("body %q: %v", req.Body, err)
		}
		want := map[string]any{"properties": map[string]any{"dealstage": "closedwon", "payment_status": "paid", "amount": "1999.5"}}
		if req.Method != http.MethodPatch || req.Path != "/crm/v3/objects/deals/123456" || req.Header.Get("Authorization") != "Bearer "+token ||
			req.Header.Get("Content-Type") != "application/json" || !reflect.DeepEqual(got, want) {
			t.Fatalf("request %s %s %v: %v", req.Method, req.Path, req.Header, got)
		}
		cxNoSecrets(t, d, token)

		sb.FailWith(http.StatusNotFound, `{"status":"error","message":"Object not found.  objectId are usually numeric.","category":"OBJECT_NOT_FOUND"}`)
		d = cxRun(t, e, typ, map[string]any{"deal_id": 123456, "status": "paid", "amount": 1})
		if s := cxFailed(t, d, 1); !strings.Contains(s.Error, "OBJECT_NOT_FOUND") {
			t.Fatalf("error %q", s.Error)
		}
		sb.FailWith(http.StatusTooManyRequests, `{"status":"error","message":"You have reached your secondly limit.","category":"RATE_LIMITS"}`)
		before := attempts()
		d = cxRun(t, e, typ, map[string]any{"deal_id": 123456, "status": "paid", "amount": 1})
		cxFailed(t, d, cxRetried)
		if attempts()-before != cxRetried {
			t.Fatalf("%d attempts", attempts()-before)
		}
		cxNoSecrets(t, d, token)
		sb.FailWith(0, "")

		// A record id that would change the path is refused before any request.
		before = attempts()
		d = cxRun(t, e, typ, map[string]any{"deal_id": "../../owners", "status": "paid", "amount": 1})
		if s := cxFailed(t, d, 1); !strings.Contains(s.Error, "record id") || attempts() != before {
			t.Fatalf("error %q", s.Error)
		}
	})
}

func TestCRMUpdateHubSpotIDProperty(t *testing.T) {
	cxBackends(t, func(t *testing.T, e *engine.Engine) {
		fake := &crmFake{t: t, method: http.MethodPatch, path: "/crm/v3/objects/contacts/ann@example.com", query: "idProperty=email", token: "tok", status: http.StatusOK, answer: `{"id":"51","properties":{}}`}
		srv := httptest.NewServer(fake)
		defer srv.Close()
		cred := cxCredential(t, e, "hubspot", map[string]string{"token": "tok", "base_url": srv.URL})
		typ := cxPublish(t, e, "action.crm_update", map[string]any{"credential": cred, "object_type": "contacts", "record_id": "ann@example.com", "id_property": "email", "properties": `{"lifecyclestage": "customer"}`})
		if out := cxSucceeded(t, cxRun(t, e, typ, nil)); out["id"] != "51" {
			t.Fatalf("output %v", out)
		}
	})
}

func TestCRMUpdateSalesforce(t *testing.T) {
	const token = "00Dxx0000001gPF!AQ4AQSalesforceSecret"
	cxBackends(t, func(t *testing.T, e *engine.Engine) {
		fake := &crmFake{t: t, method: http.MethodPatch, path: "/services/data/v60.0/sobjects/Opportunity/006xx000001a2bcAAA", token: token, status: http.StatusNoContent}
		srv := httptest.NewServer(fake)
		defer srv.Close()
		cred := cxCredential(t, e, "salesforce", map[string]string{"instance_url": srv.URL, "access_token": token, "api_version": "60.0"})
		typ := cxPublish(t, e, "action.crm_update", map[string]any{
			"credential": cred, "object_type": "Opportunity", "record_id": "{{ event.data.opp }}",
			"properties": `{"StageName": "Closed Won", "Payment_Status__c": event.data.status, "Amount": event.data.amount}`,
		})
		d := cxRun(t, e, typ, map[string]any{"opp": "006xx000001a2bcAAA", "status": "paid", "amount": 42.5})
		out := cxSucceeded(t, d)
		if out["provider"] != "salesforce" || out["status"] != 204.0 || out["id"] != "006xx000001a2bcAAA" || out["object_type"] != "Opportunity" {
			t.Fatalf("output %v", out)
		}
		if got := fake.got(); !reflect.DeepEqual(got, map[string]any{"StageName": "Closed Won", "Payment_Status__c": "paid", "Amount": 42.5}) {
			t.Fatalf("body %v", got)
		}
		fake.set(http.StatusUnauthorized, `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`)
		d = cxRun(t, e, typ, map[string]any{"opp": "006xx000001a2bcAAA", "status": "paid", "amount": 1})
		if s := cxFailed(t, d, 1); !strings.Contains(s.Error, "INVALID_SESSION_ID") {
			t.Fatalf("error %q", s.Error)
		}
		fake.set(http.StatusBadRequest, `[{"message":"unable to obtain exclusive access to this record","errorCode":"UNABLE_TO_LOCK_ROW","fields":[]}]`)
		d = cxRun(t, e, typ, map[string]any{"opp": "006xx000001a2bcAAA", "status": "paid", "amount": 1})
		cxFailed(t, d, cxRetried)
		fake.set(http.StatusServiceUnavailable, ``)
		d = cxRun(t, e, typ, map[string]any{"opp": "006xx000001a2bcAAA", "status": "paid", "amount": 1})
		cxFailed(t, d, cxRetried)
		cxNoSecrets(t, d, token)
	})
}

func TestCRMUpdateGeneric(t *testing.T) {
	cxBackends(t, func(t *testing.T, e *engine.Engine) {
		fake := &crmFake{t: t, method: http.MethodPut, path: "/api/orders/ord_9", token: "generic-bearer-tok", status: http.StatusOK, answer: `{"ok":true,"order":{"id":"ord_9","status":"paid"}}`}
		srv := httptest.NewServer(fake)
		defer srv.Close()
		cred := cxCredential(t, e, "http_bearer", map[string]string{"token": "generic-bearer-tok"})
		typ := cxPublish(t, e, "action.crm_update", map[string]any{
			"credential": cred, "method": "PUT", "url": srv.URL + "/api/orders/{{ event.data.order_id }}", "record_id": "{{ event.data.order_id }}",
			"properties": `{"status": "paid"}`,
		})
		d := cxRun(t, e, typ, map[string]any{"order_id": "ord_9"})
		out := cxSucceeded(t, d)
		if body, _ := out["body"].(map[string]any); body["ok"] != true || out["provider"] != "http" || out["id"] != "ord_9" {
			t.Fatalf("output %v", out)
		}
		if got := fake.got(); !reflect.DeepEqual(got, map[string]any{"status": "paid"}) {
			t.Fatalf("body %v", got)
		}
		fake.set(http.StatusUnprocessableEntity, `{"error":"bad status"}`)
		cxFailed(t, cxRun(t, e, typ, map[string]any{"order_id": "ord_9"}), 1)
		cxNoSecrets(t, d, "generic-bearer-tok")
	})
}
