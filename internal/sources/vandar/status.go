package vandar

import (
	"strings"

	"github.com/mizanhq/mizan/internal/events"
)

// KindUnknown and StateUnknown describe an item whose status code Vandar lists but nobody has explained
// (code 9). Such an item is decoded, never posted (MovedWallet is false), and left to the caller: if it did
// move the wallet, the next item's running balance will not add up and the running-balance check says so.
// They live here rather than in events because only Vandar has such a code.
const (
	KindUnknown  = "unknown"
	StateUnknown = "unknown"
)

// StatusInfo is what one statement status code means for the wallet.
type StatusInfo struct {
	Code int
	// Name is the name vandarpy gives the code, kept for messages and for whoever checks this table.
	Name string
	// Kind and State are the normalized events.Kind* and events.State* values.
	Kind  string
	State string
	// MovedWallet says whether the item has changed the wallet balance: only such items are posted, and only
	// their `wallet` field is a running balance.
	MovedWallet bool
	// Direction is the direction the code implies (events.DirectionIn or DirectionOut), or "" when only the
	// item's is_deposit can tell (a correction goes either way; code 9 is unexplained).
	Direction string
}

// LookupStatus returns what a statement `status` code means. ok is false for a code outside the list Vandar
// documents (1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 6, -6, 9).
//
// Source: Vandar's documents list the codes but not their meanings. The meanings are the enum of vandarpy, a
// public third-party SDK — github.com/Javad-Alipanah/vandarpy @ 37ba793158d1777f165d31b3b62769d3affe9b4e,
// vandarpy/models/business/transaction.py (quoted in providers/facts.md 2.4) — plus the document's one example
// (an abandoned card payment with -1). What each code does to the wallet is mizan's decision (DESIGN.md,
// "Ledger"), written here once:
//   - a payment moves the wallet only once it succeeded (1); failed (-1) and pending (3) ones never did, and
//     Vandar reports wallet 0 for them, which is not a balance;
//   - a settlement leaves the wallet when it is requested, so pending (-2) and done (2) have both moved it;
//   - a failed (-3) or cancelled (-4) settlement had been deducted too: the money comes back as a separate
//     item (-6, returned from the bank), so these stay "moved, out" and the return is its own "moved, in";
//   - corrections (4) move the wallet in the direction is_deposit gives;
//   - internal transfers (5 in, -5 out), subscription (direct debit) collections (6) and returns (-6) move it;
//   - 9 is listed without a meaning: KindUnknown, StateUnknown, not moved (see KindUnknown).
//
// The ledger's running-balance check is what proves this table against real statements: a wrong row shows up
// as a break at the first item it misreads.
func LookupStatus(code int) (StatusInfo, bool) {
	in, out := events.DirectionIn, events.DirectionOut
	s := func(name, kind, state string, moved bool, dir string) (StatusInfo, bool) {
		return StatusInfo{Code: code, Name: name, Kind: kind, State: state, MovedWallet: moved, Direction: dir}, true
	}
	switch code {
	case 1:
		return s("SUCCESSFUL_TRANSACTION", events.KindPayment, events.StateSucceeded, true, in)
	case -1:
		return s("FAILED_TRANSACTION", events.KindPayment, events.StateFailed, false, in)
	case 3:
		return s("PENDING_TRANSACTION", events.KindPayment, events.StatePending, false, in)
	case 2:
		return s("SUCCESSFUL_SETTLEMENT", events.KindSettlement, events.StateSucceeded, true, out)
	case -2:
		return s("PENDING_SETTLEMENT", events.KindSettlement, events.StatePending, true, out)
	case -3:
		return s("FAILED_SETTLEMENT", events.KindSettlement, events.StateFailed, true, out)
	case -4:
		return s("CANCELED_SETTLEMENT", events.KindSettlement, events.StateCanceled, true, out)
	case 4:
		return s("CORRECTED_TRANSACTION", events.KindCorrection, events.StateSucceeded, true, "")
	case 5:
		return s("INTERNAL_DEPOSIT", events.KindInternalDeposit, events.StateSucceeded, true, in)
	case -5:
		return s("INTERNAL_WITHDRAW", events.KindInternalWithdrawal, events.StateSucceeded, true, out)
	case 6:
		return s("SUBSCRIPTION", events.KindSubscription, events.StateSucceeded, true, in)
	case -6:
		return s("RETURNED_FROM_BANK_OR_VANDAR", events.KindReturned, events.StateSucceeded, true, in)
	case 9:
		return s("UNKNOWN", KindUnknown, StateUnknown, false, "")
	}
	return StatusInfo{}, false
}

// StatusCodes lists every documented status code, in the order Vandar's document lists them.
func StatusCodes() []int { return []int{1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 6, -6, 9} }

// kindFor refines the table's kind by channel where the channel is more specific than the code: Vandar uses
// the payment codes for cash-in (a deposit by id is a successful "payment" in the status list) and the
// settlement codes for refunds to a payer's card (the public fixture of a refund has status 2 and channel
// "بازگشت وجه"). The wallet effect is the code's either way; only the name of the counter-account changes.
func kindFor(info StatusInfo, channel string) string {
	switch {
	case info.Kind == events.KindPayment && channel == ChannelCashIn:
		return events.KindCashIn
	case info.Kind == events.KindSettlement && channel == ChannelRefund:
		return events.KindRefund
	}
	return info.Kind
}

// Channel codes: the normalized form of the Persian label Vandar puts in an item's `channel` field. The codes
// follow the statement's own `channel` filter vocabulary (ipg, form, refund, …), spelt with underscores.
const (
	ChannelIPG                = "ipg"                 // internet payment gateway
	ChannelForm               = "form"                // a payment form
	ChannelCashIn             = "cash_in"             // deposit to the wallet by bank transfer or deposit id
	ChannelRefund             = "refund"              // money given back to a payer's card
	ChannelSettlement         = "settlement"          // payout to an IBAN
	ChannelShaparakSettlement = "shaparak_settlement" // settlement made by Shaparak directly
	ChannelSubscription       = "subscription"        // direct debit (Vandar's "automatic payment")
	ChannelPOS                = "pos"                 // card terminal
	ChannelP2P                = "p2p"                 // transfer between Vandar wallets
	ChannelOther              = "other"               // a label this table does not know; the raw item keeps it
)

// NormalizeChannel maps Vandar's `channel` label to a channel code, or ChannelOther for a label it does not
// know (the item's raw JSON keeps the label, so nothing is lost; the posting rules decide what other means).
//
// The labels "پرداخت اینترنتی", "فرم دریافت پول", "واریز با شناسه" and "بازگشت وجه" appear in Vandar's
// document and public fixtures (providers/facts.md 2.4); the others are Vandar's names for its services as its
// document titles them, not yet seen in a statement. The filter codes (ipg, cash-in, …) are accepted too, in
// case an item ever carries the code instead of the label.
func NormalizeChannel(label string) string {
	switch normalizePersian(label) {
	case "پرداخت اینترنتی", "درگاه پرداخت", "درگاه پرداخت اینترنتی", "ipg":
		return ChannelIPG
	case "فرم دریافت پول", "فرم پرداخت", "form":
		return ChannelForm
	case "واریز با شناسه", "واریز بانکی", "واریز شناسه دار", "cash-in", "cash_in", "cash-in-by-code", "cash_in_by_code":
		return ChannelCashIn
	case "بازگشت وجه", "refund":
		return ChannelRefund
	case "تسویه حساب", "تسویه", "settlement", "settlements":
		return ChannelSettlement
	case "تسویه شاپرکی", "shaparak_settlement", "shaparak-settlement":
		return ChannelShaparakSettlement
	case "پرداخت خودکار", "اشتراک", "subscription":
		return ChannelSubscription
	case "کارتخوان", "پوز", "pos":
		return ChannelPOS
	case "انتقال وجه", "انتقال داخلی", "p2p":
		return ChannelP2P
	}
	return ChannelOther
}

// normalizePersian folds the spellings one Persian label can arrive in: Arabic yeh and kaf for the Persian
// letters, zero-width non-joiners and runs of spaces for one space, and surrounding space. Lower-casing only
// matters for the Latin filter codes.
func normalizePersian(s string) string {
	s = strings.NewReplacer("\u064a", "\u06cc", "\u0649", "\u06cc", "\u0643", "\u06a9", "\u200c", " ").Replace(s)
	return strings.ToLower(strings.Join(strings.Fields(s), " "))
}
