package nodes

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/opsflow/opsflow/engine/compile"
	"github.com/opsflow/opsflow/engine/netguard"
	"github.com/opsflow/opsflow/engine/node"
)

func init() {
	node.Register(&node.Spec{
		Type:        "action.http",
		Category:    node.Action,
		Title:       node.Text{En: "HTTP request", Zh: "HTTP 请求"},
		Description: node.Text{En: "Calls any REST API and makes its response available downstream.", Zh: "调用任意 REST API，并将响应提供给后续节点。"},
		Icon:        "globe",
		SideEffect:  true,
		Fields: []node.Field{
			{Name: "method", Kind: node.KindSelect, Default: "POST", Title: node.Text{En: "Method", Zh: "方法"}, Options: options("GET", "POST", "PUT", "PATCH", "DELETE")},
			{Name: "url", Kind: node.KindTemplate, Required: true, Placeholder: "https://crm.example.com/api/orders/{{ event.data.order_id }}", Title: node.Text{En: "URL", Zh: "地址"}},
			{Name: "headers", Kind: node.KindKeyValue, Title: node.Text{En: "Headers", Zh: "请求头"}},
			{Name: "body_type", Kind: node.KindSelect, Default: "json", Title: node.Text{En: "Body type", Zh: "请求体格式"},
				Options: []node.Option{{Value: "json", Title: node.Text{En: "JSON", Zh: "JSON"}}, {Value: "form", Title: node.Text{En: "Form", Zh: "表单"}}, {Value: "none", Title: node.Text{En: "None", Zh: "无"}}}},
			{Name: "body", Kind: node.KindExpr, Placeholder: `{"status": "failed", "amount": event.data.amount}`,
				Title: node.Text{En: "Body", Zh: "请求体"},
				Help:  node.Text{En: "An expression giving the body, e.g. a map literal {\"status\": \"paid\"}.", Zh: "生成请求体的表达式，例如映射字面量 {\"status\": \"paid\"}。"}},
			{Name: "credential", Kind: node.KindCredential, CredentialTypes: []string{"http_bearer", "http_basic", "http_header"},
				Title: node.Text{En: "Authentication", Zh: "认证"}},
			{Name: "timeout", Kind: node.KindDuration, Default: "30s", Max: ptr(300), Title: node.Text{En: "Timeout", Zh: "超时"}},
			{Name: "retries", Kind: node.KindInteger, Default: 3.0, Min: ptr(0), Max: ptr(10), Title: node.Text{En: "Retries", Zh: "重试次数"},
				Help: node.Text{En: "How often to retry after a network error, 5xx or 429 (with growing pauses); 4xx are never retried.", Zh: "遇到网络错误、5xx 或 429 时的重试次数（间隔逐渐增加）；4xx 不重试。"}},
			node.Idempotent,
		},
		Output: node.Object(map[string]*node.Schema{"status": node.Num(), "headers": {Type: "object", Open: true}, "body": node.Any()}),
		Run:    runHTTP,
		Docs: node.Text{
			En: "Sends `Idempotency-Key: <run>:<node>`, stable across retries. Before the request is sent its attempt is recorded, so a worker that dies mid-call does not lead to more calls than recorded attempts; with *Target ignores repeats* on, that record is skipped (faster, but a repeat with the same key is possible). Network errors, 5xx and 429 are retried; other 4xx fail the run. Internal addresses are refused unless allowed by OPSFLOW_HTTP_ALLOW.",
			Zh: "发送 `Idempotency-Key: <run>:<node>`，重试时保持不变。发送请求前先记录本次尝试，因此工作进程在调用中途退出也不会导致调用次数多于记录的尝试次数；开启“目标会忽略重复请求”后省去这次记录（更快，但可能以相同的键重复发送）。网络错误、5xx 和 429 会重试；其他 4xx 让运行失败。除非 OPSFLOW_HTTP_ALLOW 允许，否则拒绝访问内网地址。",
		},
	})
}

func runHTTP(ctx context.Context, in *node.Input) (*node.Result, error) {
	method := str(in.Config, "method")
	u, err := url.Parse(str(in.Config, "url"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, node.Permanentf("%q is not an http(s) URL", str(in.Config, "url"))
	}
	var body []byte
	contentType := ""
	if b, ok := in.Config["body"]; ok && b != nil && method != http.MethodGet {
		switch str(in.Config, "body_type") {
		case "form":
			form := url.Values{}
			m, isMap := b.(map[string]any)
			if !isMap {
				return nil, node.Permanentf("a form body must be a map, got %T", b)
			}
			for k, v := range m {
				form.Set(k, compile.Stringify(v))
			}
			body, contentType = []byte(form.Encode()), "application/x-www-form-urlencoded"
		case "none":
		default:
			body, err = json.Marshal(b)
			if err != nil {
				return nil, node.Permanent(err)
			}
			contentType = "application/json"
		}
	}
	timeout, _ := compile.ParseDuration(str(in.Config, "timeout"))
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	req, err := http.NewRequest(method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, node.Permanent(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "opsflow")
	req.Header.Set("Idempotency-Key", in.IdempotencyKey())
	if h, ok := in.Config["headers"].(map[string]any); ok {
		for k, v := range h {
			req.Header.Set(k, compile.Stringify(v))
		}
	}
	if id := str(in.Config, "credential"); id != "" {
		cred, err := in.Services.Credential(ctx, id)
		if err != nil {
			return nil, err
		}
		switch cred.Type {
		case "http_bearer":
			req.Header.Set("Authorization", "Bearer "+cred.Data["token"])
		case "http_basic":
			req.SetBasicAuth(cred.Data["username"], cred.Data["password"])
		case "http_header":
			req.Header.Set(cred.Data["name"], cred.Data["value"])
			// Marked so that a redirect to another host does not send the key on.
			ctx = netguard.WithCredentialHeaders(ctx, cred.Data["name"])
		}
	}
	resp, err := send(ctx, in, req, u.Host)
	if err != nil {
		return nil, err
	}
	headers := map[string]any{}
	for k, v := range resp.Headers {
		headers[strings.ToLower(k)] = strings.Join(v, ", ")
	}
	return &node.Result{Output: map[string]any{"status": resp.Status, "headers": headers, "body": resp.JSON()}}, nil
}

func options(values ...string) []node.Option {
	out := make([]node.Option, len(values))
	for i, v := range values {
		out[i] = node.Option{Value: v, Title: node.Text{En: v, Zh: v}}
	}
	return out
}

func ptr(f float64) *float64 { return &f }
