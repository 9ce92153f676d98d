package vandartest

import (
	"cmp"
	"encoding/json"
	"io"
	"mime"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Bodies. Vandar's bodies carry "status": 1 on success and 0 on failure; a 401 is
// {"status":0,"error":"Unauthenticated"} and a validation failure (422) {"status":0,"errors":{field:[…]}}.
// The documents show no body for 403, 404, 405, 429 or 5xx; the simulator uses the 401 shape for them all.
type errorBody struct {
	Status int    `json:"status"`
	Error  string `json:"error"`
}

type validationBody struct {
	Status int                 `json:"status"`
	Errors map[string][]string `json:"errors"`
}

type tokenBody struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

type listBody struct {
	Status  int        `json:"status"`
	HasMore bool       `json:"has_more"`
	Data    []wireItem `json:"data"`
}

type balanceBody struct {
	Status int         `json:"status"`
	Data   balanceData `json:"data"`
}

type balanceData struct {
	Wallet   int64  `json:"wallet"`
	Currency string `json:"currency"`
	// The vandarpy fixture's two extra figures. The simulator has no payment facilitator: all of the wallet
	// is the business's own.
	WalletWithoutPF int64 `json:"wallet_without_payment_facilitator_wallet"`
	PFWallet        int64 `json:"payment_facilitator_wallet"`
}

const unauthenticated = "Unauthenticated"

// reply is an answer computed under the Server's lock and written after it is released.
type reply struct {
	status int
	body   any
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	w.WriteHeader(status)
	_ = enc.Encode(body)
}

// route names the endpoint of a request, the business in its path and the resource id after it, if any.
// Trailing slashes are ignored, as Laravel does. The method only tells apart endpoints that share a path.
func route(method, path string) (ep Endpoint, slug, id string) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) == 2 && parts[0] == "v3" && parts[1] == "refreshtoken":
		return EndpointRefreshToken, "", ""
	case len(parts) == 4 && parts[0] == "v3" && parts[1] == "business" && parts[3] == "transaction":
		return EndpointTransactions, parts[2], ""
	case len(parts) == 4 && parts[0] == "v2" && parts[1] == "business" && parts[3] == "balance":
		return EndpointBalance, parts[2], ""
	}
	return routePayouts(method, parts)
}

// ServeHTTP answers one request: count it, let an armed fault have it, enforce the rate limit, then serve
// the endpoint. Faults come first because they stand for what is in front of Vandar (proxies, CDN, network).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ep, slug, id := route(r.Method, r.URL.Path)
	s.mu.Lock()
	s.requests[ep]++
	f, faulty := s.faults.Take(func(f Fault) bool { return f.hits(ep) })
	s.mu.Unlock()
	serve := func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, ep, slug, id) }
	if faulty {
		serveFault(w, r, f, serve)
		return
	}
	serve(w, r)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, ep Endpoint, slug, id string) {
	if s.rateLimit {
		if ok, wait := s.allow(r); !ok {
			tooMany(w, wait)
			return
		}
	}
	method := ep.method()
	if ep != EndpointOther && r.Method != method {
		w.Header().Set("Allow", method)
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: "Method Not Allowed"})
		return
	}
	var rep reply
	switch ep {
	case EndpointRefreshToken:
		rep = s.refresh(r)
		if raw, ok := rep.body.(rawAnswer); ok {
			if raw == nil {
				panic(http.ErrAbortHandler) // the server drops the connection without answering
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(rep.status)
			_, _ = w.Write(raw)
			return
		}
	case EndpointTransactions:
		begin := time.Now() // the real clock, whatever Options.Now and Wall say: this times the simulator
		defer func() {
			took := time.Since(begin)
			s.mu.Lock()
			s.pages++
			s.pageTime += took
			s.mu.Unlock()
		}()
		rep = s.transactions(r, slug)
	case EndpointBalance:
		rep = s.balance(r, slug)
	case EndpointOther:
		rep = reply{http.StatusNotFound, errorBody{Error: "Not Found"}}
	default:
		rep = s.servePayouts(r, ep, slug, id)
	}
	if sh := s.currentShapes(); sh != 0 && rep.status >= 200 && rep.status < 300 {
		if body, err := reshape(rep.body, ep, sh, s.loc); err == nil {
			rep.body = body
		}
	}
	writeJSON(w, rep.status, rep.body)
}

// allow applies the rate limit: per bearer token, or per client address for requests without one (the
// refresh call), POSTs and other methods counted apart.
func (s *Server) allow(r *http.Request) (bool, time.Duration) {
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
	defer s.mu.Unlock()
	ok, wait := s.limiter.Allow(key, limit, rateWindow, s.wall())
	if !ok {
		s.throttled++
	}
	return ok, wait
}

func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", false
	}
	return tok, true
}

// refresh exchanges a refresh token for a new pair. The documents send JSON {"refreshtoken": "..."}; Vandar
// also accepts form-encoded requests (and the official Laravel package sends form params), so both work.
func (s *Server) refresh(r *http.Request) reply {
	var token string
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/x-www-form-urlencoded", "multipart/form-data":
		token = r.PostFormValue("refreshtoken")
	default:
		var body struct {
			RefreshToken string `json:"refreshtoken"`
		}
		raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		if len(strings.TrimSpace(string(raw))) > 0 {
			if err := json.Unmarshal(raw, &body); err != nil {
				return reply{http.StatusBadRequest, errorBody{Error: "Bad Request"}}
			}
		}
		token = body.RefreshToken
	}
	if token == "" {
		return reply{http.StatusUnprocessableEntity, validationBody{Errors: map[string][]string{
			"refreshtoken": {"وارد کردن refreshtoken الزامی است."}}}}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.tokens.rotate(token, s.nowLocked(), s.accessTTL, s.refreshTTL)
	if g == nil {
		return reply{http.StatusUnauthorized, errorBody{Error: unauthenticated}}
	}
	answer := tokenBody{TokenType: "Bearer", ExpiresIn: int(s.accessTTL / time.Second), AccessToken: g.access,
		RefreshToken: g.refresh}
	if s.refreshAnswer != nil {
		b, _ := json.Marshal(answer)
		return reply{http.StatusOK, rawAnswer(s.refreshAnswer(b))}
	}
	return reply{http.StatusOK, answer}
}

// rawAnswer is a body written as it is, JSON or not; nil drops the connection unanswered.
type rawAnswer []byte

// authorize checks, in Laravel's order, the token (401), the business (404) and the token's right to it
// (403). It must be called with s.mu held.
func (s *Server) authorize(r *http.Request, slug string) (*business, *reply) {
	tok, _ := bearer(r)
	g := s.tokens.check(tok, s.nowLocked())
	if g == nil {
		return nil, &reply{http.StatusUnauthorized, errorBody{Error: unauthenticated}}
	}
	b := s.businesses[slug]
	if b == nil {
		return nil, &reply{http.StatusNotFound, errorBody{Error: "کسب و کار مورد نظر یافت نشد."}}
	}
	if g.business != slug {
		return nil, &reply{http.StatusForbidden, errorBody{Error: "شما به این کسب و کار دسترسی ندارید."}}
	}
	return b, nil
}

func (s *Server) balance(r *http.Request, slug string) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, fail := s.authorize(r, slug)
	if fail != nil {
		return *fail
	}
	w := b.walletAt(s.nowLocked()) + b.drift
	return reply{http.StatusOK, balanceBody{Status: 1, Data: balanceData{Wallet: w, Currency: "Toman",
		WalletWithoutPF: w}}}
}

// listQuery is the statement's query string, checked.
type listQuery struct {
	perPage      int
	asc          bool
	startAfter   int64 // 0: from the start
	from, to     int   // Jalali yyyymmdd, 0: open
	status       string
	statusKind   string
	channel      string
	id           int64
	trackID      string
	refID        string
	trackingCode string
	factorNumber string
}

// parseListQuery validates like Laravel does, collecting every field's errors (in Persian, as Vandar
// answers). Parameters it does not know (q, formId, …) are ignored.
func parseListQuery(r *http.Request, loc *time.Location) (listQuery, map[string][]string) {
	v := r.URL.Query()
	q := listQuery{perPage: 10}
	errs := map[string][]string{}
	bad := func(field, msg string) { errs[field] = append(errs[field], msg) }
	integer := func(field string) (int64, bool) {
		raw := v.Get(field)
		if raw == "" {
			return 0, false
		}
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			bad(field, field+" باید عدد صحیح باشد.")
			return 0, false
		}
		return n, true
	}
	oneOf := func(field string, allowed ...string) string {
		raw := v.Get(field)
		if raw != "" && !slices.Contains(allowed, raw) {
			bad(field, field+" انتخاب شده، معتبر نیست.")
			return ""
		}
		return raw
	}
	if n, ok := integer("per_page"); ok {
		switch {
		case n > 100:
			bad("per_page", "per_page نباید بزرگتر از 100 باشد.")
		case n < 1:
			bad("per_page", "per_page نباید کمتر از 1 باشد.")
		default:
			q.perPage = int(n)
		}
	}
	switch strings.ToUpper(v.Get("sort")) {
	case "", "DESC":
	case "ASC":
		q.asc = true
	default:
		bad("sort", "sort انتخاب شده، معتبر نیست.")
	}
	q.startAfter, _ = integer("start_after")
	q.id, _ = integer("id")
	for field, dst := range map[string]*int{"fromDate": &q.from, "toDate": &q.to} {
		if raw := v.Get(field); raw != "" {
			if d, ok := parseJalaliDay(raw, loc); ok {
				*dst = d
			} else {
				bad(field, field+" باید تاریخ شمسی معتبر با قالب yyyymmdd باشد.")
			}
		}
	}
	q.status = oneOf("status", "succeed", "failed", "pending", "canceled")
	q.statusKind = oneOf("statusKind", "transactions", "settlements")
	if c := v.Get("channel"); c != "" && !knownChannel(c) {
		bad("channel", "channel انتخاب شده، معتبر نیست.")
	} else {
		q.channel = c
	}
	q.trackID, q.refID, q.trackingCode = v.Get("track_id"), v.Get("ref_id"), v.Get("tracking_code")
	q.factorNumber = cmp.Or(v.Get("factorNumber"), v.Get("factor_number"))
	return q, errs
}

// matches applies the filters to r's state at now.
func (q listQuery) matches(r *record, now time.Time) bool {
	switch {
	case q.from != 0 && r.day < q.from, q.to != 0 && r.day > q.to:
		return false
	case q.status != "" && statusFilter(r.statusAt(now)) != q.status:
		return false
	case q.statusKind == "settlements" && !r.info.settlementSide, q.statusKind == "transactions" && r.info.settlementSide:
		return false
	case q.channel != "" && !slices.Contains(r.info.codes, q.channel):
		return false
	case q.id != 0 && r.id != q.id, q.trackID != "" && r.trackID != q.trackID:
		return false
	case q.refID != "" && r.det.refID != q.refID, q.trackingCode != "" && r.det.trackingCode != q.trackingCode:
		return false
	case q.factorNumber != "" && r.det.factorNumber != q.factorNumber:
		return false
	}
	return true
}

// transactions is the statement: the items that exist now, filtered, in id order (ASC or the default DESC),
// after start_after in that order, per_page at a time; has_more says whether another page follows.
func (s *Server) transactions(r *http.Request, slug string) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, fail := s.authorize(r, slug)
	if fail != nil {
		return *fail
	}
	q, errs := parseListQuery(r, s.loc)
	if len(errs) > 0 {
		return reply{http.StatusUnprocessableEntity, validationBody{Errors: errs}}
	}
	now := s.nowLocked()
	// The page is found, not filtered out of the whole history: records are sorted by id, and ids, creation
	// times and so the Tehran days (fromDate, toDate) and existence (created_at <= now) all grow together, so
	// binary searches bound the records the page can come from and start_after says where in them it starts.
	// From there the walk takes records in the page's order until it has one more than the page holds (for
	// has_more), checking each as before; without the other filters that is per_page + 1 records, whatever
	// the length of the history.
	recs := b.records
	lo, hi := 0, len(recs)
	if q.from != 0 {
		lo = sort.Search(len(recs), func(i int) bool { return recs[i].day >= q.from })
	}
	if q.to != 0 {
		hi = sort.Search(len(recs), func(i int) bool { return recs[i].day > q.to })
	}
	// No record created in a later second than now's exists yet; those of now's second are checked one by one.
	hi = min(hi, sort.Search(len(recs), func(i int) bool { return recs[i].id/100 > now.Unix() }))
	var out []*record
	take := func(rec *record) bool {
		if visible(rec, now) && !rec.hidden && q.matches(rec, now) {
			out = append(out, rec)
			if rec.duplicated {
				out = append(out, rec)
			}
		}
		return len(out) <= q.perPage
	}
	if q.asc {
		i := lo
		if q.startAfter != 0 {
			i = max(i, sort.Search(len(recs), func(i int) bool { return recs[i].id > q.startAfter }))
		}
		for ; i < hi && take(recs[i]); i++ {
		}
	} else {
		i := hi - 1
		if q.startAfter != 0 {
			i = min(i, sort.Search(len(recs), func(i int) bool { return recs[i].id >= q.startAfter })-1)
		}
		for ; i >= lo && take(recs[i]); i-- {
		}
	}
	hasMore := len(out) > q.perPage
	out = out[:min(len(out), q.perPage)]
	data := make([]wireItem, len(out))
	for i, rec := range out {
		data[i] = rec.wire(now, b.walletAfter[rec.id], s.loc)
	}
	return reply{http.StatusOK, listBody{Status: 1, HasMore: hasMore, Data: data}}
}
