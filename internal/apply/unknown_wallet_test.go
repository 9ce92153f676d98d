package apply_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/apply"
	"github.com/mizanhq/mizan/internal/checks"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/pgtest"
)

// A business whose wallet the ledger has never posted to (no statement items yet) still gets its balance
// checked: ledger.balance_at raises for an account that does not exist, and the balance check must count
// that wallet as holding 0 — not fail the batch.
func TestBalanceCheckOfAWalletTheLedgerHasNotOpened(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, _ := pgtest.NewDB(t)
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	facts := []apply.Fact{
		{EventID: "wm-1", Value: events.Watermark{Provider: events.ProviderVandar, Account: "newshop", Feed: events.FeedStatement,
			Source: "newshop", Through: at.Add(30 * time.Minute), PolledAt: at.Add(30 * time.Minute)}},
		{EventID: "bal-1", Value: events.Balance{Provider: events.ProviderVandar, Account: "newshop", Currency: events.CurrencyToman,
			Amount: decimal.NewFromInt(5000), ObservedAt: at, Raw: json.RawMessage(`{}`)}},
	}
	var res apply.Result
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		res, err = apply.New(checks.Config{}, nil).Apply(ctx, tx, facts)
		return err
	})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	var found bool
	for _, r := range res.Outcomes {
		if r.Check != checks.CheckBalance {
			continue
		}
		found = true
		if r.Outcome != checks.Mismatch || r.Actual == nil || !r.Actual.IsZero() || !r.Difference.Equal(decimal.NewFromInt(5000)) {
			t.Errorf("balance check %+v; want a mismatch of 5000 against a ledger of 0", r)
		}
	}
	if !found {
		t.Errorf("no balance check among %+v", res.Outcomes)
	}
}
