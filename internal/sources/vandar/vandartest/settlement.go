package vandartest

import (
	"cmp"
	"crypto/sha1"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	ptime "github.com/yaa110/go-persian-calendar"
)

// Settlements as the settlement API shows them. A settlement is one record, the same one the statement shows
// (its id is the settlement's transaction_id, its uuid the settlement's id), so the settlement feed and the
// statement always describe the same money: the statement item leaves the wallet when the settlement is
// requested and, if the settlement fails or is cancelled, a -6 item brings the amount back when it resolves.
//
// Statuses (providers/facts.md §2.7). The documents' store example answers "PENDING" for a fresh, non-instant
// settlement, and Vandar's Laravel package expects exactly that, so a single settlement is PENDING from its
// request until it resolves: DONE at (or, for some, well after) its predicted Paya cycle, FAILED at the bank
// some hours after it, or CANCELED before its cut-off. INIT ("being sent to the bank") is what a batch's items
// show until their cut-off (the batch store example counts its fresh item under init_count) and what a queued
// settlement shows while it waits for money; SUBMITTED is a batch item the bank was sent and paid (see
// batch.go). The statement's codes follow the same clock: -2 while pending, then 2, -3 or -4.

// The settlement endpoints, on the API host and (batches) the batch host; the simulator serves both.
const (
	EndpointSettlements      Endpoint = "settlements"        // GET /v2.1/business/:business/settlement
	EndpointSettlement       Endpoint = "settlement"         // GET /v2.1/business/:business/settlement/:settlement_id
	EndpointSettlementCancel Endpoint = "settlement-cancel"  // DELETE /v2.1/business/:business/settlement/:transaction_id
	EndpointSettlementStore  Endpoint = "settlement-store"   // POST /v3/business/:business/settlement/store
	EndpointQueued           Endpoint = "queued"             // GET /v3/business/:business/settlement/queued
	EndpointQueuedStore      Endpoint = "queued-store"       // POST /v3/business/:business/settlement/queued
	EndpointQueuedOne        Endpoint = "queued-one"         // GET /v3/business/:business/settlement/queued/:id
	EndpointBatches          Endpoint = "batches"            // GET /api/v2/business/:business/batches
	EndpointBatchItems       Endpoint = "batch-settlements"  // GET /api/v2/business/:business/batch-settlements/:batch_id
	EndpointBatchStore       Endpoint = "batches-settlement" // POST /api/v2/business/:business/batches-settlement
)

// method is the HTTP method an endpoint answers; any other gets 405.
func (ep Endpoint) method() string {
	switch ep {
	case EndpointRefreshToken, EndpointSettlementStore, EndpointQueuedStore, EndpointBatchStore:
		return http.MethodPost
	case EndpointSettlementCancel:
		return http.MethodDelete
	}
	return http.MethodGet
}

// routePayouts names the settlement, queue and batch endpoints. Where two share a path (show and cancel,
// the queue's list and store), the method picks one; a method neither answers is the GET one's 405.
func routePayouts(method string, parts []string) (Endpoint, string, string) {
	n := len(parts)
	switch {
	case n >= 4 && parts[0] == "v2.1" && parts[1] == "business" && parts[3] == "settlement":
		switch {
		case n == 4:
			return EndpointSettlements, parts[2], ""
		case n == 5 && method == http.MethodDelete:
			return EndpointSettlementCancel, parts[2], parts[4]
		case n == 5:
			return EndpointSettlement, parts[2], parts[4]
		}
	case n >= 5 && parts[0] == "v3" && parts[1] == "business" && parts[3] == "settlement":
		switch {
		case n == 5 && parts[4] == "store":
			return EndpointSettlementStore, parts[2], ""
		case n == 5 && parts[4] == "queued" && method == http.MethodPost:
			return EndpointQueuedStore, parts[2], ""
		case n == 5 && parts[4] == "queued":
			return EndpointQueued, parts[2], ""
		case n == 6 && parts[4] == "queued":
			return EndpointQueuedOne, parts[2], parts[5]
		}
	case n >= 5 && parts[0] == "api" && parts[1] == "v2" && parts[2] == "business":
		switch {
		case n == 5 && parts[4] == "batches":
			return EndpointBatches, parts[3], ""
		case n == 5 && parts[4] == "batches-settlement":
			return EndpointBatchStore, parts[3], ""
		case n == 6 && parts[4] == "batch-settlements":
			return EndpointBatchItems, parts[3], parts[5]
		}
	}
	return EndpointOther, "", ""
}

// servePayouts answers the endpoints routePayouts names.
func (s *Server) servePayouts(r *http.Request, ep Endpoint, slug, id string) reply {
	// Request bodies are read before the lock is taken: a slow client must not stall the simulator.
	var body []byte
	if r.Method == http.MethodPost {
		var err error
		if body, err = io.ReadAll(io.LimitReader(r.Body, 1<<20)); err != nil {
			return reply{http.StatusBadRequest, errorBody{Error: "Bad Request"}}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, fail := s.authorize(r, slug)
	if fail != nil {
		return *fail
	}
	now := s.nowLocked()
	switch ep {
	case EndpointSettlements:
		return s.settlementList(r, b, now)
	case EndpointSettlement:
		return s.settlementShow(b, id, now)
	case EndpointSettlementCancel:
		return s.settlementCancel(b, id, now)
	case EndpointSettlementStore:
		return s.settlementStore(r, body, b, now)
	case EndpointQueued:
		return s.queuedList(r, b, now)
	case EndpointQueuedOne:
		return s.queuedShow(b, id, now)
	case EndpointQueuedStore:
		return s.queuedStore(r, body, b, now)
	case EndpointBatches:
		return s.batchList(r, b, now)
	case EndpointBatchItems:
		return s.batchItems(r, b, id, now)
	case EndpointBatchStore:
		return s.batchStore(r, body, b, now)
	}
	return reply{http.StatusNotFound, errorBody{Error: "Not Found"}}
}

// Settlement statuses of the settlement and batch APIs.
const (
	stInit      = "INIT"
	stPending   = "PENDING"
	stSubmitted = "SUBMITTED"
	stDone      = "DONE"
	stFailed    = "FAILED"
	stCanceled  = "CANCELED"
)

// settlementState is a single settlement's status at now (see the top of this file).
func settlementState(r *record, now time.Time) string {
	switch r.statusAt(now) {
	case StatusSettlementDone:
		return stDone
	case StatusSettlementFailed:
		return stFailed
	case StatusSettlementCanceled:
		return stCanceled
	}
	return stPending
}

// single reports whether r is a single settlement: one the settlement API lists, not a batch's item.
func single(r *record) bool { return r.kind == KindSettlement && r.batch == nil }

// cancellable reports whether a settlement can still be taken back: not yet sent to the bank (before its
// cut-off), not instant (the documents: instant settlements cannot be cancelled) and not resolved.
func cancellable(r *record, now time.Time) bool {
	return single(r) && !r.instant && r.statusAt(now) == StatusSettlementPending && now.Before(r.det.cancelableUntil)
}

// returnOf is the item that brings r's money back, if it has one.
func (b *business) returnOf(r *record) *record {
	for _, x := range b.records {
		if x.kind == KindReturn && x.revised == r.id {
			return x
		}
	}
	return nil
}

// cancelSettlement cancels r at now: its status becomes -4 (CANCELED) and a return item brings the amount
// back at the same moment, replacing any return its planned outcome had.
func (b *business) cancelSettlement(r *record, now time.Time) error {
	b.unplanQueue(now)
	defer b.planQueue(now)
	if ret := b.returnOf(r); ret != nil {
		b.remove(ret)
	}
	r.final, r.resolved, r.stuck, r.withheld = StatusSettlementCanceled, now.Truncate(time.Second), false, false
	ret, err := b.newReturn(r)
	if err != nil {
		return err
	}
	b.add(ret)
	b.rebuild()
	return nil
}

// outcome draws how a settlement requested at created ends, and when: as the generator's settlements do
// (most paid at the predicted cycle, some late, a few failed at the bank or cancelled before their cut-off).
// Instant settlements are never cancelled.
func outcome(rng *rand.Rand, created, predicted, cancelable time.Time, instant bool) (int, time.Time) {
	secs := func(d time.Duration) time.Duration {
		return time.Duration(rng.Int64N(max(int64(d/time.Second), 1))) * time.Second
	}
	switch x := rng.IntN(100); {
	case x < 88 || instant && x >= 96:
		return StatusSettlementDone, predicted.Add(secs(20 * time.Minute))
	case x < 92:
		return StatusSettlementDone, predicted.Add(2*time.Hour + secs(8*time.Hour))
	case x < 96:
		return StatusSettlementFailed, predicted.Add(time.Hour + secs(29*time.Hour))
	default:
		return StatusSettlementCanceled, created.Add(time.Minute + secs(cancelable.Sub(created)-time.Minute))
	}
}

// schedule is when a settlement requested at t is predicted to be paid and until when it can be cancelled:
// the Paya cycle (payaCycle) for ordinary ones; ten minutes, and never, for instant ones.
func schedule(t time.Time, instant bool, loc *time.Location) (predicted, cancelable time.Time) {
	if instant {
		return t.Add(10 * time.Minute), t
	}
	return payaCycle(t, loc)
}

// settlementRequest is a checked request for one settlement: the store endpoint's body, a queued
// settlement's, or one entry of a batch.
type settlementRequest struct {
	amount        int64
	iban          string
	trackID       string
	paymentNumber int64
	description   string
	instant       bool
	stype         string
}

// newRequested makes the records of a settlement requested at created (and its return, if its drawn outcome
// needs one), allocated and described, not yet added.
func (b *business) newRequested(req settlementRequest, created time.Time, rng *rand.Rand) ([]*record, error) {
	predicted, cancelable := schedule(created, req.instant, b.loc)
	status, resolved := outcome(rng, created, predicted, cancelable, req.instant)
	rs, err := b.newSettlement(NewItem{Kind: KindSettlement, Amount: req.amount, CreatedAt: created,
		Status: status, ResolvedAt: resolved, TrackID: req.trackID, IBAN: req.iban, Description: req.description})
	if err != nil {
		return nil, err
	}
	r := rs[0]
	r.instant, r.stype, r.det.paymentNumber = req.instant, req.stype, req.paymentNumber
	r.det.predicted, r.det.cancelableUntil = predicted, cancelable
	return rs, nil
}

// trackIDUsed reports whether a settlement, queued settlement or batch item already has the track_id. Vandar
// says it must be unique per request and is case-sensitive.
func (b *business) trackIDUsed(id string) bool {
	for _, r := range b.records {
		if r.kind == KindSettlement && r.trackID == id {
			return true
		}
	}
	for _, q := range b.queue {
		if q.req.trackID == id {
			return true
		}
	}
	return false
}

// The messages of a store refused for want of money: Vandar's Laravel package's live test expects exactly
// these two (providers/facts.md §2.6).
var insufficient = []string{"عدم کفایت موجودی (کسری موجودی)", "مبلغ مورد نظر برای تسویه بیشتر از موجودی شما می باشد"}

// fields reads a request body into its top-level members: a JSON object (numbers kept as their text), or a
// form (Vandar accepts form-encoded requests, and its Laravel package sends them).
func fields(r *http.Request, body []byte) (map[string]any, bool) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/x-www-form-urlencoded" {
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, false
		}
		m := map[string]any{}
		for k := range v {
			m[k] = v.Get(k)
		}
		return m, true
	}
	m := map[string]any{}
	if strings.TrimSpace(string(body)) == "" {
		return m, true
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, false
	}
	return m, true
}

// text is a member's value as text: strings as they are, numbers as written, booleans as true/false; ok is
// false for null, absence, objects and arrays.
func text(m map[string]any, key string) (string, bool) {
	switch v := m[key].(type) {
	case string:
		return v, v != ""
	case json.Number:
		return v.String(), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

// parseSettlementRequest checks one settlement's fields the way Laravel validates them, adding each field's
// errors (in Persian, under prefix+field) to errs.
func parseSettlementRequest(m map[string]any, prefix string, errs map[string][]string) settlementRequest {
	bad := func(field, msg string) { errs[prefix+field] = append(errs[prefix+field], msg) }
	var req settlementRequest
	if s, ok := text(m, "amount"); !ok {
		bad("amount", "وارد کردن مبلغ الزامی است.")
	} else if n, err := strconv.ParseInt(s, 10, 64); err != nil {
		bad("amount", "مبلغ باید عدد صحیح باشد.")
	} else if n < 5_000 {
		// The documents: "greater than or equal to 5000 Toman and at most the wallet" (facts.md §2.6).
		bad("amount", "مبلغ تسویه نباید کمتر از 5000 تومان باشد.")
	} else {
		req.amount = n
	}
	if s, ok := text(m, "iban"); !ok {
		bad("iban", "وارد کردن شماره شبا الزامی است.")
	} else if !validIBAN(s) {
		bad("iban", "شماره شبا معتبر نیست.")
	} else {
		req.iban = s
	}
	if s, ok := text(m, "track_id"); !ok {
		bad("track_id", "وارد کردن track_id الزامی است.")
	} else {
		req.trackID = s
	}
	if s, ok := text(m, "payment_number"); ok {
		if n, err := strconv.ParseInt(s, 10, 64); err != nil || n < 0 {
			bad("payment_number", "شناسه واریز باید عدد صحیح باشد.")
		} else {
			req.paymentNumber = n
		}
	}
	if s, ok := text(m, "description"); ok {
		if utf8.RuneCountInString(s) > 256 {
			bad("description", "توضیحات نباید بیشتر از 256 کاراکتر باشد.")
		}
		req.description = s
	}
	if s, ok := text(m, "is_instant"); ok {
		switch s {
		case "true", "1":
			req.instant = true
		case "false", "0":
		default:
			bad("is_instant", "is_instant باید true یا false باشد.")
		}
	}
	switch s, _ := text(m, "type"); s {
	case "", "ACH":
		req.stype = "ACH"
	case "A2A":
		req.stype = "A2A"
	default:
		bad("type", "type انتخاب شده، معتبر نیست.")
	}
	return req
}

// validIBAN checks an Iranian IBAN: IR, 24 digits, ISO 7064 mod-97 check digits.
func validIBAN(s string) bool {
	if len(s) != 26 || s[:2] != "IR" {
		return false
	}
	rem := 0
	for _, c := range s[4:] + "1827" + s[2:4] { // the BBAN, then IR as 18 27, then the check digits
		if c < '0' || c > '9' {
			return false
		}
		rem = (rem*10 + int(c-'0')) % 97
	}
	return rem == 1
}

// settlementStore serves POST /v3/business/:business/settlement/store: checks the request, refuses it
// without the money (422, the documented messages), and otherwise requests the settlement now, with an
// outcome drawn from the business's random source. Stored settlements pay no wage (the documents' example
// has wage_toman 0), so "at most the wallet" is the whole rule.
func (s *Server) settlementStore(r *http.Request, body []byte, b *business, now time.Time) reply {
	m, ok := fields(r, body)
	if !ok {
		return reply{http.StatusBadRequest, errorBody{Error: "Bad Request"}}
	}
	errs := map[string][]string{}
	req := parseSettlementRequest(m, "", errs)
	if len(errs) == 0 && b.trackIDUsed(req.trackID) {
		errs["track_id"] = []string{"track_id قبلا استفاده شده است."}
	}
	if len(errs) > 0 {
		return reply{http.StatusUnprocessableEntity, validationBody{Errors: errs}}
	}
	created := now.Truncate(time.Second)
	if req.amount > b.walletAt(now) {
		return reply{http.StatusUnprocessableEntity, validationBody{Errors: map[string][]string{"amount": insufficient}}}
	}
	b.unplanQueue(now)
	defer b.planQueue(now)
	rs, err := b.newRequested(req, created, b.rng)
	if err != nil {
		return reply{http.StatusInternalServerError, errorBody{Error: err.Error()}}
	}
	b.add(rs...)
	if b.rebuild() < 0 {
		// Enough now, but later items were made on the wallet as it was: Vandar would have refused them.
		b.remove(rs...)
		return reply{http.StatusUnprocessableEntity, validationBody{Errors: map[string][]string{"amount": insufficient}}}
	}
	return reply{http.StatusOK, storeBody{Status: 1, Data: storeData{Settlement: []wireStored{b.wireStored(rs[0], now, s.loc)}}}}
}

// settlementList serves GET /v2.1/business/:business/settlement: the single settlements that exist now,
// newest first (the documents don't say; Laravel lists are usually latest first), page by page, under the
// wallet figures.
// The wallet includes any planted drift: it is the figure the balance endpoint reports.
func (s *Server) settlementList(r *http.Request, b *business, now time.Time) reply {
	pq, errs := parsePageQuery(r)
	if len(errs) > 0 {
		return reply{http.StatusUnprocessableEntity, validationBody{Errors: errs}}
	}
	var all []*record
	for i := len(b.records) - 1; i >= 0; i-- {
		if rec := b.records[i]; single(rec) && visible(rec, now) {
			all = append(all, rec)
		}
	}
	p := pq.window(len(all))
	data := make([]wireSettlement, 0, p.hi-p.lo)
	for _, rec := range all[p.lo:p.hi] {
		data = append(data, b.wireSettlement(rec, now, s.loc))
	}
	w := b.walletAt(now) + b.drift
	return reply{http.StatusOK, settlementListBody{Status: 1, Data: settlementListData{
		Wallet: w, BlockedAmount: 0, DeductibleAmount: max(w, 0), Currency: "Toman",
		Settlements: newLaravelPage(data, p, pageURL(r)),
	}}}
}

// settlementShow serves GET /v2.1/business/:business/settlement/:settlement_id, by the settlement's uuid.
func (s *Server) settlementShow(b *business, id string, now time.Time) reply {
	for _, rec := range b.records {
		if single(rec) && rec.uuid == id && visible(rec, now) {
			return reply{http.StatusOK, settlementShowBody{Status: 1,
				Data: settlementShowData{Settlement: b.wireSettlement(rec, now, s.loc)}}}
		}
	}
	return reply{http.StatusNotFound, errorBody{Error: "تسویه مورد نظر یافت نشد."}}
}

// settlementCancel serves DELETE /v2.1/business/:business/settlement/:transaction_id. The documents give the
// success body only; a settlement past its cut-off (or instant, or resolved) is refused with 422 and the
// 401 body's shape.
func (s *Server) settlementCancel(b *business, id string, now time.Time) reply {
	txID, err := strconv.ParseInt(id, 10, 64)
	rec := b.byID[txID]
	if err != nil || rec == nil || !single(rec) || !visible(rec, now) {
		return reply{http.StatusNotFound, errorBody{Error: "تسویه مورد نظر یافت نشد."}}
	}
	if !cancellable(rec, now) {
		return reply{http.StatusUnprocessableEntity, errorBody{Error: "امکان لغو این تسویه وجود ندارد."}}
	}
	if err := b.cancelSettlement(rec, now); err != nil {
		return reply{http.StatusInternalServerError, errorBody{Error: err.Error()}}
	}
	return reply{http.StatusOK, messageBody{Status: 1,
		Message: "درخواست تسویه شما از دستور پرداخت خارج شد و وجه تسویه به حساب شما برگشت داده شد"}}
}

// StickSettlement makes a settlement (single or a batch's item) never resolve: it stays pending in the
// settlement feed, the batch and the statement (-2) past its predicted time for ever, its money in transit.
// A return its planned failure would have brought is taken away with it. The settlement-lifecycle check must
// raise an alert once the prediction has passed.
func (s *Server) StickSettlement(slug string, transactionID int64) error {
	return s.plant(slug, transactionID, func(b *business, r *record) error {
		if r.kind != KindSettlement {
			return fmt.Errorf("vandartest: item %d is a %s, not a settlement", transactionID, r.kind)
		}
		ret := b.returnOf(r)
		if ret != nil {
			b.remove(ret)
		}
		r.stuck = true
		if b.rebuild() < 0 {
			r.stuck = false
			if ret != nil {
				b.add(ret)
			}
			b.rebuild()
			return ErrInsufficientFunds
		}
		return nil
	})
}

// WithholdReturn takes away the return item of a settlement that fails or is cancelled: the settlement
// reports FAILED (or CANCELED) but its money never comes back, in the statement or in the wallet. The
// wallet chain stays true to that, so only the settlement-lifecycle check can tell. It is refused with
// ErrInsufficientFunds if later items needed the returned money.
func (s *Server) WithholdReturn(slug string, transactionID int64) error {
	return s.plant(slug, transactionID, func(b *business, r *record) error {
		ret := b.returnOf(r)
		if r.kind != KindSettlement || ret == nil {
			return fmt.Errorf("vandartest: item %d is not a failed or cancelled settlement with a return", transactionID)
		}
		b.remove(ret)
		if b.rebuild() < 0 {
			b.add(ret)
			b.rebuild()
			return ErrInsufficientFunds
		}
		r.withheld = true
		return nil
	})
}

// Wire shapes.

// wireSettlement is a v2.1 settlement, as the list and show endpoints send it: the documents' fields (amount
// in Toman, gateway_transaction_id, wallet after the settlement, settlement_date in Gregorian), the vandarpy
// fixture's settlement_done_time_prediction (Gregorian "2020-01-01 01:01:01", Tehran time), and, the
// simulator's choice, what the other Vandar payloads name a settlement by: transaction_id (= the statement
// item's id), track_id, iban, the fee as wage_toman (as the store response calls it), type and is_instant.
type wireSettlement struct {
	ID                           string  `json:"id"`
	IBANID                       int64   `json:"iban_id"`
	GatewayTransactionID         int64   `json:"gateway_transaction_id"`
	TransactionID                int64   `json:"transaction_id"`
	TrackID                      string  `json:"track_id"`
	IBAN                         string  `json:"iban"`
	Amount                       int64   `json:"amount"`
	WageToman                    int64   `json:"wage_toman"`
	PaymentNumber                *int64  `json:"payment_number"`
	Status                       string  `json:"status"`
	Wallet                       int64   `json:"wallet"`
	SettlementDate               string  `json:"settlement_date"`
	SettlementDoneTimePrediction string  `json:"settlement_done_time_prediction"`
	Description                  *string `json:"description"`
	Type                         string  `json:"type"`
	IsInstant                    bool    `json:"is_instant"`
	ReceiptURL                   *string `json:"receipt_url"`
}

func (b *business) wireSettlement(r *record, now time.Time, loc *time.Location) wireSettlement {
	w := wireSettlement{
		ID: r.uuid, IBANID: ibanID(r.iban), GatewayTransactionID: r.id, TransactionID: r.id, TrackID: r.trackID,
		IBAN: r.iban, Amount: r.amount, WageToman: r.wage, PaymentNumber: num(r.det.paymentNumber),
		Status: settlementState(r, now), Wallet: b.walletAfter[r.id], SettlementDate: gregorianDate(r.created, loc),
		SettlementDoneTimePrediction: gregorianTime(r.det.predicted, loc), Description: str(r.det.description),
		Type: cmp.Or(r.stype, "ACH"), IsInstant: r.instant,
	}
	if w.Status == stDone {
		w.ReceiptURL = str(r.det.receiptURL)
	}
	return w
}

type settlementListBody struct {
	Status int                `json:"status"`
	Data   settlementListData `json:"data"`
}

type settlementListData struct {
	Wallet           int64                       `json:"wallet"`
	BlockedAmount    int64                       `json:"blocked_amount"`
	DeductibleAmount int64                       `json:"deductible_amount"`
	Currency         string                      `json:"currency"`
	Settlements      laravelPage[wireSettlement] `json:"settlements"`
}

type settlementShowBody struct {
	Status int                `json:"status"`
	Data   settlementShowData `json:"data"`
}

type settlementShowData struct {
	Settlement wireSettlement `json:"settlement"`
}

type messageBody struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
}

// wireStored is a settlement as the v3 store response shows it: the documents' example field for field,
// plus the vandarpy fixture's source, account and prediction.amount. amount (and prediction.amount) are
// rials, ten times amount_toman, as in every example; wallet is a string there.
type wireStored struct {
	ID                           string           `json:"id"`
	IBANID                       string           `json:"iban_id"`
	TransactionID                int64            `json:"transaction_id"`
	Amount                       int64            `json:"amount"`
	AmountToman                  int64            `json:"amount_toman"`
	WageToman                    int64            `json:"wage_toman"`
	PaymentNumber                *int64           `json:"payment_number"`
	Status                       string           `json:"status"`
	Wallet                       string           `json:"wallet"`
	Description                  *string          `json:"description"`
	SettlementDate               string           `json:"settlement_date"`
	SettlementTime               string           `json:"settlement_time"`
	SettlementDateJalali         string           `json:"settlement_date_jalali"`
	SettlementDoneTimePrediction string           `json:"settlement_done_time_prediction"`
	IsInstant                    bool             `json:"is_instant"`
	Prediction                   wirePredictionV3 `json:"prediction"`
	ReceiptURL                   *string          `json:"receipt_url"`
	Type                         string           `json:"type"`
	Source                       string           `json:"source"`
	Account                      *string          `json:"account"`
}

type wirePredictionV3 struct {
	Amount int64  `json:"amount"`
	Date   string `json:"date"`
	Time   string `json:"time"`
	Extra  string `json:"extra"`
}

type storeBody struct {
	Status int       `json:"status"`
	Data   storeData `json:"data"`
}

type storeData struct {
	Settlement []wireStored `json:"settlement"`
}

func (b *business) wireStored(r *record, now time.Time, loc *time.Location) wireStored {
	p := ptime.New(r.det.predicted.In(loc))
	extra := ""
	switch days := tehranMidnight(r.det.predicted, loc).Sub(tehranMidnight(r.created, loc)) / (24 * time.Hour); days {
	case 0:
		extra = "امروز"
	case 1:
		extra = "فردا"
	}
	return wireStored{
		ID: r.uuid, IBANID: ibanUUID(r.iban), TransactionID: r.id, Amount: r.amount * 10, AmountToman: r.amount,
		WageToman: r.wage, PaymentNumber: num(r.det.paymentNumber), Status: settlementState(r, now),
		Wallet: strconv.FormatInt(b.walletAfter[r.id], 10), Description: str(r.det.description),
		SettlementDate: gregorianDate(r.created, loc), SettlementTime: r.created.In(loc).Format(time.TimeOnly),
		SettlementDateJalali:         jalaliDate(r.created, loc),
		SettlementDoneTimePrediction: predictionTime(r.det.predicted, loc), IsInstant: r.instant,
		Prediction: wirePredictionV3{Amount: r.amount * 10, Date: fmt.Sprintf("%d/%d/%d", p.Year(), int(p.Month()), p.Day()),
			Time: r.det.predicted.In(loc).Format(time.TimeOnly), Extra: extra},
		ReceiptURL: str(r.det.receiptURL), Type: cmp.Or(r.stype, "ACH"), Source: "WALLET",
	}
}

// Paging, as Laravel's paginator does it: page from 1, per_page (default 10, at most 100), a page past the
// end is empty rather than an error.

type pageQuery struct{ page, perPage int }

func parsePageQuery(r *http.Request) (pageQuery, map[string][]string) {
	q := pageQuery{page: 1, perPage: 10}
	errs := map[string][]string{}
	for _, f := range []struct {
		name     string
		dst      *int
		min, max int64
	}{{"page", &q.page, 1, 1 << 30}, {"per_page", &q.perPage, 1, 100}} {
		raw := r.URL.Query().Get(f.name)
		if raw == "" {
			continue
		}
		n, err := strconv.ParseInt(raw, 10, 64)
		switch {
		case err != nil:
			errs[f.name] = append(errs[f.name], f.name+" باید عدد صحیح باشد.")
		case n < f.min:
			errs[f.name] = append(errs[f.name], fmt.Sprintf("%s نباید کمتر از %d باشد.", f.name, f.min))
		case n > f.max:
			errs[f.name] = append(errs[f.name], fmt.Sprintf("%s نباید بزرگتر از %d باشد.", f.name, f.max))
		default:
			*f.dst = int(n)
		}
	}
	return q, errs
}

// pageWindow is one page of total items: items [lo, hi).
type pageWindow struct {
	pageQuery
	total, lo, hi, last int
}

func (q pageQuery) window(total int) pageWindow {
	w := pageWindow{pageQuery: q, total: total, last: max((total+q.perPage-1)/q.perPage, 1)}
	w.lo = min((q.page-1)*q.perPage, total)
	w.hi = min(w.lo+q.perPage, total)
	return w
}

// pageURL is the request's URL without its query, as the paginator's links start.
func pageURL(r *http.Request) string { return "http://" + r.Host + r.URL.Path }

// laravelPage is Laravel's paginator inlined beside its data, as the v2.1 settlement list sends it.
type laravelPage[T any] struct {
	Data        []T     `json:"data"`
	First       string  `json:"first"`
	Last        string  `json:"last"`
	Prev        *string `json:"prev"`
	Next        *string `json:"next"`
	CurrentPage int     `json:"current_page"`
	From        *int    `json:"from"`
	LastPage    int     `json:"last_page"`
	Path        string  `json:"path"`
	PerPage     int     `json:"per_page"`
	To          *int    `json:"to"`
	Total       int     `json:"total"`
}

func newLaravelPage[T any](data []T, w pageWindow, base string) laravelPage[T] {
	link := func(p int) string { return base + "?page=" + strconv.Itoa(p) }
	p := laravelPage[T]{Data: data, First: link(1), Last: link(w.last), CurrentPage: w.page, LastPage: w.last,
		Path: base, PerPage: w.perPage, Total: w.total}
	if w.page > 1 {
		p.Prev = str(link(w.page - 1))
	}
	if w.page < w.last {
		p.Next = str(link(w.page + 1))
	}
	if w.hi > w.lo {
		from, to := w.lo+1, w.hi
		p.From, p.To = &from, &to
	}
	return p
}

// Formats and stable ids.

// gregorianDate is t's Tehran calendar day, Gregorian: "2021-10-30".
func gregorianDate(t time.Time, loc *time.Location) string { return t.In(loc).Format(time.DateOnly) }

// gregorianTime is t in Tehran, Gregorian: "2021-10-30 16:00:00", as the v2.1 settlement's prediction.
func gregorianTime(t time.Time, loc *time.Location) string { return t.In(loc).Format(time.DateTime) }

// jalaliDate is t's Tehran calendar day, Jalali and zero-padded: "1400/08/08".
func jalaliDate(t time.Time, loc *time.Location) string {
	p := ptime.New(t.In(loc))
	return fmt.Sprintf("%04d/%02d/%02d", p.Year(), int(p.Month()), p.Day())
}

// ibanID is the number the v2.1 settlement gives a destination account (its iban_id): stable per IBAN.
func ibanID(iban string) int64 {
	h := sha1.Sum([]byte(iban))
	return 10_000 + int64(binary.BigEndian.Uint32(h[:4])%90_000)
}

// ibanUUID is the uuid the v3 store response gives a destination account (its iban_id): stable per IBAN.
func ibanUUID(iban string) string {
	h := sha1.Sum([]byte("iban:" + iban))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}
