package posting

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
)

func d(n int64) decimal.Decimal { return decimal.NewFromInt(n) }

func it(kind, channel, dir string, amount, fee int64, moved bool) events.StatementItem {
	t := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	return events.StatementItem{Provider: "vandar", Account: "acme", ItemID: "42", Kind: kind, Channel: channel,
		Direction: dir, Amount: d(amount), Fee: d(fee), Currency: events.CurrencyToman, MovedWallet: moved,
		CreatedAt: t, EffectiveAt: t}
}

func TestStatementPostsByDirectionAndCounterAccount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		item    events.StatementItem
		wallet  int64
		counter string
	}{
		{"a gateway payment: wallet +(amount − fee), sales −amount", it(events.KindPayment, "ipg", events.DirectionIn, 1000, 10, true), 990, "income:vandar:acme:sales:ipg"},
		{"a cash-in is the owner's money", it(events.KindCashIn, "cash_in", events.DirectionIn, 5000, 0, true), 5000, "equity:vandar:acme:cash_in"},
		{"a settlement leaves for transit: wallet −(amount + fee)", it(events.KindSettlement, "settlement", events.DirectionOut, 2000, 20, true), -2020, "assets:vandar:acme:settlements_in_transit"},
		{"a returned settlement comes back from transit", it(events.KindReturned, "settlement", events.DirectionIn, 2000, 0, true), 2000, "assets:vandar:acme:settlements_in_transit"},
		{"a refund is debited to refunds", it(events.KindRefund, "refund", events.DirectionOut, 700, 0, true), -700, "income:vandar:acme:refunds"},
		{"an internal withdrawal", it(events.KindInternalWithdrawal, "other", events.DirectionOut, 300, 3, true), -303, "equity:vandar:acme:internal_transfers"},
		{"a correction goes to suspense", it(events.KindCorrection, "other", events.DirectionIn, 50, 0, true), 50, "liabilities:vandar:acme:suspense"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, ok, err := Statement(tt.item, "ev1")
			if err != nil || !ok {
				t.Fatalf("ok=%v err=%v", ok, err)
			}
			if e.IdempotencyKey != "vandar:acme:statement:42" {
				t.Errorf("key = %q", e.IdempotencyKey)
			}
			sum := decimal.Zero
			got := map[string]decimal.Decimal{}
			for _, p := range e.Postings {
				sum = sum.Add(p.Amount)
				got[p.Account.Code] = p.Amount
				if p.Account.Currency != events.CurrencyToman {
					t.Errorf("posting in %s", p.Account.Currency)
				}
			}
			if !sum.IsZero() {
				t.Fatalf("entry sums to %s", sum)
			}
			if !got["assets:vandar:acme:wallet"].Equal(d(tt.wallet)) {
				t.Errorf("wallet %s, want %d", got["assets:vandar:acme:wallet"], tt.wallet)
			}
			if !got["assets:vandar:acme:wallet"].Equal(NetEffect(tt.item)) {
				t.Errorf("wallet posting %s differs from NetEffect %s", got["assets:vandar:acme:wallet"], NetEffect(tt.item))
			}
			if _, ok := got[tt.counter]; !ok {
				t.Errorf("no posting to %s in %v", tt.counter, got)
			}
			if fee := tt.item.Fee; !fee.IsZero() && !got["expenses:vandar:acme:fees"].Equal(fee) {
				t.Errorf("fees %s, want %s", got["expenses:vandar:acme:fees"], fee)
			}
		})
	}
}

func TestItemsThatDidNotMoveTheWalletPostNothing(t *testing.T) {
	t.Parallel()
	for _, state := range []string{events.StatePending, events.StateFailed} {
		item := it(events.KindPayment, "ipg", events.DirectionIn, 1000, 10, false)
		item.State = state
		if _, ok, err := Statement(item, "ev"); ok || err != nil {
			t.Errorf("%s payment: ok=%v err=%v", state, ok, err)
		}
	}
}

func TestAnUnknownKindThatMovedTheWalletIsAnErrorNotAGuess(t *testing.T) {
	t.Parallel()
	if _, _, err := Statement(it("unknown", "other", events.DirectionIn, 10, 0, true), "ev"); err == nil {
		t.Fatal("no error")
	}
}

func TestOpeningIsWhatTheWalletHeldBeforeTheFirstItem(t *testing.T) {
	t.Parallel()
	item := it(events.KindPayment, "ipg", events.DirectionIn, 1000, 10, true)
	w := d(10_990)
	item.WalletAfter = &w
	e, ok := Opening(item)
	if !ok || !e.Postings[0].Amount.Equal(d(10_000)) || e.IdempotencyKey != "vandar:acme:opening:IRT" {
		t.Fatalf("opening = %+v ok=%v", e, ok)
	}
	w0 := d(990) // the wallet started empty
	item.WalletAfter = &w0
	if _, ok := Opening(item); ok {
		t.Fatal("an empty wallet was opened")
	}
}
