package apply

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mizanhq/mizan/internal/apply/applydb"
	"github.com/mizanhq/mizan/internal/checks"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/ledger"
	"github.com/mizanhq/mizan/internal/posting"
)

type settlementEvent struct {
	s       events.Settlement
	eventID string
}

type batchEvent struct {
	batch   events.Batch
	eventID string
}

// applySettlements records each settlement's new state, posts the ones that reached the bank (in transit →
// bank account), and checks their lifecycle.
func (a *Applier) applySettlements(ctx context.Context, tx pgx.Tx, evs []settlementEvent, touched map[string]bool,
	out *Result) ([]checks.Result, error) {
	var entries []ledger.Entry
	times := map[string]payoutTimes{}
	var results []checks.Result
	q := applydb.New(tx)
	for _, se := range evs {
		s := se.s
		returned, err := q.RecordSettlement(ctx, applydb.RecordSettlementParams{Provider: s.Provider, Account: s.Account,
			SettlementID: s.SettlementID, TransactionID: s.TransactionID, TrackID: s.TrackID, Status: s.Status,
			Amount: s.Amount, Fee: s.Fee, Currency: s.Currency, Iban: s.IBAN, Queued: s.Queued,
			CreatedAt: nullTime(s.CreatedAt), PredictedAt: nullTime(s.PredictedAt), ObservedAt: s.ObservedAt})
		if err != nil {
			return nil, fmt.Errorf("record settlement %s: %w", s.SettlementID, err)
		}
		if !returned {
			n, err := q.MatchSettlementReturn(ctx, applydb.MatchSettlementReturnParams{Provider: s.Provider,
				Account: s.Account, SettlementID: s.SettlementID})
			if err != nil {
				return nil, fmt.Errorf("match settlement %s with its return: %w", s.SettlementID, err)
			}
			returned = n > 0
		}
		if e, ok := posting.SettlementDone(s, se.eventID); ok {
			entries = append(entries, e)
			times[e.IdempotencyKey] = payoutTimes{paidAt: settlementPaidAt(s), created: s.CreatedAt}
		}
		asOf, err := a.settlementAsOf(ctx, tx, s.Provider, s.Account, s.Status, s.ObservedAt)
		if err != nil {
			return nil, err
		}
		res := checks.Settlement(s, asOf, a.cfg.SettlementGrace, returned)
		res.EventID = se.eventID
		results = append(results, res)
		if s.Status == events.SettlementFailed || s.Status == events.SettlementCanceled {
			fp := checks.FailedPayout(checks.Payout{Provider: s.Provider, Account: s.Account,
				TransactionID: s.TransactionID, SettlementID: s.SettlementID, TrackID: s.TrackID, IBAN: s.IBAN,
				Amount: s.Amount, Currency: s.Currency, Status: s.Status, Returned: &returned, At: s.ObservedAt,
				Reason: s.Provider + " reports the settlement " + strings.ToLower(s.Status)})
			fp.EventID = se.eventID
			results = append(results, fp)
		}
	}
	entries, err := unreturned(ctx, tx, entries)
	if err != nil {
		return nil, err
	}
	entries, waiting, err := awaitBank(ctx, tx, entries, times)
	if err != nil {
		return nil, err
	}
	if len(entries) > 0 {
		lr, err := ledger.Apply(ctx, tx, entries)
		if err != nil {
			return nil, fmt.Errorf("post %d settlements: %w", len(entries), err)
		}
		out.Entries += len(lr.Posted)
		if err := a.recordBankPayouts(ctx, tx, waiting, lr.Posted, touched); err != nil {
			return nil, err
		}
	}
	return results, nil
}

// markReturns notes the statement's return items against the settlements they give money back for, and
// resolves any alert about that money missing.
func (a *Applier) markReturns(ctx context.Context, tx pgx.Tx, items []itemEvent) ([]checks.Result, error) {
	var results []checks.Result
	q := applydb.New(tx)
	for _, ie := range items {
		it := ie.item
		if it.Kind != events.KindReturned || it.ReturnsItemID == "" || !it.MovedWallet {
			continue
		}
		if err := q.RecordSettlementReturn(ctx, applydb.RecordSettlementReturnParams{Provider: it.Provider,
			Account: it.Account, TransactionID: it.ReturnsItemID, ReturnItemID: it.ItemID, ReturnedAt: it.EffectiveAt}); err != nil {
			return nil, fmt.Errorf("record return of %s: %w", it.ReturnsItemID, err)
		}
		marked, err := q.MarkSettlementsReturned(ctx, applydb.MarkSettlementsReturnedParams{ReturnedAt: it.EffectiveAt,
			Provider: it.Provider, Account: it.Account, TransactionID: it.ReturnsItemID})
		if err != nil {
			return nil, fmt.Errorf("mark return of %s: %w", it.ReturnsItemID, err)
		}
		for _, m := range marked {
			s := events.Settlement{Provider: it.Provider, Account: it.Account, TransactionID: it.ReturnsItemID,
				SettlementID: m.SettlementID, Status: m.Status, Amount: m.Amount, Currency: m.Currency, IBAN: m.Iban,
				TrackID: m.TrackID, ObservedAt: m.StatusSince}
			if s.Status == events.SettlementFailed || s.Status == events.SettlementCanceled {
				res := checks.Settlement(s, it.EffectiveAt, a.cfg.SettlementGrace, true)
				res.EventID = ie.eventID
				results = append(results, res)
			}
		}
		// A payout awaiting its bank's credit that came back is awaited no more.
		back, err := bankReturn(ctx, tx, it.Provider, it.Account, it.ReturnsItemID)
		if err != nil {
			return nil, err
		}
		results = append(results, back...)
		// A return of a payout the ledger had moved to the bank (reported DONE, or its batch item SUBMITTED):
		// the recipient did not keep the money after all.
		paid, err := q.PaidPayout(ctx, applydb.PaidPayoutParams{
			ReturnedKey: posting.PayoutReturnedKey(it.Provider, it.Account, it.ReturnsItemID),
			DoneKey:     posting.PayoutDoneKey(it.Provider, it.Account, it.ReturnsItemID, "")})
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return nil, fmt.Errorf("find the paid payout %s: %w", it.ReturnsItemID, err)
		default:
			yes := true
			fp := checks.FailedPayout(checks.Payout{Provider: it.Provider, Account: it.Account,
				TransactionID: it.ReturnsItemID, SettlementID: paid.SettlementID, BatchID: paid.BatchID,
				TrackID: paid.TrackID, IBAN: paid.Iban, Amount: it.Amount, Currency: it.Currency, Status: events.SettlementDone, Returned: &yes,
				At: it.EffectiveAt, Reason: "the bank sent it back (statement item " + it.ItemID +
					") after it was reported paid"})
			fp.EventID = ie.eventID
			results = append(results, fp)
		}
	}
	return results, nil
}

// returnContexts looks up, for each return item among items, what the ledger holds of the item it returns
// (posting.Returned): the kind that item was posted as, and the bank account its payout was moved to, if it
// was. Keyed by the return item's StatementKey.
func returnContexts(ctx context.Context, tx pgx.Tx, items []itemEvent) (map[string]posting.Returned, error) {
	var keys []string
	for _, ie := range items {
		it := ie.item
		if it.Kind == events.KindReturned && it.ReturnsItemID != "" && it.MovedWallet {
			returned := it
			returned.ItemID = it.ReturnsItemID
			keys = append(keys, posting.StatementKey(returned),
				posting.PayoutDoneKey(it.Provider, it.Account, it.ReturnsItemID, ""))
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	rows, err := applydb.New(tx).EntryKinds(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("look up returned items: %w", err)
	}
	type found struct {
		kind, iban string
		awaited    bool
	}
	byKey := map[string]found{}
	for _, r := range rows {
		byKey[r.IdempotencyKey] = found{kind: r.Kind, iban: r.Iban, awaited: r.AwaitsBank}
	}
	out := map[string]posting.Returned{}
	for _, ie := range items {
		it := ie.item
		if it.Kind != events.KindReturned || it.ReturnsItemID == "" {
			continue
		}
		returned := it
		returned.ItemID = it.ReturnsItemID
		var r posting.Returned
		if f, ok := byKey[posting.StatementKey(returned)]; ok {
			r.Kind = f.kind
		}
		if doneKey := posting.PayoutDoneKey(it.Provider, it.Account, it.ReturnsItemID, ""); byKey[doneKey].kind != "" {
			f := byKey[doneKey]
			bank, err := paidToNow(ctx, tx, it.Provider, it.Account, f.iban, it.Currency, doneKey, f.awaited)
			if err != nil {
				return nil, err
			}
			r.PaidTo = &bank
		}
		out[posting.StatementKey(it)] = r
	}
	return out, nil
}

// unreturned drops from entries the payout-done entries (posting.PayoutDone) of payouts whose money the
// statement has already brought back: a return that came before the DONE took the money out of transit, and
// moving it to the bank too would take it out twice — in-transit below zero, the bank overstated.
func unreturned(ctx context.Context, tx pgx.Tx, entries []ledger.Entry) ([]ledger.Entry, error) {
	var providers, accounts, txIDs []string
	for _, e := range entries {
		if id, _ := e.Metadata["transaction_id"].(string); id != "" && e.Metadata["kind"] == "payout_done" {
			p, a, _ := strings.Cut(e.IdempotencyKey, ":")
			a, _, _ = strings.Cut(a, ":")
			providers, accounts, txIDs = append(providers, p), append(accounts, a), append(txIDs, id)
		}
	}
	if len(txIDs) == 0 {
		return entries, nil
	}
	done, err := applydb.New(tx).ReturnedPayouts(ctx, applydb.ReturnedPayoutsParams{Providers: providers,
		Accounts: accounts, TransactionIds: txIDs})
	if err != nil {
		return nil, fmt.Errorf("find returned payouts: %w", err)
	}
	if len(done) == 0 {
		return entries, nil
	}
	gone := map[string]bool{}
	for _, k := range done {
		gone[k] = true
	}
	out := entries[:0:0]
	for _, e := range entries {
		p, rest, _ := strings.Cut(e.IdempotencyKey, ":")
		a, _, _ := strings.Cut(rest, ":")
		if id, _ := e.Metadata["transaction_id"].(string); e.Metadata["kind"] == "payout_done" && gone[p+":"+a+":"+id] {
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

// settlementAsOf is the moment a settlement's state can be judged at: for one on its way, when the provider
// last said so (seen); for a failed or cancelled one, how far the statement — where its return item would be
// — has been applied (zero while nothing vouches for it). Judging by the wall clock instead would call money
// missing that is only waiting in another topic.
func (a *Applier) settlementAsOf(ctx context.Context, tx pgx.Tx, provider, account, status string, seen time.Time) (time.Time, error) {
	if status != events.SettlementFailed && status != events.SettlementCanceled {
		return seen, nil
	}
	through, err := applydb.New(tx).StatementThrough(ctx, applydb.StatementThroughParams{Provider: provider, Account: account})
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("statement watermark of %s/%s: %w", provider, account, err)
	}
	return through, nil
}
