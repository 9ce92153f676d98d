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
//     (returned), the money is accounted for and this check is OK; if it has not come back within grace of
//     the failure, that is a critical alert: money has left the wallet and is nowhere. Either way the
//     recipient was not paid, which FailedPayout raises on its own, as a warning.
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
		if movedOn(b.Counts, byStatus) {
			// The per-status counts come from the batch list, the items from a later request: items that moved
			// on in between (init → failed) are no discrepancy. The next observation's counts catch up.
			r.Details["counts_behind_items"] = true
		} else {
			for st, n := range b.Counts {
				if byStatus[st] != n {
					problems = append(problems, fmt.Sprintf("%d items are %s, its counts say %d", byStatus[st], st, n))
				}
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

// batchStage orders a batch item's statuses by how far along it is: an item only moves to a later stage
// (init → pending → submitted → an outcome). Every other status — done, failed, canceled, and any a provider adds —
// is an outcome, where an item stays.
var batchStage = map[string]int{"init": 0, "pending": 1, "submitted": 2}

const outcomeStage = 3

func stageOf(status string) int {
	if st, ok := batchStage[status]; ok {
		return st
	}
	return outcomeStage
}

// movedOn reports whether items whose statuses were counted as counts (earlier) can have become the items
// counted as byStatus (later) by moving on only: as many items, no outcome fewer, and for every stage at least
// as many items at it or later. A mismatch it explains is the two reads' timing; any other is a discrepancy.
func movedOn(counts, byStatus map[string]int) bool {
	total := func(m map[string]int, from int) int {
		n := 0
		for st, c := range m {
			if stageOf(st) >= from {
				n += c
			}
		}
		return n
	}
	if total(counts, 0) != total(byStatus, 0) {
		return false
	}
	for st, n := range counts {
		if stageOf(st) == outcomeStage && byStatus[st] < n {
			return false // an outcome is final: an item counted failed cannot be pending later
		}
	}
	for from := 1; from <= outcomeStage; from++ {
		if total(byStatus, from) < total(counts, from) {
			return false
		}
	}
	return true
}

// SnapshotMovement compares a multi-figure balance snapshot (posting.Snapshot: a provider that reports
// balances and no statement) with the previous one of the same currency: a change of the reserve or the
// frozen deposit is an alert, and so is a fall of available by more than maxFall that no ledger entry explains
// (unexplained is the part of the change no entry accounts for).
func SnapshotMovement(prev, cur events.Balance, unexplained, maxFall decimal.Decimal) []Result {
	subject := WalletSubject(cur.Provider, cur.Account, cur.Currency)
	var out []Result
	for _, fig := range []string{"reserve", "deposit"} {
		before, after := prev.Figures[fig], cur.Figures[fig]
		r := Result{Check: CheckSnapshotMovement, Subject: subject + "/" + fig, WindowStart: prev.ObservedAt,
			WindowEnd: cur.ObservedAt, Expected: dec(before), Actual: dec(after), Difference: dec(after.Sub(before)),
			DedupKey: fmt.Sprintf("%s:%s/%s:%s", CheckSnapshotMovement, subject, fig, cur.ObservedAt.UTC().Format(time.RFC3339)),
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
	r := Result{Check: CheckSnapshotMovement, Subject: subject + "/available", WindowStart: prev.ObservedAt,
		WindowEnd: cur.ObservedAt, Expected: dec(prev.Amount), Actual: dec(cur.Amount), Difference: dec(unexplained),
		Details: map[string]any{"figure": "available", "max_fall": maxFall.String()}}
	if fall.GreaterThan(maxFall) {
		r.Outcome = Mismatch
		r.Severity = SeverityCritical
		r.Sticky = true
		r.DedupKey = fmt.Sprintf("%s:%s/available:%s", CheckSnapshotMovement, subject, cur.ObservedAt.UTC().Format(time.RFC3339))
		r.Summary = fmt.Sprintf("%s %s %s: available fell by %s with no ledger entry explaining it (allowed %s), from %s to %s",
			cur.Provider, cur.Account, cur.Currency, fall, maxFall, prev.Amount, cur.Amount)
	} else {
		r.Outcome = OK
	}
	return append(out, r)
}

// Payout is a payout that did not reach its recipient, as FailedPayout reports it.
type Payout struct {
	Provider, Account string
	// TransactionID is the statement item that took the money out of the wallet, where known; SettlementID
	// the settlement's id, or the batch item's, and BatchID the batch's for a batch item.
	TransactionID, SettlementID, BatchID string
	TrackID                              string
	IBAN                                 string // the recipient's
	Amount                               decimal.Decimal
	Currency                             string
	Status                               string // as the provider last reported it
	// Reason is why it failed, in the provider's words where it gives any (a batch item's error_message),
	// else what mizan saw (the status; a return after it was reported paid).
	Reason string
	// Returned says whether the money has come back to the wallet (the statement's return item); nil where
	// mizan does not follow it (a batch item's).
	Returned *bool
	At       time.Time
}

// PayoutSubject names a payout: by the statement item that took its money where known, so that the
// settlement feed, the batch feed and the statement's return item all speak of one payout.
func PayoutSubject(p Payout) string {
	switch {
	case p.TransactionID != "":
		return fmt.Sprintf("%s/%s/payout/%s", p.Provider, p.Account, p.TransactionID)
	case p.BatchID != "":
		return fmt.Sprintf("%s/%s/batch/%s/item/%s", p.Provider, p.Account, p.BatchID, p.SettlementID)
	}
	return fmt.Sprintf("%s/%s/settlement/%s", p.Provider, p.Account, p.SettlementID)
}

// FailedPayout raises the alert of a payout that did not reach its recipient — a failed or cancelled
// settlement, a failed or cancelled batch item, a payout the bank sent back after it was reported paid —
// whether its money came back to the wallet or not: someone must pay the recipient another way, or know
// why not. It is a warning: money missing is the settlement_return check's, critical. One alert per payout
// (sticky: it stays until a person resolves it), naming the recipient's IBAN, the amount and the reason.
func FailedPayout(p Payout) Result {
	subject := PayoutSubject(p)
	r := Result{Check: CheckPayoutFailed, Subject: subject, WindowEnd: p.At, Outcome: Mismatch,
		Severity: SeverityWarning, Sticky: true, Expected: dec(p.Amount),
		DedupKey: fmt.Sprintf("%s:%s", CheckPayoutFailed, subject),
		Details: map[string]any{"iban": p.IBAN, "amount": p.Amount.String(), "currency": p.Currency,
			"status": p.Status, "reason": p.Reason, "transaction_id": p.TransactionID,
			"settlement_id": p.SettlementID, "batch_id": p.BatchID, "track_id": p.TrackID}}
	what := "settlement " + p.SettlementID
	if p.BatchID != "" {
		what = fmt.Sprintf("batch %s item %s", p.BatchID, p.SettlementID)
	}
	if p.SettlementID == "" {
		what = "payout of item " + p.TransactionID
	}
	r.Summary = fmt.Sprintf("%s %s: %s of %s %s to %s did not reach its recipient: %s",
		p.Provider, p.Account, what, p.Amount, p.Currency, cmpOr(p.IBAN, "an unknown IBAN"), p.Reason)
	if p.Returned != nil {
		r.Details["returned"] = *p.Returned
	}
	switch {
	case p.Returned == nil:
	case *p.Returned:
		r.Summary += "; its money is back in the wallet"
	default:
		r.Summary += "; its money has not come back to the wallet yet"
	}
	return r
}

// FailedBatchItems are the FailedPayout alerts of a batch's failed and cancelled items, with the reason
// the provider gives (the item's ErrorMessage) where it gives one. A batch whose counters say items failed while its item
// list is not read (or does not show them) raises one alert for the batch, naming the count and amount.
func FailedBatchItems(b events.Batch) []Result {
	var out []Result
	listed := map[string]int{}
	for _, it := range b.Items {
		st := strings.ToUpper(it.Status)
		if st != events.SettlementFailed && st != events.SettlementCanceled {
			continue
		}
		listed[strings.ToLower(st)]++
		reason := it.ErrorMessage
		if reason == "" {
			reason = "the batch reports it " + strings.ToLower(st)
		}
		r := FailedPayout(Payout{Provider: b.Provider, Account: b.Account, TransactionID: it.TransactionID,
			SettlementID: it.ID, BatchID: b.BatchID, TrackID: it.TrackID, IBAN: it.IBAN, Amount: it.Amount,
			Currency: b.Currency, Status: st, Reason: reason, At: b.ObservedAt})
		out = append(out, r)
	}
	for _, st := range []string{"failed", "canceled"} {
		if n := b.Counts[st]; n > listed[st] {
			p := Payout{Provider: b.Provider, Account: b.Account, SettlementID: "counters", BatchID: b.BatchID,
				Amount: b.Amounts[st], Currency: b.Currency, Status: strings.ToUpper(st), At: b.ObservedAt,
				Reason: fmt.Sprintf("the batch counts %d item(s) %s (%s %s) that its item list does not show", n-listed[st],
					st, b.Amounts[st], b.Currency)}
			r := FailedPayout(p)
			r.DedupKey += ":" + st
			r.Summary = fmt.Sprintf("%s %s: batch %s counts %d payout(s) %s, %s %s, that did not reach their recipients",
				b.Provider, b.Account, b.BatchID, n, st, b.Amounts[st], b.Currency)
			out = append(out, r)
		}
	}
	return out
}

// SnapshotReserve reports which of its provider document's two readings a balance snapshot's figures fit
// (posting.SnapshotReserveConvention, passed in as convention): OK naming it, or — where usable fits neither
// usable = available − reserve nor usable = available + reserve — a consistency warning: the ledger then
// follows the document's text (the reserve inside available), and a person should ask the provider.
func SnapshotReserve(b events.Balance, convention string, undecided bool) Result {
	subject := WalletSubject(b.Provider, b.Account, b.Currency) + "/reserve_convention"
	r := Result{Check: CheckConsistency, Subject: subject, WindowEnd: b.ObservedAt,
		DedupKey: fmt.Sprintf("%s:%s", CheckConsistency, subject),
		Details: map[string]any{"reserve_convention": convention, "available": b.Figures["available"].String(),
			"reserve": b.Figures["reserve"].String(), "usable": b.Figures["usable"].String()}}
	if !undecided {
		r.Outcome = OK
		return r
	}
	r.Outcome = Mismatch
	r.Severity = SeverityWarning
	r.Summary = fmt.Sprintf("%s %s %s: usable %s is neither available %s − reserve %s nor available + reserve; "+
		"the ledger takes the reserve to be inside available, as the provider's text says", b.Provider, b.Account,
		b.Currency, b.Figures["usable"], b.Figures["available"], b.Figures["reserve"])
	return r
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
