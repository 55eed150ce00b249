package examples_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/opsflow/opsflow/engine/api"
	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/template"
	"github.com/opsflow/opsflow/examples"
)

// recorded is one request a provider server received.
type recorded struct {
	Method, Path string
	Header       http.Header
	Body         string
}

// providers is one local HTTP server standing in for every provider a template calls. It answers
// each in its provider's shape and records what it got; the connectors' own tests check the wire
// formats in detail, these check that each template drives them end to end.
type providers struct {
	mu   sync.Mutex
	reqs []recorded
	srv  *httptest.Server
}

func newProviders(t *testing.T) *providers {
	p := &providers{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.reqs = append(p.reqs, recorded{r.Method, r.URL.Path, r.Header.Clone(), string(b)})
		n := len(p.reqs)
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/Messages.json"): // Twilio
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, `{"sid":"SM%032d","status":"queued"}`, n)
		default:
			fmt.Fprintf(w, `{"ok":true,"errcode":0,"errmsg":"ok","code":0,"id":"obj_%d"}`, n)
		}
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *providers) requests(pathPart string) []recorded {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []recorded
	for _, r := range p.reqs {
		if strings.Contains(r.Path, pathPart) {
			out = append(out, r)
		}
	}
	return out
}

// credentialData is a working credential of each type, pointed at the local providers.
func credentialData(typ, base string) map[string]string {
	switch typ {
	case "twilio":
		return map[string]string{"account_sid": "AC0123456789abcdef0123456789abcdef", "auth_token": "tok", "from": "+14155550000", "base_url": base}
	}
	return map[string]string{"base_url": base, "token": "tok"}
}

// templateChecks holds what each template must have done after its samples ran, beyond every
// run succeeding.
var templateChecks = map[string]func(t *testing.T, p *providers, runs []map[string]any){
	"new-lead-score-assign": func(t *testing.T, p *providers, runs []map[string]any) {
		sms := p.requests("/Messages.json")
		if len(sms) != 2 {
			t.Fatalf("%d SMS sent, want one per lead", len(sms))
		}
		if !strings.Contains(sms[0].Body, "Zhang+Min") || !strings.Contains(sms[0].Body, "interest+in+Acme") {
			t.Errorf("enterprise welcome SMS: %s", sms[0].Body)
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
			srv := httptest.NewServer(api.New(e, api.Options{Templates: gallery}))
			defer srv.Close()
			c := client{t, srv.URL}
			prov := newProviders(t)
			for i, need := range tmpl.Teams {
				team := c.do("POST", "/api/v1/teams", map[string]any{"name": need.Name}, 201)
				for j := 0; j < 2; j++ {
					c.do("POST", "/api/v1/teams/"+team["id"].(string)+"/members", map[string]any{
						"name": fmt.Sprintf("%s %d", need.Name, j+1), "email": fmt.Sprintf("agent%d%d@example.com", i, j), "phone": fmt.Sprintf("+1415555%02d%02d", i, j)}, 201)
				}
			}
			for _, need := range tmpl.Credentials {
				c.do("POST", "/api/v1/credentials", map[string]any{"name": need.Name, "type": need.Type, "data": credentialData(need.Type, prov.srv.URL)}, 201)
			}
			flowInfo := c.do("POST", "/api/v1/templates/import", map[string]any{"template_id": tmpl.ID}, 201)
			flowID := flowInfo["id"].(string)
			c.do("POST", "/api/v1/flows/"+flowID+"/publish", nil, 200)
			var runs []map[string]any
			for _, s := range tmpl.Samples {
				acc := c.do("POST", "/api/v1/events", map[string]any{"type": s.Event.Type, "data": s.Event.Data}, 202)
				ids := acc["run_ids"].([]any)
				if len(ids) != 1 {
					t.Fatalf("sample %q started %d runs", s.Name, len(ids))
				}
				run := c.waitRun(ids[0].(string))
				if run["status"] != "succeeded" {
					t.Fatalf("sample %q: run %v: %v", s.Name, run["status"], run["_raw"])
				}
				runs = append(runs, run)
			}
			check(t, prov, runs)
		})
	}
}

// Importing asks for what the template needs: without the team or credential, nothing is created.
func TestTemplateImportRefusesMissingNeeds(t *testing.T) {
	gallery, _ := template.Gallery(examples.Templates, "templates")
	e := enginetest.New(t, enginetest.Embedded)
	srv := httptest.NewServer(api.New(e, api.Options{Templates: gallery}))
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
	c.do("POST", "/api/v1/credentials", map[string]any{"name": "sms-cn", "type": "twilio", "data": credentialData("twilio", "http://127.0.0.1:1")}, 201)
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
	if !strings.Contains(raw, `"name":"sms-cn"`) || !strings.Contains(raw, `"name":"Key accounts"`) || strings.Contains(raw, "tok") {
		t.Errorf("exported template: %s", raw)
	}
	if _, err := template.Parse([]byte(raw)); err != nil {
		t.Errorf("exported template does not parse: %v", err)
	}
}
