package checks

import (
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
)

// SettlementSubject names a settlement.
func SettlementSubject(s events.Settlement) string {
	return fmt.Sprintf("%s/%s/settlement/%s", s.Provider, s.Account, s.SettlementID)
}

// Settlement checks where a payout is in its journey as of asOf — for one still on its way, the last time the
// provider said so; for a failed one, how far the statement (where its return item would be) has been applied:
//   - still on its way (INIT, PENDING, SUBMITTED) past its predicted completion plus grace: stuck, an alert;
//   - DONE: fine, and it resolves a stuck alert;
//   - FAILED or CANCELED: the money must come back to the wallet as the statement's return item. Once it has
//     (returned), the payout is accounted for and nothing is raised — a failed payout whose money is back is
//     a business event, shown in the settlement lifecycle view, not a mismatch. If it has not come back
//     within grace of the failure, that is an alert: money has left the wallet and is nowhere.
func Settlement(s events.Settlement, asOf time.Time, grace time.Duration, returned bool) Result {
	subject := SettlementSubject(s)
	r := Result{Check: CheckSettlement, Subject: subject, WindowStart: s.CreatedAt, WindowEnd: asOf, Watermark: asOf,
		Expected: dec(s.Amount), DedupKey: fmt.Sprintf("%s:%s", CheckSettlement, subject),
		Details: map[string]any{"status": s.Status, "track_id": s.TrackID, "transaction_id": s.TransactionID,
			"iban": s.IBAN, "predicted_at": s.PredictedAt}}
	switch s.Status {
	case events.SettlementDone:
		r.Outcome = OK
	case events.SettlementFailed, events.SettlementCanceled:
		r.Check = CheckSettlementReturn
		r.DedupKey = fmt.Sprintf("%s:%s", CheckSettlementReturn, subject)
		r.Details["returned"] = returned
		// The money is due back by when the settlement was to complete; mizan may only learn of the failure
		// later (a backfill), which must not buy the provider more time.
		since := s.ObservedAt
		switch {
		case !s.PredictedAt.IsZero() && s.PredictedAt.Before(since):
			since = s.PredictedAt
		case s.PredictedAt.IsZero() && !s.CreatedAt.IsZero() && s.CreatedAt.Before(since):
			since = s.CreatedAt
		}
		switch {
		case returned:
			r.Outcome = OK
		case asOf.IsZero() || asOf.Sub(since) <= grace:
			r.Outcome = Unknown // the return may still be on its way
			r.DedupKey = ""
		default:
			r.Outcome = Mismatch
			r.Severity = SeverityCritical
			r.Summary = fmt.Sprintf("%s %s: settlement %s (track %s) of %s %s to %s is %s since %s, and its money has not come back to the wallet within %s",
				s.Provider, s.Account, s.SettlementID, s.TrackID, s.Amount, s.Currency, s.IBAN, strings.ToLower(s.Status),
				since.UTC().Format(time.RFC3339), grace)
		}
	default:
		if s.PredictedAt.IsZero() || !asOf.After(s.PredictedAt.Add(grace)) {
			r.Outcome = OK
			r.DedupKey = "" // on its way, on time: nothing to open or resolve yet
			return r
		}
		r.Outcome = Mismatch
		r.Severity = SeverityWarning
		r.Summary = fmt.Sprintf("%s %s: settlement %s (track %s) of %s %s to %s is still %s, %s past its predicted completion at %s",
			s.Provider, s.Account, s.SettlementID, s.TrackID, s.Amount, s.Currency, s.IBAN, s.Status,
			asOf.Sub(s.PredictedAt).Round(time.Minute), s.PredictedAt.UTC().Format(time.RFC3339))
	}
	return r
}

// Batch checks that a batch's items add up to its totals: count and amount overall and per status. Failed
// items are counted in the details; their money comes back through the statement like any failed payout.
func Batch(b events.Batch) Result {
	subject := fmt.Sprintf("%s/%s/batch/%s", b.Provider, b.Account, b.BatchID)
	r := Result{Check: CheckBatch, Subject: subject, WindowEnd: b.ObservedAt, Expected: dec(b.TotalAmount),
		DedupKey: fmt.Sprintf("%s:%s", CheckBatch, subject), Details: map[string]any{"batch_id": b.BatchID}}
	var problems []string
	// The per-status figures must add up to the totals.
	sumCounts, sumAmounts := 0, decimal.Zero
	for st, n := range b.Counts {
		sumCounts += n
		sumAmounts = sumAmounts.Add(b.Amounts[st])
	}
	if len(b.Counts) > 0 && (sumCounts != b.TotalCount || !sumAmounts.Equal(b.TotalAmount)) {
		problems = append(problems, fmt.Sprintf("its per-status counts add up to %d items of %s, its totals say %d of %s",
			sumCounts, sumAmounts, b.TotalCount, b.TotalAmount))
	}
	if b.ItemsRead {
		count, amount := len(b.Items), decimal.Zero
		byStatus := map[string]int{}
		failed := 0
		for _, it := range b.Items {
			amount = amount.Add(it.Amount)
			st := strings.ToLower(it.Status)
			byStatus[st]++
			if st == "failed" {
				failed++
			}
		}
		r.Actual = dec(amount)
		r.Difference = dec(amount.Sub(b.TotalAmount))
		r.Details["items"] = count
		r.Details["failed_items"] = failed
		if count != b.TotalCount || !amount.Equal(b.TotalAmount) {
			problems = append(problems, fmt.Sprintf("its %d items add up to %s, its totals say %d items of %s",
				count, amount, b.TotalCount, b.TotalAmount))
		}
		for st, n := range b.Counts {
			if byStatus[st] != n {
				problems = append(problems, fmt.Sprintf("%d items are %s, its counts say %d", byStatus[st], st, n))
			}
		}
	}
	if len(problems) == 0 {
		r.Outcome = OK
		return r
	}
	r.Outcome = Mismatch
	r.Severity = SeverityCritical
	r.Details["problems"] = problems
	r.Summary = fmt.Sprintf("%s %s: batch %s does not add up: %s", b.Provider, b.Account, b.BatchID, strings.Join(problems, "; "))
	return r
}

// YabandPayMovement compares a YabandPay balance snapshot with the previous one of the same currency: a
// change of the reserve or the frozen deposit is an alert, and so is a fall of available by more than maxFall
// that no ledger entry explains (unexplained is the part of the change no entry accounts for).
func YabandPayMovement(prev, cur events.Balance, unexplained, maxFall decimal.Decimal) []Result {
	subject := WalletSubject(cur.Provider, cur.Account, cur.Currency)
	var out []Result
	for _, fig := range []string{"reserve", "deposit"} {
		before, after := prev.Figures[fig], cur.Figures[fig]
		r := Result{Check: CheckYabandPayMovement, Subject: subject + "/" + fig, WindowStart: prev.ObservedAt,
			WindowEnd: cur.ObservedAt, Expected: dec(before), Actual: dec(after), Difference: dec(after.Sub(before)),
			DedupKey: fmt.Sprintf("%s:%s/%s:%s", CheckYabandPayMovement, subject, fig, cur.ObservedAt.UTC().Format(time.RFC3339)),
			Details:  map[string]any{"figure": fig}}
		if before.Equal(after) {
			r.Outcome = OK
			r.DedupKey = ""
		} else {
			r.Outcome = Mismatch
			r.Severity = SeverityWarning
			r.Sticky = true
			r.Summary = fmt.Sprintf("%s %s %s: %s changed from %s to %s between %s and %s", cur.Provider, cur.Account,
				cur.Currency, fig, before, after, prev.ObservedAt.UTC().Format(time.RFC3339), cur.ObservedAt.UTC().Format(time.RFC3339))
		}
		out = append(out, r)
	}
	fall := unexplained.Neg()
	r := Result{Check: CheckYabandPayMovement, Subject: subject + "/available", WindowStart: prev.ObservedAt,
		WindowEnd: cur.ObservedAt, Expected: dec(prev.Amount), Actual: dec(cur.Amount), Difference: dec(unexplained),
		Details: map[string]any{"figure": "available", "max_fall": maxFall.String()}}
	if fall.GreaterThan(maxFall) {
		r.Outcome = Mismatch
		r.Severity = SeverityCritical
		r.Sticky = true
		r.DedupKey = fmt.Sprintf("%s:%s/available:%s", CheckYabandPayMovement, subject, cur.ObservedAt.UTC().Format(time.RFC3339))
		r.Summary = fmt.Sprintf("%s %s %s: available fell by %s with no ledger entry explaining it (allowed %s), from %s to %s",
			cur.Provider, cur.Account, cur.Currency, fall, maxFall, prev.Amount, cur.Amount)
	} else {
		r.Outcome = OK
	}
	return append(out, r)
}
