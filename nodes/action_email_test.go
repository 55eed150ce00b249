package nodes

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/netguard"
	"github.com/opsflow/opsflow/engine/node"
)

// testCert makes a self-signed certificate for 127.0.0.1 and localhost, returning it and its PEM.
func testCert(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "opsflow test SMTP"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// received is one message as the test SMTP server got it.
type received struct {
	mech     string
	helo     string
	user     string
	from     string
	rcpts    []string
	data     []byte
	tlsAtMsg bool
}

// smtpFake is a real SMTP server (go-smtp) requiring AUTH over TLS.
type smtpFake struct {
	t        *testing.T
	user     string
	pass     string
	mechs    []string
	rcptCode atomic.Int32 // when set, RCPT answers this code
	mu       sync.Mutex
	msgs     []received
	conns    atomic.Int32
}

func (f *smtpFake) NewSession(c *smtp.Conn) (smtp.Session, error) {
	f.conns.Add(1)
	return &smtpSession{f: f, c: c}, nil
}

func (f *smtpFake) last() received {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.msgs) == 0 {
		f.t.Fatal("no message received")
	}
	return f.msgs[len(f.msgs)-1]
}

type smtpSession struct {
	f    *smtpFake
	c    *smtp.Conn
	cur  received
	auth bool
}

func (s *smtpSession) AuthMechanisms() []string { return s.f.mechs }

func (s *smtpSession) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if user != s.f.user || pass != s.f.pass {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
		}
		s.auth, s.cur.mech, s.cur.user = true, mech, user
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnsupported
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if !s.auth {
		return smtp.ErrAuthRequired
	}
	_, s.cur.tlsAtMsg = s.c.TLSConnectionState()
	s.cur.from = from
	s.cur.helo = s.c.Hostname()
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if code := s.f.rcptCode.Load(); code != 0 {
		return &smtp.SMTPError{Code: int(code), EnhancedCode: smtp.EnhancedCode{4, 2, 1}, Message: "try again later"}
	}
	s.cur.rcpts = append(s.cur.rcpts, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = b
	s.f.mu.Lock()
	s.f.msgs = append(s.f.msgs, s.cur)
	s.f.mu.Unlock()
	return nil
}

func (s *smtpSession) Reset()        { s.cur = received{mech: s.cur.mech, user: s.cur.user} }
func (s *smtpSession) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN (go-sasl has only the client).
type loginServer struct {
	step  int
	user  string
	check func(user, pass string) error
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step = 1
		if resp == nil {
			return []byte("Username:"), false, nil
		}
		fallthrough
	case 1:
		l.user, l.step = string(resp), 2
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.user, string(resp))
	}
}

// startSMTP starts the fake on 127.0.0.1; implicit selects TLS from the first byte instead of STARTTLS.
// withTLS false gives a server without any TLS (no STARTTLS offered).
func startSMTP(t *testing.T, f *smtpFake, cert tls.Certificate, implicit, withTLS bool) string {
	t.Helper()
	s := smtp.NewServer(f)
	s.Domain = "localhost"
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	if withTLS {
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if implicit {
		l = tls.NewListener(l, s.TLSConfig)
	}
	go func() { _ = s.Serve(l) }()
	t.Cleanup(func() { _ = s.Close() })
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// parseMessage splits a received message into its headers and decoded text and HTML parts.
func parseMessage(t *testing.T, data []byte) (mail.Header, map[string]string) {
	t.Helper()
	if bytes.Contains(bytes.ReplaceAll(data, []byte("\r\n"), nil), []byte("\n")) {
		t.Errorf("message has bare LF line endings")
	}
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("message: %v\n%s", err, data)
	}
	parts := map[string]string{}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	if mt != "multipart/alternative" {
		b, _ := io.ReadAll(quotedprintable.NewReader(m.Body))
		// The message ends with a line break before SMTP's final dot.
		parts[mt] = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		return m.Header, parts
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	var order []string
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ct, cp, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if cp["charset"] != "utf-8" || p.Header.Get("Content-Transfer-Encoding") != "quoted-printable" {
			t.Errorf("part headers %v", p.Header)
		}
		b, _ := io.ReadAll(quotedprintable.NewReader(p))
		parts[ct] = string(b)
		order = append(order, ct)
	}
	if strings.Join(order, ",") != "text/plain,text/html" {
		t.Errorf("parts in order %v, want text/plain then text/html", order)
	}
	return m.Header, parts
}

func TestEmailSMTP(t *testing.T) {
	cert, caPEM := testCert(t)
	const password = "smtp-p@ss-w0rd!"
	cxBackends(t, func(t *testing.T, e *engine.Engine) {
		f := &smtpFake{t: t, user: "mailer@example.com", pass: password, mechs: []string{sasl.Plain, sasl.Login}}
		port := startSMTP(t, f, cert, false, true)
		cred := cxCredential(t, e, "smtp", map[string]string{
			"host": "127.0.0.1", "port": port, "username": "mailer@example.com", "password": password,
			"from": "Opsflow Billing <billing@example.com>", "tls": "starttls", "ca_cert": caPEM, "helo": "mailer.example.com",
		})
		typ := cxPublish(t, e, "action.email", map[string]any{
			"credential": cred,
			"to":         "{{ event.data.name }} <{{ event.data.email }}>, ops@example.com",
			"cc":         "finance@example.com",
			"bcc":        "audit@example.com",
			"subject":    "支付失败 – order {{ event.data.order }}",
			"text":       "Hello {{ event.data.name }},\nyour payment for {{ event.data.order }} failed.\nA long line: " + strings.Repeat("x", 100),
			"html":       `<p>Hello <b>{{ event.data.name }}</b>, your payment for {{ event.data.order }} failed. <a href="https://pay.example.com/?o={{ event.data.order }}&amp;r=1">Pay again</a></p>`,
		})
		d := cxRun(t, e, typ, map[string]any{"name": "Ann Lee", "email": "ann@example.com", "order": "A-17"})
		out := cxSucceeded(t, d)
		msg := f.last()
		if msg.mech != sasl.Plain || msg.user != "mailer@example.com" || !msg.tlsAtMsg || msg.helo != "mailer.example.com" {
			t.Fatalf("auth %s as %s, TLS %v, EHLO %s", msg.mech, msg.user, msg.tlsAtMsg, msg.helo)
		}
		if msg.from != "billing@example.com" || strings.Join(msg.rcpts, ",") != "ann@example.com,ops@example.com,finance@example.com,audit@example.com" {
			t.Fatalf("envelope from %s to %v", msg.from, msg.rcpts)
		}
		h, parts := parseMessage(t, msg.data)
		dec := new(mime.WordDecoder)
		subject, _ := dec.DecodeHeader(h.Get("Subject"))
		if subject != "支付失败 – order A-17" {
			t.Errorf("Subject %q (raw %q)", subject, h.Get("Subject"))
		}
		if from, _ := h.AddressList("From"); len(from) != 1 || from[0].Name != "Opsflow Billing" || from[0].Address != "billing@example.com" {
			t.Errorf("From %q", h.Get("From"))
		}
		if to, _ := h.AddressList("To"); len(to) != 2 || to[0].Name != "Ann Lee" || to[0].Address != "ann@example.com" || to[1].Address != "ops@example.com" {
			t.Errorf("To %q", h.Get("To"))
		}
		if h.Get("Cc") != "<finance@example.com>" || h.Get("Bcc") != "" || h.Get("MIME-Version") != "1.0" {
			t.Errorf("Cc %q Bcc %q MIME-Version %q", h.Get("Cc"), h.Get("Bcc"), h.Get("MIME-Version"))
		}
		if _, err := h.Date(); err != nil {
			t.Errorf("Date %q: %v", h.Get("Date"), err)
		}
		if h.Get("Message-ID") == "" || h.Get("Message-ID") != out["message_id"] || !strings.HasSuffix(h.Get("Message-ID"), "@example.com>") {
			t.Errorf("Message-ID %q, output %v", h.Get("Message-ID"), out["message_id"])
		}
		wantText := "Hello Ann Lee,\r\nyour payment for A-17 failed.\r\nA long line: " + strings.Repeat("x", 100)
		if parts["text/plain"] != wantText {
			t.Errorf("text part %q", parts["text/plain"])
		}
		if parts["text/html"] != `<p>Hello <b>Ann Lee</b>, your payment for A-17 failed. <a href="https://pay.example.com/?o=A-17&amp;r=1">Pay again</a></p>` {
			t.Errorf("html part %q", parts["text/html"])
		}
		if to, _ := out["to"].([]any); len(to) != 2 || to[0] != "ann@example.com" || out["from"] != "billing@example.com" || out["subject"] != "支付失败 – order A-17" {
			t.Errorf("output %v", out)
		}
		cxNoSecrets(t, d, password)

		// A temporary RCPT failure (4xx) is retried.
		f.rcptCode.Store(451)
		conns := f.conns.Load()
		d = cxRun(t, e, typ, map[string]any{"name": "Ann", "email": "ann@example.com", "order": "A-18"})
		if s := cxFailed(t, d, cxRetried); !strings.Contains(s.Error, "451") || f.conns.Load()-conns < cxRetried {
			t.Fatalf("error %q, connections %d", s.Error, f.conns.Load()-conns)
		}
		f.rcptCode.Store(0)

		// An invalid address never reaches the server.
		conns = f.conns.Load()
		d = cxRun(t, e, typ, map[string]any{"name": "Ann", "email": "not-an-address", "order": "A-19"})
		if s := cxFailed(t, d, 1); !strings.Contains(s.Error, "email addresses") || f.conns.Load() != conns {
			t.Fatalf("error %q", s.Error)
		}

		// A wrong password is a permanent 535.
		bad := cxCredential(t, e, "smtp", map[string]string{
			"host": "127.0.0.1", "port": port, "username": "mailer@example.com", "password": "wrong-password-123",
			"from": "billing@example.com", "tls": "starttls", "ca_cert": caPEM,
		})
		typBad := cxPublish(t, e, "action.email", map[string]any{"credential": bad, "to": "ann@example.com", "subject": "s", "text": "t"})
		d = cxRun(t, e, typBad, nil)
		if s := cxFailed(t, d, 1); !strings.Contains(s.Error, "535") {
			t.Fatalf("error %q", s.Error)
		}
		cxNoSecrets(t, d, "wrong-password-123")

		// Without the private CA the certificate is not trusted: permanent.
		untrusted := cxCredential(t, e, "smtp", map[string]string{
			"host": "127.0.0.1", "port": port, "username": "mailer@example.com", "password": password, "from": "billing@example.com",
		})
		typUntrusted := cxPublish(t, e, "action.email", map[string]any{"credential": untrusted, "to": "ann@example.com", "subject": "s", "html": "<p>t</p>"})
		d = cxRun(t, e, typUntrusted, nil)
		if s := cxFailed(t, d, 1); !strings.Contains(s.Error, "certificate") {
			t.Fatalf("error %q", s.Error)
		}
	})
}

func TestEmailImplicitTLSAndLogin(t *testing.T) {
	cert, caPEM := testCert(t)
	cxBackends(t, func(t *testing.T, e *engine.Engine) {
		f := &smtpFake{t: t, user: "u", pass: "login-secret", mechs: []string{sasl.Login}}
		port := startSMTP(t, f, cert, true, true)
		cred := cxCredential(t, e, "smtp", map[string]string{
			"host": "127.0.0.1", "port": port, "username": "u", "password": "login-secret", "from": "noreply@example.com", "tls": "tls", "ca_cert": caPEM,
		})
		typ := cxPublish(t, e, "action.email", map[string]any{"credential": cred, "to": "{{ event.data.to }}", "subject": "Only HTML", "html": "<h1>Hi {{ event.data.to }}</h1>"})
		d := cxRun(t, e, typ, map[string]any{"to": "bob@example.com"})
		cxSucceeded(t, d)
		msg := f.last()
		if msg.mech != sasl.Login || !msg.tlsAtMsg || strings.Join(msg.rcpts, ",") != "bob@example.com" {
			t.Fatalf("mech %s TLS %v rcpts %v", msg.mech, msg.tlsAtMsg, msg.rcpts)
		}
		h, parts := parseMessage(t, msg.data)
		if ct, _, _ := mime.ParseMediaType(h.Get("Content-Type")); ct != "text/html" || parts["text/html"] != "<h1>Hi bob@example.com</h1>" {
			t.Fatalf("Content-Type %q parts %v", h.Get("Content-Type"), parts)
		}
		cxNoSecrets(t, d, "login-secret")
	})
}

func TestEmailRequiresSTARTTLS(t *testing.T) {
	cert, _ := testCert(t)
	cxBackends(t, func(t *testing.T, e *engine.Engine) {
		f := &smtpFake{t: t, user: "u", pass: "p4ssword", mechs: []string{sasl.Plain}}
		port := startSMTP(t, f, cert, false, false)
		cred := cxCredential(t, e, "smtp", map[string]string{"host": "127.0.0.1", "port": port, "username": "u", "password": "p4ssword", "from": "noreply@example.com"})
		typ := cxPublish(t, e, "action.email", map[string]any{"credential": cred, "to": "bob@example.com", "subject": "s", "text": "t"})
		d := cxRun(t, e, typ, nil)
		if s := cxFailed(t, d, 1); !strings.Contains(s.Error, "STARTTLS") {
			t.Fatalf("error %q", s.Error)
		}
	})
}

func TestEmailCheckNeedsBody(t *testing.T) {
	spec := cxSpec(t, "action.email")
	if errs := spec.Check(map[string]any{"to": "a@example.com", "subject": "s"}); len(errs) != 1 {
		t.Fatalf("Check: %v", errs)
	}
	if errs := spec.Check(map[string]any{"to": "a@example.com", "subject": "s", "html": "<p>x</p>"}); len(errs) != 0 {
		t.Fatalf("Check: %v", errs)
	}
}

// cxServices is a node.Services with only an HTTP client, for calling node code directly.
type cxServices struct{ client *http.Client }

func (s cxServices) HTTPClient() *http.Client { return s.client }
func (s cxServices) Credential(context.Context, string) (*node.Credential, error) {
	return nil, errors.New("no credentials here")
}
func (s cxServices) Assign(context.Context, node.AssignRequest) (*node.Assignment, error) {
	return nil, errors.New("no teams here")
}
func (s cxServices) StartSubflow(context.Context, node.SubflowRequest) (string, error) {
	return "", errors.New("no flows here")
}
func (s cxServices) CountEvents(context.Context, string, string, string, time.Time) (int, error) {
	return 0, errors.New("no events here")
}

// SMTP connections go through the engine's address guard: with loopback not allowed, the
// connection is refused before any byte is sent, and permanently.
func TestEmailDialGuarded(t *testing.T) {
	cert, _ := testCert(t)
	f := &smtpFake{t: t, user: "u", pass: "p", mechs: []string{sasl.Plain}}
	port := startSMTP(t, f, cert, false, true)
	g, err := netguard.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := smtpCredential(&node.Credential{Name: "c", Data: map[string]string{"host": "127.0.0.1", "port": port, "from": "a@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	in := &node.Input{Services: cxServices{g.Client(time.Second)}}
	err = deliverSMTP(context.Background(), in, cfg, []string{"b@example.com"}, []byte("x\r\n"))
	var blocked *netguard.ErrBlocked
	var perm *node.PermanentError
	if !errors.As(err, &blocked) || !errors.As(err, &perm) || f.conns.Load() != 0 {
		t.Fatalf("err %v, connections %d", err, f.conns.Load())
	}
}
