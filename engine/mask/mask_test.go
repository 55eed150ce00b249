package mask

import (
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
