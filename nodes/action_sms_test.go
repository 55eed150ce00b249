package nodes

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine"
)

// Alibaba Cloud's documented example (ECS DescribeRegions, AccessKeySecret "testsecret").
func TestSMSAliyunSignatureDocExample(t *testing.T) {
	q := map[string]string{
		"AccessKeyId":      "testid",
		"Action":           "DescribeRegions",
		"Format":           "XML",
		"SignatureMethod":  "HMAC-SHA1",
		"SignatureNonce":   "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
		"SignatureVersion": "1.0",
		"Timestamp":        "2016-02-23T12:46:24Z",
		"Version":          "2014-05-26",
	}
	if got, want := aliyunSign("GET", q, "testsecret"), "OLeaidS1JvxuMvnyHOwuJ+uX5qY="; got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
	if got := aliyunEncode("a b*c~d/é"); got != "a%20b%2Ac~d%2F%C3%A9" {
		t.Fatalf("encode: %s", got)
	}
}

// aliyunDocEncode is the encoding as Alibaba documents it for Java: URLEncoder.encode (UTF-8)
// then + → %20, * → %2A, %7E → ~. Written independently of the node's encoder on purpose.
func aliyunDocEncode(s string) string {
	e := url.QueryEscape(s)
	e = strings.ReplaceAll(e, "+", "%20")
	e = strings.ReplaceAll(e, "*", "%2A")
	e = strings.ReplaceAll(e, "%7E", "~")
	return e
}

// aliyunServer is a fake dysmsapi endpoint that verifies each request as Alibaba Cloud does.
type aliyunServer struct {
	t      *testing.T
	secret string
	code   string // answer Code; "" means OK
	status int    // HTTP status; 0 means 200
	hits   atomic.Int32
	mu     sync.Mutex
	got    url.Values
	nonces map[string]bool
}

func (s *aliyunServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := s.t
	s.hits.Add(1)
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		t.Errorf("request %s %s", r.Method, r.URL.Path)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type %q", ct)
	}
	raw, _ := io.ReadAll(r.Body)
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		t.Errorf("body %q: %v", raw, err)
	}
	sig := form.Get("Signature")
	var keys []string
	for k := range form {
		if k != "Signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var pairs []string
	for _, k := range keys {
		pairs = append(pairs, aliyunDocEncode(k)+"="+aliyunDocEncode(form.Get(k)))
	}
	stringToSign := "POST&" + aliyunDocEncode("/") + "&" + aliyunDocEncode(strings.Join(pairs, "&"))
	mac := hmac.New(sha1.New, []byte(s.secret+"&"))
	mac.Write([]byte(stringToSign))
	if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); sig != want {
		t.Errorf("Signature %q, want %q (string to sign %q)", sig, want, stringToSign)
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"Code":"SignatureDoesNotMatch","Message":"bad signature","RequestId":"R0"}`)
		return
	}
	for k, v := range map[string]string{"Action": "SendSms", "Format": "JSON", "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "Version": "2017-05-25"} {
		if form.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, form.Get(k), v)
		}
	}
	ts, err := time.Parse("2006-01-02T15:04:05Z", form.Get("Timestamp"))
	if err != nil || time.Since(ts).Abs() > 5*time.Minute {
		t.Errorf("Timestamp %q is not ISO 8601 UTC now", form.Get("Timestamp"))
	}
	s.mu.Lock()
	if s.nonces[form.Get("SignatureNonce")] || form.Get("SignatureNonce") == "" {
		t.Errorf("SignatureNonce %q reused or empty", form.Get("SignatureNonce"))
	}
	s.nonces[form.Get("SignatureNonce")] = true
	s.got = form
	status, code := s.status, s.code
	s.mu.Unlock()
	if status != 0 {
		if code == "" {
			code = "ServiceUnavailable"
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"Code": code, "Message": "error " + code, "RequestId": "R1"})
		return
	}
	if code == "" {
		code = "OK"
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"Code": code, "Message": "msg for " + code, "RequestId": "REQ-1", "BizId": "BIZ-9"})
}

func (s *aliyunServer) set(code string, status int) {
	s.mu.Lock()
	s.code, s.status = code, status
	s.mu.Unlock()
}

func (s *aliyunServer) last() url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got
}

func newAliyunServer(t *testing.T, secret string) (*aliyunServer, *httptest.Server) {
	s := &aliyunServer{t: t, secret: secret, nonces: map[string]bool{}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

func TestSMSAliyun(t *testing.T) {
	const secret = "aliyun-secret-XYZ*~ 1"
	cxBackends(t, func(t *testing.T, e *engine.Engine) {
		fake, srv := newAliyunServer(t, secret)
		cred := cxCredential(t, e, "aliyun_sms", map[string]string{
			"access_key_id": "LTAI-test-id", "access_key_secret": secret, "sign_name": "阿里云短信测试", "region": "cn-hangzhou", "base_url": srv.URL,
		})
		typ := cxPublish(t, e, "action.sms", map[string]any{
			"credential":     cred,
			"to":             "{{ event.data.phone }}",
			"template_code":  "SMS_154950909",
			"template_param": `{"code": event.data.code, "name": "张 三*~"}`,
		})
		d := cxRun(t, e, typ, map[string]any{"phone": "+8613800138000", "code": "1234"})
		out := cxSucceeded(t, d)
		if out["provider"] != "aliyun" || out["biz_id"] != "BIZ-9" || out["request_id"] != "REQ-1" || out["to"] != "+8613800138000" {
			t.Fatalf("output %v", out)
		}
		got := fake.last()
		if got.Get("PhoneNumbers") != "13800138000" || got.Get("SignName") != "阿里云短信测试" || got.Get("TemplateCode") != "SMS_154950909" ||
			got.Get("AccessKeyId") != "LTAI-test-id" || got.Get("RegionId") != "cn-hangzhou" {
			t.Fatalf("request %v", got)
		}
		var params map[string]string
		if err := json.Unmarshal([]byte(got.Get("TemplateParam")), &params); err != nil || params["code"] != "1234" || params["name"] != "张 三*~" {
			t.Fatalf("TemplateParam %q", got.Get("TemplateParam"))
		}
		cxNoSecrets(t, d, secret)

		// An international number keeps its country code, without +.
		d = cxRun(t, e, typ, map[string]any{"phone": "+85291234567", "code": "9"})
		cxSucceeded(t, d)
		if fake.last().Get("PhoneNumbers") != "85291234567" {
			t.Fatalf("PhoneNumbers %q", fake.last().Get("PhoneNumbers"))
		}

		// Invalid phone: permanent, nothing sent.
		before := fake.hits.Load()
		d = cxRun(t, e, typ, map[string]any{"phone": "13800138000", "code": "1"})
		s := cxFailed(t, d, 1)
		if !strings.Contains(s.Error, "E.164") || fake.hits.Load() != before {
			t.Fatalf("error %q, hits %d→%d", s.Error, before, fake.hits.Load())
		}

		// A business error in a 200 answer fails without retry.
		fake.set("isv.MOBILE_NUMBER_ILLEGAL", 0)
		before = fake.hits.Load()
		d = cxRun(t, e, typ, map[string]any{"phone": "+8613800138000", "code": "1"})
		s = cxFailed(t, d, 1)
		if !strings.Contains(s.Error, "isv.MOBILE_NUMBER_ILLEGAL") || fake.hits.Load()-before != 1 {
			t.Fatalf("error %q, hits %d", s.Error, fake.hits.Load()-before)
		}
		// Throttling is retried.
		fake.set("isv.BUSINESS_LIMIT_CONTROL", 0)
		before = fake.hits.Load()
		d = cxRun(t, e, typ, map[string]any{"phone": "+8613800138000", "code": "1"})
		cxFailed(t, d, cxRetried)
		if fake.hits.Load()-before != cxRetried {
			t.Fatalf("hits %d", fake.hits.Load()-before)
		}
		// 5xx is retried.
		fake.set("", http.StatusServiceUnavailable)
		before = fake.hits.Load()
		d = cxRun(t, e, typ, map[string]any{"phone": "+8613800138000", "code": "1"})
		cxFailed(t, d, cxRetried)
		if fake.hits.Load()-before != cxRetried {
			t.Fatalf("hits %d", fake.hits.Load()-before)
		}
		cxNoSecrets(t, d, secret)
		// Throttling answered with a 400 is retried; another 4xx is not.
		fake.set("Throttling.User", http.StatusBadRequest)
		before = fake.hits.Load()
		cxFailed(t, cxRun(t, e, typ, map[string]any{"phone": "+8613800138000", "code": "1"}), cxRetried)
		if fake.hits.Load()-before != cxRetried {
			t.Fatalf("hits %d", fake.hits.Load()-before)
		}
		fake.set("InvalidAccessKeyId.NotFound", http.StatusNotFound)
		d = cxRun(t, e, typ, map[string]any{"phone": "+8613800138000", "code": "1"})
		if s := cxFailed(t, d, 1); !strings.Contains(s.Error, "InvalidAccessKeyId.NotFound") {
			t.Fatalf("error %q", s.Error)
		}
		fake.set("", 0)

		// A template code is required for Alibaba Cloud.
		typ2 := cxPublish(t, e, "action.sms", map[string]any{"credential": cred, "to": "+8613800138000", "body": "hi"})
		d = cxRun(t, e, typ2, nil)
		if s := cxFailed(t, d, 1); !strings.Contains(s.Error, "Template code") {
			t.Fatalf("error %q", s.Error)
		}
	})
}

func TestSMSCheck(t *testing.T) {
	spec := cxSpec(t, "action.sms")
	if errs := spec.Check(map[string]any{"to": "+14155550100"}); len(errs) != 1 || errs[0].Field != "body" {
		t.Fatalf("Check: %v", errs)
	}
	for _, cfg := range []map[string]any{{"body": "hi"}, {"template_code": "SMS_1"}} {
		if errs := spec.Check(cfg); len(errs) != 0 {
			t.Fatalf("Check(%v): %v", cfg, errs)
		}
	}
}

func TestSMSTwilio(t *testing.T) {
	const token = "twilio-auth-token-123"
	cxBackends(t, func(t *testing.T, e *engine.Engine) {
		sb := cxSandbox(t)
		cred := cxCredential(t, e, "twilio", map[string]string{"account_sid": "AC123", "auth_token": token, "from": "+14155550100", "base_url": sb.URL})
		typ := cxPublish(t, e, "action.sms", map[string]any{"credential": cred, "to": "{{ event.data.phone }}", "body": "Hello {{ event.data.name }}"})
		d := cxRun(t, e, typ, map[string]any{"phone": "+14155550123", "name": "Ann"})
		out := cxSucceeded(t, d)
		sent := sb.Messages()
		if len(sent) != 1 || out["sid"] != fmt.Sprintf("SM%032d", 1) || out["provider"] != "twilio" || sent[0].Get("Body") != "Hello Ann" || sent[0].Get("From") != "+14155550100" || sent[0].Get("To") != "+14155550123" {
			t.Fatalf("output %v, sent %v", out, sent)
		}
		req := sb.Requests("/Messages.json")[0]
		if user, pass, _ := (&http.Request{Header: req.Header}).BasicAuth(); req.Path != "/2010-04-01/Accounts/AC123/Messages.json" || user != "AC123" || pass != token ||
			!strings.HasSuffix(req.Header.Get("I-Twilio-Idempotency-Token"), ":act") {
			t.Errorf("request %s %s, headers %v", req.Method, req.Path, req.Header)
		}
		sb.FailWith(http.StatusBadRequest, `{"code":21211,"message":"Invalid 'To' Phone Number","status":400}`)
		d = cxRun(t, e, typ, map[string]any{"phone": "+14155550123", "name": "Ann"})
		cxFailed(t, d, 1)
		sb.FailWith(http.StatusInternalServerError, `{"code":20500,"message":"Internal Server Error","status":500}`)
		before := len(sb.Requests("/Messages.json"))
		d = cxRun(t, e, typ, map[string]any{"phone": "+14155550123", "name": "Ann"})
		cxFailed(t, d, cxRetried)
		if n := len(sb.Requests("/Messages.json")) - before; n != cxRetried {
			t.Fatalf("%d attempts, want %d", n, cxRetried)
		}
		cxNoSecrets(t, d, token)
		sb.FailWith(0, "")

		// Twilio needs a body.
		typ2 := cxPublish(t, e, "action.sms", map[string]any{"credential": cred, "to": "+14155550123", "template_code": "X"})
		d = cxRun(t, e, typ2, nil)
		if s := cxFailed(t, d, 1); !strings.Contains(s.Error, "Message is required") {
			t.Fatalf("error %q", s.Error)
		}
	})
}
