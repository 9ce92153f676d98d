package posting

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
)

func TestStatementKeepsTheProviderReferences(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		item events.StatementItem
		raw  string
		want map[string]any
	}{
		{"a gateway payment: order number, bank references, the masked card",
			it(events.KindPayment, "ipg", events.DirectionIn, 1000, 10, true),
			`{"id": 42, "factorNumber": "1643", "ref_id": "391066915244", "tracking_code": "128811",
			  "card_number": "502229******4060", "payment_number": null, "track_id": null,
			  "payer": {"iban": null}, "receiver": {"iban": null}}`,
			map[string]any{RefFactorNumber: "1643", RefRefID: "391066915244", RefTrackingCode: "128811",
				RefCardNumber: "502229******4060"}},
		{"numbers sent as numbers keep every digit; a full card number is masked",
			it(events.KindPayment, "ipg", events.DirectionIn, 1000, 10, true),
			`{"factorNumber": 1643, "ref_id": 391066915244123456, "card_number": "6037 9975 1234 5678"}`,
			map[string]any{RefFactorNumber: "1643", RefRefID: "391066915244123456", RefCardNumber: "603799******5678"}},
		{"a cash-in: the deposit id and the payer's IBAN",
			it(events.KindCashIn, "cash_in", events.DirectionIn, 5000, 0, true),
			`{"payment_number": 4410018273, "ref_id": "770012", "payer": {"iban": "ir062960000000100324200001"},
			  "receiver": {"iban": "IR820540102680020817909002"}}`,
			map[string]any{RefPaymentNumber: "4410018273", RefRefID: "770012", RefIBAN: "IR062960000000100324200001"}},
		{"a settlement: the receiver's IBAN and the merchant's track id",
			func() events.StatementItem {
				x := it(events.KindSettlement, "settlement", events.DirectionOut, 2000, 20, true)
				x.TrackID = "stl-7f3a"
				return x
			}(),
			`{"track_id": "stl-7f3a", "payer": {"iban": "IR000000000000000000000001"},
			  "receiver": {"iban": "IR820540102680020817909002"}}`,
			map[string]any{RefTrackID: "stl-7f3a", RefIBAN: "IR820540102680020817909002"}},
		{"what is not a reference is left out: empty, null, objects, overlong values",
			it(events.KindPayment, "form", events.DirectionIn, 1000, 10, true),
			`{"factorNumber": "  ", "ref_id": {"x": 1}, "tracking_code": "", "card_number": null, "track_id": "0123456789012345678901234567890123456789012345678901234567890123456789"}`,
			map[string]any{}},
		{"a raw item that is not JSON gives no references and no error",
			it(events.KindPayment, "ipg", events.DirectionIn, 1000, 10, true), `not json`, map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.item.Raw = json.RawMessage(tt.raw)
			e, ok, err := Statement(tt.item, "ev1")
			if err != nil || !ok {
				t.Fatalf("ok=%v err=%v", ok, err)
			}
			got := map[string]any{}
			for _, k := range []string{RefFactorNumber, RefRefID, RefTrackingCode, RefCardNumber, RefTrackID, RefIBAN, RefPaymentNumber} {
				if v, ok := e.Metadata[k]; ok {
					got[k] = v
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("references (-want +got):\n%s", diff)
			}
			if e.Metadata["event_id"] != "ev1" || e.Metadata["item_id"] != "42" {
				t.Errorf("the item's other metadata changed: %v", e.Metadata)
			}
		})
	}
}

func TestSettlementDoneKeepsTheDepositID(t *testing.T) {
	t.Parallel()
	s := events.Settlement{Provider: "vandar", Account: "acme", SettlementID: "stl-1", TransactionID: "99",
		TrackID: "trk-1", Status: events.SettlementDone, Amount: decimal.NewFromInt(5000), Currency: events.CurrencyToman,
		IBAN: "IR820540102680020817909002", Raw: json.RawMessage(`{"payment_number": 12, "id": "stl-1"}`)}
	e, ok := SettlementDone(s, "ev9")
	if !ok {
		t.Fatal("not posted")
	}
	for k, want := range map[string]any{RefPaymentNumber: "12", RefTrackID: "trk-1", RefIBAN: "IR820540102680020817909002"} {
		if e.Metadata[k] != want {
			t.Errorf("metadata %s = %v, want %v", k, e.Metadata[k], want)
		}
	}
}

func TestMaskCard(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"6037997512345678":    "603799******5678",
		"6037-9975-1234-5678": "603799******5678",
		"502229******4060":    "502229******4060",
		"6219861012345678901": "621986*********8901",
		"1234":                "1234",
		"":                    "",
	} {
		if got := MaskCard(in); got != want {
			t.Errorf("MaskCard(%q) = %q, want %q", in, got, want)
		}
	}
}
