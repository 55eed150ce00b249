package nodes

import (
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/opsflow/opsflow/engine"
)

func TestPaymentLinkStripe(t *testing.T) {
	const key = "sk_test_51Secret0000"
	cxBackends(t, func(t *testing.T, e *engine.Engine) {
		sb := cxSandbox(t)
		sessions := func() (forms []url.Values, idem []string) {
			for _, r := range sb.Requests("/v1/checkout/sessions") {
				if r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer "+key || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
					t.Errorf("%s %s, headers %v", r.Method, r.Path, r.Header)
				}
				f, err := url.ParseQuery(r.Body)
				if err != nil {
					t.Errorf("body %q: %v", r.Body, err)
				}
				forms, idem = append(forms, f), append(idem, r.Header.Get("Idempotency-Key"))
			}
			return forms, idem
		}
		cred := cxCredential(t, e, "stripe", map[string]string{"secret_key": key, "base_url": sb.URL})
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
		if out["id"] != "cs_test_1" || out["url"] != "https://checkout.stripe.com/c/pay/cs_test_1" || out["payment_status"] != "unpaid" || out["amount_total"] != 3998.0 || out["currency"] != "usd" {
			t.Fatalf("output %v", out)
		}
		forms, idems := sessions()
		form, idem := forms[0], idems[0]
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
		sb.FailWith(http.StatusInternalServerError, `{"error":{"type":"api_error","message":"An unknown error occurred"}}`)
		d = cxRun(t, e, typ, map[string]any{"amount": 500, "currency": "usd", "order_id": "ord_43", "email": "a@example.com"})
		cxFailed(t, d, cxRetried)
		if _, idems := sessions(); len(idems) != 1+cxRetried || idems[1] != d.Run.ID+":act" || idems[2] != idems[1] || idems[3] != idems[1] {
			t.Errorf("idempotency keys %v", idems)
		}
		cxNoSecrets(t, d, key)

		// 4xx: permanent.
		sb.FailWith(http.StatusBadRequest, `{"error":{"type":"invalid_request_error","message":"Invalid integer: abc","param":"line_items[0][price_data][unit_amount]"}}`)
		d = cxRun(t, e, typ, map[string]any{"amount": 500, "currency": "usd", "order_id": "ord_44", "email": "a@example.com"})
		if s := cxFailed(t, d, 1); !strings.Contains(s.Error, "Invalid integer") {
			t.Fatalf("error %q", s.Error)
		}
		// A fractional amount never reaches Stripe.
		sb.FailWith(0, "")
		before := len(sb.Requests(""))
		d = cxRun(t, e, typ, map[string]any{"amount": 19.99, "currency": "usd", "order_id": "ord_45", "email": "a@example.com"})
		if s := cxFailed(t, d, 1); !strings.Contains(s.Error, "whole number") || len(sb.Requests("")) != before {
			t.Fatalf("error %q", s.Error)
		}
		// So does a bad email.
		d = cxRun(t, e, typ, map[string]any{"amount": 100, "currency": "usd", "order_id": "ord_46", "email": "not an email"})
		if s := cxFailed(t, d, 1); !strings.Contains(s.Error, "email") || len(sb.Requests("")) != before {
			t.Fatalf("error %q", s.Error)
		}
	})
}
