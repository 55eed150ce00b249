package nodes_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/node"
	"github.com/opsflow/opsflow/engine/store"
)

// hookFlow publishes a webhook flow with the given trigger config and a secret credential.
func hookFlow(t *testing.T, e *engine.Engine, secret string, cfg map[string]any) string {
	t.Helper()
	if _, err := e.CreateCredential(context.Background(), "hook-secret", "webhook_secret", map[string]string{"secret": secret}); err != nil {
		t.Fatal(err)
	}
	cfg["secret"] = "hook-secret"
	b, _ := json.Marshal(cfg)
	return enginetest.Publish(t, e, enginetest.MustFlow(t, `{"name":"hook","nodes":[{"id":"t","type":"trigger.webhook","config":`+string(b)+`},
		{"id":"l","type":"action.log","config":{"message":"got it"}}],"edges":[{"from":"t","to":"l"}]}`))
}

// deliver posts a delivery straight to the engine, as the HTTP handler does.
func deliver(e *engine.Engine, flowID string, body string, h http.Header, at time.Time) (*engine.Accepted, int) {
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	acc, err := e.AcceptWebhook(context.Background(), flowID, &node.Webhook{Method: "POST", Headers: h, Body: []byte(body), Received: at})
	var we *engine.WebhookError
	switch {
	case errors.As(err, &we):
		return nil, we.Status
	case err != nil:
		return nil, 500
	case acc.Duplicate:
		return acc, 200
	}
	return acc, 202
}

func stripeSig(secret string, t int64, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "%d.%s", t, body)
	return hex.EncodeToString(m.Sum(nil))
}

func TestStripeSignature(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			e := enginetest.New(t, b)
			const secret = "whsec_test_51HqLyjWDarjtT1zdp7dc"
			flowID := hookFlow(t, e, secret, map[string]any{"verify": "stripe"})
			now := time.Now()
			body := `{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1","amount":2000}}}`
			sign := func(ts time.Time, secrets ...string) http.Header {
				parts := []string{fmt.Sprintf("t=%d", ts.Unix())}
				for _, s := range secrets {
					parts = append(parts, "v1="+stripeSig(s, ts.Unix(), body))
				}
				parts = append(parts, "v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39")
				return http.Header{"Stripe-Signature": {strings.Join(parts, ",")}}
			}
			acc, status := deliver(e, flowID, body, sign(now, secret), now)
			if status != 202 {
				t.Fatalf("valid signature: %d", status)
			}
			if d := enginetest.WaitRun(t, e, acc.RunIDs[0], 5*time.Second); d.Event.Type != "payment_intent.succeeded" {
				t.Errorf("event type %q, want the Stripe event's type", d.Event.Type)
			}
			// Stripe redelivers the same event: the same event id answers 200 and runs nothing.
			again, status := deliver(e, flowID, body, sign(now.Add(time.Minute), secret), now.Add(time.Minute))
			if status != 200 || again.EventID != acc.EventID || again.RunIDs[0] != acc.RunIDs[0] {
				t.Errorf("redelivery: %d %+v", status, again)
			}
			other := strings.Replace(body, "evt_1NG8Du2eZvKYlo2CUI79vXWy", "evt_2", 1)
			signOther := func(ts time.Time, secrets ...string) http.Header {
				parts := []string{fmt.Sprintf("t=%d", ts.Unix())}
				for _, s := range secrets {
					parts = append(parts, "v1="+stripeSig(s, ts.Unix(), other))
				}
				return http.Header{"Stripe-Signature": {strings.Join(parts, ",")}}
			}
			// During a rotation Stripe sends one v1 per secret; either may be ours.
			if _, status := deliver(e, flowID, other, signOther(now, "whsec_old_rotated_out", secret), now); status != 202 {
				t.Errorf("rotated secrets: %d", status)
			}
			for name, c := range map[string]struct {
				h  http.Header
				at time.Time
				b  string
			}{
				"wrong secret":       {signOther(now, "whsec_someone_else"), now, other},
				"tampered body":      {sign(now, secret), now, strings.Replace(body, "2000", "1", 1)},
				"expired (301s old)": {sign(now.Add(-301*time.Second), secret), now, body},
				"future (301s)":      {sign(now.Add(301*time.Second), secret), now, body},
				"no header":          {http.Header{}, now, body},
			} {
				if _, status := deliver(e, flowID, c.b, c.h, c.at); status != 401 {
					t.Errorf("%s: status %d, want 401", name, status)
				}
			}
			// Just inside the window in both directions is accepted.
			for i, skew := range []time.Duration{-299 * time.Second, 299 * time.Second} {
				body3 := strings.Replace(body, "evt_1NG8Du2eZvKYlo2CUI79vXWy", fmt.Sprintf("evt_edge_%d", i), 1)
				ts := now.Add(skew).Unix()
				h := http.Header{"Stripe-Signature": {fmt.Sprintf("t=%d,v1=%s", ts, stripeSig(secret, ts, body3))}}
				if _, status := deliver(e, flowID, body3, h, now); status != 202 {
					t.Errorf("skew %s: %d", skew, status)
				}
			}
			var f store.Flow
			e.Store.DB.Where("id = ?", flowID).Take(&f)
			if f.RejectedDeliveries != 5 {
				t.Errorf("rejected deliveries = %d, want 5", f.RejectedDeliveries)
			}
		})
	}
}

// The published Standard Webhooks test vector.
func TestStandardWebhooksSignature(t *testing.T) {
	e := enginetest.New(t, enginetest.Embedded)
	flowID := hookFlow(t, e, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", map[string]any{"verify": "standard_webhooks"})
	at := time.Unix(1614265330, 0)
	h := func(sig string) http.Header {
		return http.Header{"Webhook-Id": {"msg_p5jXN8AQM9LWM0D4loKWxJek"}, "Webhook-Timestamp": {"1614265330"}, "Webhook-Signature": {sig}}
	}
	body := `{"test": 2432232314}`
	acc, status := deliver(e, flowID, body, h("v1,bm9ldHZhbGlk v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), at)
	if status != 202 {
		t.Fatalf("test vector: %d", status)
	}
	if again, status := deliver(e, flowID, body, h("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), at); status != 200 || again.EventID != acc.EventID {
		t.Errorf("same webhook-id: %d", status)
	}
	if _, status := deliver(e, flowID, body, h("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), at.Add(10*time.Minute)); status != 401 {
		t.Errorf("10 minutes late: %d, want 401", status)
	}
	if _, status := deliver(e, flowID, `{"test": 1}`, h("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), at); status != 401 {
		t.Errorf("tampered: %d, want 401", status)
	}
}

// GitHub's published test vector (testdata/ holds an unchanged copy of the shared fixture).
func TestGitHubSignature(t *testing.T) {
	raw, err := os.ReadFile("testdata/github-webhook-signature.json")
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	var fx struct{ Secret, Payload, Header, Signature string }
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	e := enginetest.New(t, enginetest.Embedded)
	flowID := hookFlow(t, e, fx.Secret, map[string]any{"verify": "github"})
	h := http.Header{fx.Header: {fx.Signature}, "X-Github-Delivery": {"72d3162e-cc78-11e3-81ab-4c9367dc0958"}, "Content-Type": {"text/plain"}}
	if _, status := deliver(e, flowID, fx.Payload, h, time.Now()); status != 202 {
		t.Fatalf("GitHub test vector: %d", status)
	}
	if _, status := deliver(e, flowID, fx.Payload, h, time.Now()); status != 200 {
		t.Errorf("same X-GitHub-Delivery: %d, want 200", status)
	}
	h.Set("X-Github-Delivery", "other")
	if _, status := deliver(e, flowID, fx.Payload+"!", h, time.Now()); status != 401 {
		t.Errorf("tampered: %d, want 401", status)
	}
}

func TestGenericHMACAndDedupPath(t *testing.T) {
	e := enginetest.New(t, enginetest.Embedded)
	flowID := hookFlow(t, e, "crm-shared-key", map[string]any{"verify": "hmac", "hmac_header": "X-CRM-Signature", "hmac_algorithm": "sha1", "hmac_encoding": "base64", "hmac_prefix": "sha1=", "dedup_path": "data.id"})
	body := `{"event":"deal.updated","data":{"id":"D-77","stage":"won"}}`
	m := hmac.New(sha1.New, []byte("crm-shared-key"))
	m.Write([]byte(body))
	h := http.Header{"X-Crm-Signature": {"sha1=" + base64.StdEncoding.EncodeToString(m.Sum(nil))}}
	if _, status := deliver(e, flowID, body, h, time.Now()); status != 202 {
		t.Fatalf("valid HMAC: %d", status)
	}
	if _, status := deliver(e, flowID, body, h, time.Now()); status != 200 {
		t.Errorf("same data.id: %d, want 200", status)
	}
	h.Set("X-Crm-Signature", "sha1=AAAA")
	if _, status := deliver(e, flowID, body, h, time.Now()); status != 401 {
		t.Errorf("bad HMAC: %d, want 401", status)
	}
}
