package nodes

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine"
)

// robotServer records what a fake robot endpoint got and answers with a configurable body.
type robotServer struct {
	t      *testing.T
	check  func(r *http.Request, body map[string]any)
	hits   atomic.Int32
	mu     sync.Mutex
	status int
	answer string
	last   map[string]any
}

func (s *robotServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		s.t.Errorf("%s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
	}
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		s.t.Errorf("body %q: %v", raw, err)
	}
	s.check(r, body)
	s.mu.Lock()
	s.last = body
	status, answer := s.status, s.answer
	s.mu.Unlock()
	if status != 0 {
		w.WriteHeader(status)
	}
	_, _ = io.WriteString(w, answer)
}

func (s *robotServer) set(status int, answer string) {
	s.mu.Lock()
	s.status, s.answer = status, answer
	s.mu.Unlock()
}

func (s *robotServer) body() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

func newRobot(t *testing.T, answer string, check func(r *http.Request, body map[string]any)) (*robotServer, *httptest.Server) {
	s := &robotServer{t: t, check: check, answer: answer}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

func jsonEqual(t *testing.T, got map[string]any, want string) {
	t.Helper()
	var w map[string]any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, w) {
		g, _ := json.Marshal(got)
		t.Fatalf("body %s, want %s", g, want)
	}
}

func TestNotifyWeCom(t *testing.T) {
	const key = "wecom-key-0f3a9"
	cxBackends(t, func(t *testing.T, e *engine.Engine) {
		fake, srv := newRobot(t, `{"errcode":0,"errmsg":"ok"}`, func(r *http.Request, body map[string]any) {
			if r.URL.Path != "/cgi-bin/webhook/send" || r.URL.Query().Get("key") != key {
				t.Errorf("url %s", r.URL)
			}
		})
		cred := cxCredential(t, e, "wecom_robot", map[string]string{"key": key, "base_url": srv.URL})
		typ := cxPublish(t, e, "action.notify", map[string]any{"credential": cred, "message": "订单 {{ event.data.order }} 支付失败"})
		d := cxRun(t, e, typ, map[string]any{"order": "A-1"})
		out := cxSucceeded(t, d)
		if out["channel"] != "wecom" || out["ok"] != true {
			t.Fatalf("output %v", out)
		}
		jsonEqual(t, fake.body(), `{"msgtype":"text","text":{"content":"订单 A-1 支付失败"}}`)

		typMD := cxPublish(t, e, "action.notify", map[string]any{"credential": cred, "format": "markdown", "title": "Alert", "message": "**{{ event.data.order }}**"})
		cxSucceeded(t, cxRun(t, e, typMD, map[string]any{"order": "A-2"}))
		jsonEqual(t, fake.body(), `{"msgtype":"markdown","markdown":{"content":"### Alert\n**A-2**"}}`)

		// errcode != 0 in a 200 answer fails the run without retry.
		fake.set(0, `{"errcode":93000,"errmsg":"invalid webhook url"}`)
		before := fake.hits.Load()
		d = cxRun(t, e, typ, map[string]any{"order": "A-3"})
		s := cxFailed(t, d, 1)
		if !strings.Contains(s.Error, "93000") || fake.hits.Load()-before != 1 {
			t.Fatalf("error %q", s.Error)
		}
		// Rate limited: retried.
		fake.set(0, `{"errcode":45009,"errmsg":"api freq out of limit"}`)
		before = fake.hits.Load()
		d = cxRun(t, e, typ, map[string]any{"order": "A-4"})
		cxFailed(t, d, cxRetried)
		if fake.hits.Load()-before != cxRetried {
			t.Fatalf("hits %d", fake.hits.Load()-before)
		}
		cxNoSecrets(t, d, key)
	})
}

func TestNotifyDingTalk(t *testing.T) {
	const token, secret = "ding-access-token-77", "SECdingtalk-secret+/="
	cxBackends(t, func(t *testing.T, e *engine.Engine) {
		fake, srv := newRobot(t, `{"errcode":0,"errmsg":"ok"}`, func(r *http.Request, body map[string]any) {
			q := r.URL.Query()
			if r.URL.Path != "/robot/send" || q.Get("access_token") != token {
				t.Errorf("url %s", r.URL)
			}
			ts := q.Get("timestamp")
			ms, err := strconv.ParseInt(ts, 10, 64)
			if err != nil || time.Since(time.UnixMilli(ms)).Abs() > time.Hour {
				t.Errorf("timestamp %q", ts)
			}
			mac := hmac.New(sha256.New, []byte(secret))
			mac.Write([]byte(ts + "\n" + secret))
			want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
			if q.Get("sign") != want {
				t.Errorf("sign %q, want %q", q.Get("sign"), want)
			}
			// The sign is URL-encoded in the query: + / = never appear raw.
			raw := r.URL.RawQuery[strings.Index(r.URL.RawQuery, "sign=")+5:]
			if i := strings.IndexByte(raw, '&'); i >= 0 {
				raw = raw[:i]
			}
			if strings.ContainsAny(raw, "+/=") {
				t.Errorf("sign not URL-encoded: %q", raw)
			}
		})
		cred := cxCredential(t, e, "dingtalk_robot", map[string]string{"webhook_url": srv.URL + "/robot/send?access_token=" + token, "secret": secret})
		typ := cxPublish(t, e, "action.notify", map[string]any{"credential": cred, "format": "markdown", "title": "支付失败", "message": "订单 **{{ event.data.order }}**"})
		d := cxRun(t, e, typ, map[string]any{"order": "B-1"})
		if out := cxSucceeded(t, d); out["channel"] != "dingtalk" {
			t.Fatalf("output %v", out)
		}
		jsonEqual(t, fake.body(), `{"msgtype":"markdown","markdown":{"title":"支付失败","text":"### 支付失败\n订单 **B-1**"}}`)

		typText := cxPublish(t, e, "action.notify", map[string]any{"credential": cred, "message": "hello {{ event.data.order }}"})
		cxSucceeded(t, cxRun(t, e, typText, map[string]any{"order": "B-2"}))
		jsonEqual(t, fake.body(), `{"msgtype":"text","text":{"content":"hello B-2"}}`)

		fake.set(0, `{"errcode":310000,"errmsg":"sign not match"}`)
		d = cxRun(t, e, typText, map[string]any{"order": "B-3"})
		if s := cxFailed(t, d, 1); !strings.Contains(s.Error, "310000") {
			t.Fatalf("error %q", s.Error)
		}
		fake.set(0, `{"errcode":130101,"errmsg":"send too fast"}`)
		cxFailed(t, cxRun(t, e, typText, map[string]any{"order": "B-4"}), cxRetried)
		// A 5xx is retried, and the token in the URL does not leak into the error.
		fake.set(http.StatusBadGateway, `bad gateway`)
		d = cxRun(t, e, typText, map[string]any{"order": "B-5"})
		cxFailed(t, d, cxRetried)
		cxNoSecrets(t, d, token, secret)
	})
}

func TestNotifyFeishu(t *testing.T) {
	const hookID, secret = "3f8a0c51-feishu-hook", "feishu-sign-secret"
	cxBackends(t, func(t *testing.T, e *engine.Engine) {
		fake, srv := newRobot(t, `{"code":0,"data":{},"msg":"success"}`, func(r *http.Request, body map[string]any) {
			if r.URL.Path != "/open-apis/bot/v2/hook/"+hookID {
				t.Errorf("path %s", r.URL.Path)
			}
			ts, _ := body["timestamp"].(string)
			sec, err := strconv.ParseInt(ts, 10, 64)
			if err != nil || time.Since(time.Unix(sec, 0)).Abs() > time.Hour {
				t.Errorf("timestamp %v", body["timestamp"])
			}
			mac := hmac.New(sha256.New, []byte(ts+"\n"+secret))
			if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); body["sign"] != want {
				t.Errorf("sign %v, want %s", body["sign"], want)
			}
		})
		cred := cxCredential(t, e, "feishu_robot", map[string]string{"webhook_url": srv.URL + "/open-apis/bot/v2/hook/" + hookID, "secret": secret})
		typ := cxPublish(t, e, "action.notify", map[string]any{"credential": cred, "title": "Alert", "message": "order {{ event.data.order }}"})
		d := cxRun(t, e, typ, map[string]any{"order": "C-1"})
		if out := cxSucceeded(t, d); out["channel"] != "feishu" {
			t.Fatalf("output %v", out)
		}
		got := fake.body()
		delete(got, "timestamp")
		delete(got, "sign")
		jsonEqual(t, got, `{"msg_type":"text","content":{"text":"Alert\norder C-1"}}`)

		fake.set(0, `{"code":19021,"data":{},"msg":"sign match fail or timestamp is not within one hour from current time"}`)
		d = cxRun(t, e, typ, map[string]any{"order": "C-2"})
		if s := cxFailed(t, d, 1); !strings.Contains(s.Error, "19021") {
			t.Fatalf("error %q", s.Error)
		}
		fake.set(0, `{"code":11232,"data":{},"msg":"frequency limited"}`)
		d = cxRun(t, e, typ, map[string]any{"order": "C-3"})
		cxFailed(t, d, cxRetried)
		cxNoSecrets(t, d, hookID, secret)
	})
}

func TestNotifySlack(t *testing.T) {
	const path = "/services/T000/B000/XXXXslacksecret"
	cxBackends(t, func(t *testing.T, e *engine.Engine) {
		fake, srv := newRobot(t, "ok", func(r *http.Request, body map[string]any) {
			if r.URL.Path != path {
				t.Errorf("path %s", r.URL.Path)
			}
		})
		cred := cxCredential(t, e, "slack_webhook", map[string]string{"webhook_url": srv.URL + path})
		typ := cxPublish(t, e, "action.notify", map[string]any{"credential": cred, "title": "Payment failed", "message": "order {{ event.data.order }}"})
		d := cxRun(t, e, typ, map[string]any{"order": "D-1"})
		if out := cxSucceeded(t, d); out["channel"] != "slack" {
			t.Fatalf("output %v", out)
		}
		jsonEqual(t, fake.body(), `{"text":"*Payment failed*\norder D-1"}`)

		fake.set(http.StatusNotFound, "no_service")
		d = cxRun(t, e, typ, map[string]any{"order": "D-2"})
		if s := cxFailed(t, d, 1); !strings.Contains(s.Error, "no_service") {
			t.Fatalf("error %q", s.Error)
		}
		fake.set(http.StatusInternalServerError, "oops")
		d = cxRun(t, e, typ, map[string]any{"order": "D-3"})
		cxFailed(t, d, cxRetried)
		cxNoSecrets(t, d, "XXXXslacksecret")
	})
}

// A network failure's error names the provider and host; the robot's token must not appear in it.
func TestNotifyNetworkErrorRedacted(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close() // nothing listens any more
	cxBackends(t, func(t *testing.T, e *engine.Engine) {
		cred := cxCredential(t, e, "dingtalk_robot", map[string]string{"webhook_url": addr + "/robot/send?access_token=tok-network-secret", "secret": "s3cr3t-value"})
		typ := cxPublish(t, e, "action.notify", map[string]any{"credential": cred, "message": "x"})
		d := cxRun(t, e, typ, nil)
		s := cxFailed(t, d, cxRetried)
		if !strings.Contains(s.Error, "DingTalk") || !strings.Contains(s.Error, "connection refused") {
			t.Fatalf("error %q", s.Error)
		}
		cxNoSecrets(t, d, "tok-network-secret", "s3cr3t-value")
	})
}
