package bench

import (
	"cmp"
	"container/heap"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	_ "time/tzdata" // Asia/Tehran must not depend on the host's tz database

	ptime "github.com/yaa110/go-persian-calendar"
)

// Sim is a stand-in for Vandar's statement API, built for volume: the statement endpoint
// (GET /v3/business/:business/transaction with per_page, sort, start_after, fromDate and toDate), the token
// refresh (POST /v3/refreshtoken, rotating pairs) and Vandar's documented rate limit (100 GET and 30 POST per
// token in any 3 seconds, answered 429 with Retry-After), with a counter of the 429s it served.
//
// It exists because vandartest, the simulator the tests use, cannot serve these volumes: its history
// generator is quadratic (generator.refund scans every refundable payment and generator.walletAt every
// wallet movement made so far: 93 s for 100,000 items here) and its statement handler scans and copies the
// whole history on every page (18 ms a page at 100,000 items, more than half of the 33 ms a page may take at
// Vandar's limit). Sim keeps each business's history in columns and answers a page with two binary searches,
// so the time a page costs does not depend on how long the history is.
//
// Items have the wire shape vandartest renders (every documented field, Jalali Tehran timestamps, Persian
// labels) and consistent running balances: every item that moves the wallet carries the balance after it, in
// (effective time, id) order. The mix is gateway and form payments — most verified within minutes, some
// hours later, some failed — and a settlement of about half the wallet every hundred items.
type Sim struct {
	// URL is the base URL, http://127.0.0.1:port.
	URL string

	ln  net.Listener
	hs  *http.Server
	loc *time.Location

	businesses map[string]*simBusiness

	mu      sync.Mutex
	tokens  map[string]simGrant // access or refresh token → grant
	limit   bool
	limiter slidingLog

	requests  atomic.Int64
	throttled atomic.Int64
	pages     atomic.Int64
	pageNanos atomic.Int64 // time spent answering statement pages, rendering and writing included
}

// SimOptions configure a Sim.
type SimOptions struct {
	// Businesses are the slugs served, each with its own history of Items items.
	Businesses []string
	// Items is how many statement items each business has.
	Items int
	// End is the created_at of each business's last item; the items before it are Spacing apart. Default:
	// three days ago, so that a poller's two-day re-read window holds nothing and every item has settled.
	End time.Time
	// Spacing is the time between two items' creation. Default 2s.
	Spacing time.Duration
	// RateLimit enforces Vandar's documented limits and counts the 429s (Throttled).
	RateLimit bool
	// Seed makes the histories; the same seed gives the same items.
	Seed uint64
	// NoAPIToken leaves out the gateway key Vandar puts on gateway payments. The Vandar client redacts that
	// key by re-encoding the raw item, which costs about a third of its decoding: the workload, which only
	// needs events, skips it; the poller's backfills keep it, as Vandar sends it.
	NoAPIToken bool
}

type simGrant struct {
	business string
	refresh  bool
}

// Kinds of item Sim makes.
const (
	simIPG = iota
	simForm
	simFailed
	simSettlement
)

// simBusiness is one business's history in columns, ascending by id (= by created_at).
type simBusiness struct {
	slug      string
	seed      uint64
	ids       []int64
	created   []int64 // unix seconds
	effective []int64 // unix seconds; 0 for an item that never moves the wallet
	amount    []int64 // tomans
	wage      []int64
	kind      []uint8
	wallet    []int64 // the balance right after the item, in (effective, id) order; 0 if it never moves it
	apiToken  string
}

// NewSim builds the histories and serves them on a loopback port. Close it when done.
func NewSim(opts SimOptions) (*Sim, error) {
	if opts.Items <= 0 || len(opts.Businesses) == 0 {
		return nil, fmt.Errorf("bench: simulator needs businesses and items")
	}
	opts.Spacing = cmp.Or(opts.Spacing, 2*time.Second)
	if opts.Spacing < time.Second {
		return nil, fmt.Errorf("bench: simulator spacing %s: items need whole seconds apart", opts.Spacing)
	}
	if opts.End.IsZero() {
		opts.End = time.Now().Add(-72 * time.Hour)
	}
	loc, err := time.LoadLocation("Asia/Tehran")
	if err != nil {
		return nil, err
	}
	s := &Sim{loc: loc, businesses: map[string]*simBusiness{}, tokens: map[string]simGrant{}, limit: opts.RateLimit}
	start := opts.End.Add(-time.Duration(opts.Items-1) * opts.Spacing).Truncate(time.Second)
	for i, slug := range opts.Businesses {
		b := newSimBusiness(slug, opts.Seed+uint64(i)*7919, opts.Items, start, opts.Spacing)
		if opts.NoAPIToken {
			b.apiToken = ""
		}
		s.businesses[slug] = b
	}
	s.ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.URL = "http://" + s.ln.Addr().String()
	s.hs = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go s.hs.Serve(s.ln) //nolint:errcheck // Close ends it
	return s, nil
}

// Close stops serving.
func (s *Sim) Close() { s.hs.Close() }

// IssueTokens creates a token pair for a business, as its owner would in Vandar's dashboard.
func (s *Sim) IssueTokens(business string) (access, refresh string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issueLocked(business)
}

func (s *Sim) issueLocked(business string) (access, refresh string) {
	access, refresh = "acc-"+randomToken(), "ref-"+randomToken()
	s.tokens[access] = simGrant{business: business}
	s.tokens[refresh] = simGrant{business: business, refresh: true}
	return access, refresh
}

func randomToken() string {
	return strconv.FormatUint(rand.Uint64(), 36) + strconv.FormatUint(rand.Uint64(), 36)
}

// Items is the number of items a business has.
func (s *Sim) Items(business string) int { return len(s.businesses[business].ids) }

// LastID is the id of a business's newest item.
func (s *Sim) LastID(business string) string {
	b := s.businesses[business]
	return strconv.FormatInt(b.ids[len(b.ids)-1], 10)
}

// Throttled is how many 429s the rate limit has served.
func (s *Sim) Throttled() int64 { return s.throttled.Load() }

// Requests is how many requests arrived.
func (s *Sim) Requests() int64 { return s.requests.Load() }

// PageCost is how many statement pages were served and the mean time one took to answer.
func (s *Sim) PageCost() (pages int64, mean time.Duration) {
	n := s.pages.Load()
	if n == 0 {
		return 0, 0
	}
	return n, time.Duration(s.pageNanos.Load() / n)
}

// moveHeap orders wallet movements not yet effective by (time, id).
type pendingMove struct{ at, id, net int64 }
type moveHeap []pendingMove

func (h moveHeap) Len() int { return len(h) }
func (h moveHeap) Less(i, j int) bool {
	return h[i].at < h[j].at || h[i].at == h[j].at && h[i].id < h[j].id
}
func (h moveHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *moveHeap) Push(x any)   { *h = append(*h, x.(pendingMove)) }
func (h *moveHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func newSimBusiness(slug string, seed uint64, n int, start time.Time, spacing time.Duration) *simBusiness {
	rng := rand.New(rand.NewPCG(seed, 0x62656e6368))
	b := &simBusiness{slug: slug, seed: seed,
		ids: make([]int64, n), created: make([]int64, n), effective: make([]int64, n),
		amount: make([]int64, n), wage: make([]int64, n), kind: make([]uint8, n), wallet: make([]int64, n),
		apiToken: fmt.Sprintf("%x", rng.Uint64())}
	var pending moveHeap
	var applied int64 // the wallet after every movement effective so far
	step := int64(spacing / time.Second)
	for i := range n {
		at := start.Unix() + int64(i)*step
		b.ids[i], b.created[i] = at*100, at
		// Movements effective by now come before this item in the chain.
		for len(pending) > 0 && pending[0].at <= at {
			applied += heap.Pop(&pending).(pendingMove).net
		}
		if amount := applied / 2 / 10_000 * 10_000; i%100 == 50 && amount >= 10_000 {
			// A settlement of about half the wallet: the money leaves when it is requested.
			wage := min(max(amount/10_000, 240), 2_500)
			b.kind[i], b.amount[i], b.wage[i], b.effective[i] = simSettlement, amount, wage, at
			applied -= amount + wage
			continue
		}
		amount := max(int64(10_000*math.Exp(rng.Float64()*6.2))/1_000*1_000, 1_000) // 10,000 to about 5,000,000
		b.amount[i] = amount
		if rng.IntN(100) >= 15 {
			b.wage[i] = min(amount/100, 10_000)
		}
		b.kind[i] = simIPG
		if rng.IntN(100) < 15 {
			b.kind[i] = simForm
		}
		switch x := rng.IntN(100); {
		case x < 74: // verified within minutes
			b.effective[i] = at + 5 + rng.Int64N(180)
		case x < 80: // a two-step payment verified hours later
			b.effective[i] = at + 600 + rng.Int64N(8*3600)
		default: // abandoned or refused: never moves the wallet
			b.kind[i] = simFailed
			continue
		}
		heap.Push(&pending, pendingMove{at: b.effective[i], id: b.ids[i], net: amount - b.wage[i]})
	}
	// The running balance in chain order.
	chain := make([]int32, 0, n)
	for i := range n {
		if b.effective[i] != 0 {
			chain = append(chain, int32(i))
		}
	}
	sort.Slice(chain, func(x, y int) bool {
		i, j := chain[x], chain[y]
		return b.effective[i] < b.effective[j] || b.effective[i] == b.effective[j] && i < j
	})
	var wallet int64
	for _, i := range chain {
		if b.kind[i] == simSettlement {
			wallet -= b.amount[i] + b.wage[i]
		} else {
			wallet += b.amount[i] - b.wage[i]
		}
		b.wallet[i] = wallet
	}
	return b
}

// ServeHTTP routes a request.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(parts) == 2 && parts[0] == "v3" && parts[1] == "refreshtoken" && r.Method == http.MethodPost:
		if !s.allow(w, r) {
			return
		}
		s.refresh(w, r)
	case len(parts) == 4 && parts[0] == "v3" && parts[1] == "business" && parts[3] == "transaction" &&
		r.Method == http.MethodGet:
		if !s.allow(w, r) {
			return
		}
		begin := time.Now()
		s.statement(w, r, parts[2])
		s.pages.Add(1)
		s.pageNanos.Add(int64(time.Since(begin)))
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"status": 0, "error": "Not Found"})
	}
}

// allow applies the rate limit, per bearer token (per client address without one), POSTs apart.
func (s *Sim) allow(w http.ResponseWriter, r *http.Request) bool {
	if !s.limit {
		return true
	}
	key, limit := "", 100
	if tok, ok := bearer(r); ok {
		key = "token " + tok
	} else {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		key = "addr " + host
	}
	if r.Method == http.MethodPost {
		key, limit = "POST "+key, 30
	}
	s.mu.Lock()
	ok, wait := s.limiter.allow(key, limit, time.Now())
	s.mu.Unlock()
	if ok {
		return true
	}
	s.throttled.Add(1)
	secs := int((wait + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	writeJSON(w, http.StatusTooManyRequests, map[string]any{"status": 0, "error": "Too Many Attempts."})
	return false
}

// slidingLog allows at most limit requests per key in any 3-second window.
type slidingLog struct{ hits map[string][]time.Time }

func (l *slidingLog) allow(key string, limit int, now time.Time) (bool, time.Duration) {
	const window = 3 * time.Second
	if l.hits == nil {
		l.hits = map[string][]time.Time{}
	}
	hs := l.hits[key]
	i := 0
	for i < len(hs) && now.Sub(hs[i]) >= window {
		i++
	}
	hs = hs[i:]
	if len(hs) >= limit {
		l.hits[key] = hs
		return false, hs[0].Add(window).Sub(now)
	}
	l.hits[key] = append(hs, now)
	return true, 0
}

func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	return tok, ok && strings.EqualFold(scheme, "Bearer") && tok != ""
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(body)
}

// refresh rotates a token pair: {"refreshtoken": "..."} as JSON or a form.
func (s *Sim) refresh(w http.ResponseWriter, r *http.Request) {
	var token string
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
		token = r.PostFormValue("refreshtoken")
	} else {
		var body struct {
			RefreshToken string `json:"refreshtoken"`
		}
		raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		_ = json.Unmarshal(raw, &body)
		token = body.RefreshToken
	}
	s.mu.Lock()
	g, ok := s.tokens[token]
	if !ok || !g.refresh {
		s.mu.Unlock()
		writeJSON(w, http.StatusUnauthorized, map[string]any{"status": 0, "error": "Unauthenticated"})
		return
	}
	delete(s.tokens, token)
	access, refresh := s.issueLocked(g.business)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": 432000,
		"access_token": access, "refresh_token": refresh})
}

type simPage struct {
	Status  int        `json:"status"`
	HasMore bool       `json:"has_more"`
	Data    []wireItem `json:"data"`
}

// statement answers one page: the items created within [fromDate, toDate] (Tehran days), in id order, after
// start_after, per_page of them.
func (s *Sim) statement(w http.ResponseWriter, r *http.Request, slug string) {
	tok, _ := bearer(r)
	s.mu.Lock()
	g, ok := s.tokens[tok]
	s.mu.Unlock()
	if !ok || g.refresh {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"status": 0, "error": "Unauthenticated"})
		return
	}
	b := s.businesses[slug]
	if b == nil || g.business != slug {
		writeJSON(w, http.StatusForbidden, map[string]any{"status": 0, "error": "forbidden"})
		return
	}
	q := r.URL.Query()
	perPage := 10
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"status": 0,
				"errors": map[string][]string{"per_page": {"per_page نباید بزرگتر از 100 باشد."}}})
			return
		}
		perPage = n
	}
	lo, hi := 0, len(b.ids)
	if v := q.Get("fromDate"); v != "" {
		from, ok := s.jalaliMidnight(v, 0)
		if !ok {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"status": 0,
				"errors": map[string][]string{"fromDate": {"fromDate باید تاریخ شمسی معتبر با قالب yyyymmdd باشد."}}})
			return
		}
		lo = sort.Search(len(b.created), func(i int) bool { return b.created[i] >= from })
	}
	if v := q.Get("toDate"); v != "" {
		to, ok := s.jalaliMidnight(v, 1)
		if !ok {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"status": 0,
				"errors": map[string][]string{"toDate": {"toDate باید تاریخ شمسی معتبر با قالب yyyymmdd باشد."}}})
			return
		}
		hi = sort.Search(len(b.created), func(i int) bool { return b.created[i] >= to })
	}
	after, _ := strconv.ParseInt(q.Get("start_after"), 10, 64)
	var idx []int
	hasMore := false
	if strings.EqualFold(q.Get("sort"), "ASC") {
		i := lo
		if after != 0 {
			i = max(i, sort.Search(len(b.ids), func(i int) bool { return b.ids[i] > after }))
		}
		for ; i < hi && len(idx) < perPage; i++ {
			idx = append(idx, i)
		}
		hasMore = i < hi
	} else {
		i := hi - 1
		if after != 0 {
			i = min(i, sort.Search(len(b.ids), func(i int) bool { return b.ids[i] >= after })-1)
		}
		for ; i >= lo && len(idx) < perPage; i-- {
			idx = append(idx, i)
		}
		hasMore = i >= lo
	}
	page := simPage{Status: 1, HasMore: hasMore, Data: make([]wireItem, len(idx))}
	for k, i := range idx {
		page.Data[k] = b.render(i, s.loc)
	}
	writeJSON(w, http.StatusOK, page)
}

// jalaliMidnight reads a Jalali yyyymmdd and returns the unix time of that Tehran day's midnight, plus days.
func (s *Sim) jalaliMidnight(v string, plusDays int) (int64, bool) {
	n, err := strconv.Atoi(v)
	if err != nil || len(v) != 8 {
		return 0, false
	}
	y, m, d := n/10000, n/100%100, n%100
	if m < 1 || m > 12 || d < 1 || d > 31 {
		return 0, false
	}
	t := ptime.Date(y, ptime.Month(m), d, 0, 0, 0, 0, s.loc).Time()
	return time.Date(t.Year(), t.Month(), t.Day()+plusDays, 0, 0, 0, 0, s.loc).Unix(), true
}

// wireItem is a statement item as Vandar sends it, the same fields in the same order as vandartest's.
type wireItem struct {
	ID                   int64          `json:"id"`
	UUID                 string         `json:"uuid"`
	TrackID              *string        `json:"track_id"`
	Amount               int64          `json:"amount"`
	Wage                 int64          `json:"wage"`
	Status               int            `json:"status"`
	RefID                *string        `json:"ref_id"`
	TrackingCode         *string        `json:"tracking_code"`
	CardNumber           *string        `json:"card_number"`
	CID                  *string        `json:"cid"`
	Verified             int            `json:"verified"`
	Channel              string         `json:"channel"`
	PaymentDate          *string        `json:"payment_date"`
	PaymentNumber        *int64         `json:"payment_number"`
	CreatedAt            string         `json:"created_at"`
	UpdatedAt            string         `json:"updated_at"`
	EffectiveAtJalali    *string        `json:"effective_at_jalali"`
	EffectiveTimeStamp   *int64         `json:"effective_time_stamp"`
	Wallet               int64          `json:"wallet"`
	Result               *string        `json:"result"`
	Description          *string        `json:"description"`
	FactorNumber         *string        `json:"factorNumber"`
	Mobile               *string        `json:"mobile"`
	CallbackURL          *string        `json:"callback_url"`
	FormID               *int64         `json:"form_id"`
	FormTitle            *string        `json:"form_title"`
	Settlement           *string        `json:"settlement"`
	SettlementPort       *string        `json:"settlement_port"`
	Port                 *string        `json:"port"`
	Comments             []string       `json:"comments"`
	APIToken             *string        `json:"api_token"`
	Logs                 any            `json:"logs"`
	RevisedTransactionID *int64         `json:"revised_transaction_id"`
	Refund               *struct{}      `json:"refund"`
	RefundDetailIDs      []int64        `json:"refund_detail_ids"`
	IsShaparakPort       bool           `json:"is_shaparak_port"`
	IsDeposit            bool           `json:"is_deposit"`
	Payer                wirePayer      `json:"payer"`
	Receiver             wireReceiver   `json:"receiver"`
	ReceiptURL           *string        `json:"receipt_url"`
	TimePrediction       wirePrediction `json:"time_prediction"`
}

type wireLogs struct {
	TransactionID int64  `json:"transaction_id"`
	ResultCode    string `json:"result_code"`
	ResultMessage string `json:"result_message"`
	LogDate       string `json:"log_date"`
	Group         string `json:"group"`
}

type wirePayer struct {
	IP               *string `json:"ip"`
	IBAN             *string `json:"iban"`
	Name             *string `json:"name"`
	Slug             *string `json:"slug"`
	Avatar           *string `json:"avatar"`
	LegalName        *string `json:"legal_name"`
	BusinessOwner    *string `json:"business_owner"`
	Email            *string `json:"email"`
	Phone            *string `json:"phone"`
	Address          *string `json:"address"`
	Mobile           *string `json:"mobile"`
	AdditionalFields any     `json:"additional_fields"`
	Description      *string `json:"description"`
}

type wireReceiver struct {
	Name          *string `json:"name"`
	LegalName     *string `json:"legal_name"`
	Slug          *string `json:"slug"`
	Avatar        *string `json:"avatar"`
	BusinessOwner *string `json:"business_owner"`
	IBAN          *string `json:"iban"`
	BankName      *string `json:"bank_name"`
}

type wirePrediction struct {
	IsAdminCheckStatus              bool    `json:"is_admin_check_status"`
	HasChangeDoneTimePrediction     bool    `json:"has_change_done_time_prediction"`
	IsCancelable                    bool    `json:"is_cancelable"`
	HasChangePortToPaya             bool    `json:"has_change_port_to_paya"`
	SettlementDoneTimePrediction    *string `json:"settlement_done_time_prediction"`
	SettlementCancelableTime        *string `json:"settlement_cancelable_time"`
	IsSettlementPayaReportFinally   *bool   `json:"is_settlement_paya_report_finally"`
	SettlementPayaReportFinallyTime *string `json:"settlement_paya_report_finally_time"`
	IsAfterTimePrediction           *bool   `json:"is_after_time_prediction"`
	IsAfterCancelable               *bool   `json:"is_after_cancelable"`
	P2PTimePrediction               *string `json:"p2p_time_prediction"`
}

func str(s string) *string { return &s }

// render is item i as Vandar reports it once everything about it has happened. The descriptive fields are
// drawn from the item's id, so a page renders the same way every time it is asked for.
func (b *simBusiness) render(i int, loc *time.Location) wireItem {
	rng := rand.New(rand.NewPCG(b.seed, uint64(b.ids[i])))
	created := time.Unix(b.created[i], 0)
	w := wireItem{
		ID: b.ids[i], UUID: simUUID(rng), Amount: b.amount[i], Wage: b.wage[i],
		CreatedAt: stamp(created, loc), UpdatedAt: stamp(created, loc),
		Comments: []string{}, Logs: []any{}, RefundDetailIDs: []int64{},
	}
	if eff := b.effective[i]; eff != 0 {
		t := time.Unix(eff, 0)
		js := stamp(t, loc)
		w.EffectiveAtJalali, w.EffectiveTimeStamp, w.Wallet = &js, &eff, b.wallet[i]
		w.UpdatedAt = js
	}
	switch b.kind[i] {
	case simIPG, simForm, simFailed:
		w.IsDeposit, w.IsShaparakPort = true, true
		w.Channel = "پرداخت اینترنتی"
		w.CardNumber = str("603799******" + digits(rng, 4))
		w.CID = str(randomString(rng, 64, "0123456789abcdef"))
		w.Port = str([]string{"SAMAN", "BEHPARDAKHT"}[rng.IntN(2)])
		if b.apiToken != "" {
			w.APIToken = str(b.apiToken)
		}
		w.Payer.IP = str(fmt.Sprintf("%d.%d.%d.%d", 5+rng.IntN(180), rng.IntN(256), rng.IntN(256), 1+rng.IntN(254)))
		if rng.IntN(2) == 0 {
			w.Mobile = str("09" + digits(rng, 9))
			w.Payer.Mobile = w.Mobile
		}
		if b.kind[i] == simForm {
			w.Channel = "فرم دریافت پول"
			w.FormID, w.FormTitle = &[]int64{1201}[0], str("فرم پرداخت شهریه")
			w.Payer.Name, w.Payer.Email = str("زهرا رضایی"), str(fmt.Sprintf("customer%d@example.com", rng.IntN(100000)))
			w.Description = str("پرداخت از فرم پرداخت شهریه")
		} else {
			order := b.ids[i] % 10_000_000
			w.FactorNumber = str(strconv.FormatInt(order, 10))
			w.Description = str(fmt.Sprintf("خرید به شماره سفارش : %d", order))
			w.CallbackURL = str(fmt.Sprintf("https://%s.ir/checkout/vandar/callback?order=%d", b.slug, order))
		}
		w.Payer.Description = w.Description
		if b.kind[i] == simFailed {
			w.Status = -1
			w.Logs = wireLogs{TransactionID: b.ids[i], ResultCode: "-2", ResultMessage: "کاربر صفحه پرداخت را ترک کرده است.",
				LogDate: logDate(created.Add(90*time.Second), loc), Group: "خطای کاربر"}
		} else {
			w.Status, w.Verified = 1, 1
			w.RefID, w.TrackingCode = str(digits(rng, 12)), str(digits(rng, 6))
			w.PaymentDate = w.EffectiveAtJalali
			w.Result = str("تراکنش با موفقیت انجام شد.")
		}
	case simSettlement:
		w.Status, w.Channel = 2, "تسویه حساب"
		w.TrackID = str(simUUID(rng))
		w.RefID, w.TrackingCode = str(digits(rng, 12)), str(digits(rng, 8))
		w.Description = str("تسویه حساب وندار")
		w.Receiver = wireReceiver{Name: str("شرکت نوآوران"), IBAN: str("IR0" + digits(rng, 23)), BankName: str("بانک ملت")}
		w.PaymentDate = str(stamp(created.Add(3*time.Hour), loc))
		w.ReceiptURL = str("https://vand.ar/" + randomString(rng, 5, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"))
		done, cancel := predictionTime(created.Add(3*time.Hour), loc), predictionTime(created.Add(2*time.Hour), loc)
		yes, no := true, false
		w.TimePrediction = wirePrediction{SettlementDoneTimePrediction: &done, SettlementCancelableTime: &cancel,
			IsSettlementPayaReportFinally: &yes, IsAfterTimePrediction: &no, IsAfterCancelable: &yes}
	}
	return w
}

func stamp(t time.Time, loc *time.Location) string {
	p := ptime.New(t.In(loc))
	return fmt.Sprintf("%02d:%02d:%02d - %d/%d/%d", p.Hour(), p.Minute(), p.Second(), p.Year(), int(p.Month()), p.Day())
}

func logDate(t time.Time, loc *time.Location) string {
	p := ptime.New(t.In(loc))
	return fmt.Sprintf("%04d-%02d-%02d %02d:%02d:%02d", p.Year(), int(p.Month()), p.Day(), p.Hour(), p.Minute(), p.Second())
}

func predictionTime(t time.Time, loc *time.Location) string {
	p := ptime.New(t.In(loc))
	return fmt.Sprintf("%04d/%02d/%02d %02d:%02d:%02d", p.Year(), int(p.Month()), p.Day(), p.Hour(), p.Minute(), p.Second())
}

func digits(rng *rand.Rand, n int) string { return randomString(rng, n, "0123456789") }

func randomString(rng *rand.Rand, n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}

func simUUID(rng *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(rng.IntN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// slugs returns n business slugs: prefix01, prefix02, …
func slugs(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%02d", prefix, i+1)
	}
	return slices.Clip(out)
}
