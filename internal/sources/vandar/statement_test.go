package vandar

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
)

const testEndpoint = "GET /v3/business/acme/transaction"

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func decp(s string) *decimal.Decimal { d := dec(s); return &d }

// rawItems splits a page's data array the way the decoder must keep it: each item's exact bytes.
func rawItems(t testing.TB, page []byte) []json.RawMessage {
	t.Helper()
	var w struct{ Data []json.RawMessage }
	if err := json.Unmarshal(page, &w); err != nil {
		t.Fatal(err)
	}
	return w.Data
}

// The page in testdata holds the public sample item of providers/facts.md 2.4 followed by a gateway payment,
// a settlement, a refund and a settlement returned by the bank; its wallet figures add up.
func TestDecodePage(t *testing.T) {
	t.Parallel()
	body := readTestdata(t, "statement_page.json")
	page, err := decodePage(testEndpoint, "acme", body, observedAt, nil)
	if err != nil {
		t.Fatal(err)
	}
	raws := rawItems(t, body)
	base := events.StatementItem{Provider: events.ProviderVandar, Account: "acme", Currency: events.CurrencyToman}
	item := func(f func(*events.StatementItem)) events.StatementItem {
		it := base
		f(&it)
		return it
	}
	want := []events.StatementItem{
		item(func(it *events.StatementItem) {
			it.ItemID, it.StatusCode, it.Kind, it.State = "165374316188", -1, events.KindPayment, events.StateFailed
			// No is_deposit in the public sample: a payment code says "in".
			it.Direction, it.Channel, it.Amount, it.Fee = events.DirectionIn, ChannelIPG, dec("1650000"), dec("0")
			it.CreatedAt = time.Date(2022, 5, 28, 13, 16, 57, 0, time.UTC) // 17:46:57 at +04:30
			it.EffectiveAt = time.Unix(1711910570, 0).UTC()                // effective_time_stamp wins
			it.Description = "خرید به شماره سفارش : 91 | محصولات - تست (165)"
		}),
		item(func(it *events.StatementItem) {
			it.ItemID, it.StatusCode, it.Kind, it.State = "168140088101", 1, events.KindPayment, events.StateSucceeded
			it.Direction, it.Channel, it.Amount, it.Fee = events.DirectionIn, ChannelIPG, dec("250000"), dec("2500")
			it.MovedWallet, it.WalletAfter = true, decp("247500")
			it.CreatedAt = time.Date(2023, 4, 13, 15, 47, 12, 0, time.UTC)
			it.EffectiveAt = time.Unix(1681400881, 0).UTC()
			it.Description = "خرید به شماره سفارش : 92"
		}),
		item(func(it *events.StatementItem) {
			it.ItemID, it.StatusCode, it.Kind, it.State = "168148900512", 2, events.KindSettlement, events.StateSucceeded
			// amount and wage as strings: accepted.
			it.Direction, it.Channel, it.Amount, it.Fee = events.DirectionOut, ChannelSettlement, dec("100000"), dec("0")
			it.MovedWallet, it.WalletAfter = true, decp("147500")
			it.CreatedAt = time.Date(2023, 4, 14, 6, 18, 20, 0, time.UTC)
			// No timestamp: a settlement left the wallet when it was requested, not when it was last updated
			// (its done time), so the running balance follows request order.
			it.EffectiveAt = it.CreatedAt
			it.TrackID = "c2a1f6a8-5d0e-4c55-9f0b-3f1f7e1b9a10"
			it.Description = "تسویه حساب وندار"
		}),
		item(func(it *events.StatementItem) {
			it.ItemID, it.StatusCode, it.Kind, it.State = "168149200733", 2, events.KindRefund, events.StateSucceeded
			it.Direction, it.Channel, it.Amount, it.Fee = events.DirectionOut, ChannelRefund, dec("50000"), dec("0")
			it.MovedWallet, it.WalletAfter = true, decp("97500")
			it.CreatedAt = time.Date(2023, 4, 15, 7, 50, 5, 0, time.UTC)
			it.EffectiveAt = it.CreatedAt
			it.Description = "بازگشت وجه سفارش 92"
			// A refund is not a return: ReturnsItemID is only for -6.
		}),
		item(func(it *events.StatementItem) {
			it.ItemID, it.StatusCode, it.Kind, it.State = "168157700914", -6, events.KindReturned, events.StateSucceeded
			it.Direction, it.Channel, it.Amount, it.Fee = events.DirectionIn, ChannelSettlement, dec("100000"), dec("0")
			it.MovedWallet, it.WalletAfter = true, decp("197500")
			it.CreatedAt = time.Date(2023, 4, 16, 4, 35, 44, 0, time.UTC)
			it.EffectiveAt = it.CreatedAt // effective_time_stamp 0 is no timestamp
			it.ReturnsItemID = "168148900512"
			it.Description = "برگشت وجه تسویه از بانک"
		}),
	}
	for i := range want {
		want[i].Raw = raws[i]
		if i < len(page.Items) {
			want[i].Raw = checkRedactedRaw(t, raws[i], page.Items[i].Raw)
		}
	}
	if page.HasMore {
		t.Error("HasMore = true, want false")
	}
	if diff := cmp.Diff(want, page.Items); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
	// The wallet figures are a running balance: each moved item's net effect takes the previous one to the next.
	prev := dec("0")
	for _, it := range page.Items {
		if !it.MovedWallet {
			continue
		}
		net := it.Amount.Sub(it.Fee)
		if it.Direction == events.DirectionOut {
			net = it.Amount.Add(it.Fee).Neg()
		}
		if got := prev.Add(net); !got.Equal(*it.WalletAfter) {
			t.Errorf("item %s: %s %+s = %s, but wallet says %s", it.ItemID, prev, net, got, it.WalletAfter)
		}
		prev = *it.WalletAfter
	}
	// Every item becomes an event with its raw JSON intact.
	for _, it := range page.Items {
		if _, err := it.Event(); err != nil {
			t.Errorf("item %s: Event: %v", it.ItemID, err)
		}
	}
}

// Vandar's document shows data as a single object rather than a list: read it as a one-item page.
func TestDecodePageDataAsObject(t *testing.T) {
	t.Parallel()
	page, err := decodePage(testEndpoint, "acme", readTestdata(t, "statement_object.json"), observedAt, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || !page.HasMore {
		t.Fatalf("got %d items, has_more %t; want 1 item, has_more true", len(page.Items), page.HasMore)
	}
	it := page.Items[0]
	if it.ItemID != "165374316188" || it.State != events.StateFailed || it.MovedWallet || it.WalletAfter != nil ||
		it.Direction != events.DirectionIn || !it.EffectiveAt.Equal(it.CreatedAt) || !json.Valid(it.Raw) {
		t.Errorf("unexpected item: %+v", it)
	}
}

func TestDecodePageShapes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body string
		items      int
		err        error
	}{
		{"empty list", `{"status":1,"has_more":false,"data":[]}`, 0, nil},
		{"null data", `{"status":1,"has_more":false,"data":null}`, 0, nil},
		{"no data", `{"status":1}`, 0, nil},
		{"data is a string", `{"status":1,"data":"x"}`, 0, ErrMalformedResponse},
		{"no status", `{"has_more":false,"data":[]}`, 0, ErrMalformedResponse},
		{"truncated", `{"status":1,"has_more":false,"data":[{"id":1`, 0, ErrMalformedResponse},
		{"html", `<html><body>502 Bad Gateway</body></html>`, 0, ErrMalformedResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			page, err := decodePage(testEndpoint, "acme", []byte(tc.body), observedAt, nil)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err == nil && len(page.Items) != tc.items {
				t.Errorf("%d items, want %d", len(page.Items), tc.items)
			}
		})
	}
	// status 0 in a 200 is Vandar's failure, with its message.
	_, err := decodePage(testEndpoint, "acme", []byte(`{"status":0,"message":"کسب و کار یافت نشد"}`), observedAt, nil)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || !strings.Contains(apiErr.Message, "کسب و کار یافت نشد") {
		t.Errorf("err = %v, want an APIError with Vandar's message", err)
	}
}

// item returns a minimal valid item with some members replaced (a nil value deletes the member).
func itemJSON(t testing.TB, changes map[string]any) []byte {
	t.Helper()
	m := map[string]any{
		"id": 170000000001, "status": 1, "amount": 1000, "wage": 10, "wallet": 990, "is_deposit": true,
		"channel": "پرداخت اینترنتی", "created_at": "10:00:00 - 1403/1/12", "updated_at": "10:00:05 - 1403/1/12",
	}
	for k, v := range changes {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeItemAccepts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		changes map[string]any
		check   func(events.StatementItem) bool
	}{
		{"amounts and id as strings", map[string]any{"id": "170000000001", "amount": "1000", "wage": "10"},
			func(it events.StatementItem) bool { return it.ItemID == "170000000001" && it.Amount.Equal(dec("1000")) }},
		{"an id beyond int64", map[string]any{"id": "123456789012345678901234"},
			func(it events.StatementItem) bool { return it.ItemID == "123456789012345678901234" }},
		{"a whole amount with decimals", map[string]any{"amount": "1000.00"},
			func(it events.StatementItem) bool { return it.Amount.Equal(dec("1000")) }},
		{"null wage is no fee", map[string]any{"wage": nil},
			func(it events.StatementItem) bool { return it.Fee.IsZero() }},
		{"is_deposit as 1", map[string]any{"is_deposit": 1},
			func(it events.StatementItem) bool { return it.Direction == events.DirectionIn }},
		{"a correction goes out", map[string]any{"status": 4, "is_deposit": false},
			func(it events.StatementItem) bool {
				return it.Kind == events.KindCorrection && it.Direction == events.DirectionOut && it.MovedWallet
			}},
		{"code 9 is decoded, not moved", map[string]any{"status": 9},
			func(it events.StatementItem) bool {
				return it.Kind == KindUnknown && !it.MovedWallet && it.WalletAfter == nil
			}},
		{"a pending payment has no running balance", map[string]any{"status": 3, "wallet": 0},
			func(it events.StatementItem) bool { return it.WalletAfter == nil && !it.MovedWallet }},
		{"a negative running balance is a balance", map[string]any{"status": -5, "is_deposit": false, "wallet": -500},
			func(it events.StatementItem) bool { return it.WalletAfter.Equal(dec("-500")) }},
		{"cash-in by deposit id", map[string]any{"channel": "واریز با شناسه"},
			func(it events.StatementItem) bool { return it.Kind == events.KindCashIn && it.Channel == ChannelCashIn }},
		{"an unknown channel", map[string]any{"channel": "کانال جدید"},
			func(it events.StatementItem) bool { return it.Channel == ChannelOther }},
		{"a return names its settlement through the refund block",
			map[string]any{"status": -6, "refund": map[string]any{"source_transaction": 160000000007}},
			func(it events.StatementItem) bool { return it.ReturnsItemID == "160000000007" }},
		{"a settlement first seen done moved the wallet when it was requested, not at updated_at",
			map[string]any{"status": 2, "is_deposit": false, "updated_at": "11:00:00 - 1403/1/14"},
			func(it events.StatementItem) bool {
				return it.MovedWallet && it.EffectiveAt.Equal(time.Date(2024, 3, 31, 6, 30, 0, 0, time.UTC))
			}},
		{"a payment that succeeded later moved the wallet at updated_at",
			map[string]any{"updated_at": "11:00:00 - 1403/1/12"},
			func(it events.StatementItem) bool {
				return it.MovedWallet && it.EffectiveAt.Equal(time.Date(2024, 3, 31, 7, 30, 0, 0, time.UTC))
			}},
		{"a failed payment took effect when created", map[string]any{"status": -1},
			func(it events.StatementItem) bool { return it.EffectiveAt.Equal(it.CreatedAt) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			it, err := decodeItem("acme", itemJSON(t, tc.changes))
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(it) {
				t.Errorf("unexpected item: %+v", it)
			}
		})
	}
}

// Every refusal names the item (where it has an id) and the field.
func TestDecodeItemRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		changes map[string]any
		want    []string
	}{
		{"missing id", map[string]any{"id": nil}, []string{"field id", "missing"}},
		{"null id", map[string]any{"id": nil, "x": 1}, []string{"field id"}},
		{"zero id", map[string]any{"id": 0}, []string{"field id"}},
		{"negative id", map[string]any{"id": -5}, []string{"field id"}},
		{"fractional id", map[string]any{"id": 1.5}, []string{"field id"}},
		{"id of letters", map[string]any{"id": "abc"}, []string{"field id"}},
		{"negative amount", map[string]any{"amount": -1000}, []string{"170000000001", "field amount", "negative"}},
		{"negative wage", map[string]any{"wage": -1}, []string{"170000000001", "field wage", "negative"}},
		{"fraction of a toman", map[string]any{"amount": "10.5"}, []string{"170000000001", "field amount", "fraction"}},
		{"exponent", map[string]any{"amount": 1e21}, []string{"170000000001", "field amount"}},
		{"amount as an object", map[string]any{"amount": map[string]any{}}, []string{"170000000001", "field amount"}},
		{"missing amount", map[string]any{"amount": nil}, []string{"170000000001", "field amount", "missing"}},
		{"missing status", map[string]any{"status": nil}, []string{"170000000001", "field status", "missing"}},
		{"undocumented status", map[string]any{"status": 7}, []string{"170000000001", "field status", "7"}},
		{"bad created_at", map[string]any{"created_at": "10:00:00 - 1403/13/12"},
			[]string{"170000000001", "field created_at", "1403/13/12"}},
		{"missing created_at", map[string]any{"created_at": nil}, []string{"170000000001", "field created_at"}},
		{"bad updated_at", map[string]any{"updated_at": "yesterday"}, []string{"170000000001", "field updated_at"}},
		{"bad effective_time_stamp", map[string]any{"effective_time_stamp": "soon"},
			[]string{"170000000001", "field effective_time_stamp"}},
		{"settlement with is_deposit true", map[string]any{"status": 2, "is_deposit": true},
			[]string{"170000000001", "field is_deposit", "contradicts status 2"}},
		{"payment with is_deposit false", map[string]any{"status": 1, "is_deposit": false},
			[]string{"170000000001", "field is_deposit", "contradicts status 1"}},
		{"correction without is_deposit", map[string]any{"status": 4, "is_deposit": nil},
			[]string{"170000000001", "field is_deposit", "missing"}},
		{"is_deposit of text", map[string]any{"is_deposit": "yes"}, []string{"170000000001", "field is_deposit"}},
		{"return of a bad id", map[string]any{"status": -6, "revised_transaction_id": "x"},
			[]string{"170000000001", "field revised_transaction_id"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := decodeItem("acme", itemJSON(t, tc.changes))
			if err == nil {
				t.Fatal("decoded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	for _, raw := range []string{`null`, `[]`, `"item"`, `42`, `{`} {
		if _, err := decodeItem("acme", json.RawMessage(raw)); err == nil {
			t.Errorf("decodeItem(%s): no error", raw)
		}
	}
}

// FuzzDecodeItem: decoding a raw item never panics, and whatever it accepts keeps the StatementItem's
// promises.
func FuzzDecodeItem(f *testing.F) {
	for _, raw := range rawItems(f, readTestdata(f, "statement_page.json")) {
		f.Add([]byte(raw))
	}
	f.Add(itemJSON(f, nil))
	f.Add(itemJSON(f, map[string]any{"status": -6, "refund": map[string]any{"source_transaction": "1"}}))
	f.Add([]byte(`{"id":"1","status":"9","amount":"0","created_at":"0:0:0 - 1403/12/30","is_deposit":"0"}`))
	f.Add([]byte(`{"id":1e400,"amount":-0,"wage":null,"status":-0}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		it, err := decodeItem("acme", raw)
		if err != nil {
			return
		}
		switch {
		case it.ItemID == "" || strings.HasPrefix(it.ItemID, "0") || strings.HasPrefix(it.ItemID, "-"):
			t.Fatalf("item id %q", it.ItemID)
		case it.Amount.IsNegative() || it.Fee.IsNegative():
			t.Fatalf("negative amount %s or fee %s", it.Amount, it.Fee)
		case it.Direction != events.DirectionIn && it.Direction != events.DirectionOut:
			t.Fatalf("direction %q", it.Direction)
		case !it.MovedWallet && it.WalletAfter != nil:
			t.Fatal("a running balance on an item that did not move the wallet")
		case it.Currency != events.CurrencyToman || it.CreatedAt.IsZero() || it.EffectiveAt.IsZero():
			t.Fatalf("currency %q, created %s, effective %s", it.Currency, it.CreatedAt, it.EffectiveAt)
		case !json.Valid(it.Raw):
			t.Fatal("raw item is not JSON")
		}
		if _, ok := LookupStatus(it.StatusCode); !ok {
			t.Fatalf("status %d is not in the table", it.StatusCode)
		}
		if _, err := it.Event(); err != nil {
			t.Fatalf("Event: %v", err)
		}
	})
}

// checkRedactedRaw checks that got is the raw item want with its api_token (the gateway key) replaced and
// nothing else changed, and returns got.
func checkRedactedRaw(t *testing.T, want, got json.RawMessage) json.RawMessage {
	t.Helper()
	var w, g map[string]any
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("raw item is not JSON: %v", err)
	}
	if tok, ok := w["api_token"].(string); ok && tok != "" {
		if strings.Contains(string(got), tok) {
			t.Errorf("raw item still carries api_token %q", tok)
		}
		if g["api_token"] != "[redacted]" {
			t.Errorf("api_token = %v, want [redacted]", g["api_token"])
		}
		w["api_token"] = "[redacted]"
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("raw item changed beyond the redaction (-want +got):\n%s", diff)
	}
	return got
}
