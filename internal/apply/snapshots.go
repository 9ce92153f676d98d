package apply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/apply/applydb"
	"github.com/mizanhq/mizan/internal/checks"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/ledger"
	"github.com/mizanhq/mizan/internal/posting"
	"github.com/mizanhq/mizan/internal/sources"
	"github.com/mizanhq/mizan/internal/sources/registry"
)

// applySnapshots records the balance snapshots of providers that report balances and no statement
// (snapshotsKeepLedger) in the ledger — the first of a currency opens it; each later one posts what changed,
// against suspense — and checks the movements between consecutive snapshots. The balances of a provider
// whose statement builds the wallet are left to checkDueBalances, which compares them with that wallet.
// Snapshots of one merchant and currency must be applied in observation order: they are, one partition per
// merchant.
func (a *Applier) applySnapshots(ctx context.Context, tx pgx.Tx, bals []balanceEvent, out *Result) ([]checks.Result, error) {
	var results []checks.Result
	for _, be := range bals {
		b := be.bal
		if !snapshotsKeepLedger(b.Provider) {
			continue
		}
		accounts := posting.SnapshotFigureAccounts(b.Provider, b.Account, b.Currency)
		current := map[string]decimal.Decimal{}
		for fig, acc := range accounts {
			bal, err := ledger.Balance(ctx, tx, acc.Code)
			if err != nil {
				return nil, err
			}
			current[fig] = bal
		}
		prev, err := previousSnapshot(ctx, tx, b)
		if err != nil {
			return nil, err
		}
		entry, deltas, ok := posting.Snapshot(b, current, prev == nil, be.eventID)
		if ok {
			lr, err := ledger.Apply(ctx, tx, []ledger.Entry{entry})
			if err != nil {
				return nil, fmt.Errorf("post snapshot %s: %w", entry.IdempotencyKey, err)
			}
			out.Entries += len(lr.Posted)
		}
		convention := posting.SnapshotReserveConvention(b)
		rc := checks.SnapshotReserve(b, convention, convention == posting.ReserveUndecided)
		rc.EventID = be.eventID
		results = append(results, rc)
		if prev != nil {
			for _, res := range checks.SnapshotMovement(*prev, b, deltas["available"], a.cfg.SnapshotMaxFall) {
				res.EventID = be.eventID
				results = append(results, res)
			}
		}
		if err := applydb.New(tx).MarkBalanceChecked(ctx, be.eventID); err != nil {
			return nil, err
		}
	}
	return results, nil
}

// snapshotsKeepLedger says whether a provider's balances are the ledger's only record of its accounts: its
// source, as the registry declares it, reads balances but no statement, so there is no running balance to
// build the wallet from and each snapshot posts what changed. A provider the registry does not know is
// neither: its balances are stored and wait for a statement that vouches for them.
func snapshotsKeepLedger(provider string) bool {
	p, ok := providers[provider]
	if !ok {
		return false
	}
	feeds := p.Feeds()
	return slices.ContainsFunc(feeds, func(f sources.Feed) bool { return f.Name == events.FeedBalance }) &&
		!slices.ContainsFunc(feeds, func(f sources.Feed) bool { return f.Name == events.FeedStatement })
}

// providers are the sources mizan knows, for what they declare (their feeds), never their names.
var providers = registry.Providers()

// previousSnapshot is the observation of the same merchant and currency just before b, nil for the first.
func previousSnapshot(ctx context.Context, tx pgx.Tx, b events.Balance) (*events.Balance, error) {
	row, err := applydb.New(tx).PreviousSnapshot(ctx, applydb.PreviousSnapshotParams{Provider: b.Provider,
		Account: b.Account, Currency: b.Currency, Before: b.ObservedAt})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("previous snapshot of %s/%s: %w", b.Account, b.Currency, err)
	}
	prev := events.Balance{Provider: b.Provider, Account: b.Account, Currency: b.Currency, Amount: row.Amount,
		ObservedAt: row.ObservedAt}
	if err := json.Unmarshal(row.Figures, &prev.Figures); err != nil {
		return nil, fmt.Errorf("previous snapshot of %s/%s: figures: %w", b.Account, b.Currency, err)
	}
	return &prev, nil
}
