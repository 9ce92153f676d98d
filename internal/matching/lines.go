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
//
// raw is the item's Raw as events.ReadRaw read it (once for every reader of the item: posting and matching).
func LineOf(it events.StatementItem, raw events.RawFields, seen time.Time) (Line, bool) {
	l := Line{ItemID: it.ItemID, Amount: it.Amount, Fee: it.Fee, Currency: it.Currency, At: it.EffectiveAt,
		SeenAt: seen, Refs: References(it, raw)}
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
// only in the raw item (raw: it.Raw as events.ReadRaw read it), read here and nowhere else. Numbers or strings
// are both accepted; null and "" are no reference.
//
// The raw item is read as json.Unmarshal into a struct with those three fields reads it — names ignoring case,
// the last of a repeated one, the members of repeated refund objects merged, a null refund forgetting the
// ones before — and an item Unmarshal would refuse (not one valid JSON value, or a refund that is neither an
// object nor null) has no references but the track id.
func References(it events.StatementItem, raw events.RawFields) events.Reference {
	r := events.Reference{TrackID: strings.TrimSpace(it.TrackID)}
	if !raw.Whole() {
		return r
	}
	var factorNumber, paymentNumber, source json.RawMessage
	refund := false
	for _, m := range raw.Members() {
		switch {
		case m.NamedFold("factorNumber"):
			factorNumber = m.Value()
		case m.NamedFold("payment_number"):
			paymentNumber = m.Value()
		case m.NamedFold("refund"):
			switch m.Value()[0] {
			case 'n':
				refund, source = false, nil
			case '{':
				if !refund {
					refund, source = true, nil
				}
				for _, f := range m.Object() {
					if f.NamedFold("source_transaction") {
						source = f.Value()
					}
				}
			default:
				return r // Unmarshal refuses the whole item
			}
		}
	}
	r.FactorNumber = scalar(factorNumber)
	r.PaymentNumber = scalar(paymentNumber)
	if refund && it.Kind == events.KindRefund {
		r.PaymentItemID = scalar(source)
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
