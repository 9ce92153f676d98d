package events

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// Item states, normalized from each provider's own codes.
const (
	StateSucceeded = "succeeded"
	StatePending   = "pending"
	StateFailed    = "failed"
	StateCanceled  = "canceled"
)

// Directions of a statement item, from the wallet's point of view.
const (
	DirectionIn  = "in"
	DirectionOut = "out"
)

// Kinds of statement item. The provider's code for each lives with the provider (see sources/vandar).
const (
	KindPayment            = "payment"
	KindSettlement         = "settlement"
	KindRefund             = "refund"
	KindCashIn             = "cash_in"
	KindInternalDeposit    = "internal_deposit"
	KindInternalWithdrawal = "internal_withdrawal"
	KindSubscription       = "subscription"
	KindCorrection         = "correction"
	KindReturned           = "returned"
)

// StatementItem is one line of a provider's statement in the state the provider reported it.
//
// Amount and Fee are never negative; Direction says which way the money went. WalletAfter is the provider's
// running wallet balance after the item, and is only meaningful when MovedWallet is true: for failed, abandoned
// and pending items the provider reports 0 there, which is not a balance.
type StatementItem struct {
	Provider    string           `json:"provider"`
	Account     string           `json:"account"` // the provider account: a Vandar business slug
	ItemID      string           `json:"item_id"` // the provider's own id
	StatusCode  int              `json:"status_code"`
	Kind        string           `json:"kind"`
	State       string           `json:"state"`
	Direction   string           `json:"direction"`
	Channel     string           `json:"channel"` // normalized channel code: ipg, form, refund, settlement, cash_in, …
	Amount      decimal.Decimal  `json:"amount"`
	Fee         decimal.Decimal  `json:"fee"`
	Currency    string           `json:"currency"`
	MovedWallet bool             `json:"moved_wallet"`
	WalletAfter *decimal.Decimal `json:"wallet_after,omitempty"`
	CreatedAt   time.Time        `json:"created_at"`
	EffectiveAt time.Time        `json:"effective_at"` // when it moved (or would move) the wallet
	// ReturnsItemID names the item this one gives money back for (a settlement returned by the bank), where
	// the provider says so.
	ReturnsItemID string          `json:"returns_item_id,omitempty"`
	TrackID       string          `json:"track_id,omitempty"`
	Description   string          `json:"description,omitempty"`
	Raw           json.RawMessage `json:"raw"` // the provider's item exactly as received
}

// Event wraps the item. Its id covers everything about the item that a provider may change: a new status, a
// new amount, fee, direction or running balance is a new fact.
func (s StatementItem) Event() (Event, error) {
	wallet := ""
	if s.WalletAfter != nil {
		wallet = s.WalletAfter.String()
	}
	id := NewID(s.Provider, s.Account, FeedStatement, s.ItemID, fmt.Sprint(s.StatusCode), s.State, s.Direction,
		s.Amount.String(), s.Fee.String(), s.Currency, fmt.Sprint(s.MovedWallet), wallet,
		s.EffectiveAt.UTC().Format(time.RFC3339Nano))
	t := s.EffectiveAt
	if t.IsZero() {
		t = s.CreatedAt
	}
	return newEvent(TypeStatementItem, "/"+s.Provider+"/"+s.Account+"/"+FeedStatement, s.ItemID,
		Key(s.Provider, s.Account), id, t, s)
}

// Balance is a balance a provider reported for one account and currency at one moment.
//
// Amount is the wallet figure to compare with the ledger. Figures keeps every figure the provider gave by its
// own name (YabandPay: available, reserve, usable, deposit), as reported: the documents contradict each other on
// how they relate, so mizan records and never derives them.
type Balance struct {
	Provider   string                     `json:"provider"`
	Account    string                     `json:"account"`
	Currency   string                     `json:"currency"`
	Amount     decimal.Decimal            `json:"amount"`
	Figures    map[string]decimal.Decimal `json:"figures,omitempty"`
	ObservedAt time.Time                  `json:"observed_at"`
	Raw        json.RawMessage            `json:"raw"`
}

// Event wraps the observation. Every observation is its own fact (its time is part of the id); the same
// response re-published after a crash keeps its id.
func (b Balance) Event() (Event, error) {
	parts := []string{b.Provider, b.Account, FeedBalance, b.Currency, b.ObservedAt.UTC().Format(time.RFC3339Nano),
		b.Amount.String()}
	for _, name := range sortedKeys(b.Figures) {
		parts = append(parts, name+"="+b.Figures[name].String())
	}
	return newEvent(TypeBalance, "/"+b.Provider+"/"+b.Account+"/"+FeedBalance, b.Currency,
		Key(b.Provider, b.Account), NewID(parts...), b.ObservedAt, b)
}

// Watermark says: for this source and feed, every item up to Through has been published. The reconciler
// compares a reported balance with the ledger only once the statement watermark has passed the balance's
// observation time.
type Watermark struct {
	Provider string    `json:"provider"`
	Account  string    `json:"account"`
	Feed     string    `json:"feed"`
	Source   string    `json:"source"` // the sources-file name of the source that polled
	Through  time.Time `json:"through"`
	PolledAt time.Time `json:"polled_at"`
	Items    int       `json:"items"` // items published by the poll that set this watermark
	// LastEvent is the id of the last event this feed published up to Through. Watermarks travel on their own
	// topic, so one can overtake the data it vouches for; a consumer trusts the watermark only once it has
	// applied LastEvent, which (same key, same partition) means it has applied everything before it too.
	LastEvent string `json:"last_event,omitempty"`
	// Duplicates are item ids the provider listed more than once in this poll (a provider fault mizan counts
	// once and reports).
	Duplicates []string `json:"duplicates,omitempty"`
}

// Event wraps the watermark. Two polls that reach the same point give the same id.
func (w Watermark) Event() (Event, error) {
	id := NewID(w.Provider, w.Account, "watermark", w.Feed, w.Through.UTC().Format(time.RFC3339Nano))
	return newEvent(TypeWatermark, "/"+w.Provider+"/"+w.Account+"/"+w.Feed, w.Feed,
		Key(w.Provider, w.Account), id, w.PolledAt, w)
}

// DeadLetter is what the reconciler publishes to TopicDLQ for a message it cannot apply: the message itself,
// where it came from and why it was refused.
type DeadLetter struct {
	Topic      string    `json:"topic"`
	Partition  int       `json:"partition"`
	Offset     int64     `json:"offset"`
	Key        string    `json:"key"`
	EventID    string    `json:"event_id,omitempty"`
	Reason     string    `json:"reason"`
	Value      []byte    `json:"value"` // the original message value, base64 in JSON (a prefix if Truncated)
	RefusedAt  time.Time `json:"refused_at"`
	RefusedBy  string    `json:"refused_by"` // consumer group
	RetryCount int       `json:"retry_count"`
	// ReasonCode is the kind of fault, one short word (malformed, unknown_type, invalid_fact, …).
	ReasonCode string `json:"reason_code,omitempty"`
	// Size is the length of the original value and SHA256 its hash (hex), whether or not Value holds it all.
	Size   int    `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	// Truncated says that Value is only the original's first bytes, so that this copy fits under the
	// producer's message size limit. The whole original is in recon.dead_letters (ID) unless it is larger still.
	Truncated bool  `json:"truncated,omitempty"`
	ID        int64 `json:"dead_letter_id,omitempty"` // recon.dead_letters.id
}

// Event wraps the dead letter; its id is derived from the message's position, so a replayed refusal is the
// same dead letter.
func (d DeadLetter) Event() (Event, error) {
	id := NewID("deadletter", d.Topic, fmt.Sprint(d.Partition), fmt.Sprint(d.Offset))
	return newEvent(TypeDeadLetter, "/mizan/reconciler/"+d.RefusedBy, d.Topic, d.Key, id, d.RefusedAt, d)
}

// Settlement statuses, as Vandar reports them (uppercase; the statement's lowercase words are only filters).
const (
	SettlementInit      = "INIT"
	SettlementPending   = "PENDING"
	SettlementSubmitted = "SUBMITTED"
	SettlementDone      = "DONE"
	SettlementFailed    = "FAILED"
	SettlementCanceled  = "CANCELED"
)

// Settlement is one payout from a provider wallet to a bank account, in the state the provider reported it.
// Amounts are in the provider's unit (Vandar: tomans, from amount_toman/wage_toman where given; a bare
// `amount` in some Vandar responses is rials and is converted by the source).
type Settlement struct {
	Provider     string `json:"provider"`
	Account      string `json:"account"`
	SettlementID string `json:"settlement_id"` // the provider's id of the settlement (Vandar: a uuid)
	// TransactionID is the statement item that took the money out of the wallet, where the provider says.
	TransactionID string           `json:"transaction_id,omitempty"`
	TrackID       string           `json:"track_id,omitempty"` // the merchant's own unique id
	Status        string           `json:"status"`             // one of the Settlement* constants
	Amount        decimal.Decimal  `json:"amount"`
	Fee           decimal.Decimal  `json:"fee"`
	Currency      string           `json:"currency"`
	IBAN          string           `json:"iban,omitempty"`
	Queued        bool             `json:"queued,omitempty"` // stored while the wallet was short; sent when funded
	PredictedAt   time.Time        `json:"predicted_at,omitzero"`
	CreatedAt     time.Time        `json:"created_at,omitzero"`
	SettledAt     time.Time        `json:"settled_at,omitzero"` // when it reached DONE, where reported
	ObservedAt    time.Time        `json:"observed_at"`
	Raw           json.RawMessage  `json:"raw"`
	WalletAfter   *decimal.Decimal `json:"wallet_after,omitempty"` // the list's `wallet` after this settlement
}

// Event wraps the settlement. Each status a settlement reaches is one fact; the same status reported again is
// the same fact, and a changed amount under one status is a new one.
func (s Settlement) Event() (Event, error) {
	id := NewID(s.Provider, s.Account, FeedSettlements, s.SettlementID, s.Status, s.Amount.String(), s.Fee.String(),
		s.Currency)
	t := s.ObservedAt
	if !s.SettledAt.IsZero() {
		t = s.SettledAt
	}
	return newEvent(TypeSettlement, "/"+s.Provider+"/"+s.Account+"/"+FeedSettlements, s.SettlementID,
		Key(s.Provider, s.Account), id, t, s)
}

// BatchItem is one settlement of a batch.
type BatchItem struct {
	ID            string          `json:"id"`
	TrackID       string          `json:"track_id,omitempty"`
	TransactionID string          `json:"transaction_id,omitempty"`
	Amount        decimal.Decimal `json:"amount"`
	IBAN          string          `json:"iban,omitempty"`
	Status        string          `json:"status"`
	Type          string          `json:"type,omitempty"` // ACH (Paya) or A2A
	ErrorMessage  string          `json:"error_message,omitempty"`
}

// Batch is a batch settlement as the provider reported it: its totals, its per-status counts and amounts, and
// (where fetched) its items. The batch check compares the items with the totals.
type Batch struct {
	Provider    string                     `json:"provider"`
	Account     string                     `json:"account"`
	BatchID     string                     `json:"batch_id"`
	Currency    string                     `json:"currency"`
	TotalCount  int                        `json:"total_count"`
	TotalAmount decimal.Decimal            `json:"total_amount"`
	Counts      map[string]int             `json:"counts"`  // by lowercase status: init, pending, submitted, done, failed, canceled
	Amounts     map[string]decimal.Decimal `json:"amounts"` // by the same statuses
	Items       []BatchItem                `json:"items,omitempty"`
	ItemsRead   bool                       `json:"items_read"` // whether Items is the batch's complete item list
	CreatedAt   time.Time                  `json:"created_at,omitzero"`
	ObservedAt  time.Time                  `json:"observed_at"`
	Raw         json.RawMessage            `json:"raw"`
}

// Event wraps the batch. A batch whose counts, amounts and item statuses are unchanged is the same fact.
func (b Batch) Event() (Event, error) {
	parts := []string{b.Provider, b.Account, FeedBatches, b.BatchID, fmt.Sprint(b.TotalCount), b.TotalAmount.String()}
	for _, k := range sortedKeys(b.Counts) {
		parts = append(parts, k+"="+fmt.Sprint(b.Counts[k]))
	}
	for _, k := range sortedKeys(b.Amounts) {
		parts = append(parts, k+"="+b.Amounts[k].String())
	}
	for _, it := range b.Items {
		parts = append(parts, it.ID+":"+it.Status+":"+it.Amount.String())
	}
	return newEvent(TypeBatch, "/"+b.Provider+"/"+b.Account+"/"+FeedBatches, b.BatchID,
		Key(b.Provider, b.Account), NewID(parts...), b.ObservedAt, b)
}

// Quarantined is a provider item a source could not understand. It is published instead of being dropped or
// stopping the feed — one odd item never halts the rest — so that an alert names it and nothing is lost
// silently: its money, if it had any, shows up as a running-balance break. It travels on the topic of the
// feed it came from, in order with that feed's other facts.
type Quarantined struct {
	Provider string `json:"provider"`
	Account  string `json:"account"`
	Feed     string `json:"feed"`
	// Endpoint names the request that returned the item, e.g. "GET /v3/business/acme/transaction".
	Endpoint string `json:"endpoint"`
	// ItemID is the provider's id of the item where it could be read, else "".
	ItemID     string          `json:"item_id,omitempty"`
	Reason     string          `json:"reason"`
	ObservedAt time.Time       `json:"observed_at"`
	Raw        json.RawMessage `json:"raw"` // the item exactly as received
}

// Event wraps the quarantined item. The same item refused for the same reason is the same fact.
func (q Quarantined) Event() (Event, error) {
	id := NewID(q.Provider, q.Account, q.Feed, "quarantined", q.Endpoint, q.ItemID, q.Reason, string(q.Raw))
	return newEvent(TypeQuarantined, "/"+q.Provider+"/"+q.Account+"/"+q.Feed, q.ItemID, Key(q.Provider, q.Account),
		id, q.ObservedAt, q)
}
