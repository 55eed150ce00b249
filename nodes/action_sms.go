package nodes

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/opsflow/opsflow/engine/node"
)

// e164 is an international phone number: + and up to 15 digits.
var e164 = regexp.MustCompile(`^\+[1-9]\d{6,14}$`)

func init() {
	node.Register(&node.Spec{
		Type:        "action.sms",
		Category:    node.Action,
		Title:       node.Text{En: "Send SMS", Zh: "发送短信"},
		Description: node.Text{En: "Sends a text message through Twilio's Messages API (or a compatible provider).", Zh: "通过 Twilio Messages API（或兼容服务）发送短信。"},
		Icon:        "message",
		SideEffect:  true,
		Fields: []node.Field{
			{Name: "credential", Kind: node.KindCredential, Required: true, CredentialTypes: []string{"twilio"},
				Title: node.Text{En: "SMS account", Zh: "短信账号"},
				Help:  node.Text{En: "A twilio credential: account_sid, auth_token, from, and optionally base_url.", Zh: "twilio 凭据：account_sid、auth_token、from，可选 base_url。"}},
			{Name: "to", Kind: node.KindTemplate, Required: true, Placeholder: "{{ event.data.customer.phone }}",
				Title: node.Text{En: "To (E.164)", Zh: "收件号码（E.164）"}},
			{Name: "body", Kind: node.KindTemplate, Required: true, MaxLen: 1600,
				Title: node.Text{En: "Message", Zh: "短信内容"}},
		},
		Output: node.Object(map[string]*node.Schema{"sid": node.Str(), "status": node.Str(), "to": node.Str()}),
		Run:    runTwilioSMS,
		Docs:   "Numbers must be in E.164 form (+8613800138000, +14155550100). Twilio's Idempotency-Token header is set per step, so a retried step is not sent twice.",
	})
}

func runTwilioSMS(ctx context.Context, in *node.Input) (*node.Result, error) {
	to := strings.TrimSpace(str(in.Config, "to"))
	if !e164.MatchString(to) {
		return nil, node.Permanentf("%q is not a phone number in E.164 form such as +14155550100", to)
	}
	cred, err := in.Services.Credential(ctx, str(in.Config, "credential"))
	if err != nil {
		return nil, err
	}
	sid, token, from := cred.Data["account_sid"], cred.Data["auth_token"], cred.Data["from"]
	if sid == "" || token == "" || from == "" {
		return nil, node.Permanentf("credential %s needs account_sid, auth_token and from", cred.Name)
	}
	base := strings.TrimRight(cred.Data["base_url"], "/")
	if base == "" {
		base = "https://api.twilio.com"
	}
	form := url.Values{"To": {to}, "Body": {str(in.Config, "body")}}
	if strings.HasPrefix(from, "MG") {
		form.Set("MessagingServiceSid", from)
	} else {
		form.Set("From", from)
	}
	req, err := http.NewRequest(http.MethodPost, base+"/2010-04-01/Accounts/"+url.PathEscape(sid)+"/Messages.json", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, node.Permanent(err)
	}
	req.SetBasicAuth(sid, token)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("I-Twilio-Idempotency-Token", in.IdempotencyKey())
	resp, err := send(ctx, in, req, "Twilio")
	if err != nil {
		return nil, err
	}
	out, _ := resp.JSON().(map[string]any)
	return &node.Result{Output: map[string]any{"sid": out["sid"], "status": out["status"], "to": to}}, nil
}
