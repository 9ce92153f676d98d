package vandartest_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

// settlement is what the tests read of a v2.1 settlement.
type settlement struct {
	ID                   string `json:"id"`
	GatewayTransactionID int64  `json:"gateway_transaction_id"`
	TransactionID        int64  `json:"transaction_id"`
	TrackID              string `json:"track_id"`
	IBAN                 string `json:"iban"`
	Amount               int64  `json:"amount"`
	WageToman            int64  `json:"wage_toman"`
	Status               string `json:"status"`
	Wallet               int64  `json:"wallet"`
	SettlementDate       string `json:"settlement_date"`
	Prediction           string `json:"settlement_done_time_prediction"`
}

type paginator struct {
	CurrentPage int     `json:"current_page"`
	LastPage    int     `json:"last_page"`
	PerPage     int     `json:"per_page"`
	Total       int     `json:"total"`
	Next        *string `json:"next"`
	From        *int    `json:"from"`
	To          *int    `json:"to"`
}

type settlementList struct {
	Status int `json:"status"`
	Data   struct {
		Wallet           int64  `json:"wallet"`
		BlockedAmount    *int64 `json:"blocked_amount"`
		DeductibleAmount int64  `json:"deductible_amount"`
		Currency         string `json:"currency"`
		Settlements      struct {
			paginator
			Data []settlement `json:"data"`
		} `json:"settlements"`
	} `json:"data"`
}

func (b bundle) send(t *testing.T, method, path string, body any) response {
	t.Helper()
	var r *bytes.Reader
	if body != nil {
		r = bytes.NewReader(must(json.Marshal(body)))
		return do(t, method, b.srv.URL+path, b.access, r, "application/json")
	}
	return do(t, method, b.srv.URL+path, b.access, nil, "")
}

// settlements pages through the settlement list and returns every settlement and the last page's body.
func (b bundle) settlements(t *testing.T, perPage int) ([]settlement, settlementList) {
	t.Helper()
	var all []settlement
	for page := 1; ; page++ {
		r := b.get(t, "/v2.1/business/acme/settlement", url.Values{"page": {strconv.Itoa(page)},
			"per_page": {strconv.Itoa(perPage)}})
		if r.status != http.StatusOK {
			t.Fatalf("settlement list page %d: %d %s", page, r.status, r.body)
		}
		l := decode[settlementList](t, r.body)
		if l.Status != 1 || l.Data.Settlements.CurrentPage != page || l.Data.Settlements.PerPage != perPage {
			t.Fatalf("page %d: %s", page, r.body)
		}
		all = append(all, l.Data.Settlements.Data...)
		if l.Data.Settlements.Next == nil {
			if page != l.Data.Settlements.LastPage || len(all) != l.Data.Settlements.Total {
				t.Fatalf("ended on page %d of %d with %d of %d settlements", page, l.Data.Settlements.LastPage,
					len(all), l.Data.Settlements.Total)
			}
			return all, l
		}
	}
}

func (b bundle) showSettlement(t *testing.T, id string) settlement {
	t.Helper()
	r := b.get(t, "/v2.1/business/acme/settlement/"+id, nil)
	if r.status != http.StatusOK {
		t.Fatalf("show %s: %d %s", id, r.status, r.body)
	}
	return decode[struct {
		Data struct{ Settlement settlement } `json:"data"`
	}](t, r.body).Data.Settlement
}

func TestSettlementListShowsEverySingleSettlementOnceNewestFirst(t *testing.T) {
	t.Parallel()
	b := setup(t, vandartest.Options{})
	want := map[int64]vandartest.Item{}
	for _, it := range b.srv.Items("acme") {
		if it.Kind == vandartest.KindSettlement && it.BatchID == "" {
			want[it.ID] = it
		}
	}
	if len(want) < 30 {
		t.Fatalf("only %d settlements in a generated month", len(want))
	}
	got, last := b.settlements(t, 7)
	if len(got) != len(want) {
		t.Fatalf("%d settlements listed, want %d", len(got), len(want))
	}
	seen := map[int64]bool{}
	statuses := map[string]int{}
	loc := must(time.LoadLocation("Asia/Tehran"))
	for i, s := range got {
		it, ok := want[s.TransactionID]
		if !ok || seen[s.TransactionID] {
			t.Fatalf("settlement %+v: unknown or listed twice", s)
		}
		seen[s.TransactionID] = true
		if i > 0 && s.TransactionID > got[i-1].TransactionID {
			t.Errorf("settlement %d after %d: not newest first", s.TransactionID, got[i-1].TransactionID)
		}
		if s.ID != it.UUID || s.GatewayTransactionID != it.ID || s.TrackID != it.TrackID || s.IBAN != it.IBAN ||
			s.Amount != it.Amount || s.WageToman != it.Wage || s.Wallet != it.Wallet {
			t.Errorf("settlement %+v does not describe statement item %+v", s, it)
		}
		if s.SettlementDate != it.CreatedAt.In(loc).Format(time.DateOnly) {
			t.Errorf("settlement_date %s, created %s", s.SettlementDate, it.CreatedAt.In(loc))
		}
		if _, err := time.ParseInLocation(time.DateTime, s.Prediction, loc); err != nil {
			t.Errorf("prediction %q is not Gregorian: %v", s.Prediction, err)
		}
		statuses[s.Status]++
		wantStatus := map[int]string{2: "DONE", -2: "PENDING", -3: "FAILED", -4: "CANCELED"}[it.Status]
		if s.Status != wantStatus {
			t.Errorf("settlement %d is %s while its statement item has status %d", s.TransactionID, s.Status, it.Status)
		}
	}
	for _, st := range []string{"DONE", "FAILED", "CANCELED"} {
		if statuses[st] == 0 {
			t.Errorf("no %s settlement in a generated month: %v", st, statuses)
		}
	}
	if d := last.Data; d.Currency != "Toman" || d.Wallet != b.balance(t, "acme") || d.BlockedAmount == nil ||
		d.DeductibleAmount != d.Wallet {
		t.Errorf("wallet figures %+v, balance %d", d, b.balance(t, "acme"))
	}
	// A page past the end is empty, not an error.
	r := b.get(t, "/v2.1/business/acme/settlement", url.Values{"page": {"999"}})
	if l := decode[settlementList](t, r.body); r.status != 200 || len(l.Data.Settlements.Data) != 0 ||
		l.Data.Settlements.From != nil {
		t.Errorf("page 999: %d %s", r.status, r.body)
	}
	if s := b.showSettlement(t, got[3].ID); !cmp.Equal(s, got[3]) {
		t.Errorf("show %+v, listed %+v", s, got[3])
	}
	if r := b.get(t, "/v2.1/business/acme/settlement/no-such-id", nil); r.status != http.StatusNotFound {
		t.Errorf("unknown settlement: %d %s", r.status, r.body)
	}
	for _, q := range []url.Values{{"per_page": {"101"}}, {"page": {"0"}}, {"page": {"x"}}} {
		if r := b.get(t, "/v2.1/business/acme/settlement", q); r.status != http.StatusUnprocessableEntity {
			t.Errorf("%v: %d %s", q, r.status, r.body)
		}
	}
}

func TestSettlementFollowsTheClockAndTheStatementAgrees(t *testing.T) {
	t.Parallel()
	b := empty(t)
	add(t, b, vandartest.NewItem{Kind: vandartest.KindCashIn, Amount: 2_000_000, CreatedAt: testNow.Add(-time.Hour)})
	done := add(t, b, vandartest.NewItem{Kind: vandartest.KindSettlement, Amount: 500_000, Wage: 1_000,
		CreatedAt: testNow.Add(-10 * time.Minute), ResolvedAt: testNow.Add(6 * time.Hour)})
	failed := add(t, b, vandartest.NewItem{Kind: vandartest.KindSettlement, Amount: 300_000,
		CreatedAt: testNow.Add(-5 * time.Minute), Status: vandartest.StatusSettlementFailed,
		ResolvedAt: testNow.Add(8 * time.Hour)})

	if s := b.showSettlement(t, done.UUID); s.Status != "PENDING" || s.Wallet != 1_499_000 || s.WageToman != 1_000 {
		t.Errorf("before: %+v; want PENDING, the money already out of the wallet", s)
	}
	if s := b.showSettlement(t, failed.UUID); s.Status != "PENDING" {
		t.Errorf("failed before its time: %+v", s)
	}
	b.srv.Advance(7 * time.Hour)
	if s := b.showSettlement(t, done.UUID); s.Status != "DONE" {
		t.Errorf("after its time: %s", s.Status)
	}
	if s := b.showSettlement(t, failed.UUID); s.Status != "PENDING" {
		t.Errorf("failed settlement an hour before it fails: %s", s.Status)
	}
	b.srv.Advance(2 * time.Hour)
	if s := b.showSettlement(t, failed.UUID); s.Status != "FAILED" {
		t.Errorf("failed settlement after it fails: %s", s.Status)
	}
	items, _ := b.statement(t, "acme", url.Values{"sort": {"ASC"}})
	var ret *item
	for i, it := range items {
		if it.RevisedTransactionID != nil && *it.RevisedTransactionID == failed.ID {
			ret = &items[i]
		}
	}
	if ret == nil || ret.Status != -6 || ret.Amount != 300_000 || find(t, b, failed.ID).Status != -3 ||
		find(t, b, done.ID).Status != 2 {
		t.Fatalf("statement does not tell the same story: %+v", items)
	}
	if got := b.balance(t, "acme"); got != 2_000_000-501_000 {
		t.Errorf("balance %d, want the failed settlement's money back", got)
	}
}

func TestStoreValidatesAndAnswersAmountInRials(t *testing.T) {
	t.Parallel()
	b := empty(t)
	add(t, b, vandartest.NewItem{Kind: vandartest.KindCashIn, Amount: 100_000, CreatedAt: testNow.Add(-time.Hour)})
	const iban = "IR350700001000116383322001" // the documents' example, with valid check digits
	store := func(body map[string]any) response {
		return b.send(t, http.MethodPost, "/v3/business/acme/settlement/store", body)
	}
	for _, tc := range []struct {
		name string
		body map[string]any
		want string
	}{
		{"below the minimum", map[string]any{"amount": 4_999, "iban": iban, "track_id": "t1"},
			`{"status":0,"errors":{"amount":["مبلغ تسویه نباید کمتر از 5000 تومان باشد."]}}`},
		{"more than the wallet", map[string]any{"amount": 100_001, "iban": iban, "track_id": "t1"},
			`{"status":0,"errors":{"amount":["عدم کفایت موجودی (کسری موجودی)","مبلغ مورد نظر برای تسویه بیشتر از موجودی شما می باشد"]}}`},
		{"a bad IBAN and no track_id", map[string]any{"amount": 5_000, "iban": "IR350700001000116383322002"},
			`{"status":0,"errors":{"iban":["شماره شبا معتبر نیست."],"track_id":["وارد کردن track_id الزامی است."]}}`},
	} {
		r := store(tc.body)
		if r.status != http.StatusUnprocessableEntity || string(bytes.TrimSpace(r.body)) != tc.want {
			t.Errorf("%s: %d %s, want 422 %s", tc.name, r.status, r.body, tc.want)
		}
	}
	r := store(map[string]any{"amount": 100_000, "iban": iban, "track_id": "Track-1", "description": "تسویه"})
	if r.status != http.StatusOK {
		t.Fatalf("store: %d %s", r.status, r.body)
	}
	type storedBody struct {
		Status int `json:"status"`
		Data   struct {
			Settlement []struct {
				ID            string `json:"id"`
				TransactionID int64  `json:"transaction_id"`
				Amount        int64  `json:"amount"`
				AmountToman   int64  `json:"amount_toman"`
				WageToman     int64  `json:"wage_toman"`
				Status        string `json:"status"`
				Wallet        string `json:"wallet"`
				DateJalali    string `json:"settlement_date_jalali"`
				Prediction    string `json:"settlement_done_time_prediction"`
			} `json:"settlement"`
		} `json:"data"`
	}
	stored := decode[storedBody](t, r.body)
	s := stored.Data.Settlement[0]
	if s.Amount != 1_000_000 || s.AmountToman != 100_000 || s.WageToman != 0 || s.Status != "PENDING" || s.Wallet != "0" {
		t.Errorf("stored %+v; want amount in rials (10× amount_toman), PENDING, wallet \"0\"", s)
	}
	if !strings.HasPrefix(s.DateJalali, "1403/01/") || !strings.HasPrefix(s.Prediction, "1403/01/") {
		t.Errorf("Jalali dates %q, %q", s.DateJalali, s.Prediction)
	}
	if it := find(t, b, s.TransactionID); it.Status != -2 || it.TrackID == nil || *it.TrackID != "Track-1" ||
		it.Amount != 100_000 {
		t.Errorf("statement item %+v", it)
	}
	// track_id is unique and case-sensitive.
	if r := store(map[string]any{"amount": 5_000, "iban": iban, "track_id": "Track-1"}); r.status != 422 {
		t.Errorf("same track_id again: %d %s", r.status, r.body)
	}
	add(t, b, vandartest.NewItem{Kind: vandartest.KindCashIn, Amount: 10_000, CreatedAt: testNow})
	if r := store(map[string]any{"amount": "5000", "iban": iban, "track_id": "track-1"}); r.status != 200 {
		t.Errorf("another case of the track_id, amount as a string: %d %s", r.status, r.body)
	}
	// Form-encoded requests are accepted too.
	add(t, b, vandartest.NewItem{Kind: vandartest.KindCashIn, Amount: 10_000, CreatedAt: testNow})
	form := url.Values{"amount": {"5000"}, "iban": {iban}, "track_id": {"form-1"}, "is_instant": {"1"}}.Encode()
	if r := do(t, http.MethodPost, b.srv.URL+"/v3/business/acme/settlement/store", b.access,
		strings.NewReader(form), "application/x-www-form-urlencoded"); r.status != 200 ||
		!strings.Contains(string(r.body), `"is_instant":true`) {
		t.Errorf("form: %d %s", r.status, r.body)
	}
}

func TestCancelBeforeTheCutOffBringsTheMoneyBack(t *testing.T) {
	t.Parallel()
	b := empty(t)
	add(t, b, vandartest.NewItem{Kind: vandartest.KindCashIn, Amount: 1_000_000, CreatedAt: testNow.Add(-time.Hour)})
	// Requested at 15:20 Tehran: the 18:45 cycle, cancellable until 18:30.
	s := add(t, b, vandartest.NewItem{Kind: vandartest.KindSettlement, Amount: 400_000, Wage: 500,
		CreatedAt: testNow.Add(-10 * time.Minute), ResolvedAt: testNow.Add(4 * time.Hour)})
	late := add(t, b, vandartest.NewItem{Kind: vandartest.KindSettlement, Amount: 100_000,
		CreatedAt: testNow.Add(-9 * time.Minute), ResolvedAt: testNow.Add(4 * time.Hour)})
	cancel := func(id int64) response {
		return b.send(t, http.MethodDelete, "/v2.1/business/acme/settlement/"+strconv.FormatInt(id, 10), nil)
	}
	b.srv.Advance(time.Hour)
	r := cancel(s.ID)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"status":1`) ||
		!strings.Contains(string(r.body), "درخواست تسویه شما از دستور پرداخت خارج شد") {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	if got := b.showSettlement(t, s.UUID); got.Status != "CANCELED" {
		t.Errorf("after cancel: %s", got.Status)
	}
	if r := cancel(s.ID); r.status != http.StatusUnprocessableEntity {
		t.Errorf("cancel twice: %d %s", r.status, r.body)
	}
	if it := find(t, b, s.ID); it.Status != -4 {
		t.Errorf("statement item %d status %d, want -4", s.ID, it.Status)
	}
	if got := b.balance(t, "acme"); got != 1_000_000-500-100_000 {
		t.Errorf("balance %d: the amount (not the fee) comes back at once", got)
	}
	b.srv.Advance(3 * time.Hour) // past 18:30 Tehran
	if r := cancel(late.ID); r.status != http.StatusUnprocessableEntity {
		t.Errorf("cancel after the cut-off: %d %s", r.status, r.body)
	}
	if r := cancel(123); r.status != http.StatusNotFound {
		t.Errorf("cancel an unknown id: %d %s", r.status, r.body)
	}
}

func TestStuckAndWithheldSettlements(t *testing.T) {
	t.Parallel()
	b := empty(t)
	add(t, b, vandartest.NewItem{Kind: vandartest.KindCashIn, Amount: 1_000_000, CreatedAt: testNow.Add(-48 * time.Hour)})
	stuck := add(t, b, vandartest.NewItem{Kind: vandartest.KindSettlement, Amount: 100_000,
		CreatedAt: testNow.Add(-24 * time.Hour), Status: vandartest.StatusSettlementFailed,
		ResolvedAt: testNow.Add(-20 * time.Hour)})
	failed := add(t, b, vandartest.NewItem{Kind: vandartest.KindSettlement, Amount: 200_000,
		CreatedAt: testNow.Add(-24*time.Hour + time.Minute), Status: vandartest.StatusSettlementFailed,
		ResolvedAt: testNow.Add(-20 * time.Hour)})
	if err := b.srv.StickSettlement("acme", stuck.ID); err != nil {
		t.Fatal(err)
	}
	if err := b.srv.WithholdReturn("acme", failed.ID); err != nil {
		t.Fatal(err)
	}
	s := b.showSettlement(t, stuck.UUID)
	if pred := must(time.ParseInLocation(time.DateTime, s.Prediction, must(time.LoadLocation("Asia/Tehran")))); s.Status != "PENDING" || !pred.Before(testNow) {
		t.Errorf("stuck: %+v; want PENDING past its prediction", s)
	}
	if got := b.showSettlement(t, failed.UUID); got.Status != "FAILED" {
		t.Errorf("withheld: %s", got.Status)
	}
	items, _ := b.statement(t, "acme", nil)
	for _, it := range items {
		if it.Status == -6 {
			t.Errorf("a return item: %+v", it)
		}
	}
	if got := b.balance(t, "acme"); got != 700_000 {
		t.Errorf("balance %d: neither settlement's money came back", got)
	}
	if err := b.srv.WithholdReturn("acme", stuck.ID); err == nil {
		t.Error("withholding a return a stuck settlement never had")
	}
}

func TestQueuedSettlementLeavesTheQueueOnceTheWalletCanPay(t *testing.T) {
	t.Parallel()
	b := empty(t)
	add(t, b, vandartest.NewItem{Kind: vandartest.KindCashIn, Amount: 100_000, CreatedAt: testNow.Add(-time.Hour)})
	r := b.send(t, http.MethodPost, "/v3/business/acme/settlement/queued", map[string]any{
		"amount": 250_000, "iban": "IR150620000000203214109001", "track_id": "q-1"})
	if r.status != http.StatusOK {
		t.Fatalf("queue: %d %s", r.status, r.body)
	}
	type queued struct {
		ID            string `json:"id"`
		TrackID       string `json:"track_id"`
		Amount        int64  `json:"amount"`
		AmountToman   int64  `json:"amount_toman"`
		Status        string `json:"status"`
		TransactionID *int64 `json:"transaction_id"`
		CreatedAt     string `json:"created_at"`
	}
	type storeBody struct {
		Data struct{ Settlement []queued } `json:"data"`
	}
	q := decode[storeBody](t, r.body).Data.Settlement[0]
	if q.Status != "INIT" || q.TransactionID != nil || q.Amount != 2_500_000 || q.AmountToman != 250_000 ||
		!strings.HasPrefix(q.CreatedAt, "1403/01/22 ") {
		t.Errorf("queued %+v", q)
	}
	type listBody struct {
		Data struct {
			Settlements struct{ Data []queued } `json:"settlements"`
		} `json:"data"`
	}
	list := func() []queued {
		return decode[listBody](t, b.get(t, "/v3/business/acme/settlement/queued", nil).body).Data.Settlements.Data
	}
	if l := list(); len(l) != 1 || l[0].ID != q.ID {
		t.Errorf("queue: %+v", l)
	}
	if items, _ := b.statement(t, "acme", nil); len(items) != 1 {
		t.Errorf("a queued settlement moved money: %+v", items)
	}
	// Money arrives in an hour; the settlement leaves the queue then.
	add(t, b, vandartest.NewItem{Kind: vandartest.KindCashIn, Amount: 200_000, CreatedAt: testNow.Add(time.Hour)})
	b.srv.Advance(30 * time.Minute)
	if l := list(); len(l) != 1 {
		t.Errorf("left the queue before the money came: %+v", l)
	}
	b.srv.Advance(30 * time.Minute)
	if l := list(); len(l) != 0 {
		t.Errorf("still queued once funded: %+v", l)
	}
	r = b.get(t, "/v3/business/acme/settlement/queued/"+q.ID, nil)
	type showBody struct {
		Data struct{ Settlement queued } `json:"data"`
	}
	shown := decode[showBody](t, r.body).Data.Settlement
	if shown.Status != "PENDING" || shown.TransactionID == nil {
		t.Fatalf("released: %d %s", r.status, r.body)
	}
	it := find(t, b, *shown.TransactionID)
	if it.Status != -2 || it.TrackID == nil || *it.TrackID != "q-1" || it.Wallet != 50_000 ||
		*it.EffectiveTimeStamp != testNow.Add(time.Hour).Unix() {
		t.Errorf("its statement item %+v", it)
	}
	if qs := b.srv.QueuedSettlements("acme"); len(qs) != 1 || qs[0].TransactionID != *shown.TransactionID ||
		!qs[0].ReleasedAt.Equal(testNow.Add(time.Hour)) {
		t.Errorf("QueuedSettlements %+v", qs)
	}
}

func TestGeneratedQueueNeverOverdrawsTheWallet(t *testing.T) {
	t.Parallel()
	b := setup(t, vandartest.Options{Businesses: []vandartest.BusinessOptions{func() vandartest.BusinessOptions {
		o := month("acme", 3)
		o.Queued = 6
		return o
	}()}})
	qs := b.srv.QueuedSettlements("acme")
	if len(qs) != 6 {
		t.Fatalf("%d queued settlements, want 6", len(qs))
	}
	released := 0
	for _, q := range qs {
		if q.TransactionID == 0 {
			continue
		}
		released++
		if q.ReleasedAt.Before(q.CreatedAt) || b.srv.WalletAt("acme", q.CreatedAt) >= q.Amount {
			t.Errorf("queued %+v: left the queue before it was queued, or was queued with the money there", q)
		}
	}
	if released == 0 {
		t.Error("no generated queued settlement ever leaves the queue")
	}
	items, _ := b.statement(t, "acme", url.Values{"per_page": {"100"}})
	wallet := int64(0)
	for _, it := range chain(items) {
		wallet += net(it)
		if wallet < 0 || it.Wallet != wallet {
			t.Fatalf("item %d: wallet %d, chain %d", it.ID, it.Wallet, wallet)
		}
	}
}

func TestPayoutEndpointsAreAuthorizedCountedAndFaulted(t *testing.T) {
	t.Parallel()
	b := setup(t, vandartest.Options{})
	if r := b.send(t, http.MethodPost, "/v2.1/business/acme/settlement", map[string]any{}); r.status != http.StatusMethodNotAllowed ||
		r.header.Get("Allow") != http.MethodGet {
		t.Errorf("POST to the list: %d %v", r.status, r.header)
	}
	if r := do(t, http.MethodGet, b.srv.URL+"/api/v2/business/acme/batches", "", nil, ""); r.status != http.StatusUnauthorized {
		t.Errorf("no token: %d", r.status)
	}
	b.srv.Inject(vandartest.Fault{Kind: vandartest.FaultStatus, Endpoint: vandartest.EndpointBatchItems}, 1)
	if r := b.get(t, "/api/v2/business/acme/batch-settlements/x", nil); r.status != http.StatusServiceUnavailable {
		t.Errorf("faulted: %d", r.status)
	}
	b.get(t, "/v3/business/acme/settlement/queued", nil)
	b.get(t, "/v3/business/acme/settlement/queued/x", nil)
	for ep, want := range map[vandartest.Endpoint]int{vandartest.EndpointSettlements: 1, vandartest.EndpointBatches: 1,
		vandartest.EndpointBatchItems: 1, vandartest.EndpointQueued: 1, vandartest.EndpointQueuedOne: 1} {
		if got := b.srv.Requests(ep); got != want {
			t.Errorf("%s: %d requests counted, want %d", ep, got, want)
		}
	}
}
