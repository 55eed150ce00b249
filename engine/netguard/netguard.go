// Package netguard builds the HTTP client every outbound call of a flow uses. By default it
// refuses to connect to loopback, private, link-local (cloud metadata) and other internal
// addresses, checked on the resolved IP at dial time so DNS rebinding cannot get around it.
package netguard

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/opsflow/opsflow/engine/telemetry"
)

// Guard decides which addresses outbound connections may reach.
type Guard struct {
	allow []netip.Prefix
}

// New returns a Guard that additionally allows the given CIDRs (e.g. "127.0.0.0/8" in tests, or an
// internal CRM's network). An empty list allows only public addresses.
func New(allowCIDRs []string) (*Guard, error) {
	g := &Guard{}
	for _, c := range allowCIDRs {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		p, err := netip.ParsePrefix(c)
		if err != nil {
			a, err2 := netip.ParseAddr(c)
			if err2 != nil {
				return nil, fmt.Errorf("OPSFLOW_HTTP_ALLOW: %q is not a CIDR or IP address", c)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			// Addresses are compared unmapped, so ::ffff:10.0.0.0/104 means 10.0.0.0/8.
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		g.allow = append(g.allow, p.Masked())
	}
	return g, nil
}

// Allowed reports whether a connection to ip may be made.
func (g *Guard) Allowed(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range g.allow {
		if p.Contains(ip) {
			return true
		}
	}
	if !ip.IsGlobalUnicast() || ip.IsPrivate() || blocked(ip) {
		return false
	}
	if sixToFour.Contains(ip) {
		// 6to4 embeds an IPv4 address in bits 16–47; an internal one is internal.
		b := ip.As16()
		return g.Allowed(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
	}
	return true
}

var sixToFour = netip.MustParsePrefix("2002::/16")

var extraBlocked = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"), // benchmarking
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("240.0.0.0/4"),  // reserved, and 255.255.255.255 broadcast
	netip.MustParsePrefix("64:ff9b::/96"), // NAT64 can reach IPv4 internals
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("::/96"),     // IPv4-compatible IPv6 (deprecated) embeds IPv4
	netip.MustParsePrefix("fec0::/10"), // site-local (deprecated): internal by definition
	netip.MustParsePrefix("2001::/32"), // Teredo embeds an (obfuscated) IPv4 address
	netip.MustParsePrefix("100::/64"),  // discard-only
}

func blocked(ip netip.Addr) bool {
	for _, p := range extraBlocked {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ErrBlocked is returned when a destination is internal and not allowed.
type ErrBlocked struct{ Addr string }

func (e *ErrBlocked) Error() string {
	return fmt.Sprintf("outbound connection to %s refused: internal addresses are blocked (allow them with OPSFLOW_HTTP_ALLOW)", e.Addr)
}

// Client returns an HTTP client that enforces the guard on every connection, including redirects.
func (g *Guard) Client(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{
		Timeout: 10 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip, err := netip.ParseAddr(host)
			if err != nil || !g.Allowed(ip) {
				return &ErrBlocked{Addr: address}
			}
			return nil
		},
	}
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would hide the real destination from the guard
		DialContext:           func(ctx context.Context, n, a string) (net.Conn, error) { return dialer.DialContext(ctx, n, a) },
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   20,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport: telemetry.Transport(tr), // metrics by host and status; traceparent when tracing; see Dialer
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return fmt.Errorf("stopped after 5 redirects")
			}
			if req.URL.Host != via[0].URL.Host {
				stripCredentials(req)
			}
			return nil
		},
	}
}

// Dialer is the guarded dial function of a client made by Client, so that other protocols
// (SMTP) obey the same address policy; ok is false for any other client.
func Dialer(c *http.Client) (dial func(ctx context.Context, network, addr string) (net.Conn, error), ok bool) {
	rt := c.Transport
	if w, wrapped := rt.(interface{ Unwrap() http.RoundTripper }); wrapped {
		rt = w.Unwrap()
	}
	tr, isHTTP := rt.(*http.Transport)
	if !isHTTP || tr.DialContext == nil {
		return nil, false
	}
	return tr.DialContext, true
}
