package apply_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/apply"
	"github.com/mizanhq/mizan/internal/checks"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/ledger"
	"github.com/mizanhq/mizan/internal/pgtest"
)

// These tests apply facts to a real, migrated PostgreSQL and look at what the ledger and the alerts hold.

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

type bundle struct {
	pool *pgxpool.Pool
	a    *apply.Applier
}

func setup(t *testing.T) *bundle {
	t.Helper()
	pool, _ := pgtest.NewDB(t)
	return &bundle{pool: pool, a: apply.New(checks.Config{}, func() time.Time { return t0.Add(24 * time.Hour) })}
}

// apply applies facts in one transaction, as one reconciler batch does.
func (b *bundle) apply(t *testing.T, facts ...any) apply.Result {
	t.Helper()
	var fs []apply.Fact
	for _, f := range facts {
		var ev events.Event
		var err error
		switch v := f.(type) {
		case events.StatementItem:
			ev, err = v.Event()
		case events.Settlement:
			ev, err = v.Event()
		case events.Batch:
			ev, err = v.Event()
		case events.Balance:
			ev, err = v.Event()
		case interface{ Event() (events.Event, error) }:
			ev, err = v.Event()
		default:
			t.Fatalf("fact %T", f)
		}
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, apply.Fact{EventID: ev.ID, Value: f})
	}
	var res apply.Result
	err := pgx.BeginFunc(context.Background(), b.pool, func(tx pgx.Tx) error {
		var err error
		res, err = b.a.Apply(context.Background(), tx, fs)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (b *bundle) balance(t *testing.T, code string) decimal.Decimal {
	t.Helper()
	v, err := ledger.Balance(context.Background(), b.pool, code)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// lowest is the lowest balance an account ever had after a posting (0 for an account never posted to).
func (b *bundle) lowest(t *testing.T, code string) decimal.Decimal {
	t.Helper()
	var v decimal.Decimal
	if err := b.pool.QueryRow(context.Background(), `SELECT coalesce(min(p.balance_after), 0) FROM ledger.postings p
		JOIN ledger.accounts a ON a.id = p.account_id WHERE a.code = $1`, code).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

type alert struct {
	Kind, Severity, Summary string
	Details                 map[string]any
}

func (b *bundle) alerts(t *testing.T, kind string) []alert {
	t.Helper()
	rows, err := b.pool.Query(context.Background(), `SELECT kind, severity, summary, details FROM recon.alerts
		WHERE kind = $1 AND resolved_at IS NULL ORDER BY id`, kind)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []alert
	for rows.Next() {
		var a alert
		if err := rows.Scan(&a.Kind, &a.Severity, &a.Summary, &a.Details); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

const (
	wallet    = "assets:vandar:acme:wallet"
	transit   = "assets:vandar:acme:settlements_in_transit"
	refunds   = "income:vandar:acme:refunds"
	recipient = "IR820540102680020817909002"
	bank      = "assets:vandar:acme:bank:" + recipient
)

// item is a statement item of acme that moved the wallet, with the wallet Vandar reports after it.
func item(id string, code int, kind, channel, dir string, amount, fee, walletAfter string, at time.Time) events.StatementItem {
	w := d(walletAfter)
	return events.StatementItem{Provider: events.ProviderVandar, Account: "acme", ItemID: id, StatusCode: code,
		Kind: kind, State: events.StateSucceeded, Direction: dir, Channel: channel, Amount: d(amount), Fee: d(fee),
		Currency: events.CurrencyToman, MovedWallet: true, WalletAfter: &w, CreatedAt: at, EffectiveAt: at,
		Raw: json.RawMessage(`{}`)}
}

func payment(id, amount, walletAfter string, at time.Time) events.StatementItem {
	return item(id, 1, events.KindPayment, "ipg", events.DirectionIn, amount, "0", walletAfter, at)
}

func settlementItem(id, amount, walletAfter string, at time.Time) events.StatementItem {
	return item(id, -2, events.KindSettlement, "settlement", events.DirectionOut, amount, "0", walletAfter, at)
}

func returnOf(id, of, amount, walletAfter string, at time.Time) events.StatementItem {
	it := item(id, -6, events.KindReturned, "settlement", events.DirectionIn, amount, "0", walletAfter, at)
	it.ReturnsItemID = of
	return it
}

func settlement(txID, status, amount string, at time.Time) events.Settlement {
	return events.Settlement{Provider: events.ProviderVandar, Account: "acme", SettlementID: "s-" + txID,
		TransactionID: txID, Status: status, Amount: d(amount), Fee: decimal.Zero, Currency: events.CurrencyToman,
		IBAN: recipient, CreatedAt: at, ObservedAt: at, Raw: json.RawMessage(`{}`)}
}

// A settlement reported DONE has been moved to the bank account. When the bank sends it back afterwards (a
// -6 item), the money comes back from the bank, through transit, to the wallet: in-transit never goes below
// zero, the bank account is not overstated, and a warning names the payout that did not reach its recipient.
func TestReturnAfterDoneComesBackFromTheBank(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.apply(t, payment("1", "500000", "500000", t0), settlementItem("2", "200000", "300000", t0.Add(time.Hour)))
	b.apply(t, settlement("2", events.SettlementDone, "200000", t0.Add(3*time.Hour)))
	if got := b.balance(t, bank); !got.Equal(d("200000")) {
		t.Fatalf("bank %s after DONE, want 200000", got)
	}
	b.apply(t, returnOf("3", "2", "200000", "500000", t0.Add(48*time.Hour)))
	for code, want := range map[string]string{wallet: "500000", transit: "0", bank: "0"} {
		if got := b.balance(t, code); !got.Equal(d(want)) {
			t.Errorf("%s = %s, want %s", code, got, want)
		}
	}
	if low := b.lowest(t, transit); low.IsNegative() {
		t.Errorf("in-transit went down to %s", low)
	}
	if rb := b.alerts(t, checks.CheckRunningBalance); len(rb) != 0 {
		t.Errorf("running-balance alerts: %+v", rb)
	}
	fp := b.alerts(t, checks.CheckPayoutFailed)
	if len(fp) != 1 || fp[0].Severity != checks.SeverityWarning || fp[0].Details["iban"] != recipient ||
		fp[0].Details["amount"] != "200000" || fp[0].Details["returned"] != true {
		t.Fatalf("payout_failed alerts: %+v", fp)
	}
}

// The same for a batch item the batch feed reported SUBMITTED (paid).
func TestReturnAfterASubmittedBatchItemComesBackFromTheBank(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.apply(t, payment("1", "500000", "500000", t0), settlementItem("2", "120000", "380000", t0.Add(time.Hour)))
	batch := events.Batch{Provider: events.ProviderVandar, Account: "acme", BatchID: "b1", Currency: events.CurrencyToman,
		TotalCount: 1, TotalAmount: d("120000"), Counts: map[string]int{"submitted": 1},
		Amounts: map[string]decimal.Decimal{"submitted": d("120000")}, ItemsRead: true, ObservedAt: t0.Add(5 * time.Hour),
		Items: []events.BatchItem{{ID: "bi-1", TransactionID: "2", Amount: d("120000"), IBAN: recipient,
			Status: events.SettlementSubmitted}}, Raw: json.RawMessage(`{}`)}
	b.apply(t, batch)
	b.apply(t, returnOf("3", "2", "120000", "500000", t0.Add(30*time.Hour)))
	for code, want := range map[string]string{wallet: "500000", transit: "0", bank: "0"} {
		if got := b.balance(t, code); !got.Equal(d(want)) {
			t.Errorf("%s = %s, want %s", code, got, want)
		}
	}
	if low := b.lowest(t, transit); low.IsNegative() {
		t.Errorf("in-transit went down to %s", low)
	}
	if fp := b.alerts(t, checks.CheckPayoutFailed); len(fp) != 1 || fp[0].Details["batch_id"] != "b1" {
		t.Errorf("payout_failed alerts: %+v", fp)
	}
}

// When the return is applied before the DONE (another topic, another batch), the DONE must not move the
// money to the bank: it is already back in the wallet.
func TestDoneAfterTheReturnMovesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.apply(t, payment("1", "500000", "500000", t0), settlementItem("2", "200000", "300000", t0.Add(time.Hour)))
	b.apply(t, returnOf("3", "2", "200000", "500000", t0.Add(2*time.Hour)))
	b.apply(t, settlement("2", events.SettlementDone, "200000", t0.Add(3*time.Hour)))
	for code, want := range map[string]string{wallet: "500000", transit: "0", bank: "0"} {
		if got := b.balance(t, code); !got.Equal(d(want)) {
			t.Errorf("%s = %s, want %s", code, got, want)
		}
	}
	if low := b.lowest(t, transit); low.IsNegative() {
		t.Errorf("in-transit went down to %s", low)
	}
	// And in one batch, in either order.
	b2 := setup(t)
	b2.apply(t, payment("1", "500000", "500000", t0), settlementItem("2", "200000", "300000", t0.Add(time.Hour)))
	b2.apply(t, settlement("2", events.SettlementDone, "200000", t0.Add(3*time.Hour)),
		returnOf("3", "2", "200000", "500000", t0.Add(2*time.Hour)))
	if got, low := b2.balance(t, bank), b2.lowest(t, transit); !got.IsZero() || low.IsNegative() {
		t.Errorf("one batch: bank %s, lowest in-transit %s", got, low)
	}
}

// A refund that failed comes back to the refunds account it left, not to transit.
func TestAFailedRefundsReturnGoesBackToRefunds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	refund := item("2", 2, events.KindRefund, "refund", events.DirectionOut, "70000", "0", "430000", t0.Add(time.Hour))
	b.apply(t, payment("1", "500000", "500000", t0), refund)
	if got := b.balance(t, refunds); !got.Equal(d("70000")) {
		t.Fatalf("refunds %s, want 70000", got)
	}
	back := returnOf("3", "2", "70000", "500000", t0.Add(5*time.Hour))
	back.Channel = "refund"
	b.apply(t, back)
	for code, want := range map[string]string{wallet: "500000", refunds: "0", transit: "0"} {
		if got := b.balance(t, code); !got.Equal(d(want)) {
			t.Errorf("%s = %s, want %s", code, got, want)
		}
	}
	if low := b.lowest(t, transit); low.IsNegative() {
		t.Errorf("in-transit went down to %s", low)
	}
}

// A failed or cancelled settlement raises a warning naming the recipient's IBAN, the amount and the reason,
// whether its money came back or not; money that has not come back past the grace is a critical alert too.
// A batch whose items failed raises one warning per item, with Vandar's error message.
func TestFailedPayoutsAlert(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.apply(t, payment("1", "900000", "900000", t0), settlementItem("2", "100000", "800000", t0.Add(time.Hour)),
		settlementItem("3", "150000", "650000", t0.Add(2*time.Hour)), settlementItem("4", "80000", "570000", t0.Add(3*time.Hour)))
	// 2 failed and came back; 3 was cancelled and has not come back.
	b.apply(t, returnOf("5", "2", "100000", "670000", t0.Add(4*time.Hour)))
	failed := settlement("2", events.SettlementFailed, "100000", t0.Add(4*time.Hour))
	canceled := settlement("3", events.SettlementCanceled, "150000", t0.Add(4*time.Hour))
	canceled.IBAN = "IR060120000000001234567890"
	b.apply(t, failed, canceled)
	batch := events.Batch{Provider: events.ProviderVandar, Account: "acme", BatchID: "b1", Currency: events.CurrencyToman,
		TotalCount: 2, TotalAmount: d("1437000"), Counts: map[string]int{"submitted": 1, "failed": 1},
		Amounts:   map[string]decimal.Decimal{"submitted": d("80000"), "failed": d("1357000")},
		ItemsRead: true, ObservedAt: t0.Add(5 * time.Hour), Raw: json.RawMessage(`{}`),
		Items: []events.BatchItem{
			{ID: "bi-1", TransactionID: "4", Amount: d("80000"), IBAN: recipient, Status: events.SettlementSubmitted},
			{ID: "bi-2", Amount: d("1357000"), IBAN: "IR120170000000111111111111", Status: events.SettlementFailed,
				ErrorMessage: "شماره شبا نامعتبر است"}}}
	b.apply(t, batch)

	fp := b.alerts(t, checks.CheckPayoutFailed)
	want := map[string]struct{ iban, amount, reason string }{
		"s-2":  {recipient, "100000", "failed"},
		"s-3":  {"IR060120000000001234567890", "150000", "canceled"},
		"bi-2": {"IR120170000000111111111111", "1357000", "شماره شبا نامعتبر است"},
	}
	if len(fp) != len(want) {
		t.Fatalf("%d payout_failed alerts, want %d: %+v", len(fp), len(want), fp)
	}
	for _, a := range fp {
		w, ok := want[a.Details["settlement_id"].(string)]
		if !ok || a.Severity != checks.SeverityWarning || a.Details["iban"] != w.iban || a.Details["amount"] != w.amount ||
			!contains(a.Details["reason"].(string), w.reason) || !contains(a.Summary, w.iban) || !contains(a.Summary, w.amount) {
			t.Errorf("alert %+v, want %+v", a, w)
		}
	}
	// The batch adds up: its own check is not what raised anything.
	if ba := b.alerts(t, checks.CheckBatch); len(ba) != 0 {
		t.Errorf("batch alerts: %+v", ba)
	}
	// Money missing is critical, and only for the cancelled settlement whose money has not come back.
	b.apply(t, item("6", 1, events.KindPayment, "ipg", events.DirectionIn, "1", "0", "670001", t0.Add(20*time.Hour)))
	b.periodic(t)
	sr := b.alerts(t, checks.CheckSettlementReturn)
	if len(sr) != 1 || sr[0].Severity != checks.SeverityCritical || sr[0].Details["transaction_id"] != "3" {
		t.Errorf("settlement_return alerts: %+v", sr)
	}
}

func (b *bundle) periodic(t *testing.T) apply.Result {
	t.Helper()
	if _, err := b.pool.Exec(context.Background(), `INSERT INTO recon.watermarks (provider, account, feed, source, through,
		last_event, polled_at, updated_at) VALUES ('vandar', 'acme', 'statement', 'vandar-acme', $1, '', $1, now())`,
		t0.Add(23*time.Hour)); err != nil {
		t.Fatal(err)
	}
	var res apply.Result
	err := pgx.BeginFunc(context.Background(), b.pool, func(tx pgx.Tx) error {
		var err error
		res, err = b.a.Periodic(context.Background(), tx)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// The statement's wallet figures decide the fee convention. A statement written with the wage on top of the
// amount (what mizan posts) keeps the running balance; the same items written with the wage inside the
// amount break it at every item with a fee, and each break says that the item fits the other convention.
func TestTheStatementsWalletDecidesTheFeeConvention(t *testing.T) {
	t.Parallel()
	type step struct {
		id, dir, amount, fee string
	}
	steps := []step{{"1", events.DirectionIn, "100000", "1000"}, {"2", events.DirectionIn, "50000", "500"},
		{"3", events.DirectionOut, "30000", "300"}, {"4", events.DirectionIn, "20000", "0"}}
	statement := func(inside bool) []events.StatementItem {
		w := d("0")
		var out []events.StatementItem
		for i, s := range steps {
			amount, fee := d(s.amount), d(s.fee)
			move := amount
			if s.dir == events.DirectionOut {
				move = move.Neg()
			}
			if !inside {
				move = move.Sub(fee)
			}
			w = w.Add(move)
			kind, channel := events.KindPayment, "ipg"
			if s.dir == events.DirectionOut {
				kind, channel = events.KindSettlement, "settlement"
			}
			out = append(out, item(s.id, map[string]int{events.DirectionIn: 1, events.DirectionOut: -2}[s.dir], kind,
				channel, s.dir, s.amount, s.fee, w.String(), t0.Add(time.Duration(i)*time.Hour)))
		}
		return out
	}
	onTop, inside := statement(false), statement(true)
	if got := checks.FeeConvention(onTop); got != checks.FeeOnTop {
		t.Errorf("FeeConvention(on top) = %s", got)
	}
	if got := checks.FeeConvention(inside); got != checks.FeeInside {
		t.Errorf("FeeConvention(inside) = %s", got)
	}

	b := setup(t)
	for _, it := range onTop {
		b.apply(t, it)
	}
	if rb := b.alerts(t, checks.CheckRunningBalance); len(rb) != 0 {
		t.Errorf("the wage-on-top statement broke the running balance: %+v", rb)
	}
	b = setup(t)
	for _, it := range inside {
		b.apply(t, it)
	}
	rb := b.alerts(t, checks.CheckRunningBalance)
	// Item 1 opens the wallet (nothing to compare with); items 2 and 3 carry a fee; item 4 has none, and
	// the running balance is compared item to item, so it continues the chain.
	if len(rb) != 2 {
		t.Fatalf("%d running-balance alerts, want 2 (items 2 and 3): %+v", len(rb), rb)
	}
	for _, a := range rb {
		if a.Details["fee_convention"] != checks.FeeInside || !contains(a.Summary, "inside its amount") {
			t.Errorf("alert %+v does not name the convention it found", a)
		}
	}
}

// YabandPay's document has usable = available − reserve in its text and usable = available + reserve in its
// example. Each snapshot's figures say which it follows, and the merchant's accounts add up to its money with
// the reserve counted once: the document's own example (reserve beside available) holds available + reserve +
// deposit; the same wallet by the text (reserve inside available) holds available + deposit; figures that fit
// neither follow the text and raise a consistency warning.
func TestYabandPayCountsTheReserveOnce(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("testdata/yabandpay_balance_example.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Data struct{ Available, Reserve, Usable, Deposit string }
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	snapshot := func(usable string, at time.Time) events.Balance {
		return events.Balance{Provider: events.ProviderYabandPay, Account: "036870", Currency: "EUR",
			Amount: d(doc.Data.Available), ObservedAt: at, Raw: json.RawMessage(`{}`),
			Figures: map[string]decimal.Decimal{"available": d(doc.Data.Available), "reserve": d(doc.Data.Reserve),
				"usable": d(usable), "deposit": d(doc.Data.Deposit)}}
	}
	held := func(b *bundle) decimal.Decimal {
		var sum decimal.Decimal
		if err := b.pool.QueryRow(context.Background(), `SELECT coalesce(sum(b.balance), 0) FROM ledger.accounts a
			JOIN ledger.account_balances b ON b.account_id = a.id WHERE a.code LIKE 'assets:yabandpay:036870:%'`).
			Scan(&sum); err != nil {
			t.Fatal(err)
		}
		return sum
	}
	for _, tc := range []struct {
		name, usable, want, convention string
		warned                         bool
	}{
		// The document's example as printed: 9999988.98 = 9999788.98 + 200.00.
		{"the example: reserve beside available", doc.Data.Usable, "10000008.98", "reserve_beside_available", false},
		// The document's text: usable = 9999788.98 − 200.00.
		{"the text: reserve inside available", "9999588.98", "9999808.98", "reserve_inside_available", false},
		{"neither: the text is followed, and said", "9999788.98", "9999808.98", "undecided", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.apply(t, snapshot(tc.usable, t0))
			b.apply(t, snapshot(tc.usable, t0.Add(time.Hour)))
			if got := held(b); !got.Equal(d(tc.want)) {
				t.Errorf("the merchant's accounts hold %s, want %s", got, tc.want)
			}
			if got := b.balance(t, "assets:yabandpay:036870:wallet:eur"); !got.Equal(d(doc.Data.Available)) {
				t.Errorf("wallet %s, want available %s", got, doc.Data.Available)
			}
			var conv string
			if err := b.pool.QueryRow(context.Background(), `SELECT metadata->>'reserve_convention' FROM ledger.entries
				WHERE metadata->>'kind' = 'yabandpay_snapshot' ORDER BY id LIMIT 1`).Scan(&conv); err != nil || conv != tc.convention {
				t.Errorf("reserve_convention %q (%v), want %s", conv, err, tc.convention)
			}
			if warned := len(b.alerts(t, checks.CheckConsistency)) > 0; warned != tc.warned {
				t.Errorf("consistency alert %t, want %t", warned, tc.warned)
			}
		})
	}
}
