package api

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine/auth"
)

// Every sensitive action leaves one audit row with actor, IP, object and a diff without secrets;
// versions and runs show who saved, published, started, retried and cancelled them; the log
// filters and exports as CSV.
func TestAuditTrail(t *testing.T) {
	env := newAuthEnv(t, auth.Config{})
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(400) }))
	defer crm.Close()
	admin, editor, operator := env.as("admin"), env.as("editor"), env.as("operator")
	must := func(hdr map[string]string, method, path, body string, want int) map[string]any {
		t.Helper()
		status, out, raw, _ := env.do(method, path, body, hdr)
		if status != want {
			t.Fatalf("%s %s: %d %s", method, path, status, raw)
		}
		return out
	}
	env.do("POST", "/api/v1/auth/login", `{"email":"editor@example.com","password":"wrong password"}`, nil)
	_, login, _, resp := env.do("POST", "/api/v1/auth/login", `{"email":"editor@example.com","password":"`+testPassword+`"}`, nil)
	must(map[string]string{"Cookie": SessionCookie + "=" + cookieOf(resp).Value, CSRFHeader: login["csrf_token"].(string)}, "POST", "/api/v1/auth/logout", "", 204)
	u := must(admin, "POST", "/api/v1/users", `{"email":"new@example.com","role":"viewer","password":"`+testPassword+`"}`, 201)
	must(admin, "PATCH", "/api/v1/users/"+u["id"].(string), `{"role":"operator"}`, 200)
	must(admin, "POST", "/api/v1/users/"+u["id"].(string)+"/password", `{"password":"another long password"}`, 204)
	k := must(editor, "POST", "/api/v1/keys", `{"name":"ci"}`, 201)
	must(editor, "DELETE", "/api/v1/keys/"+k["id"].(string), "", 204)
	cred := must(admin, "POST", "/api/v1/credentials", `{"name":"crm","type":"http_bearer","data":{"token":"sk_live_very_secret"}}`, 201)
	must(admin, "PUT", "/api/v1/credentials/"+cred["id"].(string), `{"data":{"token":"sk_live_rotated_secret"}}`, 200)
	must(admin, "POST", "/api/v1/teams", `{"name":"Support"}`, 201)
	must(admin, "POST", "/api/v1/credentials", `{"name":"sms","type":"twilio","data":{"account_sid":"AC1","auth_token":"sk_live_twilio","from":"+14155550000"}}`, 201)
	flowDoc := `{"name":"sync","nodes":[{"id":"t","type":"trigger.manual"},
		{"id":"h","type":"action.http","config":{"url":"` + crm.URL + `","credential":"crm","retries":0}}],"edges":[{"from":"t","to":"h"}]}`
	f := must(editor, "POST", "/api/v1/flows", flowDoc, 201)
	id := f["id"].(string)
	must(editor, "PUT", "/api/v1/flows/"+id, strings.Replace(flowDoc, `"retries":0`, `"retries":0,"timeout":"5s"`, 1), 200)
	must(editor, "POST", "/api/v1/flows/"+id+"/publish", "", 200)
	must(editor, "POST", "/api/v1/flows/"+id+"/publish", `{"version":1}`, 200)
	acc := must(operator, "POST", "/api/v1/flows/"+id+"/run", `{"data":{"card":"4111 1111 1111 1111"}}`, 202)
	runID := acc["run_ids"].([]any)[0].(string)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if r := must(operator, "GET", "/api/v1/runs/"+runID, "", 200); r["status"] == "failed" {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("run %v", r)
		}
	}
	retry := must(operator, "POST", "/api/v1/runs/"+runID+"/retry", `{"from":"start"}`, 202)
	retryID := retry["run_id"].(string)
	delay := must(editor, "POST", "/api/v1/flows", `{"name":"slow","nodes":[{"id":"t","type":"trigger.manual"},{"id":"d","type":"logic.delay","config":{"duration":"1h"}}],"edges":[{"from":"t","to":"d"}]}`, 201)
	must(editor, "POST", "/api/v1/flows/"+delay["id"].(string)+"/publish", "", 200)
	slow := must(editor, "POST", "/api/v1/flows/"+delay["id"].(string)+"/run", `{}`, 202)["run_ids"].([]any)[0].(string)
	must(operator, "POST", "/api/v1/runs/"+slow+"/cancel", "", 200)
	must(editor, "POST", "/api/v1/templates/import", `{"template_id":"new-lead-score-assign","credentials":{"twilio":"sms"},"teams":{"Enterprise Sales":"Support","SMB Sales":"Support"}}`, 201)
	must(editor, "DELETE", "/api/v1/flows/"+delay["id"].(string), "", 204)
	must(admin, "DELETE", "/api/v1/credentials/"+cred["id"].(string), "", 204)

	status, all, raw, _ := env.do("GET", "/api/v1/audit?limit=500", "", admin)
	if status != 200 {
		t.Fatalf("audit: %d %s", status, raw)
	}
	for _, secret := range []string{"sk_live", testPassword, "another long password", k["key"].(string), "4111"} {
		if strings.Contains(raw, secret) {
			t.Errorf("the audit log holds a secret or card data: %q", secret)
		}
	}
	type row = map[string]any
	find := func(action, objectID string) row {
		for _, it := range all["items"].([]any) {
			r := it.(row)
			if r["action"] == action && (objectID == "" || r["object_id"] == objectID) {
				return r
			}
		}
		t.Errorf("no audit row %s %s", action, objectID)
		return row{}
	}
	checks := []struct {
		action, object, actor, mention string
	}{
		{"login_failed", "", "editor@example.com", "bad_login"},
		{"login", "", "editor@example.com", ""},
		{"logout", "", "editor@example.com", ""},
		{"user.created", u["id"].(string), "admin@example.com (key admin key)", `"role":"viewer"`},
		{"user.role_changed", u["id"].(string), "admin@example.com (key admin key)", `["viewer","operator"]`},
		{"user.password_reset", u["id"].(string), "admin@example.com (key admin key)", ""},
		{"key.created", k["id"].(string), "editor@example.com (key editor key)", `"role":"editor"`},
		{"key.revoked", k["id"].(string), "editor@example.com (key editor key)", ""},
		{"credential.created", cred["id"].(string), "admin@example.com (key admin key)", `"fields":["token"]`},
		{"credential.changed", cred["id"].(string), "admin@example.com (key admin key)", `"fields_changed":["token"]`},
		{"credential.used_by_flow", cred["id"].(string), "editor@example.com (key editor key)", id},
		{"credential.deleted", cred["id"].(string), "admin@example.com (key admin key)", "http_bearer"},
		{"team.created", "", "admin@example.com (key admin key)", ""},
		{"flow.created", id, "editor@example.com (key editor key)", `"version":1`},
		{"flow.changed", id, "editor@example.com (key editor key)", `"nodes_changed":["h"]`},
		{"flow.published", id, "editor@example.com (key editor key)", `"version":2`},
		{"flow.rolled_back", id, "editor@example.com (key editor key)", `"previous_version":2`},
		{"flow.deleted", delay["id"].(string), "editor@example.com (key editor key)", ""},
		{"run.started_manually", runID, "operator@example.com (key operator key)", id},
		{"run.retried", retryID, "operator@example.com (key operator key)", runID},
		{"run.cancelled", slow, "operator@example.com (key operator key)", ""},
		{"template.imported", "", "editor@example.com (key editor key)", `"template":"new-lead-score-assign"`},
	}
	for _, c := range checks {
		r := find(c.action, c.object)
		if r["action"] == nil {
			continue
		}
		diff, _ := jsonString(r["diff"])
		if r["actor_name"] != c.actor || r["ip"] != "127.0.0.1" || r["at"] == nil || !strings.Contains(diff, c.mention) {
			t.Errorf("%s: %v (diff %s), want actor %s and %q", c.action, r, diff, c.actor, c.mention)
		}
	}
	// Filters and CSV.
	_, flows, _, _ := env.do("GET", "/api/v1/audit?action=flow.&object_id="+id, "", admin)
	if n := len(flows["items"].([]any)); n != 4 {
		t.Errorf("flow.* rows of the flow: %d, want 4", n)
	}
	_, byActor, _, _ := env.do("GET", "/api/v1/audit?actor=operator@example.com+(key+operator+key)", "", admin)
	if n := len(byActor["items"].([]any)); n != 3 {
		t.Errorf("operator's rows: %d, want 3", n)
	}
	if status, _, raw, _ := env.do("GET", "/api/v1/audit?since=yesterday", "", admin); status != 400 {
		t.Errorf("bad since: %d %s", status, raw)
	}
	status, _, raw, resp = env.do("GET", "/api/v1/audit?format=csv&action=flow.created", "", admin)
	records, err := csv.NewReader(strings.NewReader(raw)).ReadAll()
	if status != 200 || err != nil || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") || len(records) != 3 || records[0][6] != "action" || records[1][6] != "flow.created" {
		t.Errorf("csv: %d %v %q", status, err, raw)
	}
	// Who did it, on the run and the versions.
	run := must(operator, "GET", "/api/v1/runs/"+retryID, "", 200)
	if h, _ := run["history"].([]any); len(h) != 1 || h[0].(row)["actor"] != "operator@example.com (key operator key)" || h[0].(row)["action"] != "run.retried" {
		t.Errorf("retried run's history: %v", run["history"])
	}
	vs := must(env.as("viewer"), "GET", "/api/v1/flows/"+id+"/versions", "", 200)["items"].([]any)
	for _, v := range vs {
		if v.(row)["created_by"] != "editor@example.com (key editor key)" {
			t.Errorf("version %v", v)
		}
	}
	// Only admins read the log.
	if status, _, _, _ := env.do("GET", "/api/v1/audit", "", editor); status != 403 {
		t.Errorf("editor reading the audit log: %d", status)
	}
}

func jsonString(v any) (string, error) {
	b, err := jsonMarshal(v)
	return string(b), err
}

var jsonMarshal = json.Marshal
