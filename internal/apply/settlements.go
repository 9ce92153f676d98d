package apply

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

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
	for _, se := range evs {
		s := se.s
		var returned bool
		// status_since moves only when the status changes: a settlement seen PENDING on every poll has been
		// pending since the first time.
		err := tx.QueryRow(ctx, `
			INSERT INTO recon.settlements (provider, account, settlement_id, transaction_id, track_id, status, amount, fee,
				currency, iban, queued, created_at, predicted_at, status_since, last_seen_at, done_at)
			VALUES ($1, $2, $3, nullif($4, ''), nullif($5, ''), $6, $7, $8, $9, nullif($10, ''), $11, $12, $13, $14, $14,
				CASE WHEN $6 = 'DONE' THEN $14::timestamptz END)
			ON CONFLICT (provider, account, settlement_id) DO UPDATE SET
				transaction_id = coalesce(EXCLUDED.transaction_id, recon.settlements.transaction_id),
				track_id = coalesce(EXCLUDED.track_id, recon.settlements.track_id),
				status_since = CASE WHEN recon.settlements.status = EXCLUDED.status THEN recon.settlements.status_since
					ELSE EXCLUDED.status_since END,
				done_at = coalesce(recon.settlements.done_at, EXCLUDED.done_at),
				last_seen_at = greatest(recon.settlements.last_seen_at, EXCLUDED.last_seen_at),
				status = EXCLUDED.status, amount = EXCLUDED.amount, fee = EXCLUDED.fee, iban = EXCLUDED.iban,
				queued = EXCLUDED.queued, predicted_at = EXCLUDED.predicted_at, updated_at = now()
			RETURNING returned_at IS NOT NULL`,
			s.Provider, s.Account, s.SettlementID, s.TransactionID, s.TrackID, s.Status, s.Amount, s.Fee, s.Currency,
			s.IBAN, s.Queued, nullTime(s.CreatedAt), nullTime(s.PredictedAt), s.ObservedAt).Scan(&returned)
		if err != nil {
			return nil, fmt.Errorf("record settlement %s: %w", s.SettlementID, err)
		}
		if !returned {
			// The return item may have come first: it travels on the statement topic.
			tag, err := tx.Exec(ctx, `
				UPDATE recon.settlements s SET returned_at = r.returned_at
				FROM recon.settlement_returns r
				WHERE s.provider = $1 AND s.account = $2 AND s.settlement_id = $3
				  AND r.provider = s.provider AND r.account = s.account AND r.transaction_id = s.transaction_id`,
				s.Provider, s.Account, s.SettlementID)
			if err != nil {
				return nil, fmt.Errorf("match settlement %s with its return: %w", s.SettlementID, err)
			}
			returned = tag.RowsAffected() > 0
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
	for _, ie := range items {
		it := ie.item
		if it.Kind != events.KindReturned || it.ReturnsItemID == "" || !it.MovedWallet {
			continue
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO recon.settlement_returns (provider, account, transaction_id, return_item_id, returned_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
			it.Provider, it.Account, it.ReturnsItemID, it.ItemID, it.EffectiveAt); err != nil {
			return nil, fmt.Errorf("record return of %s: %w", it.ReturnsItemID, err)
		}
		rows, err := tx.Query(ctx, `
			UPDATE recon.settlements SET returned_at = coalesce(returned_at, $4), updated_at = now()
			WHERE provider = $1 AND account = $2 AND transaction_id = $3
			RETURNING settlement_id, status, amount, currency, coalesce(iban, ''), coalesce(track_id, ''), status_since`,
			it.Provider, it.Account, it.ReturnsItemID, it.EffectiveAt)
		if err != nil {
			return nil, fmt.Errorf("mark return of %s: %w", it.ReturnsItemID, err)
		}
		for rows.Next() {
			s := events.Settlement{Provider: it.Provider, Account: it.Account, TransactionID: it.ReturnsItemID}
			if err := rows.Scan(&s.SettlementID, &s.Status, &s.Amount, &s.Currency, &s.IBAN, &s.TrackID, &s.ObservedAt); err != nil {
				rows.Close()
				return nil, err
			}
			if s.Status == events.SettlementFailed || s.Status == events.SettlementCanceled {
				res := checks.Settlement(s, it.EffectiveAt, a.cfg.SettlementGrace, true)
				res.EventID = ie.eventID
				results = append(results, res)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		// A payout awaiting its bank's credit that came back is awaited no more.
		back, err := bankReturn(ctx, tx, it.Provider, it.Account, it.ReturnsItemID)
		if err != nil {
			return nil, err
		}
		results = append(results, back...)
		// A return of a payout the ledger had moved to the bank (reported DONE, or its batch item SUBMITTED):
		// the recipient did not keep the money after all.
		var iban, settlementID, batchID, trackID string
		err = tx.QueryRow(ctx, `
			SELECT coalesce(d.metadata->>'iban', ''), coalesce(d.metadata->>'settlement_id', ''),
				coalesce(d.metadata->>'batch_id', ''), coalesce(d.metadata->>'track_id', '')
			FROM ledger.entries r JOIN ledger.entries d ON d.idempotency_key = $2
			WHERE r.idempotency_key = $1`,
			posting.PayoutReturnedKey(it.Provider, it.Account, it.ReturnsItemID),
			posting.PayoutDoneKey(it.Provider, it.Account, it.ReturnsItemID, "")).
			Scan(&iban, &settlementID, &batchID, &trackID)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return nil, fmt.Errorf("find the paid payout %s: %w", it.ReturnsItemID, err)
		default:
			yes := true
			fp := checks.FailedPayout(checks.Payout{Provider: it.Provider, Account: it.Account,
				TransactionID: it.ReturnsItemID, SettlementID: settlementID, BatchID: batchID, TrackID: trackID,
				IBAN: iban, Amount: it.Amount, Currency: it.Currency, Status: events.SettlementDone, Returned: &yes,
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
	rows, err := tx.Query(ctx, `SELECT idempotency_key, coalesce(metadata->>'kind', ''), coalesce(metadata->>'iban', ''),
			coalesce((metadata->>'awaits_bank')::boolean, false)
		FROM ledger.entries WHERE idempotency_key = ANY($1)`, keys)
	if err != nil {
		return nil, fmt.Errorf("look up returned items: %w", err)
	}
	type found struct {
		kind, iban string
		awaited    bool
	}
	byKey := map[string]found{}
	for rows.Next() {
		var k string
		var f found
		if err := rows.Scan(&k, &f.kind, &f.iban, &f.awaited); err != nil {
			rows.Close()
			return nil, err
		}
		byKey[k] = f
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
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
	rows, err := tx.Query(ctx, `
		SELECT r.provider || ':' || r.account || ':' || r.transaction_id FROM recon.settlement_returns r
		JOIN unnest($1::text[], $2::text[], $3::text[]) AS t(p, a, id)
		  ON r.provider = t.p AND r.account = t.a AND r.transaction_id = t.id`, providers, accounts, txIDs)
	if err != nil {
		return nil, fmt.Errorf("find returned payouts: %w", err)
	}
	done, err := pgx.CollectRows(rows, pgx.RowTo[string])
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
	var through *time.Time
	err := tx.QueryRow(ctx, `
		SELECT w.through FROM recon.watermarks w
		WHERE w.provider = $1 AND w.account = $2 AND w.feed = 'statement'
		  AND (w.last_event IS NULL OR w.last_event = ''
		       OR EXISTS (SELECT 1 FROM recon.processed_events p WHERE p.event_id = w.last_event))`,
		provider, account).Scan(&through)
	if errors.Is(err, pgx.ErrNoRows) || through == nil {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("statement watermark of %s/%s: %w", provider, account, err)
	}
	return *through, nil
}
