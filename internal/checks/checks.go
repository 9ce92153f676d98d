// Package checks holds mizan's reconciliation checks. Each is a pure function of ledger state (passed in) and
// one fact, returning a Result: what was expected, what was found, the outcome, and the alert it raises or
// resolves. They know nothing of Kafka or SQL, so each can be tested on its own; the reconciler gathers the
// state, calls them, and stores what they return in the same transaction as the fact's effects.
package checks

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
)

// Outcome of one evaluation.
type Outcome string

// Outcomes. UNKNOWN means the check could not be decided (stale data) — never reported as OK.
const (
	OK       Outcome = "OK"
	Mismatch Outcome = "MISMATCH"
	Unknown  Outcome = "UNKNOWN"
)

// Check names, as stored in recon.check_results and used as alert kinds.
const (
	CheckRunningBalance   = "running_balance"
	CheckBalance          = "balance"
	CheckSettlement       = "settlement"
	CheckSettlementReturn = "settlement_return"
	CheckBatch            = "batch"
	CheckChangedItem      = "changed_item"
	// CheckSnapshotMovement: a balance snapshot's figures moved between two snapshots. Its stored name keeps
	// the provider that first reported such snapshots: it is in every alert and check result recorded so far
	// (dedup keys start with it), in analytics.check_results' documentation and in users' queries, and
	// renaming it would orphan the open alerts.
	CheckSnapshotMovement = "yabandpay_movement"
	CheckStaleness        = "staleness"
	CheckConsistency      = "consistency"
	CheckPayoutFailed     = "payout_failed"
)

// Severities of alerts.
const (
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// Result is one evaluation of a check.
type Result struct {
	Check       string
	Subject     string // what was checked: <provider>/<account>/wallet, <provider>/<account>/item/123, …
	WindowStart time.Time
	WindowEnd   time.Time
	Watermark   time.Time
	Expected    *decimal.Decimal
	Actual      *decimal.Decimal
	Difference  *decimal.Decimal
	Outcome     Outcome
	Details     map[string]any
	// DedupKey identifies the alert this evaluation opens (on MISMATCH or UNKNOWN) or resolves (on OK). The
	// same mismatch seen on every poll has the same key, so it is one alert.
	DedupKey string
	Severity string
	Summary  string // one line for a person: what, where, how much
	// Explains is the amount of wallet difference this mismatch accounts for, so the balance check does not
	// raise a second alert for money one open alert already names.
	Explains decimal.Decimal
	// Sticky results are not resolved by a later OK of the same key: a break in the past stays a fact until
	// the ledger and the provider agree again (ResolvesWith).
	Sticky bool
	// ResolvesWith lists dedup-key prefixes an OK of this result resolves (a balance that agrees again closes
	// the running-balance breaks and changed items of that wallet).
	ResolvesWith []string
	// ResolvesBefore limits ResolvesWith to alerts whose report reached mizan before it (their details'
	// ReportedAt): a balance the provider gave before it restated an item cannot speak for the restatement.
	// Zero: no limit.
	ResolvesBefore time.Time
	// EventID is the event whose arrival caused the evaluation ("" for periodic checks); set by the caller.
	EventID string
}

// ReportedAt is the key, in a result's Details, of when the report that raised it reached mizan (the Kafka
// record's time, set by the poller when it published the item): what ResolvesBefore compares.
const ReportedAt = "reported_at"

func dec(d decimal.Decimal) *decimal.Decimal { return &d }

// WalletSubject names a provider wallet.
func WalletSubject(provider, account, currency string) string {
	return fmt.Sprintf("%s/%s/wallet/%s", provider, account, currency)
}

// ItemSubject names a statement item.
func ItemSubject(provider, account, itemID string) string {
	return fmt.Sprintf("%s/%s/item/%s", provider, account, itemID)
}

// LastReported is what the provider's running balance said after the last item checked.
type LastReported struct {
	ItemID string
	Wallet decimal.Decimal
}

// RunningBalance checks that a statement item's reported wallet equals the previous item's reported wallet
// plus this item's net effect. prev is nil for the first item of a wallet (nothing to compare with: the
// opening balance takes up the difference). A break means an item missing between the two, a duplicated one,
// or a mis-signed amount or fee; it names both items and the amount missing — and, where the item would have
// kept the balance under the other fee convention (FeeConvention), says so: then it is not money missing but
// the provider writing its wage differently from how mizan posts it.
func RunningBalance(prev *LastReported, it events.StatementItem, net decimal.Decimal) Result {
	subject := WalletSubject(it.Provider, it.Account, it.Currency)
	r := Result{Check: CheckRunningBalance, Subject: subject, WindowEnd: it.EffectiveAt,
		Details: map[string]any{"item_id": it.ItemID}}
	if prev == nil || it.WalletAfter == nil {
		r.Outcome = OK
		return r
	}
	expected := prev.Wallet.Add(net)
	diff := it.WalletAfter.Sub(expected)
	r.Expected, r.Actual, r.Difference = dec(expected), dec(*it.WalletAfter), dec(diff)
	r.Details["previous_item_id"] = prev.ItemID
	r.Details["previous_wallet"] = prev.Wallet.String()
	r.Details["net_effect"] = net.String()
	convention := FeeConventionOf(prev.Wallet, it)
	if convention != FeeUndecided {
		r.Details["fee_convention"] = convention
	}
	if diff.IsZero() {
		r.Outcome = OK
		return r
	}
	r.Outcome = Mismatch
	r.Severity = SeverityCritical
	r.DedupKey = fmt.Sprintf("%s:%s:%s", CheckRunningBalance, subject, it.ItemID)
	r.Sticky = true
	r.Explains = diff
	r.Summary = fmt.Sprintf("%s %s: item %s reports wallet %s %s, but item %s's %s plus this item's %s makes %s: %s %s unaccounted for between them",
		it.Provider, it.Account, it.ItemID, it.WalletAfter, it.Currency, prev.ItemID, prev.Wallet, net, expected, diff, it.Currency)
	if convention == FeeInside {
		r.Summary += fmt.Sprintf(" — the item fits the convention that its wage %s is inside its amount (the wallet moved "+
			"by the amount alone), while mizan posts the wage on top of it", it.Fee)
	}
	return r
}

// Fee conventions: how a statement item's wage relates to its amount, as the running balance shows it.
// The provider's documents do not say; mizan posts FeeOnTop (posting.NetEffect), and the running-balance check
// tells from each item's reported wallet which one the statement follows.
const (
	// FeeOnTop: the wallet moves by the amount and, besides, by the wage: +(amount − wage) in,
	// −(amount + wage) out. What mizan posts.
	FeeOnTop = "wage_on_top"
	// FeeInside: the amount is the wallet's whole movement, the wage inside it: +amount in, −amount out.
	FeeInside = "wage_inside_amount"
	// FeeNeither: the reported wallet fits neither — money missing or extra, whatever the convention.
	FeeNeither = "neither"
	// FeeUndecided: nothing to tell by — no wage, or no running balance on either side.
	FeeUndecided = "undecided"
)

// FeeConventionOf says which fee convention takes the previous running balance to the one item reports.
func FeeConventionOf(prevWallet decimal.Decimal, it events.StatementItem) string {
	if !it.MovedWallet || it.WalletAfter == nil || it.Fee.IsZero() {
		return FeeUndecided
	}
	sign := decimal.NewFromInt(1)
	if it.Direction == events.DirectionOut {
		sign = sign.Neg()
	}
	onTop := prevWallet.Add(it.Amount.Mul(sign)).Sub(it.Fee)
	inside := prevWallet.Add(it.Amount.Mul(sign))
	switch {
	case it.WalletAfter.Equal(onTop):
		return FeeOnTop
	case it.WalletAfter.Equal(inside):
		return FeeInside
	}
	return FeeNeither
}

// FeeConvention reads a statement's fee convention from its running balance: the items in the order they
// moved the wallet, each with its reported wallet. It returns the one convention every item with a wage
// fits, FeeUndecided when no item can tell, and FeeNeither when no single convention fits them all (the
// statement then has money missing or extra however the wage is read).
func FeeConvention(items []events.StatementItem) string {
	var prev *decimal.Decimal
	found := FeeUndecided
	for _, it := range items {
		if !it.MovedWallet || it.WalletAfter == nil {
			continue
		}
		if prev != nil {
			switch c := FeeConventionOf(*prev, it); {
			case c == FeeUndecided:
				// Without a wage the item fits both; it must still add up.
				net := it.Amount
				if it.Direction == events.DirectionOut {
					net = net.Neg()
				}
				if !prev.Add(net).Equal(*it.WalletAfter) {
					return FeeNeither
				}
			case c == FeeNeither, found != FeeUndecided && c != found:
				return FeeNeither
			default:
				found = c
			}
		}
		w := *it.WalletAfter
		prev = &w
	}
	return found
}

// Posted is what the ledger holds of an item it has posted.
type Posted struct {
	Amount    decimal.Decimal
	Fee       decimal.Decimal
	Direction string
}

// ChangedItem checks a report of an item the ledger has already posted: a different amount, fee or
// direction is an alert, never a silent overwrite. diff is the change in the item's net wallet effect.
func ChangedItem(posted Posted, it events.StatementItem, oldNet, newNet decimal.Decimal) Result {
	subject := ItemSubject(it.Provider, it.Account, it.ItemID)
	r := Result{Check: CheckChangedItem, Subject: subject, WindowEnd: it.EffectiveAt,
		Expected: dec(posted.Amount), Actual: dec(it.Amount), Difference: dec(it.Amount.Sub(posted.Amount)),
		Details: map[string]any{"item_id": it.ItemID, "posted_fee": posted.Fee.String(), "reported_fee": it.Fee.String(),
			"posted_direction": posted.Direction, "reported_direction": it.Direction}}
	if posted.Amount.Equal(it.Amount) && posted.Fee.Equal(it.Fee) && posted.Direction == it.Direction {
		r.Outcome = OK
		return r
	}
	r.Outcome = Mismatch
	r.Severity = SeverityCritical
	r.DedupKey = fmt.Sprintf("%s:%s", CheckChangedItem, subject)
	r.Sticky = true
	r.Explains = newNet.Sub(oldNet)
	r.Summary = fmt.Sprintf("%s %s: item %s was posted as %s %s with fee %s and is now reported as %s %s with fee %s; the ledger keeps what was posted",
		it.Provider, it.Account, it.ItemID, posted.Direction, posted.Amount, posted.Fee, it.Direction, it.Amount, it.Fee)
	return r
}

// Balance compares a balance the provider reported with the ledger's balance at the same moment. explained
// is the part of a difference that open running-balance or changed-item alerts of this wallet already name:
// only what is left raises a balance alert. stale makes the outcome UNKNOWN.
func Balance(b events.Balance, ledger decimal.Decimal, watermark time.Time, explained, tolerance decimal.Decimal, stale bool) Result {
	subject := WalletSubject(b.Provider, b.Account, b.Currency)
	diff := b.Amount.Sub(ledger)
	r := Result{Check: CheckBalance, Subject: subject, WindowEnd: b.ObservedAt, Watermark: watermark,
		Expected: dec(b.Amount), Actual: dec(ledger), Difference: dec(diff),
		DedupKey: fmt.Sprintf("%s:%s", CheckBalance, subject),
		Details:  map[string]any{"observed_at": b.ObservedAt, "explained_by_open_alerts": explained.String()}}
	switch {
	case stale:
		r.Outcome = Unknown
		r.DedupKey = ""
	case diff.Abs().LessThanOrEqual(tolerance):
		r.Outcome = OK
		r.ResolvesWith = []string{CheckRunningBalance + ":" + subject + ":", CheckChangedItem + ":" + b.Provider + "/" + b.Account + "/item/"}
		r.ResolvesBefore = b.ObservedAt
	case diff.Sub(explained).Abs().LessThanOrEqual(tolerance):
		// The whole difference is money an open alert already names: record the mismatch, raise nothing new.
		r.Outcome = Mismatch
		r.DedupKey = ""
	default:
		r.Outcome = Mismatch
		r.Severity = SeverityCritical
		r.Summary = fmt.Sprintf("%s %s: the provider reports %s %s at %s, the ledger has %s: a difference of %s %s",
			b.Provider, b.Account, b.Amount, b.Currency, b.ObservedAt.UTC().Format(time.RFC3339), ledger, diff, b.Currency)
		if !explained.IsZero() {
			r.Summary += fmt.Sprintf(", of which other open alerts explain %s: %s %s unexplained", explained,
				diff.Sub(explained), b.Currency)
		}
	}
	return r
}

// Staleness says whether a source has completed a poll of every feed recently enough for its checks to mean
// anything (lastPoll is its least recent feed's). A stale source is UNKNOWN, never OK.
func Staleness(provider, account string, lastPoll, now time.Time, maxAge time.Duration) Result {
	subject := fmt.Sprintf("%s/%s", provider, account)
	age := now.Sub(lastPoll)
	r := Result{Check: CheckStaleness, Subject: subject, Watermark: lastPoll,
		DedupKey: fmt.Sprintf("%s:%s", CheckStaleness, subject),
		Details:  map[string]any{"last_complete_poll": lastPoll, "age_seconds": int64(age.Seconds()), "max_age_seconds": int64(maxAge.Seconds())}}
	if age <= maxAge {
		r.Outcome = OK
		return r
	}
	r.Outcome = Unknown
	r.Severity = SeverityWarning
	r.Summary = fmt.Sprintf("%s %s: no complete poll since %s (%s ago, allowed %s): its checks are UNKNOWN",
		provider, account, lastPoll.UTC().Format(time.RFC3339), age.Round(time.Second), maxAge)
	return r
}

// Duplicate reports an item the provider listed more than once in one poll.
func Duplicate(provider, account, itemID string, at time.Time) Result {
	subject := ItemSubject(provider, account, itemID)
	return Result{Check: CheckConsistency, Subject: subject, WindowEnd: at, Outcome: Mismatch,
		Severity: SeverityWarning, DedupKey: fmt.Sprintf("%s:duplicate:%s", CheckConsistency, subject), Sticky: true,
		Details: map[string]any{"item_id": itemID},
		Summary: fmt.Sprintf("%s %s: the statement lists item %s more than once; the ledger counts it once", provider, account, itemID)}
}
