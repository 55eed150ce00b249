package examples_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine/api"
	"github.com/opsflow/opsflow/engine/api/apitest"
	"github.com/opsflow/opsflow/engine/compile"
	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/flow"
	"github.com/opsflow/opsflow/engine/sandbox"
	_ "github.com/opsflow/opsflow/nodes"
)

// Every example flow in this directory must be a valid flow document.
func TestExamplesAreValid(t *testing.T) {
	files, _ := filepath.Glob("*.json")
	if len(files) == 0 {
		t.Fatal("no example flows found")
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		f, err := flow.Parse(b)
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		if _, problems := compile.Compile(f, nil); problems != nil {
			t.Errorf("%s: %v", file, problems)
		}
	}
}

// Credentials of the Twilio account the tests use; the sandbox checks the SID against the path.
const (
	twilioSID   = "AC0123456789abcdef0123456789abcdef"
	twilioToken = "tw-secret-token-9f8e7d"
)

// newSandbox starts the local provider stand-ins for one test. Its SMTP server takes only the
// smtp credential of credentialData; the CRM's orders and Stripe's charges are the
// reconciliation template's data.
func newSandbox(t *testing.T) *sandbox.Sandbox {
	t.Helper()
	sb, err := sandbox.Start(sandbox.Options{SMTPUser: "billing", SMTPPassword: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	sb.Answer("GET", "/api/orders", crmOrders)
	sb.Answer("GET", "/v1/charges", stripeCharges)
	t.Cleanup(func() { sb.Close() })
	return sb
}

// client calls the opsflow API and decodes JSON answers.
type client struct {
	t    *testing.T
	base string
}

// testToken is an OPSFLOW_API_TOKENS service key: the API is never open.
const testToken = "examples-test-token-0123456789"

func (c client) do(method, path string, body any, wantStatus int) map[string]any {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, wantStatus, raw)
	}
	out := map[string]any{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	out["_raw"] = string(raw)
	return out
}

func (c client) waitRun(id string) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		run := c.do("GET", "/api/v1/runs/"+id, nil, 200)
		switch run["status"] {
		case "succeeded", "failed", "cancelled":
			return run
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("run %s still %v", id, run["status"])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func steps(run map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	list, _ := run["steps"].([]any)
	for _, s := range list {
		m := s.(map[string]any)
		out[m["node_id"].(string)] = m
	}
	return out
}

// The payment-failed example end to end: team, credential, flow and events all over the REST
// API, SMS through the sandbox's Twilio, on every available backend.
func TestPaymentFailedSupportSMS(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			e := enginetest.New(t, b)
			srv := apitest.NewServer(t, api.New(e, api.Options{Tokens: []string{testToken}}))
			defer srv.Close()
			c := client{t, srv.URL}
			sb := newSandbox(t)

			team := c.do("POST", "/api/v1/teams", map[string]any{"name": "Support"}, 201)
			teamID := team["id"].(string)
			c.do("POST", "/api/v1/teams/"+teamID+"/members", map[string]any{"name": "Ana", "phone": "+14155550101"}, 201)
			c.do("POST", "/api/v1/teams/"+teamID+"/members", map[string]any{"name": "Bo", "phone": "+14155550102"}, 201)
			c.do("POST", "/api/v1/credentials", map[string]any{"name": "twilio", "type": "twilio",
				"data": map[string]string{"account_sid": twilioSID, "auth_token": twilioToken, "from": "+14155550000", "base_url": sb.URL}}, 201)

			doc, err := os.ReadFile("payment-failed-support-sms.json")
			if err != nil {
				t.Fatal(err)
			}
			created := c.do("POST", "/api/v1/flows", doc, 201)
			flowID := created["id"].(string)
			c.do("POST", "/api/v1/flows/"+flowID+"/publish", nil, 200)

			evDoc, _ := os.ReadFile("events/payment-failed.json")
			var ev map[string]any
			json.Unmarshal(evDoc, &ev)
			acc := c.do("POST", "/api/v1/events", ev, 202)
			runIDs := acc["run_ids"].([]any)
			if len(runIDs) != 1 {
				t.Fatalf("run_ids = %v, want one run", runIDs)
			}
			run := c.waitRun(runIDs[0].(string))
			if run["status"] != "succeeded" {
				t.Fatalf("run %v: %v", run["status"], run["_raw"])
			}
			st := steps(run)
			if st["large_amount"]["port"] != "true" {
				t.Errorf("condition took port %v, want true", st["large_amount"]["port"])
			}
			if _, ran := st["log_small"]; ran {
				t.Error("the false branch ran")
			}
			assignee := st["assign_support"]["output"].(map[string]any)["assignee"].(map[string]any)
			msgs := sb.Messages()
			if len(msgs) != 2 {
				t.Fatalf("twilio got %d messages, want 2", len(msgs))
			}
			byTo := map[string]string{}
			for _, m := range msgs {
				byTo[m.Get("To")] = m.Get("Body")
				if m.Get("From") != "+14155550000" {
					t.Errorf("From = %q", m.Get("From"))
				}
			}
			wantCustomer := "Hi Li Wei, your payment of 249 USD failed. " + assignee["name"].(string) + " from our support team will contact you shortly."
			if byTo["+8613800138000"] != wantCustomer {
				t.Errorf("customer SMS = %q, want %q", byTo["+8613800138000"], wantCustomer)
			}
			if !strings.Contains(byTo[assignee["phone"].(string)], "payment pi_3OqL2b2eZvKYlo2C1 of 249 USD failed for Li Wei") {
				t.Errorf("assignee SMS = %q", byTo[assignee["phone"].(string)])
			}
			if strings.Contains(run["_raw"].(string), twilioToken) {
				t.Error("the Twilio auth token appears in the run history")
			}
			if creds := c.do("GET", "/api/v1/credentials", nil, 200); strings.Contains(creds["_raw"].(string), twilioToken) {
				t.Error("the credential list returns the secret")
			}

			// The same idempotency key is the same event: 200, same ids, nothing sent again.
			again := c.do("POST", "/api/v1/events", ev, 200)
			if again["event_id"] != acc["event_id"] || fmt.Sprint(again["run_ids"]) != fmt.Sprint(acc["run_ids"]) {
				t.Errorf("duplicate answered %v, want the original %v", again, acc)
			}

			// The next failure goes to the other agent: round-robin.
			ev["idempotency_key"] = "second"
			run2 := c.waitRun(c.do("POST", "/api/v1/events", ev, 202)["run_ids"].([]any)[0].(string))
			assignee2 := steps(run2)["assign_support"]["output"].(map[string]any)["assignee"].(map[string]any)
			if assignee2["id"] == assignee["id"] {
				t.Errorf("both failures went to %v; round-robin should alternate", assignee["name"])
			}

			// A small amount takes the false branch and sends nothing.
			ev["idempotency_key"] = "small"
			ev["data"].(map[string]any)["amount"] = 20.5
			run3 := c.waitRun(c.do("POST", "/api/v1/events", ev, 202)["run_ids"].([]any)[0].(string))
			st3 := steps(run3)
			if st3["large_amount"]["port"] != "false" || st3["log_small"] == nil || st3["assign_support"] != nil {
				t.Errorf("small amount took the wrong path: %v", run3["_raw"])
			}
			if n := len(sb.Messages()); n != 4 {
				t.Errorf("twilio got %d messages in all, want 4", n)
			}
		})
	}
}
