// Package mask removes card numbers (PANs) from data before anything is stored, keeping the
// first six and last four digits as PCI DSS permits.
package mask

import (
	"math"
	"strconv"
	"strings"
)

// String masks every Luhn-valid card number in s: 13–19 digits, optionally grouped by single
// spaces or dashes, not glued to letters, digits or _. When a run of digit groups is longer than a
// card (a card followed by its CVV or expiry, or preceded by a quantity), every Luhn-valid
// stretch of whole groups inside it is masked, overlapping ones as one.
func String(s string) string {
	if !hasDigitRun(s) {
		return s
	}
	var b strings.Builder
	done := 0 // s[:done] is already in b
	var buf [8][2]int
	groups := buf[:0]
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		var end int
		groups, end = chain(groups[:0], s, i)
		startable := i == 0 || !isWord(s[i-1])
		endable := end == len(s) || !isWord(s[end])
		// Every stretch of whole groups that is a Luhn-valid card length is masked; overlapping
		// ones are masked together, so a neighbouring number cannot uncover part of a card.
		from, to := -1, -1 // the region being collected, as group indexes
		flush := func() {
			if from < 0 {
				return
			}
			digits := digitsOf(s[groups[from][0]:groups[to][1]])
			b.WriteString(s[done:groups[from][0]])
			b.WriteString(digits[:6])
			b.WriteString(strings.Repeat("*", len(digits)-10))
			b.WriteString(digits[len(digits)-4:])
			done = groups[to][1]
			from, to = -1, -1
		}
		for g := range groups {
			if g == 0 && !startable {
				continue
			}
			// The furthest group a card starting at group g could end at: at most 19 digits.
			n, far := 0, g
			for h := g; h < len(groups); h++ {
				n += groups[h][1] - groups[h][0]
				if n > 19 {
					break
				}
				far = h
			}
			last := -1
			for h := far; h >= g; h-- {
				if h == len(groups)-1 && !endable {
					continue
				}
				span := s[groups[g][0]:groups[h][1]]
				if n := countDigits(span); n >= 13 && n <= 19 && luhn(span) {
					last = h
					break
				}
			}
			if last < 0 {
				continue
			}
			if from >= 0 && g <= to {
				to = max(to, last)
				continue
			}
			flush()
			from, to = g, last
		}
		flush()
		i = end
	}
	if done == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

// chain appends to groups the digit groups starting at s[i] that are separated by single spaces or dashes,
// as [start, end) offsets, and where the last one ends.
func chain(groups [][2]int, s string, i int) ([][2]int, int) {
	for {
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		groups = append(groups, [2]int{i, j})
		if j+1 < len(s) && (s[j] == ' ' || s[j] == '-') && isDigit(s[j+1]) {
			i = j + 1
			continue
		}
		return groups, j
	}
}

func digitsOf(m string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, m)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isWord(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

// Value masks card numbers in every string of a decoded JSON value, in place where possible.
func Value(v any) any {
	switch t := v.(type) {
	case string:
		return String(t)
	case map[string]any:
		var renamed map[string]string
		for k, e := range t {
			t[k] = Value(e)
			if m := String(k); m != k {
				if renamed == nil {
					renamed = map[string]string{}
				}
				renamed[k] = m
			}
		}
		for k, m := range renamed { // a card number used as a key
			t[m] = t[k]
			delete(t, k)
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
		if t >= 1e12 && t < 1e19 && t == math.Trunc(t) {
			s := strconv.FormatFloat(t, 'f', 0, 64)
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

func countDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			n++
		}
	}
	return n
}

// luhn checks the digits of s, ignoring anything else.
func luhn(s string) bool {
	sum, double := 0, false
	for i := len(s) - 1; i >= 0; i-- {
		if !isDigit(s[i]) {
			continue
		}
		d := int(s[i] - '0')
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
