package nodes

import (
	"fmt"
	"testing"
)

func row(kv ...any) map[string]any {
	m := map[string]any{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func keys(list any) []string {
	var out []string
	for _, r := range list.([]any) {
		out = append(out, fmt.Sprint(r.(map[string]any)["key"]))
	}
	return out
}

func defaultOptions() reconcileOptions {
	return reconcileOptions{orderKey: splitPath("id"), paymentKey: splitPath("meta.order"), orderAmount: splitPath("amount"), paymentAmount: splitPath("amount"),
		orderCurrency: splitPath("currency"), paymentCurrency: splitPath("currency"), scale: 1, tolerance: 1}
}

func TestReconcileCategories(t *testing.T) {
	orders := []any{
		row("id", "A", "amount", 100.0, "currency", "USD"),
		row("id", "B", "amount", 0.3, "currency", "USD"),   // paid as 0.1 + 0.2: float noise must not matter
		row("id", "C", "amount", 50.0, "currency", "USD"),  // unpaid
		row("id", "D", "amount", 60.0, "currency", "USD"),  // paid 60.02: outside the 1-cent tolerance
		row("id", "E", "amount", 60.0, "currency", "USD"),  // paid 60.01: inside
		row("id", "F", "amount", 30.0, "currency", "CNY"),  // paid in USD
		row("id", 42.0, "amount", 10.0, "currency", "usd"), // numeric key matches "42"
		row("id", "G", "amount", 20.0, "currency", "USD"),  // overpaid, partly refunded via a marker
		row("amount", 5.0),                               // no key
		row("id", "H", "amount", "ten"),                  // amount not a number
		row("id", "A", "amount", 1.0, "currency", "USD"), // duplicate key: adds to A's expected total
	}
	payments := []any{
		row("meta", row("order", "A"), "amount", 101.0, "currency", "usd"),
		row("meta", row("order", "B"), "amount", 0.1, "currency", "USD"),
		row("meta", row("order", "B"), "amount", 0.2, "currency", "USD"),
		row("meta", row("order", "D"), "amount", 60.02, "currency", "USD"),
		row("meta", row("order", "E"), "amount", 60.01, "currency", "USD"),
		row("meta", row("order", "F"), "amount", 30.0, "currency", "USD"),
		row("meta", row("order", "42"), "amount", 10.0, "currency", "USD"),
		row("meta", row("order", "G"), "amount", 25.0, "currency", "USD"),
		row("meta", row("order", "G"), "amount", 5.0, "currency", "USD", "type", "refund"),
		row("meta", row("order", "Z"), "amount", 12.0, "currency", "USD"),
		row("meta", row("order", "Z"), "amount", -2.0, "currency", "USD"),
		row("amount", 9.0),
	}
	o := defaultOptions()
	o.refundField, o.refundValue = splitPath("type"), "refund"
	r := reconcile(orders, payments, o)
	for list, want := range map[string]string{
		"matched":             "[A B E 42 G]",
		"missing_in_payments": "[C]",
		"amount_mismatch":     "[D]",
		"currency_mismatch":   "[F]",
		"missing_in_crm":      "[Z]",
	} {
		if got := fmt.Sprint(keys(r[list])); got != want {
			t.Errorf("%s = %s, want %s", list, got, want)
		}
	}
	if d := r["amount_mismatch"].([]any)[0].(map[string]any); d["difference"] != 0.02 || d["expected"] != 60.0 || d["actual"] != 60.02 {
		t.Errorf("mismatch row %v", d)
	}
	if z := r["missing_in_crm"].([]any)[0].(map[string]any); z["actual"] != 10.0 || z["payments"] != 2 {
		t.Errorf("unknown payment row %v: a negative amount is a refund", z)
	}
	if u := r["unkeyed"].([]any); len(u) != 3 {
		t.Errorf("unkeyed %v, want the keyless order, the non-numeric order and the keyless payment", u)
	}
	if fmt.Sprint(r["duplicate_order_keys"]) != "[A]" {
		t.Errorf("duplicates %v", r["duplicate_order_keys"])
	}
	totals := r["totals"].(map[string]any)
	if totals["matched"] != 5 || totals["orders_by_currency"].(map[string]any)["usd"] != 301.3 {
		t.Errorf("totals %v", totals)
	}
}

func TestReconcileScaleAndTolerance(t *testing.T) {
	o := defaultOptions()
	o.scale, o.tolerance = 0.01, 0
	r := reconcile([]any{row("id", "A", "amount", 19.99, "currency", "EUR")},
		[]any{row("meta", row("order", "A"), "amount", 1999.0, "currency", "eur")}, o)
	if fmt.Sprint(keys(r["matched"])) != "[A]" {
		t.Errorf("cents scaled to euros should match exactly: %v", r)
	}
	r = reconcile(nil, nil, o)
	if len(r["matched"].([]any)) != 0 || r["totals"].(map[string]any)["orders"] != 0 {
		t.Errorf("empty lists: %v", r)
	}
}

func BenchmarkReconcile100k(b *testing.B) {
	const n = 100000
	orders := make([]any, n)
	payments := make([]any, 0, n+n/10)
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("SO-%06d", i)
		amount := float64(1000+i%5000) + 0.99
		orders[i] = row("id", id, "amount", amount, "currency", "USD")
		switch {
		case i%50 == 0: // unpaid
		case i%10 == 0: // paid in two parts
			payments = append(payments, row("meta", row("order", id), "amount", amount-100, "currency", "usd"), row("meta", row("order", id), "amount", 100.0, "currency", "usd"))
		case i%97 == 0: // wrong amount
			payments = append(payments, row("meta", row("order", id), "amount", amount+1, "currency", "usd"))
		default:
			payments = append(payments, row("meta", row("order", id), "amount", amount, "currency", "usd"))
		}
	}
	for i := 0; i < n/100; i++ {
		payments = append(payments, row("meta", row("order", fmt.Sprintf("X-%d", i)), "amount", 5.0, "currency", "usd"))
	}
	o := defaultOptions()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := reconcile(orders, payments, o)
		if r["totals"].(map[string]any)["missing_in_payments"] != n/50 {
			b.Fatal(r["totals"])
		}
	}
}
