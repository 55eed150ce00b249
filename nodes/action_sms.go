package nodes

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/opsflow/opsflow/engine/node"
)

// e164 is an international phone number: + and up to 15 digits.
var e164 = regexp.MustCompile(`^\+[1-9]\d{6,14}$`)

func init() {
	node.Register(&node.Spec{
		Type:        "action.sms",
		Category:    node.Action,
		Title:       node.Text{En: "Send SMS", Zh: "发送短信"},
		Description: node.Text{En: "Sends a text message through Twilio's Messages API or Alibaba Cloud SMS (chosen by the credential).", Zh: "通过 Twilio Messages API 或阿里云短信服务发送短信（由凭据类型决定）。"},
		Icon:        "message",
		SideEffect:  true,
		Fields: []node.Field{
			{Name: "credential", Kind: node.KindCredential, Required: true, CredentialTypes: []string{"twilio", "aliyun_sms"},
				Title: node.Text{En: "SMS account", Zh: "短信账号"},
				Help: node.Text{
					En: "A twilio credential (account_sid, auth_token, from, optional base_url) or an aliyun_sms credential (access_key_id, access_key_secret, sign_name, optional region and base_url).",
					Zh: "twilio 凭据（account_sid、auth_token、from，可选 base_url），或 aliyun_sms 凭据（access_key_id、access_key_secret、sign_name，可选 region、base_url）。"}},
			{Name: "to", Kind: node.KindTemplate, Required: true, Placeholder: "{{ event.data.customer.phone }}",
				Title: node.Text{En: "To (E.164)", Zh: "收件号码（E.164）"}},
			{Name: "body", Kind: node.KindTemplate, MaxLen: 1600,
				Title: node.Text{En: "Message (Twilio)", Zh: "短信内容（Twilio）"},
				Help:  node.Text{En: "Required for Twilio. Alibaba Cloud sends an approved template instead.", Zh: "Twilio 必填。阿里云短信使用已审核的模板发送。"}},
			{Name: "template_code", Kind: node.KindTemplate, MaxLen: 100, Placeholder: "SMS_123456789",
				Title: node.Text{En: "Template code (Alibaba Cloud)", Zh: "模板 CODE（阿里云）"},
				Help:  node.Text{En: "Required for Alibaba Cloud: the code of an approved SMS template.", Zh: "阿里云必填：已审核通过的短信模板 CODE。"}},
			{Name: "template_param", Kind: node.KindExpr, Placeholder: `{"code": event.data.code}`,
				Title: node.Text{En: "Template variables (Alibaba Cloud)", Zh: "模板变量（阿里云）"},
				Help:  node.Text{En: "An expression giving a map of the template's variables, e.g. {\"name\": event.data.customer.name}.", Zh: "生成模板变量映射的表达式，例如 {\"name\": event.data.customer.name}。"}},
			{Name: "sign_name", Kind: node.KindTemplate, MaxLen: 100,
				Title: node.Text{En: "Signature name (Alibaba Cloud)", Zh: "短信签名（阿里云）"},
				Help:  node.Text{En: "Overrides the credential's sign_name.", Zh: "覆盖凭据中的 sign_name。"}},
		},
		Output: node.Object(map[string]*node.Schema{
			"provider":   node.Str(),
			"sid":        node.Str(),
			"status":     node.Str(),
			"to":         node.Str(),
			"biz_id":     node.Str(),
			"request_id": node.Str(),
		}),
		// Which of body and template_code is needed depends on the credential's type, known only at
		// run time; at save time at least one of them must be there.
		Check: func(cfg map[string]any) []node.FieldError {
			if strings.TrimSpace(str(cfg, "body")) == "" && strings.TrimSpace(str(cfg, "template_code")) == "" {
				return []node.FieldError{{Field: "body", Message: "a message (Twilio) or a template code (Alibaba Cloud) is required", Zh: "需要短信内容（Twilio）或模板代码（阿里云）"}}
			}
			return nil
		},
		Run: runSMS,
		Docs: node.Text{
			En: "Numbers must be in E.164 form (+8613800138000, +14155550100); anything else fails the run without retrying.\n\n" +
				"**Twilio** (credential type `twilio`): `body` is required. Twilio's idempotency header is set per step, so a retried step is not sent twice.\n\n" +
				"**Alibaba Cloud SMS** (credential type `aliyun_sms`): calls SendSms (API version 2017-05-25) with an HMAC-SHA1 signed request. " +
				"`template_code` is required, `template_param` is an expression giving the template's variables. Mainland China numbers (+86) are sent " +
				"without the country code, others as country code + number. A Code other than OK fails the step; throttling codes are retried.\n\n" +
				"Output: `provider` (twilio or aliyun), `to`, and the provider's message id (`sid` for Twilio, `biz_id` and `request_id` for Alibaba Cloud).",
			Zh: "号码必须是 E.164 格式（+8613800138000、+14155550100）；其他格式让运行失败且不重试。\n\n**Twilio**（凭据类型 `twilio`）：`body` 必填。每个步骤都设置 Twilio 的幂等请求头，所以重试的步骤不会重复发送。\n\n**阿里云短信**（凭据类型 `aliyun_sms`）：以 HMAC-SHA1 签名的请求调用 SendSms（API 版本 2017-05-25）。`template_code` 必填，`template_param` 是给出模板变量的表达式。中国大陆号码（+86）发送时不带国家代码，其他号码为国家代码加号码。Code 不是 OK 时步骤失败；限流类错误会重试。\n\n输出：`provider`（twilio 或 aliyun）、`to`，以及服务商的消息 ID（Twilio 为 `sid`，阿里云为 `biz_id` 和 `request_id`）。",
		},
	})
}

func runSMS(ctx context.Context, in *node.Input) (*node.Result, error) {
	to := strings.TrimSpace(str(in.Config, "to"))
	if !e164.MatchString(to) {
		return nil, node.Permanentf("%q is not a phone number in E.164 form such as +14155550100", to)
	}
	cred, err := in.Services.Credential(ctx, str(in.Config, "credential"))
	if err != nil {
		return nil, err
	}
	switch cred.Type {
	case "twilio":
		return runTwilioSMS(ctx, in, cred, to)
	case "aliyun_sms":
		return runAliyunSMS(ctx, in, cred, to)
	}
	return nil, node.Permanentf("credential %s is of type %s; SMS needs twilio or aliyun_sms", cred.Name, cred.Type)
}

func runTwilioSMS(ctx context.Context, in *node.Input, cred *node.Credential, to string) (*node.Result, error) {
	sid, token, from := cred.Data["account_sid"], cred.Data["auth_token"], cred.Data["from"]
	if sid == "" || token == "" || from == "" {
		return nil, node.Permanentf("credential %s needs account_sid, auth_token and from", cred.Name)
	}
	body := str(in.Config, "body")
	if strings.TrimSpace(body) == "" {
		return nil, node.Permanentf("Message is required when sending through Twilio")
	}
	base := strings.TrimRight(cred.Data["base_url"], "/")
	if base == "" {
		base = "https://api.twilio.com"
	}
	form := url.Values{"To": {to}, "Body": {body}}
	if strings.HasPrefix(from, "MG") {
		form.Set("MessagingServiceSid", from)
	} else {
		form.Set("From", from)
	}
	req, err := http.NewRequest(http.MethodPost, base+"/2010-04-01/Accounts/"+url.PathEscape(sid)+"/Messages.json", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, node.Permanentf("credential %s has an invalid base_url", cred.Name)
	}
	req.SetBasicAuth(sid, token)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("I-Twilio-Idempotency-Token", in.IdempotencyKey())
	resp, err := send(ctx, in, req, "Twilio")
	if err != nil {
		return nil, redactErr(err, token)
	}
	out, _ := resp.JSON().(map[string]any)
	return &node.Result{Output: map[string]any{"provider": "twilio", "sid": out["sid"], "status": out["status"], "to": to}}, nil
}

// aliyunName names the provider in errors.
const aliyunName = "Alibaba Cloud SMS"

// aliyunRetryable are SendSms result codes that may succeed later.
var aliyunRetryable = map[string]bool{
	"isv.BUSINESS_LIMIT_CONTROL": true, // per-number rate limit
	"Throttling":                 true,
	"Throttling.User":            true,
	"Throttling.Api":             true,
	"ServiceUnavailable":         true,
	"InternalError":              true,
	"isp.SYSTEM_ERROR":           true,
}

func runAliyunSMS(ctx context.Context, in *node.Input, cred *node.Credential, to string) (*node.Result, error) {
	keyID, secret := cred.Data["access_key_id"], cred.Data["access_key_secret"]
	sign := strings.TrimSpace(str(in.Config, "sign_name"))
	if sign == "" {
		sign = cred.Data["sign_name"]
	}
	if keyID == "" || secret == "" || sign == "" {
		return nil, node.Permanentf("credential %s needs access_key_id, access_key_secret and sign_name", cred.Name)
	}
	tpl := strings.TrimSpace(str(in.Config, "template_code"))
	if tpl == "" {
		return nil, node.Permanentf("Template code is required when sending through Alibaba Cloud SMS")
	}
	params := "{}"
	if p, ok := in.Config["template_param"]; ok && p != nil {
		m, isMap := p.(map[string]any)
		if !isMap {
			return nil, node.Permanentf("template variables must be a map, got %T", p)
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, node.Permanent(err)
		}
		params = string(b)
	}
	region := cred.Data["region"]
	if region == "" {
		region = "cn-hangzhou"
	}
	base := strings.TrimRight(cred.Data["base_url"], "/")
	if base == "" {
		base = "https://dysmsapi.aliyuncs.com"
	}
	// Alibaba Cloud takes mainland numbers without the country code and others as code+number.
	phone := strings.TrimPrefix(to, "+")
	if strings.HasPrefix(to, "+86") {
		phone = strings.TrimPrefix(to, "+86")
	}
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	q := map[string]string{
		"AccessKeyId":      keyID,
		"Action":           "SendSms",
		"Format":           "JSON",
		"PhoneNumbers":     phone,
		"RegionId":         region,
		"SignName":         sign,
		"SignatureMethod":  "HMAC-SHA1",
		"SignatureNonce":   hex.EncodeToString(nonce),
		"SignatureVersion": "1.0",
		"Timestamp":        time.Now().UTC().Format("2006-01-02T15:04:05Z"),
		"TemplateCode":     tpl,
		"TemplateParam":    params,
		"Version":          "2017-05-25",
	}
	q["Signature"] = aliyunSign(http.MethodPost, q, secret)
	req, err := http.NewRequest(http.MethodPost, base+"/", strings.NewReader(aliyunQuery(q)))
	if err != nil {
		return nil, node.Permanentf("credential %s has an invalid base_url", cred.Name)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := send(ctx, in, req, aliyunName)
	if err != nil {
		// Throttling comes back as a 4xx, which send treats as permanent: the Code says otherwise.
		var e struct{ Code string }
		if resp != nil && json.Unmarshal(resp.Body, &e) == nil && aliyunRetryable[e.Code] {
			return nil, fmt.Errorf("%s answered %d: %s", aliyunName, resp.Status, snippet(in, resp.Body))
		}
		return nil, redactErr(err, secret)
	}
	var out struct {
		Code, Message, RequestId, BizId string
	}
	if json.Unmarshal(resp.Body, &out) != nil || out.Code == "" {
		return nil, fmt.Errorf("%s answered %d with an unexpected body: %s", aliyunName, resp.Status, snippet(in, resp.Body))
	}
	if out.Code != "OK" {
		err := fmt.Errorf("%s refused the message: %s: %s (request %s)", aliyunName, out.Code, out.Message, out.RequestId)
		if !aliyunRetryable[out.Code] {
			err = node.Permanent(err)
		}
		return nil, err
	}
	return &node.Result{Output: map[string]any{"provider": "aliyun", "biz_id": out.BizId, "request_id": out.RequestId, "status": "OK", "to": to}}, nil
}

// aliyunEncode is Alibaba Cloud's percent-encoding for signatures: RFC 3986 unreserved characters
// (A–Z a–z 0–9 - _ . ~) stay, every other byte of the UTF-8 form becomes %XX (upper-case hex),
// so a space is %20, * is %2A and ~ is kept.
func aliyunEncode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// aliyunQuery is the canonicalized query string: parameters sorted by name, names and values encoded.
func aliyunQuery(q map[string]string) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = aliyunEncode(k) + "=" + aliyunEncode(q[k])
	}
	return strings.Join(parts, "&")
}

// aliyunSign is the RPC signature (SignatureVersion 1.0) of the parameters other than Signature.
func aliyunSign(method string, q map[string]string, secret string) string {
	params := make(map[string]string, len(q))
	for k, v := range q {
		if k != "Signature" {
			params[k] = v
		}
	}
	toSign := method + "&" + aliyunEncode("/") + "&" + aliyunEncode(aliyunQuery(params))
	mac := hmac.New(sha1.New, []byte(secret+"&"))
	mac.Write([]byte(toSign))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// redactErr replaces secrets in an error's message, keeping whether it is permanent. Transport
// errors quote the request URL, which for some providers carries a token.
func redactErr(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	changed := false
	for _, s := range secrets {
		for _, form := range []string{s, url.QueryEscape(s), url.PathEscape(s)} {
			if len(form) >= 4 && strings.Contains(msg, form) {
				msg = strings.ReplaceAll(msg, form, "[redacted]")
				changed = true
			}
		}
	}
	if !changed {
		return err
	}
	var perm *node.PermanentError
	if errors.As(err, &perm) {
		return node.Permanent(errors.New(msg))
	}
	return errors.New(msg)
}
