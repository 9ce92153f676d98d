package vandartest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

type tokenPair struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

func refreshJSON(t *testing.T, b bundle, token string) response {
	t.Helper()
	body := must(json.Marshal(map[string]string{"refreshtoken": token}))
	return do(t, http.MethodPost, b.srv.URL+"/v3/refreshtoken", "", bytes.NewReader(body), "application/json")
}

func refreshForm(t *testing.T, b bundle, token string) response {
	t.Helper()
	body := url.Values{"refreshtoken": {token}}.Encode()
	return do(t, http.MethodPost, b.srv.URL+"/v3/refreshtoken", "", strings.NewReader(body),
		"application/x-www-form-urlencoded")
}

const unauthenticated = `{"status":0,"error":"Unauthenticated"}`

func wantUnauthenticated(t *testing.T, r response, what string) {
	t.Helper()
	if r.status != http.StatusUnauthorized || string(bytes.TrimSpace(r.body)) != unauthenticated {
		t.Errorf("%s: %d %s; want 401 %s", what, r.status, r.body, unauthenticated)
	}
}

func TestAccessTokenExpiresAndRefreshRotates(t *testing.T) {
	t.Parallel()
	b := setup(t, vandartest.Options{})
	balance := func(token string) response {
		return do(t, http.MethodGet, b.srv.URL+"/v2/business/acme/balance", token, nil, "")
	}
	if r := balance(b.access); r.status != http.StatusOK {
		t.Fatalf("fresh token: %d %s", r.status, r.body)
	}
	b.srv.Advance(5*24*time.Hour - time.Second)
	if r := balance(b.access); r.status != http.StatusOK {
		t.Fatalf("a second before expiry: %d", r.status)
	}
	b.srv.Advance(time.Second)
	wantUnauthenticated(t, balance(b.access), "expired access token")

	r := refreshJSON(t, b, b.refresh)
	if r.status != http.StatusOK {
		t.Fatalf("refresh: %d %s", r.status, r.body)
	}
	pair := decode[tokenPair](t, r.body)
	if pair.TokenType != "Bearer" || pair.ExpiresIn != 432000 || pair.AccessToken == "" ||
		pair.RefreshToken == "" || pair.RefreshToken == b.refresh {
		t.Fatalf("refresh body %s", r.body)
	}
	if keys := decode[map[string]any](t, r.body); len(keys) != 4 {
		t.Errorf("refresh body has %d keys, want exactly the documented 4 (no status wrapper)", len(keys))
	}
	if r := balance(pair.AccessToken); r.status != http.StatusOK {
		t.Errorf("new access token: %d", r.status)
	}
	if n := b.srv.RefreshReuses(); n != 0 {
		t.Errorf("%d refresh-token reuses counted after one refresh", n)
	}
	wantUnauthenticated(t, refreshJSON(t, b, b.refresh), "used refresh token")

	// A used refresh token presented again is taken for a stolen one: the pair issued from it is revoked too.
	if n := b.srv.RefreshReuses(); n != 1 {
		t.Errorf("%d refresh-token reuses counted, want 1", n)
	}
	wantUnauthenticated(t, balance(pair.AccessToken), "access token of a pair revoked by reuse")
	wantUnauthenticated(t, refreshJSON(t, b, pair.RefreshToken), "refresh token of a pair revoked by reuse")
	_, fresh, _ := b.srv.IssueTokens("acme")

	// Rotation also retires the old access token, even before it expires.
	r = refreshForm(t, b, fresh)
	if r.status != http.StatusOK {
		t.Fatalf("form-encoded refresh: %d %s", r.status, r.body)
	}
	second := decode[tokenPair](t, r.body)
	r = refreshForm(t, b, second.RefreshToken)
	if r.status != http.StatusOK {
		t.Fatalf("form-encoded refresh: %d %s", r.status, r.body)
	}
	third := decode[tokenPair](t, r.body)
	wantUnauthenticated(t, balance(second.AccessToken), "access token of a rotated pair")
	if r := balance(third.AccessToken); r.status != http.StatusOK {
		t.Errorf("third access token: %d", r.status)
	}

	// A refresh token lives 10 days.
	b.srv.Advance(10 * 24 * time.Hour)
	wantUnauthenticated(t, refreshJSON(t, b, third.RefreshToken), "expired refresh token")
	wantUnauthenticated(t, refreshJSON(t, b, "def50200nonsense"), "unknown refresh token")
	if r := refreshJSON(t, b, ""); r.status != http.StatusUnprocessableEntity {
		t.Errorf("missing refresh token: %d %s", r.status, r.body)
	}
}

func TestAccessTTLIsConfigurable(t *testing.T) {
	t.Parallel()
	b := setup(t, vandartest.Options{AccessTTL: time.Hour})
	_, _, expiresIn := b.srv.IssueTokens("acme")
	if expiresIn != 3600 {
		t.Errorf("expires_in %d, want 3600", expiresIn)
	}
	b.srv.Advance(time.Hour)
	wantUnauthenticated(t, b.get(t, "/v2/business/acme/balance", nil), "after an hour")
	if pair := decode[tokenPair](t, refreshJSON(t, b, b.refresh).body); pair.ExpiresIn != 3600 {
		t.Errorf("refreshed expires_in %d", pair.ExpiresIn)
	}
}

func TestExpireAccessTokenNow(t *testing.T) {
	t.Parallel()
	b := setup(t, vandartest.Options{})
	b.srv.ExpireAccessTokenNow()
	wantUnauthenticated(t, b.get(t, "/v3/business/acme/transaction", nil), "after ExpireAccessTokenNow")
	if r := refreshJSON(t, b, b.refresh); r.status != http.StatusOK {
		t.Errorf("the refresh token must survive: %d %s", r.status, r.body)
	}
}

func TestAuthBusinessAndMethodErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, vandartest.Options{Businesses: []vandartest.BusinessOptions{month("acme", 1), month("other", 2)}})
	for _, tc := range []struct {
		name, method, path, token string
		want                      int
	}{
		{"no token", http.MethodGet, "/v3/business/acme/transaction", "", http.StatusUnauthorized},
		{"a made-up token", http.MethodGet, "/v2/business/acme/balance", "abc", http.StatusUnauthorized},
		{"another business's token", http.MethodGet, "/v3/business/other/transaction", b.access, http.StatusForbidden},
		{"another business's balance", http.MethodGet, "/v2/business/other/balance", b.access, http.StatusForbidden},
		{"an unknown business", http.MethodGet, "/v3/business/nobody/transaction", b.access, http.StatusNotFound},
		{"an unknown path", http.MethodGet, "/v3/business/acme/nothing", b.access, http.StatusNotFound},
		{"POST to the statement", http.MethodPost, "/v3/business/acme/transaction", b.access, http.StatusMethodNotAllowed},
		{"GET to refresh", http.MethodGet, "/v3/refreshtoken", "", http.StatusMethodNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, tc.method, b.srv.URL+tc.path, tc.token, nil, "")
			if r.status != tc.want {
				t.Fatalf("%d %s, want %d", r.status, r.body, tc.want)
			}
			body := decode[map[string]any](t, r.body)
			if body["status"] != float64(0) || body["error"] == "" {
				t.Errorf("body %s: want a Vandar-style {status:0, error}", r.body)
			}
		})
	}
}

func TestRequestsAreCountedPerEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t, vandartest.Options{})
	b.get(t, "/v3/business/acme/transaction", nil)
	b.get(t, "/v3/business/acme/transaction", url.Values{"per_page": {"500"}})
	b.get(t, "/v2/business/acme/balance", nil)
	refreshJSON(t, b, "nope")
	b.get(t, "/elsewhere", nil)
	for ep, want := range map[vandartest.Endpoint]int{
		vandartest.EndpointTransactions: 2, vandartest.EndpointBalance: 1,
		vandartest.EndpointRefreshToken: 1, vandartest.EndpointOther: 1,
	} {
		if got := b.srv.Requests(ep); got != want {
			t.Errorf("Requests(%s) = %d, want %d", ep, got, want)
		}
	}
}

func TestFaultsAreSeenByAPlainClient(t *testing.T) {
	t.Parallel()
	const path = "/v2/business/acme/balance"
	for _, tc := range []struct {
		name  string
		fault vandartest.Fault
		check func(t *testing.T, r response)
	}{
		{"503 with JSON", vandartest.Fault{Kind: vandartest.FaultStatus}, func(t *testing.T, r response) {
			if r.status != 503 || !strings.Contains(r.header.Get("Content-Type"), "json") ||
				string(bytes.TrimSpace(r.body)) != `{"status":0,"error":"Service Unavailable"}` {
				t.Errorf("%d %s %s", r.status, r.header, r.body)
			}
		}},
		{"502 with an nginx page", vandartest.Fault{Kind: vandartest.FaultStatus, Status: 502, HTML: true},
			func(t *testing.T, r response) {
				if r.status != 502 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") ||
					!strings.Contains(string(r.body), "502 Bad Gateway") {
					t.Errorf("%d %s %s", r.status, r.header, r.body)
				}
			}},
		{"500", vandartest.Fault{Kind: vandartest.FaultStatus, Status: 500}, func(t *testing.T, r response) {
			if r.status != 500 {
				t.Errorf("%d", r.status)
			}
		}},
		{"429 with Retry-After", vandartest.Fault{Kind: vandartest.FaultTooManyRequests, RetryAfter: 1500 * time.Millisecond},
			func(t *testing.T, r response) {
				if r.status != 429 || r.header.Get("Retry-After") != "2" {
					t.Errorf("%d Retry-After %q", r.status, r.header.Get("Retry-After"))
				}
			}},
		{"slow, then normal", vandartest.Fault{Kind: vandartest.FaultSlow, Delay: time.Millisecond},
			func(t *testing.T, r response) {
				if r.status != 200 || decode[balance](t, r.body).Status != 1 {
					t.Errorf("%d %s", r.status, r.body)
				}
			}},
		{"truncated JSON", vandartest.Fault{Kind: vandartest.FaultTruncated}, func(t *testing.T, r response) {
			var v any
			if r.status != 200 || json.Unmarshal(r.body, &v) == nil || !bytes.HasPrefix(r.body, []byte(`{"status":1`)) {
				t.Errorf("%d %s: want 200 and the start of a body that does not parse", r.status, r.body)
			}
		}},
		{"HTML with 200", vandartest.Fault{Kind: vandartest.FaultHTML200}, func(t *testing.T, r response) {
			if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") ||
				!bytes.Contains(r.body, []byte("<html")) {
				t.Errorf("%d %s %s", r.status, r.header, r.body)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, vandartest.Options{})
			b.srv.Inject(tc.fault, 2)
			tc.check(t, b.get(t, path, nil))
			tc.check(t, b.get(t, path, nil))
			if r := b.get(t, path, nil); r.status != 200 {
				t.Errorf("third request, after the fault's two: %d %s", r.status, r.body)
			}
			if n := b.srv.Requests(vandartest.EndpointBalance); n != 3 {
				t.Errorf("Requests = %d, want 3", n)
			}
		})
	}
}

func TestConnectionResetAndSlowTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t, vandartest.Options{})
	get := func(c *http.Client) error {
		req := must(http.NewRequest(http.MethodGet, b.srv.URL+"/v2/business/acme/balance", nil))
		req.Header.Set("Authorization", "Bearer "+b.access)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	// A fresh transport each time, so the client cannot retry on another pooled connection.
	plain := func() *http.Client { return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}} }
	b.srv.Inject(vandartest.Fault{Kind: vandartest.FaultReset, Endpoint: vandartest.EndpointBalance}, 1)
	if err := get(plain()); err == nil {
		t.Error("connection reset: the client saw no error")
	}
	b.srv.Inject(vandartest.Fault{Kind: vandartest.FaultSlow, Delay: time.Hour}, 1)
	c := plain()
	c.Timeout = 50 * time.Millisecond
	var nerr interface{ Timeout() bool }
	if err := get(c); !errors.As(err, &nerr) || !nerr.Timeout() {
		t.Errorf("slow answer: err %v, want a client timeout", err)
	}
	if err := get(plain()); err != nil {
		t.Errorf("after the faults: %v", err)
	}
}

func TestFaultsAimAtOneEndpointAndRates(t *testing.T) {
	t.Parallel()
	b := setup(t, vandartest.Options{})
	b.srv.Inject(vandartest.Fault{Kind: vandartest.FaultStatus, Endpoint: vandartest.EndpointTransactions}, 1)
	if r := b.get(t, "/v2/business/acme/balance", nil); r.status != 200 {
		t.Errorf("balance hit by a fault aimed at the statement: %d", r.status)
	}
	if r := b.get(t, "/v3/business/acme/transaction", nil); r.status != 503 {
		t.Errorf("statement: %d, want the fault", r.status)
	}
	b.srv.InjectRate(vandartest.Fault{Kind: vandartest.FaultStatus, Status: 500}, 1)
	for range 3 {
		if r := b.get(t, "/v2/business/acme/balance", nil); r.status != 500 {
			t.Errorf("rate 1: %d", r.status)
		}
	}
	b.srv.ClearFaults()
	if r := b.get(t, "/v2/business/acme/balance", nil); r.status != 200 {
		t.Errorf("after ClearFaults: %d", r.status)
	}
	b.srv.InjectRate(vandartest.Fault{Kind: vandartest.FaultStatus}, 0.5)
	hit := 0
	for range 40 {
		if b.get(t, "/v2/business/acme/balance", nil).status == 503 {
			hit++
		}
	}
	if hit == 0 || hit == 40 {
		t.Errorf("rate 0.5 hit %d of 40", hit)
	}
}

// wall is a hand-moved real clock for the rate limiter.
type wall struct {
	mu sync.Mutex
	t  time.Time
}

func (w *wall) now() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.t
}

func (w *wall) advance(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t = w.t.Add(d)
}

func TestRateLimits(t *testing.T) {
	t.Parallel()
	clock := &wall{t: testNow}
	b := setup(t, vandartest.Options{RateLimit: true, Wall: clock.now})
	for i := range 100 {
		if r := b.get(t, "/v2/business/acme/balance", nil); r.status != 200 {
			t.Fatalf("request %d: %d", i+1, r.status)
		}
	}
	r := b.get(t, "/v3/business/acme/transaction", nil)
	if r.status != 429 || r.header.Get("Retry-After") != "3" {
		t.Fatalf("request 101: %d Retry-After %q, want 429 and 3", r.status, r.header.Get("Retry-After"))
	}
	// Another token has its own budget.
	other, _, _ := b.srv.IssueTokens("acme")
	if r := do(t, http.MethodGet, b.srv.URL+"/v2/business/acme/balance", other, nil, ""); r.status != 200 {
		t.Errorf("another token: %d", r.status)
	}
	clock.advance(3 * time.Second)
	if r := b.get(t, "/v2/business/acme/balance", nil); r.status != 200 {
		t.Errorf("3 s later: %d", r.status)
	}
	// POSTs: 30 per 3 s.
	for i := range 30 {
		if r := refreshJSON(t, b, "unknown"); r.status != http.StatusUnauthorized {
			t.Fatalf("POST %d: %d", i+1, r.status)
		}
	}
	if r := refreshJSON(t, b, "unknown"); r.status != 429 {
		t.Errorf("POST 31: %d", r.status)
	}
	if n := b.srv.Throttled(); n != 2 {
		t.Errorf("Throttled = %d, want 2", n)
	}
}
