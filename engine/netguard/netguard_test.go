package netguard

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestAllowed(t *testing.T) {
	g, _ := New(nil)
	for _, ip := range []string{"127.0.0.1", "::1", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "fd00::1", "::ffff:10.0.0.1", "fe80::1", "224.0.0.1"} {
		if g.Allowed(netip.MustParseAddr(ip)) {
			t.Errorf("%s is internal but allowed", ip)
		}
	}
	for _, ip := range []string{"93.184.216.34", "8.8.8.8", "2606:4700::1111"} {
		if !g.Allowed(netip.MustParseAddr(ip)) {
			t.Errorf("%s is public but refused", ip)
		}
	}
	g, err := New([]string{"127.0.0.0/8", "10.1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	if !g.Allowed(netip.MustParseAddr("127.0.0.9")) || !g.Allowed(netip.MustParseAddr("10.1.2.3")) || g.Allowed(netip.MustParseAddr("10.1.2.4")) {
		t.Error("allow list not applied exactly")
	}
	if _, err := New([]string{"10.0.0.0/33"}); err == nil || !strings.Contains(err.Error(), "OPSFLOW_HTTP_ALLOW") {
		t.Errorf("bad CIDR: %v", err)
	}
}

func TestClientRefusesInternalAndRedirects(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "internal data") }))
	defer target.Close()

	blocked, _ := New(nil)
	_, err := blocked.Client(5 * time.Second).Get(target.URL)
	var be *ErrBlocked
	if !errors.As(err, &be) {
		t.Fatalf("loopback reached without being allowed: %v", err)
	}

	allowed, _ := New([]string{"127.0.0.1/32"})
	resp, err := allowed.Client(5 * time.Second).Get(target.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	// A redirect from an allowed host to one that is not is refused too (127.0.0.2 is loopback on
	// Linux, but only 127.0.0.1 is allowed).
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2: %v", err)
	}
	hidden := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "metadata") })}
	go hidden.Serve(l)
	defer hidden.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+l.Addr().String()+"/latest/meta-data", http.StatusFound)
	}))
	defer redirector.Close()
	_, err = allowed.Client(5 * time.Second).Get(redirector.URL)
	if !errors.As(err, &be) || !strings.Contains(be.Addr, "127.0.0.2") {
		t.Errorf("redirect to a blocked address: %v", err)
	}
}
