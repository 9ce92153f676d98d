package matching

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/events/rawtest"
)

// Matching reads a statement item's references from events.ReadRaw, which scans the raw item once for
// posting and matching both. Before, it unmarshalled the item into a struct of its own: that reading is kept
// below, as the oracle, and References must give exactly what it gave, for every raw item — the real ones of
// the fixtures (TestReferencesAsBefore) and whatever the fuzzer makes of them (FuzzReferences).

// referencesBefore is References as it was until the raw item was read once for every reader.
func referencesBefore(it events.StatementItem) events.Reference {
	r := events.Reference{TrackID: strings.TrimSpace(it.TrackID)}
	var raw struct {
		FactorNumber  json.RawMessage `json:"factorNumber"`
		PaymentNumber json.RawMessage `json:"payment_number"`
		Refund        *struct {
			SourceTransaction json.RawMessage `json:"source_transaction"`
		} `json:"refund"`
	}
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

// trickyRefunds are the ways json.Unmarshal reads a struct that are easy to get wrong: names ignoring case,
// repeated objects merged, a null forgetting, a refund of the wrong kind refusing the whole item.
var trickyRefunds = []string{
	`{"refund":{"source_transaction":1}}`, `{"REFUND":{"Source_Transaction":"2"}}`,
	`{"refund":{"source_transaction":1},"refund":{}}`, `{"refund":{"source_transaction":1},"refund":null}`,
	`{"refund":{"source_transaction":1},"refund":null,"refund":{}}`, `{"refund":1,"refund":{"source_transaction":1}}`,
	`{"refund":[],"factorNumber":"3"}`, `{"refund":"x"}`, `{"refund":true}`, `{"refund":{"source_transaction":{}}}`,
	`{"refund":{"source_transaction":" 4 ","source_transaction":5}}`, `{"factorNumber":"1","FACTORNUMBER":"2"}`,
	`{"factorNumber":"1","factornumber":null}`, `{"payment_number":1.5e2,"Payment_Number":"x"}`,
	"{\"\u017fource\":1,\"refund\":{\"\u017fource_tran\u017faction\":6}}", "{\"refund\":{\"\u212a\":1}}",
	"{\"factorNumber\":\"\xff\"}",
}

// References gives exactly what the struct reading gave, for every fixture and tricky item, of a refund and
// of a payment.
func TestReferencesAsBefore(t *testing.T) {
	t.Parallel()
	items := rawtest.Items(t)
	for _, s := range append(rawtest.Tricky, trickyRefunds...) {
		items = append(items, json.RawMessage(s))
	}
	for _, raw := range items {
		for _, kind := range []string{events.KindRefund, events.KindPayment} {
			sameReferences(t, raw, kind, " TRK ")
		}
	}
}

// FuzzReferences: whatever the raw item, References gives what the struct reading gave.
func FuzzReferences(f *testing.F) {
	for _, raw := range rawtest.Items(f) {
		f.Add([]byte(raw), true)
	}
	for _, s := range append(rawtest.Tricky, trickyRefunds...) {
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, raw []byte, refund bool) {
		kind := events.KindPayment
		if refund {
			kind = events.KindRefund
		}
		sameReferences(t, raw, kind, "")
	})
}

func sameReferences(t *testing.T, raw []byte, kind, trackID string) {
	t.Helper()
	it := events.StatementItem{Kind: kind, TrackID: trackID, Raw: raw}
	if want, got := referencesBefore(it), References(it, events.ReadRaw(raw)); got != want {
		t.Fatalf("raw item %q, kind %s: references %+v, before %+v", raw, kind, got, want)
	}
}
