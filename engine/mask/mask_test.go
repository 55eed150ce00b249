package mask

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestMasksLuhnValidCards(t *testing.T) {
	for in, want := range map[string]string{
		"4111111111111111":                                 "411111******1111",
		"card 4111 1111 1111 1111 expired":                 "card 411111******1111 expired",
		"5555-5555-5555-4444":                              "555555******4444",
		"amex 378282246310005":                             "amex 378282*****0005",
		"unionpay 6200000000000005, visa 4012888888881881": "unionpay 620000******0005, visa 401288******1881",
	} {
		if got := String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLeavesOtherNumbersAlone(t *testing.T) {
	for _, in := range []string{
		"order SO-4111111111111112", // fails Luhn
		"+8613800138000",            // phone number (13 digits, not Luhn-valid)
		"1732450000",                // Unix time, too short
		"pi_3OqL2b2eZvKYlo2C1",      // ids mixing letters
		"amount 249.00 USD",
		"2026-11-24T10:00:00Z",
	} {
		if got := String(in); got != in {
			t.Errorf("String(%q) = %q; it is not a card number", in, got)
		}
	}
}

func TestValueMasksNestedAndNumericCards(t *testing.T) {
	v := map[string]any{
		"customer": map[string]any{"card": "4111111111111111", "name": "Li Wei"},
		"history":  []any{"paid with 5555555555554444", 42.0},
		"pan":      4111111111111111.0, // sent as a JSON number
	}
	Value(v)
	if v["customer"].(map[string]any)["card"] != "411111******1111" || v["customer"].(map[string]any)["name"] != "Li Wei" {
		t.Errorf("nested map: %v", v["customer"])
	}
	if v["history"].([]any)[0] != "paid with 555555******4444" || v["history"].([]any)[1] != 42.0 {
		t.Errorf("list: %v", v["history"])
	}
	if v["pan"] != "411111******1111" {
		t.Errorf("numeric card: %v", v["pan"])
	}
}

func BenchmarkString(b *testing.B) {
	event := strings.Repeat(`{"id":"evt_1","amount":24900,"customer":{"name":"Li Wei","phone":"+8613800138000"},"note":"card 4111 1111 1111 1111"},`, 20)
	b.SetBytes(int64(len(event)))
	for i := 0; i < b.N; i++ {
		String(event)
	}
}

// withCheckDigit appends the Luhn check digit to prefix.
func withCheckDigit(prefix string) string {
	for d := '0'; d <= '9'; d++ {
		if s := prefix + string(d); luhn(s) {
			return s
		}
	}
	panic("unreachable")
}

func masked(digits string) string {
	return digits[:6] + strings.Repeat("*", len(digits)-10) + digits[len(digits)-4:]
}

func TestLuhn(t *testing.T) {
	for _, s := range []string{"4111111111111111", "79927398713", "378282246310005", "0"} {
		if !luhn(s) {
			t.Errorf("%s is Luhn-valid", s)
		}
	}
	for _, s := range []string{"4111111111111112", "79927398710", "1234567812345678"} {
		if luhn(s) {
			t.Errorf("%s is not Luhn-valid", s)
		}
	}
}

func TestEveryLengthFrom13To19(t *testing.T) {
	for n := 13; n <= 19; n++ {
		card := withCheckDigit("62" + strings.Repeat("3", n-3))
		if got, want := String("pan "+card+"."), "pan "+masked(card)+"."; got != want {
			t.Errorf("%d digits: %q, want %q", n, got, want)
		}
	}
	for _, n := range []int{12, 20} {
		card := withCheckDigit("4" + strings.Repeat("1", n-2))
		if got := String(card); got != card {
			t.Errorf("%d digits is not a card length but became %q", n, got)
		}
	}
}

func TestCardsNextToOtherNumbers(t *testing.T) {
	visa := "4111 1111 1111 1111"
	for in, want := range map[string]string{
		// A CVV or expiry after the card, or a quantity before it, must not hide the card.
		visa + " 123":                         "411111******1111 123",
		"card " + visa + " exp 12/28 cvv 737": "card 411111******1111 exp 12/28 cvv 737",
		"5555-5555-5555-4444-777":             "555555******4444-777",
		"several: 4111111111111111,5555555555554444;378282246310005 and 6200000000000005": "several: 411111******1111,555555******4444;378282*****0005 and 620000******0005",
		"(4012888888881881)": "(401288******1881)",
	} {
		if got := String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
	// Whatever the neighbouring digits, no full card number survives.
	for _, in := range []string{"qty 2 " + visa, "9 8 " + visa + " 7 6", "tel 138 0013 8000 4111111111111111"} {
		got := String(in)
		if strings.Contains(strings.NewReplacer(" ", "", "-", "").Replace(got), "4111111111111111") {
			t.Errorf("String(%q) = %q leaks the card", in, got)
		}
	}
}

func TestLeavesLuhnInvalidNumbersAlone(t *testing.T) {
	for _, in := range []string{
		"4111111111111112",
		"order 2026112400001234",
		"+8613800138000",
		"+86 138 0013 8000",
		"1732450000123",                 // a millisecond timestamp
		"1732450000123456789",           // a nanosecond timestamp
		"41111111111111111111111111111", // far too long
		"4111  1111 1111 1111",          // double spaces split it into numbers too short to be cards
	} {
		for _, run := range strings.FieldsFunc(in, func(r rune) bool { return r < '0' || r > '9' }) {
			if len(run) >= 13 && len(run) <= 19 && luhn(run) {
				t.Fatalf("bad test input %q: %s is Luhn-valid", in, run)
			}
		}
		if got := String(in); got != in {
			t.Errorf("String(%q) = %q; it is not a card number", in, got)
		}
	}
	// Digits glued to letters or _ are part of an identifier, as with \b in a regexp.
	for _, in := range []string{"abc4111111111111111", "4111111111111111x", "id_4111111111111111"} {
		if got := String(in); got != in {
			t.Errorf("String(%q) = %q; it is part of an identifier", in, got)
		}
	}
}

func TestValueInPlace(t *testing.T) {
	list := []any{"4111111111111111", map[string]any{"deep": []any{"x 5555555555554444"}}}
	v := map[string]any{
		"list":             list,
		"n":                4111111111111111.0,
		"invalid":          4111111111111112.0,
		"small":            42.0,
		"frac":             1234567890123.5,
		"4111111111111111": "key is a card",
		"ok":               true,
		"nil":              nil,
	}
	out := Value(v).(map[string]any)
	if list[0] != "411111******1111" || list[1].(map[string]any)["deep"].([]any)[0] != "x 555555******4444" {
		t.Errorf("the list was not masked in place: %v", list)
	}
	if out["n"] != "411111******1111" || out["invalid"] != 4111111111111112.0 || out["small"] != 42.0 || out["frac"] != 1234567890123.5 {
		t.Errorf("numbers: %v %v %v %v", out["n"], out["invalid"], out["small"], out["frac"])
	}
	if _, ok := out["4111111111111111"]; ok || out["411111******1111"] != "key is a card" {
		t.Errorf("a card number as a key: %v", out)
	}
	if out["ok"] != true || out["nil"] != nil {
		t.Errorf("other values changed: %v", out)
	}
	if Value("5555555555554444") != "555555******4444" || Value(nil) != nil || Value(3) != 3 {
		t.Error("top-level values")
	}
}

func TestMaskedIsStable(t *testing.T) {
	in := "card 4111 1111 1111 1111 and 378282246310005"
	once := String(in)
	if twice := String(once); twice != once {
		t.Errorf("masking twice changed %q to %q", once, twice)
	}
}

// A typical 2 KB event: a payment with customer, items and free text, one card number in it.
func BenchmarkStringTypicalEvent(b *testing.B) {
	var items []string
	for i := 0; i < 12; i++ {
		items = append(items, fmt.Sprintf(`{"sku":"SKU-%05d","name":"Item %d","qty":%d,"price":%d.99}`, 10000+i*37, i, i%3+1, 10+i))
	}
	event := fmt.Sprintf(`{"id":"evt_01JD8X2Q9K3M4N5P6R7S8T9V0W","type":"payment.failed","created":1732450000123,`+
		`"data":{"payment_id":"pi_3OqL2b2eZvKYlo2C1","order_id":"SO-2026112400001234","amount":24900,"currency":"CNY",`+
		`"customer":{"id":"cus_9s8d7f6g5h","name":"Li Wei","email":"li.wei@example.com","phone":"+8613800138000",`+
		`"address":"No. 1 Jianguomenwai Ave, Chaoyang District, Beijing 100004"},`+
		`"card":{"brand":"visa","last4":"1111","exp":"12/28"},"note":"customer read card 4111 1111 1111 1111 over the phone",`+
		`"items":[%s],"failure":{"code":"card_declined","message":"Your card was declined. Please try another payment method."}}}`,
		strings.Join(items, ","))
	for len(event) < 2048 {
		event += " "
	}
	if !strings.Contains(String(event), "411111******1111") {
		b.Fatal("the card in the event was not masked")
	}
	b.SetBytes(int64(len(event)))
	b.ReportAllocs()
	for b.Loop() {
		String(event)
	}
}

// Whatever digit groups surround a card written in groups, its middle digits never survive.
func TestNeighboursNeverUncoverACard(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	digits := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + rng.IntN(10))
		}
		return string(b)
	}
	groups := func() []string {
		var out []string
		for range rng.IntN(3) {
			out = append(out, digits(1+rng.IntN(4)))
		}
		return out
	}
	strip := strings.NewReplacer(" ", "", "-", "")
	for i := 0; i < 5000; i++ {
		card := withCheckDigit("4" + digits(14))
		parts := append(groups(), card[:4], card[4:8], card[8:12], card[12:])
		parts = append(parts, groups()...)
		in := "ref: " + strings.Join(parts, " ") + " end"
		out := strip.Replace(String(in))
		if strings.Contains(out, card[6:12]) {
			t.Fatalf("String(%q) = %q uncovers the middle of %s", in, String(in), card)
		}
	}
}
