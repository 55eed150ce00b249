// Package mask removes card numbers (PANs) from data before anything is stored, keeping the
// first six and last four digits as PCI DSS permits.
package mask

import (
	"regexp"
	"strconv"
	"strings"
)

// candidate matches 13–19 digits, optionally grouped by single spaces or dashes.
var candidate = regexp.MustCompile(`\b\d(?:[ -]?\d){12,18}\b`)

// String masks every Luhn-valid card number in s.
func String(s string) string {
	if !hasDigitRun(s) {
		return s
	}
	return candidate.ReplaceAllStringFunc(s, func(m string) string {
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, m)
		if len(digits) < 13 || len(digits) > 19 || !luhn(digits) {
			return m
		}
		return digits[:6] + strings.Repeat("*", len(digits)-10) + digits[len(digits)-4:]
	})
}

// Value masks card numbers in every string of a decoded JSON value, in place where possible.
func Value(v any) any {
	switch t := v.(type) {
	case string:
		return String(t)
	case map[string]any:
		for k, e := range t {
			t[k] = Value(e)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = Value(e)
		}
		return t
	case float64:
		// A card number sent as a JSON number: 16 digits survive float64 only approximately, but
		// the digits still identify the card, so a Luhn-valid one is replaced by its masked string.
		if t >= 1e12 && t < 1e19 && t == float64(int64(t)) {
			s := strconv.FormatInt(int64(t), 10)
			if m := String(s); m != s {
				return m
			}
		}
		return t
	default:
		return v
	}
}

func hasDigitRun(s string) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			run++
			if run >= 4 {
				return true
			}
		case c == ' ' || c == '-':
		default:
			run = 0
		}
	}
	return false
}

func luhn(digits string) bool {
	sum, double := 0, false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}
