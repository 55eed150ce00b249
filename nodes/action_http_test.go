package nodes_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/store"
)

// action.http sends exactly what its config says, authenticates from stored credentials, and
// parses the response for later nodes.
func TestHTTPRequestShape(t *testing.T) {
	e := enginetest.New(t, enginetest.Embedded)
	type seen struct {
		method, path, query, ctype, auth, apiKey, idem, trace string
		body                                                  string
	}
	got := make(chan seen, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), r.Header.Get("X-Api-Key"),
			r.Header.Get("Idempotency-Key"), r.Header.Get("X-Trace"), string(b)}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", "req-7")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"deal":{"id":"D-9","stage":"paid"}}`)
	}))
	defer srv.Close()
	ctx := context.Background()
	for name, data := range map[string]map[string]string{
		"bearer": {"token": "bearer-tok-1"}, "basic": {"username": "ops", "password": "pw-2"}, "header": {"name": "X-Api-Key", "value": "key-3"},
	} {
		if _, err := e.CreateCredential(ctx, "crm-"+name, "http_"+name, data); err != nil {
			t.Fatal(err)
		}
	}
	run := func(cfg string) (seen, map[string]any) {
		t.Helper()
		info, err := e.CreateFlow(ctx, enginetest.MustFlow(t, `{"name":"h","nodes":[{"id":"t","type":"trigger.manual","config":{"sample":{"order":"SO-1","amount":1}}},
			{"id":"call","type":"action.http","config":`+cfg+`},
			{"id":"l","type":"action.log","config":{"message":"{{ nodes.call.body.deal.stage }} {{ nodes.call.headers[\"x-request-id\"] }}"}}],
			"edges":[{"from":"t","to":"call"},{"from":"call","to":"l"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		acc, err := e.RunManual(ctx, info.Flow.ID, 0, map[string]any{"order": "SO-42", "amount": 99.5}, false)
		if err != nil {
			t.Fatal(err)
		}
		d := enginetest.WaitRun(t, e, acc.RunIDs[0], 10*time.Second)
		if d.Run.Status != store.RunSucceeded {
			t.Fatalf("%s: %s", cfg, d.Run.Error)
		}
		if msg := enginetest.Output(t, enginetest.Step(d, "l"))["message"]; msg != "paid req-7" {
			t.Errorf("parsed response: %v", msg)
		}
		return <-got, enginetest.Output(t, enginetest.Step(d, "call"))
	}

	s, out := run(`{"method":"PATCH","url":"` + srv.URL + `/deals/{{ event.data.order }}?src=opsflow","credential":"crm-bearer",
		"headers":{"X-Trace":"order-{{ event.data.order }}"},"body":"{\"stage\": \"paid\", \"amount\": event.data.amount}"}`)
	var body map[string]any
	json.Unmarshal([]byte(s.body), &body)
	if s.method != "PATCH" || s.path != "/deals/SO-42" || s.query != "src=opsflow" || s.ctype != "application/json" || s.auth != "Bearer bearer-tok-1" ||
		s.trace != "order-SO-42" || body["stage"] != "paid" || body["amount"] != 99.5 || !strings.HasSuffix(s.idem, ":call") {
		t.Errorf("JSON request: %+v", s)
	}
	if out["status"] != 201.0 {
		t.Errorf("status in output: %v", out["status"])
	}
	s, _ = run(`{"method":"POST","url":"` + srv.URL + `/form","credential":"crm-basic","body_type":"form","body":"{\"order\": event.data.order, \"amount\": event.data.amount}"}`)
	if s.ctype != "application/x-www-form-urlencoded" || s.body != "amount=99.5&order=SO-42" || s.auth != "Basic b3BzOnB3LTI=" {
		t.Errorf("form request: %+v", s)
	}
	s, _ = run(`{"method":"GET","url":"` + srv.URL + `/q","credential":"crm-header","body":"{\"ignored\": true}"}`)
	if s.method != "GET" || s.body != "" || s.apiKey != "key-3" {
		t.Errorf("GET request: %+v", s)
	}
}
