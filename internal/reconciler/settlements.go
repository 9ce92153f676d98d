package reconciler

import (
	"context"
	"errors"
	"fmt"
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
func (r *Reconciler) applySettlements(ctx context.Context, tx pgx.Tx, evs []settlementEvent) ([]checks.Result, error) {
	var entries []ledger.Entry
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
		}
		asOf, err := r.settlementAsOf(ctx, tx, s.Provider, s.Account, s.Status, s.ObservedAt)
		if err != nil {
			return nil, err
		}
		res := checks.Settlement(s, asOf, r.cfg.Checks.SettlementGrace, returned)
		res.EventID = se.eventID
		results = append(results, res)
	}
	if len(entries) > 0 {
		res, err := ledger.Apply(ctx, tx, entries)
		if err != nil {
			return nil, fmt.Errorf("post %d settlements: %w", len(entries), err)
		}
		r.txEntries += len(res.Posted)
	}
	return results, nil
}

// markReturns notes the statement's return items against the settlements they give money back for, and
// resolves any alert about that money missing.
func (r *Reconciler) markReturns(ctx context.Context, tx pgx.Tx, items []itemEvent) ([]checks.Result, error) {
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
				res := checks.Settlement(s, it.EffectiveAt, r.cfg.Checks.SettlementGrace, true)
				res.EventID = ie.eventID
				results = append(results, res)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return results, nil
}

// settlementAsOf is the moment a settlement's state can be judged at: for one on its way, when the provider
// last said so (seen); for a failed or cancelled one, how far the statement — where its return item would be
// — has been applied (zero while nothing vouches for it). Judging by the wall clock instead would call money
// missing that is only waiting in another topic.
func (r *Reconciler) settlementAsOf(ctx context.Context, tx pgx.Tx, provider, account, status string, seen time.Time) (time.Time, error) {
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
