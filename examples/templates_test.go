package examples_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine/api"
	"github.com/opsflow/opsflow/engine/api/apitest"
	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/sandbox"
	"github.com/opsflow/opsflow/engine/template"
	"github.com/opsflow/opsflow/examples"
)

// result is what a template's samples produced.
type result struct {
	prov *sandbox.Sandbox
	runs []map[string]any // in the order the samples started them
}

// ran reports whether the run executed the node.
func ran(run map[string]any, nodeID string) bool { return steps(run)[nodeID] != nil }

// credentialData is a working credential of each type, pointed at the local providers.
func credentialData(typ, base, smtpAddr string) map[string]string {
	host, port, _ := strings.Cut(smtpAddr, ":")
	switch typ {
	case "twilio":
		return map[string]string{"account_sid": twilioSID, "auth_token": twilioToken, "from": "+14155550000", "base_url": base}
	case "smtp":
		return map[string]string{"host": host, "port": port, "username": "billing", "password": "pw", "from": "Acme Billing <billing@acme.example>", "tls": "none"}
	case "hubspot":
		return map[string]string{"token": "pat-na1-tok", "base_url": base}
	case "salesforce":
		return map[string]string{"instance_url": base, "access_token": "00Dtok", "api_version": "v61.0"}
	case "stripe":
		return map[string]string{"secret_key": "sk_test_tok", "base_url": base}
	case "dingtalk_robot":
		return map[string]string{"webhook_url": base + "/robot/send?access_token=tok", "secret": "SECtok"}
	case "wecom_robot":
		return map[string]string{"webhook_url": base + "/cgi-bin/webhook/send?key=tok"}
	case "feishu_robot":
		return map[string]string{"webhook_url": base + "/open-apis/bot/v2/hook/tok", "secret": "tok"}
	case "slack_webhook":
		return map[string]string{"webhook_url": base + "/services/T0/B0/tok"}
	case "webhook_secret":
		return map[string]string{"secret": stripeTestSecret}
	case "cn_einvoice":
		return map[string]string{"base_url": base + "/einvoice/api/v1", "api_key": "einv-tok", "seller_tax_id": "91310000MA1FL0XX2X", "seller_name": "Acme (Shanghai) Ltd."}
	}
	return map[string]string{"token": "tok"}
}

// stripeTestSecret signs the Stripe samples the way Stripe signs deliveries.
const stripeTestSecret = "whsec_templates_test_secret"

func stripeSignature(body []byte) string {
	ts := time.Now().Unix()
	m := hmac.New(sha256.New, []byte(stripeTestSecret))
	fmt.Fprintf(m, "%d.%s", ts, body)
	return fmt.Sprintf("t=%d,v1=%s", ts, hex.EncodeToString(m.Sum(nil)))
}

// testParameters shorten a template's waits from days to seconds and point its URLs at the
// local providers.
func testParameters(id, base string) map[string]any {
	return map[string]map[string]any{
		"new-order-payment-link":              {"first_wait": "1s", "second_wait": "1s"},
		"dunning-sms-email-assign":            {"sms_after": "1s", "email_after": "1s", "assign_after": "1s"},
		"payment-confirmed-invoice-crm-email": {"crm_orders_url": base + "/crm/orders"},
		"nightly-reconciliation":              {"crm_orders_url": base + "/api/orders?updated_since=yesterday", "stripe_base": base, "finance_email": "finance@acme.example"},
	}[id]
}

// templateChecks holds what each template must have done after its samples ran, beyond every
// run succeeding.
var templateChecks = map[string]func(t *testing.T, r *result){
	"new-lead-score-assign": func(t *testing.T, r *result) {
		runs := r.runs
		sms := r.prov.Requests("/Messages.json")
		if len(sms) != 2 {
			t.Fatalf("%d SMS sent, want one per lead", len(sms))
		}
		var enterprise string
		for _, m := range sms {
			if strings.Contains(m.Body, "To=%2B8613912345678") {
				enterprise = m.Body
			}
		}
		if !strings.Contains(enterprise, "Hi+Zhang+Min") || !strings.Contains(enterprise, "interest+in+Acme") || !strings.Contains(enterprise, "Enterprise+Sales") {
			t.Errorf("enterprise welcome SMS: %q", enterprise)
		}
		if steps(runs[0])["assign_enterprise"] == nil || steps(runs[1])["assign_smb"] == nil {
			t.Errorf("leads went to the wrong teams: %v / %v", runs[0]["_raw"], runs[1]["_raw"])
		}
	},
}

func TestGalleryTemplatesEndToEnd(t *testing.T) {
	gallery, err := template.Gallery(examples.Templates, "templates")
	if err != nil {
		t.Fatal(err)
	}
	if len(gallery) == 0 {
		t.Fatal("empty gallery")
	}
	for _, tmpl := range gallery {
		t.Run(tmpl.ID, func(t *testing.T) {
			check := templateChecks[tmpl.ID]
			if check == nil {
				t.Fatalf("template %s has no end-to-end check in templateChecks", tmpl.ID)
			}
			e := enginetest.New(t, enginetest.Embedded)
			srv := apitest.NewServer(t, api.New(e, api.Options{Templates: gallery, Tokens: []string{testToken}}))
			defer srv.Close()
			c := client{t, srv.URL}
			prov := newSandbox(t)
			for i, need := range tmpl.Teams {
				team := c.do("POST", "/api/v1/teams", map[string]any{"name": need.Name}, 201)
				for j := 0; j < 2; j++ {
					c.do("POST", "/api/v1/teams/"+team["id"].(string)+"/members", map[string]any{
						"name": fmt.Sprintf("%s %d", need.Name, j+1), "email": fmt.Sprintf("agent%d%d@example.com", i, j), "phone": fmt.Sprintf("+1415555%02d%02d", i, j)}, 201)
				}
			}
			for _, need := range tmpl.Credentials {
				c.do("POST", "/api/v1/credentials", map[string]any{"name": need.Name, "type": need.Type, "data": credentialData(need.Type, prov.URL, prov.SMTPAddr)}, 201)
			}
			flowInfo := c.do("POST", "/api/v1/templates/import", map[string]any{"template_id": tmpl.ID, "parameters": testParameters(tmpl.ID, prov.URL)}, 201)
			flowID := flowInfo["id"].(string)
			c.do("POST", "/api/v1/flows/"+flowID+"/publish", nil, 200)
			var runIDs []string
			for _, s := range tmpl.Samples {
				var acc map[string]any
				switch s.Event.Type {
				case "webhook":
					acc = c.hook(flowID, s.Event.Data)
				case "schedule", "manual":
					acc = c.do("POST", "/api/v1/flows/"+flowID+"/run", map[string]any{"data": s.Event.Data}, 202)
				default:
					acc = c.do("POST", "/api/v1/events", map[string]any{"type": s.Event.Type, "data": s.Event.Data}, 202)
				}
				for _, id := range acc["run_ids"].([]any) {
					runIDs = append(runIDs, id.(string))
				}
			}
			var runs []map[string]any
			for _, id := range runIDs {
				run := c.waitRun(id)
				if run["status"] != "succeeded" {
					t.Fatalf("run %s %v: %v", id, run["status"], run["_raw"])
				}
				runs = append(runs, run)
			}
			check(t, &result{prov: prov, runs: runs})
		})
	}
}

// Importing asks for what the template needs: without the team or credential, nothing is created.
func TestTemplateImportRefusesMissingNeeds(t *testing.T) {
	gallery, _ := template.Gallery(examples.Templates, "templates")
	e := enginetest.New(t, enginetest.Embedded)
	srv := apitest.NewServer(t, api.New(e, api.Options{Templates: gallery, Tokens: []string{testToken}}))
	defer srv.Close()
	c := client{t, srv.URL}
	resp := c.do("POST", "/api/v1/templates/import", map[string]any{"template_id": "new-lead-score-assign"}, 422)
	raw := resp["_raw"].(string)
	for _, want := range []string{`team \"Enterprise Sales\" does not exist`, `credential \"twilio\" does not exist`} {
		if !strings.Contains(raw, want) {
			t.Errorf("missing %s in %s", want, raw)
		}
	}
	if flows := c.do("GET", "/api/v1/flows", nil, 200); len(flows["items"].([]any)) != 0 {
		t.Error("a broken flow was created")
	}
	// Mapped onto differently named records, with a parameter changed, it imports.
	c.do("POST", "/api/v1/teams", map[string]any{"name": "Key accounts"}, 201)
	c.do("POST", "/api/v1/teams", map[string]any{"name": "Inside sales"}, 201)
	c.do("POST", "/api/v1/credentials", map[string]any{"name": "sms-cn", "type": "twilio", "data": credentialData("twilio", "http://127.0.0.1:1", "")}, 201)
	got := c.do("POST", "/api/v1/templates/import", map[string]any{"template_id": "new-lead-score-assign", "name": "Leads (CN)",
		"parameters": map[string]any{"min_employees": 500}, "credentials": map[string]string{"twilio": "sms-cn"},
		"teams": map[string]string{"Enterprise Sales": "Key accounts", "SMB Sales": "Inside sales"}}, 201)
	def, _ := json.Marshal(got["definition"])
	for _, want := range []string{`"Leads (CN)"`, `employees \u003e= 500`, `"team":"Key accounts"`, `"credential":"sms-cn"`} {
		if !strings.Contains(string(def), want) {
			t.Errorf("imported flow lacks %s: %s", want, def)
		}
	}
	if r := c.do("POST", "/api/v1/templates/import", map[string]any{"template_id": "new-lead-score-assign", "parameters": map[string]any{"min_employees": "many"}}, 400); !strings.Contains(r["_raw"].(string), "must be a number") {
		t.Errorf("bad parameter: %s", r["_raw"])
	}

	// Export turns the flow back into a template naming its needs, with no ids or secrets.
	exported := c.do("GET", "/api/v1/flows/"+got["id"].(string)+"/template", nil, 200)
	raw = exported["_raw"].(string)
	if !strings.Contains(raw, `"name":"sms-cn"`) || !strings.Contains(raw, `"name":"Key accounts"`) || strings.Contains(raw, `"tok"`) {
		t.Errorf("exported template: %s", raw)
	}
	if _, err := template.Parse([]byte(raw)); err != nil {
		t.Errorf("exported template does not parse: %v", err)
	}
}

func init() {
	templateChecks["payment-succeeded-crm-receipt"] = func(t *testing.T, r *result) {
		crm := r.prov.Requests("/crm/v3/objects/deals/15432678901")
		if len(crm) != 1 || crm[0].Method != "PATCH" || !strings.Contains(crm[0].Body, `"dealstage":"closedwon"`) || !strings.Contains(crm[0].Body, `"amount_paid":"1299"`) {
			t.Errorf("HubSpot update: %+v", crm)
		}
		mails := r.prov.MailTo("wang.fang@example.cn")
		if len(mails) != 1 || !strings.Contains(mails[0].Data, "Acme receipt for order SO-20931") || !strings.Contains(mails[0].Data, "1299 CNY") {
			t.Fatalf("receipt: %+v", mails)
		}
		if n := r.prov.Requests("/robot/send"); len(n) != 1 || !strings.Contains(n[0].Body, "Deal paid") || !strings.Contains(n[0].Body, "SO-20931") {
			t.Errorf("sales notification: %+v", n)
		}
	}
	templateChecks["new-order-payment-link"] = func(t *testing.T, r *result) {
		paid, unpaid := r.runs[0], r.runs[1]
		if !ran(paid, "paid_1") || ran(paid, "remind") {
			t.Errorf("the paid order took the wrong path: %v", paid["_raw"])
		}
		if !ran(unpaid, "remind") || !ran(unpaid, "escalate") || ran(unpaid, "paid_2") {
			t.Errorf("the unpaid order took the wrong path: %v", unpaid["_raw"])
		}
		sessions := r.prov.Requests("/v1/checkout/sessions")
		if len(sessions) != 2 || !strings.Contains(sessions[0].Body+sessions[1].Body, "unit_amount%5D=259900") {
			t.Errorf("checkout sessions: %+v", sessions)
		}
		sms := r.prov.Requests("/Messages.json")
		if len(sms) != 3 {
			t.Errorf("%d SMS, want 2 links and 1 reminder", len(sms))
		}
		esc := r.prov.Requests("/cgi-bin/webhook/send")
		if len(esc) != 1 || !strings.Contains(esc[0].Body, "SO-30018") {
			t.Errorf("escalation: %+v", esc)
		}
		checkNewOrderInvoice(t, r)
	}
	templateChecks["refund-finance-crm-followup"] = func(t *testing.T, r *result) {
		n := r.prov.Requests("/robot/send")
		if len(n) != 1 || !strings.Contains(n[0].Body, "SO-41002") || !strings.Contains(n[0].Body, "499 USD") {
			t.Errorf("finance notification: %+v", n)
		}
		crm := r.prov.Requests("/services/data/v61.0/sobjects/Order/801Hs00000AbCdE")
		if len(crm) != 1 || !strings.Contains(crm[0].Body, `"Status":"Refunded"`) || crm[0].Header.Get("Authorization") != "Bearer 00Dtok" {
			t.Errorf("Salesforce update: %+v", crm)
		}
		out := steps(r.runs[0])["follow_up"]["output"].(map[string]any)
		if !strings.Contains(out["subject"].(string), "SO-41002") || out["due_at"] == "" {
			t.Errorf("follow-up assignment: %v", out)
		}
	}
	templateChecks["dunning-sms-email-assign"] = func(t *testing.T, r *result) {
		unpaid, paidLater, paidEvent := r.runs[0], r.runs[1], r.runs[2]
		for _, node := range []string{"sms", "email", "assign"} {
			if !ran(unpaid, node) {
				t.Errorf("the unpaid invoice never reached %s: %v", node, unpaid["_raw"])
			}
		}
		if !ran(paidLater, "paid") || ran(paidLater, "sms") {
			t.Errorf("the paid invoice was dunned: %v", paidLater["_raw"])
		}
		if ran(paidEvent, "wait_sms") {
			t.Errorf("invoice.paid started dunning: %v", paidEvent["_raw"])
		}
		if sms := r.prov.Requests("/Messages.json"); len(sms) != 1 || !strings.Contains(sms[0].Body, "8D3F2A1B-0007") {
			t.Errorf("dunning SMS: %+v", sms)
		}
		if mails := r.prov.MailTo("zhou.lei@example.cn"); len(mails) != 1 || !strings.Contains(mails[0].Data, "invoice 8D3F2A1B-0007 is unpaid") {
			t.Errorf("dunning email: %+v", mails)
		}
	}
	templateChecks["suspicious-payment-risk-hold"] = func(t *testing.T, r *result) {
		if !ran(r.runs[0], "alert") || !ran(r.runs[0], "hold") || ran(r.runs[1], "alert") {
			t.Errorf("wrong payments flagged: %v / %v", r.runs[0]["_raw"], r.runs[1]["_raw"])
		}
		alert := r.prov.Requests("/open-apis/bot/v2/hook/tok")
		if len(alert) != 1 || !strings.Contains(alert[0].Body, "15000 USD") {
			t.Errorf("risk alert: %+v", alert)
		}
		hold := r.prov.Requests("/crm/v3/objects/deals/16000000001")
		if len(hold) != 1 || !strings.Contains(hold[0].Body, `"risk_hold":"true"`) || !strings.Contains(hold[0].Body, "amount over threshold") {
			t.Errorf("CRM hold: %+v", hold)
		}
	}
}

func init() {
	templateChecks["payment-failed-support-sms"] = func(t *testing.T, r *result) {
		if !ran(r.runs[0], "sms_customer") || ran(r.runs[1], "assign_support") {
			t.Errorf("wrong payments handled: %v / %v", r.runs[0]["_raw"], r.runs[1]["_raw"])
		}
		agent := steps(r.runs[0])["assign_support"]["output"].(map[string]any)["assignee"].(map[string]any)
		sms := r.prov.Requests("/Messages.json")
		if len(sms) != 1 || !strings.Contains(sms[0].Body, "To=%2B8613800138000") || !strings.Contains(sms[0].Body, strings.ReplaceAll(agent["name"].(string), " ", "+")) {
			t.Errorf("customer SMS: %+v (agent %v)", sms, agent["name"])
		}
		mails := r.prov.MailTo(agent["email"].(string))
		if len(mails) != 1 || !strings.Contains(mails[0].Data, "insufficient_funds") || !strings.Contains(mails[0].Data, "visa ending 4242") {
			t.Errorf("agent email: %+v", mails)
		}
	}
}

// hook delivers a sample to a webhook flow as Stripe would: raw JSON, signed.
func (c client) hook(flowID string, data any) map[string]any {
	c.t.Helper()
	body, _ := json.Marshal(data)
	req, _ := http.NewRequest("POST", c.base+"/api/v1/hooks/"+flowID, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", stripeSignature(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		c.t.Fatalf("webhook delivery: %d %s", resp.StatusCode, raw)
	}
	out := map[string]any{}
	json.Unmarshal(raw, &out)
	return out
}

// crmOrders and stripeCharges disagree in every way reconciliation must catch: SO-1 paid exactly,
// SO-2 paid in two parts, SO-6 overpaid then partly refunded to the right total, SO-3 unpaid,
// SO-4 paid the wrong amount, SO-5 paid in the wrong currency, and a charge for SO-9, which the
// CRM does not know. A failed charge for SO-3 must not count.
const crmOrders = `{"orders":[
	{"order_id":"SO-1","total":100.00,"currency":"USD","customer":"Li Wei"},
	{"order_id":"SO-2","total":250.00,"currency":"USD","customer":"Ana Souza"},
	{"order_id":"SO-3","total":80.00,"currency":"USD","customer":"Chen Jie"},
	{"order_id":"SO-4","total":60.00,"currency":"USD","customer":"Sam Lee"},
	{"order_id":"SO-5","total":30.00,"currency":"CNY","customer":"Wang Fang"},
	{"order_id":"SO-6","total":40.00,"currency":"USD","customer":"Mei Tan"}]}`

const stripeCharges = `{"object":"list","url":"/v1/charges","has_more":false,"data":[
	{"id":"ch_1","object":"charge","amount":10000,"amount_refunded":0,"currency":"usd","status":"succeeded","metadata":{"order_id":"SO-1"}},
	{"id":"ch_2a","object":"charge","amount":20000,"amount_refunded":0,"currency":"usd","status":"succeeded","metadata":{"order_id":"SO-2"}},
	{"id":"ch_2b","object":"charge","amount":5000,"amount_refunded":0,"currency":"usd","status":"succeeded","metadata":{"order_id":"SO-2"}},
	{"id":"ch_3","object":"charge","amount":8000,"amount_refunded":0,"currency":"usd","status":"failed","metadata":{"order_id":"SO-3"}},
	{"id":"ch_4","object":"charge","amount":6500,"amount_refunded":0,"currency":"usd","status":"succeeded","metadata":{"order_id":"SO-4"}},
	{"id":"ch_5","object":"charge","amount":3000,"amount_refunded":0,"currency":"usd","status":"succeeded","metadata":{"order_id":"SO-5"}},
	{"id":"ch_6","object":"charge","amount":5000,"amount_refunded":1000,"currency":"usd","status":"succeeded","metadata":{"order_id":"SO-6"}},
	{"id":"ch_9","object":"charge","amount":1200,"amount_refunded":0,"currency":"usd","status":"succeeded","metadata":{"order_id":"SO-9"}}]}`

func init() {
	templateChecks["nightly-reconciliation"] = func(t *testing.T, r *result) {
		rec := steps(r.runs[0])["rec"]["output"].(map[string]any)
		for list, want := range map[string]string{
			"matched": "[SO-1 SO-2 SO-6]", "missing_in_payments": "[SO-3]", "amount_mismatch": "[SO-4]",
			"currency_mismatch": "[SO-5]", "missing_in_crm": "[SO-9]",
		} {
			var got []string
			for _, row := range rec[list].([]any) {
				got = append(got, row.(map[string]any)["key"].(string))
			}
			if fmt.Sprint(got) != want {
				t.Errorf("%s = %v, want %s", list, got, want)
			}
		}
		for _, path := range []string{"/api/orders", "/v1/charges"} {
			if got := r.prov.Requests(path); len(got) != 1 || got[0].Method != "GET" || !strings.HasPrefix(got[0].Header.Get("Authorization"), "Bearer ") {
				t.Errorf("%s: %+v", path, got)
			}
		}
		mails := r.prov.MailTo("finance@acme.example")
		if len(mails) != 1 || !strings.Contains(mails[0].Data, "Unpaid orders: SO-3") || !strings.Contains(mails[0].Data, "SO-4 (expected 60, got 65)") {
			t.Fatalf("report: %+v", mails)
		}
		if n := r.prov.Requests("/robot/send"); len(n) != 1 || !strings.Contains(n[0].Body, "Matched: 3") {
			t.Errorf("summary: %+v", n)
		}
	}
}
