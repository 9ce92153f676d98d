package httpclient

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxSnippet is how many bytes of a body Snippet keeps.
const MaxSnippet = 200

// Snippet quotes the start of an untrusted body for an error: at most MaxSnippet bytes, valid UTF-8, no
// control characters or runs of whitespace, and passed through redact (nil: none) — which removes the
// provider's secrets. Redaction runs on a wider window than is kept, so that a secret straddling the cut is
// redacted whole.
func Snippet(body []byte, redact func(string) string) string {
	window := body
	if len(window) > 16*MaxSnippet {
		window = window[:16*MaxSnippet]
	}
	s := Sanitize(string(window))
	if redact != nil {
		s = redact(s)
	}
	return Cut(s, MaxSnippet)
}

// Sanitize makes untrusted text safe for a log line: valid UTF-8, control characters (and the Unicode line
// and paragraph separators) as spaces, whitespace runs collapsed, no leading or trailing space.
func Sanitize(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// Cut shortens s to at most n bytes without splitting a rune, marking the cut with "…" (counted in the n).
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n - len("…")
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
