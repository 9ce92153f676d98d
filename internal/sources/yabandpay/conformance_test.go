package yabandpay_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources/sourcetest"
	"github.com/mizanhq/mizan/internal/sources/yabandpay"
	"github.com/mizanhq/mizan/internal/sources/yabandpay/yabandpaytest"
)

// The balance feed passes the conformance suite every source must pass.
func TestConformance(t *testing.T) {
	t.Parallel()
	sourcetest.Run(t, balanceHarness{})
}

// isoCodes are the currencies a merchant of N wallets holds: the first N.
var isoCodes = []string{"EUR", "CHF", "GBP", "USD", "CNY", "HKD", "JPY", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF",
	"RON", "BGN", "AUD", "CAD", "NZD", "SGD", "KRW", "THB", "MYR", "INR", "AED", "SAR", "ZAR", "BRL", "MXN", "TRY",
	"ILS"}

// balanceHarness runs the suite over the balance call: the facts are one merchant's wallets, one per
// currency, and a fetch asks for each in turn, as the poller does.
type balanceHarness struct{}

func (balanceHarness) Start(t *testing.T, cfg sourcetest.Config) sourcetest.Source {
	if cfg.N > len(isoCodes) {
		t.Fatalf("at most %d currencies", len(isoCodes))
	}
	currencies := isoCodes[:cfg.N]
	opts := []yabandpaytest.CurrencyOptions{{Currency: "EUR"}} // a merchant has at least one wallet
	if cfg.N > 0 {
		opts = nil
		for _, c := range currencies {
			opts = append(opts, yabandpaytest.CurrencyOptions{Currency: c})
		}
	}
	simOpts := yabandpaytest.Options{
		Now:       func() time.Time { return testNow },
		Merchants: []yabandpaytest.MerchantOptions{{User: testUser, SecretKey: testSecret, Seed: int64(cfg.N), Start: testNow.Add(-30 * 24 * time.Hour), Currencies: opts}},
	}
	if cfg.RateLimit {
		simOpts.RateLimit = yabandpaytest.DefaultRateLimit
	}
	sim, err := yabandpaytest.NewServer(simOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	s := &balanceSource{t: t, sim: sim, currencies: currencies, rateLimited: cfg.RateLimit, logs: &sourcetest.LogBuffer{},
		secrets: []string{testSecret}}
	s.client = s.newClient(testSecret)
	t.Cleanup(func() {
		for _, secret := range s.State().Secrets {
			if strings.Contains(s.logs.String(), secret) {
				t.Errorf("logs leak a secret key:\n%s", s.logs)
			}
		}
	})
	return s
}

// balanceSource is a started simulator and the client reading it.
type balanceSource struct {
	t           *testing.T
	sim         *yabandpaytest.Server
	currencies  []string
	rateLimited bool
	logs        *sourcetest.LogBuffer

	mu      sync.Mutex
	client  *yabandpay.Client
	secrets []string
	waits   []time.Duration
}

func (s *balanceSource) newClient(secret string) *yabandpay.Client {
	limit := rate.Inf // the production defaults only where the suite checks them
	if s.rateLimited {
		limit = 0
	}
	c, err := yabandpay.New(yabandpay.Config{
		Limit:        limit,
		APIURL:       s.sim.URL,
		User:         testUser,
		SecretKey:    secret,
		HTTPClient:   &http.Client{Timeout: 500 * time.Millisecond},
		Logger:       slog.New(slog.NewTextHandler(s.logs, nil)),
		Now:          s.sim.Now,
		RetryInitial: time.Millisecond,
		RetryMax:     10 * time.Millisecond,
		Sleep: func(ctx context.Context, d time.Duration) error {
			s.mu.Lock()
			s.waits = append(s.waits, d)
			s.mu.Unlock()
			if !s.rateLimited {
				return ctx.Err()
			}
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		},
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

func (s *balanceSource) Fetch(ctx context.Context) ([]sourcetest.Fact, error) {
	s.mu.Lock()
	c := s.client
	s.mu.Unlock()
	var facts []sourcetest.Fact
	for _, cur := range s.currencies {
		b, err := c.Balance(ctx, cur)
		if err != nil {
			return facts, err
		}
		if b.Provider != events.ProviderYabandPay || b.Account != testUser || !b.Amount.Equal(b.Figures["available"]) {
			return facts, fmt.Errorf("balance %+v: provider, account or amount wrong", b)
		}
		facts = append(facts, sourcetest.Fact{Key: b.Currency, Value: fmt.Sprintf("available=%s reserve=%s usable=%s deposit=%s",
			b.Figures["available"], b.Figures["reserve"], b.Figures["usable"], b.Figures["deposit"])})
	}
	return facts, nil
}

func (s *balanceSource) Inject(f sourcetest.Fault, n int) {
	var fault yabandpaytest.Fault
	switch f {
	case sourcetest.FaultServerError:
		fault = yabandpaytest.Fault{Kind: yabandpaytest.FaultStatus, Status: http.StatusServiceUnavailable}
	case sourcetest.FaultTooManyRequests:
		fault = yabandpaytest.Fault{Kind: yabandpaytest.FaultTooManyRequests, RetryAfter: time.Second}
	case sourcetest.FaultSlow:
		fault = yabandpaytest.Fault{Kind: yabandpaytest.FaultSlow, Delay: time.Hour} // until the client gives up
	case sourcetest.FaultTruncated:
		fault = yabandpaytest.Fault{Kind: yabandpaytest.FaultTruncated}
	case sourcetest.FaultHTML:
		fault = yabandpaytest.Fault{Kind: yabandpaytest.FaultHTML200}
	case sourcetest.FaultReset:
		fault = yabandpaytest.Fault{Kind: yabandpaytest.FaultReset}
	default:
		s.t.Fatalf("unknown fault %v", f)
	}
	s.sim.Inject(fault, n)
}

// BreakCredentials gives the client a key that is not the merchant's: every signature is then wrong.
func (s *balanceSource) BreakCredentials() {
	wrong := "sk-broken-" + rand.Text()
	c := s.newClient(wrong)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.client = c
	s.secrets = append(s.secrets, wrong)
}

func (s *balanceSource) State() sourcetest.State {
	st := sourcetest.State{
		Requests:  s.sim.Requests(),
		Throttled: s.sim.Throttled(),
		Endpoints: []string{"POST /Payments v3.MerchantBalance getBalance"},
	}
	if s.rateLimited {
		st.Limit = yabandpaytest.DefaultRateLimit
	}
	for _, cur := range s.currencies {
		f, err := s.sim.Balance(testUser, cur)
		if err != nil {
			s.t.Fatal(err)
		}
		st.Want = append(st.Want, sourcetest.Fact{Key: cur, Value: fmt.Sprintf("available=%s reserve=%s usable=%s deposit=%s",
			f.Available, f.Reserve, f.Usable, f.Deposit)})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st.Waits = slices.Clone(s.waits)
	st.Secrets = slices.Clone(s.secrets)
	return st
}
