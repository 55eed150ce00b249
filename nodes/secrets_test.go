package nodes_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/store"
)

// runHTTP runs one action.http call with cfg and returns the finished run.
func runHTTP(t *testing.T, e *engine.Engine, cfg string) *engine.RunDetail {
	t.Helper()
	ctx := context.Background()
	info, err := e.CreateFlow(ctx, enginetest.MustFlow(t, `{"name":"h","nodes":[{"id":"t","type":"trigger.manual"},
		{"id":"call","type":"action.http","config":`+cfg+`}],"edges":[{"from":"t","to":"call"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	acc, err := e.RunManual(ctx, info.Flow.ID, 0, map[string]any{}, false)
	if err != nil {
		t.Fatal(err)
	}
	return enginetest.WaitRun(t, e, acc.RunIDs[0], 10*time.Second)
}

// A provider that reflects a credential, raw or in any encoding the engine itself produces
// (Basic base64(user:password), URL escapes, JSON escapes of <>&"), gets it redacted from run
// history; non-secret fields (a header's name, a user name) stay readable; a secret near the
// 300-byte cut of provider error text is redacted whole.
func TestReflectedSecretsNeverRecorded(t *testing.T) {
	e := enginetest.New(t, enginetest.Embedded)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		all := r.Header.Get("Authorization") + "|" + r.Header.Get("X-Api-Key")
		reflect := map[string]any{"authorization": r.Header.Get("Authorization"), "api_key": r.Header.Get("X-Api-Key"),
			"url_encoded": url.QueryEscape(all), "path_encoded": url.PathEscape(all), "body": string(b), "header_names": []string{"X-Api-Key"}}
		if user, pass, ok := r.BasicAuth(); ok {
			reflect["user"], reflect["password"] = user, pass
		}
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, strings.Repeat("x", 280)+" "+all) // the secret straddles the 300-byte cut
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(reflect)
	}))
	defer srv.Close()
	ctx := context.Background()
	secrets := map[string]map[string]string{
		"http_basic":  {"username": "ops-user", "password": `pa<ss>&"w0rd`},
		"http_bearer": {"token": `tok<en>&"quoted" + more`},
		"http_header": {"name": "X-Api-Key", "value": "key/with space+plus&amp;=x"},
	}
	for typ, data := range secrets {
		if _, err := e.CreateCredential(ctx, typ, typ, data); err != nil {
			t.Fatal(err)
		}
	}
	for typ, data := range secrets {
		secret := data["password"] + data["token"] + data["value"]
		forms := []string{secret, url.QueryEscape(secret), url.PathEscape(secret), base64.StdEncoding.EncodeToString([]byte(secret)), secret[:12]}
		for _, esc := range []bool{true, false} {
			var b strings.Builder
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(esc)
			enc.Encode(secret)
			forms = append(forms, strings.Trim(strings.TrimSpace(b.String()), `"`))
		}
		if typ == "http_basic" {
			forms = append(forms, base64.StdEncoding.EncodeToString([]byte(data["username"]+":"+secret)))
		}
		for _, path := range []string{"/ok", "/fail"} {
			d := runHTTP(t, e, `{"method":"POST","url":"`+srv.URL+path+`","credential":"`+typ+`","body":"{\"note\": \"hello\"}"}`)
			st := enginetest.Step(d, "call")
			if st == nil {
				t.Fatalf("%s %s: no step; run %s", typ, path, d.Run.Error)
			}
			recorded := st.Input + st.Output + st.Error + d.Run.Error
			for _, f := range forms {
				if strings.Contains(recorded, f) {
					t.Errorf("%s %s: run history holds the secret as %q:\n%s", typ, path, f, recorded)
				}
			}
			if path == "/ok" {
				if d.Run.Status != store.RunSucceeded || !strings.Contains(st.Output, "X-Api-Key") || !strings.Contains(st.Output, "[redacted]") {
					t.Errorf("%s: only secret values are redacted, not header names: %s %s", typ, d.Run.Status, st.Output)
				}
				if typ == "http_basic" && !strings.Contains(st.Output, `"user":"ops-user"`) {
					t.Errorf("the user name is not secret: %s", st.Output)
				}
			} else if d.Run.Status != store.RunFailed || !strings.Contains(st.Error, "[redacted]") {
				t.Errorf("%s /fail: %s %q", typ, d.Run.Status, st.Error)
			}
		}
	}
}

// A header set from a credential (X-Api-Key) is not sent on when a redirect leads to another
// host; on the same host it is.
func TestCredentialHeadersDroppedOnCrossHostRedirect(t *testing.T) {
	e := enginetest.New(t, enginetest.Embedded)
	seen := make(chan http.Header, 4)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
		io.WriteString(w, `{}`)
	}))
	defer other.Close()
	var first *httptest.Server
	first = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, other.URL+"/landing", http.StatusTemporaryRedirect)
		case "/here":
			http.Redirect(w, r, first.URL+"/landing", http.StatusTemporaryRedirect)
		default:
			seen <- r.Header.Clone()
			io.WriteString(w, `{}`)
		}
	}))
	defer first.Close()
	if _, err := e.CreateCredential(context.Background(), "key", "http_header", map[string]string{"name": "X-Api-Key", "value": "sk-redirect-secret"}); err != nil {
		t.Fatal(err)
	}
	for path, wantKey := range map[string]bool{"/away": false, "/here": true} {
		d := runHTTP(t, e, `{"method":"GET","url":"`+first.URL+path+`","credential":"key"}`)
		if d.Run.Status != store.RunSucceeded {
			t.Fatalf("%s: %s", path, d.Run.Error)
		}
		h := <-seen
		if got := h.Get("X-Api-Key") == "sk-redirect-secret"; got != wantKey {
			t.Errorf("redirect %s: X-Api-Key sent on: %v, want %v (headers %v)", path, got, wantKey, h)
		}
	}
}
