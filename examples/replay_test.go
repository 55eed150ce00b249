package examples_test

import (
	"encoding/json"
	"fmt"
	"github.com/opsflow/opsflow/engine/api/apitest"
	"strings"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine/api"
	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/template"
	"github.com/opsflow/opsflow/examples"
)

// The payment-failed template really runs its sample events, then deliberate changes are replayed
// over them: each yields exactly the expected summary, and nothing reaches a provider.
func TestReplayTemplateChanges(t *testing.T) {
	gallery, err := template.Gallery(examples.Templates, "templates")
	if err != nil {
		t.Fatal(err)
	}
	var tmpl *template.Template
	for _, g := range gallery {
		if g.ID == "payment-failed-support-sms" {
			tmpl = g
		}
	}
	e := enginetest.New(t, enginetest.Embedded)
	srv := apitest.NewServer(t, api.New(e, api.Options{Templates: gallery, Tokens: []string{testToken}}))
	defer srv.Close()
	c := client{t, srv.URL}
	prov := newSandbox(t)
	team := c.do("POST", "/api/v1/teams", map[string]any{"name": "Support"}, 201)
	for j := 0; j < 2; j++ {
		c.do("POST", "/api/v1/teams/"+team["id"].(string)+"/members", map[string]any{
			"name": fmt.Sprintf("Agent %d", j+1), "email": fmt.Sprintf("agent%d@example.com", j), "phone": fmt.Sprintf("+141555501%02d", j)}, 201)
	}
	for _, need := range tmpl.Credentials {
		c.do("POST", "/api/v1/credentials", map[string]any{"name": need.Name, "type": need.Type, "data": credentialData(need.Type, prov.URL, prov.SMTPAddr)}, 201)
	}
	flowID := c.do("POST", "/api/v1/templates/import", map[string]any{"template_id": tmpl.ID}, 201)["id"].(string)
	c.do("POST", "/api/v1/flows/"+flowID+"/publish", nil, 200)
	var eventIDs []string
	for _, s := range tmpl.Samples {
		acc := c.hook(flowID, s.Event.Data)
		eventIDs = append(eventIDs, acc["event_id"].(string))
		if run := c.waitRun(acc["run_ids"].([]any)[0].(string)); run["status"] != "succeeded" {
			t.Fatalf("sample %q: %v", s.Name, run["_raw"])
		}
	}
	sentSMS, sentMail := len(prov.Requests("/Messages.json")), len(prov.MailTo("agent0@example.com"))+len(prov.MailTo("agent1@example.com"))
	if sentSMS != 1 || sentMail != 1 {
		t.Fatalf("the real runs sent %d SMS and %d emails, want 1 and 1", sentSMS, sentMail)
	}
	published := c.do("GET", "/api/v1/flows/"+flowID, nil, 200)["definition"]
	def, _ := json.Marshal(published)

	// change saves a draft edited from the published definition, replays it over the samples and
	// returns the summary (outcome → count) and the results.
	change := func(edit func(doc string) string) (map[string]int, []any) {
		t.Helper()
		c.do("PUT", "/api/v1/flows/"+flowID, []byte(edit(string(def))), 200)
		r := c.do("POST", "/api/v1/flows/"+flowID+"/replay", map[string]any{"version": "draft", "event_ids": eventIDs}, 202)
		deadline := time.Now().Add(20 * time.Second)
		for r["status"] == "queued" || r["status"] == "running" {
			if time.Now().After(deadline) {
				t.Fatalf("replay still %v", r["status"])
			}
			time.Sleep(10 * time.Millisecond)
			r = c.do("GET", "/api/v1/replays/"+r["id"].(string), nil, 200)
		}
		if r["status"] != "succeeded" {
			t.Fatalf("replay %v: %v", r["status"], r["_raw"])
		}
		got := map[string]int{}
		for _, o := range r["summary"].([]any) {
			m := o.(map[string]any)
			got[m["outcome"].(string)] = int(m["count"].(float64))
		}
		return got, c.do("GET", "/api/v1/replays/"+r["id"].(string)+"/results", nil, 200)["items"].([]any)
	}
	same := func(got, want map[string]int) bool {
		if len(got) != len(want) {
			return false
		}
		for k, v := range want {
			if got[k] != v {
				return false
			}
		}
		return true
	}

	// A raised amount threshold: the 249 USD failure is no longer handled.
	got, _ := change(func(doc string) string {
		return strings.Replace(doc, "amount / 100 \\u003e= 100", "amount / 100 \\u003e= 300", 1)
	})
	if want := map[string]int{"action_removed:sms_customer,action_removed:notify_agent": 1, "unchanged": 1}; !same(got, want) {
		t.Errorf("raised threshold: %v, want %v", got, want)
	}

	// An added SMS for small failures: only the 15 USD failure changes.
	got, results := change(func(doc string) string {
		var f map[string]any
		json.Unmarshal([]byte(doc), &f)
		f["nodes"] = append(f["nodes"].([]any), map[string]any{"id": "sms_small", "type": "action.sms", "position": map[string]any{"x": 400, "y": 300},
			"config": map[string]any{"credential": "twilio", "to": "{{ event.data.data.object.last_payment_error.payment_method.billing_details.phone }}", "body": "Your payment did not go through; please try another card."}})
		f["edges"] = append(f["edges"].([]any), map[string]any{"from": "qualifies", "to": "sms_small", "port": "false"})
		b, _ := json.Marshal(f)
		return string(b)
	})
	if want := map[string]int{"action_added:sms_small": 1, "unchanged": 1}; !same(got, want) {
		t.Errorf("added SMS: %v, want %v", got, want)
	}
	// The unchanged large failure would still text the customer and email the agent it really got.
	large := results[0].(map[string]any)
	var methods []string
	for _, r := range large["requests"].([]any) {
		m := r.(map[string]any)
		methods = append(methods, m["method"].(string))
		if m["method"] == "SMTP" && (!strings.Contains(m["body"].(string), "Card: visa ending 4242") || !strings.Contains(m["headers"].(map[string]any)["rcpt-to"].(string), "@example.com")) {
			t.Errorf("recorded email: %v", m)
		}
	}
	if strings.Join(methods, ",") != "POST,SMTP" || large["outcome"] != "unchanged" {
		t.Errorf("large failure replayed: %v %v", large["outcome"], methods)
	}
	if n, m := len(prov.Requests("/Messages.json")), len(prov.MailTo("agent0@example.com"))+len(prov.MailTo("agent1@example.com")); n != sentSMS || m != sentMail {
		t.Errorf("the replays sent %d SMS and %d emails", n-sentSMS, m-sentMail)
	}
}
