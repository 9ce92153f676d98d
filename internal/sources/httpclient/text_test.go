package httpclient_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mizanhq/mizan/internal/sources/httpclient"
)

func TestSanitize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in, want string }{
		{"plain text is kept", "bad request", "bad request"},
		{"control characters become spaces and runs collapse", "a\x00\tb\r\n\x1bc", "a b c"},
		{"line and paragraph separators become spaces", "a\u2028b\u2029c", "a b c"},
		{"leading and trailing space goes", "  a  ", "a"},
		{"invalid UTF-8 becomes the replacement character", "a\xffb", "a\uFFFDb"},
		{"non-Latin text is kept", "خطا در سرویس", "خطا در سرویس"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := httpclient.Sanitize(tc.in); got != tc.want {
				t.Fatalf("Sanitize(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestCut(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   string
		n    int
		want string
	}{
		{"short text is kept", "abc", 3, "abc"},
		{"long text is cut with a mark inside the limit", "abcdefgh", 6, "abc…"},
		{"a cut never splits a rune", "ab" + "ééé", 6, "ab…"},
		{"a cut ends on a rune boundary", "ab" + "ééé", 7, "abé…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := httpclient.Cut(tc.in, tc.n)
			if got != tc.want || len(got) > tc.n || !utf8.ValidString(got) {
				t.Fatalf("Cut(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
			}
		})
	}
}

func TestSnippet(t *testing.T) {
	t.Parallel()
	redact := func(s string) string { return strings.ReplaceAll(s, "SECRET", "[REDACTED]") }

	t.Run("a short body is sanitized and redacted", func(t *testing.T) {
		t.Parallel()
		if got := httpclient.Snippet([]byte("<h1>\n502 SECRET\n</h1>"), redact); got != "<h1> 502 [REDACTED] </h1>" {
			t.Fatalf("Snippet = %q", got)
		}
	})

	t.Run("no redact function leaves the text as sanitized", func(t *testing.T) {
		t.Parallel()
		if got := httpclient.Snippet([]byte("a\tSECRET"), nil); got != "a SECRET" {
			t.Fatalf("Snippet = %q", got)
		}
	})

	t.Run("a long body is cut to MaxSnippet", func(t *testing.T) {
		t.Parallel()
		got := httpclient.Snippet([]byte(strings.Repeat("é", 1000)), nil)
		if len(got) > httpclient.MaxSnippet || !strings.HasSuffix(got, "…") || !utf8.ValidString(got) {
			t.Fatalf("Snippet is %d bytes: %q", len(got), got)
		}
	})

	t.Run("a secret straddling the cut is redacted whole", func(t *testing.T) {
		t.Parallel()
		body := strings.Repeat("x", httpclient.MaxSnippet-5) + "SECRET and more"
		got := httpclient.Snippet([]byte(body), redact)
		if strings.Contains(got, "SEC") {
			t.Fatalf("Snippet kept part of the secret: %q", got)
		}
	})

	t.Run("redaction sees no more than a window of the body", func(t *testing.T) {
		t.Parallel()
		var seen int
		body := strings.Repeat("x", 100*httpclient.MaxSnippet)
		httpclient.Snippet([]byte(body), func(s string) string { seen = len(s); return s })
		if seen != 16*httpclient.MaxSnippet {
			t.Fatalf("redact saw %d bytes, want %d", seen, 16*httpclient.MaxSnippet)
		}
	})
}
