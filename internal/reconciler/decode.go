package reconciler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/matching"
	"github.com/mizanhq/mizan/internal/trust"
)

// decoded is one consumed message, read as far as it could be.
type decoded struct {
	msg    kafka.Message
	ev     events.Event
	fact   any   // one of the fact types of knownTypes
	refuse error // why the message cannot be applied (a *refusal, or what a COMMIT said); nil if it can
	// unjudged is what the trust gate said when it could not judge the message (the database did not answer):
	// the message is neither admitted nor refused, and the worker asks the gate again before applying it.
	unjudged error
	// failed is what the database said when this message alone could not be applied, in the current attempt.
	failed error
}

// knownTypes are the event types this reconciler applies. A type it does not know, or a newer version of
// one it knows, is refused to the dead-letter topic rather than guessed at.
var knownTypes = map[string]func(events.Event) (any, error){
	events.TypeStatementItem: decodeAs[events.StatementItem],
	events.TypeBalance:       decodeAs[events.Balance],
	events.TypeWatermark:     decodeAs[events.Watermark],
	events.TypeSettlement:    decodeAs[events.Settlement],
	events.TypeBatch:         decodeAs[events.Batch],
	events.TypeExpected:      decodeAs[events.Expectation],
	events.TypeQuarantined:   decodeAs[events.Quarantined],
	events.TypeBankLine:      decodeAs[events.BankLine],
	events.TypeBankBalance:   decodeAs[events.BankBalance],
}

func decodeAs[T any](ev events.Event) (any, error) { return events.DecodeData[T](ev) }

// decodeAll decodes msgs on up to procs goroutines, each a contiguous run of the messages: the k-th decoded
// is msgs[k]'s, whatever order they finished in. Each message's decoding is independent of the others' (the
// trust gate is safe for concurrent use), so the result is the one decode would give one by one. It returns
// once every message is decoded; a ctx that ends meanwhile ends no decoding early, it only makes the gate's
// database look-ups fail (unjudged), as it did one by one.
func decodeAll(ctx context.Context, msgs []kafka.Message, gate Gate, keys matching.Keys, procs int) []decoded {
	all := make([]decoded, len(msgs))
	procs = max(1, min(procs, len(msgs)))
	var wg sync.WaitGroup
	for g := range procs {
		lo, hi := g*len(msgs)/procs, (g+1)*len(msgs)/procs
		wg.Go(func() {
			for k := lo; k < hi; k++ {
				all[k] = decode(ctx, msgs[k], gate, keys)
			}
		})
	}
	wg.Wait()
	return all
}

// decode reads one message. It never fails: what cannot be read, or is refused for its signature or by the
// trust gate, is marked to be refused, with the reason; what the gate could not judge is marked unjudged.
// keys are the business's keys an expectation must be signed with (none: expectations are believed unsigned).
func decode(ctx context.Context, m kafka.Message, gate Gate, keys matching.Keys) decoded {
	d := decoded{msg: m}
	ev, err := events.Decode(m.Value)
	if err != nil {
		d.refuse = &refusal{Code: CodeMalformed, Err: err}
		return d
	}
	d.ev = ev
	read, ok := knownTypes[ev.Type]
	if !ok {
		d.refuse = unknownType(ev.Type)
		return d
	}
	// Before the payload is read: what is not the business's is refused as untrusted, not as whatever else is
	// wrong with it.
	if ev.Type == events.TypeExpected {
		if err := verifyExpectation(m, keys); err != nil {
			d.refuse = &refusal{Code: CodeUntrusted, Err: &trust.Refusal{EventID: ev.ID, Type: ev.Type, Err: err}}
			return d
		}
	}
	if d.fact, err = read(ev); err != nil {
		d.refuse = &refusal{Code: CodeMalformed, Err: err}
		return d
	}
	if err := validate(d.fact); err != nil {
		d.refuse = &refusal{Code: CodeInvalid, Err: fmt.Errorf("event %s (%s): %w", ev.ID, ev.Type, err)}
		return d
	}
	d.admit(ctx, gate)
	return d
}

// verifyExpectation checks an expectation record's signature (matching.SignatureHeader) against keys: over
// the record's value as received, so nothing a producer or the broker could re-encode is trusted. It is checked
// here rather than by the trust gate, whose rules see the decoded event, not the record's bytes and headers.
// An error is matching.ErrSignature: the message's own fault, the same however often it is tried.
func verifyExpectation(m kafka.Message, keys matching.Keys) error {
	if !keys.Required() {
		return nil
	}
	var header string
	n := 0
	for _, h := range m.Headers {
		if h.Key == matching.SignatureHeader {
			header, n = string(h.Value), n+1
		}
	}
	if n > 1 {
		// Which one a consumer would read is a choice an attacker could exploit: none is believed.
		return fmt.Errorf("%w: header %s %d times", matching.ErrSignature, matching.SignatureHeader, n)
	}
	return keys.Verify(m.Value, header)
}

// admit puts a decoded, valid fact through the trust gate (signature, known sources, amount and time
// bounds): nothing the gate refuses reaches the database. A refusal (trust.ErrRefused) is the message's own
// fault and makes a dead letter; any other error means the gate could not judge it now, which is never the
// message's fault: it is left unjudged, for the worker to ask again and, failing that, to retry its batch.
func (d *decoded) admit(ctx context.Context, gate Gate) {
	d.unjudged = nil
	if gate == nil {
		return
	}
	err := gate.Admit(ctx, d.ev, d.fact)
	switch {
	case err == nil:
	case errors.Is(err, trust.ErrRefused):
		d.refuse = &refusal{Code: CodeUntrusted, Err: err}
	default:
		d.unjudged = &unjudgedError{EventID: d.ev.ID, Err: err}
	}
}

// unjudgedError is a trust gate that could not judge an event (the database it reads did not answer). It is
// an infrastructure failure of the batch — or an environment one, when the database says the gate's tables
// or privileges are missing — and never the message's fault (Classify).
type unjudgedError struct {
	EventID string
	Err     error
}

func (e *unjudgedError) Error() string {
	return fmt.Sprintf("the trust gate could not judge event %s: %v", e.EventID, e.Err)
}

func (e *unjudgedError) Unwrap() error { return e.Err }

func unknownType(typ string) *refusal {
	for known := range knownTypes {
		if base, _, ok := strings.Cut(known, ".v"); ok && strings.HasPrefix(typ, base+".v") {
			return &refusal{Code: CodeVersion,
				Err: fmt.Errorf("unsupported schema version: event type %q (this reconciler reads %q)", typ, known)}
		}
	}
	return &refusal{Code: CodeUnknownType, Err: fmt.Errorf("unknown event type %q", typ)}
}

// validate refuses facts whose content would corrupt the ledger if applied.
func validate(fact any) error {
	switch f := fact.(type) {
	case events.StatementItem:
		switch {
		case f.Provider == "" || f.Account == "" || f.ItemID == "":
			return errors.New("statement item without provider, account or item id")
		case f.Currency == "":
			return fmt.Errorf("statement item %s has no currency", f.ItemID)
		case f.Amount.IsNegative() || f.Fee.IsNegative():
			return fmt.Errorf("statement item %s has a negative amount or fee", f.ItemID)
		case f.MovedWallet && f.EffectiveAt.IsZero():
			return fmt.Errorf("statement item %s moved the wallet but has no effective time", f.ItemID)
		case f.Direction != events.DirectionIn && f.Direction != events.DirectionOut:
			return fmt.Errorf("statement item %s has direction %q", f.ItemID, f.Direction)
		}
	case events.Balance:
		if f.Provider == "" || f.Account == "" || f.Currency == "" || f.ObservedAt.IsZero() {
			return errors.New("balance without provider, account, currency or observation time")
		}
	case events.Watermark:
		if f.Provider == "" || f.Account == "" || f.Feed == "" || f.Through.IsZero() {
			return errors.New("watermark without provider, account, feed or time")
		}
	case events.Settlement:
		switch {
		case f.Provider == "" || f.Account == "" || f.SettlementID == "" || f.Currency == "" || f.ObservedAt.IsZero():
			return errors.New("settlement without provider, account, id, currency or observation time")
		case f.Amount.IsNegative() || f.Fee.IsNegative():
			return fmt.Errorf("settlement %s has a negative amount or fee", f.SettlementID)
		}
		switch f.Status {
		case events.SettlementInit, events.SettlementPending, events.SettlementSubmitted, events.SettlementDone,
			events.SettlementFailed, events.SettlementCanceled:
		default:
			return fmt.Errorf("settlement %s has unknown status %q", f.SettlementID, f.Status)
		}
	case events.Batch:
		if f.Provider == "" || f.Account == "" || f.BatchID == "" || f.ObservedAt.IsZero() {
			return errors.New("batch without provider, account, id or observation time")
		}
	}
	return nil
}
