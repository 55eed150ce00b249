package sandbox_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/opsflow/opsflow/engine/sandbox"
)

// The Twilio stand-in answers as Twilio does: 201 for a well-formed message, Twilio's error
// codes otherwise, and only accepted messages count as sent.
func TestTwilioChecksRequests(t *testing.T) {
	sb, err := sandbox.Start(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	send := func(sid, user, pass string, form url.Values) int {
		req, _ := http.NewRequest("POST", sb.URL+"/2010-04-01/Accounts/"+sid+"/Messages.json", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	ok := url.Values{"To": {"+8613800138000"}, "From": {"+14155550000"}, "Body": {"hi"}}
	for name, c := range map[string]struct {
		status int
		sid    string
		user   string
		form   url.Values
	}{
		"sent":          {201, "AC1", "AC1", ok},
		"no auth":       {401, "AC1", "", ok},
		"other account": {401, "AC1", "AC2", ok},
		"no To":         {400, "AC1", "AC1", url.Values{"From": {"+1"}, "Body": {"hi"}}},
		"no Body":       {400, "AC1", "AC1", url.Values{"To": {"+1"}, "From": {"+1"}}},
	} {
		if got := send(c.sid, c.user, "secret", c.form); got != c.status {
			t.Errorf("%s: status %d, want %d", name, got, c.status)
		}
	}
	if msgs := sb.Messages(); len(msgs) != 1 || msgs[0].Get("To") != "+8613800138000" {
		t.Errorf("messages sent: %v", msgs)
	}
	if n := len(sb.Requests("/Messages.json")); n != 5 {
		t.Errorf("%d requests recorded, want 5", n)
	}
}

// What is shown of a request never includes the secrets providers carry in headers, paths or queries.
func TestMaskedRequests(t *testing.T) {
	for _, c := range []struct {
		r          sandbox.Request
		auth, path string
	}{
		{sandbox.Request{Provider: "stripe", Path: "/v1/charges", Query: "limit=100", Header: http.Header{"Authorization": {"Bearer sk_test_secret"}}}, "Bearer ****", "/v1/charges?limit=100"},
		{sandbox.Request{Provider: "http", Path: "/robot/send", Query: "access_token=secret&timestamp=1&sign=secret"}, "", "/robot/send?access_token=****&sign=****&timestamp=1"},
		{sandbox.Request{Provider: "slack", Path: "/services/T0/B0/secret"}, "", "/services/T0/B0/****"},
	} {
		if a, p := c.r.MaskedAuth(), c.r.MaskedTarget(); a != c.auth || p != c.path {
			t.Errorf("%s: shown as %q %q, want %q %q", c.r.Path, a, p, c.auth, c.path)
		}
	}
}
