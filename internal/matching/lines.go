package matching

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"github.com/mizanhq/mizan/internal/events"
)

// LineOf says which line, if any, a statement item is to matching: a successful payment in, a settlement
// (single, queued or a batch's item: each is a statement item) or a refund, with its references. ok is false
// for items no rule is about (cash-ins, direct debits, transfers, corrections, returns) and for payments that
// have not (yet) succeeded — a pending payment becomes a line when a later report says it succeeded.
//
// A settlement's or refund's fate comes from its own line: Vandar reports it again as failed or cancelled.
func LineOf(it events.StatementItem, seen time.Time) (Line, bool) {
	l := Line{ItemID: it.ItemID, Amount: it.Amount, Fee: it.Fee, Currency: it.Currency, At: it.EffectiveAt,
		SeenAt: seen, Refs: References(it)}
	if l.At.IsZero() {
		l.At = it.CreatedAt
	}
	switch {
	case it.Kind == events.KindPayment && it.Direction == events.DirectionIn:
		l.Kind = events.ExpectPayment
		if it.State != events.StateSucceeded || !it.MovedWallet {
			l.State = LineVoid // only an existing line is updated to this (see Matcher.Record)
			return l, true
		}
		l.State = LineCounted
	case (it.Kind == events.KindSettlement || it.Kind == events.KindRefund) && it.Direction == events.DirectionOut:
		l.Kind = events.ExpectPayout
		if it.Kind == events.KindRefund {
			l.Kind = events.ExpectRefund
		}
		switch it.State {
		case events.StateFailed, events.StateCanceled:
			l.State = LineFailed
		case events.StateSucceeded, events.StatePending:
			l.State = LineCounted
		default:
			l.State = LineVoid
		}
	default:
		return Line{}, false
	}
	return l, true
}

// References reads what a matching rule can match a statement item by. The normalized item has the track id;
// Vandar's factorNumber, payment_number and a refund's refund.source_transaction (the payment it refunds) are
// only in the raw item, read here and nowhere else. Numbers or strings are both accepted; null and "" are no
// reference.
func References(it events.StatementItem) events.Reference {
	r := events.Reference{TrackID: strings.TrimSpace(it.TrackID)}
	var raw struct {
		FactorNumber  json.RawMessage `json:"factorNumber"`
		PaymentNumber json.RawMessage `json:"payment_number"`
		Refund        *struct {
			SourceTransaction json.RawMessage `json:"source_transaction"`
		} `json:"refund"`
	}
	// A raw item that is not an object (it was decoded by the source, so it is) yields no references.
	if json.Unmarshal(it.Raw, &raw) != nil {
		return r
	}
	r.FactorNumber = scalar(raw.FactorNumber)
	r.PaymentNumber = scalar(raw.PaymentNumber)
	if raw.Refund != nil && it.Kind == events.KindRefund {
		r.PaymentItemID = scalar(raw.Refund.SourceTransaction)
	}
	return r
}

// scalar reads a JSON string or number as text; anything else (null, an object) is "".
func scalar(b json.RawMessage) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(b, &s) == nil {
		return strings.TrimSpace(s)
	}
	var n json.Number
	if json.Unmarshal(b, &n) == nil {
		return n.String()
	}
	return ""
}
