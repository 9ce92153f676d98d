package vandartest

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"sync"
	"time"

	"github.com/mizanhq/mizan/internal/sources/simfault"
)

// Options configure a Server. The zero value is a usable simulator of one business, "acme", on the real
// clock.
type Options struct {
	// Businesses to simulate, each with its own generated history. Default: one, BusinessOptions{Slug: "acme"}.
	Businesses []BusinessOptions
	// Now is the simulated clock. It decides which items exist (created_at <= now), which state they are in,
	// and when tokens expire. Default time.Now; SetNow and Advance move it.
	Now func() time.Time
	// Wall is the real clock that paces the rate limits: requests arrive in real time even when a test has
	// moved the simulated clock by days. Default time.Now.
	Wall func() time.Time
	// AccessTTL is how long an access token lives. Default 5 days (expires_in 432000, as documented).
	AccessTTL time.Duration
	// RefreshTTL is how long a refresh token lives. Default 10 days (docs.vandar.io).
	RefreshTTL time.Duration
	// RateLimit enforces Vandar's documented limits: per token (or per client address when there is none),
	// 30 POSTs and 100 other requests in any 3 seconds of Wall time; over that, 429 with Retry-After.
	// Default off.
	RateLimit bool
	// Seed drives the rate-armed faults (InjectRate). The histories have their own seeds.
	Seed int64
	// Shapes writes the answers in other shapes than the documented ones (see Shape; SetShapes changes them
	// later). Default 0: the documented shapes, byte for byte.
	Shapes Shape
}

// BusinessOptions describe one simulated business and the history it is generated with.
type BusinessOptions struct {
	// Slug is the business's English name, the :business of every path. Letters, digits, '-' and '_'.
	Slug string
	// Seed makes the history: the same seed, start and sizes always give the same items.
	Seed int64
	// Start is the first day of the history (its Tehran midnight). Default: Days−1 days before today, so
	// the history ends today and, on the real clock, the rest of today's items appear as their time comes.
	Start time.Time
	// Days of history. Default 30.
	Days int
	// PerDay is about how many items a day (±20%), plus one or two settlements. Default 40.
	PerDay int
	// OpeningWallet is the wallet balance before the first item: a business that was trading before the
	// history starts. Default 0.
	OpeningWallet int64
	// Empty generates no history: items come only from AddItem.
	Empty bool
	// Batches is how many batch settlements the history has, on days drawn from the seed. Default: one per
	// five days (at least one); negative: none.
	Batches int
	// Queued is how many settlements the history queues while the wallet is short. Default: one per ten
	// days (at least one); negative: none.
	Queued int
	// NoAPIToken leaves out the api_token Vandar puts on gateway and form payments (the history is otherwise
	// the same). A client that only needs the items' events is spared redacting it: the benchmark's workload.
	NoAPIToken bool
}

// Endpoint names a simulated endpoint, for counting requests and aiming faults.
type Endpoint string

// The endpoints the simulator serves. EndpointOther counts requests to any other path (answered 404).
const (
	EndpointRefreshToken Endpoint = "refreshtoken" // POST /v3/refreshtoken
	EndpointTransactions Endpoint = "transactions" // GET /v3/business/:business/transaction
	EndpointBalance      Endpoint = "balance"      // GET /v2/business/:business/balance
	EndpointOther        Endpoint = "other"
)

// Server is a simulated Vandar API: an http.Handler over one or more businesses with seeded histories, a
// simulated clock, rotating tokens, optional rate limits, fault injection and discrepancy knobs. It is safe
// for concurrent use. NewServer also serves it on loopback, like httptest.NewServer.
type Server struct {
	// URL is the base URL (http://127.0.0.1:port) when the Server was started by NewServer.
	URL string
	hs  *httptest.Server

	loc        *time.Location
	wall       func() time.Time
	accessTTL  time.Duration
	refreshTTL time.Duration
	rateLimit  bool
	faults     *simfault.Set[Fault] // guarded by its own lock

	mu         sync.Mutex
	clock      simfault.Clock // SetNow and Advance move it
	businesses map[string]*business
	slugs      []string // in the order added
	tokens     tokens
	limiter    simfault.Limiter
	requests   map[Endpoint]int
	throttled  int
	pages      int           // statement requests answered past faults and the rate limit
	pageTime   time.Duration // the time they took, rendering and writing included
	shapes     Shape
	// refreshAnswer, if set, rewrites each successful refresh answer (see SetRefreshAnswer).
	refreshAnswer func(answer []byte) []byte
}

// New builds a Server and generates its businesses' histories; it does not listen. Serve it with any
// http.Server, or use NewServer.
func New(opts Options) (*Server, error) {
	s := &Server{
		loc:        loadTehran(),
		clock:      simfault.NewClock(opts.Now),
		wall:       simfault.OrNow(opts.Wall),
		accessTTL:  cmp.Or(opts.AccessTTL, 5*24*time.Hour),
		refreshTTL: cmp.Or(opts.RefreshTTL, 10*24*time.Hour),
		rateLimit:  opts.RateLimit,
		businesses: map[string]*business{},
		tokens:     newTokens(),
		faults:     simfault.NewSet[Fault](rand.New(rand.NewPCG(uint64(opts.Seed), 0x6661756c7473))),
		requests:   map[Endpoint]int{},
		shapes:     opts.Shapes,
	}
	bs := opts.Businesses
	if len(bs) == 0 {
		bs = []BusinessOptions{{Slug: "acme"}}
	}
	for _, b := range bs {
		if err := s.AddBusiness(b); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// NewServer builds a Server and serves it on a loopback port; URL says where. Close it when done.
func NewServer(opts Options) (*Server, error) {
	s, err := New(opts)
	if err != nil {
		return nil, err
	}
	s.hs = httptest.NewServer(s)
	s.URL = s.hs.URL
	return s, nil
}

// Close stops a Server started by NewServer, waiting for requests in flight.
func (s *Server) Close() {
	if s.hs != nil {
		s.hs.Close()
	}
}

// AddBusiness adds a business and generates its history.
func (s *Server) AddBusiness(o BusinessOptions) error {
	if !validSlug(o.Slug) {
		return fmt.Errorf("vandartest: invalid business slug %q", o.Slug)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.businesses[o.Slug] != nil {
		return fmt.Errorf("vandartest: business %q added twice", o.Slug)
	}
	b := newBusiness(o.Slug, o.Seed, o.OpeningWallet, s.loc)
	b.noAPIToken = o.NoAPIToken
	if !o.Empty {
		days, perDay := cmp.Or(o.Days, 30), cmp.Or(o.PerDay, 40)
		start := o.Start
		if start.IsZero() {
			today := tehranMidnight(s.nowLocked(), s.loc)
			start = time.Date(today.Year(), today.Month(), today.Day()-(days-1), 0, 0, 0, 0, s.loc)
		}
		if err := b.generate(start, days, perDay); err != nil {
			return fmt.Errorf("business %s: %w", o.Slug, err)
		}
		if err := b.generatePayouts(start, days, o.Batches, o.Queued); err != nil {
			return fmt.Errorf("business %s: %w", o.Slug, err)
		}
	}
	b.rebuild()
	// Nobody has read the history yet, so its queued settlements may leave the queue at any time in it.
	b.planQueue(time.Time{})
	s.businesses[o.Slug] = b
	s.slugs = append(s.slugs, o.Slug)
	return nil
}

func validSlug(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return s != ""
}

// Businesses returns the slugs of the simulated businesses, in the order they were added.
func (s *Server) Businesses() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.slugs)
}

// Now is the simulated clock's time.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nowLocked()
}

// SetNow stops the simulated clock at t; Advance moves it on from there.
func (s *Server) SetNow(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock.Set(t)
}

// Advance moves the simulated clock forward by d (backward if d is negative).
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock.Advance(d)
}

func (s *Server) nowLocked() time.Time { return s.clock.Now() }

// mustBusiness is for the accessors, where an unknown slug is the caller's bug, like a bad URL given to
// httptest: they panic rather than make every test check an error.
func (s *Server) mustBusiness(slug string) *business {
	b := s.businesses[slug]
	if b == nil {
		panic(fmt.Sprintf("vandartest: unknown business %q", slug))
	}
	return b
}

func (s *Server) business(slug string) (*business, error) {
	b := s.businesses[slug]
	if b == nil {
		return nil, fmt.Errorf("vandartest: unknown business %q", slug)
	}
	return b, nil
}

// IssueTokens creates a token pair for a business, as its owner would in Vandar's dashboard, and returns
// it with the access token's lifetime in seconds. It panics on an unknown business.
func (s *Server) IssueTokens(business string) (access, refresh string, expiresIn int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustBusiness(business)
	g := s.tokens.issue(business, s.nowLocked(), s.accessTTL, s.refreshTTL)
	return g.access, g.refresh, int(s.accessTTL / time.Second)
}

// RefreshReuses is how many times a refresh token was presented again after it had been exchanged — each of
// which revoked every pair issued from it since.
func (s *Server) RefreshReuses() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens.reuses
}

// SetRefreshAnswer makes every successful refresh answer pass through f after the pair has rotated: f may wrap
// it ({"status":1,"data":…}), garble it, or return nil to drop the connection without an answer — a timeout
// after Vandar rotated the pair, as the client sees it. nil restores the documented answer.
func (s *Server) SetRefreshAnswer(f func(answer []byte) []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshAnswer = f
}

// ExpireAccessTokenNow ends the life of every access token issued so far; their refresh tokens keep working.
func (s *Server) ExpireAccessTokenNow() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens.expireAccess(s.nowLocked())
}

// Items returns the business's items that exist now (created_at <= now), each once, by id, in their state
// now — hidden and duplicated ones included: this is the truth, not the statement. It panics on an unknown
// business.
func (s *Server) Items(business string) []Item {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, now := s.mustBusiness(business), s.nowLocked()
	items := make([]Item, 0, len(b.records))
	for _, r := range b.records {
		if visible(r, now) {
			items = append(items, b.item(r, now))
		}
	}
	return items
}

// Item returns one item in its state now, whether or not it exists yet (an item added with a future
// created_at), and whether the id is known. It panics on an unknown business.
func (s *Server) Item(business string, id int64) (Item, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.mustBusiness(business)
	r := b.byID[id]
	if r == nil {
		return Item{}, false
	}
	return b.item(r, s.nowLocked()), true
}

// Wallet is the business's wallet balance now: the last balance of the chain so far. The balance endpoint
// reports this plus any planted drift. It panics on an unknown business.
func (s *Server) Wallet(business string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mustBusiness(business).walletAt(s.nowLocked())
}

// WalletAt is the business's wallet balance at t (after everything that moved it up to and including t).
// It panics on an unknown business.
func (s *Server) WalletAt(business string, t time.Time) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mustBusiness(business).walletAt(t)
}

// AddItem adds an item to a business's history and returns it in its state now. A settlement that fails or
// is cancelled also gets its return item. An item that would take the wallet below zero at any point is
// refused with ErrInsufficientFunds, as Vandar refuses it.
func (s *Server) AddItem(business string, n NewItem) (Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.business(business)
	if err != nil {
		return Item{}, err
	}
	// Queued settlements not yet released are planned around the chain: take them out while it changes.
	now := s.nowLocked()
	b.unplanQueue(now)
	rs, err := b.newRecords(n)
	if err != nil {
		b.planQueue(now)
		return Item{}, err
	}
	b.add(rs...)
	if b.rebuild() < 0 {
		b.remove(rs...)
		b.planQueue(now)
		return Item{}, ErrInsufficientFunds
	}
	b.planQueue(now)
	return b.item(rs[0], now), nil
}

// newRecords checks n and makes its record (and a settlement's return), allocated and described.
func (b *business) newRecords(n NewItem) ([]*record, error) {
	info, ok := infoOf(n.Kind)
	switch {
	case !ok:
		return nil, fmt.Errorf("vandartest: unknown kind %q", n.Kind)
	case n.Kind == KindReturn:
		return nil, fmt.Errorf("vandartest: a return is made by its settlement; add a failed or cancelled settlement")
	case n.Amount <= 0 || n.Wage < 0:
		return nil, fmt.Errorf("vandartest: amount %d and wage %d: the amount must be positive, the wage not negative",
			n.Amount, n.Wage)
	case n.Kind == KindSettlement && n.Amount < 5_000:
		return nil, fmt.Errorf("vandartest: settlement of %d Toman: Vandar's minimum is 5,000", n.Amount)
	case n.CreatedAt.IsZero():
		return nil, fmt.Errorf("vandartest: CreatedAt is required")
	}
	// Vandar's timestamps have whole seconds; ids are built from them.
	n.CreatedAt = n.CreatedAt.Truncate(time.Second)
	n.ResolvedAt = n.ResolvedAt.Truncate(time.Second)
	if n.Status == 0 {
		n.Status = info.finals[0]
	}
	if !slices.Contains(info.finals, n.Status) {
		return nil, fmt.Errorf("vandartest: a %s cannot end in status %d (allowed: %v)", n.Kind, n.Status, info.finals)
	}
	if info.pending == 0 || n.ResolvedAt.IsZero() {
		n.ResolvedAt = n.CreatedAt
	}
	if n.ResolvedAt.Before(n.CreatedAt) {
		return nil, fmt.Errorf("vandartest: ResolvedAt %s is before CreatedAt %s", n.ResolvedAt, n.CreatedAt)
	}
	if n.RefundOf != 0 && b.byID[n.RefundOf] == nil {
		return nil, fmt.Errorf("vandartest: refund of unknown item %d: %w", n.RefundOf, ErrUnknownItem)
	}
	if n.Kind == KindSettlement {
		return b.newSettlement(n)
	}
	r := &record{kind: n.Kind, info: info, amount: n.Amount, wage: n.Wage, deposit: info.deposit && !n.Out,
		created: n.CreatedAt, resolved: n.ResolvedAt, final: n.Status, refundOf: n.RefundOf}
	if err := b.allocate(r); err != nil {
		return nil, err
	}
	b.describe(r)
	if n.Description != "" {
		r.det.description = n.Description
	}
	if n.FactorNumber != "" && r.kind == KindIPG {
		r.det.factorNumber = n.FactorNumber
	}
	return []*record{r}, nil
}

// Requests is how many requests an endpoint has received, whatever they were answered with (faults,
// errors and 429s included).
func (s *Server) Requests(ep Endpoint) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[ep]
}

// Throttled is how many 429s the rate limiter has served (injected ones not included).
func (s *Server) Throttled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttled
}

// PageCost is how many statement requests were answered (past faults and the rate limit), and the mean time
// one took, rendering and writing the page included: the simulator's own share of a client's page time.
func (s *Server) PageCost() (pages int, mean time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pages == 0 {
		return 0, 0
	}
	return s.pages, s.pageTime / time.Duration(s.pages)
}

// Inject arms a fault for the next n requests it matches.
func (s *Server) Inject(f Fault, n int) { s.faults.Inject(f, n) }

// InjectRate arms a fault for a share of the requests it matches (0 < rate <= 1), until ClearFaults; which
// requests is drawn from Options.Seed.
func (s *Server) InjectRate(f Fault, rate float64) { s.faults.InjectRate(f, rate) }

// ClearFaults disarms every fault.
func (s *Server) ClearFaults() { s.faults.Clear() }
