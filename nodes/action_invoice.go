package nodes

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/mail"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/opsflow/opsflow/engine/compile"
	"github.com/opsflow/opsflow/engine/mask"
	"github.com/opsflow/opsflow/engine/node"
)

func init() {
	t := func(en, zh string) node.Text { return node.Text{En: en, Zh: zh} }
	node.Register(&node.Spec{
		Type:        "action.invoice",
		Category:    node.Action,
		Title:       t("Issue invoice", "开具发票"),
		Description: t("Issues and sends an invoice for an order through Stripe Invoicing or a Chinese e-invoice (电子发票) API, or a credit note / red-letter invoice (红字发票) for a refund.", "通过 Stripe Invoicing 或电子发票接口为订单开具并发送发票；退款时开具贷项通知单或红字发票。"),
		Icon:        "note",
		SideEffect:  true,
		Fields: []node.Field{
			{Name: "credential", Kind: node.KindCredential, Required: true, CredentialTypes: []string{"stripe", "cn_einvoice"},
				Title: t("Invoicing account", "开票账号"),
				Help:  t("A stripe credential (Stripe Invoicing) or a cn_einvoice credential (Chinese VAT e-invoice API); the credential's type chooses the provider.", "stripe 凭据（Stripe Invoicing）或 cn_einvoice 凭据（电子发票接口）；服务商由凭据类型决定。")},
			{Name: "operation", Kind: node.KindSelect, Default: "invoice",
				Options: []node.Option{{Value: "invoice", Title: t("Issue invoice", "开具发票")}, {Value: "credit_note", Title: t("Credit note / red-letter invoice (refund)", "贷项通知单 / 红字发票（退款）")}},
				Title:   t("Operation", "操作")},
			{Name: "order_id", Kind: node.KindTemplate, MaxLen: 200, Placeholder: "{{ event.data.order_id }}",
				Title: t("Order id", "订单号"),
				Help:  t("Stored on the invoice (metadata[order_id] at Stripe, order_id for the e-invoice API).", "写入发票（Stripe 的 metadata[order_id]，电子发票接口的 order_id）。")},
			{Name: "currency", Kind: node.KindTemplate, Default: "usd", MaxLen: 50,
				Title: t("Currency", "币种"),
				Help:  t("Three-letter ISO code such as usd, eur, cny. Chinese e-invoices are always cny.", "三位 ISO 货币代码，如 usd、eur、cny。电子发票只能为 cny。")},
			{Name: "lines", Kind: node.KindExpr, ExprType: "list", Placeholder: `[{"description": event.data.title, "quantity": 1, "unit_amount": event.data.amount, "tax_rate": 13}]`,
				Title: t("Order lines", "订单明细"),
				Help: t("A list of lines: description, quantity (whole), unit_amount (whole minor units: 1999 is 19.99), tax_rate (percent, e.g. 13 or 6.5), and for e-invoices tax_code (税收分类编码), unit and spec. Required to issue an invoice; optional for a red-letter invoice.",
					"明细列表：description、quantity（整数）、unit_amount（最小货币单位整数：1999 即 19.99）、tax_rate（百分比，如 13 或 6.5），电子发票另有 tax_code（税收分类编码）、unit、spec。开票必填；红字发票可选。")},
			{Name: "prices_include_tax", Kind: node.KindBool, Default: false,
				Title: t("Prices include tax", "价格含税"),
				Help:  t("On: unit amounts already contain the tax (usual in China); off: tax is added on top.", "开启：单价已含税（国内常见）；关闭：税额另加。")},
			{Name: "customer", Kind: node.KindTemplate, MaxLen: 200, Placeholder: "{{ event.data.customer_id }}",
				Title: t("Stripe customer id", "Stripe 客户 ID"),
				Help:  t("cus_…; when empty, the Stripe customer with the customer email is used, or created.", "cus_…；为空时使用该客户邮箱对应的 Stripe 客户，没有则创建。")},
			{Name: "customer_email", Kind: node.KindTemplate, MaxLen: 500, Placeholder: "{{ event.data.customer.email }}",
				Title: t("Customer email", "客户邮箱"),
				Help:  t("Where the invoice is delivered.", "发票的接收邮箱。")},
			{Name: "customer_name", Kind: node.KindTemplate, MaxLen: 200, Placeholder: "{{ event.data.customer.name }}",
				Title: t("Customer / buyer name", "客户 / 购买方名称"),
				Help:  t("Required for e-invoices (购买方名称): a company or a person.", "电子发票必填（购买方名称）：单位或个人。")},
			{Name: "buyer_tax_id", Kind: node.KindTemplate, MaxLen: 50, Placeholder: "{{ event.data.customer.tax_id }}",
				Title: t("Buyer tax id (e-invoice)", "购买方纳税人识别号（电子发票）"),
				Help:  t("统一社会信用代码 / 纳税人识别号; required for a special VAT invoice, empty for an individual.", "统一社会信用代码 / 纳税人识别号；专票必填，个人可为空。")},
			{Name: "invoice_kind", Kind: node.KindSelect, Default: "normal",
				Options: []node.Option{{Value: "normal", Title: t("Ordinary VAT invoice (普票)", "普通发票")}, {Value: "special", Title: t("Special VAT invoice (专票)", "增值税专用发票")}},
				Title:   t("Invoice kind (e-invoice)", "发票种类（电子发票）")},
			{Name: "memo", Kind: node.KindTemplate, MaxLen: 500,
				Title: t("Memo / remark", "备注"),
				Help:  t("Stripe invoice description, e-invoice remark (备注), or the credit note's memo.", "Stripe 发票说明、电子发票备注，或贷项通知单备注。")},
			{Name: "days_until_due", Kind: node.KindInteger, Default: float64(30), Min: ptr(0), Max: ptr(3650),
				Title: t("Days until due (Stripe)", "付款期限天数（Stripe）")},
			{Name: "mark_paid", Kind: node.KindBool, Default: false,
				Title: t("Already paid (Stripe)", "已付款（Stripe）"),
				Help:  t("Marks the Stripe invoice paid out of band, for orders paid elsewhere (e.g. by a payment link), so the customer is not asked to pay twice.", "将 Stripe 发票标记为站外已付（例如已通过支付链接付款），避免客户重复付款。")},
			{Name: "send", Kind: node.KindBool, Default: true,
				Title: t("Send to the customer", "发送给客户"),
				Help:  t("Stripe emails the finalized invoice; the e-invoice API delivers it to the customer email.", "Stripe 发送已定稿的发票邮件；电子发票接口将发票发送到客户邮箱。")},
			{Name: "invoice_id", Kind: node.KindTemplate, MaxLen: 200, Placeholder: "{{ nodes.invoice.id }}",
				Title: t("Invoice to credit", "被冲红 / 抵减的发票"),
				Help:  t("Credit notes: the id of the invoice the refund is for (in_… at Stripe, the e-invoice API's id).", "贷项通知单：退款对应的发票 ID（Stripe 为 in_…，电子发票为接口返回的 id）。")},
			{Name: "amount", Kind: node.KindExpr, ExprType: "number", Placeholder: "event.data.amount_refunded",
				Title: t("Amount to credit (minor units)", "冲红金额（最小货币单位）"),
				Help:  t("Credit notes: a whole number of minor units, tax included; empty credits the whole invoice.", "贷项通知单：含税金额，最小货币单位整数；为空则全额冲红。")},
			{Name: "poll_every", Kind: node.KindDuration, Default: "30s", Min: ptr(1), Max: ptr(3600),
				Title: t("Check again every (e-invoice)", "查询间隔（电子发票）"),
				Help:  t("While the e-invoice API is still issuing (status issuing), the run waits durably and asks again.", "电子发票仍在开具中（status 为 issuing）时，运行会持久等待后再次查询。")},
		},
		Output: node.Object(map[string]*node.Schema{
			"provider":   node.Str(),
			"operation":  node.Str(),
			"id":         node.Str(),
			"number":     node.Str(),
			"status":     node.Str(),
			"total":      node.Num(),
			"tax":        node.Num(),
			"currency":   node.Str(),
			"pdf_url":    node.Str(),
			"hosted_url": node.Str(),
			"invoice_id": node.Str(),
			"customer":   node.Str(),
		}),
		Check: func(cfg map[string]any) []node.FieldError {
			if str(cfg, "operation") == "credit_note" {
				if strings.TrimSpace(str(cfg, "invoice_id")) == "" {
					return []node.FieldError{{Field: "invoice_id", Message: "a credit note needs the invoice to credit"}}
				}
				return nil
			}
			if cfg["lines"] == nil || cfg["lines"] == "" {
				return []node.FieldError{{Field: "lines", Message: "an invoice needs its order lines"}}
			}
			return nil
		},
		Run:  runInvoice,
		Docs: node.Text{En: invoiceDocs, Zh: invoiceDocsZh},
	})
}

// invoiceDocsZh is the Chinese summary of invoiceDocs: operations, idempotency, amounts and tax rounding.
const invoiceDocsZh = "开具发票（`operation` 为 `invoice`）或在退款后冲红（`operation` 为 `credit_note`）。由凭证类型决定服务商：" +
	"`stripe`（Stripe Invoicing）或 `cn_einvoice`（通用电子发票 REST 接口）。\n\n" +
	"**幂等**：每次调用都带有由运行 id 与节点 id 生成的幂等键；再次尝试前会先在服务商处查找上次尝试已创建的发票（Stripe 元数据、电子发票的 `request_id`），重试绝不会重复开票。\n\n" +
	"**金额**：全程使用最小货币单位的整数（分）。税额按行计算，四舍五入（远离零），支持含税价与不含税价；电子发票仅支持人民币。\n\n" +
	"**Stripe**：按邮箱查找或创建客户，创建草稿发票，逐行添加明细，定稿，可选标记为线下已付（`mark_paid`），然后发送。冲红时创建 Stripe credit note。\n\n" +
	"**电子发票**：购方名称、税号、邮箱，明细含税收分类编码、单位、规格与税率，普票或专票；红字发票可全额、部分金额或指定明细冲红。服务商返回“开具中”时，运行会持久等待（`poll_every`）后再查询。\n\n" +
	"**输出**：服务商、操作、发票 id、号码、状态、合计、税额、币种、PDF 地址、托管页面地址、客户。卡号在发送前一律打码，不会发送任何支付方式信息。完整说明见英文文档。"

const invoiceDocs = "Issues an invoice (`operation` `invoice`) or credits one after a refund (`operation` `credit_note`). The credential's type chooses the provider.\n\n" +
	"**Amounts and rounding.** Every amount is a whole number of the currency's minor units (1999 is 19.99 USD or ¥19.99; 500 is ¥500 for JPY), never a decimal, " +
	"so no currency rounding happens in the node: convert once upstream, e.g. `round(event.data.amount * 100)`. A line's amount is `quantity × unit_amount`. " +
	"Tax rates are percentages with at most two decimals (13, 6, 6.5). Tax is computed per line and rounded half away from zero to a whole minor unit: " +
	"with `prices_include_tax` the tax inside a line is `amount × rate / (100 + rate)` (¥100.00 at 13% has ¥11.50 tax and ¥88.50 net), otherwise it is " +
	"`amount × rate / 100` added on top; invoice totals are sums of the rounded lines, as Chinese VAT invoices require. Stripe computes tax itself from the " +
	"tax rates the node attaches (rounding per line item as Stripe does), so its `total` and `tax` are Stripe's.\n\n" +
	"**Card data** never reaches the invoice provider: no payment method is sent, and card numbers in any text (descriptions, names, memo) are masked first.\n\n" +
	"**Stripe** (credential type `stripe`): creates a draft invoice (`POST /v1/invoices`, `collection_method=send_invoice`, `auto_advance=false`, " +
	"`pending_invoice_items_behavior=exclude`, `metadata[opsflow_step]`), adds one invoice item per line to it (`POST /v1/invoiceitems` with `invoice`, " +
	"`quantity`, `unit_amount_decimal`, `tax_rates[0]`), finalizes it (`POST /v1/invoices/{id}/finalize`), optionally marks it paid out of band " +
	"(`POST /v1/invoices/{id}/pay`, `paid_out_of_band=true`) and sends it (`POST /v1/invoices/{id}/send`). Tax rates are found among the account's active " +
	"tax rates with the same percentage and inclusiveness, or created (`POST /v1/tax_rates`, display name VAT). Without a `customer` id, the customer with " +
	"`customer_email` is looked up (`GET /v1/customers?email=`) or created. Credit notes: `POST /v1/credit_notes` with `invoice`, `amount` and, for the part " +
	"already paid, `out_of_band_amount` (the refund itself happened on the payment); `memo` becomes the credit note's memo. Output `pdf_url` is `invoice_pdf` " +
	"(credit notes: `pdf`), `hosted_url` is `hosted_invoice_url`.\n\n" +
	"**Chinese e-invoice API** (credential type `cn_einvoice`: `base_url`, `api_key` sent as `Authorization: Bearer`, `seller_tax_id`, optional `seller_name` " +
	"and `drawer`): a generic JSON REST interface for VAT e-invoices (电子发票) in CNY. `POST {base_url}/invoices` with `request_id`, `type` (`blue`), " +
	"`invoice_kind` (`normal` 普票 or `special` 专票), `order_id`, `currency`, `seller` {tax_id, name}, `buyer` {name, tax_id, email}, `prices_include_tax`, " +
	"`items` [{line, name, tax_code, spec, unit, quantity, unit_price, amount, tax_rate (a fraction such as \"0.13\"), tax_amount, amount_excluding_tax}], " +
	"`total_amount`, `total_tax`, `total_excluding_tax` (all in fen), `remark`, `drawer` and `send_email`. Red-letter invoices (红字发票): " +
	"`POST {base_url}/invoices/{invoice_id}/red` with `request_id`, `type` (`red`), `reason`, and either `amount` (negative, in fen) or negative `items`; " +
	"neither reverses the whole invoice. Answers are invoices: {id, invoice_number, status (issuing, issued or failed), pdf_url, view_url, total_amount, " +
	"total_tax, message}. While `issuing`, the run waits durably (`poll_every`) and looks the invoice up again; `failed` fails the run with the message.\n\n" +
	"**Idempotent per run step.** Every request carries an `Idempotency-Key` derived from the run and node (`<run>:<node>`, suffixed per Stripe call such as " +
	"`:invoice`, `:item:0`, `:finalize`, `:send`), and before creating anything the node looks for what an earlier attempt made: the Stripe invoice whose " +
	"`metadata[opsflow_step]` is `<run>:<node>` (search API), its invoice items (by `metadata[opsflow_line]`), credit notes of the invoice with that metadata, " +
	"or the e-invoice with that `request_id` (`GET {base_url}/invoices?request_id=`). So a retried step — even days later, after Stripe's 24-hour " +
	"idempotency window — finishes the invoice it started instead of issuing a second one; a sent Stripe invoice is marked `metadata[opsflow_sent]` and not sent again.\n\n" +
	"Provider 4xx answers (a bad tax id, an unknown customer, an invalid key) fail the run at once with the provider's message; 409 (a concurrent " +
	"idempotent request), 429, 5xx and network errors are retried. Keys never appear in the output or errors."

// invoiceLine is one order line, in minor units.
type invoiceLine struct {
	Description, TaxCode, Unit, Spec string
	Quantity, UnitAmount             int64
	RateBP                           int64 // tax rate in hundredths of a percent: 1300 is 13%
	Amount, Tax, Net, Gross          int64 // Amount is quantity × unit amount as given
}

// invoiceRequest is the node's config, checked.
type invoiceRequest struct {
	Key                                      string // <run>:<node>
	Operation, OrderID, Currency             string
	Lines                                    []invoiceLine
	Inclusive, MarkPaid, Send                bool
	Customer, Email, Name, TaxID, Kind, Memo string
	DaysUntilDue                             int64
	InvoiceID                                string
	Amount                                   int64 // credit notes; 0 credits the whole invoice
	PollEvery                                time.Duration
}

// maxMinor bounds any amount, as Stripe does (99,999,999,999 minor units), and keeps tax
// arithmetic well inside int64.
const maxMinor = 99999999999

// wholeNumber reads a JSON or expr number that must be whole.
func wholeNumber(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case float64:
		if n == math.Trunc(n) && math.Abs(n) <= 1e15 {
			return int64(n), true
		}
	}
	return 0, false
}

// taxRateBP reads a tax rate percentage (0–100, at most two decimals) as hundredths of a percent.
func taxRateBP(v any) (int64, error) {
	var f float64
	switch n := v.(type) {
	case nil:
		return 0, nil
	case int:
		f = float64(n)
	case int64:
		f = float64(n)
	case float64:
		f = n
	case string: // "13" or "13%" from a CRM field
		p, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(n), "%"), 64)
		if err != nil {
			return 0, fmt.Errorf("tax_rate %q is not a percentage", n)
		}
		f = p
	default:
		return 0, fmt.Errorf("tax_rate must be a percentage such as 13, got %T", v)
	}
	bp := math.Round(f * 100)
	if f < 0 || f > 100 || math.Abs(f*100-bp) > 1e-6 {
		return 0, fmt.Errorf("tax_rate %v must be a percentage from 0 to 100 with at most two decimals", v)
	}
	return int64(bp), nil
}

// divRound divides rounding half away from zero.
func divRound(num, den int64) int64 {
	if num < 0 {
		return -divRound(-num, den)
	}
	return (2*num + den) / (2 * den)
}

// splitTax computes a line's tax at rate bp (hundredths of a percent), rounded half away from zero
// to a whole minor unit, and its amount net and gross of tax. With inclusive, amount already
// holds the tax; otherwise the tax is added on top.
func splitTax(amount, bp int64, inclusive bool) (tax, net, gross int64) {
	if inclusive {
		tax = divRound(amount*bp, 10000+bp)
		return tax, amount - tax, amount
	}
	tax = divRound(amount*bp, 10000)
	return tax, amount, amount + tax
}

// cleanText trims a free text for a provider, masking any card number in it.
func cleanText(s string) string { return mask.String(strings.TrimSpace(s)) }

func parseInvoiceRequest(in *node.Input) (*invoiceRequest, error) {
	r := &invoiceRequest{
		Key:       in.IdempotencyKey(),
		Operation: str(in.Config, "operation"),
		OrderID:   strings.TrimSpace(str(in.Config, "order_id")),
		Currency:  strings.ToLower(strings.TrimSpace(str(in.Config, "currency"))),
		Customer:  strings.TrimSpace(str(in.Config, "customer")),
		Email:     strings.TrimSpace(str(in.Config, "customer_email")),
		Name:      cleanText(str(in.Config, "customer_name")),
		TaxID:     strings.ToUpper(strings.TrimSpace(str(in.Config, "buyer_tax_id"))),
		Kind:      str(in.Config, "invoice_kind"),
		Memo:      cleanText(str(in.Config, "memo")),
		InvoiceID: strings.TrimSpace(str(in.Config, "invoice_id")),
		PollEvery: 30 * time.Second,
	}
	if r.Operation == "" {
		r.Operation = "invoice"
	}
	if r.Kind == "" {
		r.Kind = "normal"
	}
	r.Inclusive, _ = in.Config["prices_include_tax"].(bool)
	r.MarkPaid, _ = in.Config["mark_paid"].(bool)
	r.Send = true
	if b, ok := in.Config["send"].(bool); ok {
		r.Send = b
	}
	r.DaysUntilDue = 30
	if d, ok := wholeNumber(in.Config["days_until_due"]); ok {
		r.DaysUntilDue = d
	}
	if s := str(in.Config, "poll_every"); s != "" {
		d, err := compile.ParseDuration(s)
		if err != nil || d < time.Second {
			return nil, node.Permanentf("poll_every %q must be a duration of at least 1s", s)
		}
		r.PollEvery = d
	}
	if !currencyCode.MatchString(r.Currency) {
		return nil, node.Permanentf("currency %q is not a three-letter ISO code", r.Currency)
	}
	if r.Email != "" {
		if a, err := mail.ParseAddress(r.Email); err != nil || a.Address != r.Email {
			return nil, node.Permanentf("customer email %q is not an email address", r.Email)
		}
	}
	if raw, ok := in.Config["lines"]; ok && raw != nil {
		list, isList := raw.([]any)
		if !isList {
			return nil, node.Permanentf("order lines must be a list, got %T", raw)
		}
		if len(list) > 250 { // Stripe's limit of items per invoice
			return nil, node.Permanentf("an invoice takes at most 250 lines, got %d", len(list))
		}
		for i, item := range list {
			l, err := parseInvoiceLine(item, r.Inclusive)
			if err != nil {
				return nil, node.Permanentf("line %d: %v", i+1, err)
			}
			r.Lines = append(r.Lines, l)
		}
	}
	switch r.Operation {
	case "invoice":
		if len(r.Lines) == 0 {
			return nil, node.Permanentf("the invoice has no order lines")
		}
	case "credit_note":
		if r.InvoiceID == "" {
			return nil, node.Permanentf("a credit note needs the id of the invoice to credit")
		}
		if v, ok := in.Config["amount"]; ok && v != nil {
			a, whole := wholeNumber(v)
			if !whole || a <= 0 || a > maxMinor {
				return nil, node.Permanentf("amount must be a positive whole number of minor units, got %v", v)
			}
			r.Amount = a
		}
	default:
		return nil, node.Permanentf("operation %q is neither invoice nor credit_note", r.Operation)
	}
	return r, nil
}

func parseInvoiceLine(v any, inclusive bool) (invoiceLine, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return invoiceLine{}, fmt.Errorf("must be a map with description, quantity, unit_amount and tax_rate, got %T", v)
	}
	var l invoiceLine
	desc, _ := m["description"].(string)
	if desc == "" {
		desc, _ = m["name"].(string)
	}
	if l.Description = cleanText(desc); l.Description == "" {
		return l, fmt.Errorf("the description is empty")
	}
	q := any(1)
	if m["quantity"] != nil {
		q = m["quantity"]
	}
	var whole bool
	if l.Quantity, whole = wholeNumber(q); !whole || l.Quantity < 1 || l.Quantity > 1000000 {
		return l, fmt.Errorf("quantity must be a whole number from 1 to 1000000, got %v", q)
	}
	if l.UnitAmount, whole = wholeNumber(m["unit_amount"]); !whole || l.UnitAmount < 0 || l.UnitAmount > maxMinor {
		return l, fmt.Errorf("unit_amount must be a whole number of minor units (1999 is 19.99), got %v", m["unit_amount"])
	}
	if l.Amount = l.Quantity * l.UnitAmount; l.Amount > maxMinor {
		return l, fmt.Errorf("quantity × unit_amount exceeds %d", int64(maxMinor))
	}
	bp, err := taxRateBP(m["tax_rate"])
	if err != nil {
		return l, err
	}
	l.RateBP = bp
	l.Tax, l.Net, l.Gross = splitTax(l.Amount, bp, inclusive)
	l.TaxCode, _ = m["tax_code"].(string)
	l.Unit, _ = m["unit"].(string)
	l.Spec, _ = m["spec"].(string)
	l.Unit, l.Spec = cleanText(l.Unit), cleanText(l.Spec)
	return l, nil
}

func runInvoice(ctx context.Context, in *node.Input) (*node.Result, error) {
	r, err := parseInvoiceRequest(in)
	if err != nil {
		return nil, err
	}
	cred, err := in.Services.Credential(ctx, str(in.Config, "credential"))
	if err != nil {
		return nil, err
	}
	switch cred.Type {
	case "stripe":
		s, err := newStripeAPI(in, cred)
		if err != nil {
			return nil, err
		}
		if r.Operation == "credit_note" {
			return s.creditNote(ctx, r)
		}
		return s.issue(ctx, r)
	case "cn_einvoice":
		return runEInvoice(ctx, in, cred, r)
	}
	return nil, node.Permanentf("credential %s is of type %s; invoices need stripe or cn_einvoice", cred.Name, cred.Type)
}

func (s *stripeAPI) issue(ctx context.Context, r *invoiceRequest) (*node.Result, error) {
	// An earlier attempt of this step may have created the invoice: finish that one.
	q := url.Values{"query": {"metadata['opsflow_step']:'" + strings.ReplaceAll(r.Key, "'", `\'`) + "'"}, "limit": {"1"}}
	found, err := s.call(ctx, http.MethodGet, "/v1/invoices/search", q, "")
	if err != nil {
		return nil, err
	}
	var inv map[string]any
	if list := dataList(found); len(list) > 0 {
		inv = list[0]
	}
	fresh := inv == nil
	if fresh {
		customer, err := s.customer(ctx, r)
		if err != nil {
			return nil, err
		}
		form := url.Values{
			"customer":                       {customer},
			"currency":                       {r.Currency},
			"collection_method":              {"send_invoice"},
			"days_until_due":                 {strconv.FormatInt(r.DaysUntilDue, 10)},
			"auto_advance":                   {"false"},
			"pending_invoice_items_behavior": {"exclude"},
			"metadata[opsflow_step]":         {r.Key},
		}
		if r.OrderID != "" {
			form.Set("metadata[order_id]", r.OrderID)
		}
		if r.Memo != "" {
			form.Set("description", r.Memo)
		}
		if inv, err = s.call(ctx, http.MethodPost, "/v1/invoices", form, r.Key+":invoice"); err != nil {
			return nil, err
		}
	}
	id, _ := inv["id"].(string)
	if id == "" {
		return nil, fmt.Errorf("%s returned an invoice without an id", stripeName)
	}
	if inv["status"] == "draft" {
		if err := s.addItems(ctx, r, id, idOf(inv["customer"]), fresh); err != nil {
			return nil, err
		}
		if inv, err = s.call(ctx, http.MethodPost, "/v1/invoices/"+url.PathEscape(id)+"/finalize", url.Values{"auto_advance": {"false"}}, r.Key+":finalize"); err != nil {
			return nil, err
		}
	}
	if r.MarkPaid && inv["status"] == "open" {
		if inv, err = s.call(ctx, http.MethodPost, "/v1/invoices/"+url.PathEscape(id)+"/pay", url.Values{"paid_out_of_band": {"true"}}, r.Key+":pay"); err != nil {
			return nil, err
		}
	}
	if st := inv["status"]; r.Send && (st == "open" || st == "paid") && metaValue(inv, "opsflow_sent") == "" {
		if _, err = s.call(ctx, http.MethodPost, "/v1/invoices/"+url.PathEscape(id)+"/send", url.Values{}, r.Key+":send"); err != nil {
			return nil, err
		}
		// Recorded on the invoice, so a retry after Stripe forgot the Idempotency-Key does not email it again.
		if inv, err = s.call(ctx, http.MethodPost, "/v1/invoices/"+url.PathEscape(id), url.Values{"metadata[opsflow_sent]": {"true"}}, r.Key+":sent"); err != nil {
			return nil, err
		}
	}
	out := map[string]any{
		"provider": "stripe", "operation": "invoice", "id": id,
		"number": inv["number"], "status": inv["status"], "total": inv["total"], "currency": inv["currency"],
		"pdf_url": inv["invoice_pdf"], "hosted_url": inv["hosted_invoice_url"], "customer": idOf(inv["customer"]),
	}
	if total, ok := inv["total"].(float64); ok {
		if excl, ok := inv["total_excluding_tax"].(float64); ok {
			out["tax"] = total - excl
		}
	}
	return &node.Result{Output: out}, nil
}

// customer returns the Stripe customer to bill: the configured id, or the one with the email,
// created if there is none.
func (s *stripeAPI) customer(ctx context.Context, r *invoiceRequest) (string, error) {
	if r.Customer != "" {
		return r.Customer, nil
	}
	if r.Email == "" {
		return "", node.Permanentf("a Stripe invoice needs a customer id or a customer email")
	}
	found, err := s.call(ctx, http.MethodGet, "/v1/customers", url.Values{"email": {r.Email}, "limit": {"1"}}, "")
	if err != nil {
		return "", err
	}
	if list := dataList(found); len(list) > 0 {
		if id := idOf(list[0]); id != "" {
			return id, nil
		}
	}
	form := url.Values{"email": {r.Email}, "metadata[opsflow_step]": {r.Key}}
	if r.Name != "" {
		form.Set("name", r.Name)
	}
	c, err := s.call(ctx, http.MethodPost, "/v1/customers", form, r.Key+":customer")
	if err != nil {
		return "", err
	}
	if id := idOf(c); id != "" {
		return id, nil
	}
	return "", fmt.Errorf("%s returned a customer without an id", stripeName)
}

// addItems adds the lines to a draft invoice, skipping those an earlier attempt added.
func (s *stripeAPI) addItems(ctx context.Context, r *invoiceRequest, invoiceID, customer string, fresh bool) error {
	have := map[string]bool{}
	if !fresh {
		items, err := s.call(ctx, http.MethodGet, "/v1/invoiceitems", url.Values{"invoice": {invoiceID}, "limit": {"100"}}, "")
		if err != nil {
			return err
		}
		for _, it := range dataList(items) {
			have[metaValue(it, "opsflow_line")] = true
		}
	}
	rates, err := s.taxRates(ctx, r)
	if err != nil {
		return err
	}
	for i, l := range r.Lines {
		n := strconv.Itoa(i)
		if have[n] {
			continue
		}
		form := url.Values{
			"customer":               {customer},
			"invoice":                {invoiceID},
			"currency":               {r.Currency},
			"description":            {l.Description},
			"quantity":               {strconv.FormatInt(l.Quantity, 10)},
			"unit_amount_decimal":    {strconv.FormatInt(l.UnitAmount, 10)},
			"metadata[opsflow_step]": {r.Key},
			"metadata[opsflow_line]": {n},
		}
		if txr := rates[l.RateBP]; txr != "" {
			form.Set("tax_rates[0]", txr)
		}
		if _, err := s.call(ctx, http.MethodPost, "/v1/invoiceitems", form, r.Key+":item:"+n); err != nil {
			return err
		}
	}
	return nil
}

// taxRates maps each non-zero rate of the lines to a Stripe tax rate with that percentage and
// inclusiveness, reusing the account's active ones and creating what is missing.
func (s *stripeAPI) taxRates(ctx context.Context, r *invoiceRequest) (map[int64]string, error) {
	out := map[int64]string{}
	var need []int64
	for _, l := range r.Lines {
		if l.RateBP > 0 && out[l.RateBP] == "" {
			out[l.RateBP] = "?"
			need = append(need, l.RateBP)
		}
	}
	if len(need) == 0 {
		return out, nil
	}
	sort.Slice(need, func(i, j int) bool { return need[i] < need[j] })
	inclusive := strconv.FormatBool(r.Inclusive)
	list, err := s.call(ctx, http.MethodGet, "/v1/tax_rates", url.Values{"active": {"true"}, "inclusive": {inclusive}, "limit": {"100"}}, "")
	if err != nil {
		return nil, err
	}
	for _, txr := range dataList(list) {
		pct, _ := txr["percentage"].(float64)
		incl, _ := txr["inclusive"].(bool)
		bp := int64(math.Round(pct * 100))
		if incl == r.Inclusive && out[bp] == "?" {
			out[bp] = idOf(txr)
		}
	}
	for _, bp := range need {
		if out[bp] != "?" {
			continue
		}
		pct := strconv.FormatFloat(float64(bp)/100, 'f', -1, 64)
		txr, err := s.call(ctx, http.MethodPost, "/v1/tax_rates", url.Values{"display_name": {"VAT"}, "percentage": {pct}, "inclusive": {inclusive}},
			r.Key+":tax_rate:"+pct+":"+inclusive)
		if err != nil {
			return nil, err
		}
		if out[bp] = idOf(txr); out[bp] == "" {
			return nil, fmt.Errorf("%s returned a tax rate without an id", stripeName)
		}
	}
	return out, nil
}

func (s *stripeAPI) creditNote(ctx context.Context, r *invoiceRequest) (*node.Result, error) {
	inv := url.PathEscape(r.InvoiceID)
	existing, err := s.call(ctx, http.MethodGet, "/v1/credit_notes", url.Values{"invoice": {r.InvoiceID}, "limit": {"100"}}, "")
	if err != nil {
		return nil, err
	}
	var cn map[string]any
	for _, c := range dataList(existing) {
		if metaValue(c, "opsflow_step") == r.Key {
			cn = c
		}
	}
	if cn == nil {
		invoice, err := s.call(ctx, http.MethodGet, "/v1/invoices/"+inv, nil, "")
		if err != nil {
			return nil, err
		}
		amount := r.Amount
		if amount == 0 {
			total, _ := wholeNumber(invoice["total"])
			if amount = total; amount <= 0 {
				return nil, node.Permanentf("invoice %s has nothing to credit", r.InvoiceID)
			}
		}
		form := url.Values{"invoice": {r.InvoiceID}, "amount": {strconv.FormatInt(amount, 10)}, "metadata[opsflow_step]": {r.Key}}
		// What the invoice still has due is reduced; the rest was paid, and the refund that
		// prompted this credit note happened outside the invoice.
		remaining, _ := wholeNumber(invoice["amount_remaining"])
		if post := amount - min(amount, max(remaining, 0)); post > 0 {
			form.Set("out_of_band_amount", strconv.FormatInt(post, 10))
		}
		if r.Memo != "" {
			form.Set("memo", r.Memo)
		}
		if r.OrderID != "" {
			form.Set("metadata[order_id]", r.OrderID)
		}
		if cn, err = s.call(ctx, http.MethodPost, "/v1/credit_notes", form, r.Key+":credit_note"); err != nil {
			return nil, err
		}
	}
	out := map[string]any{
		"provider": "stripe", "operation": "credit_note", "id": idOf(cn), "number": cn["number"], "status": cn["status"],
		"total": cn["total"], "currency": cn["currency"], "pdf_url": cn["pdf"], "invoice_id": r.InvoiceID, "customer": idOf(cn["customer"]),
	}
	if total, ok := cn["total"].(float64); ok {
		if excl, ok := cn["total_excluding_tax"].(float64); ok {
			out["tax"] = total - excl
		}
	}
	return &node.Result{Output: out}, nil
}

// eInvoiceName names the provider in errors.
const eInvoiceName = "e-invoice API"

// eInvoiceAPI calls a cn_einvoice credential's JSON API.
type eInvoiceAPI struct {
	in        *node.Input
	base, key string
}

func (a *eInvoiceAPI) call(ctx context.Context, method, path string, body any, idem string) (map[string]any, error) {
	var reader io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, node.Permanent(err)
		}
		reader = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, reader)
	if err != nil {
		return nil, node.Permanentf("the cn_einvoice credential has an invalid base_url")
	}
	req.Header.Set("Authorization", "Bearer "+a.key)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", idem)
	}
	resp, err := send(ctx, a.in, req, eInvoiceName)
	if err != nil {
		return nil, redactErr(err, a.key)
	}
	out, ok := resp.JSON().(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s answered %d with a body that is not a JSON object: %s", eInvoiceName, resp.Status, snippet(a.in, resp.Body))
	}
	return out, nil
}

// fenTaxRate renders hundredths of a percent as the fraction e-invoice APIs use: 1300 is "0.13".
func fenTaxRate(bp int64) string { return strconv.FormatFloat(float64(bp)/10000, 'f', -1, 64) }

func eInvoiceItems(lines []invoiceLine, sign int64) []map[string]any {
	items := make([]map[string]any, len(lines))
	for i, l := range lines {
		items[i] = map[string]any{
			"line": i + 1, "name": l.Description, "tax_code": l.TaxCode, "spec": l.Spec, "unit": l.Unit,
			"quantity": sign * l.Quantity, "unit_price": l.UnitAmount, "amount": sign * l.Gross, "tax_rate": fenTaxRate(l.RateBP),
			"tax_amount": sign * l.Tax, "amount_excluding_tax": sign * l.Net,
		}
	}
	return items
}

func runEInvoice(ctx context.Context, in *node.Input, cred *node.Credential, r *invoiceRequest) (*node.Result, error) {
	a := &eInvoiceAPI{in: in, base: strings.TrimRight(cred.Data["base_url"], "/"), key: cred.Data["api_key"]}
	seller := strings.TrimSpace(cred.Data["seller_tax_id"])
	if a.base == "" || a.key == "" || seller == "" {
		return nil, node.Permanentf("credential %s needs base_url, api_key and seller_tax_id", cred.Name)
	}
	if r.Currency != "cny" {
		return nil, node.Permanentf("Chinese e-invoices are issued in cny, not %s", r.Currency)
	}
	found, err := a.call(ctx, http.MethodGet, "/invoices?"+url.Values{"request_id": {r.Key}}.Encode(), nil, "")
	if err != nil {
		return nil, err
	}
	var inv map[string]any
	if list := dataList(found); len(list) > 0 {
		inv = list[0]
	}
	if inv == nil {
		var body map[string]any
		var path string
		if r.Operation == "credit_note" {
			path = "/invoices/" + url.PathEscape(r.InvoiceID) + "/red"
			body = map[string]any{"request_id": r.Key, "type": "red", "order_id": r.OrderID, "reason": r.Memo}
			switch {
			case len(r.Lines) > 0:
				body["items"] = eInvoiceItems(r.Lines, -1)
			case r.Amount > 0:
				body["amount"] = -r.Amount
			}
		} else {
			if r.Name == "" {
				return nil, node.Permanentf("an e-invoice needs the buyer name (customer_name)")
			}
			if r.Kind == "special" && r.TaxID == "" {
				return nil, node.Permanentf("a special VAT invoice (专票) needs the buyer tax id")
			}
			var total, tax, net int64
			for _, l := range r.Lines {
				total, tax, net = total+l.Gross, tax+l.Tax, net+l.Net
			}
			path = "/invoices"
			body = map[string]any{
				"request_id": r.Key, "type": "blue", "invoice_kind": r.Kind, "order_id": r.OrderID, "currency": "CNY",
				"seller":             map[string]any{"tax_id": seller, "name": cred.Data["seller_name"]},
				"buyer":              map[string]any{"name": r.Name, "tax_id": r.TaxID, "email": r.Email},
				"prices_include_tax": r.Inclusive, "items": eInvoiceItems(r.Lines, 1),
				"total_amount": total, "total_tax": tax, "total_excluding_tax": net,
				"remark": r.Memo, "drawer": cred.Data["drawer"], "send_email": r.Send && r.Email != "",
			}
		}
		if inv, err = a.call(ctx, http.MethodPost, path, body, r.Key); err != nil {
			return nil, err
		}
	}
	switch inv["status"] {
	case "issued":
	case "issuing", "pending":
		started := time.Now()
		if in.Resumed {
			started = in.WaitStarted
		}
		if time.Since(started) > 24*time.Hour {
			return nil, node.Permanentf("%s has been issuing invoice %v for over 24 hours; check it with the provider", eInvoiceName, inv["id"])
		}
		return &node.Result{WaitUntil: time.Now().Add(r.PollEvery)}, nil
	case "failed":
		return nil, node.Permanentf("%s could not issue the invoice: %v", eInvoiceName, inv["message"])
	default:
		return nil, fmt.Errorf("%s answered with an invoice in unknown status %v", eInvoiceName, inv["status"])
	}
	out := map[string]any{
		"provider": "cn_einvoice", "operation": r.Operation, "id": idOf(inv), "number": inv["invoice_number"], "status": inv["status"],
		"total": inv["total_amount"], "tax": inv["total_tax"], "currency": "cny", "pdf_url": inv["pdf_url"], "hosted_url": inv["view_url"],
	}
	if r.Operation == "credit_note" {
		out["invoice_id"] = r.InvoiceID
	}
	return &node.Result{Output: out}, nil
}
