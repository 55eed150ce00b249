package netguard

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestAllowedTable(t *testing.T) {
	g, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	for ip, why := range map[string]string{
		"127.0.0.1":              "loopback",
		"127.255.255.254":        "loopback",
		"::1":                    "IPv6 loopback",
		"10.0.0.1":               "10/8",
		"10.255.255.255":         "10/8",
		"172.16.0.1":             "172.16/12",
		"172.31.255.255":         "172.16/12",
		"192.168.0.1":            "192.168/16",
		"169.254.169.254":        "cloud metadata",
		"100.64.0.1":             "carrier-grade NAT",
		"100.127.255.255":        "carrier-grade NAT",
		"0.0.0.0":                "unspecified",
		"0.1.2.3":                "this network",
		"::":                     "IPv6 unspecified",
		"fc00::1":                "unique local",
		"fdff:ffff::1":           "unique local",
		"fd00:ec2::254":          "AWS IPv6 metadata",
		"fe80::1":                "link-local",
		"fec0::1":                "site-local",
		"::ffff:10.0.0.1":        "IPv4-mapped private",
		"::ffff:127.0.0.1":       "IPv4-mapped loopback",
		"::ffff:169.254.169.254": "IPv4-mapped metadata",
		"::10.0.0.1":             "IPv4-compatible",
		"64:ff9b::a00:1":         "NAT64 of 10.0.0.1",
		"2002:a00:1::1":          "6to4 of 10.0.0.1",
		"2002:7f00:1::1":         "6to4 of 127.0.0.1",
		"2001:0:4136:e378::1":    "Teredo",
		"224.0.0.1":              "multicast",
		"ff02::1":                "IPv6 multicast",
		"255.255.255.255":        "broadcast",
		"240.0.0.1":              "reserved",
		"198.18.0.1":             "benchmarking",
		"192.0.0.170":            "IETF protocol assignments",
	} {
		if g.Allowed(netip.MustParseAddr(ip)) {
			t.Errorf("%s (%s) is internal but allowed", ip, why)
		}
	}
	for _, ip := range []string{"93.184.216.34", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:93.184.216.34", "2002:5db8:d822::1"} {
		if !g.Allowed(netip.MustParseAddr(ip)) {
			t.Errorf("%s is public but refused", ip)
		}
	}
}

func TestNewAllowList(t *testing.T) {
	g, err := New([]string{" 127.0.0.0/8 ", "", "10.1.2.3", "::ffff:192.168.0.0/120", "fd00::/8"})
	if err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]bool{
		"127.0.0.1": true, "127.1.2.3": true, "::ffff:127.0.0.1": true,
		"10.1.2.3": true, "10.1.2.4": false,
		"192.168.0.7": true, "192.168.1.7": false,
		"fd00::1": true, "fc00::1": false,
		"::1": false, "169.254.169.254": false,
		"93.184.216.34": true,
	} {
		if got := g.Allowed(netip.MustParseAddr(ip)); got != want {
			t.Errorf("Allowed(%s) = %v, want %v", ip, got, want)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "localhost", "10.0.0", "fe80::/129", "1.2.3.4/x"} {
		_, err := New([]string{"127.0.0.0/8", bad})
		if err == nil || !strings.Contains(err.Error(), "OPSFLOW_HTTP_ALLOW") || !strings.Contains(err.Error(), bad) {
			t.Errorf("New(%q): %v; want an error naming it", bad, err)
		}
	}
}

func TestClientEnforcesTheGuard(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "internal data")
	}))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port

	blocked, _ := New(nil)
	for _, url := range []string{srv.URL, "http://localhost:" + itoa(port) + "/"} {
		_, err := blocked.Client(5 * time.Second).Get(url)
		var be *ErrBlocked
		if !errors.As(err, &be) {
			t.Errorf("%s reached without being allowed: %v", url, err)
			continue
		}
		if !strings.Contains(be.Error(), "OPSFLOW_HTTP_ALLOW") || !strings.Contains(be.Addr, itoa(port)) {
			t.Errorf("unhelpful error: %v", be)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("the internal server was hit %d times", hits.Load())
	}

	allowed, _ := New([]string{"127.0.0.0/8"})
	resp, err := allowed.Client(5 * time.Second).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "internal data" || hits.Load() != 1 {
		t.Errorf("allowed: %q, %d hits", body, hits.Load())
	}
}

func TestRedirectToBlockedAddress(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2: %v", err)
	}
	var hidden atomic.Int32
	target := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hidden.Add(1)
		io.WriteString(w, "metadata")
	})}
	go target.Serve(l)
	defer target.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+l.Addr().String()+"/latest/meta-data", http.StatusFound)
	}))
	defer redirector.Close()

	only1, _ := New([]string{"127.0.0.1/32"})
	_, err = only1.Client(5 * time.Second).Get(redirector.URL)
	var be *ErrBlocked
	if !errors.As(err, &be) || !strings.HasPrefix(be.Addr, "127.0.0.2:") {
		t.Errorf("redirect to a blocked address: %v", err)
	}
	if hidden.Load() != 0 {
		t.Errorf("the blocked server was hit")
	}

	// The same redirect is followed when both addresses are allowed: the refusal above is the guard's.
	both, _ := New([]string{"127.0.0.1/32", "127.0.0.2/32"})
	resp, err := both.Client(5 * time.Second).Get(redirector.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "metadata" || hidden.Load() != 1 {
		t.Errorf("allowed redirect: %q", body)
	}
}

func TestRedirectLimitAndTimeout(t *testing.T) {
	var n atomic.Int32
	loop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(300 * time.Millisecond)
			return
		}
		n.Add(1)
		http.Redirect(w, r, "/again", http.StatusFound)
	}))
	defer loop.Close()
	g, _ := New([]string{"127.0.0.1"})
	_, err := g.Client(5 * time.Second).Get(loop.URL)
	if err == nil || !strings.Contains(err.Error(), "5 redirects") || n.Load() != 5 {
		t.Errorf("redirect loop: %v after %d requests", err, n.Load())
	}
	_, err = g.Client(50 * time.Millisecond).Get(loop.URL + "/slow")
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("timeout not applied: %v", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
