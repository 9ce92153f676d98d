package yabandpaytest

import (
	"bytes"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/mizanhq/mizan/internal/sources/simfault"
)

// envelope is every answer: {"status":true,"code":"200","data":{...},"message":""}. A refusal carries
// "data": [] — the shape the PHP SDK's empty array encodes to (facts.md 1.6 infers it; no failure example is
// documented).
type envelope struct {
	Status  bool   `json:"status"`
	Code    any    `json:"code"`
	Data    any    `json:"data"`
	Message string `json:"message"`
}

func failure(code, message string) envelope {
	return envelope{Status: false, Code: code, Data: []any{}, Message: message}
}

// balanceData is the getBalance answer's data, fields in the documents' order.
type balanceData struct {
	User        string `json:"user"`
	Time        int64  `json:"time"` // the request's time, echoed as the documents' example does
	GatewayName string `json:"gateway_name"`
	WalletID    string `json:"wallet_id"`
	Currency    string `json:"currency"`
	Available   string `json:"available"`
	Reserve     string `json:"reserve"`
	Usable      string `json:"usable"`
	Deposit     string `json:"deposit"`
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	w.WriteHeader(status)
	_ = enc.Encode(body)
}

// maxRequestBytes bounds a request body; a balance request is about 250 bytes.
const maxRequestBytes = 64 << 10

// ServeHTTP answers one request: count it, let an armed fault have it, enforce the rate limit, then serve
// POST /Payments. Faults come first because they stand for what is in front of YabandPay.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The body is read before anything else: net/http notices a client that hangs up only once the body has
	// been read, and a slow fault must end when the client gives up, as it would at YabandPay.
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	if err != nil {
		return // the client went away
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	s.mu.Lock()
	s.requests++
	f, faulty := s.faults.Take(nil)
	s.mu.Unlock()
	if faulty {
		simfault.Serve(w, r, f, s.serve, voice)
		return
	}
	s.serve(w, r)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if s.rateLimit > 0 {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		s.mu.Lock()
		ok, wait := s.limiter.Allow(host, s.rateLimit, s.rateWindow, s.wall())
		if !ok {
			s.throttled++
		}
		s.mu.Unlock()
		if !ok {
			tooMany(w, wait)
			return
		}
	}
	switch {
	case r.URL.Path != "/Payments":
		writeJSON(w, http.StatusNotFound, failure("404", "Not Found"))
		return
	case r.Method != http.MethodPost:
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, failure("405", "Method Not Allowed"))
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	if err != nil {
		return // the client went away
	}
	if len(raw) > maxRequestBytes {
		writeJSON(w, http.StatusRequestEntityTooLarge, failure("413", "Request Entity Too Large"))
		return
	}
	answer := s.payments(raw)
	s.mu.Lock()
	sh := s.shapes
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, shaped(answer, sh))
}

// request is a /Payments request as read, before it is believed.
type request struct {
	user, sign, method string
	time               json.Number       // as sent: digits, or a string of them
	secs               int64             // time, read
	params             map[string]string // what the signature covers
}

// payments answers a /Payments body. Checks run in an order that gives nothing away to an unsigned caller:
// the request's shape, the account, the signature; then the request's freshness, and only then what it asks.
func (s *Server) payments(raw []byte) envelope {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.nowLocked()
	req, err := parse(raw)
	if err != nil {
		return s.refuse(RefusedBadRequest, err.Error())
	}
	m, operator := s.merchants[req.user], false
	if m == nil {
		m, operator = s.operators[req.user], true
	}
	if m == nil {
		return s.refuse(RefusedUnknownUser, "user does not exist")
	}
	if !hmac.Equal([]byte(req.sign), []byte(sign(req.params, m.opts.SecretKey))) {
		return s.refuse(RefusedBadSign, "sign error: the signature does not match the parameters")
	}
	if req.secs, err = strconv.ParseInt(req.time.String(), 10, 64); err != nil {
		return s.refuse(RefusedBadRequest, "time must be a unix timestamp in seconds")
	}
	if skew := now.Sub(time.Unix(req.secs, 0)); skew > s.maxSkew || skew < -s.maxSkew {
		return s.refuse(RefusedStaleTime, fmt.Sprintf("request expired: time %d is more than %s from the server's "+
			"clock (unix seconds expected)", req.secs, s.maxSkew))
	}
	if req.method != "v3.MerchantBalance" {
		return s.refuse(RefusedUnknownMethod, fmt.Sprintf("method %q does not exist", req.method))
	}
	if operator {
		return s.refuse(RefusedNoPermission, "no permission: only the merchant super admin account may call this API")
	}
	return s.getBalance(req, m, now)
}

// getBalance serves v3.MerchantBalance for a verified super-admin request.
func (s *Server) getBalance(req request, m *merchant, now time.Time) envelope {
	// Older crawls of the documents spell the key `commond` (facts.md 1.7); both spellings are accepted. Only
	// what was sent is signed, so either verifies.
	command, ok := req.params["command"]
	if alt, has := req.params["commond"]; has {
		if ok && alt != command {
			return s.refuse(RefusedBadRequest, "command and commond disagree")
		}
		command, ok = alt, true
	}
	switch {
	case !ok:
		return s.refuse(RefusedBadRequest, "data.command is required")
	case command != "getBalance":
		return s.refuse(RefusedUnknownCommand, fmt.Sprintf("command %q does not exist for v3.MerchantBalance", command))
	}
	nonce, ok := req.params["nonce_string"]
	if !ok || nonce == "" || utf8.RuneCountInString(nonce) > 32 {
		return s.refuse(RefusedBadRequest, "data.nonce_string is required: a random string of at most 32 characters")
	}
	// A nonce is remembered for as long as its request could still be fresh; a request that replays one is
	// refused. YabandPay does not document replay protection; it is what a nonce is for, and it makes sure a
	// client signs every attempt anew.
	key := req.user + "\x00" + nonce
	if _, seen := s.nonces[key]; seen {
		return s.refuse(RefusedReplayedNonce, "nonce_string has already been used")
	}
	s.remember(key, now)
	currency, ok := req.params["currency"]
	if !ok {
		return s.refuse(RefusedBadRequest, "data.currency is required")
	}
	w := m.wallets[currency]
	if w == nil {
		return s.refuse(RefusedUnsupportedCurrency, fmt.Sprintf("currency %q is not supported for this merchant", currency))
	}
	f := w.at(now)
	return s.success(balanceData{
		User: m.opts.User, Time: req.secs, GatewayName: "YabandPay", WalletID: m.opts.WalletID, Currency: currency,
		Available: f.Available.StringFixed(2), Reserve: f.Reserve.StringFixed(2), Usable: f.Usable.StringFixed(2),
		Deposit: f.Deposit.StringFixed(2),
	})
}

// remember records a nonce and forgets those too old to matter: a replay of one is stale anyway.
func (s *Server) remember(key string, now time.Time) {
	if len(s.nonces) >= 4096 {
		for k, t := range s.nonces {
			if now.Sub(t) > 2*s.maxSkew || t.Sub(now) > 2*s.maxSkew {
				delete(s.nonces, k)
			}
		}
	}
	s.nonces[key] = now
}

func (s *Server) success(data any) envelope {
	var code any = "200"
	if s.numericCode {
		code = 200
	}
	return envelope{Status: true, Code: code, Data: data}
}

func (s *Server) refuse(r Refusal, message string) envelope {
	s.refused[r]++
	var code any = r.Code()
	if s.numericCode {
		code, _ = strconv.Atoi(r.Code())
	}
	return envelope{Status: false, Code: code, Data: []any{}, Message: message}
}

// parse reads a body generically — numbers kept as the text sent — and checks the envelope's shape.
func parse(raw []byte) (request, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return request{}, fmt.Errorf("body is not JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return request{}, fmt.Errorf("body has more than one JSON value")
	}
	body, ok := v.(map[string]any)
	if !ok {
		return request{}, fmt.Errorf("body is not a JSON object")
	}
	var req request
	for _, f := range []struct {
		name string
		dst  *string
	}{{"user", &req.user}, {"sign", &req.sign}, {"method", &req.method}} {
		s, ok := body[f.name].(string)
		if !ok || s == "" {
			return request{}, fmt.Errorf("%s is required and must be a string", f.name)
		}
		*f.dst = s
	}
	// time is documented as a Long; a string of digits is accepted too, and signed as sent either way.
	switch t := body["time"].(type) {
	case json.Number:
		req.time = t
	case string:
		req.time = json.Number(t)
	default:
		return request{}, fmt.Errorf("time is required: a unix timestamp in seconds")
	}
	if _, ok := body["data"].(map[string]any); !ok {
		return request{}, fmt.Errorf("data is required and must be an object")
	}
	params, err := flatten(body)
	if err != nil {
		return request{}, err
	}
	req.params = params
	return req, nil
}
