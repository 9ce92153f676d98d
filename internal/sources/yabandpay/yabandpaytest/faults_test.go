package yabandpaytest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mizanhq/mizan/internal/sources/yabandpay/yabandpaytest"
)

// rawPost sends body and returns what came back, or the transport's error.
func rawPost(s *yabandpaytest.Server, client *http.Client, body []byte) (int, http.Header, []byte, error) {
	resp, err := client.Post(s.URL+"/Payments", "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

func TestFaults(t *testing.T) {
	t.Parallel()
	var nonce atomic.Int64
	next := func(t *testing.T) []byte {
		return balanceReq("EUR", "n"+strings.Repeat("x", int(nonce.Add(1)%20))+time.Now().Format("150405.000000000")).body(t)
	}
	for _, tc := range []struct {
		name  string
		fault yabandpaytest.Fault
		check func(t *testing.T, status int, h http.Header, body []byte, err error)
	}{
		{"a 503 with the failure envelope", yabandpaytest.Fault{Kind: yabandpaytest.FaultStatus},
			func(t *testing.T, status int, _ http.Header, body []byte, err error) {
				if err != nil || status != 503 || !strings.Contains(string(body), `"status":false,"code":"503"`) {
					t.Errorf("%d %s %v", status, body, err)
				}
			}},
		{"a 502 page", yabandpaytest.Fault{Kind: yabandpaytest.FaultStatus, Status: 502, HTML: true},
			func(t *testing.T, status int, h http.Header, body []byte, err error) {
				if err != nil || status != 502 || !strings.Contains(string(body), "<center>nginx</center>") {
					t.Errorf("%d %s %v", status, body, err)
				}
			}},
		{"429 with Retry-After", yabandpaytest.Fault{Kind: yabandpaytest.FaultTooManyRequests, RetryAfter: 1500 * time.Millisecond},
			func(t *testing.T, status int, h http.Header, body []byte, err error) {
				if err != nil || status != 429 || h.Get("Retry-After") != "2" {
					t.Errorf("%d Retry-After %q %v", status, h.Get("Retry-After"), err)
				}
			}},
		{"truncated JSON", yabandpaytest.Fault{Kind: yabandpaytest.FaultTruncated},
			func(t *testing.T, status int, h http.Header, body []byte, err error) {
				if err != nil || status != 200 || json.Valid(body) || !bytes.HasPrefix(body, []byte(`{"status":true`)) {
					t.Errorf("%d %s %v", status, body, err)
				}
			}},
		{"an HTML page with 200", yabandpaytest.Fault{Kind: yabandpaytest.FaultHTML200},
			func(t *testing.T, status int, h http.Header, body []byte, err error) {
				if err != nil || status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
					t.Errorf("%d %s %v", status, body, err)
				}
			}},
		{"a reset", yabandpaytest.Fault{Kind: yabandpaytest.FaultReset},
			func(t *testing.T, status int, h http.Header, body []byte, err error) {
				if err == nil {
					t.Errorf("an answer %d %s, want the connection closed", status, body)
				}
			}},
		{"a slow answer", yabandpaytest.Fault{Kind: yabandpaytest.FaultSlow, Delay: time.Hour},
			func(t *testing.T, status int, h http.Header, body []byte, err error) {
				var ne interface{ Timeout() bool }
				if !errors.As(err, &ne) || !ne.Timeout() {
					t.Errorf("%d %s %v, want the client's timeout", status, body, err)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := setup(t, yabandpaytest.Options{})
			client := &http.Client{Timeout: 200 * time.Millisecond}
			s.Inject(tc.fault, 1)
			status, h, body, err := rawPost(s, client, next(t))
			tc.check(t, status, h, body, err)
			// The fault hit one request; the next is answered normally.
			client.Timeout = 5 * time.Second
			if status, _, body, err := rawPost(s, client, next(t)); err != nil || status != 200 ||
				!strings.Contains(string(body), `"status":true`) {
				t.Errorf("after the fault: %d %s %v", status, body, err)
			}
			if n := s.Requests(); n != 2 {
				t.Errorf("Requests() = %d, want 2", n)
			}
		})
	}
}

func TestInjectRateAndClear(t *testing.T) {
	t.Parallel()
	s := setup(t, yabandpaytest.Options{Seed: 1})
	s.InjectRate(yabandpaytest.Fault{Kind: yabandpaytest.FaultStatus}, 1)
	for i := range 3 {
		if status, _, _, _ := rawPost(s, http.DefaultClient, balanceReq("EUR", "r"+string(rune('a'+i))).body(t)); status != 503 {
			t.Errorf("request %d: %d, want 503", i, status)
		}
	}
	s.ClearFaults()
	if status, _, body, _ := rawPost(s, http.DefaultClient, balanceReq("EUR", "cleared").body(t)); status != 200 ||
		!strings.Contains(string(body), `"status":true`) {
		t.Errorf("after ClearFaults: %d %s", status, body)
	}
}

// The rate limit allows Options.RateLimit requests per window and answers the next with 429 and Retry-After;
// it runs on the Wall clock, not the simulated one.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	var wall atomic.Pointer[time.Time]
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	wall.Store(&now)
	s := setup(t, yabandpaytest.Options{RateLimit: 3, Wall: func() time.Time { return *wall.Load() }})
	statuses := make([]int, 0, 5)
	var retryAfter string
	for i := range 4 {
		status, h, _, err := rawPost(s, http.DefaultClient, balanceReq("EUR", "rl"+string(rune('a'+i))).body(t))
		if err != nil {
			t.Fatal(err)
		}
		statuses = append(statuses, status)
		retryAfter = h.Get("Retry-After")
	}
	later := now.Add(time.Second)
	wall.Store(&later)
	status, _, _, err := rawPost(s, http.DefaultClient, balanceReq("EUR", "rl-later").body(t))
	if err != nil {
		t.Fatal(err)
	}
	statuses = append(statuses, status)
	if got := statuses; got[0] != 200 || got[1] != 200 || got[2] != 200 || got[3] != 429 || got[4] != 200 {
		t.Errorf("statuses %v, want three 200s, a 429, and a 200 a window later", got)
	}
	if retryAfter != "1" || s.Throttled() != 1 || s.Requests() != 5 {
		t.Errorf("Retry-After %q, Throttled %d, Requests %d", retryAfter, s.Throttled(), s.Requests())
	}
}
