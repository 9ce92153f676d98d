// Package trust is mizan's trust boundary for events: what an event must be before the reconciler lets it
// touch the ledger, and what the poller does so that its events are.
//
// Anybody who can produce to mizan's topics can write any bytes there. So the reconciler takes an event as a
// provider's fact only if
//   - it is signed by the poller (HMAC-SHA256 with a key of the ring: events.Event.Verify), or passes
//     whatever other rule its event type has;
//   - it is about a source mizan knows: a (provider, account) some poller was configured with and registered
//     in recon.sources;
//   - its amounts are in a currency of ledger.currencies, with no more decimal places than the currency's
//     minor unit and at most its bound;
//   - its times are after ledger.limits' floor and at most its clock skew ahead of the reconciler's clock.
//
// The database enforces the same bounds on what reaches the ledger (migrations 00026); the checks here come
// first so that a bad event is refused by name before anything is written, and they cover the facts that
// never become postings too (balances, settlements, watermarks). docs/security.md has the whole threat model.
package trust

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
)

// ErrRefused is what every refusal is (errors.Is): the event itself is at fault, and it fails the same way
// however often it is tried. Any other error from Admit means it could not be judged (the database did not
// answer) and may be tried again.
var ErrRefused = errors.New("refused")

// Why an event is refused; a *Refusal wraps one of these, or one of events.ErrUnsigned, events.ErrUnknownKey
// and events.ErrBadSignature.
var (
	ErrNoRule          = errors.New("no trust rule for this event type")
	ErrUnknownSource   = errors.New("unknown source")
	ErrMismatch        = errors.New("the event's partition key is not its fact's provider account")
	ErrUnknownCurrency = errors.New("unknown currency")
	ErrAmount          = errors.New("amount out of bounds")
	ErrTime            = errors.New("time out of bounds")
)

// Refusal says which event was refused and why.
type Refusal struct {
	EventID string
	Type    string
	Err     error
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("event %s (%s) refused: %v", r.EventID, r.Type, r.Err)
}

// Unwrap returns the reason.
func (r *Refusal) Unwrap() error { return r.Err }

// Is makes every Refusal an ErrRefused.
func (r *Refusal) Is(target error) bool { return target == ErrRefused }

// Rule is the trust rule of one event type: nil if an event of that type may be believed.
type Rule func(ev events.Event) error

// SignedBy is the rule of the facts the poller publishes: signed with a key of ring.
func SignedBy(ring events.Keyring) Rule {
	return func(ev events.Event) error { return ev.Verify(ring) }
}

// ProviderFactTypes are the event types the poller publishes: facts about money as a provider reported it,
// and the items it could not understand (quarantined: they raise an alert, so a forged one must not).
var ProviderFactTypes = []string{events.TypeStatementItem, events.TypeBalance, events.TypeSettlement,
	events.TypeBatch, events.TypeWatermark, events.TypeQuarantined, events.TypeBankLine, events.TypeBankBalance}

// BusinessFactTypes are the event types a business's own systems publish for mizan: what they expect to be
// paid and to pay out (docs/matching.md). They move no money and are not signed with the poller's key — who may
// write their topic is a Kafka ACL — so their default rule is Unsigned; Config.Rules may replace it.
var BusinessFactTypes = []string{events.TypeExpected}

// Unsigned is the rule of an event type believed without a signature.
func Unsigned(events.Event) error { return nil }

// Config tunes a Gate.
type Config struct {
	// Keys verify the provider facts' signatures. Every key is accepted: a rotation lists the new key and the
	// old one. Required unless Rules gives every type a rule of its own.
	Keys events.Keyring
	// Rules are the trust rules by event type. Default: SignedBy(Keys) for each of ProviderFactTypes and
	// Unsigned for each of BusinessFactTypes; a rule given here replaces or adds to those. An event of a type
	// without a rule is refused.
	Rules map[string]Rule
	// Now is the clock an event's times are judged by. Default time.Now.
	Now func() time.Time
}

// Querier is how the gate reads the database: a *pgxpool.Pool.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Gate admits or refuses events. It is safe for concurrent use.
type Gate struct {
	rules map[string]Rule
	now   func() time.Time
	db    Querier

	floor time.Time     // ledger.limits.time_floor
	skew  time.Duration // ledger.limits.clock_skew

	mu         sync.RWMutex
	sources    map[string]bool // events.Key(provider, account) of every registered source
	currencies map[string]currency
}

// currency is a row of ledger.currencies.
type currency struct {
	minorUnits int32
	maxAbs     decimal.Decimal
	maxDigits  int64 // digits of maxAbs's integer part: an amount with more is beyond it
}

// New returns a gate that has read the known sources, the currencies and the limits from db. Its error is the
// database's as it is (an unmigrated database, a missing grant): a reconciler that cannot read them must not
// start.
func New(ctx context.Context, cfg Config, db Querier) (*Gate, error) {
	g := &Gate{rules: map[string]Rule{}, now: cfg.Now, db: db, sources: map[string]bool{}, currencies: map[string]currency{}}
	if g.now == nil {
		g.now = time.Now
	}
	if len(cfg.Keys) > 0 {
		for _, typ := range ProviderFactTypes {
			g.rules[typ] = SignedBy(cfg.Keys)
		}
	}
	for _, typ := range BusinessFactTypes {
		g.rules[typ] = Unsigned
	}
	for typ, rule := range cfg.Rules {
		if rule != nil {
			g.rules[typ] = rule
		}
	}
	for _, typ := range ProviderFactTypes {
		if g.rules[typ] == nil {
			return nil, fmt.Errorf("trust: no rule for %s: signing keys are required", typ)
		}
	}
	var skew float64
	if err := db.QueryRow(ctx, `SELECT time_floor, extract(epoch FROM clock_skew)::float8 FROM ledger.limits`).
		Scan(&g.floor, &skew); err != nil {
		return nil, fmt.Errorf("trust: read ledger.limits: %w", err)
	}
	g.skew = time.Duration(skew * float64(time.Second))
	rows, _ := db.Query(ctx, `SELECT provider, account FROM recon.sources`)
	sources, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ Provider, Account string }])
	if err != nil {
		return nil, fmt.Errorf("trust: read recon.sources: %w", err)
	}
	for _, s := range sources {
		g.sources[events.Key(s.Provider, s.Account)] = true
	}
	rows, _ = db.Query(ctx, `SELECT code, minor_units, max_abs_amount::text FROM ledger.currencies`)
	currencies, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct {
		Code       string
		MinorUnits int32
		MaxAbs     string
	}])
	if err != nil {
		return nil, fmt.Errorf("trust: read ledger.currencies: %w", err)
	}
	for _, c := range currencies {
		if g.currencies[c.Code], err = newCurrency(c.MinorUnits, c.MaxAbs); err != nil {
			return nil, fmt.Errorf("trust: ledger.currencies %s: %w", c.Code, err)
		}
	}
	return g, nil
}

func newCurrency(minor int32, max string) (currency, error) {
	d, err := decimal.NewFromString(max)
	if err != nil {
		return currency{}, fmt.Errorf("max_abs_amount %q: %w", max, err)
	}
	return currency{minorUnits: minor, maxAbs: d, maxDigits: int64(d.NumDigits()) + int64(d.Exponent())}, nil
}

// Admit says whether ev, whose payload was decoded into fact, may be applied: nil, a *Refusal (errors.Is
// ErrRefused) naming the event and what is wrong with it, or another error if the database could not be
// asked (the event is then neither admitted nor refused: try again).
func (g *Gate) Admit(ctx context.Context, ev events.Event, fact any) error {
	refuse := func(err error) error { return &Refusal{EventID: ev.ID, Type: ev.Type, Err: err} }
	rule, ok := g.rules[ev.Type]
	if !ok {
		return refuse(ErrNoRule)
	}
	if err := rule(ev); err != nil {
		return refuse(err)
	}
	c := check{g: g, now: g.now()}
	if err := c.time("event time", ev.Time); err != nil {
		return refuse(err)
	}
	provider, account, ok := providerAccount(fact)
	if !ok {
		return nil // not a provider's fact: its rule is all there is
	}
	if ev.Key != events.Key(provider, account) {
		return refuse(fmt.Errorf("%w: key %q, fact about %s/%s", ErrMismatch, ev.Key, provider, account))
	}
	known, err := g.known(ctx, provider, account)
	if err != nil {
		return err
	}
	if !known {
		return refuse(fmt.Errorf("%w: %s account %q is not in recon.sources (no poller is configured for it)",
			ErrUnknownSource, provider, account))
	}
	if err := c.fact(ctx, fact); err != nil {
		if errors.Is(err, errBounds) {
			return refuse(err)
		}
		return err
	}
	return nil
}

// known reports whether (provider, account) is a registered source. A source registered since the gate last
// looked (a poller started with a new one) is looked up on the first miss, so it works without a restart.
func (g *Gate) known(ctx context.Context, provider, account string) (bool, error) {
	key := events.Key(provider, account)
	g.mu.RLock()
	ok := g.sources[key]
	g.mu.RUnlock()
	if ok {
		return true, nil
	}
	if err := g.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM recon.sources WHERE provider = $1 AND account = $2)`,
		provider, account).Scan(&ok); err != nil {
		return false, fmt.Errorf("trust: look up source %s: %w", key, err)
	}
	if ok {
		g.mu.Lock()
		g.sources[key] = true
		g.mu.Unlock()
	}
	return ok, nil
}

// currency returns a currency's bounds, looking up one added to ledger.currencies since the gate started.
func (g *Gate) currency(ctx context.Context, code string) (currency, bool, error) {
	g.mu.RLock()
	c, ok := g.currencies[code]
	g.mu.RUnlock()
	if ok {
		return c, true, nil
	}
	var minor int32
	var max string
	err := g.db.QueryRow(ctx, `SELECT minor_units, max_abs_amount::text FROM ledger.currencies WHERE code = $1`, code).
		Scan(&minor, &max)
	if errors.Is(err, pgx.ErrNoRows) {
		return currency{}, false, nil
	}
	if err != nil {
		return currency{}, false, fmt.Errorf("trust: look up currency %q: %w", code, err)
	}
	if c, err = newCurrency(minor, max); err != nil {
		return currency{}, false, fmt.Errorf("trust: ledger.currencies %s: %w", code, err)
	}
	g.mu.Lock()
	g.currencies[code] = c
	g.mu.Unlock()
	return c, true, nil
}

// providerAccount returns the provider account a provider's fact is about.
func providerAccount(fact any) (provider, account string, ok bool) {
	switch f := fact.(type) {
	case events.StatementItem:
		return f.Provider, f.Account, true
	case events.Balance:
		return f.Provider, f.Account, true
	case events.Settlement:
		return f.Provider, f.Account, true
	case events.Batch:
		return f.Provider, f.Account, true
	case events.Watermark:
		return f.Provider, f.Account, true
	case events.Quarantined:
		return f.Provider, f.Account, true
	case events.BankLine:
		return f.Provider, f.IBAN, true
	case events.BankBalance:
		return f.Provider, f.IBAN, true
	}
	return "", "", false
}
