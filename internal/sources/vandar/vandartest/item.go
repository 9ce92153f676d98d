package vandartest

import (
	"time"
)

// Item is one statement item as the simulator knows it at one moment: the truth the HTTP statement is made
// from, before a planted discrepancy hides or repeats it. Amount is the amount as now reported (after any
// ChangeAmount), Wallet the balance the provider's books hold (including a mis-signed fee).
type Item struct {
	ID          int64 // 12 digits: the created_at second × 100 + a counter, as Vandar's ids are
	UUID        string
	Kind        Kind
	Status      int // as of the moment asked
	Channel     string
	IsDeposit   bool
	Amount      int64 // Toman
	Wage        int64 // Toman, never negative
	CreatedAt   time.Time
	UpdatedAt   time.Time
	EffectiveAt time.Time // when the item moved the wallet; zero while it has not (and for items that never do)
	Wallet      int64     // the wallet balance right after the item; 0 while it has not moved the wallet
	// FinalStatus and ResolvedAt are the item's future: it shows its kind's pending status until ResolvedAt.
	FinalStatus int
	ResolvedAt  time.Time
	TrackID     string // settlements: the merchant's unique track_id
	IBAN        string // settlements and their returns: the destination account
	// RevisedTransactionID is, on a returned item (-6), the id of the settlement it gives back.
	RevisedTransactionID int64
	RefundOf             int64 // refunds: the id of the payment refunded (0 if unknown)
	// BatchID names the batch settlement a settlement belongs to ("" for a single settlement).
	BatchID string
	// FactorNumber is a gateway payment's order number (factorNumber): what the shop's expectations name.
	FactorNumber string
	// Planted discrepancies (see Server.HideItem and its siblings).
	Hidden       bool // the statement leaves the item out; the wallet still reflects it
	Duplicated   bool // the statement lists the item twice
	FeeMisSigned bool // the wallet applied the fee with the wrong sign
	// Stuck settlements never leave their pending status (Server.StickSettlement).
	Stuck bool
	// ReturnWithheld: a failed or cancelled settlement whose money never comes back (Server.WithholdReturn).
	ReturnWithheld bool
}

// NewItem describes an item for Server.AddItem: a test's hand-made history.
type NewItem struct {
	Kind      Kind
	Amount    int64 // Toman; settlements at least 5,000 (Vandar's minimum)
	Wage      int64 // Toman
	CreatedAt time.Time
	// Status is the status the item ends in; 0 means the kind's successful one. A settlement ending
	// StatusSettlementFailed or StatusSettlementCanceled gets a StatusReturned item at ResolvedAt.
	Status int
	// ResolvedAt is when the item reaches Status; until then it shows its kind's pending status (3 for
	// payments, -2 for settlements). Zero means it is final from CreatedAt. Kinds with no pending status
	// (cash-in, refunds, transfers, …) ignore it.
	ResolvedAt time.Time
	// Out makes a KindCorrection take money out of the wallet rather than put it in.
	Out bool
	// TrackID and IBAN are a settlement's; generated when empty.
	TrackID string
	IBAN    string
	// RefundOf is, for a refund, the id of the payment refunded (optional).
	RefundOf int64
	// FactorNumber is, for a gateway payment, the shop's order number; the next one when empty. The same
	// number twice is an order paid twice.
	FactorNumber string
	Description  string // generated when empty
}

// record is the simulator's own state for one item: its whole life, not its state at one moment.
type record struct {
	id       int64
	uuid     string
	kind     Kind
	info     kindInfo
	amount   int64
	wage     int64
	deposit  bool
	created  time.Time
	resolved time.Time // when final takes over from info.pending; equal to created for kinds final at once
	final    int
	day      int // created_at's Tehran date as yyyymmdd, for fromDate/toDate
	trackID  string
	iban     string
	revised  int64 // a return's settlement
	refundOf int64
	det      details

	hidden, duplicated, misSignedFee bool

	// Settlements (settlement.go, batch.go).
	instant  bool   // is_instant: sent to the bank at once, never cancellable
	stype    string // ACH (Paya, the default) or A2A
	batch    *batch // the batch that made it; nil for a single settlement
	stuck    bool   // planted: never resolves (StickSettlement)
	withheld bool   // planted: its return item was taken away (WithholdReturn)
}

// details are the descriptive fields: seeded, realistic, never part of the money.
type details struct {
	description string

	// Gateway and form payments (and the bank references most kinds carry).
	refID, trackingCode, cardNumber, cid, port, apiToken, ip string
	factorNumber, mobile, callbackURL, formTitle             string
	formID                                                   int64
	failCode, failMessage, failGroup                         string // shown once a payment has failed

	payerName, payerIBAN, payerEmail, payerSlug string
	receiverName, receiverSlug, bankName        string
	paymentNumber                               int64 // a cash-in's deposit id

	// Settlements and refunds.
	receiptURL                 string
	predicted, cancelableUntil time.Time
	settlementPort             string
}

// statusAt is the status the item shows at now. A stuck settlement shows its pending status for ever.
func (r *record) statusAt(now time.Time) int {
	if r.info.pending != 0 && (r.stuck || now.Before(r.resolved)) {
		return r.info.pending
	}
	return r.final
}

// effective is when the item moves the wallet and whether it ever does. Money out leaves when it is
// requested (a settlement's failure is a separate return item, never an undo); money in arrives when the
// payment succeeds, and a failed one never arrives.
func (r *record) effective() (time.Time, bool) {
	if !r.deposit {
		return r.created, true
	}
	if r.final == StatusPaymentFailed {
		return time.Time{}, false
	}
	return r.resolved, true
}

// net is the item's effect on the wallet: in, amount − wage; out, −(amount + wage). A planted mis-signed fee
// flips the wage's sign, as a provider that applied the fee the wrong way would.
func (r *record) net() int64 {
	wage := r.wage
	if r.misSignedFee {
		wage = -wage
	}
	if r.deposit {
		return r.amount - wage
	}
	return -(r.amount + wage)
}
