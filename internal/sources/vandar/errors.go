package vandar

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/mizanhq/mizan/internal/sources/httpclient"
)

// APIError is an HTTP response from Vandar that is not a success: a 4xx or 5xx, or a 2xx whose body says
// "status": 0. It never holds a token: Message is Vandar's own text, sanitized, with any token it echoes
// redacted.
type APIError struct {
	Endpoint string // method and path, e.g. "GET /v3/business/acme/transaction" (never the query or headers)
	Status   int    // HTTP status
	Message  string // Vandar's message: `error`, `message`, or the `errors` map of a validation failure
}

// Error names the endpoint, the HTTP status and Vandar's message.
func (e *APIError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("vandar %s: HTTP %d", e.Endpoint, e.Status)
	}
	return fmt.Sprintf("vandar %s: HTTP %d: %s", e.Endpoint, e.Status, e.Message)
}

// Retryable reports whether the same request may succeed later: Vandar's own failures (5xx) and rate limiting
// (429). Other 4xx say the request itself is wrong and will fail the same way again.
func (e *APIError) Retryable() bool {
	return e.Status >= 500 || e.Status == http.StatusTooManyRequests
}

// ErrMalformedResponse marks a success response whose body is not what the endpoint documents: truncated or
// non-JSON (an HTML page from a proxy), or JSON of the wrong shape. The error text carries the endpoint and
// a short sanitized snippet of the body.
var ErrMalformedResponse = errors.New("malformed response")

// ErrTooLarge marks a response bigger than Config.MaxBodyBytes. It is refused unread rather than held in memory.
var ErrTooLarge = httpclient.ErrTooLarge

// apiErrorFrom builds the APIError for a non-success response, taking Vandar's message from the documented
// error shapes: {"status":0,"error":"Unauthenticated"}, {"message":"..."} and
// {"status":0,"errors":{"amount":["...","..."]}}. A body that is none of them is quoted as a snippet.
func apiErrorFrom(endpoint string, status int, body []byte, redact func(string) string) *APIError {
	return &APIError{Endpoint: endpoint, Status: status, Message: errorMessage(body, redact)}
}

func errorMessage(body []byte, redact func(string) string) string {
	if redact == nil {
		redact = func(s string) string { return s }
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return ""
	}
	var wire struct {
		Error   json.RawMessage `json:"error"`
		Message json.RawMessage `json:"message"`
		Errors  json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(body, &wire); err != nil {
		return "body is not JSON: " + snippet(body, redact)
	}
	var parts []string
	for _, raw := range []json.RawMessage{wire.Error, wire.Message} {
		if s := messageText(raw); s != "" {
			parts = append(parts, s)
		}
	}
	if s := errorsText(wire.Errors); s != "" {
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "no message in body: " + snippet(body, redact)
	}
	return httpclient.Cut(redact(httpclient.Sanitize(strings.Join(parts, "; "))), maxMessage)
}

// messageText reads a message that is a string, or anything else as its JSON text.
func messageText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// errorsText renders a validation `errors` value: a map of field to messages (or to one message), sorted by
// field so that the same failure always reads the same; or a list of messages.
func errorsText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var byField map[string]json.RawMessage
	if json.Unmarshal(raw, &byField) == nil {
		fields := make([]string, 0, len(byField))
		for f := range byField {
			fields = append(fields, f)
		}
		sort.Strings(fields)
		var out []string
		for _, f := range fields {
			out = append(out, f+": "+listText(byField[f]))
		}
		return strings.Join(out, "; ")
	}
	return listText(raw)
}

func listText(raw json.RawMessage) string {
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		var out []string
		for _, m := range list {
			out = append(out, messageText(m))
		}
		return strings.Join(out, ", ")
	}
	return messageText(raw)
}

// maxMessage is how many bytes of Vandar's message an APIError keeps.
const maxMessage = 500

// tokenField matches a JSON member whose name mentions a token, with its string value (or what there is of
// it in a truncated body). Statement items carry the gateway's api_token and the refresh response carries the
// new pair: neither may reach an error through a snippet.
var tokenField = regexp.MustCompile(`(?i)("[a-z_]*token[a-z_]*"\s*:\s*)"[^"]*"?`)

// bearer matches an Authorization value, should a proxy's error page ever echo the request's headers.
var bearer = regexp.MustCompile(`(?i)(bearer\s+)[^\s"'<>,;]+`)

// snippet quotes the start of a body for an error (httpclient.Snippet) with token-like values and the client's
// known tokens redacted.
func snippet(body []byte, redact func(string) string) string {
	return httpclient.Snippet(body, func(s string) string {
		s = tokenField.ReplaceAllString(s, `${1}"[REDACTED]"`)
		s = bearer.ReplaceAllString(s, `${1}[REDACTED]`)
		if redact != nil {
			s = redact(s)
		}
		return s
	})
}

// malformed builds the error for a success response the client cannot read.
func malformed(endpoint string, status int, body []byte, why error, redact func(string) string) error {
	return fmt.Errorf("vandar %s: HTTP %d: %w: %v; body starts: %s", endpoint, status, ErrMalformedResponse, why,
		snippet(body, redact))
}
