package vandar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources/quarantine"
	"github.com/mizanhq/mizan/internal/sources/sourcetest"
)

// Tokens in these tests are long and distinctive, so that a leak into an error or a log is unmistakable.
const (
	seedAccess  = "seed-access-9f2c41d7e8b3a6f5c0d1"
	seedRefresh = "seed-refresh-4b7e19c2d5f8a3e6b0c9"
)

// newStore returns the shared in-memory credential store holding pair, as if saved long ago.
func newStore(pair Tokens) *sourcetest.Credentials {
	return putPair(sourcetest.NewCredentials(), pair)
}

// putPair stores a pair directly, replacing what is there.
func putPair(s *sourcetest.Credentials, pair Tokens) *sourcetest.Credentials {
	return s.Put(CredentialAccess, pair.Access, pair.AccessExpiresAt).Put(CredentialRefresh, pair.Refresh, pair.RefreshExpiresAt)
}

// savedPairs lists the pairs saved into s, in order.
func savedPairs(s *sourcetest.Credentials) []Tokens {
	var out []Tokens
	for _, save := range s.Saves() {
		a, ok := save[CredentialAccess]
		if !ok {
			continue
		}
		r := save[CredentialRefresh]
		out = append(out, Tokens{Access: string(a.Value), Refresh: string(r.Value), AccessExpiresAt: a.ExpiresAt,
			RefreshExpiresAt: r.ExpiresAt})
	}
	return out
}

// fakeVandar is a small Vandar for these tests: single-use rotating refresh tokens, bearer checks, a paged
// statement and a balance. intercept, when set, may answer a request first (return true when it did).
type fakeVandar struct {
	t     *testing.T
	store *sourcetest.Credentials

	mu           sync.Mutex
	access       map[string]bool // valid access tokens
	refresh      map[string]bool // refresh tokens not yet used
	issued       int
	refreshCalls []string // the refresh tokens presented, in order
	requests     []*http.Request
	items        []map[string]any // sorted by id
	intercept    func(w http.ResponseWriter, r *http.Request, n int) bool
}

func (f *fakeVandar) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r)
	n := len(f.requests)
	intercept := f.intercept
	f.mu.Unlock()
	if intercept != nil && intercept(w, r, n) {
		return
	}
	if r.Header.Get("Accept") != "application/json" {
		f.t.Errorf("%s %s: Accept %q", r.Method, r.URL.Path, r.Header.Get("Accept"))
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v3/refreshtoken":
		f.serveRefresh(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/v3/business/acme/transaction":
		if f.authorized(w, r) {
			f.serveStatement(w, r)
		}
	case r.Method == http.MethodGet && r.URL.Path == "/v2/business/acme/balance":
		if f.authorized(w, r) {
			writeJSON(w, 200, `{"status":1,"data":{"wallet":100000,"currency":"Toman","payment_facilitator_wallet":"0"}}`)
		}
	default:
		writeJSON(w, 404, `{"status":0,"message":"not found"}`)
	}
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (f *fakeVandar) authorized(w http.ResponseWriter, r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	valid := ok && f.access[tok]
	f.mu.Unlock()
	if !valid {
		writeJSON(w, 401, `{"status":0,"error":"Unauthenticated"}`)
		return false
	}
	// The rotated pair must be durable before the client uses it.
	if !f.store.Held(CredentialAccess, tok) {
		f.t.Errorf("access token used before the store had it")
	}
	return true
}

func (f *fakeVandar) serveRefresh(w http.ResponseWriter, r *http.Request) {
	var req struct {
		RefreshToken string `json:"refreshtoken"`
	}
	if r.Header.Get("Authorization") != "" {
		f.t.Error("refresh sent an Authorization header")
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, 422, `{"status":0,"errors":{"refreshtoken":["required"]}}`)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refreshCalls = append(f.refreshCalls, req.RefreshToken)
	if !f.refresh[req.RefreshToken] {
		writeJSON(w, 401, `{"status":0,"error":"Unauthenticated"}`)
		return
	}
	delete(f.refresh, req.RefreshToken) // single use: the token rotates
	f.issued++
	access := fmt.Sprintf("access-%d-7c1e5a9d3b8f2e4a6c0b", f.issued)
	refresh := fmt.Sprintf("refresh-%d-2d9f6b3e8a1c5e7b4d0a", f.issued)
	f.access[access] = true
	f.refresh[refresh] = true
	writeJSON(w, 200, fmt.Sprintf(`{"token_type":"Bearer","expires_in":432000,"access_token":%q,"refresh_token":%q}`,
		access, refresh))
}

func (f *fakeVandar) serveStatement(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("sort") != "" && q.Get("sort") != "ASC" {
		f.t.Errorf("sort %q", q.Get("sort"))
	}
	perPage, _ := strconv.Atoi(q.Get("per_page"))
	after, _ := strconv.ParseInt(cmpOr(q.Get("start_after"), "0"), 10, 64)
	f.mu.Lock()
	var page []map[string]any
	more := false
	for _, it := range f.items {
		if it["id"].(int64) <= after {
			continue
		}
		if len(page) == perPage {
			more = true
			break
		}
		page = append(page, it)
	}
	f.mu.Unlock()
	body, _ := json.Marshal(map[string]any{"status": 1, "has_more": more, "data": page})
	writeJSON(w, 200, string(body))
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (f *fakeVandar) refreshes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.refreshCalls)
}

func (f *fakeVandar) requestCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

func (f *fakeVandar) setIntercept(fn func(w http.ResponseWriter, r *http.Request, n int) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.intercept = fn
}

// revokeAccess makes Vandar forget every access token, as when it revokes them before their expiry.
func (f *fakeVandar) revokeAccess() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.access)
}

// clock is a settable Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// bundle is what setup gives a test.
type bundle struct {
	client *Client
	vandar *fakeVandar
	store  *sourcetest.Credentials
	clock  *clock
	logs   *sourcetest.LogBuffer
	mu     sync.Mutex
	sleeps []time.Duration
}

func (b *bundle) slept() []time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.sleeps)
}

// setup starts a fake Vandar whose seed tokens are valid and stored with a known expiry far enough away, and
// a client on it that records its waits instead of sleeping. change may adjust the Config.
func setup(t *testing.T, change func(*Config)) *bundle {
	t.Helper()
	now := time.Date(2024, 3, 31, 12, 0, 0, 0, time.UTC)
	b := &bundle{clock: &clock{t: now}, logs: &sourcetest.LogBuffer{}}
	b.store = newStore(Tokens{Access: seedAccess, Refresh: seedRefresh,
		AccessExpiresAt: now.Add(3 * 24 * time.Hour), RefreshExpiresAt: now.Add(8 * 24 * time.Hour)}).SetClock(b.clock.Now)
	b.vandar = &fakeVandar{t: t, store: b.store, access: map[string]bool{seedAccess: true},
		refresh: map[string]bool{seedRefresh: true}}
	srv := httptest.NewServer(b.vandar)
	t.Cleanup(srv.Close)
	cfg := Config{
		APIURL:      srv.URL,
		Business:    "acme",
		HTTPClient:  srv.Client(),
		Credentials: b.store,
		Logger:      slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		GetLimit:    rate.Inf,
		PostLimit:   rate.Inf,
		Now:         b.clock.Now,
		Sleep: func(ctx context.Context, d time.Duration) error {
			b.mu.Lock()
			b.sleeps = append(b.sleeps, d)
			b.mu.Unlock()
			return ctx.Err()
		},
	}
	if change != nil {
		change(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.client = c
	t.Cleanup(func() { assertNoSecrets(t, "logs", b.logs.String()) })
	return b
}

// assertNoSecrets fails if s holds any token the tests issue.
func assertNoSecrets(t *testing.T, what, s string) {
	t.Helper()
	for _, secret := range []string{seedAccess, seedRefresh, "7c1e5a9d3b8f2e4a6c0b", "2d9f6b3e8a1c5e7b4d0a"} {
		if strings.Contains(s, secret) {
			t.Errorf("%s leak a token:\n%s", what, s)
		}
	}
}

func makeItems(n int) []map[string]any {
	var items []map[string]any
	for i := range n {
		items = append(items, map[string]any{
			"id": int64(170000000001 + i), "status": 1, "amount": 1000, "wage": 10, "wallet": 990 * (i + 1),
			"is_deposit": true, "channel": "پرداخت اینترنتی", "created_at": "10:00:00 - 1403/1/12",
		})
	}
	return items
}

func TestStatementPagesAscendingToTheEnd(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.vandar.items = makeItems(7)
	from := time.Date(2024, 3, 30, 20, 0, 0, 0, time.UTC) // 23:30 on 1403/1/11 in Tehran
	to := time.Date(2024, 3, 31, 12, 0, 0, 0, time.UTC)   // 1403/1/12

	var ids []string
	q := StatementQuery{Sort: SortAsc, PerPage: 3, FromDate: from, ToDate: to}
	for pages := 1; ; pages++ {
		page, err := b.client.Statement(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			ids = append(ids, it.ItemID)
		}
		if !page.HasMore {
			break
		}
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		q.StartAfter = page.Next
	}
	want := []string{"170000000001", "170000000002", "170000000003", "170000000004", "170000000005",
		"170000000006", "170000000007"}
	if !slices.Equal(ids, want) {
		t.Errorf("ids = %v, want %v", ids, want)
	}
	reqs := b.vandar.requests
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	for i, wantAfter := range []string{"", "170000000003", "170000000006"} {
		q := reqs[i].URL.Query()
		if q.Get("start_after") != wantAfter || q.Get("sort") != "ASC" || q.Get("per_page") != "3" ||
			q.Get("fromDate") != "14030111" || q.Get("toDate") != "14030112" {
			t.Errorf("request %d: query %s", i+1, reqs[i].URL.RawQuery)
		}
		if got := reqs[i].Header.Get("Authorization"); got != "Bearer "+seedAccess {
			t.Errorf("request %d: Authorization is not the stored access token", i+1)
		}
	}
	if len(b.vandar.refreshes()) != 0 {
		t.Errorf("refreshed %d times with a fresh token", len(b.vandar.refreshes()))
	}
}

func TestStatementDataAsObject(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	doc := readTestdata(t, "statement_object.json")
	b.vandar.setIntercept(func(w http.ResponseWriter, r *http.Request, n int) bool {
		writeJSON(w, 200, string(doc))
		return true
	})
	page, err := b.client.Statement(t.Context(), StatementQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].ItemID != "165374316188" || page.Next != "165374316188" {
		t.Errorf("page = %+v", page)
	}
	if got := b.vandar.requests[0].URL.Query().Get("per_page"); got != "100" {
		t.Errorf("per_page = %q, want the default 100", got)
	}
}

func TestStatementQueryIsChecked(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for _, q := range []StatementQuery{
		{PerPage: 101}, {PerPage: -1}, {Sort: "asc"}, {Status: "done"}, {StartAfter: "12a"},
		{FromDate: time.Date(2024, 4, 2, 0, 0, 0, 0, time.UTC), ToDate: time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC)},
	} {
		if _, err := b.client.Statement(t.Context(), q); err == nil {
			t.Errorf("Statement(%+v): no error", q)
		}
	}
	if n := b.vandar.requestCount(); n != 0 {
		t.Errorf("%d requests sent for invalid queries", n)
	}
}

// An access token about to expire is refreshed first; the new pair is saved before it is used (the fake
// Vandar checks that on every call); the old refresh token is never presented again, and the next refresh
// uses the rotated one.
func TestRefreshBeforeExpiryRotatesAndSavesFirst(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.clock.Advance(3*24*time.Hour - 30*time.Minute) // 30 minutes left: within RefreshBefore

	if _, err := b.client.Balance(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := b.vandar.refreshes(); !slices.Equal(got, []string{seedRefresh}) {
		t.Fatalf("refreshed with %d tokens, want once with the seed", len(got))
	}
	saved := savedPairs(b.store)
	if len(saved) != 1 || saved[0].Access != "access-1-7c1e5a9d3b8f2e4a6c0b" {
		t.Fatalf("saved %v", saved)
	}
	if want := b.clock.Now().Add(432000 * time.Second); !saved[0].AccessExpiresAt.Equal(want) {
		t.Errorf("access expires %s, want %s (now + expires_in)", saved[0].AccessExpiresAt, want)
	}
	if want := b.clock.Now().Add(10 * 24 * time.Hour); !saved[0].RefreshExpiresAt.Equal(want) {
		t.Errorf("refresh expires %s, want %s (now + the documented 10 days)", saved[0].RefreshExpiresAt, want)
	}

	// Still fresh: no refresh.
	if _, err := b.client.Balance(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(b.vandar.refreshes()); n != 1 {
		t.Fatalf("%d refreshes, want still 1", n)
	}

	// Five days on, the rotated refresh token is used, and only it.
	b.clock.Advance(5 * 24 * time.Hour)
	if _, err := b.client.Balance(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := b.vandar.refreshes(); !slices.Equal(got, []string{seedRefresh, "refresh-1-2d9f6b3e8a1c5e7b4d0a"}) {
		t.Errorf("refresh tokens presented: %d, want the seed then the rotated one", len(got))
	}
}

// A pair of unknown lifetime (seeded from the dashboard) is refreshed on first use, which makes it known.
func TestSeedOfUnknownExpiryIsRefreshedFirst(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	putPair(b.store, Tokens{Access: seedAccess, Refresh: seedRefresh})
	if _, err := b.client.Balance(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(b.vandar.refreshes()); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
}

func TestConcurrentCallsRefreshOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.clock.Advance(4 * 24 * time.Hour) // the access token has expired
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := b.client.Balance(t.Context())
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := len(b.vandar.refreshes()); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
}

// Vandar refuses an access token before its expiry: the client refreshes once and retries the call.
func TestUnauthorizedMidRunRefreshesOnceAndRetries(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.vandar.items = makeItems(4)
	page, err := b.client.Statement(t.Context(), StatementQuery{Sort: SortAsc, PerPage: 2})
	if err != nil {
		t.Fatal(err)
	}
	b.vandar.revokeAccess()
	page, err = b.client.Statement(t.Context(), StatementQuery{Sort: SortAsc, PerPage: 2, StartAfter: page.Next})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 2 || page.Items[0].ItemID != "170000000003" {
		t.Errorf("page after the refresh = %+v", page)
	}
	if n := len(b.vandar.refreshes()); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
	// first page, refused page, refresh, retried page
	if n := b.vandar.requestCount(); n != 4 {
		t.Errorf("%d requests, want 4", n)
	}
}

func TestSecondUnauthorizedIsAnError(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.vandar.setIntercept(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path == "/v3/refreshtoken" {
			return false
		}
		writeJSON(w, 401, `{"status":0,"error":"Unauthenticated"}`)
		return true
	})
	_, err := b.client.Balance(t.Context())
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 401 || !strings.Contains(err.Error(), "still unauthorized") {
		t.Fatalf("err = %v, want a 401 after the refresh", err)
	}
	if n := len(b.vandar.refreshes()); n != 1 {
		t.Errorf("%d refreshes, want exactly 1", n)
	}
	assertNoSecrets(t, "the error", err.Error())
}

func TestRefreshRefusedIsAClearError(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.clock.Advance(4 * 24 * time.Hour)
	b.vandar.mu.Lock()
	clear(b.vandar.refresh) // the seed's refresh token was used elsewhere
	b.vandar.mu.Unlock()
	_, err := b.client.Balance(t.Context())
	if !errors.Is(err, ErrRefresh) {
		t.Fatalf("err = %v, want ErrRefresh", err)
	}
	for _, want := range []string{"acme", "POST /v3/refreshtoken", "HTTP 401", "Unauthenticated"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	assertNoSecrets(t, "the error", err.Error())
	if len(b.store.Saves()) != 0 {
		t.Error("saved something after a failed refresh")
	}
}

func TestExpiredRefreshTokenIsNotSent(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.clock.Advance(9 * 24 * time.Hour) // past the stored refresh expiry
	_, err := b.client.Balance(t.Context())
	if !errors.Is(err, ErrRefresh) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("err = %v, want ErrRefresh naming the expiry", err)
	}
	if n := b.vandar.requestCount(); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
}

// The store fails to save a rotated pair (and, before it, to keep Vandar's raw answer): the call fails, the
// pair is kept in memory (only it works now), and the next call saves it and goes on — without refreshing
// again.
func TestUnsavedPairIsSavedBeforeUse(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.clock.Advance(4 * 24 * time.Hour)
	b.store.FailSaves(2)
	_, err := b.client.Balance(t.Context())
	if !errors.Is(err, ErrRefresh) || !strings.Contains(err.Error(), "database is down") {
		t.Fatalf("err = %v, want ErrRefresh with the store's error", err)
	}
	if n := b.vandar.requestCount(); n != 1 {
		t.Fatalf("%d requests, want only the refresh", n)
	}
	if _, err := b.client.Balance(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(b.vandar.refreshes()); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
	if !strings.Contains(b.logs.String(), "not saved") {
		t.Errorf("the failed save was not logged:\n%s", b.logs)
	}
}

// Another process refreshed and saved a pair: the client adopts it rather than burn its own stale refresh
// token.
func TestPairSavedByAnotherProcessIsAdopted(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	if _, err := b.client.Balance(t.Context()); err != nil { // caches the seed pair
		t.Fatal(err)
	}
	// Elsewhere: another process refreshes with the seed and saves the result.
	b.vandar.mu.Lock()
	delete(b.vandar.refresh, seedRefresh)
	delete(b.vandar.access, seedAccess)
	b.vandar.access["access-elsewhere-7c1e5a9d3b8f2e4a6c0b"] = true
	b.vandar.mu.Unlock()
	b.store.Save(t.Context(), Tokens{Access: "access-elsewhere-7c1e5a9d3b8f2e4a6c0b", Refresh: "r-2d9f6b3e8a1c5e7b4d0a",
		AccessExpiresAt: b.clock.Now().Add(5 * 24 * time.Hour), RefreshExpiresAt: b.clock.Now().Add(10 * 24 * time.Hour)}.credentials())

	if _, err := b.client.Balance(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(b.vandar.refreshes()); n != 0 {
		t.Errorf("%d refreshes, want none: the stored pair was fresh", n)
	}
}

func TestServerErrorsAreRetried(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.vandar.setIntercept(func(w http.ResponseWriter, r *http.Request, n int) bool {
		switch n {
		case 1:
			writeJSON(w, 500, `{"status":0,"message":"Server Error"}`)
		case 2:
			w.WriteHeader(502)
			io.WriteString(w, "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>")
		default:
			return false
		}
		return true
	})
	bal, err := b.client.Balance(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !bal.Amount.Equal(dec("100000")) {
		t.Errorf("balance %s", bal.Amount)
	}
	if n := len(b.slept()); n != 2 {
		t.Errorf("waited %d times, want 2", n)
	}
	if !strings.Contains(b.logs.String(), "retrying") {
		t.Errorf("retries not logged:\n%s", b.logs)
	}
}

func TestRetriesGiveUp(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.MaxRetries = 2 })
	b.vandar.setIntercept(func(w http.ResponseWriter, r *http.Request, n int) bool {
		writeJSON(w, 503, `{"status":0,"message":"maintenance"}`)
		return true
	})
	_, err := b.client.Balance(t.Context())
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 503 || !apiErr.Retryable() ||
		!strings.Contains(err.Error(), "3 attempts") || !strings.Contains(err.Error(), "maintenance") {
		t.Fatalf("err = %v, want the 503 after 3 attempts", err)
	}
	if n := b.vandar.requestCount(); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, header string
		want         time.Duration
	}{
		{"seconds", "7", 7 * time.Second},
		{"zero", "0", 0},
		{"HTTP date", "Sun, 31 Mar 2024 12:00:03 GMT", 3 * time.Second}, // the test clock's now + 3 s
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil)
			b.vandar.setIntercept(func(w http.ResponseWriter, r *http.Request, n int) bool {
				if n > 1 {
					return false
				}
				w.Header().Set("Retry-After", tc.header)
				writeJSON(w, 429, `{"status":0,"message":"Too Many Attempts."}`)
				return true
			})
			if _, err := b.client.Balance(t.Context()); err != nil {
				t.Fatal(err)
			}
			if got := b.slept(); !slices.Equal(got, []time.Duration{tc.want}) {
				t.Errorf("waited %v, want [%s]", got, tc.want)
			}
		})
	}
}

// A Retry-After beyond the retry budget is not waited out: the call fails at once, saying why.
func TestRetryAfterBeyondBudgetGivesUp(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.MaxElapsed = time.Minute })
	b.vandar.setIntercept(func(w http.ResponseWriter, r *http.Request, n int) bool {
		w.Header().Set("Retry-After", "3600")
		writeJSON(w, 429, `{"status":0,"message":"Too Many Attempts."}`)
		return true
	})
	_, err := b.client.Balance(t.Context())
	if err == nil || !strings.Contains(err.Error(), "would exceed") || len(b.slept()) != 0 {
		t.Fatalf("err = %v after waits %v, want an immediate give-up", err, b.slept())
	}
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.vandar.setIntercept(func(w http.ResponseWriter, r *http.Request, n int) bool {
		writeJSON(w, 422, `{"status":0,"errors":{"amount":["عدم کفایت موجودی (کسری موجودی)","مبلغ مورد نظر برای تسویه بیشتر از موجودی شما می باشد"],"iban":["invalid"]}}`)
		return true
	})
	_, err := b.client.Statement(t.Context(), StatementQuery{})
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Retryable() {
		t.Fatalf("err = %v, want a non-retryable APIError", err)
	}
	want := "vandar GET /v3/business/acme/transaction: HTTP 422: amount: عدم کفایت موجودی (کسری موجودی), " +
		"مبلغ مورد نظر برای تسویه بیشتر از موجودی شما می باشد; iban: invalid"
	if err.Error() != want {
		t.Errorf("error\n%s\nwant\n%s", err, want)
	}
	if n := b.vandar.requestCount(); n != 1 || len(b.slept()) != 0 {
		t.Errorf("%d requests, %d waits; want 1 and 0", n, len(b.slept()))
	}
}

func TestMalformedBodies(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("<p>lorem ipsum</p>\n", 100)
	for _, tc := range []struct {
		name, body string
		want       string
	}{
		{"truncated JSON", `{"status":1,"has_more":true,"data":[{"id":170000000001,"amount":10`, `{"status":1,"has_more":true`},
		{"an HTML page", "<!DOCTYPE html>\n<html><head><title>Maintenance</title></head><body>" + long + "</body></html>",
			`<!DOCTYPE html> <html><head><title>Maintenance</title>`},
		{"token fields are redacted", `{"status":1,"data":[{"id":1,"api_token":"QRI4AZLY17SCG","x":` + long,
			`"api_token":"[REDACTED]"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil)
			b.vandar.setIntercept(func(w http.ResponseWriter, r *http.Request, n int) bool {
				writeJSON(w, 200, tc.body)
				return true
			})
			_, err := b.client.Statement(t.Context(), StatementQuery{})
			if !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("err = %v, want ErrMalformedResponse", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "GET /v3/business/acme/transaction") || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q lacks the endpoint or the snippet %q", msg, tc.want)
			}
			if len(msg) > 600 || strings.Contains(msg, "QRI4AZLY17SCG") || strings.Contains(msg, "\n") {
				t.Errorf("error is not a short sanitized snippet (%d bytes): %q", len(msg), msg)
			}
			// A GET is safe to repeat, and a body cut short is usually the network's doing: it is retried
			// until the retries run out, then reported.
			if n := b.vandar.requestCount(); n != DefaultMaxRetries+1 {
				t.Errorf("%d requests, want %d: a malformed 200 is retried", n, DefaultMaxRetries+1)
			}
		})
	}
}

func TestOversizeBodyIsRefused(t *testing.T) {
	t.Parallel()
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%t", chunked), func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *Config) { c.MaxBodyBytes = 1024 })
			b.vandar.setIntercept(func(w http.ResponseWriter, r *http.Request, n int) bool {
				body := `{"status":1,"data":[` + strings.Repeat(`{"id":1},`, 500) + `{"id":1}]}`
				if !chunked {
					w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				}
				w.WriteHeader(200)
				io.WriteString(w, body[:100])
				w.(http.Flusher).Flush()
				io.WriteString(w, body[100:])
				return true
			})
			_, err := b.client.Statement(t.Context(), StatementQuery{})
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("err = %v, want ErrTooLarge", err)
			}
			if n := b.vandar.requestCount(); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

func TestDroppedConnectionIsRetried(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.vandar.setIntercept(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n > 1 {
			return false
		}
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return true
		}
		conn.Close() // no response at all: the client sees EOF
		return true
	})
	if _, err := b.client.Balance(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(b.slept()); n != 1 {
		t.Errorf("waited %d times, want 1", n)
	}
}

func TestCancellationStopsRetrying(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	b := setup(t, func(c *Config) {
		c.Sleep = func(ctx context.Context, d time.Duration) error {
			cancel() // shut down while waiting to retry
			<-ctx.Done()
			return ctx.Err()
		}
	})
	b.vandar.setIntercept(func(w http.ResponseWriter, r *http.Request, n int) bool {
		writeJSON(w, 503, `{}`)
		return true
	})
	_, err := b.client.Balance(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if n := b.vandar.requestCount(); n != 1 {
		t.Errorf("%d requests after cancellation, want 1", n)
	}
}

func TestBalance(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	bal, err := b.client.Balance(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if bal.Provider != events.ProviderVandar || bal.Account != "acme" || bal.Currency != events.CurrencyToman ||
		!bal.Amount.Equal(dec("100000")) || !bal.ObservedAt.Equal(b.clock.Now()) ||
		len(bal.Figures) != 2 || !bal.Figures["wallet"].Equal(dec("100000")) ||
		!bal.Figures["payment_facilitator_wallet"].IsZero() || !json.Valid(bal.Raw) {
		t.Errorf("balance = %+v", bal)
	}
	if _, err := bal.Event(); err != nil {
		t.Error(err)
	}
}

// A balance answer whose figures cannot be trusted is quarantined (the feed reports it and goes on); one that
// is no balance answer at all, or Vandar's refusal, is an error.
func TestBalanceRefusesWhatItCannotRead(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		body       string
		quarantine bool
	}{
		{`{"status":1,"data":{"wallet":100000,"currency":"Rial"}}`, true},
		{`{"status":1,"data":{"currency":"Toman"}}`, true},
		{`{"status":1,"data":{"wallet":"1000.5","currency":"Toman"}}`, true},
		{`{"status":1,"data":[]}`, true},
		{`{"status":1,"data":null}`, true},
		{`{"status":1,"data":"x"}`, false},
		{`{"status":0,"error":"Unauthenticated"}`, false},
	} {
		b := setup(t, nil)
		b.vandar.setIntercept(func(w http.ResponseWriter, r *http.Request, n int) bool {
			writeJSON(w, 200, tc.body)
			return true
		})
		bal, err := b.client.Balance(t.Context())
		if err == nil {
			t.Errorf("%s: balance %+v, want an error", tc.body, bal)
			continue
		}
		q, ok := quarantine.As(err)
		if ok != tc.quarantine {
			t.Errorf("%s: %v: quarantined %t, want %t", tc.body, err, ok, tc.quarantine)
		}
		if ok && (q.Feed != events.FeedBalance || q.Account != "acme" || !json.Valid(q.Raw) || q.Reason == "") {
			t.Errorf("%s: quarantined %+v", tc.body, q)
		}
	}
}

// Tokens never reach an error or a log line: not when Vandar echoes them, not when a proxy's page quotes the
// Authorization header, not when the token type prints itself.
func TestTokensNeverLeak(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.MaxRetries = 1 })
	b.vandar.setIntercept(func(w http.ResponseWriter, r *http.Request, n int) bool {
		auth := r.Header.Get("Authorization")
		switch n {
		case 1:
			writeJSON(w, 403, fmt.Sprintf(`{"status":0,"message":"token %s has no permission"}`, seedAccess))
		case 2, 3:
			w.WriteHeader(502)
			io.WriteString(w, "<html><pre>Authorization: "+auth+"</pre></html>")
		case 4, 5: // a malformed success is retried once (MaxRetries 1), then reported
			writeJSON(w, 200, `{"status":1,"data":{"access_token":"`+seedAccess)
		default:
			return false
		}
		return true
	})
	var msgs []string
	for range 3 {
		_, err := b.client.Balance(t.Context())
		if err == nil {
			t.Fatal("no error")
		}
		msgs = append(msgs, err.Error())
	}
	for _, m := range msgs {
		assertNoSecrets(t, "errors", m)
	}
	if !strings.Contains(msgs[0], "[REDACTED]") {
		t.Errorf("the echoed token was not visibly redacted: %s", msgs[0])
	}
	tok := Tokens{Access: seedAccess, Refresh: seedRefresh}
	var logged sourcetest.LogBuffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("tokens", "pair", tok)
	printed := fmt.Sprintf("%v %+v %#v %s", tok, tok, tok, tok) + logged.String()
	assertNoSecrets(t, "Tokens' own formatting", printed)
}

func TestRefreshResponseIsNeverQuoted(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.clock.Advance(4 * 24 * time.Hour)
	b.vandar.setIntercept(func(w http.ResponseWriter, r *http.Request, n int) bool {
		// Cut short after the new access token: not JSON, but the secret is in it.
		writeJSON(w, 200, `{"token_type":"Bearer","access_token":"access-9-7c1e5a9d3b8f2e4a6c0b","refresh_tok`)
		return true
	})
	_, err := b.client.Balance(t.Context())
	if !errors.Is(err, ErrRefresh) || !errors.Is(err, ErrMalformedResponse) {
		t.Fatalf("err = %v, want ErrRefresh and ErrMalformedResponse", err)
	}
	assertNoSecrets(t, "the error", err.Error())
}

func TestNewChecksConfig(t *testing.T) {
	t.Parallel()
	store := sourcetest.NewCredentials()
	for _, cfg := range []Config{
		{Credentials: store},
		{Business: "acme"},
		{Business: "acme", Credentials: store, APIURL: "ftp://x"},
		{Business: "acme", Credentials: store, APIURL: "https://"},
		{Business: "acme", Credentials: store, BatchURL: "https://batch.vandar.io?x=1"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v): no error", cfg)
		}
	}
	c, err := New(Config{Business: "acme", Credentials: store})
	if err != nil {
		t.Fatal(err)
	}
	if c.cfg.APIURL != DefaultAPIURL || c.cfg.BatchURL != DefaultBatchURL || c.http.Timeout != DefaultHTTPTimeout ||
		c.cfg.MaxRetries != DefaultMaxRetries || c.cfg.MaxBodyBytes != DefaultMaxBodyBytes ||
		c.getLim.Limit() != DefaultGetLimit || c.postLim.Burst() != DefaultPostBurst {
		t.Errorf("defaults not applied: %+v", c.cfg)
	}
}

func TestTimeoutIsRetried(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.HTTPClient = &http.Client{Timeout: 200 * time.Millisecond} })
	b.vandar.setIntercept(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n > 1 {
			return false
		}
		<-r.Context().Done() // never answer: the client's timeout ends the request
		return true
	})
	if _, err := b.client.Balance(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(b.slept()); n != 1 {
		t.Errorf("waited %d times, want 1", n)
	}
}

// Every request waits for the client-side limiter: with the bucket empty and a deadline sooner than the next
// token, the call is refused before anything is sent.
func TestRateLimiterGatesRequests(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.GetLimit, c.GetBurst = rate.Every(time.Hour), 1 })
	if _, err := b.client.Balance(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, err := b.client.Balance(ctx)
	if err == nil || !strings.Contains(err.Error(), "rate limiter") {
		t.Fatalf("err = %v, want the limiter's refusal", err)
	}
	if n := b.vandar.requestCount(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}
