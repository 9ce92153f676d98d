package chaos

import (
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

// The truth posts each kind of item as README's table and docs/accounts.md say, and the balances it sums are
// what a hand count of the same items gives.
func TestTruthPostsEachItemByTheDocumentedRules(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	items := []vandartest.Item{
		{ID: 1, Kind: vandartest.KindIPG, Channel: "پرداخت اینترنتی", IsDeposit: true, Amount: 100_000, Wage: 1_000, EffectiveAt: at(1)},
		{ID: 2, Kind: vandartest.KindIPG, IsDeposit: true, Amount: 50_000, Wage: 500}, // failed: never moved the wallet
		{ID: 3, Kind: vandartest.KindCashIn, IsDeposit: true, Amount: 200_000, Wage: 200, EffectiveAt: at(3)},
		{ID: 4, Kind: vandartest.KindRefund, Amount: 30_000, Wage: 100, EffectiveAt: at(4)},
		{ID: 5, Kind: vandartest.KindSettlement, Amount: 70_000, Wage: 1_000, EffectiveAt: at(5), IBAN: "IR01",
			Status: vandartest.StatusSettlementDone, ResolvedAt: at(50)},
		{ID: 6, Kind: vandartest.KindSettlement, Amount: 20_000, Wage: 1_000, EffectiveAt: at(6), IBAN: "IR02",
			Status: vandartest.StatusSettlementFailed, ResolvedAt: at(60)},
		{ID: 7, Kind: vandartest.KindReturn, IsDeposit: true, Amount: 20_000, EffectiveAt: at(60), RevisedTransactionID: 6},
		{ID: 8, Kind: vandartest.KindCorrection, Amount: 5_000, EffectiveAt: at(8)}, // out
		{ID: 9, Kind: vandartest.KindInternalDeposit, IsDeposit: true, Amount: 9_000, EffectiveAt: at(9)},
		// A label the documents do not name is channel other, whatever the status code says.
		{ID: 10, Kind: vandartest.KindSubscription, Channel: "پرداخت مستقیم", IsDeposit: true, Amount: 4_000, Wage: 40, EffectiveAt: at(10)},
	}
	tr := newTruth()
	if err := tr.addVandar("acme", 1_000_000, items, map[int64]int64{1: 90_000}); err != nil {
		t.Fatal(err)
	}
	if _, ok := tr.entries["vandar:acme:statement:2"]; ok {
		t.Error("a payment that never moved the wallet has an entry")
	}
	if w := tr.entries["vandar:acme:payout:5:done"]; !tr.notBefore["vandar:acme:payout:5:done"].Equal(at(50)) || !w.legs["assets:vandar:acme:bank:IR01"].Equal(decimal.NewFromInt(70_000)) {
		t.Errorf("payout 5 done: %+v", w)
	}
	if _, ok := tr.entries["vandar:acme:payout:6:done"]; ok {
		t.Error("a failed payout was paid")
	}
	// By hand: item 1 as posted before its restatement (90,000, wage 1,000), then each item's net.
	wallet := int64(1_000_000) + (90_000 - 1_000) + (200_000 - 200) - (30_000 + 100) - (70_000 + 1_000) - (20_000 + 1_000) + 20_000 - 5_000 + 9_000 + (4_000 - 40)
	want := map[string]int64{
		"assets:vandar:acme:wallet":                 wallet,
		"expenses:vandar:acme:fees":                 1_000 + 200 + 100 + 1_000 + 1_000 + 40,
		"income:vandar:acme:sales:other":            -4_000,
		"income:vandar:acme:sales:ipg":              -90_000,
		"equity:vandar:acme:cash_in":                -200_000,
		"income:vandar:acme:refunds":                30_000,
		"assets:vandar:acme:settlements_in_transit": 70_000 + 20_000 - 70_000 - 20_000,
		"assets:vandar:acme:bank:IR01":              70_000,
		"liabilities:vandar:acme:suspense":          5_000,
		"equity:vandar:acme:internal_transfers":     -9_000,
		"equity:vandar:acme:opening_balance":        -1_000_000,
	}
	got := tr.balances()
	for code, w := range want {
		if !got[code].Equal(decimal.NewFromInt(w)) {
			t.Errorf("%s: %s, want %d", code, got[code], w)
		}
	}
	for code := range got {
		if _, ok := want[code]; !ok {
			t.Errorf("an account the items do not touch: %s %s", code, got[code])
		}
	}
}

// The comparison fails an account on one side only, an entry at another time, and a missing or extra entry.
func TestCompareFindsEveryDifference(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	tr := newTruth()
	tr.post("a", t0, leg{"assets:x", 10}, leg{"income:y", -10})
	tr.post("b", t0, leg{"assets:x", 5}, leg{"income:y", -5})
	d := func(n int64) decimal.Decimal { return decimal.NewFromInt(n) }
	same := map[string]got{
		"a": {at: t0, legs: map[string]decimal.Decimal{"assets:x": d(10), "income:y": d(-10)}},
		"b": {at: t0, legs: map[string]decimal.Decimal{"assets:x": d(5), "income:y": d(-5)}},
	}
	if c := tr.compare(same, []string{"assets:x", "income:y"}); c.Accounts != 2 || c.AccountsEqual != 2 || c.EntriesEqual != 2 ||
		len(c.Missing)+len(c.Extra)+len(c.Wrong)+len(c.Times)+len(c.AccountDiffs) != 0 {
		t.Fatalf("the same ledger differs: %+v", c)
	}
	other := map[string]got{
		"a": {at: t0.Add(time.Second), legs: map[string]decimal.Decimal{"assets:x": d(10), "income:z": d(-10)}},
		"c": {at: t0, legs: map[string]decimal.Decimal{"assets:x": d(1), "income:y": d(-1)}},
	}
	c := tr.compare(other, []string{"assets:x", "income:y", "income:z", "assets:unused"})
	if len(c.Missing) != 1 || len(c.Extra) != 1 || len(c.Wrong) != 1 || len(c.Times) != 1 {
		t.Fatalf("missing %v, extra %v, wrong %v, times %v", c.Missing, c.Extra, c.Wrong, c.Times)
	}
	diffs := strings.Join(c.AccountDiffs, "\n")
	if c.Accounts != 4 || !strings.Contains(diffs, "income:z: the ledger holds -10, the truth has no such account") ||
		!strings.Contains(diffs, "assets:unused: the ledger holds 0, the truth has no such account") ||
		!strings.Contains(diffs, "assets:x") {
		t.Fatalf("accounts %d, diffs:\n%s", c.Accounts, diffs)
	}
}
