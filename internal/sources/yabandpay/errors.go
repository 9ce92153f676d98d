package yabandpay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/mizanhq/mizan/internal/sources/httpclient"
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
var ErrTooLarge = httpclient.ErrTooLarge

// httpError builds the APIError for a non-2xx response: YabandPay's code and message when the body is its
// envelope, else a snippet of whatever the body is (an nginx page, a gateway's JSON).
func httpError(endpoint string, status int, body []byte, redact func(string) string) *APIError {
	e := &APIError{Endpoint: endpoint, Status: status}
	if len(bytes.TrimSpace(body)) == 0 {
		return e
	}
	var w wireEnvelope
	if err := json.Unmarshal(body, &w); err != nil {
		e.Message = "body is not JSON: " + httpclient.Snippet(body, redact)
		return e
	}
	e.Code = httpclient.Cut(redact(httpclient.Sanitize(w.Code.text)), 64)
	e.Message = httpclient.Cut(redact(httpclient.Sanitize(w.Message.text)), maxMessage)
	if e.Code == "" && e.Message == "" {
		e.Message = "no message in body: " + httpclient.Snippet(body, redact)
	}
	return e
}

// malformed builds the error for a success response the client cannot read.
func malformed(endpoint string, body []byte, why error, redact func(string) string) error {
	return fmt.Errorf("yabandpay %s: HTTP 200: %w: %v; body starts: %s", endpoint, ErrMalformedResponse, why,
		httpclient.Snippet(body, redact))
}

// maxMessage is how many bytes of YabandPay's message an APIError keeps.
const maxMessage = 500

// quote renders untrusted text for an error message: sanitized, shortened, in quotes.
func quote(s string) string { return `"` + httpclient.Cut(httpclient.Sanitize(s), 64) + `"` }
