// Package posting holds mizan's posting rules: which normalized event becomes which double-entry ledger entry,
// against which accounts. The chart of accounts is defined here, in code, next to the rules that use it
// (docs/accounts.md explains it for analysts).
//
// Rules are pure: they look at one event and return entries. Whether an entry is new is the ledger's business
// (idempotency keys); what the provider's figures imply is the checks' business.
package posting

import (
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/ledger"
)

// Chart of accounts. Codes are colon-separated: type, provider, account (business or merchant), name.
// Amounts are signed with debit positive: an asset's balance is positive, an income's negative.

// Wallet is a provider wallet of one business or merchant, in one currency.
func Wallet(provider, account, currency string) ledger.Account {
	code := fmt.Sprintf("assets:%s:%s:wallet", provider, account)
	if currency != events.CurrencyToman { // multi-currency providers get one wallet account per currency
		code += ":" + strings.ToLower(currency)
	}
	return ledger.Account{Code: code, Type: ledger.AccountAsset, Currency: currency}
}

// Fees are what the provider charged (Vandar's wage).
func Fees(provider, account, currency string) ledger.Account {
	return ledger.Account{Code: fmt.Sprintf("expenses:%s:%s:fees", provider, account), Type: ledger.AccountExpense, Currency: currency}
}

// Sales is income received through one channel (ipg, form, subscription, pos, …).
func Sales(provider, account, channel, currency string) ledger.Account {
	return ledger.Account{Code: fmt.Sprintf("income:%s:%s:sales:%s", provider, account, channel), Type: ledger.AccountIncome, Currency: currency}
}

// Refunds is a contra-income account: refunds paid back to customers are debited here.
func Refunds(provider, account, currency string) ledger.Account {
	return ledger.Account{Code: fmt.Sprintf("income:%s:%s:refunds", provider, account), Type: ledger.AccountIncome, Currency: currency}
}

// InTransit holds settlements that have left the wallet and not yet reached the bank account.
func InTransit(provider, account, currency string) ledger.Account {
	return ledger.Account{Code: fmt.Sprintf("assets:%s:%s:settlements_in_transit", provider, account), Type: ledger.AccountAsset, Currency: currency}
}

// CashIn is the owner's own money deposited into the wallet from a bank (cash-in by deposit or code).
func CashIn(provider, account, currency string) ledger.Account {
	return ledger.Account{Code: fmt.Sprintf("equity:%s:%s:cash_in", provider, account), Type: ledger.AccountEquity, Currency: currency}
}

// InternalTransfers are the provider's internal deposits and withdrawals.
func InternalTransfers(provider, account, currency string) ledger.Account {
	return ledger.Account{Code: fmt.Sprintf("equity:%s:%s:internal_transfers", provider, account), Type: ledger.AccountEquity, Currency: currency}
}

// OpeningBalance is what the wallet held before the history mizan reads.
func OpeningBalance(provider, account, currency string) ledger.Account {
	return ledger.Account{Code: fmt.Sprintf("equity:%s:%s:opening_balance", provider, account), Type: ledger.AccountEquity, Currency: currency}
}

// Suspense takes movements mizan cannot attribute (a provider correction): they stay visible until a person
// decides where they belong.
func Suspense(provider, account, currency string) ledger.Account {
	return ledger.Account{Code: fmt.Sprintf("liabilities:%s:%s:suspense", provider, account), Type: ledger.AccountLiability, Currency: currency}
}

// StatementKey is the idempotency key of the entry a statement item's wallet movement posts. It names the
// item, not its state: an item seen pending, then succeeded, then again with a changed fee moves the wallet
// once, and the later reports are checked against it instead of posted.
func StatementKey(it events.StatementItem) string {
	return fmt.Sprintf("%s:%s:statement:%s", it.Provider, it.Account, it.ItemID)
}

// OpeningKey is the idempotency key of a wallet's opening-balance entry: there is only ever one.
func OpeningKey(provider, account, currency string) string {
	return fmt.Sprintf("%s:%s:opening:%s", provider, account, currency)
}

// NetEffect is what a statement item did to the wallet: +(amount − fee) for money in, −(amount + fee) for money
// out, 0 when it did not move the wallet.
func NetEffect(it events.StatementItem) decimal.Decimal {
	switch {
	case !it.MovedWallet:
		return decimal.Zero
	case it.Direction == events.DirectionIn:
		return it.Amount.Sub(it.Fee)
	default:
		return it.Amount.Add(it.Fee).Neg()
	}
}

// Returned is what the ledger already holds of the item a return item (events.KindReturned) gives money back
// for: the apply layer looks it up, the rules below decide with it.
type Returned struct {
	// Kind is the kind the returned item was posted as (events.KindSettlement, events.KindRefund, …); "" when
	// the ledger has not posted it (it predates what mizan read, or the return does not name it).
	Kind string
	// PaidTo is the bank account a payout-done entry (PayoutDone) moved the returned payout's money into,
	// when one was posted before the return arrived: the settlement was reported DONE, or its batch item
	// SUBMITTED, and the bank sent the money back after all. Nil otherwise.
	PaidTo *ledger.Account
}

// Statement returns the entry a statement item posts, or false when the item did not move the wallet
// (failed, abandoned and pending payments: DESIGN.md "Ledger"). It is StatementEntries for an item whose
// returned item, if any, the ledger knows nothing of.
//
// Money in: wallet +(amount − fee), fees +fee, counter-account −amount.
// Money out: wallet −(amount + fee), fees +fee, counter-account +amount.
func Statement(it events.StatementItem, eventID string) (ledger.Entry, bool, error) {
	es, err := StatementEntries(it, events.ReadRaw(it.Raw), eventID, Returned{})
	if err != nil || len(es) == 0 {
		return ledger.Entry{}, false, err
	}
	return es[len(es)-1], true, nil
}

// StatementEntries returns the entries a statement item posts, in the order they must be applied: none for
// an item that did not move the wallet; else its own entry (Statement), under StatementKey — preceded, for a
// return of a payout the ledger already moved to the bank (ret.PaidTo), by PayoutReturned, which brings the
// money back from the bank into transit first. So the return takes it out of transit as every return does,
// and settlements_in_transit never goes below zero: a DONE settlement's money is at the bank, not in transit,
// when the bank sends it back.
//
// The counter-account of a return is the account the returned item's money left to: the refunds account
// for a refund that failed (its money returns to the business, so the refund is undone), transit for a
// settlement. Which one is decided by the returned item as posted (ret.Kind); a return whose item the ledger
// does not know is taken for a settlement's, the common case — the label "بازگشت وجه" is Vandar's name for
// refunds and for returns alike, so the channel cannot tell.
//
// raw is the item's Raw as events.ReadRaw read it, for the references the entry keeps (the caller reads it
// once for every reader of the item: posting and matching).
func StatementEntries(it events.StatementItem, raw events.RawFields, eventID string, ret Returned) (
	[]ledger.Entry, error) {
	if !it.MovedWallet {
		return nil, nil
	}
	if it.Amount.IsNegative() || it.Fee.IsNegative() {
		return nil, fmt.Errorf("statement item %s: negative amount or fee", it.ItemID)
	}
	counter, err := counterAccount(it, ret)
	if err != nil {
		return nil, err
	}
	p, a, c := it.Provider, it.Account, it.Currency
	var postings []ledger.Posting
	add := func(acc ledger.Account, amt decimal.Decimal) {
		if !amt.IsZero() {
			postings = append(postings, ledger.Posting{Account: acc, Amount: amt})
		}
	}
	switch it.Direction {
	case events.DirectionIn:
		add(Wallet(p, a, c), it.Amount.Sub(it.Fee))
		add(Fees(p, a, c), it.Fee)
		add(counter, it.Amount.Neg())
	case events.DirectionOut:
		add(Wallet(p, a, c), it.Amount.Add(it.Fee).Neg())
		add(Fees(p, a, c), it.Fee)
		add(counter, it.Amount)
	default:
		return nil, fmt.Errorf("statement item %s: unknown direction %q", it.ItemID, it.Direction)
	}
	if len(postings) < 2 {
		// A zero-amount item moved nothing worth an entry.
		return nil, nil
	}
	meta := map[string]any{
		"event_id": eventID, "item_id": it.ItemID, "status_code": it.StatusCode, "kind": it.Kind,
		"channel": it.Channel, "direction": it.Direction, "amount": it.Amount.String(), "fee": it.Fee.String(),
	}
	if it.WalletAfter != nil {
		meta["provider_wallet_after"] = it.WalletAfter.String()
	}
	if it.ReturnsItemID != "" {
		meta["returns_item_id"] = it.ReturnsItemID
		if ret.Kind != "" {
			meta["returns_kind"] = ret.Kind
		}
	}
	addReferences(meta, it, raw)
	e := ledger.Entry{
		IdempotencyKey: StatementKey(it),
		EffectiveAt:    it.EffectiveAt,
		Description:    fmt.Sprintf("%s %s item %s: %s %s via %s", p, a, it.ItemID, it.Kind, it.Direction, it.Channel),
		Metadata:       meta,
		Postings:       postings,
	}
	if it.Kind == events.KindReturned && ret.PaidTo != nil && counter.Code == InTransit(p, a, c).Code {
		back := PayoutReturned(it, *ret.PaidTo, eventID)
		return []ledger.Entry{back, e}, nil
	}
	return []ledger.Entry{e}, nil
}

// PayoutReturnedKey is the idempotency key of the entry that brings a paid payout's money back from the bank
// into transit: one per payout, named like PayoutDoneKey by the statement item that took the money.
func PayoutReturnedKey(provider, account, transactionID string) string {
	return fmt.Sprintf("%s:%s:payout:%s:returned", provider, account, transactionID)
}

// PayoutReturned is the entry of a payout's money coming back from the bank it was paid to: bank −amount,
// in-transit +amount, at the return item's time. It is posted just before the return item's own entry
// (StatementEntries), which then moves the money from transit to the wallet.
func PayoutReturned(it events.StatementItem, bank ledger.Account, eventID string) ledger.Entry {
	p, a, c := it.Provider, it.Account, it.Currency
	return ledger.Entry{
		IdempotencyKey: PayoutReturnedKey(p, a, it.ReturnsItemID),
		EffectiveAt:    it.EffectiveAt,
		Description:    fmt.Sprintf("%s %s payout %s sent back by the bank (%s)", p, a, it.ReturnsItemID, bank.Code),
		Metadata: map[string]any{"event_id": eventID, "kind": "payout_returned", "transaction_id": it.ReturnsItemID,
			"return_item_id": it.ItemID, "amount": it.Amount.String()},
		Postings: []ledger.Posting{
			{Account: bank, Amount: it.Amount.Neg()},
			{Account: InTransit(p, a, c), Amount: it.Amount},
		},
	}
}

// counterAccount is where the other side of a wallet movement goes, by what the item is.
func counterAccount(it events.StatementItem, ret Returned) (ledger.Account, error) {
	p, a, c := it.Provider, it.Account, it.Currency
	switch {
	case it.Kind == events.KindReturned && ret.Kind == events.KindRefund:
		// A refund that failed: its money comes back to where it left, the refunds account.
		return Refunds(p, a, c), nil
	case it.Kind == events.KindReturned:
		// A settlement the bank sent back: the money returns from transit.
		return InTransit(p, a, c), nil
	case it.Channel == "refund" && it.Direction == events.DirectionOut:
		return Refunds(p, a, c), nil
	case it.Kind == events.KindSettlement:
		return InTransit(p, a, c), nil
	case it.Kind == events.KindInternalDeposit || it.Kind == events.KindInternalWithdrawal:
		return InternalTransfers(p, a, c), nil
	case it.Kind == events.KindCorrection:
		return Suspense(p, a, c), nil
	case it.Channel == "cash_in" || it.Kind == events.KindCashIn:
		return CashIn(p, a, c), nil
	case it.Kind == events.KindPayment || it.Kind == events.KindSubscription:
		channel := it.Channel
		if channel == "" {
			channel = "other"
		}
		return Sales(p, a, channel, c), nil
	}
	return ledger.Account{}, fmt.Errorf("statement item %s: no posting rule for kind %q (status %d) moving the wallet %s",
		it.ItemID, it.Kind, it.StatusCode, it.Direction)
}

// Opening returns the entry that opens a wallet at what it held before the first item mizan reads, so the
// ledger agrees with the provider from the start (DESIGN.md: no alert). It returns false when the wallet
// started empty or the first item carries no running balance.
func Opening(it events.StatementItem) (ledger.Entry, bool) {
	if !it.MovedWallet || it.WalletAfter == nil {
		return ledger.Entry{}, false
	}
	before := it.WalletAfter.Sub(NetEffect(it))
	if before.IsZero() {
		return ledger.Entry{}, false
	}
	p, a, c := it.Provider, it.Account, it.Currency
	return ledger.Entry{
		IdempotencyKey: OpeningKey(p, a, c),
		EffectiveAt:    it.EffectiveAt,
		Description:    fmt.Sprintf("%s %s opening balance before item %s", p, a, it.ItemID),
		Metadata:       map[string]any{"before_item_id": it.ItemID},
		Postings: []ledger.Posting{
			{Account: Wallet(p, a, c), Amount: before},
			{Account: OpeningBalance(p, a, c), Amount: before.Neg()},
		},
	}, true
}

// Bank is a destination bank account (by IBAN) that the business's settlements are paid into.
func Bank(provider, account, iban, currency string) ledger.Account {
	if iban == "" {
		iban = "unknown"
	}
	return ledger.Account{Code: fmt.Sprintf("assets:%s:%s:bank:%s", provider, account, strings.ToUpper(iban)), Type: ledger.AccountAsset, Currency: currency}
}

// PayoutDoneKey is the idempotency key of the entry that moves a paid payout from transit to the bank
// account. It names the statement transaction that took the money out of the wallet where the provider gives
// it — a settlement and a batch item are both payouts, and however many feeds or reports say one is paid, it
// is one movement — and the settlement's own id otherwise.
func PayoutDoneKey(provider, account, transactionID, settlementID string) string {
	if transactionID != "" {
		return fmt.Sprintf("%s:%s:payout:%s:done", provider, account, transactionID)
	}
	return fmt.Sprintf("%s:%s:settlement:%s:done", provider, account, settlementID)
}

// PayoutDone returns the entry of a payout reaching the bank: in-transit −amount, bank +amount.
//
// The rule that keeps two feeds from counting one movement twice: the statement alone moves the wallet (the
// settlement item takes the money into transit when it is requested; a return item brings it back); the
// settlement and batch feeds alone move money out of transit into the bank account, when a payout is paid.
// Each movement has one key (PayoutDoneKey), so no feed can post it twice either.
func PayoutDone(provider, account, currency, transactionID, settlementID, iban string, amount decimal.Decimal,
	at time.Time, meta map[string]any) (ledger.Entry, bool) {
	if !amount.IsPositive() {
		return ledger.Entry{}, false
	}
	m := map[string]any{"kind": "payout_done", "transaction_id": transactionID, "settlement_id": settlementID,
		"iban": iban, "amount": amount.String()}
	for k, v := range meta {
		m[k] = v
	}
	return ledger.Entry{
		IdempotencyKey: PayoutDoneKey(provider, account, transactionID, settlementID),
		EffectiveAt:    at,
		Description:    fmt.Sprintf("%s %s payout %s paid to %s", provider, account, cmpOr(transactionID, settlementID), iban),
		Metadata:       m,
		Postings: []ledger.Posting{
			{Account: InTransit(provider, account, currency), Amount: amount.Neg()},
			{Account: Bank(provider, account, iban, currency), Amount: amount},
		},
	}, true
}

// SettlementDone is PayoutDone for a settlement the settlement feed reports DONE.
func SettlementDone(s events.Settlement, eventID string) (ledger.Entry, bool) {
	if s.Status != events.SettlementDone {
		return ledger.Entry{}, false
	}
	at := s.SettledAt
	if at.IsZero() {
		at = s.ObservedAt
	}
	return PayoutDone(s.Provider, s.Account, s.Currency, s.TransactionID, s.SettlementID, s.IBAN, s.Amount, at,
		withRawReferences(map[string]any{"event_id": eventID, "track_id": s.TrackID, "source": "settlement"}, s.Raw))
}

// BatchItemsDone are the PayoutDone entries of a batch's paid items. Vandar's batch payloads call a paid item
// SUBMITTED (they have no done counters); DONE is accepted too.
func BatchItemsDone(b events.Batch, eventID string) []ledger.Entry {
	var out []ledger.Entry
	for _, it := range b.Items {
		if it.Status != events.SettlementSubmitted && it.Status != events.SettlementDone {
			continue
		}
		e, ok := PayoutDone(b.Provider, b.Account, cmpOr(b.Currency, events.CurrencyToman), it.TransactionID, it.ID,
			it.IBAN, it.Amount, b.ObservedAt, map[string]any{"event_id": eventID, "batch_id": b.BatchID,
				"track_id": it.TrackID, "source": "batch"})
		if ok {
			out = append(out, e)
		}
	}
	return out
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// The figures of a balance snapshot that mizan keeps as accounts, for a provider that reports balances and no
// statement (the snapshots are the ledger's only record of the account): available is the wallet, the frozen
// deposit is money of the merchant's held apart, and the reserve is an account of its own only where it is
// not already inside available (SnapshotReserveConvention). usable is recorded with each observation but
// never kept as an account: it is available less or plus the reserve, and which the snapshot itself says.
// The figure names are the ones such a snapshot carries in events.Balance.Figures (YabandPay's own names).
var snapshotFigures = []struct{ figure, name string }{{"available", "wallet"}, {"reserve", "reserve"}, {"deposit", "deposit"}}

// How a snapshot's reserve relates to its available balance. The one provider that reports these figures
// (YabandPay) states it two ways in its document: its text says usable = available − reserve, which puts the
// reserve inside available; its own example has usable = available + reserve (9999988.98 = 9999788.98 +
// 200.00), which puts it beside. Each snapshot's own figures say which holds for it.
const (
	// ReserveInsideAvailable: usable = available − reserve. The merchant holds available (+ deposit); the
	// reserve is part of it, not more money.
	ReserveInsideAvailable = "reserve_inside_available"
	// ReserveBesideAvailable: usable = available + reserve. The reserve is held apart from available and is
	// money of the merchant's too.
	ReserveBesideAvailable = "reserve_beside_available"
	// ReserveUndecided: usable fits neither (or is not reported). The text is followed — the reserve is taken
	// to be inside available, so it is never counted twice — and the consistency check says so.
	ReserveUndecided = "undecided"
)

// SnapshotReserveConvention says which of the document's two readings a snapshot's figures fit. A zero
// reserve fits both: it is inside available, trivially.
func SnapshotReserveConvention(b events.Balance) string {
	available, reserve, usable := b.Figures["available"], b.Figures["reserve"], b.Figures["usable"]
	_, hasUsable := b.Figures["usable"]
	switch {
	case reserve.IsZero():
		return ReserveInsideAvailable
	case !hasUsable:
		return ReserveUndecided
	case usable.Equal(available.Sub(reserve)):
		return ReserveInsideAvailable
	case usable.Equal(available.Add(reserve)):
		return ReserveBesideAvailable
	}
	return ReserveUndecided
}

// snapshotHeld is what each of a snapshot's accounts must hold, by figure: available and deposit as
// reported, the reserve only where it is beside available — so that the merchant's money at the provider,
// the sum of the accounts, counts the reserve exactly once.
func snapshotHeld(b events.Balance) map[string]decimal.Decimal {
	held := map[string]decimal.Decimal{}
	for _, f := range snapshotFigures {
		if v, ok := b.Figures[f.figure]; ok {
			held[f.figure] = v
		}
	}
	if _, ok := held["reserve"]; ok && SnapshotReserveConvention(b) != ReserveBesideAvailable {
		held["reserve"] = decimal.Zero
	}
	return held
}

// SnapshotAccount is one of a merchant's balances at a provider, in one currency, as its snapshots keep it.
// The provider's name is part of the code (assets:yabandpay:<user>:wallet:eur), as it is of every account.
func SnapshotAccount(provider, user, name, currency string) ledger.Account {
	return ledger.Account{Code: fmt.Sprintf("assets:%s:%s:%s:%s", provider, user, name, strings.ToLower(currency)),
		Type: ledger.AccountAsset, Currency: currency}
}

// SnapshotKey is the idempotency key of the entry one snapshot posts.
func SnapshotKey(b events.Balance) string {
	return fmt.Sprintf("%s:%s:snapshot:%s:%s", b.Provider, b.Account, b.Currency, b.ObservedAt.UTC().Format(time.RFC3339Nano))
}

// Snapshot returns the entry that brings a merchant's ledger balances to what a snapshot reports: the wallet
// to available, the deposit account to deposit, the reserve account to the reserve where it is beside
// available and to zero where it is inside (snapshotHeld).
// Such a provider reports only balances, so a change no entry explains is posted against suspense for a
// person to attribute — or, for the first snapshot of a currency, against the opening balance (no alert: the
// ledger must agree with the provider from the start). ledgerBal holds the accounts' current balances by
// figure.
func Snapshot(b events.Balance, ledgerBal map[string]decimal.Decimal, first bool, eventID string) (ledger.Entry, map[string]decimal.Decimal, bool) {
	counter := ledger.Account{Code: fmt.Sprintf("liabilities:%s:%s:suspense:%s", b.Provider, b.Account, strings.ToLower(b.Currency)),
		Type: ledger.AccountLiability, Currency: b.Currency}
	if first {
		counter = ledger.Account{Code: fmt.Sprintf("equity:%s:%s:opening_balance:%s", b.Provider, b.Account, strings.ToLower(b.Currency)),
			Type: ledger.AccountEquity, Currency: b.Currency}
	}
	deltas := map[string]decimal.Decimal{}
	var postings []ledger.Posting
	total := decimal.Zero
	held := snapshotHeld(b)
	for _, f := range snapshotFigures {
		reported, ok := held[f.figure]
		if !ok {
			continue
		}
		delta := reported.Sub(ledgerBal[f.figure])
		deltas[f.figure] = delta
		if delta.IsZero() {
			continue
		}
		postings = append(postings, ledger.Posting{Account: SnapshotAccount(b.Provider, b.Account, f.name, b.Currency), Amount: delta})
		total = total.Add(delta)
	}
	if len(postings) == 0 {
		return ledger.Entry{}, deltas, false
	}
	postings = append(postings, ledger.Posting{Account: counter, Amount: total.Neg()})
	if total.IsZero() { // e.g. money moved from available to reserve: the accounts balance among themselves
		postings = postings[:len(postings)-1]
	}
	if len(postings) < 2 {
		return ledger.Entry{}, deltas, false
	}
	return ledger.Entry{
		IdempotencyKey: SnapshotKey(b),
		EffectiveAt:    b.ObservedAt,
		Description:    fmt.Sprintf("%s %s %s snapshot", b.Provider, b.Account, b.Currency),
		// The kind is <provider>_snapshot ("yabandpay_snapshot"), as the ledger has always recorded it and
		// analytics.wallet_movements documents it.
		Metadata: map[string]any{"event_id": eventID, "kind": b.Provider + "_snapshot", "first": first,
			"reserve_convention": SnapshotReserveConvention(b)},
		Postings: postings,
	}, deltas, true
}

// SnapshotFigureAccounts lists, by figure, the accounts a provider's snapshots keep for one merchant and
// currency.
func SnapshotFigureAccounts(provider, user, currency string) map[string]ledger.Account {
	out := map[string]ledger.Account{}
	for _, f := range snapshotFigures {
		out[f.figure] = SnapshotAccount(provider, user, f.name, currency)
	}
	return out
}
