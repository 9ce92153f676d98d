package posting

import (
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/ledger"
)

// The business's bank accounts, as their statements show them. They are named by IBAN alone — one bank
// account is one account however many providers pay into it and whoever reads its statements — under the
// word "bank" where other codes name a provider: assets:bank:<IBAN>:cash.

// BankAccount is a bank account as its statements show it (cash at bank): every line of every statement moves
// it, and nothing else does, so its balance is the bank's.
func BankAccount(iban, currency string) ledger.Account {
	return ledger.Account{Code: fmt.Sprintf("assets:bank:%s:cash", events.NormalizeIBAN(iban)), Type: ledger.AccountAsset,
		Currency: currency}
}

// BankUnidentified holds the other side of the bank's lines until something explains them: a payout matched
// to its credit clears its part. What stays is money in or out of the bank that mizan cannot attribute (the
// business's other transfers, a credit no provider reported), for a person to decide.
func BankUnidentified(iban, currency string) ledger.Account {
	return ledger.Account{Code: fmt.Sprintf("liabilities:bank:%s:unidentified", events.NormalizeIBAN(iban)),
		Type: ledger.AccountLiability, Currency: currency}
}

// BankOpeningBalance is what the bank account held before the first statement mizan read.
func BankOpeningBalance(iban, currency string) ledger.Account {
	return ledger.Account{Code: fmt.Sprintf("equity:bank:%s:opening_balance", events.NormalizeIBAN(iban)),
		Type: ledger.AccountEquity, Currency: currency}
}

// PayoutsUnconfirmed holds payouts a provider reported paid to a bank account whose statements mizan reads,
// until the bank shows the credit: between "in transit" and "at the bank".
func PayoutsUnconfirmed(provider, account, iban, currency string) ledger.Account {
	return ledger.Account{Code: fmt.Sprintf("assets:%s:%s:payouts_unconfirmed:%s", provider, account, events.NormalizeIBAN(iban)),
		Type: ledger.AccountAsset, Currency: currency}
}

// BankLineKey is the idempotency key of a bank line's entry: one per line, whatever statement states it.
func BankLineKey(iban, lineID string) string {
	return fmt.Sprintf("bank:%s:line:%s", events.NormalizeIBAN(iban), lineID)
}

// BankOpeningKey is the idempotency key of a bank account's opening entry: there is only ever one.
func BankOpeningKey(iban, currency string) string {
	return fmt.Sprintf("bank:%s:opening:%s", events.NormalizeIBAN(iban), currency)
}

// BankLine is the entry of one line of a bank statement: the bank account moves by the line's amount, and
// the other side waits in BankUnidentified until something explains it (PayoutConfirmed).
func BankLine(l events.BankLine, eventID string) ledger.Entry {
	meta := map[string]any{"event_id": eventID, "kind": "bank_line", "line_id": l.LineID, "iban": l.IBAN,
		"booking_date": l.BookingDate, "amount": l.Amount.String(), "statement_id": l.StatementID, "file": l.File,
		"line": l.Line}
	if l.ValueDate != "" {
		meta["value_date"] = l.ValueDate
	}
	// The references ledger.entry_references indexes: find an entry by the bank's reference or the payer's id.
	if v, ok := reference(l.BankReference); ok {
		meta[RefRefID] = v
	}
	if v, ok := reference(l.EndToEndID); ok {
		meta[RefTrackingCode] = v
	}
	if l.CounterpartyIBAN != "" {
		meta["counterparty_iban"] = events.NormalizeIBAN(l.CounterpartyIBAN)
	}
	if l.Description != "" {
		meta["description"] = truncateRunes(l.Description, 200)
	}
	direction := "credit"
	if l.Amount.IsNegative() {
		direction = "debit"
	}
	return ledger.Entry{
		IdempotencyKey: BankLineKey(l.IBAN, l.LineID),
		EffectiveAt:    l.BookedAt,
		Description:    fmt.Sprintf("bank %s line %s: %s of %s %s on %s", l.IBAN, l.LineID, direction, l.Amount.Abs(), l.Currency, l.BookingDate),
		Metadata:       meta,
		Postings: []ledger.Posting{
			{Account: BankAccount(l.IBAN, l.Currency), Amount: l.Amount},
			{Account: BankUnidentified(l.IBAN, l.Currency), Amount: l.Amount.Neg()},
		},
	}
}

// BankOpening is the entry that opens a bank account at the first balance a statement states (normally the
// opening balance of the first statement mizan reads, just before its first day), so that the ledger agrees
// with the bank from the start, as a wallet's opening does: no alert. amount is what the bank account must
// gain to hold that balance (the balance itself, unless lines of a statement that stated none came first).
// It returns false for zero.
func BankOpening(b events.BankBalance, amount decimal.Decimal, eventID string) (ledger.Entry, bool) {
	if amount.IsZero() {
		return ledger.Entry{}, false
	}
	return ledger.Entry{
		IdempotencyKey: BankOpeningKey(b.IBAN, b.Currency),
		EffectiveAt:    b.At.Add(-time.Microsecond),
		Description:    fmt.Sprintf("bank %s opened at its %s balance of %s (statement %s)", b.IBAN, b.Kind, b.Date, b.StatementID),
		Metadata: map[string]any{"event_id": eventID, "kind": "bank_opening", "iban": b.IBAN, "date": b.Date,
			"statement_id": b.StatementID, "balance": b.Amount.String()},
		Postings: []ledger.Posting{
			{Account: BankAccount(b.IBAN, b.Currency), Amount: amount},
			{Account: BankOpeningBalance(b.IBAN, b.Currency), Amount: amount.Neg()},
		},
	}, true
}

// AwaitBank turns a payout-done entry (PayoutDone) into one that moves the money from transit into
// PayoutsUnconfirmed instead of the bank account: for a bank account whose statements mizan reads, the
// provider's word that it paid is not yet the bank's. It returns false for any other entry.
func AwaitBank(e ledger.Entry) (ledger.Entry, bool) {
	if e.Metadata["kind"] != "payout_done" || len(e.Postings) != 2 {
		return e, false
	}
	p, rest, _ := strings.Cut(e.IdempotencyKey, ":")
	a, _, _ := strings.Cut(rest, ":")
	iban, _ := e.Metadata["iban"].(string)
	out := e
	out.Metadata = make(map[string]any, len(e.Metadata)+1)
	for k, v := range e.Metadata {
		out.Metadata[k] = v
	}
	out.Metadata["awaits_bank"] = true
	out.Postings = []ledger.Posting{e.Postings[0],
		{Account: PayoutsUnconfirmed(p, a, iban, e.Postings[1].Account.Currency), Amount: e.Postings[1].Amount}}
	out.Description = strings.Replace(e.Description, " paid to ", " reported paid to ", 1) + ", awaiting the bank's credit"
	return out, true
}

// PayoutConfirmedKey is the idempotency key of the entry that confirms a payout by its bank credit: one per
// payout, named after the entry that reported it paid (PayoutDoneKey).
func PayoutConfirmedKey(doneKey string) string {
	return strings.TrimSuffix(doneKey, ":done") + ":confirmed"
}

// PayoutConfirmed is the entry of a payout met by its bank credit: the money leaves PayoutsUnconfirmed and
// clears the credit's line in BankUnidentified — so that, with the line's own entry (BankLine), the payout
// has moved from unconfirmed to the bank account. amount is what the two agree on: the smaller of the payout
// and the credit; a difference stays where it is (unconfirmed money the bank did not show, or a credit no
// payout explains) and is alerted.
func PayoutConfirmed(doneKey, provider, account, iban, currency, lineID string, amount decimal.Decimal,
	at time.Time, meta map[string]any) ledger.Entry {
	m := map[string]any{"kind": "payout_confirmed", "line_id": lineID, "iban": events.NormalizeIBAN(iban),
		"amount": amount.String(), "payout_key": doneKey}
	for k, v := range meta {
		m[k] = v
	}
	return ledger.Entry{
		IdempotencyKey: PayoutConfirmedKey(doneKey),
		EffectiveAt:    at,
		Description:    fmt.Sprintf("%s %s payout %s confirmed by bank %s line %s", provider, account, doneKey, iban, lineID),
		Metadata:       m,
		Postings: []ledger.Posting{
			{Account: PayoutsUnconfirmed(provider, account, iban, currency), Amount: amount.Neg()},
			{Account: BankUnidentified(iban, currency), Amount: amount},
		},
	}
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
