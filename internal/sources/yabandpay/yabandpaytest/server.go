package yabandpaytest

import (
	"cmp"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/http/httptest"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/sources/simfault"
)

// Defaults for Options and MerchantOptions.
const (
	DefaultUser         = "036870" // the documents' example super-admin UID
	DefaultMaxSkew      = 5 * time.Minute
	DefaultRateLimit    = 10 // requests per RateWindow and client address, when rate limiting is on
	DefaultRateWindow   = time.Second
	DefaultPaymentEvery = 10 * time.Minute
)

// Options configure a Server. The zero value is a usable simulator of one merchant, DefaultUser, with EUR and
// CHF wallets, on the real clock.
type Options struct {
	// Merchants to simulate. Default: one, MerchantOptions{User: DefaultUser}.
	Merchants []MerchantOptions
	// Now is the simulated clock. It decides the balances (activity up to now), which request times are
	// stale, and which nonces are remembered. Default time.Now; SetNow and Advance move it.
	Now func() time.Time
	// Wall is the real clock that paces the rate limit: requests arrive in real time even when a test has
	// moved the simulated clock by days. Default time.Now.
	Wall func() time.Time
	// MaxSkew is how far a request's `time` may be from the simulated clock, either way, before the request
	// is refused as stale. YabandPay does not document one; five minutes is common for signed APIs.
	// Default DefaultMaxSkew.
	MaxSkew time.Duration
	// RateLimit, when positive, allows that many requests per client address in any RateWindow of Wall time;
	// over that, 429 with Retry-After. YabandPay documents no limit: DefaultRateLimit is the simulator's
	// choice. Default 0: no limit.
	RateLimit int
	// RateWindow is the rate limit's window. Default DefaultRateWindow.
	RateWindow time.Duration
	// NumericCode answers `code` as the number 200 (as the documents' Reports example does) instead of the
	// string "200" (as every other example does).
	NumericCode bool
	// Shapes writes the answers in other shapes than the documented ones (see Shape; SetShapes changes them
	// later). Default 0: the documented shapes, byte for byte.
	Shapes Shape
	// Seed drives the rate-armed faults (InjectRate). The merchants' activity has its own seeds.
	Seed int64
}

// MerchantOptions describe one merchant and how its wallets move.
type MerchantOptions struct {
	// User is the UID of the merchant's super-admin account, the only one allowed to ask for balances.
	// Default DefaultUser.
	User string
	// SecretKey signs the merchant's requests. Default: a random key, which SecretKey tells.
	SecretKey string
	// Operators are UIDs of the merchant's operator and cashier accounts. They sign with the merchant's key
	// (the simulator gives them no keys of their own) and are refused the balance: no permission.
	Operators []string
	// Currencies are the merchant's wallets. Default: EUR and CHF, the documents' examples.
	Currencies []CurrencyOptions
	// WalletID is reported as wallet_id. Default: "WA" and twelve digits drawn from Seed.
	WalletID string
	// Seed makes the activity: the same seed and start always give the same balances at the same times.
	Seed int64
	// Start is when activity begins. Default: the simulated clock's time when the merchant is added.
	Start time.Time
	// PaymentEvery is the mean time between payments into each wallet. Default DefaultPaymentEvery.
	PaymentEvery time.Duration
	// Quiet generates no activity: balances change only through the knobs (SetReserve, SetDeposit,
	// DropAvailable, SetFigures).
	Quiet bool
	// UsableAddsReserve reports usable as available + reserve, as the documents' example does. Default:
	// available − reserve, as their text says. mizan's client must record whichever it is told.
	UsableAddsReserve bool
}

// CurrencyOptions describe one wallet.
type CurrencyOptions struct {
	// Currency is its ISO 4217 code, e.g. EUR.
	Currency string
	// Opening are the figures when activity starts (Usable is computed by the merchant's rule). Default:
	// available drawn from the merchant's seed, reserve 200.00 and deposit 20.00 as in the documents' example.
	Opening *Figures
}

// Refusal is why the simulator refused a request with {"status":false,...}. YabandPay publishes no error
// codes (providers/facts.md 1.6); the simulator's codes and messages are its own choice, HTTP-like so that
// they read well.
type Refusal string

// The refusals, each with its code.
const (
	RefusedBadRequest          Refusal = "bad request"          // 400: not JSON, a field missing or of the wrong type
	RefusedUnknownUser         Refusal = "unknown user"         // 401: no account with that UID
	RefusedBadSign             Refusal = "bad sign"             // 401: the signature does not match
	RefusedNoPermission        Refusal = "no permission"        // 403: an operator or cashier asked for the balance
	RefusedUnknownMethod       Refusal = "unknown method"       // 404: an API method the simulator does not serve
	RefusedUnknownCommand      Refusal = "unknown command"      // 404: a command the method does not have
	RefusedStaleTime           Refusal = "stale time"           // 408: `time` further than MaxSkew from the clock
	RefusedReplayedNonce       Refusal = "replayed nonce"       // 409: a nonce_string the user has sent before
	RefusedUnsupportedCurrency Refusal = "unsupported currency" // 422: the merchant has no wallet in it
)

// Code is the `code` the simulator answers the refusal with.
func (r Refusal) Code() string {
	switch r {
	case RefusedBadRequest:
		return "400"
	case RefusedUnknownUser, RefusedBadSign:
		return "401"
	case RefusedNoPermission:
		return "403"
	case RefusedUnknownMethod, RefusedUnknownCommand:
		return "404"
	case RefusedStaleTime:
		return "408"
	case RefusedReplayedNonce:
		return "409"
	case RefusedUnsupportedCurrency:
		return "422"
	}
	return "500"
}

// Server is a simulated YabandPay merchant API: POST /Payments over merchants whose balances move on a
// simulated clock, with every request's signature checked, optional rate limiting, fault injection and knobs
// that plant discrepancies. It is safe for concurrent use. NewServer also serves it on loopback, like
// httptest.NewServer.
type Server struct {
	// URL is the base URL (http://127.0.0.1:port) when the Server was started by NewServer; requests go to
	// URL + "/Payments".
	URL string
	hs  *httptest.Server

	wall        func() time.Time
	maxSkew     time.Duration
	rateLimit   int
	rateWindow  time.Duration
	numericCode bool
	shapes      Shape
	faults      *simfault.Set[Fault] // guarded by its own lock

	mu        sync.Mutex
	clock     simfault.Clock // SetNow and Advance move it
	merchants map[string]*merchant
	operators map[string]*merchant
	users     []string // super-admin UIDs, in the order added
	nonces    map[string]time.Time
	limiter   simfault.Limiter
	requests  int
	throttled int
	refused   map[Refusal]int
}

// merchant is one simulated merchant.
type merchant struct {
	opts       MerchantOptions
	wallets    map[string]*wallet
	currencies []string // in the order added
}

// New builds a Server; it does not listen. Serve it with any http.Server, or use NewServer.
func New(opts Options) (*Server, error) {
	s := &Server{
		clock:       simfault.NewClock(opts.Now),
		wall:        simfault.OrNow(opts.Wall),
		maxSkew:     cmp.Or(opts.MaxSkew, DefaultMaxSkew),
		rateLimit:   opts.RateLimit,
		rateWindow:  cmp.Or(opts.RateWindow, DefaultRateWindow),
		numericCode: opts.NumericCode,
		shapes:      opts.Shapes,
		merchants:   map[string]*merchant{},
		operators:   map[string]*merchant{},
		nonces:      map[string]time.Time{},
		faults:      simfault.NewSet[Fault](rand.New(rand.NewPCG(uint64(opts.Seed), 0x79616261))),
		refused:     map[Refusal]int{},
	}
	ms := opts.Merchants
	if len(ms) == 0 {
		ms = []MerchantOptions{{}}
	}
	for _, m := range ms {
		if err := s.AddMerchant(m); err != nil {
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

var currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)

// AddMerchant adds a merchant with its wallets.
func (s *Server) AddMerchant(o MerchantOptions) error {
	o.User = cmp.Or(o.User, DefaultUser)
	if o.SecretKey == "" {
		o.SecretKey = randomKey()
	}
	if len(o.Currencies) == 0 {
		o.Currencies = []CurrencyOptions{{Currency: "EUR"}, {Currency: "CHF"}}
	}
	o.PaymentEvery = cmp.Or(o.PaymentEvery, DefaultPaymentEvery)
	if o.WalletID == "" {
		r := rand.New(rand.NewPCG(uint64(o.Seed), 0x77616c6c6574))
		o.WalletID = fmt.Sprintf("WA%012d", r.Int64N(1_000_000_000_000))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, uid := range append([]string{o.User}, o.Operators...) {
		if uid == "" {
			return errors.New("yabandpaytest: an operator UID is empty")
		}
		if s.merchants[uid] != nil || s.operators[uid] != nil {
			return fmt.Errorf("yabandpaytest: account %q added twice", uid)
		}
	}
	if o.Start.IsZero() {
		o.Start = s.nowLocked()
	}
	m := &merchant{opts: o, wallets: map[string]*wallet{}}
	currencies := o.Currencies
	m.opts.Currencies = nil
	for _, c := range currencies {
		if err := m.addCurrency(c); err != nil {
			return err
		}
	}
	s.merchants[o.User] = m
	for _, uid := range o.Operators {
		s.operators[uid] = m
	}
	s.users = append(s.users, o.User)
	return nil
}

// AddCurrency opens a wallet in another currency for a merchant; its activity starts at the merchant's
// Start.
func (s *Server) AddCurrency(user string, c CurrencyOptions) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.merchant(user)
	if err != nil {
		return err
	}
	return m.addCurrency(c)
}

func (m *merchant) addCurrency(c CurrencyOptions) error {
	if !currencyCode.MatchString(c.Currency) {
		return fmt.Errorf("yabandpaytest: %q is not an ISO 4217 code", c.Currency)
	}
	if m.wallets[c.Currency] != nil {
		return fmt.Errorf("yabandpaytest: merchant %s: currency %s added twice", m.opts.User, c.Currency)
	}
	var opening Figures
	if c.Opening != nil {
		opening = *c.Opening
	} else {
		h := fnv.New64a()
		h.Write([]byte(c.Currency))
		r := rand.New(rand.NewPCG(uint64(m.opts.Seed), h.Sum64()))
		opening = Figures{Available: cents(100_000 + r.Int64N(10_000_000)), Reserve: cents(20_000), Deposit: cents(2_000)}
	}
	usable := func(available, reserve decimal.Decimal) decimal.Decimal { return available.Sub(reserve) }
	if m.opts.UsableAddsReserve {
		usable = func(available, reserve decimal.Decimal) decimal.Decimal { return available.Add(reserve) }
	}
	m.wallets[c.Currency] = newWallet(c.Currency, opening, m.opts.Seed, m.opts.Start, m.opts.PaymentEvery,
		m.opts.Quiet, usable)
	m.currencies = append(m.currencies, c.Currency)
	m.opts.Currencies = append(m.opts.Currencies, c)
	return nil
}

func randomKey() string {
	b := make([]byte, 16)
	_, _ = crand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

// Merchants returns the super-admin UIDs of the simulated merchants, in the order added.
func (s *Server) Merchants() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.users)
}

// SecretKey is the merchant's secret key: what its owner would copy from YabandPay's dashboard.
func (s *Server) SecretKey(user string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.merchant(user)
	if err != nil {
		return "", err
	}
	return m.opts.SecretKey, nil
}

// Currencies lists the merchant's wallets, in the order added.
func (s *Server) Currencies(user string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.merchant(user)
	if err != nil {
		return nil, err
	}
	return slices.Clone(m.currencies), nil
}

func (s *Server) merchant(user string) (*merchant, error) {
	m := s.merchants[user]
	if m == nil {
		return nil, fmt.Errorf("yabandpaytest: unknown merchant %q", user)
	}
	return m, nil
}

func (s *Server) wallet(user, currency string) (*wallet, error) {
	m, err := s.merchant(user)
	if err != nil {
		return nil, err
	}
	w := m.wallets[currency]
	if w == nil {
		return nil, fmt.Errorf("yabandpaytest: merchant %s has no %s wallet", user, currency)
	}
	return w, nil
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

// Balance is what the balance call would report now for the merchant's wallet: the truth a test compares
// the client's answer with.
func (s *Server) Balance(user, currency string) (Figures, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, err := s.wallet(user, currency)
	if err != nil {
		return Figures{}, err
	}
	return w.at(s.nowLocked()), nil
}

// SetReserve sets the wallet's reserve from now on, as YabandPay recalculating a rolling reserve would.
func (s *Server) SetReserve(user, currency string, reserve decimal.Decimal) error {
	return s.plant(user, currency, move{kind: moveReserve, amount: reserve})
}

// SetDeposit sets the wallet's frozen deposit from now on.
func (s *Server) SetDeposit(user, currency string, deposit decimal.Decimal) error {
	return s.plant(user, currency, move{kind: moveDeposit, amount: deposit})
}

// DropAvailable takes amount out of the wallet's available balance now, with no payout to explain it: the
// discrepancy the reconciler's "available fell" check exists for.
func (s *Server) DropAvailable(user, currency string, amount decimal.Decimal) error {
	return s.plant(user, currency, move{kind: moveDrop, amount: amount})
}

// SetFigures sets all four figures from now on exactly as given — usable included, whatever the merchant's
// rule — for tests of figures that contradict each other. Later activity moves on from them.
func (s *Server) SetFigures(user, currency string, f Figures) error {
	return s.plant(user, currency, move{kind: moveSetFigures, figures: f})
}

func (s *Server) plant(user, currency string, m move) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, err := s.wallet(user, currency)
	if err != nil {
		return err
	}
	m.at = s.nowLocked()
	w.plant(m)
	return nil
}

// Requests is how many requests the Server has received, whatever they were answered with (faults,
// refusals and 429s included).
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Throttled is how many 429s the rate limit has served (injected ones not included).
func (s *Server) Throttled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttled
}

// Refused is how many requests were refused for reason r.
func (s *Server) Refused(r Refusal) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused[r]
}

// Inject arms a fault for the next n requests.
func (s *Server) Inject(f Fault, n int) { s.faults.Inject(f, n) }

// InjectRate arms a fault for a share of the requests (0 < rate <= 1), until ClearFaults; which requests is
// drawn from Options.Seed.
func (s *Server) InjectRate(f Fault, rate float64) { s.faults.InjectRate(f, rate) }

// ClearFaults disarms every fault.
func (s *Server) ClearFaults() { s.faults.Clear() }
