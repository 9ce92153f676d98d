package httpclient

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrTooLarge marks a response bigger than the client's limit. It is refused unread rather than held in
// memory. The providers' packages export it under their own names (vandar.ErrTooLarge, yabandpay.ErrTooLarge).
var ErrTooLarge = errors.New("response too large")

// Send sends req once with hc and reads the whole answer, whatever its status: the caller decides what a
// status means. name starts Send's errors (e.g. "vandar GET /v2/business/acme/balance").
//
//   - No answer at all, or a body that could not be read to its end, is a *TransportError.
//   - A body of more than limit bytes, announced or read, is ErrTooLarge (wrapped, with the status).
//   - retryAfter is the Retry-After of a 429 or 503 (see ParseRetryAfter; now is its clock, asked only for an
//     HTTP date), and -1 otherwise: it is returned with the errors above too, for the retry loop's wait.
func Send(hc *http.Client, req *http.Request, name string, limit int64, now func() time.Time) (status int,
	body []byte, retryAfter time.Duration, err error) {
	retryAfter = -1
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, retryAfter, &TransportError{Name: name, Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		retryAfter = ParseRetryAfter(resp.Header.Get("Retry-After"), now)
	}
	if resp.ContentLength > limit {
		return resp.StatusCode, nil, retryAfter, fmt.Errorf("%s: HTTP %d: %w: %d bytes announced, limit %d", name,
			resp.StatusCode, ErrTooLarge, resp.ContentLength, limit)
	}
	body, err = io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return resp.StatusCode, nil, retryAfter, &TransportError{Name: name,
			Err: fmt.Errorf("HTTP %d: reading body: %w", resp.StatusCode, err)}
	}
	if int64(len(body)) > limit {
		return resp.StatusCode, nil, retryAfter, fmt.Errorf("%s: HTTP %d: %w: more than %d bytes", name,
			resp.StatusCode, ErrTooLarge, limit)
	}
	return resp.StatusCode, body, retryAfter, nil
}

// maxRetryAfter caps a Retry-After in seconds: beyond any sensible retry budget, so the loop gives up rather
// than overflow a Duration.
const maxRetryAfter = int64(24 * time.Hour / time.Second)

// ParseRetryAfter reads a Retry-After header: delay-seconds (capped at a day) or an HTTP date, measured from
// now() — called only for a date. Anything else, or nothing, is -1 (use the backoff); a date in the past is 0.
func ParseRetryAfter(h string, now func() time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return -1
	}
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil {
		if secs < 0 {
			return -1
		}
		return time.Duration(min(secs, maxRetryAfter)) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now()), 0)
	}
	return -1
}

// TransportError is a failure to get a response at all, or all of it: a timeout, a reset or refused
// connection, a body cut short. Those are worth another attempt; anything else from the transport (a bad URL,
// a TLS failure) is not.
type TransportError struct {
	Name string // starts the error's text: the provider and the endpoint, never the URL
	Err  error
}

// Error names the request and the failure. url.Error's text would repeat the whole URL, query included; Name
// already says which call it was, so only the underlying error is printed.
func (e *TransportError) Error() string {
	err := e.Err
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Sprintf("%s: %v", e.Name, err)
}

// Unwrap returns the transport's error.
func (e *TransportError) Unwrap() error { return e.Err }

// Retryable reports whether the failure was transient: a timeout, or a connection reset, refused, aborted or
// broken, or closed before the answer ended.
func (e *TransportError) Retryable() bool { return transient(e.Err) }

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
