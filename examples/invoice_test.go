package examples_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

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
	created := r.prov.Requests("/v1/invoices")
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
	items := r.prov.Requests("/v1/invoiceitems")
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
		issued := r.prov.Requests("/einvoice/api/v1/invoices")
		if len(issued) != 2 || issued[1].Method != "POST" || issued[1].Header.Get("Authorization") != "Bearer einv-tok" {
			t.Fatalf("e-invoice calls %+v", issued)
		}
		var body map[string]any
		json.Unmarshal([]byte(issued[1].Body), &body)
		// 1299.00 at 6% and 2 × 100.00 at 13%, prices including tax: 73.53 + 23.01 tax.
		if body["total_amount"] != 149900.0 || body["total_tax"] != 9654.0 || body["buyer"].(map[string]any)["tax_id"] != "91330106MA2KXXXX1Q" {
			t.Errorf("e-invoice request %s", issued[1].Body)
		}
		crm := r.prov.Requests("/crm/orders/SO-50231")
		if len(crm) != 1 || crm[0].Method != "PATCH" || !strings.Contains(crm[0].Body, `"invoice_number":"24332000000001234567"`) || !strings.Contains(crm[0].Body, "ei_T1.pdf") {
			t.Errorf("CRM update %+v", crm)
		}
		mails := r.prov.MailTo("finance@yunqi.example.cn")
		if len(mails) != 1 || !strings.Contains(mails[0].Data, "invoice 24332000000001234567 for order SO-50231") || !strings.Contains(mails[0].Data, "https://einvoice.example.cn/pdf/ei_T1.pdf") || !strings.Contains(mails[0].Data, "1499 CNY") {
			t.Errorf("email %+v", mails)
		}
	}
}
