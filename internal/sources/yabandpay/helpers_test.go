package yabandpay_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/sources/sourcetest"
	"github.com/mizanhq/mizan/internal/sources/yabandpay"
	"github.com/mizanhq/mizan/internal/sources/yabandpay/yabandpaytest"
)

// The secret key of these tests is long and distinctive, so that a leak into an error or a log is
// unmistakable.
const (
	testUser   = "036870"
	testSecret = "sk-test-5e1f0c9a7b3d4e2f8a6c1b0d9e7f3a2c"
)

// testNow is the simulated clock of most tests.
var testNow = time.Date(2024, 2, 20, 9, 43, 28, 0, time.UTC)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// bundle is what setup gives a test.
type bundle struct {
	sim    *yabandpaytest.Server
	client *yabandpay.Client
	cfg    yabandpay.Config // as given to New, for tests that build a second client
	logs   *sourcetest.LogBuffer
	url    string // where the client sends: the simulator, behind the hook

	mu     sync.Mutex
	sleeps []time.Duration
	bodies [][]byte // every request body the client sent, in order
}

func (b *bundle) slept() []time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.sleeps)
}

func (b *bundle) sent() [][]byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.bodies)
}

// setup starts a simulator of one quiet merchant (testUser, testSecret, EUR and CHF with the documents'
// example figures) at testNow, behind a hook that records request bodies, and a client on it that records its
// waits instead of sleeping. opts and change may adjust the simulator and the client.
func setup(t *testing.T, opts yabandpaytest.Options, change func(*yabandpay.Config)) *bundle {
	t.Helper()
	b := &bundle{logs: &sourcetest.LogBuffer{}}
	if len(opts.Merchants) == 0 {
		example := yabandpaytest.Figures{Available: dec("9999788.98"), Reserve: dec("200.00"), Deposit: dec("20.00")}
		opts.Merchants = []yabandpaytest.MerchantOptions{{User: testUser, SecretKey: testSecret, Quiet: true,
			Operators: []string{"036871"}, WalletID: "WA156227511825",
			Currencies: []yabandpaytest.CurrencyOptions{{Currency: "EUR", Opening: &example}, {Currency: "CHF"}}}}
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return testNow }
	}
	sim, err := yabandpaytest.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	b.sim = sim
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.bodies = append(b.bodies, body)
		b.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	b.url = hs.URL
	b.cfg = yabandpay.Config{
		APIURL:       hs.URL,
		User:         testUser,
		SecretKey:    testSecret,
		HTTPClient:   &http.Client{Timeout: 5 * time.Second},
		Logger:       slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:          sim.Now,
		RetryInitial: time.Millisecond,
		RetryMax:     10 * time.Millisecond,
		Sleep: func(ctx context.Context, d time.Duration) error {
			b.mu.Lock()
			b.sleeps = append(b.sleeps, d)
			b.mu.Unlock()
			return ctx.Err()
		},
	}
	if change != nil {
		change(&b.cfg)
	}
	c, err := yabandpay.New(b.cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.client = c
	t.Cleanup(func() { assertNoSecret(t, "logs", b.logs.String()) })
	return b
}

// assertNoSecret fails if s holds the secret key, or any long enough piece of it.
func assertNoSecret(t *testing.T, what, s string) {
	t.Helper()
	for _, secret := range []string{testSecret, testSecret[3:20], testSecret[20:]} {
		if strings.Contains(s, secret) {
			t.Errorf("%s leak the secret key:\n%s", what, s)
		}
	}
}

// fake serves body with status for every request, for answers the simulator never gives.
func fake(t *testing.T, status int, body string) *httptest.Server {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(hs.Close)
	return hs
}
