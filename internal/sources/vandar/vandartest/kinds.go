package vandartest

// Status codes of statement items. Vandar's own documents list the codes (1, -1, 2, -2, … 6, -6, 9) without
// saying what they mean; the meanings below are the public vandarpy SDK's enum
// (github.com/Javad-Alipanah/vandarpy @ 37ba793, vandarpy/models/business/transaction.py), as
// providers/facts.md §2.4 records. This is the one place the simulator keeps that mapping.
const (
	StatusPaymentSucceeded   = 1  // a payment that moved money into the wallet
	StatusPaymentFailed      = -1 // failed or abandoned payment: never moves the wallet
	StatusSettlementDone     = 2  // a settlement the bank paid; also the status of a refund
	StatusSettlementPending  = -2 // a settlement requested: the money has already left the wallet
	StatusPaymentPending     = 3  // a payment not yet confirmed: does not move the wallet (yet)
	StatusSettlementFailed   = -3 // the bank refused it: a StatusReturned item brings the money back
	StatusCorrected          = 4  // a correction by Vandar, either direction (see is_deposit)
	StatusSettlementCanceled = -4 // cancelled before it was sent: a StatusReturned item brings the money back
	StatusInternalDeposit    = 5  // money from another Vandar wallet
	StatusInternalWithdrawal = -5 // money to another Vandar wallet
	StatusSubscription       = 6  // a direct-debit (subscription) withdrawal from a customer's account
	StatusReturned           = -6 // money returned from the bank or by Vandar: a failed or cancelled settlement
)

// Kind is what a statement item records. It decides the item's channel label, its direction and which
// status codes it can take; see the Kind constants.
type Kind string

// Kinds of statement item the simulator produces.
const (
	KindIPG                Kind = "ipg"                 // payment through the payment gateway
	KindForm               Kind = "form"                // payment through a payment form
	KindCashIn             Kind = "cash-in"             // bank deposit with a deposit id
	KindSubscription       Kind = "subscription"        // direct-debit withdrawal from a customer (status 6)
	KindInternalDeposit    Kind = "internal-deposit"    // from another Vandar wallet (status 5)
	KindInternalWithdrawal Kind = "internal-withdrawal" // to another Vandar wallet (status -5)
	KindCorrection         Kind = "correction"          // Vandar's correction (status 4), in or out
	KindRefund             Kind = "refund"              // a refund of an earlier gateway payment
	KindSettlement         Kind = "settlement"          // a payout to an IBAN (-2, then 2, -3 or -4)
	KindReturn             Kind = "return"              // a failed or cancelled settlement's money coming back (-6)
)

// kindInfo is everything about a kind that does not vary per item.
type kindInfo struct {
	// label is the Persian `channel` text Vandar puts on the item. Four of them are in the documents
	// ("پرداخت اینترنتی", "فرم دریافت پول", "واریز با شناسه", "بازگشت وجه"), "تسویه حساب" is Vandar's own name
	// for a settlement; the labels of subscriptions, internal transfers and corrections are nowhere in the
	// sources and are the simulator's choice.
	label string
	// deposit is is_deposit: money in. A correction can go either way; its item decides.
	deposit bool
	// pending is the status shown until the item resolves; 0 for kinds that are final when created.
	pending int
	// finals are the statuses the item may end in; the first is the successful one.
	finals []int
	// codes are the `channel` filter values that select the kind.
	codes []string
	// settlementSide puts the kind under statusKind=settlements rather than transactions.
	settlementSide bool
}

// kinds is every kind's info, made once: records share it.
var kinds = func() map[Kind]kindInfo {
	m := map[Kind]kindInfo{}
	for _, k := range []Kind{KindIPG, KindForm, KindCashIn, KindSubscription, KindInternalDeposit,
		KindInternalWithdrawal, KindCorrection, KindRefund, KindSettlement, KindReturn} {
		m[k], _ = makeInfo(k)
	}
	return m
}()

func infoOf(k Kind) (kindInfo, bool) {
	info, ok := kinds[k]
	return info, ok
}

func makeInfo(k Kind) (kindInfo, bool) {
	switch k {
	case KindIPG:
		return kindInfo{label: "پرداخت اینترنتی", deposit: true, pending: StatusPaymentPending,
			finals: []int{StatusPaymentSucceeded, StatusPaymentFailed}, codes: []string{"ipg"}}, true
	case KindForm:
		return kindInfo{label: "فرم دریافت پول", deposit: true, pending: StatusPaymentPending,
			finals: []int{StatusPaymentSucceeded, StatusPaymentFailed}, codes: []string{"form"}}, true
	case KindCashIn:
		// "واریز با شناسه" is a deposit by id: both cash-in filter codes select it.
		return kindInfo{label: "واریز با شناسه", deposit: true, finals: []int{StatusPaymentSucceeded},
			codes: []string{"cash-in", "cash-in-by-code"}}, true
	case KindSubscription:
		return kindInfo{label: "پرداخت مستقیم", deposit: true, finals: []int{StatusSubscription},
			codes: []string{"subscription"}}, true
	case KindInternalDeposit:
		return kindInfo{label: "انتقال وجه داخلی", deposit: true, finals: []int{StatusInternalDeposit},
			codes: []string{"p2p"}}, true
	case KindInternalWithdrawal:
		return kindInfo{label: "انتقال وجه داخلی", finals: []int{StatusInternalWithdrawal},
			codes: []string{"p2p"}}, true
	case KindCorrection:
		return kindInfo{label: "اصلاحیه", deposit: true, finals: []int{StatusCorrected}}, true
	case KindRefund:
		// A public fixture shows refunds with status 2 and is_deposit false (facts.md §2.4).
		return kindInfo{label: "بازگشت وجه", finals: []int{StatusSettlementDone}, codes: []string{"refund"}}, true
	case KindSettlement:
		return kindInfo{label: "تسویه حساب", pending: StatusSettlementPending,
			finals: []int{StatusSettlementDone, StatusSettlementFailed, StatusSettlementCanceled},
			codes:  []string{"settlements"}, settlementSide: true}, true
	case KindReturn:
		// The return belongs to the settlement's story, so it carries the settlement's label and filters.
		return kindInfo{label: "تسویه حساب", deposit: true, finals: []int{StatusReturned},
			codes: []string{"settlements"}, settlementSide: true}, true
	}
	return kindInfo{}, false
}

// knownChannel reports whether code is one of the channel filter values the documents list. Codes that no
// simulated kind carries (pos, shaparak_settlement, …) are valid and simply match nothing.
func knownChannel(code string) bool {
	switch code {
	case "ipg", "form", "p2p", "refund", "subscription", "settlements", "cash-in", "pos",
		"shaparak_settlement", "shaparak-settlement", "cash-in-by-code":
		return true
	}
	return false
}

// statusFilter is the `status` filter's word for a status code: the filter vocabulary is
// succeed|failed|pending|canceled, the codes are the table above.
func statusFilter(code int) string {
	switch code {
	case StatusPaymentFailed, StatusSettlementFailed:
		return "failed"
	case StatusPaymentPending, StatusSettlementPending:
		return "pending"
	case StatusSettlementCanceled:
		return "canceled"
	}
	return "succeed"
}
