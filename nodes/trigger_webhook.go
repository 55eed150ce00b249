package nodes

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/opsflow/opsflow/engine/compile"
	"github.com/opsflow/opsflow/engine/node"
)

// Which verify choices each signature setting applies to (the builder hides it otherwise).
var (
	signed      = map[string][]string{"verify": {"stripe", "standard_webhooks", "github", "hmac"}}
	timestamped = map[string][]string{"verify": {"stripe", "standard_webhooks"}}
	hmacOnly    = map[string][]string{"verify": {"hmac"}}
)

func init() {
	node.Register(&node.Spec{
		Type:        "trigger.webhook",
		Category:    node.Trigger,
		Title:       node.Text{En: "Webhook", Zh: "Webhook 触发"},
		Description: node.Text{En: "Starts the flow when an HTTP request arrives at /api/v1/hooks/{flow_id}, optionally verifying its signature.", Zh: "当 HTTP 请求到达 /api/v1/hooks/{flow_id} 时启动流程，可校验签名。"},
		Icon:        "webhook",
		Fields: []node.Field{
			{Name: "method", Kind: node.KindSelect, Default: "POST",
				Title:   node.Text{En: "HTTP method", Zh: "HTTP 方法"},
				Options: []node.Option{{Value: "POST", Title: node.Text{En: "POST", Zh: "POST"}}, {Value: "PUT", Title: node.Text{En: "PUT", Zh: "PUT"}}, {Value: "ANY", Title: node.Text{En: "Any", Zh: "任意"}}}},
			{Name: "verify", Kind: node.KindSelect, Default: "none",
				Title: node.Text{En: "Verify signature", Zh: "签名校验"},
				Options: []node.Option{
					{Value: "none", Title: node.Text{En: "None", Zh: "不校验"}},
					{Value: "stripe", Title: node.Text{En: "Stripe (Stripe-Signature)", Zh: "Stripe（Stripe-Signature）"}},
					{Value: "standard_webhooks", Title: node.Text{En: "Standard Webhooks (webhook-signature)", Zh: "Standard Webhooks（webhook-signature）"}},
					{Value: "github", Title: node.Text{En: "GitHub (X-Hub-Signature-256)", Zh: "GitHub（X-Hub-Signature-256）"}},
					{Value: "hmac", Title: node.Text{En: "HMAC in a header", Zh: "请求头中的 HMAC"}},
				}},
			{Name: "secret", Kind: node.KindCredential, CredentialTypes: []string{"webhook_secret"}, ShowIf: signed,
				Title: node.Text{En: "Signing secret", Zh: "签名密钥"},
				Help:  node.Text{En: "A webhook_secret credential: {secret}. Stripe's whsec_…, a Standard Webhooks whsec_… (base64), or your shared HMAC key.", Zh: "webhook_secret 凭据：{secret}。Stripe 的 whsec_…、Standard Webhooks 的 whsec_…（base64），或共享的 HMAC 密钥。"}},
			{Name: "tolerance", Kind: node.KindDuration, Default: "5m", Min: ptr(1), Max: ptr(3600), ShowIf: timestamped,
				Title: node.Text{En: "Timestamp tolerance", Zh: "时间戳容差"},
				Help:  node.Text{En: "Stripe and Standard Webhooks signatures older or newer than this are refused (replay protection).", Zh: "Stripe 与 Standard Webhooks 签名的时间超出此范围（过早或过晚）即拒绝，防止重放。"}},
			{Name: "hmac_header", Kind: node.KindString, Default: "X-Signature", MaxLen: 100, ShowIf: hmacOnly, Title: node.Text{En: "HMAC header", Zh: "HMAC 请求头"}},
			{Name: "hmac_algorithm", Kind: node.KindSelect, Default: "sha256", ShowIf: hmacOnly, Title: node.Text{En: "HMAC algorithm", Zh: "HMAC 算法"}, Options: options("sha256", "sha1", "sha512")},
			{Name: "hmac_encoding", Kind: node.KindSelect, Default: "hex", ShowIf: hmacOnly, Title: node.Text{En: "HMAC encoding", Zh: "HMAC 编码"}, Options: options("hex", "base64")},
			{Name: "hmac_prefix", Kind: node.KindString, MaxLen: 50, Placeholder: "sha256=", ShowIf: hmacOnly, Title: node.Text{En: "HMAC prefix", Zh: "HMAC 前缀"}},
			{Name: "dedup_header", Kind: node.KindString, MaxLen: 100, Placeholder: "X-Delivery-Id",
				Title: node.Text{En: "Delivery id header", Zh: "投递 ID 请求头"},
				Help:  node.Text{En: "Redeliveries with the same id answer 200 with the first event and start nothing. Stripe (event id), Standard Webhooks (webhook-id) and GitHub (X-GitHub-Delivery) need nothing here.", Zh: "相同 ID 的重复投递返回 200 和首次事件，不再启动运行。Stripe（事件 id）、Standard Webhooks（webhook-id）与 GitHub（X-GitHub-Delivery）无需设置。"}},
			{Name: "dedup_path", Kind: node.KindString, MaxLen: 200, Placeholder: "data.id",
				Title: node.Text{En: "Delivery id in the body", Zh: "请求体中的投递 ID"},
				Help:  node.Text{En: "Dotted path to a unique id in the JSON body, instead of a header.", Zh: "JSON 请求体中唯一 ID 的路径（代替请求头）。"}},
			sampleField,
		},
		OutputFor: func(cfg map[string]any) *node.Schema {
			return eventSchema(cfg, map[string]*node.Schema{"headers": {Type: "object", Open: true}})
		},
		Check: func(cfg map[string]any) []node.FieldError {
			if v := str(cfg, "verify"); v != "none" && v != "" && str(cfg, "secret") == "" {
				return []node.FieldError{{Field: "secret", Message: "signature verification needs the signing secret", Zh: "签名校验需要签名密钥"}}
			}
			return nil
		},
		Receive: receiveWebhook,
		Docs: node.Text{
			En: "The parsed body (JSON or form) is `event.data`; the headers are `event.headers` (lower-case; credential headers are never stored); the raw body is kept with the event, and an event whose body has a top-level `type` (Stripe, Standard Webhooks) takes that type. " +
				"Signatures are checked on the raw bytes in constant time; a failure answers 401 and counts in the flow's `rejected_deliveries`. " +
				"Redeliveries (same provider event id) answer 200 with the original event and start no run; ids are kept with the events.",
			Zh: "解析后的请求体（JSON 或表单）是 `event.data`；请求头是 `event.headers`（小写；凭据相关的请求头从不保存）；原始请求体随事件保存，请求体顶层有 `type` 的事件（Stripe、Standard Webhooks）使用该类型。签名在原始字节上以恒定时间校验；校验失败返回 401，并计入流程的 `rejected_deliveries`。重复投递（同一服务商事件 ID）返回 200 和原事件，不会启动新的运行；事件 ID 随事件保存。",
		},
	})
}

func receiveWebhook(ctx context.Context, cfg map[string]any, svc node.Services, w *node.Webhook) (string, error) {
	if m := str(cfg, "method"); m != "" && m != "ANY" && !strings.EqualFold(m, w.Method) {
		return "", node.Reject(http.StatusMethodNotAllowed, "method_not_allowed", "this webhook accepts "+m+" requests")
	}
	verify := str(cfg, "verify")
	var dedup string
	if verify != "" && verify != "none" {
		cred, err := svc.Credential(ctx, str(cfg, "secret"))
		if err != nil {
			return "", err
		}
		secret := cred.Data["secret"]
		if secret == "" {
			return "", node.Permanentf("credential %s has no secret", cred.Name)
		}
		tolerance, _ := compile.ParseDuration(str(cfg, "tolerance"))
		if tolerance <= 0 {
			tolerance = 5 * time.Minute
		}
		switch verify {
		case "stripe":
			err = verifyStripe(w, secret, tolerance)
			dedup = jsonString(w.Body, "id")
		case "standard_webhooks":
			err = verifyStandard(w, secret, tolerance)
			dedup = w.Headers.Get("webhook-id")
		case "github":
			err = verifyHMAC(w.Body, w.Headers.Get("X-Hub-Signature-256"), "sha256=", secret, sha256.New, hex.EncodeToString)
			dedup = w.Headers.Get("X-GitHub-Delivery")
		case "hmac":
			newHash := map[string]func() hash.Hash{"sha1": sha1.New, "sha512": sha512.New}[str(cfg, "hmac_algorithm")]
			if newHash == nil {
				newHash = sha256.New
			}
			encode := hex.EncodeToString
			if str(cfg, "hmac_encoding") == "base64" {
				encode = base64.StdEncoding.EncodeToString
			}
			err = verifyHMAC(w.Body, w.Headers.Get(str(cfg, "hmac_header")), str(cfg, "hmac_prefix"), secret, newHash, encode)
		}
		if err != nil {
			return "", node.Reject(http.StatusUnauthorized, "invalid_signature", err.Error())
		}
	}
	if h := str(cfg, "dedup_header"); h != "" {
		dedup = w.Headers.Get(h)
	}
	if p := str(cfg, "dedup_path"); p != "" {
		dedup = jsonString(w.Body, p)
	}
	return dedup, nil
}

// verifyStripe checks Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]. Every v1 is tried, so
// deliveries signed during a secret rotation (two v1 values) verify with either secret.
func verifyStripe(w *node.Webhook, secret string, tolerance time.Duration) error {
	header := w.Headers.Get("Stripe-Signature")
	if header == "" {
		return fmt.Errorf("the Stripe-Signature header is missing")
	}
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	if err := checkTimestamp(ts, w.Received, tolerance); err != nil {
		return err
	}
	if len(sigs) == 0 {
		return fmt.Errorf("the Stripe-Signature header has no v1 signature")
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(w.Body)
	want := mac.Sum(nil)
	for _, s := range sigs {
		if got, err := hex.DecodeString(s); err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("no Stripe signature matches the body and the signing secret")
}

// verifyStandard checks Standard Webhooks: HMAC-SHA256 over "<webhook-id>.<webhook-timestamp>.<body>"
// with the base64 key after "whsec_"; webhook-signature lists "v1,<base64>" entries.
func verifyStandard(w *node.Webhook, secret string, tolerance time.Duration) error {
	id, ts, header := w.Headers.Get("webhook-id"), w.Headers.Get("webhook-timestamp"), w.Headers.Get("webhook-signature")
	if id == "" || ts == "" || header == "" {
		return fmt.Errorf("the webhook-id, webhook-timestamp and webhook-signature headers are required")
	}
	if err := checkTimestamp(ts, w.Received, tolerance); err != nil {
		return err
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return fmt.Errorf("the signing secret is not a whsec_ base64 key")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(w.Body)
	want := mac.Sum(nil)
	for _, entry := range strings.Fields(header) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		if got, err := base64.StdEncoding.DecodeString(sig); err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("no webhook-signature matches the body and the signing secret")
}

// verifyHMAC checks a header holding prefix + encode(HMAC(secret, body)).
func verifyHMAC(body []byte, header, prefix, secret string, newHash func() hash.Hash, encode func([]byte) string) error {
	if header == "" {
		return fmt.Errorf("the signature header is missing")
	}
	if !strings.HasPrefix(header, prefix) {
		return fmt.Errorf("the signature does not start with %q", prefix)
	}
	mac := hmac.New(newHash, []byte(secret))
	mac.Write(body)
	want := encode(mac.Sum(nil))
	if !hmac.Equal([]byte(strings.TrimPrefix(header, prefix)), []byte(want)) {
		return fmt.Errorf("the signature does not match the body and the signing secret")
	}
	return nil
}

// checkTimestamp refuses signatures from too far in the past or the future (replays, skewed clocks).
func checkTimestamp(ts string, now time.Time, tolerance time.Duration) error {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("the signature timestamp %q is not a Unix time", ts)
	}
	skew := now.Sub(time.Unix(sec, 0))
	if skew > tolerance || skew < -tolerance {
		return fmt.Errorf("the signature timestamp is %s away from now; at most %s is accepted", skew.Round(time.Second).Abs(), tolerance)
	}
	return nil
}

// jsonString reads a dotted path from a JSON body as text ("" when absent).
func jsonString(body []byte, path string) string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	if v, ok := node.Get(v, path); ok {
		return compile.Stringify(v)
	}
	return ""
}
