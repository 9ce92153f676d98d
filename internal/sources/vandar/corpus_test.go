package vandar

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources/quarantine"
)

// The fixture corpus, testdata/shapes/<endpoint>/*.json: for every endpoint, the documented answer and each
// other way of writing it that the documents leave open, named by the response that motivated it
// (docs/providers.md, "Decoding policy"). A shape fixture must read as the same facts as the documented one
// (compared with go-cmp, the raw bytes aside); a quarantine fixture must set aside exactly the items it plants,
// for the reason given, and let the rest through.

func shapeFixture(t *testing.T, name string) []byte {
	t.Helper()
	return readTestdata(t, "shapes/"+name)
}

// quarantined names one item a fixture must have set aside: its id ("" for none) and a part of the reason.
type quarantinedItem struct{ id, reason string }

func checkQuarantined(t *testing.T, got []events.Quarantined, want []quarantinedItem, endpoint string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d quarantined, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		q := got[i]
		if q.ItemID != w.id || !strings.Contains(q.Reason, w.reason) || q.Endpoint != endpoint ||
			q.Provider != events.ProviderVandar || q.Account != "acme" || !q.ObservedAt.Equal(observedAt) || len(q.Raw) == 0 {
			t.Errorf("quarantined %d: item %q at %s for %q, want item %q for %q", i, q.ItemID, q.Endpoint, q.Reason,
				w.id, w.reason)
		}
		if strings.Contains(string(q.Raw), "QRI4AZLY17SCG") {
			t.Errorf("quarantined %d keeps the gateway's api_token", i)
		}
	}
}

var ignoreRawBytes = cmp.Options{cmpopts.IgnoreFields(events.StatementItem{}, "Raw"),
	cmpopts.IgnoreFields(events.Settlement{}, "Raw"), cmpopts.IgnoreFields(events.Batch{}, "Raw", "ObservedAt"),
	cmpopts.IgnoreFields(events.Balance{}, "Raw"), cmpopts.EquateEmpty(),
	// Where each quarantined item sat among the others is part of what a page says.
	cmp.AllowUnexported(StatementPage{})}

func TestStatementCorpus(t *testing.T) {
	t.Parallel()
	decode := func(t *testing.T, name string) StatementPage {
		t.Helper()
		p, err := decodePage(testEndpoint, "acme", shapeFixture(t, "statement/"+name), observedAt, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return p
	}
	want := decode(t, "documented.json")
	if len(want.Items) != 3 || len(want.Quarantined) != 0 || want.HasMore || !want.HasMoreReported {
		t.Fatalf("documented: %+v", want)
	}
	// The settlement has no effective_time_stamp: it moved the wallet when it was requested (created_at),
	// not when it was done (updated_at) — its running balance follows request order.
	if s := want.Items[1]; !s.EffectiveAt.Equal(s.CreatedAt) || !s.CreatedAt.Equal(time.Date(2023, 4, 14, 6, 18, 0, 0, time.UTC)) {
		t.Errorf("settlement effective %s, created %s", s.EffectiveAt, s.CreatedAt)
	}
	for _, tc := range []struct{ file, motivation string }{
		{"numbers_as_strings.json", "ids, amounts, status as strings: a settlement's wallet is \"221500\" in the store example"},
		{"persian_digits.json", "Persian digits in numbers and timestamps: Iranian systems write them"},
		{"floats.json", "250000.0: a float serializer's whole number"},
		{"php_empties.json", "[] for null and for an empty object: PHP's json_encode of an empty array"},
		{"iso_times.json", "ISO 8601 (Z, +03:30, +0330, Laravel's .000000Z) and Gregorian \"2023-04-14 16:00:00\""},
		{"secondless_times.json", "\"19:17 - 1402/1/24\": a clock without seconds"},
		{"millisecond_epochs.json", "effective_time_stamp in milliseconds: 1681400881000 is not the year 55250"},
		{"indexed_object.json", "data as {\"0\":…,\"1\":…}: a PHP array with keys"},
		{"laravel_resource.json", "data as a Laravel resource {data, links, meta}, has_more beside it"},
		{"extra_fields.json", "members no document shows"},
		{"string_booleans.json", "is_deposit \"1\"/0, has_more \"false\", verified \"true\""},
		{"signed_outgoing.json", "a settlement's amount and wage signed negative: the sign repeats is_deposit"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			got := decode(t, tc.file)
			if diff := cmp.Diff(want, got, ignoreRawBytes); diff != "" {
				t.Errorf("%s (%s) reads differently (-documented +shape):\n%s", tc.file, tc.motivation, diff)
			}
		})
	}
	t.Run("one bad item of each kind is quarantined, the rest flows", func(t *testing.T) {
		t.Parallel()
		got := decode(t, "one_bad_item_each.json")
		if len(got.Items) != 2 || got.Items[0].ItemID != "168140088101" || got.Items[1].ItemID != "168157700914" ||
			!got.HasMore || got.Next != "168157700914" {
			t.Fatalf("items %+v, has_more %t, next %s", got.Items, got.HasMore, got.Next)
		}
		checkQuarantined(t, got.Quarantined, []quarantinedItem{
			{"168148900513", "field wage: -3700 is negative beside an unsigned amount"},
			{"168148900514", "field status: 7 is not a code Vandar documents"},
			{"168148900515", "fraction of a toman"},
			{"168148900516", "field created_at: missing"},
			{"168148900517", "field is_deposit: missing, and status 4"},
			{"168148900518", "is negative, but the money went in"},
			{"", "field id: missing"},
			{"", "not a JSON object"},
			{"168148900520", "neither Unix seconds nor milliseconds"},
			{"168148900521", `"1.65e6" is not a number of tomans`},
		}, testEndpoint)
	})
	t.Run("a payment not verified is not revenue yet", func(t *testing.T) {
		t.Parallel()
		got := decode(t, "unverified_payment.json")
		if len(got.Items) != 1 {
			t.Fatalf("%+v", got)
		}
		it := got.Items[0]
		if it.MovedWallet || it.WalletAfter != nil || it.State != events.StatePending || it.StatusCode != 1 {
			t.Errorf("unverified payment read as %+v", it)
		}
	})
}

func TestBalanceCorpus(t *testing.T) {
	t.Parallel()
	const endpoint = "GET /v2/business/acme/balance"
	decode := func(name string) (events.Balance, error) {
		return decodeBalance(endpoint, "acme", shapeFixture(t, "balance/"+name), observedAt, nil)
	}
	want, err := decode("documented.json")
	if err != nil || !want.Amount.Equal(dec("100000")) {
		t.Fatalf("documented: %+v, %v", want, err)
	}
	for _, file := range []string{"numbers_as_strings.json", "persian_digits.json", "float.json", "no_currency.json",
		"lowercase_currency.json", "data_list_of_one.json", "extra_fields.json"} {
		got, err := decode(file)
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		if diff := cmp.Diff(want, got, ignoreRawBytes); diff != "" {
			t.Errorf("%s reads differently (-documented +shape):\n%s", file, diff)
		}
	}
	for file, reason := range map[string]string{"php_empty_data.json": "no wallet figure",
		"fraction.json": "fraction of a toman", "rials.json": `"Rial", want Toman`} {
		_, err := decode(file)
		q, ok := quarantine.As(err)
		if !ok || !strings.Contains(q.Reason, reason) || q.Feed != events.FeedBalance || q.Endpoint != endpoint {
			t.Errorf("%s: %v, want it quarantined for %q", file, err, reason)
		}
	}
}

func TestSettlementCorpus(t *testing.T) {
	t.Parallel()
	const endpoint = "GET /v2.1/business/acme/settlement"
	decode := func(t *testing.T, name string) SettlementPage {
		t.Helper()
		p, err := decodeSettlementPage(endpoint, "acme", shapeFixture(t, "settlements/"+name), 1, 10, shapeV21, false,
			observedAt, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return p
	}
	want := decode(t, "documented.json")
	if len(want.Items) != 2 || want.HasMore || want.Wallet == nil || want.Items[0].Status != events.SettlementCanceled {
		t.Fatalf("documented: %+v", want)
	}
	for _, tc := range []struct {
		file     string
		noWallet bool
	}{
		{"laravel_resource.json", false}, {"plain_list_of_settlements.json", false}, {"indexed_object.json", false},
		{"status_spelling.json", false}, {"persian_digits.json", false}, {"php_empties.json", false},
		{"iso_prediction.json", false}, {"plain_list.json", true}, {"resource_at_the_top.json", true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			w := want
			if tc.noWallet {
				w.Wallet = nil // these shapes carry no wallet figures
			}
			if diff := cmp.Diff(w, decode(t, tc.file), ignoreRawBytes); diff != "" {
				t.Errorf("reads differently (-documented +shape):\n%s", diff)
			}
		})
	}
	t.Run("an unknown status quarantines that settlement only", func(t *testing.T) {
		t.Parallel()
		got := decode(t, "unknown_status.json")
		if len(got.Items) != 1 || got.Items[0].SettlementID != "8edaa0a0-a33f-11ea-838d-676dce32760e" {
			t.Fatalf("%+v", got.Items)
		}
		checkQuarantined(t, got.Quarantined, []quarantinedItem{{"12345678-1234-1234-1234-212584566264", `"REVERSED"`}}, endpoint)
	})
}

func TestQueueCorpus(t *testing.T) {
	t.Parallel()
	const endpoint = "GET /v3/business/acme/settlement/queued"
	decode := func(t *testing.T, name string) SettlementPage {
		t.Helper()
		p, err := decodeSettlementPage(endpoint, "acme", shapeFixture(t, "queue/"+name), 1, 10, shapeV3, true,
			observedAt, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return p
	}
	want := decode(t, "documented.json")
	if len(want.Items) != 1 || !want.Items[0].Amount.Equal(dec("5000")) || !want.Items[0].Queued ||
		!want.Items[0].CreatedAt.Equal(time.Date(2024, 4, 9, 6, 30, 0, 0, time.UTC)) {
		t.Fatalf("documented: %+v", want)
	}
	for _, file := range []string{"plain_list.json", "toman_only.json", "amount_in_tomans.json", "iso_created_at.json",
		"millisecond_created_at.json", "php_empties.json"} {
		if diff := cmp.Diff(want, decode(t, file), ignoreRawBytes); diff != "" {
			t.Errorf("%s reads differently (-documented +shape):\n%s", file, diff)
		}
	}
	// {"status":1,"data":[]}: nothing queued — PHP's empty array, once a malformed answer that discarded the
	// whole settlements poll.
	if got := decode(t, "php_empty_data.json"); len(got.Items)+len(got.Quarantined) != 0 || got.HasMore {
		t.Errorf("an empty queue: %+v", got)
	}
	// A bare amount was divided by ten on the guess that it is rials. Without amount_toman its unit is
	// unknown; with one that is neither the same tomans nor ten times as many rials, the two contradict.
	checkQuarantined(t, decode(t, "bare_amount.json").Quarantined,
		[]quarantinedItem{{"7c1e9a52-4f0b-4d1e-9a63-2b8f5c0d1e77", "50000 without amount_toman"}}, endpoint)
	checkQuarantined(t, decode(t, "contradictory_amounts.json").Quarantined,
		[]quarantinedItem{{"7c1e9a52-4f0b-4d1e-9a63-2b8f5c0d1e77", "neither the same tomans nor ten times"}}, endpoint)
}

func TestOneSettlementCorpus(t *testing.T) {
	t.Parallel()
	const endpoint = "GET /v2.1/business/acme/settlement/12345678-1234-1234-1234-212584566264"
	decode := func(name string) (events.Settlement, error) {
		return decodeSettlementShow(endpoint, "acme", shapeFixture(t, "settlement/"+name), shapeV21, false, observedAt, nil)
	}
	want, err := decode("documented.json")
	if err != nil || want.Status != events.SettlementDone {
		t.Fatalf("documented: %+v, %v", want, err)
	}
	for _, file := range []string{"data_is_the_settlement.json", "list_of_one.json"} {
		got, err := decode(file)
		if err != nil {
			t.Errorf("%s: %v", file, err)
		} else if diff := cmp.Diff(want, got, ignoreRawBytes); diff != "" {
			t.Errorf("%s reads differently (-documented +shape):\n%s", file, diff)
		}
	}
	_, err = decode("fraction.json")
	if q, ok := quarantine.As(err); !ok || q.ItemID != "12345678-1234-1234-1234-212584566264" ||
		!strings.Contains(q.Reason, "fraction of a toman") {
		t.Errorf("a fraction of a toman: %v", err)
	}
}

func TestBatchCorpus(t *testing.T) {
	t.Parallel()
	const list, items = "GET /api/v2/business/acme/batches", "GET /api/v2/business/acme/batch-settlements/b"
	decodeList := func(t *testing.T, name string) BatchPage {
		t.Helper()
		p, err := decodeBatchPage(list, "acme", shapeFixture(t, "batches/"+name), 1, observedAt, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return p
	}
	want := decodeList(t, "documented.json")
	if len(want.Items) != 2 || want.HasMore || want.Items[0].Counts["failed"] != 1 ||
		!want.Items[0].CreatedAt.Equal(time.Unix(1713192129, 0)) {
		t.Fatalf("documented: %+v", want)
	}
	for _, file := range []string{"no_meta.json", "no_paging.json", "api_wrapper.json", "millisecond_created_at.json",
		"text_created_at.json", "strings_and_extra_status.json"} {
		if diff := cmp.Diff(want, decodeList(t, file), ignoreRawBytes); diff != "" {
			t.Errorf("%s reads differently (-documented +shape):\n%s", file, diff)
		}
	}
	got := decodeList(t, "totals_that_disagree.json")
	if len(got.Items) != 1 || got.Items[0].BatchID != "900e69c676f67008de9bed005a014fb6e604222bb5e824ab65fc4153757cb640" {
		t.Fatalf("%+v", got.Items)
	}
	checkQuarantined(t, got.Quarantined, []quarantinedItem{{want.Items[0].BatchID,
		"total_amount: 1500000, but status.total_amount is 1407000"}}, list)

	decodeItems := func(t *testing.T, name string) BatchItemPage {
		t.Helper()
		p, err := decodeBatchItemPage(items, "acme", shapeFixture(t, "batch_items/"+name), 1, 10, observedAt, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return p
	}
	wantItems := decodeItems(t, "documented.json")
	if len(wantItems.Items) != 2 || wantItems.Items[1].ErrorMessage != "حساب مقصد غیرفعال است." || wantItems.Total != 2 {
		t.Fatalf("documented items: %+v", wantItems)
	}
	for _, file := range []string{"no_meta.json", "status_case.json", "numbers_and_persian_digits.json", "php_empties.json"} {
		got := decodeItems(t, file)
		if diff := cmp.Diff(wantItems.Items, got.Items, ignoreRawBytes); diff != "" || got.HasMore {
			t.Errorf("%s reads differently (-documented +shape), has_more %t:\n%s", file, got.HasMore, diff)
		}
	}
	gotItems := decodeItems(t, "unknown_status.json")
	if len(gotItems.Items) != 1 || len(gotItems.Raw) != 1 {
		t.Fatalf("%+v", gotItems)
	}
	checkQuarantined(t, gotItems.Quarantined, []quarantinedItem{{"9a1f0e2c-039a-11ec-8171-334dd8b08284", `"LOST"`}}, items)
}

// Where a page's own frame cannot be read, the page is an error — with nothing to page on, there is nothing to
// quarantine — and the error says so.
func TestPageErrorsAreOnlyForTheFrame(t *testing.T) {
	t.Parallel()
	for _, body := range []string{`{"status":1,"data":"x"}`, `{"status":1,"data":[1,`, `<html>`} {
		if _, err := decodePage(testEndpoint, "acme", []byte(body), observedAt, nil); !errors.Is(err, ErrMalformedResponse) {
			t.Errorf("%s: %v", body, err)
		}
	}
}

// The cursor moves past quarantined items, but only to an id Vandar can page on: start_after takes an item id.
func TestNextSkipsIdsVandarCannotPageOn(t *testing.T) {
	t.Parallel()
	good := string(itemJSON(t, nil)) // id 170000000001
	bad := string(itemJSON(t, map[string]any{"id": 170000000002, "status": 7}))
	noID := string(itemJSON(t, map[string]any{"id": "abc"}))
	for _, tc := range []struct {
		data, next string
	}{
		{good + "," + bad, "170000000002"},
		{good + "," + bad + "," + noID, "170000000002"},
		{noID, ""},
	} {
		p, err := decodePage(testEndpoint, "acme", []byte(`{"status":1,"has_more":true,"data":[`+tc.data+`]}`), observedAt, nil)
		if err != nil || p.Next != tc.next {
			t.Errorf("next %q (%v), want %q", p.Next, err, tc.next)
		}
	}
}
