package nodes

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/opsflow/opsflow/engine"
)

type stripeFake struct {
	t      *testing.T
	key    string
	hits   atomic.Int32
	mu     sync.Mutex
	status int
	forms  []url.Values
	idem   []string
}

func (s *stripeFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	if r.Method != http.MethodPost || r.URL.Path != "/v1/checkout/sessions" {
		s.t.Errorf("%s %s", r.Method, r.URL.Path)
	}
	if r.Header.Get("Authorization") != "Bearer "+s.key {
		s.t.Errorf("Authorization %q", r.Header.Get("Authorization"))
	}
	if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		s.t.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
	}
	raw, _ := io.ReadAll(r.Body)
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		s.t.Errorf("body %q: %v", raw, err)
	}
	s.mu.Lock()
	s.forms = append(s.forms, form)
	s.idem = append(s.idem, r.Header.Get("Idempotency-Key"))
	status := s.status
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case status >= 400:
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"error":{"type":"invalid_request_error","message":"Invalid integer: abc","param":"line_items[0][price_data][unit_amount]"}}`)
	default:
		_, _ = io.WriteString(w, `{"id":"cs_test_a1b2","object":"checkout.session","url":"https://checkout.stripe.com/c/pay/cs_test_a1b2","status":"open","payment_status":"unpaid","amount_total":3998,"currency":"usd","expires_at":1764100000,"mode":"payment"}`)
	}
}

func (s *stripeFake) set(status int) {
	s.mu.Lock()
	s.status = status
	s.forms, s.idem = nil, nil
	s.mu.Unlock()
}

func TestPaymentLinkStripe(t *testing.T) {
	const key = "sk_test_51Secret0000"
	cxBackends(t, func(t *testing.T, e *engine.Engine) {
		fake := &stripeFake{t: t, key: key}
		srv := httptest.NewServer(fake)
		defer srv.Close()
		cred := cxCredential(t, e, "stripe", map[string]string{"secret_key": key, "base_url": srv.URL})
		typ := cxPublish(t, e, "action.payment_link", map[string]any{
			"credential":     cred,
			"amount":         "event.data.amount",
			"currency":       "{{ event.data.currency }}",
			"product_name":   "Order {{ event.data.order_id }} & more",
			"quantity":       2,
			"success_url":    "https://shop.example.com/paid?session={CHECKOUT_SESSION_ID}",
			"cancel_url":     "https://shop.example.com/cart/{{ event.data.order_id }}",
			"order_id":       "{{ event.data.order_id }}",
			"customer_email": "{{ event.data.email }}",
		})
		d := cxRun(t, e, typ, map[string]any{"amount": 1999, "currency": "USD", "order_id": "ord_42", "email": "ann+vip@example.com"})
		out := cxSucceeded(t, d)
		if out["id"] != "cs_test_a1b2" || out["url"] != "https://checkout.stripe.com/c/pay/cs_test_a1b2" || out["payment_status"] != "unpaid" || out["amount_total"] != 3998.0 {
			t.Fatalf("output %v", out)
		}
		fake.mu.Lock()
		form, idem := fake.forms[0], fake.idem[0]
		fake.mu.Unlock()
		want := url.Values{
			"mode":                                          {"payment"},
			"line_items[0][price_data][currency]":           {"usd"},
			"line_items[0][price_data][unit_amount]":        {"1999"},
			"line_items[0][price_data][product_data][name]": {"Order ord_42 & more"},
			"line_items[0][quantity]":                       {"2"},
			"success_url":                                   {"https://shop.example.com/paid?session={CHECKOUT_SESSION_ID}"},
			"cancel_url":                                    {"https://shop.example.com/cart/ord_42"},
			"metadata[order_id]":                            {"ord_42"},
			"client_reference_id":                           {"ord_42"},
			"customer_email":                                {"ann+vip@example.com"},
		}
		if !reflect.DeepEqual(form, want) {
			t.Fatalf("form\n got %v\nwant %v", form, want)
		}
		if idem != d.Run.ID+":act" {
			t.Fatalf("Idempotency-Key %q", idem)
		}
		cxNoSecrets(t, d, key)

		// 5xx: retried with the same Idempotency-Key each time.
		fake.set(http.StatusInternalServerError)
		d = cxRun(t, e, typ, map[string]any{"amount": 500, "currency": "usd", "order_id": "ord_43", "email": "a@example.com"})
		cxFailed(t, d, cxRetried)
		fake.mu.Lock()
		if len(fake.idem) != cxRetried || fake.idem[0] != d.Run.ID+":act" || fake.idem[1] != fake.idem[0] || fake.idem[2] != fake.idem[0] {
			t.Errorf("idempotency keys %v", fake.idem)
		}
		fake.mu.Unlock()
		cxNoSecrets(t, d, key)

		// 4xx: permanent.
		fake.set(http.StatusBadRequest)
		d = cxRun(t, e, typ, map[string]any{"amount": 500, "currency": "usd", "order_id": "ord_44", "email": "a@example.com"})
		if s := cxFailed(t, d, 1); !strings.Contains(s.Error, "Invalid integer") {
			t.Fatalf("error %q", s.Error)
		}
		// A fractional amount never reaches Stripe.
		fake.set(0)
		before := fake.hits.Load()
		d = cxRun(t, e, typ, map[string]any{"amount": 19.99, "currency": "usd", "order_id": "ord_45", "email": "a@example.com"})
		if s := cxFailed(t, d, 1); !strings.Contains(s.Error, "whole number") || fake.hits.Load() != before {
			t.Fatalf("error %q", s.Error)
		}
		// So does a bad email.
		d = cxRun(t, e, typ, map[string]any{"amount": 100, "currency": "usd", "order_id": "ord_46", "email": "not an email"})
		if s := cxFailed(t, d, 1); !strings.Contains(s.Error, "email") || fake.hits.Load() != before {
			t.Fatalf("error %q", s.Error)
		}
	})
}
