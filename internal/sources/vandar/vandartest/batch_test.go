package vandartest_test

import (
	"bytes"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

type batchStatus struct {
	TotalCount      int   `json:"total_count"`
	TotalAmount     int64 `json:"total_amount"`
	InitCount       int   `json:"init_count"`
	InitAmount      int64 `json:"init_amount"`
	SubmittedCount  int   `json:"submitted_count"`
	SubmittedAmount int64 `json:"submitted_amount"`
	FailedCount     int   `json:"failed_count"`
	FailedAmount    int64 `json:"failed_amount"`
	PendingCount    int   `json:"pending_count"`
	PendingAmount   int64 `json:"pending_amount"`
	CanceledCount   int   `json:"canceled_count"`
	CanceledAmount  int64 `json:"canceled_amount"`
}

type batchObject struct {
	BatchID     string      `json:"batch_id"`
	Status      batchStatus `json:"status"`
	TotalAmount int64       `json:"total_amount"`
	CreatedAt   int64       `json:"created_at"`
	Cancelable  bool        `json:"cancelable"`
}

type batchItem struct {
	ID            string  `json:"id"`
	TrackID       string  `json:"track_id"`
	Amount        string  `json:"amount"`
	PaymentNumber *string `json:"payment_number"`
	Status        string  `json:"status"`
	TransactionID int64   `json:"transaction_id"`
	ErrorMessage  *string `json:"error_message"`
}

type batchPage[T any] struct {
	Data  []T `json:"data"`
	Links struct {
		Next *string `json:"next"`
	} `json:"links"`
	Meta paginator `json:"meta"`
}

func (b bundle) batches(t *testing.T) []batchObject {
	t.Helper()
	var all []batchObject
	for page := 1; ; page++ {
		r := b.get(t, "/api/v2/business/acme/batches", url.Values{"page": {strconv.Itoa(page)}})
		if r.status != http.StatusOK {
			t.Fatalf("batches page %d: %d %s", page, r.status, r.body)
		}
		p := decode[batchPage[batchObject]](t, r.body)
		if p.Meta.PerPage != 10 || p.Meta.CurrentPage != page {
			t.Fatalf("meta %+v", p.Meta)
		}
		all = append(all, p.Data...)
		if p.Links.Next == nil {
			return all
		}
	}
}

func (b bundle) batchItems(t *testing.T, id string, perPage int, status string) []batchItem {
	t.Helper()
	var all []batchItem
	for page := 1; ; page++ {
		q := url.Values{"page": {strconv.Itoa(page)}, "per_page": {strconv.Itoa(perPage)}}
		if status != "" {
			q.Set("status", status)
		}
		r := b.get(t, "/api/v2/business/acme/batch-settlements/"+id, q)
		if r.status != http.StatusOK {
			t.Fatalf("batch items page %d: %d %s", page, r.status, r.body)
		}
		p := decode[batchPage[batchItem]](t, r.body)
		all = append(all, p.Data...)
		if p.Meta.CurrentPage >= p.Meta.LastPage {
			return all
		}
	}
}

// sum adds the items' string amounts.
func sum(t *testing.T, items []batchItem) int64 {
	var total int64
	for _, it := range items {
		total += must(strconv.ParseInt(it.Amount, 10, 64))
	}
	return total
}

func TestBatchItemsAreStatementSettlementsAndAddUp(t *testing.T) {
	t.Parallel()
	b := empty(t)
	add(t, b, vandartest.NewItem{Kind: vandartest.KindCashIn, Amount: 10_000_000, CreatedAt: testNow.Add(-time.Hour)})
	// Requested at 15:30 Tehran: INIT until the 18:30 cut-off, paid (or failed) at the 18:45 cycle.
	bt, err := b.srv.AddBatch("acme", vandartest.NewBatch{CreatedAt: testNow, Items: []vandartest.NewBatchItem{
		{Amount: 1_000_000, PaymentNumber: 7},
		{Amount: 2_000_000},
		{Amount: 3_000_000, Status: vandartest.StatusSettlementFailed, ResolvedAt: testNow.Add(5 * time.Hour)},
		{Amount: 500_000, Status: vandartest.StatusSettlementCanceled},
		{Amount: 250_000},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(bt.ID) != 128 {
		t.Errorf("batch id %q is not a SHA-512", bt.ID)
	}
	object := func() batchObject {
		bs := b.batches(t)
		if len(bs) != 1 || bs[0].BatchID != bt.ID || bs[0].CreatedAt != testNow.Unix() {
			t.Fatalf("batches %+v", bs)
		}
		return bs[0]
	}
	if o := object(); o.Status != (batchStatus{TotalCount: 5, TotalAmount: 6_750_000, InitCount: 5, InitAmount: 6_750_000}) ||
		o.TotalAmount != 6_750_000 || !o.Cancelable {
		t.Errorf("fresh batch %+v", o)
	}
	items := b.batchItems(t, bt.ID, 2, "")
	if len(items) != 5 || sum(t, items) != 6_750_000 || items[0].PaymentNumber == nil || *items[0].PaymentNumber != "7" {
		t.Fatalf("items %+v", items)
	}
	for i, it := range items {
		st := find(t, b, it.TransactionID)
		if st.Status != -2 || st.TrackID == nil || *st.TrackID != it.TrackID || strconv.FormatInt(st.Amount, 10) != it.Amount ||
			it.ID != bt.Items[i].UUID {
			t.Errorf("batch item %+v vs statement item %+v", it, st)
		}
	}
	if got := b.balance(t, "acme"); got != 10_000_000-6_750_000 {
		t.Errorf("balance %d: the whole batch leaves the wallet when it is stored", got)
	}

	b.srv.Advance(time.Hour) // the cancelled item has resolved
	if o := object(); o.Status.InitCount != 4 || o.Status.CanceledCount != 1 || o.Status.CanceledAmount != 500_000 {
		t.Errorf("an hour later %+v", o.Status)
	}
	b.srv.Advance(3*time.Hour + 20*time.Minute) // 19:50: paid at 18:45; the failed one still pending
	o := object()
	want := batchStatus{TotalCount: 5, TotalAmount: 6_750_000, SubmittedCount: 3, SubmittedAmount: 3_250_000,
		PendingCount: 1, PendingAmount: 3_000_000, CanceledCount: 1, CanceledAmount: 500_000}
	if o.Status != want || o.Cancelable {
		t.Errorf("after the cycle %+v, want %+v", o, want)
	}
	b.srv.Advance(2 * time.Hour)
	failed := b.batchItems(t, bt.ID, 10, "failed")
	if len(failed) != 1 || failed[0].Amount != "3000000" || failed[0].ErrorMessage == nil {
		t.Errorf("failed items %+v", failed)
	}
	if got := b.balance(t, "acme"); got != 10_000_000-3_250_000 {
		t.Errorf("balance %d: the failed and cancelled items' money is back", got)
	}
	statement, _ := b.statement(t, "acme", nil)
	returns := 0
	for _, it := range statement {
		if it.Status == -6 {
			returns++
		}
	}
	if returns != 2 {
		t.Errorf("%d return items, want 2", returns)
	}
	// Batch items are not single settlements.
	if got, _ := b.settlements(t, 10); len(got) != 0 {
		t.Errorf("batch items in the settlement list: %+v", got)
	}

	// The knob: the batch's totals no longer match its items.
	if err := b.srv.MisstateBatch("acme", bt.ID, 10_000); err != nil {
		t.Fatal(err)
	}
	if o := object(); o.TotalAmount != 6_760_000 || o.Status.TotalAmount != 6_760_000 ||
		sum(t, b.batchItems(t, bt.ID, 100, "")) != 6_750_000 {
		t.Errorf("misstated batch %+v", o)
	}
	if r := b.get(t, "/api/v2/business/acme/batch-settlements/nope", nil); r.status != http.StatusNotFound {
		t.Errorf("unknown batch: %d %s", r.status, r.body)
	}
	if r := b.get(t, "/api/v2/business/acme/batch-settlements/"+bt.ID, url.Values{"status": {"DONE"}}); r.status != 422 {
		t.Errorf("status DONE is not a batch item status: %d %s", r.status, r.body)
	}
}

func TestBatchStore(t *testing.T) {
	t.Parallel()
	b := empty(t)
	add(t, b, vandartest.NewItem{Kind: vandartest.KindCashIn, Amount: 1_000_000, CreatedAt: testNow.Add(-time.Hour)})
	store := func(body any) response {
		return b.send(t, http.MethodPost, "/api/v2/business/acme/batches-settlement", body)
	}
	entry := func(track string, amount int64) map[string]any {
		return map[string]any{"track_id": track, "iban": "IR350700001000116383322001", "amount": amount,
			"payment_number": 1, "description": "حقوق"}
	}
	r := store(map[string]any{"batch_id": "b1", "batches_settlement": []any{entry("a", 600_000), entry("b", 4_000)}})
	if want := `{"status":0,"errors":{"batches_settlement.1.amount":["مبلغ تسویه نباید کمتر از 5000 تومان باشد."]}}`; r.status != 422 ||
		string(bytes.TrimSpace(r.body)) != want {
		t.Errorf("too small: %d %s", r.status, r.body)
	}
	r = store(map[string]any{"batch_id": "b1", "batches_settlement": []any{entry("a", 600_000), entry("b", 500_000)}})
	if r.status != 422 || !strings.Contains(string(r.body), "عدم کفایت موجودی") {
		t.Errorf("more than the wallet: %d %s", r.status, r.body)
	}
	r = store(map[string]any{"batch_id": "b1", "batches_settlement": []any{entry("a", 600_000), entry("a", 5_000)}})
	if r.status != 422 || !strings.Contains(string(r.body), "batches_settlement.1.track_id") {
		t.Errorf("a repeated track_id: %d %s", r.status, r.body)
	}
	r = store(map[string]any{"batch_id": "b1", "batches_settlement": []any{entry("a", 600_000), entry("b", 400_000)}})
	o := decode[batchObject](t, r.body)
	if r.status != 200 || o.BatchID != "b1" || o.Status.TotalCount != 2 || o.Status.InitCount != 2 || o.TotalAmount != 1_000_000 {
		t.Fatalf("store: %d %s", r.status, r.body)
	}
	if r := store(map[string]any{"batch_id": "b1", "batches_settlement": []any{entry("c", 5_000)}}); r.status != 422 {
		t.Errorf("the same batch_id again: %d %s", r.status, r.body)
	}
	if got := b.balance(t, "acme"); got != 0 {
		t.Errorf("balance %d after a batch of the whole wallet", got)
	}
	if n := b.srv.Requests(vandartest.EndpointBatchStore); n != 5 {
		t.Errorf("%d batch store requests counted", n)
	}
}

func TestGeneratedBatchesHaveMixedOutcomesAndAddUp(t *testing.T) {
	t.Parallel()
	b := setup(t, vandartest.Options{})
	bs := b.batches(t)
	if len(bs) < 5 {
		t.Fatalf("%d batches in a generated month", len(bs))
	}
	statuses := map[string]int{}
	for i, o := range bs {
		if i > 0 && o.CreatedAt > bs[i-1].CreatedAt {
			t.Errorf("batches not newest first")
		}
		items := b.batchItems(t, o.BatchID, 3, "")
		if len(items) != o.Status.TotalCount || sum(t, items) != o.TotalAmount || o.Status.TotalAmount != o.TotalAmount {
			t.Errorf("batch %s: %d items worth %d; it says %+v", o.BatchID, len(items), sum(t, items), o)
		}
		s := o.Status
		if s.InitCount+s.PendingCount+s.SubmittedCount+s.FailedCount+s.CanceledCount != s.TotalCount ||
			s.InitAmount+s.PendingAmount+s.SubmittedAmount+s.FailedAmount+s.CanceledAmount != s.TotalAmount {
			t.Errorf("batch %s: per-status figures don't add up: %+v", o.BatchID, s)
		}
		for _, it := range items {
			statuses[it.Status]++
		}
	}
	if statuses["SUBMITTED"] == 0 || statuses["FAILED"]+statuses["CANCELED"] == 0 {
		t.Errorf("batch item outcomes %v: want paid ones and failed or cancelled ones", statuses)
	}
}
