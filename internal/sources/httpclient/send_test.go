package httpclient_test

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mizanhq/mizan/internal/sources/httpclient"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func clock() time.Time { return t0 }

// send sends a GET to a server answering with h.
func send(t *testing.T, h http.HandlerFunc, limit int64) (int, []byte, time.Duration, error) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/thing?secret=s3cr3t", nil)
	if err != nil {
		t.Fatal(err)
	}
	return httpclient.Send(srv.Client(), req, "acme GET /thing", limit, clock)
}

func TestSend(t *testing.T) {
	t.Parallel()

	t.Run("any status is returned with its body for the caller to judge", func(t *testing.T) {
		t.Parallel()
		status, body, ra, err := send(t, func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"no"}`))
		}, 100)
		if err != nil || status != 400 || string(body) != `{"error":"no"}` || ra != -1 {
			t.Fatalf("status %d body %q retryAfter %s err %v", status, body, ra, err)
		}
	})

	for _, status := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		t.Run("the Retry-After of a "+strconv.Itoa(status)+" is read", func(t *testing.T) {
			t.Parallel()
			_, _, ra, err := send(t, func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", "3")
				w.WriteHeader(status)
			}, 100)
			if err != nil || ra != 3*time.Second {
				t.Fatalf("retryAfter %s err %v, want 3s", ra, err)
			}
		})
	}

	t.Run("a Retry-After on another status is ignored", func(t *testing.T) {
		t.Parallel()
		_, _, ra, _ := send(t, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusBadGateway)
		}, 100)
		if ra != -1 {
			t.Fatalf("retryAfter %s, want -1", ra)
		}
	})

	t.Run("a body announced bigger than the limit is refused unread", func(t *testing.T) {
		t.Parallel()
		_, body, ra, err := send(t, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(strings.Repeat("x", 101)))
		}, 100)
		want := "acme GET /thing: HTTP 503: response too large: 101 bytes announced, limit 100"
		if !errors.Is(err, httpclient.ErrTooLarge) || err.Error() != want || body != nil || ra != 2*time.Second {
			t.Fatalf("body %q retryAfter %s err %v, want %q", body, ra, err, want)
		}
	})

	t.Run("a streamed body bigger than the limit is refused", func(t *testing.T) {
		t.Parallel()
		_, _, _, err := send(t, func(w http.ResponseWriter, _ *http.Request) {
			for range 3 { // flushed in parts: no Content-Length
				_, _ = w.Write([]byte(strings.Repeat("x", 40)))
				w.(http.Flusher).Flush()
			}
		}, 100)
		want := "acme GET /thing: HTTP 200: response too large: more than 100 bytes"
		if !errors.Is(err, httpclient.ErrTooLarge) || err.Error() != want {
			t.Fatalf("err %v, want %q", err, want)
		}
	})

	t.Run("a body exactly at the limit is read", func(t *testing.T) {
		t.Parallel()
		_, body, _, err := send(t, func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(strings.Repeat("x", 100)))
		}, 100)
		if err != nil || len(body) != 100 {
			t.Fatalf("%d bytes, err %v", len(body), err)
		}
	})

	t.Run("a body cut short is a retryable transport error", func(t *testing.T) {
		t.Parallel()
		_, _, _, err := send(t, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "50")
			_, _ = w.Write([]byte("only this"))
		}, 100)
		var te *httpclient.TransportError
		if !errors.As(err, &te) || !httpclient.Retryable(err) ||
			!strings.HasPrefix(err.Error(), "acme GET /thing: HTTP 200: reading body: ") {
			t.Fatalf("err %v (%T), want a retryable TransportError", err, err)
		}
	})

	t.Run("a refused connection is a retryable transport error that does not repeat the URL", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		_ = ln.Close()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/thing?secret=s3cr3t", nil)
		_, _, ra, err := httpclient.Send(http.DefaultClient, req, "acme GET /thing", 100, clock)
		var te *httpclient.TransportError
		if !errors.As(err, &te) || !httpclient.Retryable(err) || ra != -1 {
			t.Fatalf("err %v (%T) retryAfter %s, want a retryable TransportError", err, err, ra)
		}
		if !strings.HasPrefix(err.Error(), "acme GET /thing: ") || strings.Contains(err.Error(), "s3cr3t") {
			t.Fatalf("err %q names the URL or not the request", err)
		}
	})

	t.Run("a transport failure that is not passing is not retryable", func(t *testing.T) {
		t.Parallel()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "nope://host/thing", nil)
		_, _, _, err := httpclient.Send(http.DefaultClient, req, "acme GET /thing", 100, clock)
		var te *httpclient.TransportError
		if !errors.As(err, &te) || httpclient.Retryable(err) {
			t.Fatalf("err %v (%T), want a TransportError that is not retryable", err, err)
		}
	})
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		header string
		want   time.Duration
	}{
		{"no header means use the backoff", "", -1},
		{"whitespace only means use the backoff", "  ", -1},
		{"seconds are read", "120", 2 * time.Minute},
		{"seconds around spaces are read", " 5 ", 5 * time.Second},
		{"zero seconds is retry now", "0", 0},
		{"negative seconds mean use the backoff", "-3", -1},
		{"seconds beyond a day are capped at a day", "999999999999", 24 * time.Hour},
		{"an HTTP date is measured from now", t0.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"an HTTP date in the past is retry now", t0.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"an RFC 850 date is an HTTP date too", t0.Add(time.Minute).Format(time.RFC850), time.Minute},
		{"anything else means use the backoff", "soon", -1},
		{"fractional seconds are not seconds", "1.5", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := httpclient.ParseRetryAfter(tc.header, clock); got != tc.want {
				t.Fatalf("ParseRetryAfter(%q) = %s, want %s", tc.header, got, tc.want)
			}
		})
	}
}

func TestParseRetryAfterAsksTheClockOnlyForADate(t *testing.T) {
	t.Parallel()
	calls := 0
	now := func() time.Time { calls++; return t0 }
	httpclient.ParseRetryAfter("5", now)
	httpclient.ParseRetryAfter("soon", now)
	if calls != 0 {
		t.Fatalf("clock asked %d times for seconds and garbage, want 0", calls)
	}
	httpclient.ParseRetryAfter(t0.Format(http.TimeFormat), now)
	if calls != 1 {
		t.Fatalf("clock asked %d times for a date, want 1", calls)
	}
}
