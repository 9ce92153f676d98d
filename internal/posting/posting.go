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

// Statement returns the entry a statement item posts, or false when the item did not move the wallet
// (failed, abandoned and pending payments: DESIGN.md "Ledger").
//
// Money in: wallet +(amount − fee), fees +fee, counter-account −amount.
// Money out: wallet −(amount + fee), fees +fee, counter-account +amount.
func Statement(it events.StatementItem, eventID string) (ledger.Entry, bool, error) {
	if !it.MovedWallet {
		return ledger.Entry{}, false, nil
	}
	if it.Amount.IsNegative() || it.Fee.IsNegative() {
		return ledger.Entry{}, false, fmt.Errorf("statement item %s: negative amount or fee", it.ItemID)
	}
	counter, err := counterAccount(it)
	if err != nil {
		return ledger.Entry{}, false, err
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
		return ledger.Entry{}, false, fmt.Errorf("statement item %s: unknown direction %q", it.ItemID, it.Direction)
	}
	if len(postings) < 2 {
		// A zero-amount item moved nothing worth an entry.
		return ledger.Entry{}, false, nil
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
	}
	return ledger.Entry{
		IdempotencyKey: StatementKey(it),
		EffectiveAt:    it.EffectiveAt,
		Description:    fmt.Sprintf("%s %s item %s: %s %s via %s", p, a, it.ItemID, it.Kind, it.Direction, it.Channel),
		Metadata:       meta,
		Postings:       postings,
	}, true, nil
}

// counterAccount is where the other side of a wallet movement goes, by what the item is.
func counterAccount(it events.StatementItem) (ledger.Account, error) {
	p, a, c := it.Provider, it.Account, it.Currency
	switch {
	case it.Channel == "refund" && it.Direction == events.DirectionOut:
		return Refunds(p, a, c), nil
	case it.Kind == events.KindSettlement:
		return InTransit(p, a, c), nil
	case it.Kind == events.KindReturned:
		// A settlement the bank sent back: the money returns from transit.
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
		map[string]any{"event_id": eventID, "track_id": s.TrackID, "source": "settlement"})
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

// YabandPay figures mizan keeps as accounts: available is the wallet; reserve and the frozen deposit are
// money of the merchant's held apart. usable is recorded with each observation but not kept as an account:
// the documents contradict each other on how it relates to the others.
var yabandPayFigures = []struct{ figure, name string }{{"available", "wallet"}, {"reserve", "reserve"}, {"deposit", "deposit"}}

// YabandPayAccount is one of a merchant's YabandPay balances in one currency.
func YabandPayAccount(user, name, currency string) ledger.Account {
	return ledger.Account{Code: fmt.Sprintf("assets:yabandpay:%s:%s:%s", user, name, strings.ToLower(currency)),
		Type: ledger.AccountAsset, Currency: currency}
}

// YabandPaySnapshotKey is the idempotency key of the entry one snapshot posts.
func YabandPaySnapshotKey(b events.Balance) string {
	return fmt.Sprintf("yabandpay:%s:snapshot:%s:%s", b.Account, b.Currency, b.ObservedAt.UTC().Format(time.RFC3339Nano))
}

// YabandPaySnapshot returns the entry that brings a merchant's ledger balances to what a snapshot reports.
// YabandPay reports only balances, so a change no entry explains is posted against suspense for a person to
// attribute — or, for the first snapshot of a currency, against the opening balance (no alert: the ledger
// must agree with the provider from the start). ledger holds the accounts' current balances by figure.
func YabandPaySnapshot(b events.Balance, ledgerBal map[string]decimal.Decimal, first bool, eventID string) (ledger.Entry, map[string]decimal.Decimal, bool) {
	counter := ledger.Account{Code: fmt.Sprintf("liabilities:yabandpay:%s:suspense:%s", b.Account, strings.ToLower(b.Currency)),
		Type: ledger.AccountLiability, Currency: b.Currency}
	if first {
		counter = ledger.Account{Code: fmt.Sprintf("equity:yabandpay:%s:opening_balance:%s", b.Account, strings.ToLower(b.Currency)),
			Type: ledger.AccountEquity, Currency: b.Currency}
	}
	deltas := map[string]decimal.Decimal{}
	var postings []ledger.Posting
	total := decimal.Zero
	for _, f := range yabandPayFigures {
		reported, ok := b.Figures[f.figure]
		if !ok {
			continue
		}
		delta := reported.Sub(ledgerBal[f.figure])
		deltas[f.figure] = delta
		if delta.IsZero() {
			continue
		}
		postings = append(postings, ledger.Posting{Account: YabandPayAccount(b.Account, f.name, b.Currency), Amount: delta})
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
		IdempotencyKey: YabandPaySnapshotKey(b),
		EffectiveAt:    b.ObservedAt,
		Description:    fmt.Sprintf("yabandpay %s %s snapshot", b.Account, b.Currency),
		Metadata:       map[string]any{"event_id": eventID, "kind": "yabandpay_snapshot", "first": first},
		Postings:       postings,
	}, deltas, true
}

// YabandPayFigureAccounts lists, by figure, the accounts a snapshot keeps.
func YabandPayFigureAccounts(user, currency string) map[string]ledger.Account {
	out := map[string]ledger.Account{}
	for _, f := range yabandPayFigures {
		out[f.figure] = YabandPayAccount(user, f.name, currency)
	}
	return out
}
