package events

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

const goodExpectation = `{"expectation_id": "order-1643", "kind": "payment", "provider": "vandar", "account": "acme",
	"reference": {"factor_number": "1643"}, "amount": "500000", "currency": "IRT",
	"expected_by": "2026-12-07T12:00:00Z", "status": "open", "note": "a field added within v1 is allowed"}`

func TestExpectationRoundTripsThroughItsSchema(t *testing.T) {
	t.Parallel()
	var x Expectation
	if err := json.Unmarshal([]byte(goodExpectation), &x); err != nil {
		t.Fatal(err)
	}
	want := Expectation{ExpectationID: "order-1643", Kind: ExpectPayment, Provider: "vandar", Account: "acme",
		Reference: Reference{FactorNumber: "1643"}, Amount: decimal.NewFromInt(500000), Currency: "IRT",
		ExpectedBy: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC), Status: ExpectationOpen}
	if !x.Amount.Equal(want.Amount) || x.Reference != want.Reference || !x.ExpectedBy.Equal(want.ExpectedBy) ||
		x.ExpectationID != want.ExpectationID || x.Kind != want.Kind || x.Status != want.Status {
		t.Fatalf("decoded %+v, want %+v", x, want)
	}
	ev, err := x.Event(time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != TypeExpected || ev.Key != "vandar/acme" || ev.Subject != "order-1643" {
		t.Errorf("event = %+v", ev)
	}
	b, _ := ev.Marshal()
	back, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	again, err := DecodeData[Expectation](back)
	if err != nil || again.Reference != x.Reference || !again.Amount.Equal(x.Amount) {
		t.Fatalf("round trip: %+v, %v", again, err)
	}
	// An update is a new event; the same statement again is the same one.
	same, _ := x.Event(time.Now())
	x.Status = ExpectationCancelled
	cancelled, _ := x.Event(time.Now())
	if same.ID != ev.ID || cancelled.ID == ev.ID {
		t.Errorf("ids: first %s, again %s, cancelled %s", ev.ID, same.ID, cancelled.ID)
	}
}

// An expectation that fails the schema is a message fault naming what is wrong, whatever way it comes in.
func TestExpectationsThatFailTheSchemaAreRefused(t *testing.T) {
	t.Parallel()
	change := func(from, to string) string { return strings.Replace(goodExpectation, from, to, 1) }
	for name, tc := range map[string]struct{ doc, says string }{
		"no expectation id":           {change(`"expectation_id": "order-1643", `, ""), "expectation_id"},
		"an unknown kind":             {change(`"payment"`, `"invoice"`), "/kind"},
		"a payment without a factor":  {change(`"factor_number"`, `"track_id"`), "factor_number"},
		"a misspelt reference":        {change(`"factor_number"`, `"factorNumber"`), "factorNumber"},
		"an amount as a number":       {change(`"500000"`, `500000`), "/amount"},
		"a zero amount":               {change(`"500000"`, `"0.00"`), "/amount"},
		"a negative amount":           {change(`"500000"`, `"-5"`), "/amount"},
		"a float-looking amount":      {change(`"500000"`, `"5e5"`), "/amount"},
		"a lower-case currency":       {change(`"IRT"`, `"irt"`), "/currency"},
		"a deadline that is no time":  {change(`"2026-12-07T12:00:00Z"`, `"tomorrow"`), "/expected_by"},
		"an unknown status":           {change(`"open"`, `"paid"`), "/status"},
		"a provider with a slash":     {change(`"vandar"`, `"van/dar"`), "/provider"},
		"a payout without references": {change(`"kind": "payment"`, `"kind": "payout"`), "track_id"},
		"not an object":               {`["order-1643"]`, "object"},
	} {
		var x Expectation
		err := json.Unmarshal([]byte(tc.doc), &x)
		if err == nil {
			t.Errorf("%s: accepted %+v", name, x)
			continue
		}
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v (want a malformed-event error naming %q)", name, err, tc.says)
		}
	}
	// Through the envelope as the reconciler reads it: DecodeData refuses it the same way.
	ev := Event{ID: "x", Type: TypeExpected, Data: json.RawMessage(strings.Replace(goodExpectation, `"IRT"`, `"irt"`, 1))}
	if _, err := DecodeData[Expectation](ev); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "schemas/expected.v1.json") {
		t.Errorf("DecodeData: %v", err)
	}
}
