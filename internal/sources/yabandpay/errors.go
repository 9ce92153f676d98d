package yabandpay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"
)

// APIError is an answer from YabandPay that is not a success: an HTTP error status (4xx, 5xx), or an HTTP
// success whose body says "status": false. YabandPay publishes no table of error codes (providers/facts.md
// 1.6): Code is kept as sent for the reader, and Message — YabandPay's own words, sanitized — is what says
// what went wrong. It never holds the secret key.
type APIError struct {
	Endpoint string // e.g. "POST /Payments v3.MerchantBalance getBalance": the path and the API method called
	Status   int    // HTTP status
	Code     string // YabandPay's `code`, as text ("" when the body has none)
	Message  string // YabandPay's `message`, or a snippet of a body that is not YabandPay's JSON
}

// Error names the endpoint, the HTTP status (when it is not 200), YabandPay's code and its message.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("yabandpay ")
	b.WriteString(e.Endpoint)
	if e.Status != http.StatusOK {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	} else {
		b.WriteString(": refused")
	}
	if e.Code != "" {
		fmt.Fprintf(&b, ": code %s", e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Retryable reports whether the same request may succeed later: YabandPay's own failures (5xx) and rate
// limiting (429). A refusal in the body (status false: a bad signature, a stale time, a user without the
// right) will be refused again, so it is not retried.
func (e *APIError) Retryable() bool {
	return e.Status >= 500 || e.Status == http.StatusTooManyRequests
}

// ErrMalformedResponse marks a success response whose body is not what the API documents: truncated or not
// JSON (an HTML page from a proxy), or JSON of the wrong shape. The error text carries the endpoint and a
// short sanitized snippet of the body.
var ErrMalformedResponse = errors.New("malformed response")

// ErrTooLarge marks a response bigger than Config.MaxBodyBytes. It is refused unread rather than held in memory.
var ErrTooLarge = errors.New("response too large")

// transportError is a failure to get a response at all: a timeout, a reset or refused connection, a body cut
// short. Those are worth another attempt; anything else from the transport (a bad URL, a TLS failure) is not.
type transportError struct {
	endpoint string
	err      error
}

// Error names the endpoint and the failure. url.Error's text would repeat the URL; the endpoint already says
// which call it was.
func (e *transportError) Error() string {
	err := e.err
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Sprintf("yabandpay %s: %v", e.endpoint, err)
}

func (e *transportError) Unwrap() error { return e.err }

// Retryable reports whether the failure was transient (see transportError).
func (e *transportError) Retryable() bool { return transient(e.err) }

// transient recognises the network failures another attempt can cure.
func transient(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, target := range []error{io.EOF, io.ErrUnexpectedEOF, syscall.ECONNRESET, syscall.ECONNREFUSED,
		syscall.ECONNABORTED, syscall.EPIPE} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// transientMalformed is a malformed success body on a request that is safe to repeat: cut short by a dropped
// connection or replaced by a proxy's page, it is most often passing.
type transientMalformed struct{ error }

func (e transientMalformed) Unwrap() error { return e.error }
func (transientMalformed) Retryable() bool { return true }

// retryable is the retry loop's question, asked of any error: does it say it is worth another attempt?
func retryable(err error) bool {
	var r interface{ Retryable() bool }
	return errors.As(err, &r) && r.Retryable()
}

// httpError builds the APIError for a non-2xx response: YabandPay's code and message when the body is its
// envelope, else a snippet of whatever the body is (an nginx page, a gateway's JSON).
func httpError(endpoint string, status int, body []byte, redact func(string) string) *APIError {
	e := &APIError{Endpoint: endpoint, Status: status}
	if len(bytes.TrimSpace(body)) == 0 {
		return e
	}
	var w wireEnvelope
	if err := json.Unmarshal(body, &w); err != nil {
		e.Message = "body is not JSON: " + snippet(body, redact)
		return e
	}
	e.Code = cut(redact(sanitize(w.Code.text)), 64)
	e.Message = cut(redact(sanitize(w.Message.text)), maxMessage)
	if e.Code == "" && e.Message == "" {
		e.Message = "no message in body: " + snippet(body, redact)
	}
	return e
}

// malformed builds the error for a success response the client cannot read.
func malformed(endpoint string, body []byte, why error, redact func(string) string) error {
	return fmt.Errorf("yabandpay %s: HTTP 200: %w: %v; body starts: %s", endpoint, ErrMalformedResponse, why,
		snippet(body, redact))
}

const (
	maxSnippet = 200 // bytes of a body quoted in an error
	maxMessage = 500 // bytes of YabandPay's message kept in an APIError
)

// snippet quotes the start of a body for an error: at most maxSnippet bytes, valid UTF-8, no control
// characters or runs of whitespace, the secret key redacted. Redaction runs on a wider window than is kept, so
// that a secret straddling the cut is redacted whole.
func snippet(body []byte, redact func(string) string) string {
	window := body
	if len(window) > 16*maxSnippet {
		window = window[:16*maxSnippet]
	}
	return cut(redact(sanitize(string(window))), maxSnippet)
}

// sanitize makes untrusted text safe for a log line: valid UTF-8, control characters as spaces, whitespace
// runs collapsed.
func sanitize(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// cut shortens s to at most n bytes without splitting a rune, marking the cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n - len("…")
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// quote renders untrusted text for an error message: sanitized, shortened, in quotes.
func quote(s string) string { return `"` + cut(sanitize(s), 64) + `"` }
