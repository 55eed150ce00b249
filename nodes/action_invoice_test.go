package nodes

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/store"
)

// stripeBilling is a Stripe stand-in that keeps state the way Stripe does: customers, tax rates,
// invoices with their items, credit notes, and responses to Idempotency-Keys, answering in
// Stripe's form-encoded request / JSON response format.
type stripeBilling struct {
	t   *testing.T
	key string

	mu        sync.Mutex
	calls     []stripeCall
	idem      map[string]string // Idempotency-Key → response body
	customers []map[string]any
	taxRates  []map[string]any
	invoices  []map[string]any
	items     []map[string]any
	notes     []map[string]any
	// fail answers "METHOD path" with a status that many times, before doing anything.
	fail map[string]struct{ status, times int }
}

type stripeCall struct {
	Method, Path string
	Form         url.Values // query for GET, body for POST
	Idem         string
}

func newStripeBilling(t *testing.T, key string) *stripeBilling {
	return &stripeBilling{t: t, key: key, idem: map[string]string{}, fail: map[string]struct{ status, times int }{},
		taxRates: []map[string]any{
			{"id": "txr_6incl", "object": "tax_rate", "percentage": 6.0, "inclusive": true, "active": true, "display_name": "VAT"},
			{"id": "txr_13excl", "object": "tax_rate", "percentage": 13.0, "inclusive": false, "active": true, "display_name": "VAT"},
		}}
}

func (s *stripeBilling) failNext(method, path string, status, times int) {
	s.mu.Lock()
	s.fail[method+" "+path] = struct{ status, times int }{status, times}
	s.mu.Unlock()
}

// forget drops every remembered Idempotency-Key, as Stripe does after 24 hours.
func (s *stripeBilling) forget() {
	s.mu.Lock()
	s.idem = map[string]string{}
	s.mu.Unlock()
}

func (s *stripeBilling) callList() []stripeCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]stripeCall(nil), s.calls...)
}

func (s *stripeBilling) count(method, path string) int {
	n := 0
	for _, c := range s.callList() {
		if c.Method == method && c.Path == path {
			n++
		}
	}
	return n
}

func stripeMeta(f url.Values) map[string]any {
	md := map[string]any{}
	for k, v := range f {
		if strings.HasPrefix(k, "metadata[") {
			md[strings.TrimSuffix(strings.TrimPrefix(k, "metadata["), "]")] = v[0]
		}
	}
	return md
}

func (s *stripeBilling) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+s.key {
		s.t.Errorf("%s %s: Authorization %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
	}
	form := r.URL.Query()
	if r.Method == http.MethodPost {
		if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
			s.t.Errorf("%s: Content-Type %q", r.URL.Path, ct)
		}
		raw, _ := io.ReadAll(r.Body)
		var err error
		if form, err = url.ParseQuery(string(raw)); err != nil {
			s.t.Errorf("body %q: %v", raw, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	idem := r.Header.Get("Idempotency-Key")
	s.calls = append(s.calls, stripeCall{r.Method, r.URL.Path, form, idem})
	w.Header().Set("Content-Type", "application/json")
	if f, ok := s.fail[r.Method+" "+r.URL.Path]; ok && f.times > 0 {
		s.fail[r.Method+" "+r.URL.Path] = struct{ status, times int }{f.status, f.times - 1}
		w.WriteHeader(f.status)
		switch {
		case f.status >= 500:
			io.WriteString(w, `{"error":{"type":"api_error","message":"An unknown error occurred"}}`)
		case f.status == http.StatusConflict:
			io.WriteString(w, `{"error":{"type":"idempotency_error","code":"idempotency_key_in_use","message":"There is currently another in-progress request using this Idempotent Key."}}`)
		default:
			io.WriteString(w, `{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such customer: 'cus_gone'","param":"customer"}}`)
		}
		return
	}
	if r.Method == http.MethodPost {
		if idem == "" {
			s.t.Errorf("POST %s without Idempotency-Key", r.URL.Path)
		}
		if body, seen := s.idem[idem]; seen {
			w.Header().Set("Idempotent-Replayed", "true")
			io.WriteString(w, body)
			return
		}
	}
	out, status := s.handle(r.Method, r.URL.Path, form)
	b, _ := json.Marshal(out)
	if r.Method == http.MethodPost && status == http.StatusOK {
		s.idem[idem] = string(b)
	}
	w.WriteHeader(status)
	w.Write(b)
}

func list(items []map[string]any) map[string]any {
	if items == nil {
		items = []map[string]any{}
	}
	return map[string]any{"object": "list", "has_more": false, "data": items}
}

// handle runs one request against the state (s.mu held).
func (s *stripeBilling) handle(method, path string, f url.Values) (any, int) {
	parts := strings.Split(strings.TrimPrefix(path, "/v1/"), "/")
	switch {
	case method == "GET" && path == "/v1/invoices/search":
		var hits []map[string]any
		for _, inv := range s.invoices {
			if f.Get("query") == fmt.Sprintf("metadata['opsflow_step']:'%s'", inv["metadata"].(map[string]any)["opsflow_step"]) {
				hits = append(hits, inv)
			}
		}
		return list(hits), 200
	case method == "GET" && path == "/v1/customers":
		var hits []map[string]any
		for _, c := range s.customers {
			if c["email"] == f.Get("email") {
				hits = append(hits, c)
			}
		}
		return list(hits), 200
	case method == "POST" && path == "/v1/customers":
		c := map[string]any{"id": fmt.Sprintf("cus_%d", len(s.customers)+1), "object": "customer", "email": f.Get("email"), "name": f.Get("name"), "metadata": stripeMeta(f)}
		s.customers = append(s.customers, c)
		return c, 200
	case method == "GET" && path == "/v1/tax_rates":
		var hits []map[string]any
		for _, r := range s.taxRates {
			if fmt.Sprint(r["inclusive"]) == f.Get("inclusive") && r["active"] == true {
				hits = append(hits, r)
			}
		}
		return list(hits), 200
	case method == "POST" && path == "/v1/tax_rates":
		var pct float64
		fmt.Sscan(f.Get("percentage"), &pct)
		r := map[string]any{"id": fmt.Sprintf("txr_new%d", len(s.taxRates)+1), "object": "tax_rate", "percentage": pct, "inclusive": f.Get("inclusive") == "true", "active": true, "display_name": f.Get("display_name")}
		s.taxRates = append(s.taxRates, r)
		return r, 200
	case method == "POST" && path == "/v1/invoices":
		inv := map[string]any{"id": fmt.Sprintf("in_%d", len(s.invoices)+1), "object": "invoice", "customer": f.Get("customer"), "currency": f.Get("currency"),
			"status": "draft", "number": nil, "total": 0, "total_excluding_tax": 0, "amount_remaining": 0, "invoice_pdf": nil, "hosted_invoice_url": nil,
			"collection_method": f.Get("collection_method"), "description": f.Get("description"), "metadata": stripeMeta(f)}
		s.invoices = append(s.invoices, inv)
		return inv, 200
	case method == "GET" && path == "/v1/invoiceitems":
		var hits []map[string]any
		for _, it := range s.items {
			if it["invoice"] == f.Get("invoice") {
				hits = append(hits, it)
			}
		}
		return list(hits), 200
	case method == "POST" && path == "/v1/invoiceitems":
		inv := s.invoice(f.Get("invoice"))
		if inv == nil || inv["status"] != "draft" {
			return map[string]any{"error": map[string]any{"message": "You can only add invoice items to draft invoices."}}, 400
		}
		var q, unit int64
		fmt.Sscan(f.Get("quantity"), &q)
		fmt.Sscan(f.Get("unit_amount_decimal"), &unit)
		it := map[string]any{"id": fmt.Sprintf("ii_%d", len(s.items)+1), "object": "invoiceitem", "invoice": f.Get("invoice"), "amount": q * unit,
			"tax_rates": f["tax_rates[0]"], "metadata": stripeMeta(f)}
		s.items = append(s.items, it)
		// Stripe's totals: tax per item from its tax rate, rounded to the minor unit.
		var total, excl int64
		for _, it := range s.items {
			if it["invoice"] != inv["id"] {
				continue
			}
			amount := it["amount"].(int64)
			var pct float64
			var incl bool
			if ids, _ := it["tax_rates"].([]string); len(ids) > 0 {
				for _, r := range s.taxRates {
					if r["id"] == ids[0] {
						pct, incl = r["percentage"].(float64), r["inclusive"].(bool)
					}
				}
			}
			if incl {
				tax := int64(math.Round(float64(amount) * pct / (100 + pct)))
				total, excl = total+amount, excl+amount-tax
			} else {
				tax := int64(math.Round(float64(amount) * pct / 100))
				total, excl = total+amount+tax, excl+amount
			}
		}
		inv["total"], inv["total_excluding_tax"], inv["amount_remaining"] = total, excl, total
		return it, 200
	case method == "POST" && len(parts) == 3 && parts[0] == "invoices":
		inv := s.invoice(parts[1])
		if inv == nil {
			return map[string]any{"error": map[string]any{"message": "No such invoice"}}, 404
		}
		switch parts[2] {
		case "finalize":
			if inv["status"] != "draft" {
				return map[string]any{"error": map[string]any{"message": "This invoice is already finalized."}}, 400
			}
			inv["status"], inv["number"] = "open", fmt.Sprintf("ACME-%04d", len(s.invoices))
			inv["invoice_pdf"] = "https://pay.stripe.com/invoice/acct_1/" + parts[1] + "/pdf"
			inv["hosted_invoice_url"] = "https://invoice.stripe.com/i/acct_1/" + parts[1]
		case "pay":
			if f.Get("paid_out_of_band") != "true" || inv["status"] != "open" {
				return map[string]any{"error": map[string]any{"message": "Invoice is not open."}}, 400
			}
			inv["status"], inv["amount_remaining"] = "paid", int64(0)
		case "send":
			if inv["status"] == "draft" {
				return map[string]any{"error": map[string]any{"message": "You can only send finalized invoices."}}, 400
			}
			inv["sent_count"], _ = inv["sent_count"].(int)
			inv["sent_count"] = inv["sent_count"].(int) + 1
		}
		return inv, 200
	case method == "POST" && len(parts) == 2 && parts[0] == "invoices":
		inv := s.invoice(parts[1])
		for k, v := range stripeMeta(f) {
			inv["metadata"].(map[string]any)[k] = v
		}
		return inv, 200
	case method == "GET" && len(parts) == 2 && parts[0] == "invoices":
		if inv := s.invoice(parts[1]); inv != nil {
			return inv, 200
		}
		return map[string]any{"error": map[string]any{"message": "No such invoice"}}, 404
	case method == "GET" && path == "/v1/credit_notes":
		var hits []map[string]any
		for _, n := range s.notes {
			if n["invoice"] == f.Get("invoice") {
				hits = append(hits, n)
			}
		}
		return list(hits), 200
	case method == "POST" && path == "/v1/credit_notes":
		inv := s.invoice(f.Get("invoice"))
		var amount, oob int64
		fmt.Sscan(f.Get("amount"), &amount)
		fmt.Sscan(f.Get("out_of_band_amount"), &oob)
		remaining := inv["amount_remaining"].(int64)
		if post := amount - min(amount, remaining); post != oob {
			return map[string]any{"error": map[string]any{"message": "The sum of credit amount, refund amount and out of band amount must equal the credit note's post-payment amount."}}, 400
		}
		inv["amount_remaining"] = remaining - min(amount, remaining)
		n := map[string]any{"id": fmt.Sprintf("cn_%d", len(s.notes)+1), "object": "credit_note", "invoice": inv["id"], "customer": inv["customer"], "currency": inv["currency"],
			"number": fmt.Sprintf("%s-CN-%02d", inv["number"], len(s.notes)+1), "status": "issued", "total": amount, "memo": f.Get("memo"),
			"pdf": "https://pay.stripe.com/credit_notes/acct_1/cn/pdf", "metadata": stripeMeta(f)}
		s.notes = append(s.notes, n)
		return n, 200
	}
	s.t.Errorf("unexpected %s %s %v", method, path, f)
	return map[string]any{"error": map[string]any{"message": "Unrecognized request URL"}}, 404
}

func (s *stripeBilling) invoice(id string) map[string]any {
	for _, inv := range s.invoices {
		if inv["id"] == id {
			return inv
		}
	}
	return nil
}

// invoiceFlowCfg is an invoice for two lines, 13% and 6%, prices including tax.
func invoiceFlowCfg(cred string) map[string]any {
	return map[string]any{
		"credential":         cred,
		"order_id":           "{{ event.data.order_id }}",
		"currency":           "{{ event.data.currency }}",
		"lines":              `map(event.data.lines, ({"description": .title, "quantity": .qty, "unit_amount": .price, "tax_rate": .vat}))`,
		"prices_include_tax": true,
		"customer_email":     "{{ event.data.email }}",
		"customer_name":      "{{ event.data.name }}",
		"memo":               "Order {{ event.data.order_id }}",
		"mark_paid":          true,
	}
}

func invoiceEvent(order string) map[string]any {
	return map[string]any{"order_id": order, "currency": "CNY", "email": "li.wei@example.cn", "name": "Li Wei",
		"lines": []any{
			map[string]any{"title": "Annual plan (card 4111 1111 1111 1111)", "qty": 1, "price": 10000, "vat": 13},
			map[string]any{"title": "Onboarding", "qty": 3, "price": 3333, "vat": 6},
		}}
}

func TestInvoiceStripe(t *testing.T) {
	const key = "sk_test_51InvoiceSecret"
	cxBackends(t, func(t *testing.T, e *engine.Engine) {
		fake := newStripeBilling(t, key)
		srv := httptest.NewServer(fake)
		defer srv.Close()
		cred := cxCredential(t, e, "stripe", map[string]string{"secret_key": key, "base_url": srv.URL, "api_version": "2024-06-20"})
		typ := cxPublish(t, e, "action.invoice", invoiceFlowCfg(cred))
		d := cxRun(t, e, typ, invoiceEvent("SO-1"))
		out := cxSucceeded(t, d)
		want := map[string]any{"provider": "stripe", "operation": "invoice", "id": "in_1", "number": "ACME-0001", "status": "paid", "total": 19999.0, "tax": 1716.0,
			"currency": "cny", "pdf_url": "https://pay.stripe.com/invoice/acct_1/in_1/pdf", "hosted_url": "https://invoice.stripe.com/i/acct_1/in_1", "customer": "cus_1"}
		if !reflect.DeepEqual(out, want) {
			t.Fatalf("output\n got %v\nwant %v", out, want)
		}
		k := d.Run.ID + ":act"
		calls := fake.callList()
		var seq []string
		for _, c := range calls {
			seq = append(seq, c.Method+" "+c.Path+" "+c.Idem)
		}
		wantSeq := []string{
			"GET /v1/invoices/search ",
			"GET /v1/customers ",
			"POST /v1/customers " + k + ":customer",
			"POST /v1/invoices " + k + ":invoice",
			"GET /v1/tax_rates ",
			"POST /v1/tax_rates " + k + ":tax_rate:13:true",
			"POST /v1/invoiceitems " + k + ":item:0",
			"POST /v1/invoiceitems " + k + ":item:1",
			"POST /v1/invoices/in_1/finalize " + k + ":finalize",
			"POST /v1/invoices/in_1/pay " + k + ":pay",
			"POST /v1/invoices/in_1/send " + k + ":send",
			"POST /v1/invoices/in_1 " + k + ":sent",
		}
		if !reflect.DeepEqual(seq, wantSeq) {
			t.Fatalf("calls\n got %q\nwant %q", seq, wantSeq)
		}
		forms := []url.Values{
			{"query": {"metadata['opsflow_step']:'" + k + "'"}, "limit": {"1"}},
			{"email": {"li.wei@example.cn"}, "limit": {"1"}},
			{"email": {"li.wei@example.cn"}, "name": {"Li Wei"}, "metadata[opsflow_step]": {k}},
			{"customer": {"cus_1"}, "currency": {"cny"}, "collection_method": {"send_invoice"}, "days_until_due": {"30"}, "auto_advance": {"false"},
				"pending_invoice_items_behavior": {"exclude"}, "metadata[opsflow_step]": {k}, "metadata[order_id]": {"SO-1"}, "description": {"Order SO-1"}},
			{"active": {"true"}, "inclusive": {"true"}, "limit": {"100"}},
			{"display_name": {"VAT"}, "percentage": {"13"}, "inclusive": {"true"}},
			// The card number in the description is masked before it reaches Stripe.
			{"customer": {"cus_1"}, "invoice": {"in_1"}, "currency": {"cny"}, "description": {"Annual plan (card 411111******1111)"}, "quantity": {"1"},
				"unit_amount_decimal": {"10000"}, "tax_rates[0]": {"txr_new3"}, "metadata[opsflow_step]": {k}, "metadata[opsflow_line]": {"0"}},
			{"customer": {"cus_1"}, "invoice": {"in_1"}, "currency": {"cny"}, "description": {"Onboarding"}, "quantity": {"3"},
				"unit_amount_decimal": {"3333"}, "tax_rates[0]": {"txr_6incl"}, "metadata[opsflow_step]": {k}, "metadata[opsflow_line]": {"1"}},
			{"auto_advance": {"false"}},
			{"paid_out_of_band": {"true"}},
			{},
			{"metadata[opsflow_sent]": {"true"}},
		}
		for i, f := range forms {
			if !reflect.DeepEqual(calls[i].Form, f) {
				t.Errorf("%s form\n got %v\nwant %v", seq[i], calls[i].Form, f)
			}
		}
		for _, c := range calls {
			if strings.Contains(fmt.Sprint(c.Form), "4111 1111") {
				t.Errorf("a card number reached Stripe: %v", c.Form)
			}
		}
		cxNoSecrets(t, d, key)

		// A refund: credit note for part of the paid invoice, the refund having happened on the payment.
		cnTyp := cxPublish(t, e, "action.invoice", map[string]any{"credential": cred, "operation": "credit_note", "currency": "cny",
			"invoice_id": "{{ event.data.invoice }}", "amount": "event.data.refunded", "memo": "Refund for {{ event.data.order_id }}", "order_id": "{{ event.data.order_id }}"})
		d = cxRun(t, e, cnTyp, map[string]any{"invoice": "in_1", "refunded": 5000, "order_id": "SO-1"})
		out = cxSucceeded(t, d)
		if out["id"] != "cn_1" || out["number"] != "ACME-0001-CN-01" || out["total"] != 5000.0 || out["invoice_id"] != "in_1" || out["pdf_url"] != "https://pay.stripe.com/credit_notes/acct_1/cn/pdf" {
			t.Fatalf("credit note output %v", out)
		}
		calls = fake.callList()
		last := calls[len(calls)-1]
		k = d.Run.ID + ":act"
		wantCN := url.Values{"invoice": {"in_1"}, "amount": {"5000"}, "out_of_band_amount": {"5000"}, "memo": {"Refund for SO-1"},
			"metadata[opsflow_step]": {k}, "metadata[order_id]": {"SO-1"}}
		if last.Path != "/v1/credit_notes" || last.Idem != k+":credit_note" || !reflect.DeepEqual(last.Form, wantCN) {
			t.Fatalf("credit note request %+v", last)
		}
		cxNoSecrets(t, d, key)
	})
}

// An open (unpaid) invoice credited in full: no amount given, nothing out of band.
func TestInvoiceStripeCreditNoteOpenInvoice(t *testing.T) {
	const key = "sk_test_open"
	e := enginetest.New(t, enginetest.Embedded)
	fake := newStripeBilling(t, key)
	srv := httptest.NewServer(fake)
	defer srv.Close()
	cred := cxCredential(t, e, "stripe", map[string]string{"secret_key": key, "base_url": srv.URL})
	cfg := invoiceFlowCfg(cred)
	cfg["mark_paid"] = false
	cfg["send"] = false
	cfg["customer"] = "cus_existing"
	d := cxRun(t, e, cxPublish(t, e, "action.invoice", cfg), invoiceEvent("SO-2"))
	if out := cxSucceeded(t, d); out["status"] != "open" || out["customer"] != "cus_existing" {
		t.Fatalf("output %v", out)
	}
	if fake.count("POST", "/v1/invoices/in_1/send") != 0 || fake.count("GET", "/v1/customers") != 0 {
		t.Errorf("sent or looked the customer up: %v", fake.callList())
	}
	d = cxRun(t, e, cxPublish(t, e, "action.invoice", map[string]any{"credential": cred, "operation": "credit_note", "currency": "cny", "invoice_id": "in_1"}), map[string]any{})
	if out := cxSucceeded(t, d); out["total"] != 19999.0 {
		t.Fatalf("output %v", out)
	}
	calls := fake.callList()
	if f := calls[len(calls)-1].Form; f.Get("amount") != "19999" || f.Has("out_of_band_amount") {
		t.Errorf("credit note form %v", f)
	}
}

// A step that fails after creating the invoice, retried after Stripe has forgotten the
// Idempotency-Keys, finishes the same invoice; retrying the failed run later does too.
func TestInvoiceStripeRetryDoesNotIssueTwice(t *testing.T) {
	const key = "sk_test_retry"
	e := enginetest.New(t, enginetest.Embedded)
	fake := newStripeBilling(t, key)
	srv := httptest.NewServer(fake)
	defer srv.Close()
	cred := cxCredential(t, e, "stripe", map[string]string{"secret_key": key, "base_url": srv.URL})
	typ := cxPublish(t, e, "action.invoice", invoiceFlowCfg(cred))

	// Every attempt fails at send: the run fails after cxRetried attempts.
	fake.failNext("POST", "/v1/invoices/in_1/send", http.StatusBadGateway, cxRetried)
	d := cxRun(t, e, typ, invoiceEvent("SO-3"))
	cxFailed(t, d, cxRetried)
	fake.forget()
	if _, err := e.RetryRun(context.Background(), d.Run.ID, "failed"); err != nil {
		t.Fatal(err)
	}
	d = enginetest.WaitRun(t, e, d.Run.ID, 20*time.Second)
	if d.Run.Status != store.RunSucceeded {
		t.Fatalf("retried run %s: %s", d.Run.Status, d.Run.Error)
	}
	for path, want := range map[string]int{
		"/v1/invoices": 1, "/v1/customers": 1, "/v1/invoiceitems": 2, "/v1/invoices/in_1/finalize": 1, "/v1/invoices/in_1/pay": 1,
		"/v1/invoices/in_1/send": cxRetried + 1, "/v1/invoices/in_1": 1, "/v1/tax_rates": 1,
	} {
		if n := fake.count("POST", path); n != want {
			t.Errorf("POST %s %d times, want %d", path, n, want)
		}
	}
	if n := fake.count("GET", "/v1/invoices/search"); n != cxRetried+1 {
		t.Errorf("looked the invoice up %d times, want before every attempt", n)
	}
	fake.mu.Lock()
	if len(fake.invoices) != 1 || fake.invoices[0]["sent_count"] != 1 || len(fake.items) != 2 {
		t.Errorf("invoices %v, items %v", fake.invoices, fake.items)
	}
	fake.mu.Unlock()

	// Failing between two invoice items: the retry adds only the missing one.
	fake2 := newStripeBilling(t, key)
	srv2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The second item's first request fails; Stripe forgets keys between attempts.
		if r.Method == "POST" && r.URL.Path == "/v1/invoiceitems" && r.Header.Get("Idempotency-Key") != "" && strings.HasSuffix(r.Header.Get("Idempotency-Key"), ":item:1") && fake2.count("POST", "/v1/invoiceitems") == 1 {
			fake2.forget()
			fake2.failNext("POST", "/v1/invoiceitems", http.StatusServiceUnavailable, 1)
		}
		fake2.ServeHTTP(w, r)
	}))
	defer srv2.Close()
	cred2 := cxCredential(t, e, "stripe", map[string]string{"secret_key": key, "base_url": srv2.URL})
	d = cxRun(t, e, cxPublish(t, e, "action.invoice", invoiceFlowCfg(cred2)), invoiceEvent("SO-4"))
	cxSucceeded(t, d)
	fake2.mu.Lock()
	defer fake2.mu.Unlock()
	if len(fake2.invoices) != 1 || len(fake2.items) != 2 || fake2.invoices[0]["total"] != int64(19999) {
		t.Errorf("invoices %v, items %v", fake2.invoices, fake2.items)
	}
}

func TestInvoiceStripeErrors(t *testing.T) {
	const key = "sk_test_errors"
	e := enginetest.New(t, enginetest.Embedded)
	fake := newStripeBilling(t, key)
	srv := httptest.NewServer(fake)
	defer srv.Close()
	cred := cxCredential(t, e, "stripe", map[string]string{"secret_key": key, "base_url": srv.URL})
	typ := cxPublish(t, e, "action.invoice", invoiceFlowCfg(cred))

	// 4xx: the provider's message, at once.
	fake.failNext("POST", "/v1/invoices", http.StatusBadRequest, 1)
	d := cxRun(t, e, typ, invoiceEvent("SO-5"))
	if s := cxFailed(t, d, 1); !strings.Contains(s.Error, "Stripe answered 400") || !strings.Contains(s.Error, "No such customer") {
		t.Fatalf("error %q", s.Error)
	}
	// 5xx: retried, each time with the same keys.
	fake.failNext("POST", "/v1/invoices", http.StatusInternalServerError, cxRetried)
	d = cxRun(t, e, typ, invoiceEvent("SO-6"))
	cxFailed(t, d, cxRetried)
	var keys []string
	for _, c := range fake.callList() {
		if c.Method == "POST" && c.Path == "/v1/invoices" {
			keys = append(keys, c.Idem)
		}
	}
	if len(keys) != 1+cxRetried || keys[1] != d.Run.ID+":act:invoice" || keys[2] != keys[1] || keys[3] != keys[1] {
		t.Errorf("keys %v", keys)
	}
	// 409 (the same key still in flight) is retried too.
	fake.failNext("POST", "/v1/invoices", http.StatusConflict, cxRetried)
	cxFailed(t, cxRun(t, e, typ, invoiceEvent("SO-7")), cxRetried)
	cxNoSecrets(t, d, key)

	// Bad input never reaches Stripe.
	before := len(fake.callList())
	for _, c := range []struct {
		lines any
		want  string
	}{
		{[]any{map[string]any{"title": "x", "qty": 1, "price": 19.99, "vat": 13}}, "unit_amount must be a whole number"},
		{[]any{map[string]any{"title": "x", "qty": 0, "price": 100, "vat": 13}}, "quantity must be"},
		{[]any{map[string]any{"title": "x", "qty": 1, "price": 100, "vat": 13.333}}, "at most two decimals"},
		{[]any{map[string]any{"title": "", "qty": 1, "price": 100, "vat": 13}}, "description is empty"},
		{[]any{}, "no order lines"},
	} {
		ev := invoiceEvent("SO-8")
		ev["lines"] = c.lines
		if s := cxFailed(t, cxRun(t, e, typ, ev), 1); !strings.Contains(s.Error, c.want) {
			t.Errorf("lines %v: error %q, want %q", c.lines, s.Error, c.want)
		}
	}
	ev := invoiceEvent("SO-9")
	ev["email"] = "not an email"
	if s := cxFailed(t, cxRun(t, e, typ, ev), 1); !strings.Contains(s.Error, "email") {
		t.Errorf("error %q", s.Error)
	}
	if n := len(fake.callList()); n != before {
		t.Errorf("%d requests for bad input", n-before)
	}
}

// eInvoiceFake is a Chinese e-invoice service speaking the JSON format action.invoice documents.
type eInvoiceFake struct {
	t   *testing.T
	key string

	mu       sync.Mutex
	posts    []map[string]any // decoded bodies
	idems    []string
	lookups  int
	invoices []map[string]any
	status   int    // when set, POSTs answer it
	issueAs  string // status a new invoice starts in ("issued" by default)
	lost     bool   // the next POST is processed but answered 502
}

func (f *eInvoiceFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+f.key {
		f.t.Errorf("Authorization %q", r.Header.Get("Authorization"))
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method == "GET" && r.URL.Path == "/api/v1/invoices" {
		f.lookups++
		var hits []map[string]any
		for _, inv := range f.invoices {
			if inv["request_id"] == r.URL.Query().Get("request_id") {
				if inv["status"] == "issuing" && f.lookups > 1 { // issuing finishes after a while
					inv["status"], inv["invoice_number"], inv["pdf_url"] = "issued", "24312000000000000002", "https://einvoice.example.cn/pdf/2.pdf"
				}
				hits = append(hits, inv)
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"data": append([]map[string]any{}, hits...)})
		return
	}
	if r.Method != "POST" || r.Header.Get("Content-Type") != "application/json" {
		f.t.Errorf("%s %s (%s)", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		f.t.Errorf("body: %v", err)
	}
	f.posts = append(f.posts, body)
	f.idems = append(f.idems, r.Header.Get("Idempotency-Key"))
	if f.status != 0 {
		w.WriteHeader(f.status)
		io.WriteString(w, `{"code":"INVALID_BUYER_TAX_ID","message":"购买方纳税人识别号格式错误"}`)
		return
	}
	n := len(f.invoices) + 1
	inv := map[string]any{"id": fmt.Sprintf("ei_%d", n), "request_id": body["request_id"], "type": body["type"], "status": "issued",
		"invoice_number": fmt.Sprintf("2431200000000000000%d", n), "pdf_url": fmt.Sprintf("https://einvoice.example.cn/pdf/%d.pdf", n),
		"view_url": fmt.Sprintf("https://einvoice.example.cn/v/%d", n), "total_amount": body["total_amount"], "total_tax": body["total_tax"]}
	if f.issueAs != "" {
		inv["status"], inv["invoice_number"], inv["pdf_url"] = f.issueAs, nil, nil
	}
	if strings.HasSuffix(r.URL.Path, "/red") {
		inv["original_id"] = strings.Split(r.URL.Path, "/")[4]
		inv["total_amount"], inv["total_tax"] = -10000, -1150
	}
	f.invoices = append(f.invoices, inv)
	if f.lost {
		f.lost = false
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	json.NewEncoder(w).Encode(inv)
}

func TestInvoiceEInvoice(t *testing.T) {
	const key = "einv-secret-key-0001"
	cxBackends(t, func(t *testing.T, e *engine.Engine) {
		fake := &eInvoiceFake{t: t, key: key}
		srv := httptest.NewServer(fake)
		defer srv.Close()
		cred := cxCredential(t, e, "cn_einvoice", map[string]string{"base_url": srv.URL + "/api/v1/", "api_key": key, "seller_tax_id": "91310000MA1FL0XX2X", "seller_name": "上海艾克米科技有限公司", "drawer": "王芳"})
		cfg := invoiceFlowCfg(cred)
		cfg["buyer_tax_id"] = "{{ event.data.tax_id }}"
		cfg["invoice_kind"] = "special"
		cfg["lines"] = `map(event.data.lines, ({"description": .title, "quantity": .qty, "unit_amount": .price, "tax_rate": .vat, "tax_code": "3040201990000000000", "unit": "项"}))`
		typ := cxPublish(t, e, "action.invoice", cfg)
		ev := invoiceEvent("SO-10")
		ev["name"], ev["tax_id"] = "北京某某科技有限公司", "91110108MA01ABCD1X"
		d := cxRun(t, e, typ, ev)
		out := cxSucceeded(t, d)
		want := map[string]any{"provider": "cn_einvoice", "operation": "invoice", "id": "ei_1", "number": "24312000000000000001", "status": "issued",
			"total": 19999.0, "tax": 1716.0, "currency": "cny", "pdf_url": "https://einvoice.example.cn/pdf/1.pdf", "hosted_url": "https://einvoice.example.cn/v/1"}
		if !reflect.DeepEqual(out, want) {
			t.Fatalf("output\n got %v\nwant %v", out, want)
		}
		k := d.Run.ID + ":act"
		var wantBody map[string]any
		// 100.00 at 13% incl.: tax 10000×13/113 = 1150.44 → 1150; 3 × 33.33 = 99.99 at 6% incl.: 9999×6/106 = 565.98 → 566.
		json.Unmarshal([]byte(`{"request_id":"`+k+`","type":"blue","invoice_kind":"special","order_id":"SO-10","currency":"CNY",
			"seller":{"tax_id":"91310000MA1FL0XX2X","name":"上海艾克米科技有限公司"},
			"buyer":{"name":"北京某某科技有限公司","tax_id":"91110108MA01ABCD1X","email":"li.wei@example.cn"},
			"prices_include_tax":true,
			"items":[
				{"line":1,"name":"Annual plan (card 411111******1111)","tax_code":"3040201990000000000","spec":"","unit":"项","quantity":1,"unit_price":10000,"amount":10000,"tax_rate":"0.13","tax_amount":1150,"amount_excluding_tax":8850},
				{"line":2,"name":"Onboarding","tax_code":"3040201990000000000","spec":"","unit":"项","quantity":3,"unit_price":3333,"amount":9999,"tax_rate":"0.06","tax_amount":566,"amount_excluding_tax":9433}],
			"total_amount":19999,"total_tax":1716,"total_excluding_tax":18283,
			"remark":"Order SO-10","drawer":"王芳","send_email":true}`), &wantBody)
		fake.mu.Lock()
		if !reflect.DeepEqual(fake.posts[0], wantBody) {
			g, _ := json.Marshal(fake.posts[0])
			t.Errorf("body\n got %s", g)
		}
		if fake.idems[0] != k || fake.lookups != 1 {
			t.Errorf("Idempotency-Key %q, %d lookups", fake.idems[0], fake.lookups)
		}
		fake.mu.Unlock()
		cxNoSecrets(t, d, key)

		// 红字发票 for the whole invoice.
		red := cxPublish(t, e, "action.invoice", map[string]any{"credential": cred, "operation": "credit_note", "currency": "cny",
			"invoice_id": "{{ event.data.invoice }}", "memo": "销货退回 {{ event.data.order_id }}", "order_id": "{{ event.data.order_id }}"})
		d = cxRun(t, e, red, map[string]any{"invoice": "ei_1", "order_id": "SO-10"})
		out = cxSucceeded(t, d)
		if out["operation"] != "credit_note" || out["id"] != "ei_2" || out["invoice_id"] != "ei_1" || out["total"] != -10000.0 || out["number"] != "24312000000000000002" {
			t.Fatalf("red invoice output %v", out)
		}
		fake.mu.Lock()
		if got, _ := json.Marshal(fake.posts[1]); string(got) != `{"order_id":"SO-10","reason":"销货退回 SO-10","request_id":"`+d.Run.ID+`:act","type":"red"}` {
			t.Errorf("red body %s", got)
		}
		fake.mu.Unlock()
		// A partial one: the amount, negative.
		partial := cxPublish(t, e, "action.invoice", map[string]any{"credential": cred, "operation": "credit_note", "currency": "cny", "invoice_id": "ei_1", "amount": "2500"})
		cxSucceeded(t, cxRun(t, e, partial, map[string]any{}))
		fake.mu.Lock()
		if fake.posts[2]["amount"] != -2500.0 || fake.posts[2]["items"] != nil {
			t.Errorf("partial red body %v", fake.posts[2])
		}
		fake.mu.Unlock()
	})
}

func TestInvoiceEInvoiceRetriesAndErrors(t *testing.T) {
	const key = "einv-secret-key-0002"
	e := enginetest.New(t, enginetest.Embedded)
	fake := &eInvoiceFake{t: t, key: key}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	cred := cxCredential(t, e, "cn_einvoice", map[string]string{"base_url": srv.URL + "/api/v1", "api_key": key, "seller_tax_id": "91310000MA1FL0XX2X"})
	typ := cxPublish(t, e, "action.invoice", invoiceFlowCfg(cred))

	// Issued, but the answer was lost: the retry finds it instead of issuing a second one.
	fake.lost = true
	d := cxRun(t, e, typ, invoiceEvent("SO-11"))
	if out := cxSucceeded(t, d); out["id"] != "ei_1" || cxStep(t, d).Attempt != 2 {
		t.Fatalf("output %v after %d attempts", out, cxStep(t, d).Attempt)
	}
	fake.mu.Lock()
	if len(fake.posts) != 1 || len(fake.invoices) != 1 || fake.lookups != 2 {
		t.Errorf("%d POSTs, %d invoices, %d lookups", len(fake.posts), len(fake.invoices), fake.lookups)
	}
	// Still issuing: the run waits and looks again.
	fake.issueAs, fake.lookups = "issuing", 0
	fake.mu.Unlock()
	cfg := invoiceFlowCfg(cred)
	cfg["poll_every"] = "1s"
	d = cxRun(t, e, cxPublish(t, e, "action.invoice", cfg), invoiceEvent("SO-12"))
	if out := cxSucceeded(t, d); out["status"] != "issued" || out["number"] != "24312000000000000002" || out["pdf_url"] != "https://einvoice.example.cn/pdf/2.pdf" {
		t.Fatalf("output %v", out)
	}
	fake.mu.Lock()
	if len(fake.posts) != 2 {
		t.Errorf("%d POSTs", len(fake.posts))
	}
	fake.issueAs = ""

	// 4xx: permanent, with the provider's message.
	fake.status = http.StatusUnprocessableEntity
	fake.mu.Unlock()
	d = cxRun(t, e, typ, invoiceEvent("SO-13"))
	if s := cxFailed(t, d, 1); !strings.Contains(s.Error, "422") || !strings.Contains(s.Error, "购买方纳税人识别号格式错误") {
		t.Fatalf("error %q", s.Error)
	}
	// 5xx: retried with the same key.
	fake.mu.Lock()
	fake.status, fake.idems = http.StatusServiceUnavailable, nil
	fake.mu.Unlock()
	d = cxRun(t, e, typ, invoiceEvent("SO-14"))
	cxFailed(t, d, cxRetried)
	fake.mu.Lock()
	if len(fake.idems) != cxRetried || fake.idems[0] != d.Run.ID+":act" || fake.idems[2] != fake.idems[0] {
		t.Errorf("keys %v", fake.idems)
	}
	fake.status = 0
	fake.mu.Unlock()
	cxNoSecrets(t, d, key)

	// Not in CNY, or without a buyer name: refused before any request.
	ev := invoiceEvent("SO-15")
	ev["currency"] = "usd"
	if s := cxFailed(t, cxRun(t, e, typ, ev), 1); !strings.Contains(s.Error, "issued in cny") {
		t.Errorf("error %q", s.Error)
	}
	ev = invoiceEvent("SO-16")
	ev["name"] = ""
	if s := cxFailed(t, cxRun(t, e, typ, ev), 1); !strings.Contains(s.Error, "buyer name") {
		t.Errorf("error %q", s.Error)
	}
}

func TestInvoiceTaxRounding(t *testing.T) {
	for _, c := range []struct {
		amount, bp      int64
		inclusive       bool
		tax, net, gross int64
	}{
		{10000, 1300, true, 1150, 8850, 10000}, // 1150.44
		{11300, 1300, true, 1300, 10000, 11300},
		{9999, 600, true, 566, 9433, 9999}, // 565.98
		{1, 1300, true, 0, 1, 1},           // 0.115
		{10000, 1300, false, 1300, 10000, 11300},
		{50, 100, false, 1, 50, 51},    // 0.5 rounds away from zero
		{49, 100, false, 0, 49, 49},    // 0.49
		{150, 100, false, 2, 150, 152}, // 1.5
		{10600, 600, true, 600, 10000, 10600},
		{0, 1300, true, 0, 0, 0},
		{12345, 0, false, 0, 12345, 12345},
		{99999999999, 10000, true, 50000000000, 49999999999, 99999999999}, // largest amount at 100%: no overflow
	} {
		tax, net, gross := splitTax(c.amount, c.bp, c.inclusive)
		if tax != c.tax || net != c.net || gross != c.gross {
			t.Errorf("splitTax(%d, %d, %v) = %d, %d, %d; want %d, %d, %d", c.amount, c.bp, c.inclusive, tax, net, gross, c.tax, c.net, c.gross)
		}
	}
	if divRound(-5, 10) != -1 || divRound(-4, 10) != 0 || divRound(5, 10) != 1 {
		t.Error("divRound does not round half away from zero")
	}
	for in, want := range map[any]int64{13: 1300, 6.5: 650, 0.0: 0, "9%": 900, " 3 ": 300, 100: 10000, 0.01: 1, nil: 0} {
		if got, err := taxRateBP(in); err != nil || got != want {
			t.Errorf("taxRateBP(%v) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []any{13.001, -1, 100.5, "thirteen", true} {
		if _, err := taxRateBP(in); err == nil {
			t.Errorf("taxRateBP(%v) accepted", in)
		}
	}
	if fenTaxRate(1300) != "0.13" || fenTaxRate(650) != "0.065" || fenTaxRate(0) != "0" {
		t.Error("fenTaxRate")
	}
}

// Saving checks what each operation needs.
func TestInvoiceCheck(t *testing.T) {
	spec := cxSpec(t, "action.invoice")
	for _, c := range []struct {
		cfg   map[string]any
		field string
	}{
		{map[string]any{"operation": "invoice"}, "lines"},
		{map[string]any{"operation": "credit_note"}, "invoice_id"},
		{map[string]any{"operation": "invoice", "lines": "event.data.lines"}, ""},
		{map[string]any{"operation": "credit_note", "invoice_id": "{{ nodes.invoice.id }}"}, ""},
	} {
		errs := spec.Check(c.cfg)
		if c.field == "" && len(errs) != 0 || c.field != "" && (len(errs) != 1 || errs[0].Field != c.field) {
			t.Errorf("Check(%v) = %v, want a problem with %q", c.cfg, errs, c.field)
		}
	}
}
