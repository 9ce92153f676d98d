package vandartest

import (
	"cmp"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Batch settlements (batch.vandar.io; providers/facts.md §2.8): a batch is a list of settlements requested
// together. Each of its items is an ordinary settlement record — its own statement item (transaction_id),
// leaving the wallet when the batch is stored and brought back by a -6 item if it fails or is cancelled — so
// the batch, the statement and the wallet describe the same money. The simulator decides:
//
//   - Item statuses: INIT until the item's cut-off (the batch store example counts a fresh item as init),
//     PENDING once sent until it resolves, then SUBMITTED (sent and paid: the only success the batch payloads
//     know — the fixture's paid item is SUBMITTED and the status block has no done_* counters), FAILED or
//     CANCELED. The statement shows the same items as -2, then 2, -3 or -4.
//   - Batch items are listed by the batch API only, not by the v2.1 settlement list.
//   - Amounts are tomans, as everywhere in Vandar except the store response's bare amount: the batch
//     payloads' totals and item amounts agree with each other in every example, and no example says rial.
//   - A batch holds at most 100 items, all requested in the same second; batch items pay no wage.
//   - batch_id must be present and unique; that it is the SHA-512 of the items (the documents' recipe) is not
//     checked, since no two serializers agree byte for byte. The simulator's own ids follow the recipe.
//   - The batch list is newest first, 10 a page; a batch's items are in the order sent, per_page 1 to 100
//     (default 10), with an optional status filter.

// batch is one batch settlement.
type batch struct {
	id        string
	created   time.Time
	items     []*record // in the order sent
	misstated int64     // planted: added to the totals the batch reports (MisstateBatch)
}

// batchItemState is a batch item's status at now (see the top of this file).
func batchItemState(r *record, now time.Time) string {
	switch r.statusAt(now) {
	case StatusSettlementDone:
		return stSubmitted
	case StatusSettlementFailed:
		return stFailed
	case StatusSettlementCanceled:
		return stCanceled
	}
	if now.Before(r.det.cancelableUntil) {
		return stInit
	}
	return stPending
}

// NewBatch describes a batch settlement for Server.AddBatch.
type NewBatch struct {
	// ID is the batch_id; when empty, the SHA-512 of the items as Vandar's documents make it.
	ID        string
	CreatedAt time.Time
	Items     []NewBatchItem // 1 to 100
}

// NewBatchItem is one settlement of a NewBatch.
type NewBatchItem struct {
	Amount        int64  // Toman, at least 5,000
	IBAN          string // generated when empty
	TrackID       string // generated when empty
	PaymentNumber int64
	Description   string
	// Status is how the item ends: StatusSettlementDone (the default; SUBMITTED in the batch),
	// StatusSettlementFailed or StatusSettlementCanceled (both get a return item).
	Status int
	// ResolvedAt is when it ends; zero means at its predicted Paya cycle (done or failed) or a minute after
	// the batch (cancelled).
	ResolvedAt time.Time
}

// Batch is a batch settlement as the simulator knows it: its items in their state now, as statement items
// (ID is the transaction_id, UUID the batch item's id).
type Batch struct {
	ID        string
	CreatedAt time.Time
	Items     []Item
	Misstated int64 // planted by MisstateBatch
}

func (b *business) batchView(bt *batch, now time.Time) Batch {
	v := Batch{ID: bt.id, CreatedAt: bt.created, Misstated: bt.misstated}
	for _, r := range bt.items {
		v.Items = append(v.Items, b.item(r, now))
	}
	return v
}

// AddBatch adds a batch settlement to a business's history and returns it in its state now. It is refused
// with ErrInsufficientFunds if the wallet could not pay all of it at CreatedAt (or later items would then
// overdraw it).
func (s *Server) AddBatch(slug string, n NewBatch) (Batch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.business(slug)
	if err != nil {
		return Batch{}, err
	}
	switch {
	case len(n.Items) == 0 || len(n.Items) > 100:
		return Batch{}, fmt.Errorf("vandartest: a batch has 1 to 100 items, not %d", len(n.Items))
	case n.CreatedAt.IsZero():
		return Batch{}, fmt.Errorf("vandartest: CreatedAt is required")
	case n.ID != "" && b.batchByID(n.ID) != nil:
		return Batch{}, fmt.Errorf("vandartest: batch %q added twice", n.ID)
	}
	created := n.CreatedAt.Truncate(time.Second)
	predicted, _ := payaCycle(created, b.loc)
	var items []batchEntry
	for i, it := range n.Items {
		status := cmp.Or(it.Status, StatusSettlementDone)
		resolved := it.ResolvedAt
		switch {
		case status != StatusSettlementDone && status != StatusSettlementFailed && status != StatusSettlementCanceled:
			return Batch{}, fmt.Errorf("vandartest: batch item %d: a settlement cannot end in status %d", i, status)
		case it.Amount < 5_000:
			return Batch{}, fmt.Errorf("vandartest: batch item %d: %d Toman is below Vandar's minimum of 5,000", i, it.Amount)
		case it.IBAN != "" && !validIBAN(it.IBAN):
			return Batch{}, fmt.Errorf("vandartest: batch item %d: invalid IBAN %q", i, it.IBAN)
		case resolved.IsZero() && status == StatusSettlementCanceled:
			resolved = created.Add(time.Minute)
		case resolved.IsZero():
			resolved = predicted
		case resolved.Before(created):
			return Batch{}, fmt.Errorf("vandartest: batch item %d: ResolvedAt is before CreatedAt", i)
		}
		items = append(items, batchEntry{NewItem{Kind: KindSettlement, Amount: it.Amount, CreatedAt: created,
			Status: status, ResolvedAt: resolved.Truncate(time.Second), TrackID: it.TrackID, IBAN: it.IBAN,
			Description: it.Description}, it.PaymentNumber})
	}
	now := s.nowLocked()
	b.unplanQueue(now)
	defer b.planQueue(now)
	bt, err := b.addBatch(n.ID, created, items)
	if err != nil {
		return Batch{}, err
	}
	return b.batchView(bt, now), nil
}

// batchEntry is one settlement of a batch being made, with its payment number.
type batchEntry struct {
	item          NewItem
	paymentNumber int64
}

// addBatch makes and adds a batch's records, or adds nothing and returns ErrInsufficientFunds if the wallet
// cannot pay all of it for good. The caller unplans the queue around it.
func (b *business) addBatch(id string, created time.Time, entries []batchEntry) (*batch, error) {
	bt := &batch{id: id, created: created}
	var all []*record
	for _, e := range entries {
		rs, err := b.newSettlement(e.item)
		if err != nil {
			return nil, err
		}
		rs[0].det.paymentNumber, rs[0].batch, rs[0].stype = e.paymentNumber, bt, "ACH"
		bt.items = append(bt.items, rs[0])
		all = append(all, rs...)
	}
	if bt.id == "" {
		bt.id = batchID(bt.items)
	}
	b.add(all...)
	if b.rebuild() < 0 {
		b.remove(all...)
		b.rebuild()
		return nil, ErrInsufficientFunds
	}
	b.batches = append(b.batches, bt)
	return bt, nil
}

// batchID is the documents' recipe: the SHA-512 (hex) of the batches_settlement array as JSON.
func batchID(items []*record) string {
	type entry struct {
		TrackID       string `json:"track_id"`
		IBAN          string `json:"iban"`
		Amount        int64  `json:"amount"`
		PaymentNumber *int64 `json:"payment_number,omitempty"`
		Description   string `json:"description,omitempty"`
	}
	var list []entry
	for _, r := range items {
		list = append(list, entry{r.trackID, r.iban, r.amount, num(r.det.paymentNumber), r.det.description})
	}
	raw, _ := json.Marshal(list)
	sum := sha512.Sum512(raw)
	return hex.EncodeToString(sum[:])
}

func (b *business) batchByID(id string) *batch {
	for _, bt := range b.batches {
		if bt.id == id {
			return bt
		}
	}
	return nil
}

// Batches returns a business's batch settlements that exist now, in the order made, with their items in
// their state now. It panics on an unknown business.
func (s *Server) Batches(slug string) []Batch {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, now := s.mustBusiness(slug), s.nowLocked()
	var out []Batch
	for _, bt := range b.batches {
		if !bt.created.After(now) {
			out = append(out, b.batchView(bt, now))
		}
	}
	return out
}

// MisstateBatch makes a batch report totals (total_amount, in the batch and in its status block) that are
// delta more than its items add up to, while the items, the statement and the wallet stay true: the batch
// check must raise an alert.
func (s *Server) MisstateBatch(slug, batchID string, delta int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.business(slug)
	if err != nil {
		return err
	}
	bt := b.batchByID(batchID)
	if bt == nil {
		return fmt.Errorf("vandartest: business %s has no batch %q", slug, batchID)
	}
	bt.misstated += delta
	return nil
}

// generatePayouts adds the history's batch settlements and queued settlements (see BusinessOptions), drawn
// from payoutRng so that every other item stays as the main generator made it. It runs after generate and
// before the queue is planned.
func (b *business) generatePayouts(start time.Time, days, batches, queued int) error {
	if batches == 0 {
		batches = max(days/5, 1)
	}
	if queued == 0 {
		queued = max(days/10, 1)
	}
	rng := b.payoutRng
	// describe draws details from b.rng; lend it payoutRng meanwhile, so b.rng's sequence is untouched.
	saved := b.rng
	b.rng = rng
	defer func() { b.rng = saved }()
	b.rebuild()
	first := tehranMidnight(start, b.loc)
	at := func(hour, spread int) time.Time {
		d := rng.IntN(days)
		day := time.Date(first.Year(), first.Month(), first.Day()+d, 0, 0, 0, 0, b.loc)
		return day.Add(time.Duration(hour)*time.Hour + time.Duration(rng.Int64N(int64(spread)*3600))*time.Second)
	}
	for range max(batches, 0) {
		if err := b.generateBatch(rng, at(13, 4)); err != nil {
			return err
		}
	}
	for range max(queued, 0) {
		b.generateQueued(rng, at(11, 6))
	}
	return nil
}

// generateBatch adds a batch of 3 to 12 payouts at t, as a business paying its suppliers or staff does,
// worth at most 60% of what the wallet can pay for good then; none if that is too little.
func (b *business) generateBatch(rng *rand.Rand, t time.Time) error {
	budget := b.affordable(t) * 6 / 10
	n := min(3+rng.IntN(10), int(budget/50_000))
	if n < 2 {
		return nil
	}
	var items []batchEntry
	for range n {
		amount := max(budget/int64(n)*int64(50+rng.IntN(51))/100/10_000*10_000, 50_000)
		predicted, cancelable := payaCycle(t, b.loc)
		status, resolved := outcome(rng, t, predicted, cancelable, false)
		items = append(items, batchEntry{item: NewItem{Kind: KindSettlement, Amount: amount, CreatedAt: t,
			Status: status, ResolvedAt: resolved}})
	}
	if _, err := b.addBatch("", t, items); err != nil && err != ErrInsufficientFunds {
		return err
	}
	return nil
}

// generateQueued queues a settlement at t for more than the wallet holds then: one the history can pay later
// when there is such a moment (so it leaves the queue), else one it never can (so it stays queued).
func (b *business) generateQueued(rng *rand.Rand, t time.Time) {
	w := b.walletAt(t)
	m := b.suffixMin()
	best := int64(0)
	for j := range b.chain {
		if b.chain[j].at.After(t) {
			best = max(best, m[j])
		}
	}
	above := (w/10_000 + 1) * 10_000 // the least round amount the wallet cannot pay now
	amount := (w*3/2/10_000 + 1) * 10_000
	if top := best / 10_000 * 10_000; top > above {
		amount = above + (top-above)*int64(rng.IntN(90))/100/10_000*10_000
	}
	q := &queued{id: uuid(rng), created: t, req: settlementRequest{amount: max(amount, 5_000),
		iban: pick(rng, b.id.accounts).iban, trackID: uuid(rng), description: "تسویه حساب وندار", stype: "ACH"}}
	b.queue = append(b.queue, q)
	slices.SortStableFunc(b.queue, func(x, y *queued) int { return x.created.Compare(y.created) })
	b.planQueue(time.Time{})
}

// HTTP.

// wireBatch is a batch as the list and the store send it (the vandarpy fixture, field for field).
type wireBatch struct {
	BatchID            string          `json:"batch_id"`
	Status             wireBatchStatus `json:"status"`
	TotalAmount        int64           `json:"total_amount"`
	CreatedAt          int64           `json:"created_at"`
	Cancelable         bool            `json:"cancelable"`
	CancelableDatetime *string         `json:"cancelable_datetime"`
}

type wireBatchStatus struct {
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

func (bt *batch) wire(now time.Time, loc *time.Location) wireBatch {
	st := wireBatchStatus{TotalCount: len(bt.items)}
	w := wireBatch{BatchID: bt.id, CreatedAt: bt.created.Unix()}
	var cutoff time.Time
	for _, r := range bt.items {
		st.TotalAmount += r.amount
		switch batchItemState(r, now) {
		case stInit:
			st.InitCount++
			st.InitAmount += r.amount
			if cutoff.IsZero() || r.det.cancelableUntil.Before(cutoff) {
				cutoff = r.det.cancelableUntil
			}
		case stSubmitted:
			st.SubmittedCount++
			st.SubmittedAmount += r.amount
		case stFailed:
			st.FailedCount++
			st.FailedAmount += r.amount
		case stPending:
			st.PendingCount++
			st.PendingAmount += r.amount
		case stCanceled:
			st.CanceledCount++
			st.CanceledAmount += r.amount
		}
	}
	st.TotalAmount += bt.misstated
	w.Status, w.TotalAmount = st, st.TotalAmount
	if !cutoff.IsZero() {
		w.Cancelable, w.CancelableDatetime = true, str(gregorianTime(cutoff, loc))
	}
	return w
}

// wireBatchItem is one settlement of a batch (the documents' example; amount and payment_number are strings).
type wireBatchItem struct {
	ID            string  `json:"id"`
	TrackID       string  `json:"track_id"`
	PaymentNumber *string `json:"payment_number"`
	Amount        string  `json:"amount"`
	IBAN          string  `json:"iban"`
	IBANOwnerName string  `json:"iban_owner_name"`
	Status        string  `json:"status"`
	Type          string  `json:"type"`
	TransactionID int64   `json:"transaction_id"`
	ErrorMessage  *string `json:"error_message"`
	Description   *string `json:"description"`
}

// bankErrors are the reasons a failed batch item gives (the simulator's; the documents show none).
var bankErrors = []string{"شماره شبا مسدود است.", "حساب مقصد غیرفعال است.", "نام صاحب حساب با شبا مطابقت ندارد."}

func (b *business) wireBatchItem(r *record, now time.Time) wireBatchItem {
	w := wireBatchItem{ID: r.uuid, TrackID: r.trackID, Amount: strconv.FormatInt(r.amount, 10), IBAN: r.iban,
		IBANOwnerName: b.id.owner, Status: batchItemState(r, now), Type: cmp.Or(r.stype, "ACH"),
		TransactionID: r.id, Description: str(r.det.description)}
	if r.det.paymentNumber != 0 {
		w.PaymentNumber = str(strconv.FormatInt(r.det.paymentNumber, 10))
	}
	if w.Status == stFailed {
		w.ErrorMessage = str(bankErrors[r.id%int64(len(bankErrors))])
	}
	return w
}

// batchPage is the batch host's paging: data, links and meta (Laravel's resource collection).
type batchPage[T any] struct {
	Data  []T        `json:"data"`
	Links batchLinks `json:"links"`
	Meta  batchMeta  `json:"meta"`
}

type batchLinks struct {
	First string  `json:"first"`
	Last  string  `json:"last"`
	Prev  *string `json:"prev"`
	Next  *string `json:"next"`
}

type batchMeta struct {
	CurrentPage int         `json:"current_page"`
	From        *int        `json:"from"`
	LastPage    int         `json:"last_page"`
	Links       []batchLink `json:"links"`
	Path        string      `json:"path"`
	PerPage     int         `json:"per_page"`
	To          *int        `json:"to"`
	Total       int         `json:"total"`
}

type batchLink struct {
	URL    *string `json:"url"`
	Label  string  `json:"label"`
	Active bool    `json:"active"`
}

func newBatchPage[T any](data []T, w pageWindow, base string) batchPage[T] {
	l := newLaravelPage(data, w, base)
	p := batchPage[T]{Data: data, Links: batchLinks{First: l.First, Last: l.Last, Prev: l.Prev, Next: l.Next},
		Meta: batchMeta{CurrentPage: l.CurrentPage, From: l.From, LastPage: l.LastPage, Path: l.Path,
			PerPage: l.PerPage, To: l.To, Total: l.Total}}
	p.Meta.Links = append(p.Meta.Links, batchLink{URL: l.Prev, Label: "&laquo; قبلی"})
	for i := 1; i <= w.last; i++ {
		p.Meta.Links = append(p.Meta.Links, batchLink{URL: str(base + "?page=" + strconv.Itoa(i)),
			Label: strconv.Itoa(i), Active: i == w.page})
	}
	p.Meta.Links = append(p.Meta.Links, batchLink{URL: l.Next, Label: "بعدی &raquo;"})
	return p
}

// batchList serves GET /api/v2/business/:business/batches?page=, ten batches a page, newest first.
func (s *Server) batchList(r *http.Request, b *business, now time.Time) reply {
	pq, errs := parsePageQuery(r)
	if len(errs) > 0 {
		return reply{http.StatusUnprocessableEntity, validationBody{Errors: errs}}
	}
	pq.perPage = 10 // the documents show no per_page for the list, and 10 in its meta
	var all []*batch
	for i := len(b.batches) - 1; i >= 0; i-- {
		if !b.batches[i].created.After(now) {
			all = append(all, b.batches[i])
		}
	}
	slices.SortStableFunc(all, func(x, y *batch) int { return y.created.Compare(x.created) })
	p := pq.window(len(all))
	data := make([]wireBatch, 0, p.hi-p.lo)
	for _, bt := range all[p.lo:p.hi] {
		data = append(data, bt.wire(now, s.loc))
	}
	return reply{http.StatusOK, newBatchPage(data, p, pageURL(r))}
}

// batchItems serves GET /api/v2/business/:business/batch-settlements/:batch_id?page&per_page&status.
func (s *Server) batchItems(r *http.Request, b *business, id string, now time.Time) reply {
	pq, errs := parsePageQuery(r)
	status := strings.ToUpper(r.URL.Query().Get("status"))
	switch status {
	case "", stInit, stPending, stSubmitted, stFailed, stCanceled:
	default:
		errs["status"] = append(errs["status"], "status انتخاب شده، معتبر نیست.")
	}
	if len(errs) > 0 {
		return reply{http.StatusUnprocessableEntity, validationBody{Errors: errs}}
	}
	bt := b.batchByID(id)
	if bt == nil || bt.created.After(now) {
		return reply{http.StatusNotFound, errorBody{Error: "تسویه گروهی مورد نظر یافت نشد."}}
	}
	var all []*record
	for _, rec := range bt.items {
		if status == "" || batchItemState(rec, now) == status {
			all = append(all, rec)
		}
	}
	p := pq.window(len(all))
	data := make([]wireBatchItem, 0, p.hi-p.lo)
	for _, rec := range all[p.lo:p.hi] {
		data = append(data, b.wireBatchItem(rec, now))
	}
	return reply{http.StatusOK, newBatchPage(data, p, pageURL(r))}
}

// batchStore serves POST /api/v2/business/:business/batches-settlement: a JSON body
// {"batch_id": "...", "batches_settlement": [{track_id, iban, amount, payment_number, description, ...}]},
// checked like the store (errors under batches_settlement.N.field), refused without the money for all of
// it. Each item's outcome is drawn from the business's random source.
func (s *Server) batchStore(r *http.Request, body []byte, b *business, now time.Time) reply {
	var in struct {
		BatchID any              `json:"batch_id"`
		Items   []map[string]any `json:"batches_settlement"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil {
		return reply{http.StatusBadRequest, errorBody{Error: "Bad Request"}}
	}
	errs := map[string][]string{}
	id, _ := text(map[string]any{"batch_id": in.BatchID}, "batch_id")
	switch {
	case id == "":
		errs["batch_id"] = []string{"وارد کردن batch_id الزامی است."}
	case len(id) > 128:
		errs["batch_id"] = []string{"batch_id نباید بیشتر از 128 کاراکتر باشد."}
	case b.batchByID(id) != nil:
		errs["batch_id"] = []string{"batch_id قبلا استفاده شده است."}
	}
	switch {
	case len(in.Items) == 0:
		errs["batches_settlement"] = []string{"وارد کردن batches_settlement الزامی است."}
	case len(in.Items) > 100:
		errs["batches_settlement"] = []string{"batches_settlement نباید بیشتر از 100 آیتم داشته باشد."}
	}
	var reqs []settlementRequest
	seen := map[string]bool{}
	var total int64
	for i, m := range in.Items {
		prefix := fmt.Sprintf("batches_settlement.%d.", i)
		req := parseSettlementRequest(m, prefix, errs)
		if req.trackID != "" && (seen[req.trackID] || b.trackIDUsed(req.trackID)) {
			errs[prefix+"track_id"] = append(errs[prefix+"track_id"], "track_id قبلا استفاده شده است.")
		}
		seen[req.trackID] = true
		total += req.amount
		reqs = append(reqs, req)
	}
	if len(errs) > 0 {
		return reply{http.StatusUnprocessableEntity, validationBody{Errors: errs}}
	}
	if total > b.walletAt(now) {
		return reply{http.StatusUnprocessableEntity, validationBody{Errors: map[string][]string{"amount": insufficient}}}
	}
	created := now.Truncate(time.Second)
	var items []batchEntry
	for _, req := range reqs {
		predicted, cancelable := payaCycle(created, b.loc)
		status, resolved := outcome(b.rng, created, predicted, cancelable, false)
		items = append(items, batchEntry{NewItem{Kind: KindSettlement, Amount: req.amount, CreatedAt: created,
			Status: status, ResolvedAt: resolved, TrackID: req.trackID, IBAN: req.iban,
			Description: req.description}, req.paymentNumber})
	}
	b.unplanQueue(now)
	defer b.planQueue(now)
	bt, err := b.addBatch(id, created, items)
	switch {
	case err == ErrInsufficientFunds:
		return reply{http.StatusUnprocessableEntity, validationBody{Errors: map[string][]string{"amount": insufficient}}}
	case err != nil:
		return reply{http.StatusInternalServerError, errorBody{Error: err.Error()}}
	}
	return reply{http.StatusOK, bt.wire(now, s.loc)}
}
