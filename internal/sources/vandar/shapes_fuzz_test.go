package vandar

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
)

// The shape fuzzers take answers whose meaning is known — the corpus's documented statement, a queue of
// settlements — and let the fuzzer rewrite their shape: numbers as strings, Persian digits, zero fractions,
// exponents, nulls, PHP's [] and missing members, unknown members, booleans as numbers, signs on amounts,
// upper and lower case, the list as an indexed object or a Laravel resource. Whatever comes of it, decoding
// never panics and never fails the page (its frame stays valid), every item comes back either understood or
// quarantined, and an understood item says what the original said: the same amount, direction and status,
// the same fee or none (a wage made null is no fee, a documented tolerance), the same running balance or none.
// A misread money figure is the one thing that must never pass. Seeds: testdata/fuzz/Fuzz*Shapes.

// mutate rewrites the items of a list (decoded with UseNumber) by ops, two bytes a step: what to do, and to
// which item and member.
func mutate(items []map[string]any, ops []byte, amountKeys map[string]bool) (frame string) {
	frame = "list"
	for i := 0; i+1 < len(ops); i += 2 {
		op, target := ops[i]%16, int(ops[i+1])
		it := items[target%len(items)]
		keys := make([]string, 0, len(it))
		for k := range it {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if len(keys) == 0 {
			continue
		}
		k := keys[(target/len(items))%len(keys)]
		v := it[k]
		switch op {
		case 0: // a number as a string
			if n, ok := v.(json.Number); ok {
				it[k] = string(n)
			}
		case 1: // a number as a string of Persian digits
			if n, ok := v.(json.Number); ok {
				it[k] = toPersian(string(n))
			}
		case 2: // a whole number with a zero fraction
			if n, ok := v.(json.Number); ok && !strings.ContainsAny(string(n), ".eE") {
				it[k] = json.Number(string(n) + ".0")
			}
		case 3:
			it[k] = nil
		case 4:
			delete(it, k)
		case 5: // PHP's empty array
			it[k] = []any{}
		case 6: // a numeric string as a number
			if s, ok := v.(string); ok && s != "" && strings.Trim(s, "0123456789") == "" && s[0] != '0' && len(s) < 19 {
				it[k] = json.Number(s)
			}
		case 7: // a member no document shows
			it[fmt.Sprintf("x_%02x", target)] = map[string]any{"k": []any{json.Number("1"), nil, "۲"}}
		case 8: // a string's digits in Persian
			if s, ok := v.(string); ok {
				it[k] = toPersian(s)
			}
		case 9: // a boolean as PHP's 1 or 0
			if b, ok := v.(bool); ok {
				it[k] = map[bool]json.Number{true: "1", false: "0"}[b]
			}
		case 10: // a string in other case
			if s, ok := v.(string); ok {
				it[k] = map[bool]string{true: strings.ToUpper(s), false: strings.ToLower(s)}[target%2 == 0]
			}
		case 11: // an exponent: what a float serializer writes, refused (quarantine) rather than trusted
			if n, ok := v.(json.Number); ok {
				if d, err := decimal.NewFromString(string(n)); err == nil && !d.IsZero() {
					it[k] = json.Number(fmt.Sprintf("%se%d", d.Shift(-int32(len(d.Abs().String())-1)).String(),
						len(d.Abs().String())-1))
				}
			}
		case 12: // a sign on an amount: redundant with the direction, or contradicting it
			if n, ok := v.(json.Number); ok && amountKeys[k] {
				if strings.HasPrefix(string(n), "-") {
					it[k] = json.Number(strings.TrimPrefix(string(n), "-"))
				} else if string(n) != "0" {
					it[k] = json.Number("-" + string(n))
				}
			}
		case 13: // a number with a plus sign, as a string
			if n, ok := v.(json.Number); ok && !strings.HasPrefix(string(n), "-") {
				it[k] = "+" + string(n)
			}
		case 14:
			frame = "indexed"
		case 15:
			frame = "resource"
		}
	}
	return frame
}

func toPersian(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '۰' + (r - '0')
		}
		return r
	}, s)
}

// framed writes items back into a list, an indexed object or a Laravel resource.
func framed(items []map[string]any, frame string) any {
	list := make([]any, len(items))
	for i, it := range items {
		list[i] = it
	}
	switch frame {
	case "indexed":
		obj := map[string]any{}
		for i, it := range list {
			obj[fmt.Sprint(i)] = it
		}
		return obj
	case "resource":
		return map[string]any{"data": list, "meta": map[string]any{"current_page": 1, "last_page": 1}}
	}
	return list
}

func decodeItems(t testing.TB, body []byte, path ...string) []map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	for _, p := range path {
		v = v.(map[string]any)[p]
	}
	var out []map[string]any
	for _, it := range v.([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}

func addShapeSeeds(f *testing.F) {
	for _, ops := range [][]byte{nil, {0, 0, 1, 4, 2, 7}, {3, 5, 4, 9, 5, 13}, {11, 2, 12, 4, 12, 5}, {14, 0, 7, 3},
		{15, 0, 8, 6, 9, 12}, {6, 1, 10, 3, 13, 2}} {
		f.Add(ops)
	}
}

func FuzzStatementShapes(f *testing.F) {
	body := readTestdata(f, "shapes/statement/documented.json")
	intended, err := decodePage(testEndpoint, "acme", body, observedAt, nil)
	if err != nil || len(intended.Items) != 3 {
		f.Fatalf("documented statement: %+v, %v", intended, err)
	}
	byID := map[string]events.StatementItem{}
	for _, it := range intended.Items {
		byID[it.ItemID] = it
	}
	addShapeSeeds(f)
	f.Fuzz(func(t *testing.T, ops []byte) {
		items := decodeItems(t, body, "data")
		frame := mutate(items, ops, map[string]bool{"amount": true, "wage": true})
		page, err := json.Marshal(map[string]any{"status": 1, "has_more": false, "data": framed(items, frame)})
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodePage(testEndpoint, "acme", page, observedAt, nil)
		if err != nil {
			t.Fatalf("the page failed: %v\n%s", err, page)
		}
		if len(got.Items)+len(got.Quarantined) != 3 {
			t.Fatalf("%d understood + %d quarantined, want 3\n%s", len(got.Items), len(got.Quarantined), page)
		}
		for _, q := range got.Quarantined {
			if q.Reason == "" || !json.Valid(q.Raw) {
				t.Fatalf("quarantined without a reason or its item: %+v", q)
			}
		}
		for _, it := range got.Items {
			w, ok := byID[it.ItemID]
			switch {
			case !ok:
				t.Fatalf("item %q was not in the answer\n%s", it.ItemID, page)
			case !it.Amount.Equal(w.Amount) || it.Direction != w.Direction || it.StatusCode != w.StatusCode ||
				it.MovedWallet != w.MovedWallet || !it.CreatedAt.Equal(w.CreatedAt):
				t.Fatalf("item %s misread: %s %s %d moved %t created %s, want %s %s %d moved %t created %s\n%s", it.ItemID,
					it.Amount, it.Direction, it.StatusCode, it.MovedWallet, it.CreatedAt, w.Amount, w.Direction,
					w.StatusCode, w.MovedWallet, w.CreatedAt, page)
			case !it.Fee.Equal(w.Fee) && !it.Fee.IsZero():
				t.Fatalf("item %s: fee %s, want %s or none\n%s", it.ItemID, it.Fee, w.Fee, page)
			case it.WalletAfter != nil && !it.WalletAfter.Equal(*w.WalletAfter):
				t.Fatalf("item %s: wallet %s, want %s or none\n%s", it.ItemID, it.WalletAfter, w.WalletAfter, page)
			}
		}
	})
}

// FuzzQueueShapes fuzzes the queue, whose bare amount was divided by ten on a guess. Its two settlements
// write the same 5,000 tomans as 50000 rials and as 5000 tomans beside amount_toman: remove amount_toman and
// a guess would read one of them wrong, so it must be quarantined.
func FuzzQueueShapes(f *testing.F) {
	body := []byte(`{"status":1,"data":{"settlements":{"data":[
		{"id":"q-1","transaction_id":null,"track_id":"t-1","iban":"IR820540102680020817909002","amount":50000,
		 "amount_toman":5000,"wage_toman":0,"status":"INIT","created_at":"1403/01/21 10:00:00"},
		{"id":"q-2","transaction_id":171264733700,"track_id":"t-2","iban":"IR820540102680020817909002","amount":5000,
		 "amount_toman":5000,"wage_toman":0,"status":"PENDING","created_at":"1403/01/21 11:00:00"}],
		"current_page":1,"last_page":1}}}`)
	const endpoint = "GET /v3/business/acme/settlement/queued"
	intended, err := decodeSettlementPage(endpoint, "acme", body, 1, 10, shapeV3, true, observedAt, nil)
	if err != nil || len(intended.Items) != 2 {
		f.Fatalf("queue: %+v, %v", intended, err)
	}
	addShapeSeeds(f)
	f.Add([]byte{4, 10}) // amount_toman of q-1 removed
	f.Add([]byte{3, 11}) // amount_toman of q-2 made null
	f.Fuzz(func(t *testing.T, ops []byte) {
		items := decodeItems(t, body, "data", "settlements", "data")
		frame := mutate(items, ops, map[string]bool{"amount": true, "amount_toman": true, "wage_toman": true})
		var data any = map[string]any{"settlements": map[string]any{"data": framed(items, "list"), "current_page": 1,
			"last_page": 1}}
		if frame == "resource" {
			data = map[string]any{"settlements": framed(items, frame)}
		} else if frame == "indexed" {
			data = framed(items, "list") // a plain list in data
		}
		page, err := json.Marshal(map[string]any{"status": 1, "data": data})
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeSettlementPage(endpoint, "acme", page, 1, 10, shapeV3, true, observedAt, nil)
		if err != nil {
			t.Fatalf("the page failed: %v\n%s", err, page)
		}
		if len(got.Items)+len(got.Quarantined) != 2 {
			t.Fatalf("%d understood + %d quarantined, want 2\n%s", len(got.Items), len(got.Quarantined), page)
		}
		for _, s := range got.Items {
			if !s.Amount.Equal(decimal.NewFromInt(5000)) || !s.Fee.IsZero() {
				t.Fatalf("settlement %s read as %s tomans, fee %s: want 5000, 0\n%s", s.SettlementID, s.Amount, s.Fee, page)
			}
			if s.SettlementID != "q-1" && s.SettlementID != "q-2" && strings.ToLower(s.SettlementID) != "q-1" &&
				strings.ToLower(s.SettlementID) != "q-2" {
				t.Fatalf("settlement %q was not in the answer", s.SettlementID)
			}
		}
	})
}
