package vandar

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
)

var observedAt = time.Date(2024, 4, 10, 12, 0, 0, 0, time.UTC)

// settlementRaws returns the settlements of a list or store fixture, each as its exact bytes.
func settlementRaws(t *testing.T, body []byte) []json.RawMessage {
	t.Helper()
	var w struct {
		Data struct {
			Settlement  []json.RawMessage
			Settlements struct{ Data []json.RawMessage }
		}
	}
	if err := json.Unmarshal(body, &w); err != nil {
		t.Fatal(err)
	}
	return append(w.Data.Settlement, w.Data.Settlements.Data...)
}

// The documents' store response (providers/facts.md 2.6): amount is rials, amount_toman tomans, the
// prediction Jalali, wallet a string.
func TestDecodeStoredSettlementReadsRialsAsTomans(t *testing.T) {
	t.Parallel()
	raw := settlementRaws(t, readTestdata(t, "settlement_store.json"))[0]
	got, err := decodeSettlement("acme", raw, shapeV3, false, observedAt)
	if err != nil {
		t.Fatal(err)
	}
	want := events.Settlement{
		Provider: events.ProviderVandar, Account: "acme", SettlementID: "406f20de-397a-11ec-bf52-6b667e3feg6ba",
		TransactionID: "163559577610", Status: events.SettlementPending, Amount: dec("5000"), Fee: dec("0"),
		Currency: events.CurrencyToman, WalletAfter: decp("221500"),
		PredictedAt: time.Date(2021, 10, 30, 12, 30, 0, 0, time.UTC), // 1400/08/08 16:00 at +03:30
		CreatedAt:   time.Date(2021, 10, 30, 12, 9, 36, 0, time.UTC), // 2021-10-30 15:39:36 Tehran
		ObservedAt:  observedAt, Raw: raw,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// The same item read as v2.1 would take its 50000 for tomans and contradict amount_toman: refused.
	if _, err := decodeSettlement("acme", raw, shapeV21, false, observedAt); err == nil ||
		!strings.Contains(err.Error(), "amount_toman") {
		t.Errorf("v2.1 reading of a v3 item: %v", err)
	}
}

// The documents' v2.1 list (amount in tomans, no prediction) with vandarpy's item (a Gregorian prediction).
func TestDecodeSettlementList(t *testing.T) {
	t.Parallel()
	body := readTestdata(t, "settlement_list.json")
	page, err := decodeSettlementPage("GET /v2.1/business/acme/settlement", "acme", body, 1, 5, shapeV21, false,
		observedAt, nil)
	if err != nil {
		t.Fatal(err)
	}
	raws := settlementRaws(t, body)
	base := events.Settlement{Provider: events.ProviderVandar, Account: "acme", Currency: events.CurrencyToman,
		Fee: dec("0"), ObservedAt: observedAt}
	first, second := base, base
	first.SettlementID, first.TransactionID, first.Status = "8edaa0a0-a33f-11ea-838d-676dce32760e", "159024236678",
		events.SettlementCanceled
	first.Amount, first.WalletAfter, first.Raw = dec("100000"), decp("160985"), raws[0]
	second.SettlementID, second.TransactionID, second.Status = "12345678-1234-1234-1234-212584566264",
		"123456789012", events.SettlementDone
	second.Amount, second.WalletAfter, second.Raw = dec("12345"), decp("1234556"), raws[1]
	second.PredictedAt = time.Date(2019, 12, 31, 21, 31, 1, 0, time.UTC) // 2020-01-01 01:01:01 at +03:30
	want := SettlementPage{Items: []events.Settlement{first, second}, HasMore: true, Wallet: decp("26099")}
	if diff := cmp.Diff(want, page); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func settlementJSON(t *testing.T, changes map[string]any) json.RawMessage {
	t.Helper()
	m := map[string]any{"id": "s-1", "transaction_id": 171270000000, "amount": 50000, "amount_toman": 5000,
		"wage_toman": 0, "status": "PENDING", "settlement_done_time_prediction": "1403/01/22 18:45:00"}
	maps.Copy(m, changes)
	for k, v := range changes {
		if v == nil {
			delete(m, k)
		}
	}
	return must(json.Marshal(m))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestDecodeSettlementRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		shape   shape
		changes map[string]any
		want    string
	}{
		{"an unknown status, named", shapeV3, map[string]any{"status": "PAID"}, `status "PAID" is not a settlement status`},
		{"no status", shapeV3, map[string]any{"status": nil}, `field status: status ""`},
		{"no id", shapeV3, map[string]any{"id": nil}, "field id: missing"},
		{"a bare v3 amount, whose unit is unknown", shapeV3, map[string]any{"amount": 50000, "amount_toman": nil},
			"50000 without amount_toman"},
		{"rials and tomans that disagree", shapeV3, map[string]any{"amount": 50000, "amount_toman": 4000},
			"amount_toman: 4000, but amount is 50000: neither the same tomans nor ten times as many rials"},
		{"v2.1 tomans and amount_toman that disagree", shapeV21, map[string]any{"amount": 5001},
			"amount_toman: 5000, but amount is 5001 tomans"},
		{"no amount at all", shapeV21, map[string]any{"amount": nil, "amount_toman": nil}, "field amount: missing"},
		{"a zero amount", shapeV21, map[string]any{"amount": 0, "amount_toman": nil}, "is not positive"},
		{"a fraction of a toman", shapeV21, map[string]any{"amount_toman": "5000.5", "amount": nil}, "fraction of a toman"},
		{"two transaction ids", shapeV21, map[string]any{"gateway_transaction_id": 171270000001},
			"gateway_transaction_id: 171270000001, but transaction_id is 171270000000"},
		{"a negative fee", shapeV3, map[string]any{"wage_toman": -1}, "wage_toman: -1 is negative"},
		{"a Jalali month 13", shapeV3, map[string]any{"settlement_done_time_prediction": "1403/13/01 10:00:00"},
			"month 13 out of range"},
		{"a Gregorian 30 February", shapeV21, map[string]any{"settlement_done_time_prediction": "2021-02-30 10:00:00"},
			"does not exist"},
		{"a date without a time", shapeV21, map[string]any{"settlement_done_time_prediction": "2021-02-03"},
			"want a date and a clock"},
		{"a wallet that is no number", shapeV21, map[string]any{"wallet": "lots"}, "field wallet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			changes := maps.Clone(tc.changes)
			if _, ok := changes["amount"]; !ok && tc.shape == shapeV21 {
				changes["amount"] = 5000 // v2.1 amounts are tomans, like amount_toman
			}
			_, err := decodeSettlement("acme", settlementJSON(t, changes), tc.shape, false, observedAt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestParseSettlementTime(t *testing.T) {
	t.Parallel()
	tehran := must(Tehran())
	for in, want := range map[string]time.Time{
		"1400/08/08 16:00:00": time.Date(2021, 10, 30, 16, 0, 0, 0, tehran),
		"1401/3/7 18:20:48":   time.Date(2022, 5, 28, 18, 20, 48, 0, tehran), // +04:30: DST that summer
		"1401-03-07 18:20:48": time.Date(2022, 5, 28, 18, 20, 48, 0, tehran), // Jalali with dashes, as in logs
		"2020-01-01 01:01:01": time.Date(2020, 1, 1, 1, 1, 1, 0, tehran),
		"2022-06-01 12:00:00": time.Date(2022, 6, 1, 12, 0, 0, 0, tehran),
	} {
		got, err := parseSettlementTime(in)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseSettlementTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

func TestDecodeBatchList(t *testing.T) {
	t.Parallel()
	body := readTestdata(t, "batch_list.json")
	raws, more, total, err := decodeBatchHostPage("GET /api/v2/business/acme/batches", body, 1, 10, nil)
	if err != nil || more || total != 2 || len(raws) != 2 {
		t.Fatalf("page: %d raws, more %t, total %d, %v", len(raws), more, total, err)
	}
	var got []events.Batch
	for _, raw := range raws {
		b, err := decodeBatch("acme", raw)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, b)
	}
	zero := decimal.Zero
	want := []events.Batch{{
		Provider: events.ProviderVandar, Account: "acme", Currency: events.CurrencyToman,
		BatchID:    "eb44ba9a2322420d8a2e0a979a95c4f410620bb416492bef20a01f8cc42d593d4ccb7acc4ca4e2ce7f7935da7f7544ae974f43270d57908815537381b9b8235e",
		TotalCount: 1, TotalAmount: dec("50000"),
		Counts:    map[string]int{"init": 0, "submitted": 1, "failed": 0, "pending": 0, "canceled": 0},
		Amounts:   map[string]decimal.Decimal{"init": zero, "submitted": dec("50000"), "failed": zero, "pending": zero, "canceled": zero},
		CreatedAt: time.Unix(1713192129, 0).UTC(), Raw: raws[0],
	}, {
		// The documents' older example: counts only, no per-status amounts.
		Provider: events.ProviderVandar, Account: "acme", Currency: events.CurrencyToman,
		BatchID: "900e69c676f67008de9bed005a014fb6e604222bb5e824ab65fc4153757cb640", TotalCount: 1,
		TotalAmount: dec("50000"), Counts: map[string]int{"init": 0, "submitted": 1, "failed": 0},
		Amounts: map[string]decimal.Decimal{}, CreatedAt: time.Unix(1629672276, 0).UTC(), Raw: raws[1],
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestDecodeBatchItems(t *testing.T) {
	t.Parallel()
	body := readTestdata(t, "batch_items.json")
	raws, more, total, err := decodeBatchHostPage("GET /api/v2/business/acme/batch-settlements/x", body, 1, 10, nil)
	if err != nil || more || total != 1 || len(raws) != 1 {
		t.Fatalf("page: %d raws, more %t, total %d, %v", len(raws), more, total, err)
	}
	got, err := decodeBatchItem(raws[0])
	if err != nil {
		t.Fatal(err)
	}
	want := events.BatchItem{ID: "8736c960-039a-11ec-8171-334dd8b08284", TrackID: "d18ca2e8-4204-11ec-81d3-0242ac130003",
		TransactionID: "162967221235", Amount: dec("50000"), IBAN: "IR150620000000203214109001",
		Status: events.SettlementSubmitted}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// A different page than the one asked for cannot be paged on.
	if _, _, _, err := decodeBatchHostPage("GET x", body, 2, 10, nil); err == nil ||
		!strings.Contains(err.Error(), "asked for page 2, got page 1") {
		t.Errorf("page mismatch: %v", err)
	}
}

func TestDecodeBatchRefuses(t *testing.T) {
	t.Parallel()
	batch := `{"batch_id":"b","status":{"total_count":1,"total_amount":%s,"submitted_count":1},"total_amount":50000}`
	for _, tc := range []struct {
		name, raw, want string
	}{
		{"two totals that disagree", strings.Replace(batch, "%s", "60000", 1),
			"total_amount: 50000, but status.total_amount is 60000"},
		{"no total_count", `{"batch_id":"b","status":{},"total_amount":1}`, "total_count: missing"},
		{"no status block", `{"batch_id":"b","total_amount":1}`, "field status"},
		{"a count that is no count", `{"batch_id":"b","status":{"total_count":1,"failed_count":"x"},"total_amount":1}`,
			"status.failed_count"},
	} {
		if _, err := decodeBatch("acme", json.RawMessage(tc.raw)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	for _, tc := range []struct {
		name, raw, want string
	}{
		{"an unknown status, named", `{"id":"i","amount":"5000","status":"PAID"}`, `"PAID"`},
		{"DONE is a settlement status", `{"id":"i","amount":"5000","status":"done"}`, ""},
		{"a fraction of a toman", `{"id":"i","amount":"5000.5","status":"INIT"}`, "fraction"},
		{"no amount", `{"id":"i","status":"INIT"}`, "amount: missing"},
		{"no id", `{"amount":"5000","status":"INIT"}`, "id: missing"},
	} {
		_, err := decodeBatchItem(json.RawMessage(tc.raw))
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func FuzzParseSettlementTime(f *testing.F) {
	for _, s := range []string{"1400/08/08 16:00:00", "2020-01-01 01:01:01", "1401-03-07 18:20:48", "1403/12/30 00:00:00",
		"2021-02-29 10:00:00", "9999-99-99 99:99:99", "1400/08/08"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseSettlementTime(s)
		if err != nil {
			return
		}
		// Whatever it accepts is a real instant in the range a settlement can have.
		if got.Year() < 1821 || got.Year() > 2999 {
			t.Errorf("parseSettlementTime(%q) = %v", s, got)
		}
	})
}
