package sandbox

import (
	"io"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// smtpBackend is a real SMTP server (go-smtp) that keeps every message it accepts.
type smtpBackend struct{ s *Sandbox }

func (b smtpBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return &mailSession{s: b.s}, nil }

type mailSession struct {
	s    *Sandbox
	auth bool
	cur  Mail
}

func (m *mailSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (m *mailSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if want := m.s.opt; want.SMTPUser != "" && (user != want.SMTPUser || pass != want.SMTPPassword) {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
		}
		m.auth = true
		return nil
	}), nil
}

func (m *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	if m.s.opt.SMTPUser != "" && !m.auth {
		return smtp.ErrAuthRequired
	}
	m.cur.From = from
	return nil
}

func (m *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	m.cur.To = append(m.cur.To, to)
	return nil
}

func (m *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m.cur.Data = strings.ReplaceAll(string(b), "=\r\n", "") // undo quoted-printable soft breaks
	m.cur.At = time.Now().UTC()
	m.s.mu.Lock()
	m.s.mails = append(m.s.mails, m.cur)
	m.s.mu.Unlock()
	if m.s.opt.OnMail != nil {
		m.s.opt.OnMail(m.cur)
	}
	m.cur = Mail{}
	return nil
}

func (m *mailSession) Reset()        { m.cur = Mail{} }
func (m *mailSession) Logout() error { return nil }
