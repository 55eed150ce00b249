package nodes

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/opsflow/opsflow/engine/compile"
	"github.com/opsflow/opsflow/engine/node"
)

func init() {
	path := func(name, def string, en, zh string) node.Field {
		return node.Field{Name: name, Kind: node.KindString, Default: def, MaxLen: 200, Required: def == "",
			Title: node.Text{En: en, Zh: zh}, Help: node.Text{En: "Dotted path in each row, e.g. metadata.order_id.", Zh: "每行中的路径，如 metadata.order_id。"}}
	}
	node.Register(&node.Spec{
		Type:        "action.reconcile",
		Category:    node.Action,
		Title:       node.Text{En: "Reconcile", Zh: "对账"},
		Description: node.Text{En: "Matches orders against payments by key, with amount and currency checks, and lists what does not add up.", Zh: "按关键字将订单与付款对账，核对金额与币种，列出不一致之处。"},
		Icon:        "scale",
		Fields: []node.Field{
			{Name: "orders", Kind: node.KindExpr, ExprType: "list", Required: true, Placeholder: "nodes.crm.body.orders",
				Title: node.Text{En: "Orders", Zh: "订单列表"}},
			{Name: "payments", Kind: node.KindExpr, ExprType: "list", Required: true, Placeholder: "nodes.stripe.body.data",
				Title: node.Text{En: "Payments", Zh: "付款列表"}},
			path("order_key", "", "Order key", "订单关键字"),
			path("payment_key", "", "Payment key", "付款关键字"),
			path("order_amount", "amount", "Order amount", "订单金额"),
			path("payment_amount", "amount", "Payment amount", "付款金额"),
			path("order_currency", "currency", "Order currency", "订单币种"),
			path("payment_currency", "currency", "Payment currency", "付款币种"),
			{Name: "payment_amount_scale", Kind: node.KindNumber, Default: 1.0, Min: ptr(0.000001),
				Title: node.Text{En: "Payment amount scale", Zh: "付款金额换算系数"},
				Help:  node.Text{En: "Multiplies payment amounts: 0.01 when payments are in cents (Stripe) and orders in whole units.", Zh: "付款金额乘以此系数：付款以分计（如 Stripe）而订单以元计时填 0.01。"}},
			{Name: "refund_field", Kind: node.KindString, MaxLen: 200, Placeholder: "type",
				Title: node.Text{En: "Refund marker field", Zh: "退款标记字段"},
				Help:  node.Text{En: "Optional: a payment whose field equals the refund value counts negative (negative amounts always do).", Zh: "可选：该字段等于退款值的付款按负数计（负金额总是按负数计）。"}},
			{Name: "refund_value", Kind: node.KindString, MaxLen: 100, Placeholder: "refund", Title: node.Text{En: "Refund value", Zh: "退款值"}},
			{Name: "tolerance", Kind: node.KindNumber, Default: 0.01, Min: ptr(0),
				Title: node.Text{En: "Amount tolerance", Zh: "金额容差"},
				Help:  node.Text{En: "Largest difference (in whole units, e.g. 0.01) still counted as matched.", Zh: "仍视为一致的最大差额（主币种单位，如 0.01）。"}},
			{Name: "max_rows", Kind: node.KindInteger, Default: 200000.0, Min: ptr(1), Max: ptr(1000000),
				Title: node.Text{En: "Most rows per side", Zh: "每侧最多行数"}},
		},
		Output: node.Object(map[string]*node.Schema{
			"matched":              node.ArrayOf(node.AnyObject()),
			"missing_in_payments":  node.ArrayOf(node.AnyObject()),
			"missing_in_crm":       node.ArrayOf(node.AnyObject()),
			"amount_mismatch":      node.ArrayOf(node.AnyObject()),
			"currency_mismatch":    node.ArrayOf(node.AnyObject()),
			"unkeyed":              node.ArrayOf(node.AnyObject()),
			"duplicate_order_keys": node.ArrayOf(node.Str()),
			"totals":               node.AnyObject(),
		}),
		Check: func(cfg map[string]any) []node.FieldError {
			if (str(cfg, "refund_field") == "") != (str(cfg, "refund_value") == "") {
				return []node.FieldError{{Field: "refund_value", Message: "set both the refund field and its value, or neither", Zh: "退款字段和它的值要么都填，要么都不填"}}
			}
			return nil
		},
		Run: runReconcile,
		Docs: node.Text{
			En: "Payments (after scaling; refunds negative) are summed per key and compared with the orders' total for that key, in whole cents, so 0.1 + 0.2 matches 0.3. Each result row has `key`, `expected` (orders), `actual` (payments), `currency`, and where they differ `difference` or `expected_currency`/`actual_currency`. Rows without a key, or with an amount that is not a number, are listed in `unkeyed` with the reason. Keys compare as text, currencies case-insensitively. `totals` has the count of each list and the sums per currency of both sides.",
			Zh: "付款（换算后；退款为负数）按键汇总，并与该键的订单总额比较，以整分计算，所以 0.1 + 0.2 等于 0.3。每一行结果包含 `key`、`expected`（订单）、`actual`（付款）、`currency`，不一致时还有 `difference` 或 `expected_currency`/`actual_currency`。没有键或金额不是数字的行列在 `unkeyed` 中并注明原因。键按文本比较，币种不区分大小写。`totals` 包含各列表的数量以及双方按币种的合计。",
		},
	})
}

func runReconcile(_ context.Context, in *node.Input) (*node.Result, error) {
	orders, ok1 := in.Config["orders"].([]any)
	payments, ok2 := in.Config["payments"].([]any)
	if !ok1 || !ok2 {
		return nil, node.Permanentf("orders and payments must both be lists")
	}
	max := 200000
	if m, ok := in.Config["max_rows"].(float64); ok {
		max = int(m)
	}
	if len(orders) > max || len(payments) > max {
		return nil, node.Permanentf("%d orders and %d payments: at most %d rows per side are allowed", len(orders), len(payments), max)
	}
	opt := reconcileOptions{
		orderKey: splitPath(str(in.Config, "order_key")), paymentKey: splitPath(str(in.Config, "payment_key")),
		orderAmount: splitPath(str(in.Config, "order_amount")), paymentAmount: splitPath(str(in.Config, "payment_amount")),
		orderCurrency: splitPath(str(in.Config, "order_currency")), paymentCurrency: splitPath(str(in.Config, "payment_currency")),
		scale: 1, refundValue: str(in.Config, "refund_value"),
	}
	if f := str(in.Config, "refund_field"); f != "" {
		opt.refundField = splitPath(f)
	}
	if s, ok := in.Config["payment_amount_scale"].(float64); ok && s > 0 {
		opt.scale = s
	}
	if t, ok := in.Config["tolerance"].(float64); ok {
		opt.tolerance = toCents(t)
	}
	return &node.Result{Output: reconcile(orders, payments, opt)}, nil
}

type reconcileOptions struct {
	orderKey, paymentKey           []string
	orderAmount, paymentAmount     []string
	orderCurrency, paymentCurrency []string
	refundField                    []string
	refundValue                    string
	scale                          float64
	tolerance                      int64 // cents
}

// side is one key's rows on one side.
type side struct {
	cents    int64
	currency string
	mixed    bool // rows in more than one currency
	rows     int
}

func (s *side) add(cents int64, currency string) {
	if s.rows > 0 && currency != s.currency {
		s.mixed = true
	}
	s.currency = currency
	s.cents += cents
	s.rows++
}

// reconcile matches orders and payments; see the node's Docs for the rules.
func reconcile(orders, payments []any, o reconcileOptions) map[string]any {
	unkeyed := []any{}
	expected := make(map[string]*side, len(orders))
	order := make([]string, 0, len(orders)) // order keys in first-seen order
	var dupes []any
	orderTotals, paymentTotals := map[string]int64{}, map[string]int64{}
	for i, row := range orders {
		key, cents, cur, reason := readRow(row, o.orderKey, o.orderAmount, o.orderCurrency, 1)
		if reason != "" {
			unkeyed = append(unkeyed, map[string]any{"side": "orders", "index": i, "reason": reason, "row": row})
			continue
		}
		s := expected[key]
		if s == nil {
			s = &side{}
			expected[key] = s
			order = append(order, key)
		} else if s.rows == 1 {
			dupes = append(dupes, key)
		}
		s.add(cents, cur)
		orderTotals[cur] += cents
	}
	actual := make(map[string]*side, len(expected))
	var strays []string // payment keys with no order, first-seen order
	for i, row := range payments {
		key, cents, cur, reason := readRow(row, o.paymentKey, o.paymentAmount, o.paymentCurrency, o.scale)
		if reason != "" {
			unkeyed = append(unkeyed, map[string]any{"side": "payments", "index": i, "reason": reason, "row": row})
			continue
		}
		if o.refundField != nil && cents > 0 {
			if v, ok := node.GetPath(row, o.refundField); ok && compile.Stringify(v) == o.refundValue {
				cents = -cents
			}
		}
		s := actual[key]
		if s == nil {
			s = &side{}
			actual[key] = s
			if expected[key] == nil {
				strays = append(strays, key)
			}
		}
		s.add(cents, cur)
		paymentTotals[cur] += cents
	}

	matched, missingPay, amountOff, currencyOff := []any{}, []any{}, []any{}, []any{}
	for _, key := range order {
		e, a := expected[key], actual[key]
		switch {
		case a == nil:
			missingPay = append(missingPay, map[string]any{"key": key, "expected": major(e.cents), "currency": e.currency, "orders": e.rows})
		case e.mixed || a.mixed || e.currency != a.currency:
			currencyOff = append(currencyOff, map[string]any{"key": key, "expected": major(e.cents), "expected_currency": currencyOf(e),
				"actual": major(a.cents), "actual_currency": currencyOf(a), "payments": a.rows})
		case abs(a.cents-e.cents) <= o.tolerance:
			matched = append(matched, map[string]any{"key": key, "expected": major(e.cents), "actual": major(a.cents), "currency": e.currency, "payments": a.rows})
		default:
			amountOff = append(amountOff, map[string]any{"key": key, "expected": major(e.cents), "actual": major(a.cents),
				"difference": major(a.cents - e.cents), "currency": e.currency, "payments": a.rows})
		}
	}
	missingCRM := make([]any, 0, len(strays))
	for _, key := range strays {
		a := actual[key]
		missingCRM = append(missingCRM, map[string]any{"key": key, "actual": major(a.cents), "currency": currencyOf(a), "payments": a.rows})
	}
	if dupes == nil {
		dupes = []any{}
	}
	return map[string]any{
		"matched": matched, "missing_in_payments": missingPay, "missing_in_crm": missingCRM,
		"amount_mismatch": amountOff, "currency_mismatch": currencyOff, "unkeyed": unkeyed, "duplicate_order_keys": dupes,
		"totals": map[string]any{
			"orders": len(orders), "payments": len(payments),
			"matched": len(matched), "missing_in_payments": len(missingPay), "missing_in_crm": len(missingCRM),
			"amount_mismatch": len(amountOff), "currency_mismatch": len(currencyOff), "unkeyed": len(unkeyed),
			"orders_by_currency": majors(orderTotals), "payments_by_currency": majors(paymentTotals),
		},
	}
}

// readRow reads a row's key, amount (in cents, after scale) and lower-case currency, or why it cannot.
func readRow(row any, keyPath, amountPath, currencyPath []string, scale float64) (key string, cents int64, currency, reason string) {
	k, ok := node.GetPath(row, keyPath)
	if !ok {
		return "", 0, "", "no " + strings.Join(keyPath, ".")
	}
	key = compile.Stringify(k)
	amt, ok := node.GetPath(row, amountPath)
	f, isNum := amt.(float64)
	if !ok || !isNum || math.IsNaN(f) || math.IsInf(f, 0) {
		return "", 0, "", fmt.Sprintf("%s is not a number", strings.Join(amountPath, "."))
	}
	if c, ok := node.GetPath(row, currencyPath); ok {
		currency = strings.ToLower(compile.Stringify(c))
	}
	return key, toCents(f * scale), currency, ""
}

func splitPath(p string) []string { return strings.Split(strings.TrimSpace(p), ".") }

// toCents rounds to whole cents, half away from zero, so 0.1+0.2 and 0.3 are both 30.
func toCents(f float64) int64 { return int64(math.Round(f * 100)) }

func major(cents int64) float64 { return float64(cents) / 100 }

func majors(m map[string]int64) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = major(v)
	}
	return out
}

func currencyOf(s *side) string {
	if s.mixed {
		return "mixed"
	}
	return s.currency
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
