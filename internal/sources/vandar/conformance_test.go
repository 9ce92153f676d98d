package vandar_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources/sourcetest"
	"github.com/mizanhq/mizan/internal/sources/vandar"
	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

// The statement and the wallet balance pass the conformance suite every source must pass.
func TestConformance(t *testing.T) {
	t.Parallel()
	t.Run("statement", func(t *testing.T) {
		t.Parallel()
		sourcetest.Run(t, statementHarness{})
	})
	t.Run("balance", func(t *testing.T) {
		t.Parallel()
		sourcetest.Run(t, balanceHarness{})
	})
}

// confNow is the simulated clock: it stands still, so the truth cannot move under a fetch.
var confNow = time.Date(2024, 4, 10, 12, 0, 0, 0, time.UTC)

// confPerPage is the page size the statement harness reads with: 25 items take three pages.
const confPerPage = 10

// confGetLimit is Vandar's documented limit for GETs: 100 per 3 seconds, per token (vandartest enforces it).
const confGetLimit = 100

// confSim is a started vandartest behind a counter of every request, with what the harnesses' clients share: the
// waits they asked for and every token they held.
type confSim struct {
	t           *testing.T
	srv         *vandartest.Server
	url         string
	requests    atomic.Int64
	rateLimited bool
	logs        *sourcetest.LogBuffer

	mu      sync.Mutex
	waits   []time.Duration
	secrets []string
	stores  []*sourcetest.Credentials
}

func startConfSim(t *testing.T, cfg sourcetest.Config, businesses []vandartest.BusinessOptions) *confSim {
	t.Helper()
	srv, err := vandartest.New(vandartest.Options{Businesses: businesses, RateLimit: cfg.RateLimit,
		Now: func() time.Time { return confNow }})
	if err != nil {
		t.Fatal(err)
	}
	s := &confSim{t: t, srv: srv, rateLimited: cfg.RateLimit, logs: &sourcetest.LogBuffer{}}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	s.url = hs.URL
	t.Cleanup(func() {
		for _, secret := range s.allSecrets() {
			if strings.Contains(s.logs.String(), secret) {
				t.Errorf("logs leak a token:\n%s", s.logs)
			}
		}
	})
	return s
}

// client builds a client for a business: with the simulator's tokens when real is set, else with a pair the
// simulator never issued.
func (s *confSim) client(business string, real bool) *vandar.Client {
	s.t.Helper()
	access, refresh := "broken-access-"+rand.Text(), "broken-refresh-"+rand.Text()
	lifetime := 5 * 24 * time.Hour
	if real {
		var secs int
		access, refresh, secs = s.srv.IssueTokens(business)
		lifetime = time.Duration(secs) * time.Second
	}
	store := sourcetest.NewCredentials().SetClock(s.srv.Now).
		Put(vandar.CredentialAccess, access, confNow.Add(lifetime)).
		Put(vandar.CredentialRefresh, refresh, confNow.Add(10*24*time.Hour))
	limit := rate.Inf // the production defaults only where the suite checks them
	if s.rateLimited {
		limit = 0
	}
	c, err := vandar.New(vandar.Config{
		APIURL:       s.url,
		BatchURL:     s.url,
		Business:     business,
		HTTPClient:   &http.Client{Timeout: 500 * time.Millisecond},
		Credentials:  store,
		Logger:       slog.New(slog.NewTextHandler(s.logs, nil)),
		GetLimit:     limit,
		PostLimit:    limit,
		RetryInitial: time.Millisecond,
		RetryMax:     10 * time.Millisecond,
		Now:          s.srv.Now,
		Sleep:        s.sleep,
	})
	if err != nil {
		s.t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets = append(s.secrets, access, refresh)
	s.stores = append(s.stores, store)
	return c
}

// sleep records a wait, and sleeps it only where the simulator's rate limit runs on the real clock.
func (s *confSim) sleep(ctx context.Context, d time.Duration) error {
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
}

func (s *confSim) inject(f sourcetest.Fault, n int) {
	var fault vandartest.Fault
	switch f {
	case sourcetest.FaultServerError:
		fault = vandartest.Fault{Kind: vandartest.FaultStatus, Status: http.StatusServiceUnavailable}
	case sourcetest.FaultTooManyRequests:
		fault = vandartest.Fault{Kind: vandartest.FaultTooManyRequests, RetryAfter: time.Second}
	case sourcetest.FaultSlow:
		fault = vandartest.Fault{Kind: vandartest.FaultSlow, Delay: time.Hour} // until the client gives up
	case sourcetest.FaultTruncated:
		fault = vandartest.Fault{Kind: vandartest.FaultTruncated}
	case sourcetest.FaultHTML:
		fault = vandartest.Fault{Kind: vandartest.FaultHTML200}
	case sourcetest.FaultReset:
		fault = vandartest.Fault{Kind: vandartest.FaultReset}
	default:
		s.t.Fatalf("unknown fault %v", f)
	}
	s.srv.Inject(fault, n)
}

// allSecrets is every token handed out, and any the clients were given by a refresh since.
func (s *confSim) allSecrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.secrets)
	for _, st := range s.stores {
		out = append(out, st.Values()...)
	}
	return out
}

// state fills in what both harnesses report the same way.
func (s *confSim) state(want []sourcetest.Fact, limit int, endpoints ...string) sourcetest.State {
	st := sourcetest.State{Want: want, Requests: int(s.requests.Load()), Throttled: s.srv.Throttled(),
		Endpoints: append(endpoints, "POST /v3/refreshtoken"), Secrets: s.allSecrets()}
	if s.rateLimited {
		st.Limit = limit
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st.Waits = slices.Clone(s.waits)
	return st
}

// statementHarness runs the suite over the statement: the facts are a business's items, and a fetch pages
// through them in ascending order with start_after, as the poller does.
type statementHarness struct{}

func (statementHarness) Start(t *testing.T, cfg sourcetest.Config) sourcetest.Source {
	s := startConfSim(t, cfg, []vandartest.BusinessOptions{{Slug: "acme", Empty: true, OpeningWallet: 1_000_000}})
	for i := range cfg.N {
		// Payments, cash-ins and now and then a settlement, a minute apart, all before the clock.
		n := vandartest.NewItem{Kind: vandartest.KindIPG, Amount: int64(100_000 + 1_000*i), Wage: 1_000,
			CreatedAt: confNow.Add(-time.Duration(cfg.N-i) * time.Minute)}
		switch {
		case i%5 == 4:
			n.Kind, n.Amount, n.Wage = vandartest.KindSettlement, 50_000, 0
		case i%2 == 1:
			n.Kind, n.Wage = vandartest.KindCashIn, 0
		}
		if _, err := s.srv.AddItem("acme", n); err != nil {
			t.Fatalf("item %d: %v", i, err)
		}
	}
	src := &statementSource{sim: s}
	src.client = s.client("acme", true)
	return src
}

type statementSource struct {
	sim    *confSim
	mu     sync.Mutex
	client *vandar.Client
}

func (s *statementSource) Fetch(ctx context.Context) ([]sourcetest.Fact, error) {
	s.mu.Lock()
	c := s.client
	s.mu.Unlock()
	var facts []sourcetest.Fact
	q := vandar.StatementQuery{Sort: vandar.SortAsc, PerPage: confPerPage}
	for {
		page, err := c.Statement(ctx, q)
		if err != nil {
			return facts, err
		}
		for _, it := range page.Items {
			facts = append(facts, sourcetest.Fact{Key: it.ItemID, Value: fmt.Sprintf("status=%d direction=%s amount=%s fee=%s",
				it.StatusCode, it.Direction, it.Amount, it.Fee)})
		}
		if !page.HasMore || len(page.Items) == 0 {
			return facts, nil
		}
		q.StartAfter = page.Next
	}
}

func (s *statementSource) Inject(f sourcetest.Fault, n int) { s.sim.inject(f, n) }

// BreakCredentials gives the client a token pair the simulator never issued: the access token is refused,
// and so is the refresh token.
func (s *statementSource) BreakCredentials() {
	c := s.sim.client("acme", false)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.client = c
}

func (s *statementSource) State() sourcetest.State {
	var want []sourcetest.Fact
	for _, it := range s.sim.srv.Items("acme") {
		dir := events.DirectionOut
		if it.IsDeposit {
			dir = events.DirectionIn
		}
		want = append(want, sourcetest.Fact{Key: strconv.FormatInt(it.ID, 10), Value: fmt.Sprintf(
			"status=%d direction=%s amount=%d fee=%d", it.Status, dir, it.Amount, it.Wage)})
	}
	return s.sim.state(want, confGetLimit, "GET /v3/business/acme/transaction")
}

// balanceHarness runs the suite over the wallet balance: Vandar has one balance per business, so the facts
// are N businesses' wallets, each read by its own client with its own tokens.
type balanceHarness struct{}

func (balanceHarness) Start(t *testing.T, cfg sourcetest.Config) sourcetest.Source {
	var slugs []string
	businesses := []vandartest.BusinessOptions{{Slug: "unread", Empty: true}} // the simulator needs one
	for i := range cfg.N {
		slug := fmt.Sprintf("biz%02d", i)
		slugs = append(slugs, slug)
		businesses = append(businesses, vandartest.BusinessOptions{Slug: slug, Empty: true,
			OpeningWallet: int64(100_000 + 1_000*i)})
	}
	s := startConfSim(t, cfg, businesses)
	src := &balanceSource{sim: s, slugs: slugs}
	for _, slug := range slugs {
		src.clients = append(src.clients, s.client(slug, true))
	}
	return src
}

type balanceSource struct {
	sim     *confSim
	slugs   []string
	mu      sync.Mutex
	clients []*vandar.Client
}

func (s *balanceSource) Fetch(ctx context.Context) ([]sourcetest.Fact, error) {
	s.mu.Lock()
	clients := slices.Clone(s.clients)
	s.mu.Unlock()
	var facts []sourcetest.Fact
	for _, c := range clients {
		b, err := c.Balance(ctx)
		if err != nil {
			return facts, err
		}
		facts = append(facts, sourcetest.Fact{Key: b.Account, Value: fmt.Sprintf("amount=%s currency=%s", b.Amount,
			b.Currency)})
	}
	return facts, nil
}

func (s *balanceSource) Inject(f sourcetest.Fault, n int) { s.sim.inject(f, n) }

// BreakCredentials gives every client a token pair the simulator never issued.
func (s *balanceSource) BreakCredentials() {
	var clients []*vandar.Client
	for _, slug := range s.slugs {
		clients = append(clients, s.sim.client(slug, false))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients = clients
}

func (s *balanceSource) State() sourcetest.State {
	var want []sourcetest.Fact
	var endpoints []string
	for _, slug := range s.slugs {
		want = append(want, sourcetest.Fact{Key: slug, Value: fmt.Sprintf("amount=%d currency=%s",
			s.sim.srv.Wallet(slug), events.CurrencyToman)})
		endpoints = append(endpoints, "GET /v2/business/"+slug+"/balance")
	}
	// Each business's token has its own allowance: the limit of one window is theirs together.
	return s.sim.state(want, confGetLimit*len(s.slugs), endpoints...)
}
