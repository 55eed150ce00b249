package netguard

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// A redirect to another host (another port is another server) loses Authorization, Cookie and
// every header marked as a credential; unmarked headers go on, and a same-host redirect keeps all.
func TestRedirectDropsCredentialHeaders(t *testing.T) {
	seen := make(chan http.Header, 1)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen <- r.Header.Clone() }))
	defer other.Close()
	var first *httptest.Server
	first = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, other.URL+"/x", http.StatusFound)
		case "/here":
			http.Redirect(w, r, first.URL+"/x", http.StatusFound)
		default:
			seen <- r.Header.Clone()
		}
	}))
	defer first.Close()
	g, err := New([]string{"127.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	client := g.Client(5 * time.Second)
	for path, keep := range map[string]bool{"/away": false, "/here": true} {
		ctx := WithCredentialHeaders(context.Background(), "X-Api-Key")
		req, _ := http.NewRequestWithContext(ctx, "GET", first.URL+path, nil)
		req.Header.Set("Authorization", "Bearer tok")
		req.Header.Set("Cookie", "session=1")
		req.Header.Set("X-Api-Key", "key")
		req.Header.Set("X-Trace", "t-1")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := <-seen
		for _, name := range []string{"Authorization", "Cookie", "X-Api-Key"} {
			if got := h.Get(name) != ""; got != keep {
				t.Errorf("redirect %s: %s sent on: %v, want %v", path, name, got, keep)
			}
		}
		if h.Get("X-Trace") != "t-1" {
			t.Errorf("redirect %s: an ordinary header was dropped: %v", path, h)
		}
	}
}
