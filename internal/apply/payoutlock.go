package apply

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/mizanhq/mizan/internal/events"
)

// payoutLockKey is the namespace of the advisory locks on payouts (provider, account, transaction id).
const payoutLockKey = "mizan.payout/"

// A settlement's new state and the statement's return item that brings its money back travel on different
// topics, so two apply workers (MIZAN_APPLY_WORKERS, or two reconcilers) can apply them at once. Each looks
// for the other's row — applySettlements for the return in recon.settlement_returns, markReturns for the
// settlement in recon.settlements — and under READ COMMITTED neither sees the other's uncommitted insert:
// the settlement stayed "not returned" for good and a settlement_return alert was raised for money that had
// come back (the fault suite's moving world found it). Holding the payout's lock, the second transaction waits
// for the first to commit, and its next statement sees what the first wrote.

// payoutLocks returns the payouts facts name — a settlement's or a batch item's transaction, a return item's
// returned one — in order.
func payoutLocks(facts []Fact) []string {
	var out []string
	add := func(provider, account, id string) {
		if id != "" {
			out = append(out, provider+"/"+account+"/"+id)
		}
	}
	for _, f := range facts {
		switch v := f.Value.(type) {
		case events.StatementItem:
			if v.Kind == events.KindReturned {
				add(v.Provider, v.Account, v.ReturnsItemID)
			}
		case events.Settlement:
			add(v.Provider, v.Account, v.TransactionID)
		case events.Batch:
			for _, it := range v.Items {
				add(v.Provider, v.Account, it.TransactionID)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// lockPayouts takes the advisory lock of each payout, in order, for the rest of the transaction. Called after
// lockBanks and before any ledger lock, so every transaction takes its locks in the same order.
func lockPayouts(ctx context.Context, tx pgx.Tx, payouts []string) error {
	for _, p := range payouts {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, payoutLockKey+p); err != nil {
			return fmt.Errorf("lock payout %s: %w", p, err)
		}
	}
	return nil
}
