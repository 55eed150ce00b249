package examples_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// serveInvoicing answers the invoicing calls of the templates: Stripe Invoicing (customers, tax
// rates, invoices, invoice items) and the Chinese e-invoice API under /einvoice/api/v1, each in
// its own format. It reports whether the request was one of them.
func serveInvoicing(w http.ResponseWriter, method, path, body string) bool {
	inv := func(status string, extra string) string {
		return `{"id":"in_T1","object":"invoice","customer":"cus_T1","currency":"cny","status":"` + status + `","number":"ACME-0001","total":259900,"total_excluding_tax":230000,` +
			`"invoice_pdf":"https://pay.stripe.com/invoice/acct_1/in_T1/pdf","hosted_invoice_url":"https://invoice.stripe.com/i/acct_1/in_T1","metadata":{` + extra + `}}`
	}
	switch {
	case method == "GET" && path == "/v1/invoices/search":
		io.WriteString(w, `{"object":"search_result","data":[],"has_more":false}`)
	case method == "GET" && path == "/v1/customers":
		io.WriteString(w, `{"object":"list","data":[],"has_more":false}`)
	case method == "POST" && path == "/v1/customers":
		io.WriteString(w, `{"id":"cus_T1","object":"customer"}`)
	case method == "GET" && path == "/v1/tax_rates":
		io.WriteString(w, `{"object":"list","data":[{"id":"txr_vat13","object":"tax_rate","percentage":13,"inclusive":true,"active":true}],"has_more":false}`)
	case method == "POST" && path == "/v1/invoices":
		io.WriteString(w, `{"id":"in_T1","object":"invoice","customer":"cus_T1","currency":"cny","status":"draft","number":null,"metadata":{}}`)
	case method == "POST" && path == "/v1/invoiceitems":
		io.WriteString(w, `{"id":"ii_T1","object":"invoiceitem","invoice":"in_T1"}`)
	case method == "POST" && path == "/v1/invoices/in_T1/finalize":
		io.WriteString(w, inv("open", ""))
	case method == "POST" && (path == "/v1/invoices/in_T1/pay" || path == "/v1/invoices/in_T1/send"):
		io.WriteString(w, inv("paid", ""))
	case method == "POST" && path == "/v1/invoices/in_T1":
		io.WriteString(w, inv("paid", `"opsflow_sent":"true"`))
	case method == "GET" && path == "/einvoice/api/v1/invoices":
		io.WriteString(w, `{"data":[]}`)
	case method == "POST" && path == "/einvoice/api/v1/invoices":
		var req struct {
			TotalAmount int64 `json:"total_amount"`
			TotalTax    int64 `json:"total_tax"`
		}
		json.Unmarshal([]byte(body), &req)
		fmt.Fprintf(w, `{"id":"ei_T1","request_id":"x","status":"issued","invoice_number":"24332000000001234567","pdf_url":"https://einvoice.example.cn/pdf/ei_T1.pdf","view_url":"https://einvoice.example.cn/v/ei_T1","total_amount":%d,"total_tax":%d}`,
			req.TotalAmount, req.TotalTax)
	default:
		return false
	}
	return true
}

// checkNewOrderInvoice: the paid order got one Stripe invoice, marked paid and sent; the unpaid none.
func checkNewOrderInvoice(t *testing.T, r *result) {
	paid, unpaid := r.runs[0], r.runs[1]
	if !ran(paid, "invoice") || ran(unpaid, "invoice") {
		t.Fatalf("invoices: paid run %v, unpaid run %v", ran(paid, "invoice"), ran(unpaid, "invoice"))
	}
	out, _ := steps(paid)["invoice"]["output"].(map[string]any)
	if out["number"] != "ACME-0001" || out["status"] != "paid" || out["pdf_url"] != "https://pay.stripe.com/invoice/acct_1/in_T1/pdf" {
		t.Errorf("invoice output %v", out)
	}
	created := r.prov.requests("/v1/invoices")
	var seq []string
	for _, c := range created {
		seq = append(seq, c.Method+" "+c.Path)
	}
	want := "[GET /v1/invoices/search POST /v1/invoices POST /v1/invoices/in_T1/finalize POST /v1/invoices/in_T1/pay POST /v1/invoices/in_T1/send POST /v1/invoices/in_T1]"
	if fmt.Sprint(seq) != want {
		t.Errorf("invoice calls %v", seq)
	}
	for _, c := range created {
		if c.Method == "POST" && c.Path == "/v1/invoices" && c.Header.Get("Idempotency-Key") != paid["id"].(string)+":invoice:invoice" {
			t.Errorf("Idempotency-Key %q", c.Header.Get("Idempotency-Key"))
		}
	}
	items := r.prov.requests("/v1/invoiceitems")
	if len(items) != 1 {
		t.Fatalf("%d invoice items", len(items))
	}
	f, _ := url.ParseQuery(items[0].Body)
	if f.Get("unit_amount_decimal") != "259900" || f.Get("tax_rates[0]") != "txr_vat13" || f.Get("currency") != "cny" || f.Get("description") != "Annual plan (SO-30017)" {
		t.Errorf("invoice item %v", f)
	}
}

func init() {
	templateChecks["payment-confirmed-invoice-crm-email"] = func(t *testing.T, r *result) {
		issued := r.prov.requests("/einvoice/api/v1/invoices")
		if len(issued) != 2 || issued[1].Method != "POST" || issued[1].Header.Get("Authorization") != "Bearer einv-tok" {
			t.Fatalf("e-invoice calls %+v", issued)
		}
		var body map[string]any
		json.Unmarshal([]byte(issued[1].Body), &body)
		// 1299.00 at 6% and 2 × 100.00 at 13%, prices including tax: 73.53 + 23.01 tax.
		if body["total_amount"] != 149900.0 || body["total_tax"] != 9654.0 || body["buyer"].(map[string]any)["tax_id"] != "91330106MA2KXXXX1Q" {
			t.Errorf("e-invoice request %s", issued[1].Body)
		}
		crm := r.prov.requests("/crm/orders/SO-50231")
		if len(crm) != 1 || crm[0].Method != "PATCH" || !strings.Contains(crm[0].Body, `"invoice_number":"24332000000001234567"`) || !strings.Contains(crm[0].Body, "ei_T1.pdf") {
			t.Errorf("CRM update %+v", crm)
		}
		mails := r.mail.to("finance@yunqi.example.cn")
		if len(mails) != 1 || !strings.Contains(mails[0].Data, "invoice 24332000000001234567 for order SO-50231") || !strings.Contains(mails[0].Data, "https://einvoice.example.cn/pdf/ei_T1.pdf") || !strings.Contains(mails[0].Data, "1499 CNY") {
			t.Errorf("email %+v", mails)
		}
	}
}
