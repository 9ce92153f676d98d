package vandartest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	ptime "github.com/yaa110/go-persian-calendar"

	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

func TestPagingCoversEveryVisibleItemOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, vandartest.Options{})
	var want []int64
	for _, it := range b.srv.Items("acme") {
		want = append(want, it.ID)
	}
	if len(want) < 500 {
		t.Fatalf("a generated month has only %d items", len(want))
	}
	for _, tc := range []struct {
		name    string
		sort    string
		perPage string
	}{
		{"ascending pages of 37", "ASC", "37"},
		{"descending pages of 100", "DESC", "100"},
		{"the default order, default page size", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{}
			if tc.sort != "" {
				q.Set("sort", tc.sort)
			}
			if tc.perPage != "" {
				q.Set("per_page", tc.perPage)
			}
			items, _ := b.statement(t, "acme", q)
			var got []int64
			for _, it := range items {
				got = append(got, it.ID)
			}
			exp := slices.Clone(want)
			if tc.sort != "ASC" { // DESC is the documented default
				slices.Reverse(exp)
			}
			if diff := cmp.Diff(exp, got); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPageSizeAndHasMore(t *testing.T) {
	t.Parallel()
	b := setup(t, vandartest.Options{})
	r := b.get(t, "/v3/business/acme/transaction", nil)
	if p := decode[page](t, r.body); len(p.Data) != 10 || !p.HasMore {
		t.Errorf("default page: %d items, has_more %v; want 10 and true", len(p.Data), p.HasMore)
	}
	r = b.get(t, "/v3/business/acme/transaction", url.Values{"per_page": {"100"}})
	if p := decode[page](t, r.body); len(p.Data) != 100 {
		t.Errorf("per_page=100 gave %d items", len(p.Data))
	}
}

func TestInvalidQueriesAre422(t *testing.T) {
	t.Parallel()
	b := setup(t, vandartest.Options{})
	for _, tc := range []struct {
		name  string
		query url.Values
		want  string
	}{
		{"per_page over 100", url.Values{"per_page": {"101"}},
			`{"status":0,"errors":{"per_page":["per_page نباید بزرگتر از 100 باشد."]}}`},
		{"per_page not a number", url.Values{"per_page": {"ten"}},
			`{"status":0,"errors":{"per_page":["per_page باید عدد صحیح باشد."]}}`},
		{"fromDate with dashes", url.Values{"fromDate": {"1403-01-05"}},
			`{"status":0,"errors":{"fromDate":["fromDate باید تاریخ شمسی معتبر با قالب yyyymmdd باشد."]}}`},
		{"toDate in month 13", url.Values{"toDate": {"14031301"}},
			`{"status":0,"errors":{"toDate":["toDate باید تاریخ شمسی معتبر با قالب yyyymmdd باشد."]}}`},
		{"Esfand 30 of a common year", url.Values{"fromDate": {"14021230"}},
			`{"status":0,"errors":{"fromDate":["fromDate باید تاریخ شمسی معتبر با قالب yyyymmdd باشد."]}}`},
		{"an unknown status", url.Values{"status": {"done"}},
			`{"status":0,"errors":{"status":["status انتخاب شده، معتبر نیست."]}}`},
		{"an unknown sort", url.Values{"sort": {"NEWEST"}},
			`{"status":0,"errors":{"sort":["sort انتخاب شده، معتبر نیست."]}}`},
		{"start_after not a number", url.Values{"start_after": {"abc"}},
			`{"status":0,"errors":{"start_after":["start_after باید عدد صحیح باشد."]}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := b.get(t, "/v3/business/acme/transaction", tc.query)
			if r.status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422", r.status)
			}
			if got := string(bytes.TrimSpace(r.body)); got != tc.want {
				t.Errorf("body\n got %s\nwant %s", got, tc.want)
			}
		})
	}
	// A leap year's Esfand 30 is a real day.
	if r := b.get(t, "/v3/business/acme/transaction", url.Values{"fromDate": {"14031230"}}); r.status != http.StatusOK {
		t.Errorf("fromDate=14031230: %d %s", r.status, r.body)
	}
}

// jalaliDate is the date part of a statement timestamp, "17:46:57 - 1401/3/7", as yyyymmdd.
func jalaliDate(t *testing.T, stamp string) int {
	t.Helper()
	_, date, ok := strings.Cut(stamp, " - ")
	parts := strings.Split(date, "/")
	if !ok || len(parts) != 3 {
		t.Fatalf("timestamp %q", stamp)
	}
	y, m, d := must(strconv.Atoi(parts[0])), must(strconv.Atoi(parts[1])), must(strconv.Atoi(parts[2]))
	return y*10000 + m*100 + d
}

func TestDateFilterIsInclusiveOnTehranCreationDate(t *testing.T) {
	t.Parallel()
	b := setup(t, vandartest.Options{})
	tehran := must(time.LoadLocation("Asia/Tehran"))
	// The truth, counted independently: items whose creation falls on Jalali 1403/1/5 to 1403/1/7 in Tehran.
	want := 0
	for _, it := range b.srv.Items("acme") {
		p := ptime.New(it.CreatedAt.In(tehran))
		if d := p.Year()*10000 + int(p.Month())*100 + p.Day(); d >= 14030105 && d <= 14030107 {
			want++
		}
	}
	items, _ := b.statement(t, "acme", url.Values{"fromDate": {"14030105"}, "toDate": {"14030107"}, "per_page": {"100"}})
	if len(items) != want || want == 0 {
		t.Errorf("got %d items, want %d (and more than none)", len(items), want)
	}
	days := map[int]bool{}
	for _, it := range items {
		d := jalaliDate(t, it.CreatedAt)
		if d < 14030105 || d > 14030107 {
			t.Errorf("item %d created %s is outside the range", it.ID, it.CreatedAt)
		}
		days[d] = true
	}
	if len(days) != 3 {
		t.Errorf("items from %d days, want all 3 (the range is inclusive)", len(days))
	}
}

func TestStatusKindAndChannelFilters(t *testing.T) {
	t.Parallel()
	b := setup(t, vandartest.Options{})
	all, _ := b.statement(t, "acme", url.Values{"per_page": {"100"}})
	for _, tc := range []struct {
		name  string
		query url.Values
		keep  func(item) bool
	}{
		{"status=failed", url.Values{"status": {"failed"}},
			func(it item) bool { return it.Status == -1 || it.Status == -3 }},
		{"status=pending", url.Values{"status": {"pending"}},
			func(it item) bool { return it.Status == 3 || it.Status == -2 }},
		{"status=canceled", url.Values{"status": {"canceled"}}, func(it item) bool { return it.Status == -4 }},
		{"status=succeed", url.Values{"status": {"succeed"}}, func(it item) bool {
			return !slices.Contains([]int{-1, -3, 3, -2, -4}, it.Status)
		}},
		{"statusKind=settlements", url.Values{"statusKind": {"settlements"}},
			func(it item) bool { return it.Channel == "تسویه حساب" }},
		{"statusKind=transactions", url.Values{"statusKind": {"transactions"}},
			func(it item) bool { return it.Channel != "تسویه حساب" }},
		{"channel=ipg", url.Values{"channel": {"ipg"}}, func(it item) bool { return it.Channel == "پرداخت اینترنتی" }},
		{"channel=form", url.Values{"channel": {"form"}}, func(it item) bool { return it.Channel == "فرم دریافت پول" }},
		{"channel=refund", url.Values{"channel": {"refund"}}, func(it item) bool { return it.Channel == "بازگشت وجه" }},
		{"channel=cash-in", url.Values{"channel": {"cash-in"}}, func(it item) bool { return it.Channel == "واریز با شناسه" }},
		{"failed gateway payments", url.Values{"status": {"failed"}, "channel": {"ipg"}},
			func(it item) bool { return it.Status == -1 && it.Channel == "پرداخت اینترنتی" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{"per_page": {"100"}}
			for k, v := range tc.query {
				q[k] = v
			}
			got, _ := b.statement(t, "acme", q)
			var want []item
			for _, it := range all {
				if tc.keep(it) {
					want = append(want, it)
				}
			}
			if len(want) == 0 {
				t.Fatal("the generated month has no such item: the test proves nothing")
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestIDAndTrackIDFilters(t *testing.T) {
	t.Parallel()
	b := setup(t, vandartest.Options{})
	var settlement vandartest.Item
	for _, it := range b.srv.Items("acme") {
		if it.Kind == vandartest.KindSettlement {
			settlement = it
		}
	}
	for name, q := range map[string]url.Values{
		"id":       {"id": {strconv.FormatInt(settlement.ID, 10)}},
		"track_id": {"track_id": {settlement.TrackID}},
	} {
		items, _ := b.statement(t, "acme", q)
		if len(items) != 1 || items[0].ID != settlement.ID || *items[0].TrackID != settlement.TrackID {
			t.Errorf("%s filter: %+v, want only settlement %d", name, items, settlement.ID)
		}
	}
}

// documentedFields are every field of the documents' example item and the public fixtures (facts.md §2.4).
func documentedFields() []string {
	return []string{"id", "uuid", "track_id", "amount", "wage", "status", "ref_id", "tracking_code", "card_number",
		"cid", "verified", "channel", "payment_date", "payment_number", "created_at", "updated_at",
		"effective_at_jalali", "effective_time_stamp", "wallet", "result", "description", "factorNumber", "mobile",
		"callback_url", "form_id", "form_title", "settlement", "settlement_port", "port", "comments", "api_token",
		"logs", "revised_transaction_id", "refund", "refund_detail_ids", "is_shaparak_port", "is_deposit", "payer",
		"receiver", "receipt_url", "time_prediction"}
}

func TestEveryItemHasEveryDocumentedField(t *testing.T) {
	t.Parallel()
	b := setup(t, vandartest.Options{})
	_, raws := b.statement(t, "acme", url.Values{"per_page": {"100"}})
	payer := []string{"ip", "iban", "name", "slug", "avatar", "legal_name", "business_owner", "email", "phone",
		"address", "mobile", "additional_fields", "description"}
	receiver := []string{"name", "legal_name", "slug", "avatar", "business_owner", "iban", "bank_name"}
	prediction := []string{"settlement_done_time_prediction", "settlement_cancelable_time",
		"is_settlement_paya_report_finally", "settlement_paya_report_finally_time", "is_after_time_prediction",
		"p2p_time_prediction"}
	for _, raw := range raws {
		m := decode[map[string]json.RawMessage](t, raw)
		missing := func(obj map[string]json.RawMessage, keys []string, where string) {
			for _, k := range keys {
				if _, ok := obj[k]; !ok {
					t.Errorf("item %s: %s has no %q", m["id"], where, k)
				}
			}
		}
		missing(m, documentedFields(), "item")
		missing(decode[map[string]json.RawMessage](t, m["payer"]), payer, "payer")
		missing(decode[map[string]json.RawMessage](t, m["receiver"]), receiver, "receiver")
		missing(decode[map[string]json.RawMessage](t, m["time_prediction"]), prediction, "time_prediction")
		if t.Failed() {
			return
		}
	}
}

func TestIDsHaveTwelveDigitsAndGrowWithCreation(t *testing.T) {
	t.Parallel()
	b := setup(t, vandartest.Options{})
	items := b.srv.Items("acme")
	for i, it := range items {
		if s := strconv.FormatInt(it.ID, 10); len(s) != 12 {
			t.Fatalf("id %s is not 12 digits", s)
		}
		if i > 0 && (it.ID <= items[i-1].ID || it.CreatedAt.Before(items[i-1].CreatedAt)) {
			t.Fatalf("item %d (%s) follows %d (%s)", it.ID, it.CreatedAt, items[i-1].ID, items[i-1].CreatedAt)
		}
	}
}

func TestSameSeedSameStatement(t *testing.T) {
	t.Parallel()
	dump := func(seed int64) string {
		b := setup(t, vandartest.Options{Businesses: []vandartest.BusinessOptions{month("acme", seed)}})
		_, raws := b.statement(t, "acme", url.Values{"per_page": {"100"}, "sort": {"ASC"}})
		return fmt.Sprintf("%s", raws)
	}
	first, again, other := dump(42), dump(42), dump(43)
	if first != again {
		t.Error("the same seed gave two different statements")
	}
	if first == other {
		t.Error("different seeds gave the same statement")
	}
}

// NoAPIToken takes the gateway's api_token off payments and changes nothing else; PageCost counts the
// statement pages answered.
func TestNoAPITokenAndPageCost(t *testing.T) {
	t.Parallel()
	with := setup(t, vandartest.Options{})
	opts := month("acme", 7)
	opts.NoAPIToken = true
	without := setup(t, vandartest.Options{Businesses: []vandartest.BusinessOptions{opts}})
	q := url.Values{"sort": {"ASC"}, "per_page": {"100"}}
	_, a := with.statement(t, "acme", q)
	_, b := without.statement(t, "acme", q)
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("%d items with the api_token, %d without", len(a), len(b))
	}
	tokens := 0
	for i := range a {
		var x, y map[string]any
		must(0, json.Unmarshal(a[i], &x))
		must(0, json.Unmarshal(b[i], &y))
		if x["api_token"] != nil {
			tokens++
		}
		if y["api_token"] != nil {
			t.Fatalf("item %v has an api_token: %v", y["id"], y["api_token"])
		}
		delete(x, "api_token")
		delete(y, "api_token")
		if diff := cmp.Diff(x, y); diff != "" {
			t.Fatalf("item %v differs beyond its api_token (-with +without):\n%s", x["id"], diff)
		}
	}
	if tokens == 0 {
		t.Error("no payment had an api_token to leave out")
	}
	pages, mean := without.srv.PageCost()
	if want := (len(b) + 99) / 100; pages != want || mean <= 0 {
		t.Errorf("PageCost = %d pages, %s each; want %d pages", pages, mean, want)
	}
}
