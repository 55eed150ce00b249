package nodes

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/opsflow/opsflow/engine/compile"
	"github.com/opsflow/opsflow/engine/node"
)

var currencyCode = regexp.MustCompile(`^[a-z]{3}$`)

func init() {
	node.Register(&node.Spec{
		Type:        "action.payment_link",
		Category:    node.Action,
		Title:       node.Text{En: "Create payment link", Zh: "创建支付链接"},
		Description: node.Text{En: "Creates a Stripe Checkout Session for one item and returns its payment URL.", Zh: "为单个商品创建 Stripe Checkout 会话，并返回支付链接。"},
		Icon:        "credit-card",
		SideEffect:  true,
		Fields: []node.Field{
			{Name: "credential", Kind: node.KindCredential, Required: true, CredentialTypes: []string{"stripe"},
				Title: node.Text{En: "Stripe account", Zh: "Stripe 账号"},
				Help:  node.Text{En: "A stripe credential: secret_key (sk_… or rk_…), optionally base_url and api_version.", Zh: "stripe 凭据：secret_key（sk_… 或 rk_…），可选 base_url、api_version。"}},
			{Name: "amount", Kind: node.KindExpr, Required: true, ExprType: "number", Placeholder: "event.data.amount",
				Title: node.Text{En: "Amount (minor units)", Zh: "金额（最小货币单位）"},
				Help:  node.Text{En: "A whole number in the currency's smallest unit: 1999 is $19.99, 500 is ¥500 for JPY.", Zh: "以货币最小单位表示的整数：1999 表示 19.99 美元；日元 500 表示 500 日元。"}},
			{Name: "currency", Kind: node.KindTemplate, Required: true, Default: "usd", MaxLen: 50,
				Title: node.Text{En: "Currency", Zh: "币种"},
				Help:  node.Text{En: "Three-letter ISO code such as usd, eur, cny.", Zh: "三位 ISO 货币代码，如 usd、eur、cny。"}},
			{Name: "product_name", Kind: node.KindTemplate, Required: true, MaxLen: 500, Placeholder: "Order {{ event.data.order_id }}",
				Title: node.Text{En: "Product name", Zh: "商品名称"}},
			{Name: "quantity", Kind: node.KindInteger, Default: float64(1), Min: ptr(1), Max: ptr(999999),
				Title: node.Text{En: "Quantity", Zh: "数量"}},
			{Name: "success_url", Kind: node.KindTemplate, Required: true, Placeholder: "https://shop.example.com/paid?session={CHECKOUT_SESSION_ID}",
				Title: node.Text{En: "Success URL", Zh: "支付成功跳转地址"}},
			{Name: "cancel_url", Kind: node.KindTemplate,
				Title: node.Text{En: "Cancel URL", Zh: "取消支付跳转地址"}},
			{Name: "order_id", Kind: node.KindTemplate, MaxLen: 500, Placeholder: "{{ event.data.order_id }}",
				Title: node.Text{En: "Order id", Zh: "订单号"},
				Help:  node.Text{En: "Stored as metadata[order_id] and client_reference_id, to match the payment back to the order.", Zh: "写入 metadata[order_id] 和 client_reference_id，用于将支付与订单对应。"}},
			{Name: "customer_email", Kind: node.KindTemplate, MaxLen: 500, Placeholder: "{{ event.data.customer.email }}",
				Title: node.Text{En: "Customer email", Zh: "客户邮箱"}},
			{Name: "metadata", Kind: node.KindKeyValue,
				Title: node.Text{En: "Metadata", Zh: "元数据"},
				Help:  node.Text{En: "Extra metadata[key] values stored on the session.", Zh: "额外写入会话的 metadata[key]。"}},
			node.Idempotent,
		},
		Output: node.Object(map[string]*node.Schema{
			"id":             node.Str(),
			"url":            node.Str(),
			"status":         node.Str(),
			"payment_status": node.Str(),
			"amount_total":   node.Num(),
			"currency":       node.Str(),
			"expires_at":     node.Num(),
		}),
		Run: runPaymentLink,
		Docs: node.Text{
			En: "POSTs /v1/checkout/sessions (mode=payment, one line item with inline price_data). The amount is in minor units (cents). " +
				"`Idempotency-Key` is `<run>:<node>`, so a retried step returns the same session instead of creating a second one. " +
				"Stripe keeps keys for 24 hours, so *Target ignores repeats* can be turned on: the call is then recorded with its result only, one database write less. " +
				"Stripe's 4xx answers (bad amount, invalid key) fail the run at once; 429 and 5xx are retried. The secret key never appears in the output.",
			Zh: "调用 POST /v1/checkout/sessions（mode=payment，一个使用内联 price_data 的商品行）。金额以最小货币单位（分）计。`Idempotency-Key` 为 `<run>:<node>`，所以重试的步骤返回同一个会话，而不会再创建一个。Stripe 会保留幂等键 24 小时，因此可以开启“目标会忽略重复请求”：调用只在得到结果时记录，少一次数据库写入。Stripe 的 4xx 响应（金额错误、密钥无效）立即让运行失败；429 和 5xx 会重试。密钥从不出现在输出中。",
		},
	})
}

func runPaymentLink(ctx context.Context, in *node.Input) (*node.Result, error) {
	cred, err := in.Services.Credential(ctx, str(in.Config, "credential"))
	if err != nil {
		return nil, err
	}
	stripe, err := newStripeAPI(in, cred)
	if err != nil {
		return nil, err
	}
	amount, ok := in.Config["amount"].(float64)
	if !ok {
		if i, isInt := in.Config["amount"].(int); isInt {
			amount, ok = float64(i), true
		}
	}
	if !ok || amount != math.Trunc(amount) || amount <= 0 || amount > 99999999999 {
		return nil, node.Permanentf("amount must be a positive whole number of minor units (cents), got %v", in.Config["amount"])
	}
	currency := strings.ToLower(strings.TrimSpace(str(in.Config, "currency")))
	if !currencyCode.MatchString(currency) {
		return nil, node.Permanentf("currency %q is not a three-letter ISO code", currency)
	}
	name := strings.TrimSpace(str(in.Config, "product_name"))
	if name == "" {
		return nil, node.Permanentf("the product name is empty")
	}
	quantity := 1
	if q, isNum := in.Config["quantity"].(float64); isNum && q >= 1 {
		quantity = int(q)
	}
	form := url.Values{
		"mode":                                          {"payment"},
		"line_items[0][price_data][currency]":           {currency},
		"line_items[0][price_data][unit_amount]":        {strconv.FormatInt(int64(amount), 10)},
		"line_items[0][price_data][product_data][name]": {name},
		"line_items[0][quantity]":                       {strconv.Itoa(quantity)},
	}
	for _, f := range []string{"success_url", "cancel_url"} {
		v := strings.TrimSpace(str(in.Config, f))
		if v == "" {
			continue
		}
		if u, err := url.Parse(v); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, node.Permanentf("%s %q is not an http(s) URL", f, v)
		}
		form.Set(f, v)
	}
	if form.Get("success_url") == "" {
		return nil, node.Permanentf("the success URL is empty")
	}
	if id := strings.TrimSpace(str(in.Config, "order_id")); id != "" {
		form.Set("metadata[order_id]", id)
		form.Set("client_reference_id", id)
	}
	if email := strings.TrimSpace(str(in.Config, "customer_email")); email != "" {
		a, err := mail.ParseAddress(email)
		if err != nil || a.Address != email {
			return nil, node.Permanentf("customer email %q is not an email address", email)
		}
		form.Set("customer_email", email)
	}
	if md, ok := in.Config["metadata"].(map[string]any); ok {
		keys := make([]string, 0, len(md))
		for k := range md {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if k == "" || strings.ContainsAny(k, "[]") {
				return nil, node.Permanentf("metadata key %q is invalid", k)
			}
			form.Set("metadata["+k+"]", compile.Stringify(md[k]))
		}
	}
	out, err := stripe.call(ctx, http.MethodPost, "/v1/checkout/sessions", form, in.IdempotencyKey())
	if err != nil {
		return nil, err
	}
	id, _ := out["id"].(string)
	link, _ := out["url"].(string)
	if id == "" || link == "" {
		return nil, fmt.Errorf("%s answered without a session id and url: %s", stripeName, snippet(in, []byte(compile.Stringify(out))))
	}
	return &node.Result{Output: map[string]any{
		"id":             id,
		"url":            link,
		"status":         out["status"],
		"payment_status": out["payment_status"],
		"amount_total":   out["amount_total"],
		"currency":       out["currency"],
		"expires_at":     out["expires_at"],
	}}, nil
}
