package nodes

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/opsflow/opsflow/engine/node"
)

func init() {
	node.Register(&node.Spec{
		Type:        "action.notify",
		Category:    node.Action,
		Title:       node.Text{En: "Notify group chat", Zh: "群机器人通知"},
		Description: node.Text{En: "Posts a message to a WeCom, DingTalk, Feishu/Lark or Slack group through its robot webhook.", Zh: "通过群机器人 Webhook 向企业微信、钉钉、飞书或 Slack 群发送消息。"},
		Icon:        "megaphone",
		SideEffect:  true,
		Fields: []node.Field{
			{Name: "credential", Kind: node.KindCredential, Required: true, CredentialTypes: []string{"wecom_robot", "dingtalk_robot", "feishu_robot", "slack_webhook"},
				Title: node.Text{En: "Robot", Zh: "群机器人"},
				Help: node.Text{
					En: "The robot's webhook_url (for WeCom, alternatively its key) and, for DingTalk and Feishu robots with signature checking, its secret.",
					Zh: "机器人的 webhook_url（企业微信也可只填 key），钉钉和飞书开启加签时还需 secret。"}},
			{Name: "format", Kind: node.KindSelect, Default: "text",
				Title: node.Text{En: "Format", Zh: "消息格式"},
				Help:  node.Text{En: "Markdown is supported by WeCom and DingTalk; Feishu gets plain text, Slack always reads mrkdwn.", Zh: "企业微信和钉钉支持 Markdown；飞书按纯文本发送，Slack 始终按 mrkdwn 解析。"},
				Options: []node.Option{
					{Value: "text", Title: node.Text{En: "Text", Zh: "文本"}},
					{Value: "markdown", Title: node.Text{En: "Markdown", Zh: "Markdown"}},
				}},
			{Name: "title", Kind: node.KindTemplate, MaxLen: 200, Placeholder: "Payment failed",
				Title: node.Text{En: "Title", Zh: "标题"},
				Help:  node.Text{En: "Optional. DingTalk markdown shows it in the notification; elsewhere it becomes the first line.", Zh: "可选。钉钉 Markdown 消息用作通知标题；其他渠道作为第一行。"}},
			{Name: "message", Kind: node.KindTemplate, Required: true, MaxLen: 4000, Placeholder: "Order {{ event.data.order_id }} failed to pay",
				Title: node.Text{En: "Message", Zh: "消息内容"}},
		},
		Output: node.Object(map[string]*node.Schema{"channel": node.Str(), "ok": node.Boolean()}),
		Run:    runNotify,
		Docs: node.Text{
			En: "The channel follows the credential type: `wecom_robot` (企业微信), `dingtalk_robot` (钉钉, signed with timestamp and HmacSHA256 when a secret is set), " +
				"`feishu_robot` (飞书/Lark, signed when a secret is set) or `slack_webhook`. A provider error reported in a 200 answer (errcode or code other than 0) " +
				"fails the step; rate-limit and busy codes are retried, others fail the run at once. The webhook URL and secret never appear in the output or in errors.",
			Zh: "渠道取决于凭据类型：`wecom_robot`（企业微信）、`dingtalk_robot`（钉钉，设置了密钥时用时间戳和 HmacSHA256 签名）、`feishu_robot`（飞书/Lark，设置了密钥时签名）或 `slack_webhook`。服务商在 200 响应中报告的错误（errcode 或 code 不为 0）让步骤失败；限流和繁忙类错误会重试，其他错误立即让运行失败。Webhook 地址和密钥从不出现在输出或错误信息中。",
		},
	})
}

// notifyRetryable are robot error codes that go away with time (rate limits, busy backends).
var notifyRetryable = map[string]map[float64]bool{
	"wecom_robot":    {-1: true, 45009: true, 45033: true},
	"dingtalk_robot": {-1: true, 130101: true, 410100: true},
	"feishu_robot":   {9499: true, 11232: true, 11233: true},
}

func runNotify(ctx context.Context, in *node.Input) (*node.Result, error) {
	cred, err := in.Services.Credential(ctx, str(in.Config, "credential"))
	if err != nil {
		return nil, err
	}
	message, title := str(in.Config, "message"), strings.TrimSpace(str(in.Config, "title"))
	markdown := str(in.Config, "format") == "markdown"
	if strings.TrimSpace(message) == "" {
		return nil, node.Permanentf("the message is empty")
	}
	secret := cred.Data["secret"]
	hook := strings.TrimSpace(cred.Data["webhook_url"])
	if cred.Type == "wecom_robot" && hook == "" && cred.Data["key"] != "" {
		base := strings.TrimRight(cred.Data["base_url"], "/")
		if base == "" {
			base = "https://qyapi.weixin.qq.com"
		}
		hook = base + "/cgi-bin/webhook/send?key=" + url.QueryEscape(cred.Data["key"])
	}
	u, err := url.Parse(hook)
	if hook == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, node.Permanentf("credential %s needs a webhook_url (http or https)", cred.Name)
	}
	withTitle := message
	if title != "" {
		if markdown {
			withTitle = "### " + title + "\n" + message
		} else {
			withTitle = title + "\n" + message
		}
	}
	var payload map[string]any
	var provider string
	switch cred.Type {
	case "wecom_robot":
		provider = "WeCom"
		if markdown {
			payload = map[string]any{"msgtype": "markdown", "markdown": map[string]any{"content": withTitle}}
		} else {
			payload = map[string]any{"msgtype": "text", "text": map[string]any{"content": withTitle}}
		}
	case "dingtalk_robot":
		provider = "DingTalk"
		if markdown {
			if title == "" {
				title = firstLine(message)
			}
			payload = map[string]any{"msgtype": "markdown", "markdown": map[string]any{"title": title, "text": withTitle}}
		} else {
			payload = map[string]any{"msgtype": "text", "text": map[string]any{"content": withTitle}}
		}
		if secret != "" {
			ts, sign := dingtalkSign(secret, time.Now())
			q := u.Query()
			q.Set("timestamp", ts)
			q.Set("sign", sign)
			u.RawQuery = q.Encode()
		}
	case "feishu_robot":
		provider = "Feishu"
		payload = map[string]any{"msg_type": "text", "content": map[string]any{"text": withTitle}}
		if secret != "" {
			ts, sign := feishuSign(secret, time.Now())
			payload["timestamp"], payload["sign"] = ts, sign
		}
	case "slack_webhook":
		provider = "Slack"
		text := withTitle
		if title != "" {
			text = "*" + title + "*\n" + message
		}
		payload = map[string]any{"text": text}
	default:
		return nil, node.Permanentf("credential %s is of type %s, which action.notify does not know", cred.Name, cred.Type)
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return nil, node.Permanent(err)
	}
	req, err := http.NewRequest(http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, node.Permanentf("credential %s has an invalid webhook_url", cred.Name)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	// The webhook URL is itself a secret (it carries the robot's key or token).
	secrets := []string{hook, u.String(), u.RawQuery, u.Path, cred.Data["key"], secret}
	resp, err := send(ctx, in, req, provider)
	if err != nil {
		return nil, redactErr(err, secrets...)
	}
	if cred.Type != "slack_webhook" {
		var res map[string]any
		if json.Unmarshal(resp.Body, &res) != nil {
			return nil, redactErr(fmt.Errorf("%s answered %d with an unexpected body: %s", provider, resp.Status, snippet(in, resp.Body)), secrets...)
		}
		code, msg := robotCode(res)
		if code != 0 {
			err := fmt.Errorf("%s refused the message: code %v: %s", provider, code, msg)
			if !notifyRetryable[cred.Type][code] {
				err = node.Permanent(err)
			}
			return nil, redactErr(err, secrets...)
		}
	}
	return &node.Result{Output: map[string]any{"channel": strings.TrimSuffix(strings.TrimSuffix(cred.Type, "_robot"), "_webhook"), "ok": true}}, nil
}

// robotCode reads the provider's result code: errcode (WeCom, DingTalk), code or StatusCode (Feishu).
func robotCode(res map[string]any) (float64, string) {
	for _, k := range []string{"errcode", "code", "StatusCode"} {
		if c, ok := res[k].(float64); ok && c != 0 {
			msg := ""
			for _, m := range []string{"errmsg", "msg", "StatusMessage"} {
				if s, ok := res[m].(string); ok && s != "" {
					msg = s
					break
				}
			}
			return c, msg
		}
	}
	return 0, ""
}

// dingtalkSign returns DingTalk's timestamp (ms) and sign: base64(HmacSHA256(secret, timestamp+"\n"+secret)).
// The sign is returned raw; url.Values.Encode URL-encodes it once, as DingTalk requires.
func dingtalkSign(secret string, now time.Time) (ts, sign string) {
	ts = strconv.FormatInt(now.UnixMilli(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "\n" + secret))
	return ts, base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// feishuSign returns Feishu's timestamp (seconds) and sign: base64(HmacSHA256(key=timestamp+"\n"+secret, msg="")).
func feishuSign(secret string, now time.Time) (ts, sign string) {
	ts = strconv.FormatInt(now.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(ts+"\n"+secret))
	return ts, base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if r := []rune(s); len(r) > 64 {
		s = string(r[:64])
	}
	return s
}
