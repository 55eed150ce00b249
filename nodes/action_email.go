package nodes

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opsflow/opsflow/engine/netguard"
	"github.com/opsflow/opsflow/engine/node"
)

// emailTimeout bounds one delivery: connect, TLS, AUTH and the whole transaction.
const emailTimeout = 60 * time.Second

func init() {
	node.Register(&node.Spec{
		Type:        "action.email",
		Category:    node.Action,
		Title:       node.Text{En: "Send email", Zh: "发送邮件"},
		Description: node.Text{En: "Sends an email with text and HTML bodies through an SMTP server (STARTTLS or TLS, with authentication).", Zh: "通过 SMTP 服务器（STARTTLS 或 TLS，带认证）发送含纯文本和 HTML 正文的邮件。"},
		Icon:        "mail",
		SideEffect:  true,
		Fields: []node.Field{
			{Name: "credential", Kind: node.KindCredential, Required: true, CredentialTypes: []string{"smtp"},
				Title: node.Text{En: "SMTP server", Zh: "SMTP 服务器"},
				Help: node.Text{
					En: "An smtp credential: host, port, username, password, from, tls (starttls, tls or none), optionally ca_cert (PEM) to trust a private CA and helo (the name sent in EHLO).",
					Zh: "smtp 凭据：host、port、username、password、from、tls（starttls、tls 或 none），可选 ca_cert（PEM）以信任私有 CA，以及 helo（EHLO 中发送的主机名）。"}},
			{Name: "to", Kind: node.KindTemplate, Required: true, Placeholder: "{{ event.data.customer.email }}",
				Title: node.Text{En: "To", Zh: "收件人"},
				Help:  node.Text{En: "One or more addresses separated by commas, e.g. Ann <ann@example.com>, ops@example.com.", Zh: "一个或多个地址，以逗号分隔，例如 Ann <ann@example.com>, ops@example.com。"}},
			{Name: "cc", Kind: node.KindTemplate,
				Title: node.Text{En: "Cc", Zh: "抄送"}},
			{Name: "bcc", Kind: node.KindTemplate,
				Title: node.Text{En: "Bcc", Zh: "密送"},
				Help:  node.Text{En: "Receives the message without appearing in its headers.", Zh: "收到邮件，但不出现在邮件头中。"}},
			{Name: "reply_to", Kind: node.KindTemplate,
				Title: node.Text{En: "Reply-To", Zh: "回复地址"}},
			{Name: "subject", Kind: node.KindTemplate, Required: true, MaxLen: 998, Placeholder: "Payment for order {{ event.data.order_id }} failed",
				Title: node.Text{En: "Subject", Zh: "主题"}},
			{Name: "text", Kind: node.KindTemplate,
				Title: node.Text{En: "Text body", Zh: "纯文本正文"}},
			{Name: "html", Kind: node.KindTemplate,
				Title: node.Text{En: "HTML body", Zh: "HTML 正文"},
				Help:  node.Text{En: "With both bodies the message is multipart/alternative; mail clients show the HTML one when they can.", Zh: "同时填写两种正文时，邮件为 multipart/alternative，客户端优先显示 HTML。"}},
		},
		Check: func(cfg map[string]any) []node.FieldError {
			if strings.TrimSpace(str(cfg, "text")) == "" && strings.TrimSpace(str(cfg, "html")) == "" {
				return []node.FieldError{{Field: "text", Message: "a text body, an HTML body or both are required", Zh: "需要纯文本正文、HTML 正文或两者"}}
			}
			return nil
		},
		Output: node.Object(map[string]*node.Schema{
			"message_id": node.Str(),
			"from":       node.Str(),
			"to":         node.ArrayOf(node.Str()),
			"cc":         node.ArrayOf(node.Str()),
			"subject":    node.Str(),
		}),
		Run: runEmail,
		Docs: node.Text{
			En: "`tls` in the credential chooses how the connection is protected: `starttls` (default, port 587) upgrades the connection and fails if the server " +
				"does not offer STARTTLS; `tls` (port 465) is TLS from the start; `none` (port 25) sends in clear and refuses to send a password to anything but a loopback address. " +
				"AUTH uses PLAIN, or LOGIN when the server offers only that. The Message-ID is derived from the run and node, so a retried step keeps it. " +
				"SMTP 5xx answers (bad password, unknown mailbox) and certificate errors fail the run at once; 4xx answers and network errors are retried. " +
				"Connections go through the same internal-address guard as HTTP requests.",
			Zh: "凭据中的 `tls` 决定连接的保护方式：`starttls`（默认，端口 587）升级连接，服务器不支持 STARTTLS 时失败；`tls`（端口 465）从一开始就是 TLS；`none`（端口 25）明文发送，并且只向本机回环地址发送密码。认证使用 PLAIN，服务器只支持 LOGIN 时使用 LOGIN。Message-ID 由运行和节点生成，重试的步骤保持不变。SMTP 5xx 响应（密码错误、邮箱不存在）和证书错误立即让运行失败；4xx 响应和网络错误会重试。连接与 HTTP 请求一样经过内网地址防护。",
		},
	})
}

// smtpConfig is an smtp credential, checked.
type smtpConfig struct {
	host, addr, username, password, mode, helo string
	from                                       *mail.Address
	tls                                        *tls.Config
}

func smtpCredential(cred *node.Credential) (*smtpConfig, error) {
	d := cred.Data
	c := &smtpConfig{host: strings.TrimSpace(d["host"]), username: d["username"], password: d["password"], mode: strings.ToLower(strings.TrimSpace(d["tls"])), helo: strings.TrimSpace(d["helo"])}
	if c.host == "" || d["from"] == "" {
		return nil, node.Permanentf("credential %s needs host and from", cred.Name)
	}
	from, err := mail.ParseAddress(d["from"])
	if err != nil {
		return nil, node.Permanentf("credential %s: from %q is not an email address", cred.Name, d["from"])
	}
	c.from = from
	port := strings.TrimSpace(d["port"])
	switch c.mode {
	case "", "starttls":
		c.mode = "starttls"
		if port == "" {
			port = "587"
		}
	case "tls":
		if port == "" {
			port = "465"
		}
	case "none":
		if port == "" {
			port = "25"
		}
	default:
		return nil, node.Permanentf("credential %s: tls must be starttls, tls or none, not %q", cred.Name, c.mode)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, node.Permanentf("credential %s: port %q is not a port number", cred.Name, port)
	}
	c.addr = net.JoinHostPort(c.host, port)
	c.tls = &tls.Config{ServerName: c.host, MinVersion: tls.VersionTLS12}
	if pem := strings.TrimSpace(d["ca_cert"]); pem != "" {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM([]byte(pem)) {
			return nil, node.Permanentf("credential %s: ca_cert holds no PEM certificate", cred.Name)
		}
		c.tls.RootCAs = pool
	}
	return c, nil
}

// addressList parses a comma-separated list of addresses from a template.
func addressList(field, s string) ([]*mail.Address, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if strings.ContainsAny(s, "\r\n") {
		return nil, node.Permanentf("%s must not contain line breaks", field)
	}
	list, err := mail.ParseAddressList(s)
	if err != nil {
		return nil, node.Permanentf("%s %q is not a list of email addresses: %v", field, s, err)
	}
	return list, nil
}

func runEmail(ctx context.Context, in *node.Input) (*node.Result, error) {
	cred, err := in.Services.Credential(ctx, str(in.Config, "credential"))
	if err != nil {
		return nil, err
	}
	cfg, err := smtpCredential(cred)
	if err != nil {
		return nil, err
	}
	to, err := addressList("To", str(in.Config, "to"))
	if err != nil {
		return nil, err
	}
	if len(to) == 0 {
		return nil, node.Permanentf("there is no recipient")
	}
	cc, err := addressList("Cc", str(in.Config, "cc"))
	if err != nil {
		return nil, err
	}
	bcc, err := addressList("Bcc", str(in.Config, "bcc"))
	if err != nil {
		return nil, err
	}
	replyTo, err := addressList("Reply-To", str(in.Config, "reply_to"))
	if err != nil {
		return nil, err
	}
	// A subject is one header line: line breaks from the data become spaces.
	subject := strings.Join(strings.Fields(str(in.Config, "subject")), " ")
	text, html := str(in.Config, "text"), str(in.Config, "html")
	if strings.TrimSpace(text) == "" && strings.TrimSpace(html) == "" {
		return nil, node.Permanentf("the message has neither a text nor an HTML body")
	}
	sum := sha256.Sum256([]byte(in.IdempotencyKey()))
	domain := cfg.from.Address[strings.LastIndexByte(cfg.from.Address, '@')+1:]
	msgID := "<" + hex.EncodeToString(sum[:12]) + "@" + domain + ">"
	msg, err := buildEmail(cfg.from, to, cc, replyTo, subject, msgID, text, html)
	if err != nil {
		return nil, node.Permanent(err)
	}
	var rcpts []string
	for _, l := range [][]*mail.Address{to, cc, bcc} {
		for _, a := range l {
			if !slices.Contains(rcpts, a.Address) {
				rcpts = append(rcpts, a.Address)
			}
		}
	}
	if err := deliverSMTP(ctx, in, cfg, rcpts, msg); err != nil {
		return nil, redactErr(err, cfg.password)
	}
	return &node.Result{Output: map[string]any{
		"message_id": msgID,
		"from":       cfg.from.Address,
		"to":         addresses(to),
		"cc":         addresses(cc),
		"subject":    subject,
	}}, nil
}

func addresses(l []*mail.Address) []any {
	out := make([]any, len(l))
	for i, a := range l {
		out[i] = a.Address
	}
	return out
}

func joinAddresses(l []*mail.Address) string {
	s := make([]string, len(l))
	for i, a := range l {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

// buildEmail renders the RFC 5322 message with CRLF line endings.
func buildEmail(from *mail.Address, to, cc, replyTo []*mail.Address, subject, msgID, text, html string) ([]byte, error) {
	var b bytes.Buffer
	h := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	h("From", from.String())
	h("To", joinAddresses(to))
	if len(cc) > 0 {
		h("Cc", joinAddresses(cc))
	}
	if len(replyTo) > 0 {
		h("Reply-To", joinAddresses(replyTo))
	}
	h("Subject", mime.QEncoding.Encode("utf-8", subject))
	h("Date", time.Now().Format(time.RFC1123Z))
	h("Message-ID", msgID)
	h("MIME-Version", "1.0")
	part := func(w *bytes.Buffer, body string) error {
		qp := quotedprintable.NewWriter(w)
		if _, err := qp.Write([]byte(body)); err != nil {
			return err
		}
		return qp.Close()
	}
	if text == "" || html == "" {
		ctype, body := "text/plain; charset=utf-8", text
		if text == "" {
			ctype, body = "text/html; charset=utf-8", html
		}
		h("Content-Type", ctype)
		h("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		if err := part(&b, body); err != nil {
			return nil, err
		}
		b.WriteString("\r\n")
		return b.Bytes(), nil
	}
	var parts bytes.Buffer
	mw := multipart.NewWriter(&parts)
	h("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
	b.WriteString("\r\n")
	for _, p := range []struct{ ctype, body string }{{"text/plain; charset=utf-8", text}, {"text/html; charset=utf-8", html}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {p.ctype}, "Content-Transfer-Encoding": {"quoted-printable"}})
		if err != nil {
			return nil, err
		}
		var pb bytes.Buffer
		if err := part(&pb, p.body); err != nil {
			return nil, err
		}
		if _, err := w.Write(pb.Bytes()); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	b.Write(parts.Bytes())
	return b.Bytes(), nil
}

// guardedDialer returns the dial function of the engine's guarded HTTP client, so SMTP connections
// obey the same internal-address policy (OPSFLOW_HTTP_ALLOW). If the client is not the expected
// kind, it falls back to a guard that allows public addresses only.
func guardedDialer(in *node.Input) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if in.Services != nil {
		if c := in.Services.HTTPClient(); c != nil {
			if dial, ok := netguard.Dialer(c); ok {
				return dial
			}
		}
	}
	g, _ := netguard.New(nil)
	dial, _ := netguard.Dialer(g.Client(emailTimeout))
	return dial
}

// deliverSMTP runs one SMTP transaction. SMTP 5xx replies and TLS verification failures are
// permanent; 4xx replies and network errors may be retried.
func deliverSMTP(ctx context.Context, in *node.Input, cfg *smtpConfig, rcpts []string, msg []byte) (err error) {
	if m, ok := in.Services.(node.Mailer); ok {
		return m.SendMail(ctx, cfg.addr, cfg.from.Address, rcpts, msg)
	}
	ctx, cancel := context.WithTimeout(ctx, emailTimeout)
	defer cancel()
	defer func() { err = classifySMTP(cfg.addr, err) }()
	conn, err := guardedDialer(in)(ctx, "tcp", cfg.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	if cfg.mode == "tls" {
		tc := tls.Client(conn, cfg.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			return err
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, cfg.host)
	if err != nil {
		return err
	}
	defer c.Close()
	helo := cfg.helo
	if helo == "" {
		helo = "localhost"
	}
	if err := c.Hello(helo); err != nil {
		return err
	}
	if cfg.mode == "starttls" {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return node.Permanentf("SMTP server %s does not offer STARTTLS; set tls to \"tls\" or, on a trusted network, \"none\"", cfg.addr)
		}
		if err := c.StartTLS(cfg.tls); err != nil {
			return err
		}
	}
	if cfg.username != "" {
		ok, mechs := c.Extension("AUTH")
		if !ok {
			return node.Permanentf("SMTP server %s does not offer AUTH", cfg.addr)
		}
		var a smtp.Auth
		switch offered := strings.Fields(strings.ToUpper(mechs)); {
		case slices.Contains(offered, "PLAIN"):
			a = smtp.PlainAuth("", cfg.username, cfg.password, cfg.host)
		case slices.Contains(offered, "LOGIN"):
			a = &loginAuth{host: cfg.host, username: cfg.username, password: cfg.password}
		default:
			return node.Permanentf("SMTP server %s offers neither PLAIN nor LOGIN authentication (offers %s)", cfg.addr, mechs)
		}
		if err := c.Auth(a); err != nil {
			return err
		}
	}
	if err := c.Mail(cfg.from.Address); err != nil {
		return err
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	_ = c.Quit()
	return nil
}

func classifySMTP(addr string, err error) error {
	if err == nil {
		return nil
	}
	var perm *node.PermanentError
	var blocked *netguard.ErrBlocked
	var proto *textproto.Error
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	switch {
	case errors.As(err, &perm):
		return err
	case errors.As(err, &blocked):
		return node.Permanent(blocked)
	case errors.As(err, &proto):
		e := fmt.Errorf("SMTP server %s answered %d %s", addr, proto.Code, proto.Msg)
		if proto.Code >= 500 {
			return node.Permanent(e)
		}
		return e
	case errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr):
		return node.Permanentf("SMTP server %s: TLS certificate not trusted (add the CA as ca_cert): %v", addr, err)
	case errors.Is(err, errLoginUnencrypted), strings.Contains(err.Error(), "unencrypted connection"):
		return node.Permanentf("SMTP server %s: refusing to send the password over an unencrypted connection", addr)
	}
	return fmt.Errorf("SMTP server %s: %w", addr, err)
}

var errLoginUnencrypted = errors.New("unencrypted connection")

// loginAuth is the LOGIN mechanism (username and password in answer to base64 prompts), which
// net/smtp lacks. Like smtp.PlainAuth it only sends the password over TLS or to localhost.
type loginAuth struct{ host, username, password string }

func (a *loginAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS && !isLoopbackHost(server.Name) {
		return "", nil, errLoginUnencrypted
	}
	if server.Name != a.host {
		return "", nil, errors.New("wrong host name")
	}
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	switch p := strings.ToLower(strings.TrimSpace(string(fromServer))); {
	case strings.HasPrefix(p, "username"):
		return []byte(a.username), nil
	case strings.HasPrefix(p, "password"):
		return []byte(a.password), nil
	}
	return nil, fmt.Errorf("unexpected LOGIN prompt %q", fromServer)
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
