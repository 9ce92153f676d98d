package simfault_test

import (
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mizanhq/mizan/internal/sources/simfault"
)

// aimed is a simulator's own fault type: a Fault aimed at one path ("" for every path).
type aimed struct {
	simfault.Fault
	path string
}

func newSet() *simfault.Set[aimed] { return simfault.NewSet[aimed](rand.New(rand.NewPCG(1, 2))) }

func at(path string) func(aimed) bool {
	return func(a aimed) bool { return a.path == "" || a.path == path }
}

func TestSet(t *testing.T) {
	t.Parallel()
	status := aimed{Fault: simfault.Fault{Kind: simfault.Status}}
	slow := aimed{Fault: simfault.Fault{Kind: simfault.Slow}}

	t.Run("an empty set hits nothing", func(t *testing.T) {
		t.Parallel()
		if f, ok := newSet().Take(nil); ok {
			t.Fatalf("Take = %v, want none", f)
		}
	})

	t.Run("a count-armed fault hits that many requests, then is gone", func(t *testing.T) {
		t.Parallel()
		s := newSet()
		s.Inject(status, 2)
		for i := range 2 {
			if f, ok := s.Take(nil); !ok || f != status {
				t.Fatalf("request %d: %v %t", i, f, ok)
			}
		}
		if f, ok := s.Take(nil); ok {
			t.Fatalf("third request: %v, want none", f)
		}
	})

	t.Run("count-armed faults are used in the order armed", func(t *testing.T) {
		t.Parallel()
		s := newSet()
		s.Inject(status, 1)
		s.Inject(slow, 1)
		first, _ := s.Take(nil)
		second, _ := s.Take(nil)
		if first != status || second != slow {
			t.Fatalf("took %v then %v", first, second)
		}
	})

	t.Run("arming nothing arms nothing", func(t *testing.T) {
		t.Parallel()
		s := newSet()
		s.Inject(status, 0)
		s.Inject(status, -1)
		s.InjectRate(status, 0)
		s.InjectRate(status, -0.5)
		if f, ok := s.Take(nil); ok {
			t.Fatalf("Take = %v, want none", f)
		}
	})

	t.Run("a count-armed fault comes before a rate-armed one", func(t *testing.T) {
		t.Parallel()
		s := newSet()
		s.InjectRate(slow, 1)
		s.Inject(status, 1)
		if f, _ := s.Take(nil); f != status {
			t.Fatalf("first: %v, want the count-armed fault", f)
		}
		if f, _ := s.Take(nil); f != slow {
			t.Fatalf("second: %v, want the rate-armed fault", f)
		}
	})

	t.Run("a rate-armed fault hits about its share of requests until cleared", func(t *testing.T) {
		t.Parallel()
		s := newSet()
		s.InjectRate(status, 0.25)
		hits := 0
		for range 4000 {
			if _, ok := s.Take(nil); ok {
				hits++
			}
		}
		if hits < 850 || hits > 1150 {
			t.Fatalf("%d hits in 4000 at rate 0.25", hits)
		}
		s.Clear()
		if f, ok := s.Take(nil); ok {
			t.Fatalf("after Clear: %v", f)
		}
	})

	t.Run("a rate above one hits every request", func(t *testing.T) {
		t.Parallel()
		s := newSet()
		s.InjectRate(status, 5)
		for i := range 100 {
			if _, ok := s.Take(nil); !ok {
				t.Fatalf("request %d missed", i)
			}
		}
	})

	t.Run("the same seed hits the same requests", func(t *testing.T) {
		t.Parallel()
		a, b := newSet(), newSet()
		a.InjectRate(status, 0.5)
		b.InjectRate(status, 0.5)
		for i := range 200 {
			_, x := a.Take(nil)
			_, y := b.Take(nil)
			if x != y {
				t.Fatalf("request %d: %t and %t", i, x, y)
			}
		}
	})

	t.Run("a fault hits only the requests it matches, and is kept for them", func(t *testing.T) {
		t.Parallel()
		s := newSet()
		aimedAtB := aimed{Fault: simfault.Fault{Kind: simfault.Reset}, path: "/b"}
		s.Inject(aimedAtB, 1)
		s.InjectRate(aimed{Fault: simfault.Fault{Kind: simfault.Slow}, path: "/b"}, 1)
		if f, ok := s.Take(at("/a")); ok {
			t.Fatalf("a request to /a took %v", f)
		}
		if f, _ := s.Take(at("/b")); f != aimedAtB {
			t.Fatalf("a request to /b took %v, want the count-armed fault", f)
		}
		if f, _ := s.Take(at("/b")); f.Kind != simfault.Slow {
			t.Fatalf("the next request to /b took %v, want the rate-armed fault", f)
		}
	})
}

func TestKindString(t *testing.T) {
	t.Parallel()
	for k, want := range map[simfault.Kind]string{simfault.Status: "status", simfault.TooManyRequests: "too-many-requests",
		simfault.Slow: "slow", simfault.Truncated: "truncated", simfault.HTML200: "html-200", simfault.Reset: "reset",
		simfault.Kind(42): "FaultKind(42)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(k), got, want)
		}
	}
}

// testVoice is a provider that answers errors with {"error": status}.
var testVoice = simfault.Voice{
	Error: func(w http.ResponseWriter, status int) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"error":` + strconv.Itoa(status) + `}`))
	},
	TooMany: func(w http.ResponseWriter, d time.Duration) {
		simfault.SetRetryAfter(w, d)
		w.WriteHeader(http.StatusTooManyRequests)
	},
	HTML200Page: "<html>down for maintenance</html>",
}

// normal is the answer a request gets when no fault hits it.
func normal(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"items":[1,2,3,4,5,6,7,8]}`))
}

// serve starts a server answering every request with f and returns what a client with the timeout gets.
func serve(t *testing.T, f simfault.Fault, timeout time.Duration) (*http.Response, []byte, error) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		simfault.Serve(w, r, f, normal, testVoice)
	}))
	t.Cleanup(srv.Close)
	client := &http.Client{Timeout: timeout}
	resp, err := client.Get(srv.URL)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

func TestServe(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		fault   simfault.Fault
		timeout time.Duration
		check   func(t *testing.T, resp *http.Response, body []byte, err error)
	}{
		{"a status fault answers 503 in the provider's words by default", simfault.Fault{Kind: simfault.Status}, time.Second,
			func(t *testing.T, resp *http.Response, body []byte, err error) {
				if err != nil || resp.StatusCode != 503 || string(body) != `{"error":503}` {
					t.Errorf("%v %s %v", resp, body, err)
				}
			}},
		{"a status fault with HTML answers nginx's page", simfault.Fault{Kind: simfault.Status, Status: 502, HTML: true},
			time.Second, func(t *testing.T, resp *http.Response, body []byte, err error) {
				if err != nil || resp.StatusCode != 502 || !strings.Contains(string(body), "<h1>502 Bad Gateway</h1>") ||
					!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
					t.Errorf("%v %s %v", resp, body, err)
				}
			}},
		{"too many requests rounds Retry-After up to whole seconds",
			simfault.Fault{Kind: simfault.TooManyRequests, RetryAfter: 1500 * time.Millisecond}, time.Second,
			func(t *testing.T, resp *http.Response, _ []byte, err error) {
				if err != nil || resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" {
					t.Errorf("%v %v", resp, err)
				}
			}},
		{"too many requests says one second by default", simfault.Fault{Kind: simfault.TooManyRequests}, time.Second,
			func(t *testing.T, resp *http.Response, _ []byte, err error) {
				if err != nil || resp.Header.Get("Retry-After") != "1" {
					t.Errorf("%v %v", resp, err)
				}
			}},
		{"a slow fault answers normally after its delay", simfault.Fault{Kind: simfault.Slow, Delay: 20 * time.Millisecond},
			time.Second, func(t *testing.T, resp *http.Response, body []byte, err error) {
				if err != nil || resp.StatusCode != 200 || !json.Valid(body) {
					t.Errorf("%v %s %v", resp, body, err)
				}
			}},
		{"a slow fault outlasts a client's timeout", simfault.Fault{Kind: simfault.Slow, Delay: time.Hour},
			50 * time.Millisecond, func(t *testing.T, _ *http.Response, _ []byte, err error) {
				var ne interface{ Timeout() bool }
				if !errors.As(err, &ne) || !ne.Timeout() {
					t.Errorf("err %v, want the client's timeout", err)
				}
			}},
		{"a truncated fault answers half the normal body with a matching length", simfault.Fault{Kind: simfault.Truncated},
			time.Second, func(t *testing.T, resp *http.Response, body []byte, err error) {
				if err != nil || resp.StatusCode != 200 || json.Valid(body) || string(body) != `{"items":[1,2` ||
					resp.ContentLength != int64(len(body)) || resp.Header.Get("Content-Type") != "application/json" {
					t.Errorf("%v %q %v", resp, body, err)
				}
			}},
		{"an HTML 200 fault answers the provider's page", simfault.Fault{Kind: simfault.HTML200}, time.Second,
			func(t *testing.T, resp *http.Response, body []byte, err error) {
				if err != nil || resp.StatusCode != 200 || string(body) != testVoice.HTML200Page {
					t.Errorf("%v %s %v", resp, body, err)
				}
			}},
		{"a reset closes the connection without an answer", simfault.Fault{Kind: simfault.Reset}, time.Second,
			func(t *testing.T, resp *http.Response, _ []byte, err error) {
				if err == nil {
					t.Errorf("answered %v, want the connection closed", resp)
				}
			}},
		{"a fault of no known kind answers normally", simfault.Fault{}, time.Second,
			func(t *testing.T, resp *http.Response, body []byte, err error) {
				if err != nil || resp.StatusCode != 200 || !json.Valid(body) {
					t.Errorf("%v %s %v", resp, body, err)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, body, err := serve(t, tc.fault, tc.timeout)
			tc.check(t, resp, body, err)
		})
	}
}

func TestSetRetryAfter(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{0: "1", time.Millisecond: "1", time.Second: "1",
		1001 * time.Millisecond: "2", 3 * time.Second: "3"} {
		w := httptest.NewRecorder()
		simfault.SetRetryAfter(w, d)
		if got := w.Header().Get("Retry-After"); got != want {
			t.Errorf("SetRetryAfter(%s) = %q, want %q", d, got, want)
		}
	}
}
