package vandartest

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"sort"
	"time"
)

// Queued settlements: a settlement requested while the wallet is short is stored in a queue instead of being
// refused, and sent once the wallet can pay it (providers/README.md; the endpoints are in public SDKs, their
// payloads nowhere). The simulator decides:
//
//   - A queued settlement leaves the queue at the first moment the wallet can pay it without going below
//     zero then or at any later point of the history — the same rule that refuses a store — in the order
//     queued. It then becomes an ordinary settlement, requested at that moment (its statement item leaves the
//     wallet then, never before), with the queued request's track_id, IBAN and description, and is paid at
//     its Paya cycle. Until then no money moves and it has no transaction_id.
//   - When it leaves the queue is planned ahead on the simulated clock, and planned again whenever the
//     history changes (AddItem, a store, a cancellation, a knob) — but never into the past: what a client may
//     already have read stays as it was.
//   - The queue's payloads are v3 payloads, so they take the v3 store response's settlement shape: amount in
//     rials beside amount_toman and wage_toman (always 0), plus track_id, iban, created_at (Jalali
//     "1403/01/21 10:00:00", as v3 writes dates) and transaction_id (null while queued). Status is INIT while
//     queued (not yet sent anywhere: Vandar's word for a settlement being prepared), and afterwards the status
//     of the settlement it became. The list (GET …/queued?page&per_page) holds only what is still queued,
//     newest first, in the v2.1 list's paginator under data.settlements; GET …/queued/:id shows any queued
//     settlement, still queued or not, under data.settlement, so a client can follow one to its end.
//   - Queued settlements are not cancelled (POST …/queued/cancel is not simulated).

// queued is one queued settlement request.
type queued struct {
	id      string // uuid
	req     settlementRequest
	created time.Time
	// release is the settlement it becomes, planned ahead: it exists (in the statement and the settlement
	// list) from release.created on. nil while no moment in the history can pay it.
	release *record
}

// released reports whether q has left the queue by now.
func (q *queued) released(now time.Time) bool {
	return q.release != nil && !q.release.created.After(now)
}

// NewQueued describes a queued settlement for Server.QueueSettlement.
type NewQueued struct {
	Amount      int64 // Toman, at least 5,000
	IBAN        string
	TrackID     string // generated when empty
	Description string
	CreatedAt   time.Time
}

// Queued is a queued settlement as the simulator knows it.
type Queued struct {
	ID          string
	TrackID     string
	Amount      int64
	CreatedAt   time.Time
	Description string
	// ReleasedAt is when it leaves the queue (which may still be ahead of the simulated clock), and
	// TransactionID the settlement it becomes then; both zero while no moment in the history can pay it.
	ReleasedAt    time.Time
	TransactionID int64
}

func (q *queued) view() Queued {
	v := Queued{ID: q.id, TrackID: q.req.trackID, Amount: q.req.amount, CreatedAt: q.created,
		Description: q.req.description}
	if q.release != nil {
		v.ReleasedAt, v.TransactionID = q.release.created, q.release.id
	}
	return v
}

// QueueSettlement queues a settlement for a business at n.CreatedAt (whole seconds). It is planned to leave
// the queue as soon as the wallet can pay it, never before the simulated clock's now.
func (s *Server) QueueSettlement(slug string, n NewQueued) (Queued, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.business(slug)
	if err != nil {
		return Queued{}, err
	}
	switch {
	case n.Amount < 5_000:
		return Queued{}, fmt.Errorf("vandartest: settlement of %d Toman: Vandar's minimum is 5,000", n.Amount)
	case n.CreatedAt.IsZero():
		return Queued{}, fmt.Errorf("vandartest: CreatedAt is required")
	case n.IBAN != "" && !validIBAN(n.IBAN):
		return Queued{}, fmt.Errorf("vandartest: invalid IBAN %q", n.IBAN)
	}
	now := s.nowLocked()
	req := settlementRequest{amount: n.Amount, iban: n.IBAN, trackID: n.TrackID, description: n.Description,
		stype: "ACH"}
	q := b.enqueue(req, n.CreatedAt.Truncate(time.Second), now)
	return q.view(), nil
}

// enqueue adds a queued settlement and plans the queue again.
func (b *business) enqueue(req settlementRequest, created, now time.Time) *queued {
	if req.iban == "" {
		req.iban = pick(b.rng, b.id.accounts).iban
	}
	if req.trackID == "" {
		req.trackID = uuid(b.rng)
	}
	if req.description == "" {
		req.description = "تسویه حساب وندار"
	}
	q := &queued{id: uuid(b.rng), req: req, created: created}
	b.unplanQueue(now)
	b.queue = append(b.queue, q)
	slices.SortStableFunc(b.queue, func(x, y *queued) int { return x.created.Compare(y.created) })
	b.planQueue(now)
	return q
}

// QueuedSettlements returns every queued settlement of a business, still queued or not, in the order queued.
// It panics on an unknown business.
func (s *Server) QueuedSettlements(slug string) []Queued {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Queued
	for _, q := range s.mustBusiness(slug).queue {
		out = append(out, q.view())
	}
	return out
}

// unplanQueue takes out every planned release that lies after now, so that the history can change under
// them; planQueue puts them back where the changed history allows.
func (b *business) unplanQueue(now time.Time) {
	for _, q := range b.queue {
		if q.release != nil && q.release.created.After(now) {
			b.remove(q.release)
			q.release = nil
		}
	}
}

// planQueue plans, in the order queued, when each unreleased queued settlement leaves the queue: at the first
// whole second from its creation (and not before now) at which the wallet can pay it for good.
func (b *business) planQueue(now time.Time) {
	b.rebuild()
	for _, q := range b.queue {
		if q.release != nil {
			continue
		}
		t0 := q.created
		if now.After(t0) {
			t0 = now.Truncate(time.Second)
		}
		t, ok := b.firstAffordable(t0, q.req.amount)
		if !ok {
			continue
		}
		predicted, cancelable := schedule(t, false, b.loc)
		rs, err := b.newSettlement(NewItem{Kind: KindSettlement, Amount: q.req.amount, CreatedAt: t,
			Status: StatusSettlementDone, ResolvedAt: predicted.Add(3 * time.Minute), TrackID: q.req.trackID,
			IBAN: q.req.iban, Description: q.req.description})
		if err != nil {
			continue // a second with 100 items already: the next plan will find another
		}
		r := rs[0]
		r.stype, r.det.predicted, r.det.cancelableUntil = q.req.stype, predicted, cancelable
		b.add(r)
		if b.rebuild() < 0 { // cannot happen: firstAffordable checked the rest of the chain
			b.remove(r)
			b.rebuild()
			continue
		}
		q.release = r
	}
}

// suffixMin returns, for the chain as it stands, m[i] = the lowest balance from link i on; m[len] is +∞.
func (b *business) suffixMin() []int64 {
	m := make([]int64, len(b.chain)+1)
	m[len(b.chain)] = math.MaxInt64
	for i := len(b.chain) - 1; i >= 0; i-- {
		m[i] = min(b.chain[i].after, m[i+1])
	}
	return m
}

// affordable is the most that can leave the wallet at t (after every item up to t) without taking it below
// zero then or at any later point of the history.
func (b *business) affordable(t time.Time) int64 {
	i := sort.Search(len(b.chain), func(i int) bool { return b.chain[i].at.After(t) })
	return min(b.walletAt(t), b.suffixMin()[i])
}

// firstAffordable is the first moment from t0 on at which need can leave the wallet for good: t0 itself, or
// the moment of a later item after which the balance never falls below need again. A new item at that
// moment gets the largest id of its second, so it is ordered after every item already there.
func (b *business) firstAffordable(t0 time.Time, need int64) (time.Time, bool) {
	m := b.suffixMin()
	i := sort.Search(len(b.chain), func(i int) bool { return b.chain[i].at.After(t0) })
	if min(b.walletAt(t0), m[i]) >= need {
		return t0, true
	}
	for j := i; j < len(b.chain); j++ {
		if j+1 < len(b.chain) && b.chain[j+1].at.Equal(b.chain[j].at) {
			continue // the balance at a moment is the one after its last item
		}
		if m[j] >= need {
			return b.chain[j].at, true
		}
	}
	return time.Time{}, false
}

// HTTP.

// wireQueued is a queued settlement on the wire (see the top of this file).
type wireQueued struct {
	ID                           string  `json:"id"`
	TrackID                      string  `json:"track_id"`
	IBAN                         string  `json:"iban"`
	IBANID                       string  `json:"iban_id"`
	TransactionID                *int64  `json:"transaction_id"`
	Amount                       int64   `json:"amount"`
	AmountToman                  int64   `json:"amount_toman"`
	WageToman                    int64   `json:"wage_toman"`
	PaymentNumber                *int64  `json:"payment_number"`
	Status                       string  `json:"status"`
	Description                  *string `json:"description"`
	CreatedAt                    string  `json:"created_at"`
	SettlementDoneTimePrediction *string `json:"settlement_done_time_prediction"`
	IsInstant                    bool    `json:"is_instant"`
	Type                         string  `json:"type"`
}

func (q *queued) wire(now time.Time, loc *time.Location) wireQueued {
	w := wireQueued{ID: q.id, TrackID: q.req.trackID, IBAN: q.req.iban, IBANID: ibanUUID(q.req.iban),
		Amount: q.req.amount * 10, AmountToman: q.req.amount, PaymentNumber: num(q.req.paymentNumber),
		Status: stInit, Description: str(q.req.description), CreatedAt: predictionTime(q.created, loc),
		Type: q.req.stype}
	if q.released(now) {
		r := q.release
		w.TransactionID, w.Status = &r.id, settlementState(r, now)
		w.SettlementDoneTimePrediction = str(predictionTime(r.det.predicted, loc))
	}
	return w
}

type queuedListBody struct {
	Status int            `json:"status"`
	Data   queuedListData `json:"data"`
}

type queuedListData struct {
	Settlements laravelPage[wireQueued] `json:"settlements"`
}

type queuedShowBody struct {
	Status int            `json:"status"`
	Data   queuedShowData `json:"data"`
}

type queuedShowData struct {
	Settlement wireQueued `json:"settlement"`
}

type queuedStoreBody struct {
	Status int             `json:"status"`
	Data   queuedStoreData `json:"data"`
}

type queuedStoreData struct {
	Settlement []wireQueued `json:"settlement"`
}

// queuedList serves GET /v3/business/:business/settlement/queued.
func (s *Server) queuedList(r *http.Request, b *business, now time.Time) reply {
	pq, errs := parsePageQuery(r)
	if len(errs) > 0 {
		return reply{http.StatusUnprocessableEntity, validationBody{Errors: errs}}
	}
	var all []*queued
	for i := len(b.queue) - 1; i >= 0; i-- {
		if q := b.queue[i]; !q.created.After(now) && !q.released(now) {
			all = append(all, q)
		}
	}
	p := pq.window(len(all))
	data := make([]wireQueued, 0, p.hi-p.lo)
	for _, q := range all[p.lo:p.hi] {
		data = append(data, q.wire(now, s.loc))
	}
	return reply{http.StatusOK, queuedListBody{Status: 1, Data: queuedListData{
		Settlements: newLaravelPage(data, p, pageURL(r))}}}
}

// queuedShow serves GET /v3/business/:business/settlement/queued/:id.
func (s *Server) queuedShow(b *business, id string, now time.Time) reply {
	for _, q := range b.queue {
		if q.id == id && !q.created.After(now) {
			return reply{http.StatusOK, queuedShowBody{Status: 1, Data: queuedShowData{Settlement: q.wire(now, s.loc)}}}
		}
	}
	return reply{http.StatusNotFound, errorBody{Error: "تسویه مورد نظر یافت نشد."}}
}

// queuedStore serves POST /v3/business/:business/settlement/queued: the store's checks, but no refusal for
// want of money — that is what the queue is for. If the wallet can pay it at once it leaves the queue at once.
func (s *Server) queuedStore(r *http.Request, body []byte, b *business, now time.Time) reply {
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
	req.instant = false // a queued settlement waits for money: it is sent with the Paya cycles
	q := b.enqueue(req, now.Truncate(time.Second), now)
	return reply{http.StatusOK, queuedStoreBody{Status: 1, Data: queuedStoreData{Settlement: []wireQueued{q.wire(now, s.loc)}}}}
}
