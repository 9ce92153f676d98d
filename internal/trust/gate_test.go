package trust_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/config"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/pgtest"
	"github.com/mizanhq/mizan/internal/sources/vandar"
	"github.com/mizanhq/mizan/internal/sources/yabandpay"
	"github.com/mizanhq/mizan/internal/trust"
)

// now is the gate's clock in these tests.
var now = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func key(t testing.TB, id string) events.SigningKey {
	t.Helper()
	k, err := events.NewSigningKey(id, []byte(strings.Repeat(id+"-secret-", 8)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// bundle is a migrated database with the sources vandar/acme and yabandpay/036870 registered, and a gate
// that reads it as the runtime role, verifying with the keys "new" (active) and "old".
type bundle struct {
	ctx        context.Context
	owner, app *pgxpool.Pool
	gate       *trust.Gate
	newKey     events.SigningKey
	oldKey     events.SigningKey
}

func setup(t *testing.T) *bundle {
	t.Helper()
	ctx := context.Background()
	owner, url := pgtest.NewDB(t)
	b := &bundle{ctx: ctx, owner: owner, app: pgtest.AppPool(t, url), newKey: key(t, "new"), oldKey: key(t, "old")}
	if err := trust.Register(ctx, b.app, config.Sources{Sources: []config.Source{
		{Name: "vandar-acme", Provider: events.ProviderVandar, Settings: vandar.Settings{Business: "acme"}},
		{Name: "yabandpay-036870", Provider: events.ProviderYabandPay, Settings: yabandpay.Settings{User: "036870"}},
	}}, "test"); err != nil {
		t.Fatal(err)
	}
	gate, err := trust.New(ctx, trust.Config{Keys: events.Keyring{b.newKey, b.oldKey}, Now: func() time.Time { return now }}, b.app)
	if err != nil {
		t.Fatal(err)
	}
	b.gate = gate
	return b
}

// admit runs fact through the gate as the reconciler does: made into an event, signed with k (unless k is
// the zero key), encoded, decoded, and its data decoded again.
func (b *bundle) admit(t *testing.T, fact interface{ Event() (events.Event, error) }, k events.SigningKey) error {
	t.Helper()
	ev, err := fact.Event()
	if err != nil {
		t.Fatal(err)
	}
	return b.admitEvent(t, ev, k)
}

func (b *bundle) admitEvent(t *testing.T, ev events.Event, k events.SigningKey) error {
	t.Helper()
	if k.ID() != "" {
		var err error
		if ev, err = ev.Sign(k); err != nil {
			t.Fatal(err)
		}
	}
	wire, err := ev.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := events.Decode(wire)
	if err != nil {
		t.Fatal(err)
	}
	return b.gate.Admit(b.ctx, back, decodeFact(t, back))
}

func decodeFact(t *testing.T, ev events.Event) any {
	t.Helper()
	var (
		fact any
		err  error
	)
	switch ev.Type {
	case events.TypeStatementItem:
		fact, err = events.DecodeData[events.StatementItem](ev)
	case events.TypeBalance:
		fact, err = events.DecodeData[events.Balance](ev)
	case events.TypeSettlement:
		fact, err = events.DecodeData[events.Settlement](ev)
	case events.TypeBatch:
		fact, err = events.DecodeData[events.Batch](ev)
	case events.TypeWatermark:
		fact, err = events.DecodeData[events.Watermark](ev)
	default:
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return fact
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func statementItem() events.StatementItem {
	at := now.Add(-time.Hour)
	w := dec("2000000")
	return events.StatementItem{Provider: events.ProviderVandar, Account: "acme", ItemID: "1001", StatusCode: 1,
		Kind: events.KindPayment, State: events.StateSucceeded, Direction: events.DirectionIn, Channel: "ipg",
		Amount: dec("150000"), Fee: dec("1500"), Currency: events.CurrencyToman, MovedWallet: true, WalletAfter: &w,
		CreatedAt: at, EffectiveAt: at, Raw: json.RawMessage(`{"id":1001}`)}
}

func balance() events.Balance {
	return events.Balance{Provider: events.ProviderYabandPay, Account: "036870", Currency: "EUR", Amount: dec("1234.56"),
		Figures:    map[string]decimal.Decimal{"available": dec("1234.56"), "reserve": dec("10.00")},
		ObservedAt: now.Add(-time.Minute), Raw: json.RawMessage(`{}`)}
}

func settlement() events.Settlement {
	return events.Settlement{Provider: events.ProviderVandar, Account: "acme", SettlementID: "s-1", Status: events.SettlementPending,
		Amount: dec("50000"), Fee: dec("0"), Currency: events.CurrencyToman, ObservedAt: now.Add(-time.Minute),
		PredictedAt: now.AddDate(0, 0, 3), Raw: json.RawMessage(`{}`)}
}

func batch() events.Batch {
	return events.Batch{Provider: events.ProviderVandar, Account: "acme", BatchID: "b-1", Currency: events.CurrencyToman,
		TotalCount: 1, TotalAmount: dec("70000"), Counts: map[string]int{"done": 1}, Amounts: map[string]decimal.Decimal{"done": dec("70000")},
		Items: []events.BatchItem{{ID: "i-1", Amount: dec("70000"), Status: events.SettlementDone}}, ItemsRead: true,
		ObservedAt: now.Add(-time.Minute), Raw: json.RawMessage(`{}`)}
}

func watermark() events.Watermark {
	return events.Watermark{Provider: events.ProviderVandar, Account: "acme", Feed: events.FeedStatement, Source: "vandar-acme",
		Through: now.Add(-10 * time.Second), PolledAt: now}
}

type fact = interface{ Event() (events.Event, error) }

func TestSignedFactsOfKnownSourcesAreAdmitted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for name, f := range map[string]fact{"statement item": statementItem(), "balance": balance(),
		"settlement": settlement(), "batch": batch(), "watermark": watermark()} {
		if err := b.admit(t, f, b.newKey); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestUnsignedAndMisSignedFactsAreRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	forged, err := events.NewSigningKey("new", []byte(strings.Repeat("forged-", 8)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		key  events.SigningKey
		want error
	}{
		{"unsigned", events.SigningKey{}, events.ErrUnsigned},
		{"signed with another secret under the active key's id", forged, events.ErrBadSignature},
		{"signed with a key the reconciler does not hold", key(t, "stolen"), events.ErrUnknownKey},
	} {
		for name, f := range map[string]fact{"statement item": statementItem(), "balance": balance(), "watermark": watermark()} {
			err := b.admit(t, f, tc.key)
			if !errors.Is(err, trust.ErrRefused) || !errors.Is(err, tc.want) {
				t.Errorf("%s %s: %v, want a refusal for %v", tc.name, name, err, tc.want)
			}
		}
	}
	// Changed after it was signed: the amount.
	ev, err := statementItem().Event()
	if err != nil {
		t.Fatal(err)
	}
	ev, err = ev.Sign(b.newKey)
	if err != nil {
		t.Fatal(err)
	}
	ev.Data = json.RawMessage(strings.Replace(string(ev.Data), `"amount":"150000"`, `"amount":"1500000"`, 1))
	if err := b.gate.Admit(b.ctx, ev, decodeFact(t, ev)); !errors.Is(err, events.ErrBadSignature) {
		t.Errorf("an amount changed after signing: %v, want ErrBadSignature", err)
	}
	// Every refusal names its event.
	err = b.admit(t, statementItem(), events.SigningKey{})
	ev, _ = statementItem().Event()
	if err == nil || !strings.Contains(err.Error(), ev.ID) || !strings.Contains(err.Error(), events.TypeStatementItem) {
		t.Errorf("the refusal does not name the event %s: %v", ev.ID, err)
	}
}

func TestDuringARotationTheSecondKeyIsAccepted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, k := range []events.SigningKey{b.oldKey, b.newKey} {
		if err := b.admit(t, statementItem(), k); err != nil {
			t.Errorf("signed with %s: %v", k.ID(), err)
		}
	}
}

func TestFactsOfUnknownSourcesAreRefusedUntilTheSourceIsRegistered(t *testing.T) {
	t.Parallel()
	b := setup(t)
	it := statementItem()
	it.Account = "globex"
	bal := balance()
	bal.Account = "999999"
	for name, f := range map[string]fact{"an unknown Vandar business": it, "an unknown YabandPay merchant": bal} {
		if err := b.admit(t, f, b.newKey); !errors.Is(err, trust.ErrUnknownSource) || !errors.Is(err, trust.ErrRefused) {
			t.Errorf("%s: %v, want ErrUnknownSource", name, err)
		}
	}
	// A poller started with globex in its sources file registers it; the running gate accepts it at once.
	if err := trust.Register(b.ctx, b.app, config.Sources{Sources: []config.Source{
		{Name: "vandar-globex", Provider: events.ProviderVandar, Settings: vandar.Settings{Business: "globex"}}}}, "poller"); err != nil {
		t.Fatal(err)
	}
	if err := b.admit(t, it, b.newKey); err != nil {
		t.Errorf("after registering globex: %v", err)
	}
	var by string
	if err := b.owner.QueryRow(b.ctx, `SELECT registered_by FROM recon.sources WHERE account = 'globex'`).Scan(&by); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(by, "poller@") {
		t.Errorf("registered_by = %q, want poller@<host>", by)
	}
}

func TestAFactWhosePartitionKeyIsAnotherAccountsIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ev, err := statementItem().Event()
	if err != nil {
		t.Fatal(err)
	}
	ev.Key = events.Key(events.ProviderYabandPay, "036870") // signed with it, so only the check can tell
	if err := b.admitEvent(t, ev, b.newKey); !errors.Is(err, trust.ErrMismatch) {
		t.Errorf("%v, want ErrMismatch", err)
	}
}

func TestAmountsMustFitTheirCurrency(t *testing.T) {
	t.Parallel()
	b := setup(t)
	item := func(amount, fee, currency string) events.StatementItem {
		it := statementItem()
		it.Amount, it.Fee, it.Currency, it.WalletAfter = dec(amount), dec(fee), currency, nil
		return it
	}
	withWallet := func(w string) events.StatementItem {
		it := statementItem()
		d := dec(w)
		it.WalletAfter = &d
		return it
	}
	figure := func(v string) events.Balance {
		bal := balance()
		bal.Figures["reserve"] = dec(v)
		return bal
	}
	batchItem := func(v string) events.Batch {
		bt := batch()
		bt.Items[0].Amount = dec(v)
		return bt
	}
	refused := map[string]fact{
		"1e400 tomans":                             item("1e400", "0", "IRT"),
		"an exponent of 9999":                      item("1e9999", "0", "IRT"),
		"a fee of 1e400":                           item("1000", "1e400", "IRT"),
		"12.345 tomans":                            item("12.345", "0", "IRT"),
		"a toman and 1e-9999":                      item("1e-9999", "0", "IRT"),
		"a fee of 0.5 tomans":                      item("1000", "0.5", "IRT"),
		"0.001 euros":                              item("0.001", "0", "EUR"),
		"a currency the ledger does not take":      item("10", "0", "XYZ"),
		"no currency":                              item("10", "0", ""),
		"a wallet of 1e400":                        withWallet("1e400"),
		"a wallet of 0.1 tomans":                   withWallet("0.1"),
		"a reported reserve of 1e400 euros":        figure("1e400"),
		"a reported reserve of 0.001 euros":        figure("0.001"),
		"a batch item of 12.5 tomans":              batchItem("12.5"),
		"one toman more than the bound (1e15 + 1)": item("1000000000000001", "0", "IRT"),
	}
	for name, f := range refused {
		err := b.admit(t, f, b.newKey)
		if !errors.Is(err, trust.ErrRefused) || !(errors.Is(err, trust.ErrAmount) || errors.Is(err, trust.ErrUnknownCurrency)) {
			t.Errorf("%s: %v, want a refusal of the amount", name, err)
		} else if len(err.Error()) > 600 {
			t.Errorf("%s: the refusal is %d characters long", name, len(err.Error()))
		}
	}
	admitted := map[string]fact{
		"12 tomans written 12.000":  item("12.000", "0", "IRT"),
		"minus zero":                item("-0", "-0.00", "IRT"),
		"zero written 0e9":          item("1000", "0e9", "IRT"),
		"12.30 euros":               item("12.30", "0.25", "EUR"),
		"exactly the bound":         item("1000000000000000", "0", "IRT"),
		"1.5e3 tomans":              item("1.5e3", "0", "IRT"),
		"three places of a dinar":   item("1.234", "0", "KWD"),
		"a batch of whole tomans":   batch(),
		"a balance with its figure": figure("0.01"),
	}
	for name, f := range admitted {
		if err := b.admit(t, f, b.newKey); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestTimesMustBeAfterTheFloorAndNotInTheFuture(t *testing.T) {
	t.Parallel()
	b := setup(t)
	end := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	at := func(eff time.Time) events.StatementItem {
		it := statementItem()
		it.EffectiveAt, it.CreatedAt = eff, eff
		return it
	}
	created := func(c time.Time) events.StatementItem {
		it := statementItem()
		it.CreatedAt = c
		return it
	}
	refused := map[string]fact{
		"an item effective on 9999-12-31":  at(end),
		"an item created on 9999-12-31":    created(end),
		"an item effective in 2014":        at(time.Date(2014, 12, 31, 23, 59, 0, 0, time.UTC)),
		"an item ten minutes ahead":        at(now.Add(10 * time.Minute)),
		"a balance observed on 9999-12-31": func() events.Balance { x := balance(); x.ObservedAt = end; return x }(),
		"a watermark through 9999-12-31":   func() events.Watermark { x := watermark(); x.Through = end; return x }(),
		"a settlement settled in 9999":     func() events.Settlement { x := settlement(); x.SettledAt = end; return x }(),
		"a batch observed in 2001": func() events.Batch {
			x := batch()
			x.ObservedAt = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
			return x
		}(),
		"a watermark polled an hour ahead": func() events.Watermark { x := watermark(); x.PolledAt = now.Add(time.Hour); return x }(),
		"an item created before the floor": created(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)),
	}
	for name, f := range refused {
		if err := b.admit(t, f, b.newKey); !errors.Is(err, trust.ErrTime) || !errors.Is(err, trust.ErrRefused) {
			t.Errorf("%s: %v, want ErrTime", name, err)
		}
	}
	admitted := map[string]fact{
		"an item four minutes ahead (within the skew)": at(now.Add(4 * time.Minute)),
		"an item on the floor":                         at(time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)),
		"a settlement predicted three days ahead":      settlement(),
	}
	for name, f := range admitted {
		if err := b.admit(t, f, b.newKey); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The envelope's own time too.
	ev, err := watermark().Event()
	if err != nil {
		t.Fatal(err)
	}
	ev.Time = end
	if err := b.admitEvent(t, ev, b.newKey); !errors.Is(err, trust.ErrTime) {
		t.Errorf("an event whose time is 9999-12-31: %v, want ErrTime", err)
	}
}

func TestTheBoundsAreTheDatabasesConfiguration(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// The owner narrows them; a gate started afterwards judges by the new ones.
	if _, err := b.owner.Exec(b.ctx, `UPDATE ledger.limits SET time_floor = '2026-01-01', clock_skew = '1 minute';
		UPDATE ledger.currencies SET max_abs_amount = 100000 WHERE code = 'IRT'`); err != nil {
		t.Fatal(err)
	}
	gate, err := trust.New(b.ctx, trust.Config{Keys: events.Keyring{b.newKey}, Now: func() time.Time { return now }}, b.app)
	if err != nil {
		t.Fatal(err)
	}
	b.gate = gate
	early := statementItem()
	early.EffectiveAt, early.CreatedAt = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	ahead := statementItem()
	ahead.EffectiveAt = now.Add(2 * time.Minute)
	big := statementItem() // 150,000 tomans
	for name, f := range map[string]fact{"before the new floor": early, "beyond the new skew": ahead, "beyond the new bound": big} {
		if err := b.admit(t, f, b.newKey); !errors.Is(err, trust.ErrRefused) {
			t.Errorf("%s: %v, want a refusal", name, err)
		}
	}
	// And the runtime role cannot widen them.
	if _, err := b.app.Exec(b.ctx, `UPDATE ledger.limits SET clock_skew = '1 day'`); err == nil {
		t.Error("the runtime role changed ledger.limits")
	}
}

func TestEachEventTypeHasItsOwnTrustRule(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const expected = "io.mizan.expected.v1" // produced by a business's own systems, carrying no money
	gate, err := trust.New(b.ctx, trust.Config{Keys: events.Keyring{b.newKey}, Now: func() time.Time { return now },
		Rules: map[string]trust.Rule{expected: func(ev events.Event) error {
			if !strings.HasPrefix(ev.Source, "/acme/") {
				return errors.New("not from acme's systems")
			}
			return nil
		}}}, b.app)
	if err != nil {
		t.Fatal(err)
	}
	ev := events.Event{ID: "x-1", Type: expected, Source: "/acme/orders", Time: now, Key: "acme", Data: json.RawMessage(`{}`)}
	if err := gate.Admit(b.ctx, ev, nil); err != nil {
		t.Errorf("an expectation under its own rule: %v", err)
	}
	ev.Source = "/somebody/else"
	if err := gate.Admit(b.ctx, ev, nil); !errors.Is(err, trust.ErrRefused) {
		t.Errorf("an expectation its rule refuses: %v", err)
	}
	// Without a rule of the deployment's own, an expectation is believed unsigned (its topic's ACL decides who
	// may write it): the contract of docs/matching.md.
	plain, err := trust.New(b.ctx, trust.Config{Keys: events.Keyring{b.newKey}, Now: func() time.Time { return now }}, b.app)
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.Admit(b.ctx, events.Event{ID: "x-2", Type: events.TypeExpected, Source: "/acme/orders", Time: now,
		Key: "vandar/acme", Data: json.RawMessage(`{}`)}, nil); err != nil {
		t.Errorf("an unsigned expectation under the default rule: %v", err)
	}
	ev.Type = "io.mizan.unheard.of.v1"
	if err := gate.Admit(b.ctx, ev, nil); !errors.Is(err, trust.ErrNoRule) {
		t.Errorf("a type without a rule: %v, want ErrNoRule", err)
	}
	if _, err := trust.New(b.ctx, trust.Config{}, b.app); err == nil {
		t.Error("a gate without keys was made: the provider facts would have no rule")
	}
}

func TestAGateThatCannotAskTheDatabaseNeitherAdmitsNorRefuses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.app.Close()
	it := statementItem()
	it.Account = "initech" // not cached: the gate must ask
	err := b.admit(t, it, b.newKey)
	if err == nil || errors.Is(err, trust.ErrRefused) {
		t.Fatalf("%v, want an error that is not a refusal", err)
	}
	// What it knows already it still judges.
	if err := b.admit(t, statementItem(), b.newKey); err != nil {
		t.Errorf("a cached source: %v", err)
	}
}

func TestAGateNeedsTheSchema(t *testing.T) {
	t.Parallel()
	pool, err := pgxpool.New(context.Background(), pgtest.NewEmptyDB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	_, err = trust.New(context.Background(), trust.Config{Keys: events.Keyring{key(t, "k")}}, pool)
	if err == nil || !strings.Contains(err.Error(), "ledger.limits") {
		t.Fatalf("a gate on an unmigrated database: %v", err)
	}
}
