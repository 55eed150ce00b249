package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/opsflow/opsflow/engine/api/apitest"
	"github.com/opsflow/opsflow/engine/auth"
	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/store"
	"github.com/opsflow/opsflow/engine/template"
	"github.com/opsflow/opsflow/examples"
)

// clock is a settable time for session and lockout tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type authEnv struct {
	t    *testing.T
	srv  *httptest.Server
	h    http.Handler
	svc  *auth.Service
	keys map[string]string // role → API key
	ids  map[string]string // role → user id
	now  *clock
}

const testPassword = "correct horse battery staple"

// newAuthEnv starts a server without static tokens and one user with an API key per role.
func newAuthEnv(t *testing.T, cfg auth.Config) *authEnv {
	t.Helper()
	e := enginetest.New(t, enginetest.Embedded)
	now := &clock{t: time.Now().UTC()}
	cfg.Now = now.Now
	gallery, err := template.Gallery(examples.Templates, "templates")
	if err != nil {
		t.Fatal(err)
	}
	h := New(e, Options{Auth: cfg, Templates: gallery})
	srv := apitest.NewServer(t, h)
	t.Cleanup(srv.Close)
	env := &authEnv{t: t, srv: srv, h: h, svc: auth.New(e.Store.DB, cfg), keys: map[string]string{}, ids: map[string]string{}, now: now}
	for _, role := range auth.Roles {
		u, err := env.svc.CreateUser(context.Background(), role+"@example.com", role, role, testPassword)
		if err != nil {
			t.Fatal(err)
		}
		_, key, err := env.svc.CreateKey(context.Background(), role+" key", role, u.ID, u.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		env.keys[role], env.ids[role] = key, u.ID
	}
	return env
}

// do calls the API with headers ("Authorization": ..., "Cookie": ...) and returns status, decoded body, raw body, response.
func (env *authEnv) do(method, path, body string, hdr map[string]string) (int, map[string]any, string, *http.Response) {
	env.t.Helper()
	req, _ := http.NewRequest(method, env.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		env.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out, string(raw), resp
}

func (env *authEnv) as(role string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + env.keys[role]}
}

// Every route of the server has exactly one rule in the table, and the table names no route the
// server lacks: a new route without a rule fails here (and is refused at run time).
func TestEveryRouteHasARule(t *testing.T) {
	_, h := newServer(t)
	seen := map[string]bool{}
	for _, r := range h.(*gin.Engine).Routes() {
		key := r.Method + " " + r.Path
		seen[key] = true
		if _, ok := routes[key]; !ok {
			t.Errorf("route %s has no rule in perms.go", key)
		}
	}
	for key := range routes {
		if !seen[key] {
			t.Errorf("perms.go has a rule for %s, which the server does not have", key)
		}
	}
}

// Every route in the OpenAPI document, called as anonymous and as each role: public routes never
// answer 401/403, the others answer 401 to anonymous, 403 to a role without the permission, and
// anything but 401/403 to a role with it. The expected matrix is the documented x-permission of
// each operation, checked against the role matrix of docs/security.md.
func TestAuthorizationMatrix(t *testing.T) {
	env := newAuthEnv(t, auth.Config{IPAttempts: 10000})
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatal(err)
	}
	// The role matrix as docs/security.md states it.
	matrix := map[auth.Permission][]string{
		auth.Self: auth.Roles, auth.ReadFlows: auth.Roles,
		auth.WriteFlows: {"admin", "editor"}, auth.PublishFlows: {"admin", "editor"},
		auth.RunFlows: {"admin", "editor", "operator"}, auth.SendEvents: {"admin", "editor", "operator"},
		auth.OperateRuns: {"admin", "operator"}, auth.WorkAssignments: {"admin", "operator"},
		auth.ManageTeams: {"admin"}, auth.ManageCreds: {"admin"}, auth.ManageUsers: {"admin"}, auth.ReadAudit: {"admin"},
	}
	param := regexp.MustCompile(`\{[a-z_]+\}`)
	var paths []string
	for p := range doc.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	calls := 0
	for _, p := range paths {
		for method, raw := range doc.Paths[p] {
			if method == "parameters" {
				continue
			}
			var o struct {
				Perm auth.Permission `json:"x-permission"`
			}
			json.Unmarshal(raw, &o)
			M := strings.ToUpper(method)
			r, ok := routes[M+" "+param.ReplaceAllStringFunc("/api/v1"+p, func(s string) string { return ":" + s[1:len(s)-1] })]
			if !ok || r.perm != o.Perm {
				t.Errorf("%s %s: openapi x-permission %q, route table %+v", M, p, o.Perm, r)
				continue
			}
			url := "/api/v1" + param.ReplaceAllString(p, "00000000-0000-0000-0000-000000000000")
			// Anonymous.
			status, body, raw, _ := env.do(M, url, "", nil)
			calls++
			if r.perm == auth.Public {
				if status == 401 || status == 403 {
					t.Errorf("anonymous %s %s: %d %s, want a public answer", M, p, status, raw)
				}
				continue
			}
			if status != 401 || body["error"] == nil {
				t.Errorf("anonymous %s %s: %d %s, want 401", M, p, status, raw)
			}
			for _, role := range auth.Roles {
				allowed := false
				for _, r := range matrix[r.perm] {
					allowed = allowed || r == role
				}
				if auth.Allows(role, r.perm) != allowed {
					t.Errorf("role %s, permission %s: the code says %v, the documented matrix %v", role, r.perm, !allowed, allowed)
				}
				status, _, raw, _ := env.do(M, url, "", env.as(role))
				calls++
				switch {
				case allowed && (status == 401 || status == 403):
					t.Errorf("%s %s %s: %d %s, want allowed", role, M, p, status, raw)
				case !allowed && status != 403:
					t.Errorf("%s %s %s: %d %s, want 403", role, M, p, status, raw)
				}
			}
		}
	}
	if calls < 250 {
		t.Errorf("only %d calls: the OpenAPI document was not walked", calls)
	}
}

func cookieOf(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == SessionCookie {
			return c
		}
	}
	return nil
}

// Sign-in sets a HttpOnly, SameSite=Strict cookie; cookie-authenticated writes need the CSRF
// token; sessions are listed, revoked, end on logout and after the idle and absolute timeouts.
func TestLoginSessionCSRF(t *testing.T) {
	env := newAuthEnv(t, auth.Config{SessionIdle: 30 * time.Minute, SessionMax: 2 * time.Hour})
	login := func(email, pw string) (string, string) {
		status, body, raw, resp := env.do("POST", "/api/v1/auth/login", `{"email":"`+email+`","password":"`+pw+`"}`, nil)
		if status != 200 {
			t.Fatalf("login: %d %s", status, raw)
		}
		c := cookieOf(resp)
		if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure || c.Path != "/" {
			t.Fatalf("cookie %+v", c)
		}
		if strings.Contains(raw, c.Value) || strings.Contains(raw, "password") {
			t.Errorf("the login answer repeats the cookie or a password: %s", raw)
		}
		return c.Value, body["csrf_token"].(string)
	}
	cookie, csrf := login("Editor@Example.com ", testPassword)
	ck := map[string]string{"Cookie": SessionCookie + "=" + cookie}
	if status, body, raw, _ := env.do("GET", "/api/v1/auth/me", "", ck); status != 200 || body["role"] != "editor" || body["csrf_token"] != csrf {
		t.Fatalf("me: %d %s", status, raw)
	}
	if status, body, raw, _ := env.do("POST", "/api/v1/flows", validFlow, ck); status != 403 || body["error"].(map[string]any)["code"] != "csrf" {
		t.Errorf("write without CSRF: %d %s", status, raw)
	}
	ck[CSRFHeader] = "wrong"
	if status, _, raw, _ := env.do("POST", "/api/v1/flows", validFlow, ck); status != 403 {
		t.Errorf("write with a wrong CSRF token: %d %s", status, raw)
	}
	ck[CSRFHeader] = csrf
	if status, _, raw, _ := env.do("POST", "/api/v1/flows", validFlow, ck); status != 201 {
		t.Errorf("write with CSRF: %d %s", status, raw)
	}
	// The role still applies to a session: an editor cannot manage users.
	if status, _, raw, _ := env.do("GET", "/api/v1/users", "", ck); status != 403 {
		t.Errorf("editor listing users: %d %s", status, raw)
	}
	// Two sessions; revoke the other one.
	cookie2, _ := login("editor@example.com", testPassword)
	_, list, raw, _ := env.do("GET", "/api/v1/auth/sessions", "", ck)
	items := list["items"].([]any)
	if len(items) != 2 {
		t.Fatalf("sessions: %s", raw)
	}
	var other string
	for _, it := range items {
		if m := it.(map[string]any); m["current"] != true {
			other = m["id"].(string)
		}
	}
	if status, _, raw, _ := env.do("DELETE", "/api/v1/auth/sessions/"+other, "", ck); status != 204 {
		t.Fatalf("revoke: %d %s", status, raw)
	}
	if status, body, _, _ := env.do("GET", "/api/v1/auth/me", "", map[string]string{"Cookie": SessionCookie + "=" + cookie2}); status != 401 || body["error"].(map[string]any)["code"] != "session_expired" {
		t.Errorf("revoked session still works: %d", status)
	}
	// Another user's session cannot be revoked by id.
	vc, _ := login("viewer@example.com", testPassword)
	_, vlist, _, _ := env.do("GET", "/api/v1/auth/sessions", "", map[string]string{"Cookie": SessionCookie + "=" + vc})
	vid := vlist["items"].([]any)[0].(map[string]any)["id"].(string)
	if status, _, _, _ := env.do("DELETE", "/api/v1/auth/sessions/"+vid, "", ck); status != 404 {
		t.Errorf("revoking someone else's session: %d, want 404", status)
	}
	// Idle timeout: 29 minutes is fine (and refreshes), 31 more is not.
	env.now.Add(29 * time.Minute)
	if status, _, _, _ := env.do("GET", "/api/v1/auth/me", "", ck); status != 200 {
		t.Fatalf("after 29 idle minutes: %d", status)
	}
	env.now.Add(31 * time.Minute)
	if status, _, _, _ := env.do("GET", "/api/v1/auth/me", "", ck); status != 401 {
		t.Errorf("after 31 idle minutes: %d, want 401", status)
	}
	// Absolute timeout: used every 20 minutes, the session still ends after 2 hours.
	cookie, csrf = login("editor@example.com", testPassword)
	ck = map[string]string{"Cookie": SessionCookie + "=" + cookie, CSRFHeader: csrf}
	for i := 0; i < 5; i++ {
		env.now.Add(20 * time.Minute)
		if status, _, _, _ := env.do("GET", "/api/v1/auth/me", "", ck); status != 200 {
			t.Fatalf("active session after %d min: %d", 20*(i+1), status)
		}
	}
	env.now.Add(21 * time.Minute)
	if status, _, _, _ := env.do("GET", "/api/v1/auth/me", "", ck); status != 401 {
		t.Errorf("session past its absolute timeout: %d, want 401", status)
	}
	// Logout ends the session and clears the cookie.
	cookie, csrf = login("editor@example.com", testPassword)
	ck = map[string]string{"Cookie": SessionCookie + "=" + cookie, CSRFHeader: csrf}
	status, _, _, resp := env.do("POST", "/api/v1/auth/logout", "", ck)
	if c := cookieOf(resp); status != 204 || c == nil || c.MaxAge >= 0 {
		t.Errorf("logout: %d, cookie %+v", status, c)
	}
	if status, _, _, _ := env.do("GET", "/api/v1/auth/me", "", ck); status != 401 {
		t.Errorf("after logout: %d", status)
	}
	// On TLS (here: behind a proxy that says so) the cookie is Secure.
	_, _, _, resp = env.do("POST", "/api/v1/auth/login", `{"email":"viewer@example.com","password":"`+testPassword+`"}`, map[string]string{"X-Forwarded-Proto": "https"})
	if c := cookieOf(resp); c == nil || !c.Secure {
		t.Errorf("cookie over https: %+v", c)
	}
}

// Wrong passwords lock the account (even the right password is refused then) until the lock
// expires or an admin resets the password; one IP is rate-limited across accounts.
func TestLoginLockoutAndRateLimit(t *testing.T) {
	env := newAuthEnv(t, auth.Config{MaxFailures: 3, LockFor: 10 * time.Minute, IPAttempts: 12, IPWindow: time.Minute})
	try := func(email, pw string) (int, string) {
		status, body, _, _ := env.do("POST", "/api/v1/auth/login", `{"email":"`+email+`","password":"`+pw+`"}`, nil)
		e, _ := body["error"].(map[string]any)
		code, _ := e["code"].(string)
		return status, code
	}
	if s, code := try("nobody@example.com", "whatever-password"); s != 401 || code != "bad_login" {
		t.Errorf("unknown email: %d %s", s, code)
	}
	for i := 0; i < 3; i++ {
		if s, code := try("viewer@example.com", "wrong password!"); s != 401 || code != "bad_login" {
			t.Fatalf("wrong password %d: %d %s", i, s, code)
		}
	}
	if s, code := try("viewer@example.com", testPassword); s != 429 || code != "locked" {
		t.Fatalf("right password on a locked account: %d %s", s, code)
	}
	env.now.Add(11 * time.Minute)
	if s, _ := try("viewer@example.com", testPassword); s != 200 {
		t.Fatalf("after the lock expired: %d", s)
	}
	for i := 0; i < 3; i++ {
		try("operator@example.com", "wrong password!")
	}
	if status, _, raw, _ := env.do("POST", "/api/v1/users/"+env.ids["operator"]+"/password", `{"password":"short"}`, env.as("admin")); status != 400 || !strings.Contains(raw, "at least 12") {
		t.Errorf("weak reset password: %d %s", status, raw)
	}
	if status, _, raw, _ := env.do("POST", "/api/v1/users/"+env.ids["operator"]+"/password", `{"password":"a brand new passphrase"}`, env.as("admin")); status != 204 {
		t.Fatalf("reset: %d %s", status, raw)
	}
	if s, _ := try("operator@example.com", testPassword); s != 401 {
		t.Errorf("old password after reset: %d", s)
	}
	if s, _ := try("operator@example.com", "a brand new passphrase"); s != 200 {
		t.Errorf("new password after reset unlocks: %d", s)
	}
	// 12 attempts per minute per IP, whichever accounts they try: the 13th is refused however right.
	env.now.Add(2 * time.Minute)
	for i := 0; i < 12; i++ {
		if s, _ := try("nobody"+strconv.Itoa(i)+"@example.com", "guess guess guess"); s != 401 {
			t.Fatalf("attempt %d: %d", i, s)
		}
	}
	if s, code := try("editor@example.com", testPassword); s != 429 || code != "rate_limited" {
		t.Errorf("13th attempt from one IP: %d %s", s, code)
	}
	env.now.Add(time.Minute)
	if s, _ := try("editor@example.com", testPassword); s != 200 {
		t.Errorf("after the window: %d", s)
	}
	// A disabled user cannot sign in.
	env.do("PATCH", "/api/v1/users/"+env.ids["editor"], `{"disabled":true}`, env.as("admin"))
	if s, code := try("editor@example.com", testPassword); s != 403 || code != "disabled" {
		t.Errorf("disabled user: %d %s", s, code)
	}
}

// API keys: shown once, stored hashed, role-capped by the owner, expiring, revocable, with a
// last-used time; the Authorization scheme is case-insensitive; static tokens are admin.
func TestAPIKeys(t *testing.T) {
	env := newAuthEnv(t, auth.Config{})
	status, k, raw, _ := env.do("POST", "/api/v1/keys", `{"name":"crm sync","role":"viewer"}`, env.as("operator"))
	if status != 201 || !strings.HasPrefix(k["key"].(string), auth.KeyPrefix) || k["role"] != "viewer" {
		t.Fatalf("create: %d %s", status, raw)
	}
	key := k["key"].(string)
	var stored store.APIKey
	_, list, raw, _ := env.do("GET", "/api/v1/keys", "", env.as("operator"))
	if strings.Contains(raw, key) || len(list["items"].([]any)) != 2 {
		t.Errorf("list shows the key or the wrong keys: %s", raw)
	}
	for _, scheme := range []string{"Bearer ", "bearer ", "BEARER  "} {
		if status, body, _, _ := env.do("GET", "/api/v1/auth/me", "", map[string]string{"Authorization": scheme + key}); status != 200 || body["role"] != "viewer" {
			t.Errorf("%q: %d %v", scheme, status, body)
		}
	}
	if status, _, _, _ := env.do("POST", "/api/v1/runs/x/cancel", "", map[string]string{"Authorization": "Bearer " + key}); status != 403 {
		t.Errorf("viewer key cancelling: %d", status)
	}
	_, list, _, _ = env.do("GET", "/api/v1/keys", "", env.as("operator"))
	for _, it := range list["items"].([]any) {
		if m := it.(map[string]any); m["id"] == k["id"] && m["last_used_at"] == nil {
			t.Errorf("last_used_at not set: %v", m)
		}
	}
	if err := env.svc.DB().Where("id = ?", k["id"]).Take(&stored).Error; err != nil || stored.KeyHash == key || stored.KeyHash != auth.Hash(key) {
		t.Errorf("stored %+v", stored)
	}
	// A key may not outrank its owner; a non-admin cannot make service keys.
	if status, _, _, _ := env.do("POST", "/api/v1/keys", `{"name":"x","role":"admin"}`, env.as("editor")); status != 403 {
		t.Errorf("editor making an admin key: %d", status)
	}
	if status, _, _, _ := env.do("POST", "/api/v1/keys", `{"name":"x","service":true}`, env.as("editor")); status != 403 {
		t.Errorf("editor making a service key: %d", status)
	}
	// Demoting the owner demotes the key.
	env.do("PATCH", "/api/v1/users/"+env.ids["editor"], `{"role":"viewer"}`, env.as("admin"))
	if status, body, _, _ := env.do("GET", "/api/v1/auth/me", "", env.as("editor")); status != 200 || body["role"] != "viewer" {
		t.Errorf("demoted owner's key: %d %v", status, body)
	}
	// Someone else's key is invisible; its owner and admins can revoke it.
	if status, _, _, _ := env.do("DELETE", "/api/v1/keys/"+k["id"].(string), "", env.as("viewer")); status != 404 {
		t.Errorf("revoking another user's key: %d", status)
	}
	if status, _, _, _ := env.do("DELETE", "/api/v1/keys/"+k["id"].(string), "", env.as("operator")); status != 204 {
		t.Errorf("revoking own key: %d", status)
	}
	if status, _, _, _ := env.do("GET", "/api/v1/auth/me", "", map[string]string{"Authorization": "Bearer " + key}); status != 401 {
		t.Errorf("revoked key: %d", status)
	}
	// Expiry.
	exp := env.now.Now().Add(time.Hour).Format(time.RFC3339)
	_, sk, raw, _ := env.do("POST", "/api/v1/keys", `{"name":"svc","service":true,"role":"operator","expires_at":"`+exp+`"}`, env.as("admin"))
	if sk["service"] != true || sk["user_id"] != nil {
		t.Fatalf("service key: %s", raw)
	}
	svc := map[string]string{"Authorization": "Bearer " + sk["key"].(string)}
	if status, body, _, _ := env.do("GET", "/api/v1/auth/me", "", svc); status != 200 || body["kind"] != "key" {
		t.Errorf("service key: %d %v", status, body)
	}
	env.now.Add(61 * time.Minute)
	if status, _, _, _ := env.do("GET", "/api/v1/auth/me", "", svc); status != 401 {
		t.Errorf("expired key: %d", status)
	}
	if status, _, raw, _ := env.do("POST", "/api/v1/keys", `{"name":"old","expires_at":"2001-01-01T00:00:00Z"}`, env.as("admin")); status != 400 {
		t.Errorf("key expiring in the past: %d %s", status, raw)
	}
	for _, auth := range []string{"Basic abc", "Bearer", "Bearer ofk_nope", "Token x"} {
		if status, body, _, _ := env.do("GET", "/api/v1/flows", "", map[string]string{"Authorization": auth}); status != 401 || body["error"] == nil {
			t.Errorf("%q: %d", auth, status)
		}
	}
}

// The first admin comes from the one-time setup token; afterwards setup is closed.
func TestSetup(t *testing.T) {
	e := enginetest.New(t, enginetest.Embedded)
	svc := auth.New(e.Store.DB, auth.Config{})
	srv := apitest.NewServer(t, New(e, Options{}))
	defer srv.Close()
	env := &authEnv{t: t, srv: srv}
	if status, body, _, _ := env.do("GET", "/api/v1/flows", "", nil); status != 401 || body["error"] == nil {
		t.Fatalf("empty store, no tokens: the API must not be open (%d)", status)
	}
	if _, body, _, _ := env.do("GET", "/api/v1/setup", "", nil); body["needed"] != true {
		t.Fatalf("setup needed: %v", body)
	}
	token, err := svc.NewSetupToken(context.Background())
	if err != nil || token == "" {
		t.Fatal(token, err)
	}
	if status, _, raw, _ := env.do("POST", "/api/v1/setup", `{"token":"guess","email":"a@example.com","password":"`+testPassword+`"}`, nil); status != 403 {
		t.Errorf("wrong token: %d %s", status, raw)
	}
	if status, _, raw, _ := env.do("POST", "/api/v1/setup", `{"token":"`+token+`","email":"a@example.com","password":"short"}`, nil); status != 400 {
		t.Errorf("weak password: %d %s", status, raw)
	}
	if status, body, raw, _ := env.do("POST", "/api/v1/setup", `{"token":"`+token+`","email":"Admin@Example.com","password":"`+testPassword+`"}`, nil); status != 201 || body["role"] != "admin" || body["email"] != "admin@example.com" {
		t.Fatalf("setup: %d %s", status, raw)
	}
	if status, _, raw, _ := env.do("POST", "/api/v1/setup", `{"token":"`+token+`","email":"b@example.com","password":"`+testPassword+`"}`, nil); status != 409 {
		t.Errorf("second setup: %d %s", status, raw)
	}
	if tok, _ := svc.NewSetupToken(context.Background()); tok != "" {
		t.Errorf("a setup token once users exist")
	}
	if status, _, raw, _ := env.do("POST", "/api/v1/auth/login", `{"email":"admin@example.com","password":"`+testPassword+`"}`, nil); status != 200 {
		t.Errorf("first admin signs in: %d %s", status, raw)
	}
}

// The last active admin can neither be demoted nor disabled.
func TestLastAdmin(t *testing.T) {
	env := newAuthEnv(t, auth.Config{})
	for _, body := range []string{`{"role":"editor"}`, `{"disabled":true}`} {
		if status, resp, raw, _ := env.do("PATCH", "/api/v1/users/"+env.ids["admin"], body, env.as("admin")); status != 409 || resp["error"].(map[string]any)["code"] != "last_admin" {
			t.Errorf("%s: %d %s", body, status, raw)
		}
	}
	env.do("PATCH", "/api/v1/users/"+env.ids["editor"], `{"role":"admin"}`, env.as("admin"))
	if status, _, raw, _ := env.do("PATCH", "/api/v1/users/"+env.ids["admin"], `{"role":"viewer"}`, env.as("admin")); status != 200 {
		t.Errorf("with a second admin: %d %s", status, raw)
	}
}
