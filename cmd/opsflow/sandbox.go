package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/opsflow/opsflow/engine/mask"
	"github.com/opsflow/opsflow/engine/sandbox"
)

// sandboxCommand runs local stand-ins for Twilio, Stripe, HubSpot and SMTP (engine/sandbox) until
// interrupted, printing how to point credentials at them and every request they receive.
func sandboxCommand(args []string, out io.Writer) error {
	f := newFlags(out, "sandbox", "[flags]", "Run local stand-ins for Twilio, Stripe, HubSpot and SMTP until interrupted, printing every request they receive.")
	httpAddr := f.String("addr", "127.0.0.1:8090", "listen address of the HTTP stand-ins (Twilio, Stripe, HubSpot…)")
	smtpAddr := f.String("smtp-addr", "127.0.0.1:2525", "listen address of the SMTP server")
	if err := f.parse(args, 0); err != nil {
		return err
	}
	var mu sync.Mutex // one line at a time
	printf := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format, a...)
	}
	sb, err := sandbox.Start(sandbox.Options{
		HTTPAddr: *httpAddr, SMTPAddr: *smtpAddr,
		OnRequest: func(r sandbox.Request) {
			printf("%s %-10s %s %s %s\n  %s\n", r.At.Format(time.TimeOnly), r.Provider, r.Method, r.MaskedTarget(), r.MaskedAuth(), shorten(mask.String(r.Body)))
		},
		OnMail: func(m sandbox.Mail) {
			printf("%s %-10s MAIL from %s to %s (%d bytes)\n  %s\n", m.At.Format(time.TimeOnly), "smtp", m.From, strings.Join(m.To, ", "), len(m.Data), subject(m.Data))
		},
	})
	if err != nil {
		return err
	}
	defer sb.Close()
	host, port, _ := net.SplitHostPort(sb.SMTPAddr)
	printf(`opsflow sandbox: local stand-ins; nothing leaves this machine. Point credentials at them:
  twilio   "base_url": %[1]q   (any account_sid AC…, any auth_token)
  stripe   "base_url": %[1]q   (any secret_key)
  hubspot  "base_url": %[1]q   (any token)
  smtp     "host": %[2]q, "port": %[3]q, "tls": "none"   (any or no user name and password)
Start opsflow with OPSFLOW_HTTP_ALLOW=127.0.0.0/8: outbound calls to loopback are refused otherwise.
Everything received, as JSON: %[1]s/_sandbox/requests
`, sb.URL, host, port)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return nil
}

// shorten keeps a printed body to one readable line.
func shorten(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// subject returns a message's Subject header line.
func subject(data string) string {
	for _, line := range strings.Split(data, "\r\n") {
		if line == "" {
			break
		}
		if strings.HasPrefix(strings.ToLower(line), "subject:") {
			return line
		}
	}
	return "(no subject)"
}
