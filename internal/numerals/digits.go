// Package numerals converts between the digits Iranian systems write — Persian (U+06F0–U+06F9) and
// Arabic-Indic (U+0660–U+0669) — and ASCII ones. Providers, bank exports and bank line descriptions mix them;
// the value is the same, so every reader folds them before it parses.
package numerals

import "strings"

// ASCII returns s with each Persian and Arabic-Indic digit written as the ASCII digit of the same value.
// Every other rune, separators included, is left for the caller: what a separator means depends on the source.
func ASCII(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r >= '\u0660' && r <= '\u06F9' }) {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= '\u06F0' && r <= '\u06F9':
			return '0' + (r - '\u06F0')
		case r >= '\u0660' && r <= '\u0669':
			return '0' + (r - '\u0660')
		}
		return r
	}, s)
}

// Persian returns s with each ASCII digit written as the Persian digit of the same value: how the simulators
// write numbers the way an Iranian system may.
func Persian(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '\u06F0' + (r - '0')
		}
		return r
	}, s)
}
