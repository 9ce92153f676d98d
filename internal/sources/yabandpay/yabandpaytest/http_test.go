package yabandpaytest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/sources/yabandpay"
	"github.com/mizanhq/mizan/internal/sources/yabandpay/yabandpaytest"
)

const (
	user     = "036870"
	operator = "036871"
	secret   = "sim-test-secret-7d3e9b1a"
)

var testNow = time.Date(2024, 2, 20, 9, 43, 28, 0, time.UTC)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// setup serves one quiet merchant with the documents' example figures in EUR, at testNow.
func setup(t *testing.T, opts yabandpaytest.Options) *yabandpaytest.Server {
	t.Helper()
	if len(opts.Merchants) == 0 {
		example := yabandpaytest.Figures{Available: dec("9999788.98"), Reserve: dec("200.00"), Deposit: dec("20.00")}
		opts.Merchants = []yabandpaytest.MerchantOptions{{User: user, SecretKey: secret, Operators: []string{operator},
			WalletID: "WA156227511825", Quiet: true,
			Currencies: []yabandpaytest.CurrencyOptions{{Currency: "EUR", Opening: &example}, {Currency: "CHF"}}}}
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return testNow }
	}
	s, err := yabandpaytest.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// req is a request under construction: the envelope without sign, and data.
type req struct {
	User   string
	Method string
	Time   any // a number or a string, sent as given
	Data   map[string]any
	Key    string // the key to sign with
	Sign   string // overrides the signature when set
	Edit   func(body map[string]any)
}

// balanceReq is a correct getBalance request from the super-admin.
func balanceReq(currency, nonce string) req {
	return req{User: user, Method: "v3.MerchantBalance", Time: testNow.Unix(), Key: secret,
		Data: map[string]any{"command": "getBalance", "currency": currency, "nonce_string": nonce}}
}

// body signs r with the client's Sign — the simulator's signer is its own, so each checks the other.
func (r req) body(t *testing.T) []byte {
	t.Helper()
	params := map[string]string{"user": r.User, "method": r.Method, "time": fmt.Sprint(r.Time)}
	for k, v := range r.Data {
		params[k] = fmt.Sprint(v)
	}
	body := map[string]any{"user": r.User, "sign": yabandpay.Sign(params, r.Key), "method": r.Method, "time": r.Time,
		"data": r.Data}
	if r.Sign != "" {
		body["sign"] = r.Sign
	}
	if r.Edit != nil {
		r.Edit(body)
	}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type answer struct {
	status int
	header http.Header
	raw    []byte
	env    struct {
		Status  bool            `json:"status"`
		Code    json.RawMessage `json:"code"`
		Data    json.RawMessage `json:"data"`
		Message string          `json:"message"`
	}
}

func send(t *testing.T, s *yabandpaytest.Server, method, path string, body []byte) answer {
	t.Helper()
	r, err := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header}
	if a.raw, err = io.ReadAll(resp.Body); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(a.raw, &a.env); err != nil {
		t.Fatalf("answer is not the envelope: %v: %s", err, a.raw)
	}
	return a
}

func post(t *testing.T, s *yabandpaytest.Server, body []byte) answer {
	t.Helper()
	return send(t, s, http.MethodPost, "/Payments", body)
}

func TestBalanceAnswer(t *testing.T) {
	t.Parallel()
	s := setup(t, yabandpaytest.Options{})
	a := post(t, s, balanceReq("EUR", "tw5be5b7sry5prm96s").body(t))
	// The documents' example answer, but for usable, which follows the documents' text (available − reserve)
	// unless MerchantOptions.UsableAddsReserve says otherwise.
	want := `{"status":true,"code":"200","data":{"user":"036870","time":1708422208,"gateway_name":"YabandPay",` +
		`"wallet_id":"WA156227511825","currency":"EUR","available":"9999788.98","reserve":"200.00",` +
		`"usable":"9999588.98","deposit":"20.00"},"message":""}`
	if a.status != 200 || strings.TrimSpace(string(a.raw)) != want {
		t.Errorf("answer %d\n%s\nwant\n%s", a.status, a.raw, want)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestAcceptedSpellings(t *testing.T) {
	t.Parallel()
	s := setup(t, yabandpaytest.Options{NumericCode: true})
	for name, r := range map[string]req{
		"commond, the older spelling of command": func() req {
			r := balanceReq("CHF", "n1")
			r.Data["commond"] = r.Data["command"]
			delete(r.Data, "command")
			return r
		}(),
		"both spellings, agreeing": func() req { r := balanceReq("CHF", "n2"); r.Data["commond"] = "getBalance"; return r }(),
		"time as a string of digits": func() req {
			r := balanceReq("CHF", "n3")
			r.Time = strconv.FormatInt(testNow.Unix(), 10)
			return r
		}(),
		"time four minutes behind": func() req { r := balanceReq("CHF", "n4"); r.Time = testNow.Unix() - 240; return r }(),
		"a nonce of 32 characters": balanceReq("CHF", strings.Repeat("é", 32)),
		"an extra envelope member, signed": func() req {
			r := balanceReq("CHF", "n5")
			r.Edit = func(body map[string]any) {
				body["lang"] = "en"
				params := map[string]string{"user": user, "method": "v3.MerchantBalance", "lang": "en",
					"time": fmt.Sprint(r.Time), "command": "getBalance", "currency": "CHF", "nonce_string": "n5"}
				body["sign"] = yabandpay.Sign(params, secret)
			}
			return r
		}(),
	} {
		a := post(t, s, r.body(t))
		if !a.env.Status || string(a.env.Code) != "200" {
			t.Errorf("%s: %s", name, a.raw)
		}
	}
}

// Every refusal is {"status":false,"code":"<non-200>","data":[],"message":"..."} over HTTP 200, and is
// counted by reason.
func TestRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		body    func(t *testing.T) []byte
		refusal yabandpaytest.Refusal
		message string
	}{
		{"not JSON", raw("user=036870&sign=x"), yabandpaytest.RefusedBadRequest, "body is not JSON"},
		{"a JSON array", raw(`[{"user":"036870"}]`), yabandpaytest.RefusedBadRequest, "not a JSON object"},
		{"two JSON values", func(t *testing.T) []byte {
			return append(balanceReq("EUR", "n").body(t), []byte(` {}`)...)
		}, yabandpaytest.RefusedBadRequest, "more than one JSON value"},
		{"no sign", edit(balanceReq("EUR", "n"), func(b map[string]any) { delete(b, "sign") }),
			yabandpaytest.RefusedBadRequest, "sign is required"},
		{"no time", edit(balanceReq("EUR", "n"), func(b map[string]any) { delete(b, "time") }),
			yabandpaytest.RefusedBadRequest, "time is required"},
		{"no data", edit(balanceReq("EUR", "n"), func(b map[string]any) { delete(b, "data") }),
			yabandpaytest.RefusedBadRequest, "data is required"},
		{"a boolean in data", withData(balanceReq("EUR", "n"), "demo", true), yabandpaytest.RefusedBadRequest,
			"data.demo must be a string or a number"},
		{"unknown user", reqBody(func(r *req) { r.User = "999999" }), yabandpaytest.RefusedUnknownUser,
			"user does not exist"},
		{"signed with another key", reqBody(func(r *req) { r.Key = "not-the-key" }), yabandpaytest.RefusedBadSign,
			"sign error"},
		{"signature in upper case", func(t *testing.T) []byte {
			r := balanceReq("EUR", "n")
			var b map[string]any
			_ = json.Unmarshal(r.body(t), &b)
			r.Sign = strings.ToUpper(b["sign"].(string))
			return r.body(t)
		}, yabandpaytest.RefusedBadSign, "sign error"},
		{"changed after signing", edit(balanceReq("EUR", "n"), func(b map[string]any) {
			b["data"].(map[string]any)["currency"] = "CHF"
		}), yabandpaytest.RefusedBadSign, "sign error"},
		{"time six minutes old", reqBody(func(r *req) { r.Time = testNow.Unix() - 360 }),
			yabandpaytest.RefusedStaleTime, "request expired"},
		{"time six minutes ahead", reqBody(func(r *req) { r.Time = testNow.Unix() + 360 }),
			yabandpaytest.RefusedStaleTime, "request expired"},
		{"time in milliseconds", reqBody(func(r *req) { r.Time = testNow.UnixMilli() }),
			yabandpaytest.RefusedStaleTime, "unix seconds expected"},
		{"time with a fraction", reqBody(func(r *req) { r.Time = json.Number("1708422208.5") }),
			yabandpaytest.RefusedBadRequest, "unix timestamp in seconds"},
		{"the parameter table's method", reqBody(func(r *req) { r.Method = "v3.CreatePayments" }),
			yabandpaytest.RefusedUnknownMethod, `method "v3.CreatePayments" does not exist`},
		{"an operator account", reqBody(func(r *req) { r.User = operator }), yabandpaytest.RefusedNoPermission,
			"only the merchant super admin"},
		{"an unknown command", reqBody(func(r *req) { r.Data["command"] = "payout" }),
			yabandpaytest.RefusedUnknownCommand, `command "payout" does not exist`},
		{"no command", reqBody(func(r *req) { delete(r.Data, "command") }), yabandpaytest.RefusedBadRequest,
			"data.command is required"},
		{"command and commond disagree", reqBody(func(r *req) { r.Data["commond"] = "getBalances" }),
			yabandpaytest.RefusedBadRequest, "disagree"},
		{"no nonce", reqBody(func(r *req) { delete(r.Data, "nonce_string") }), yabandpaytest.RefusedBadRequest,
			"nonce_string is required"},
		{"a nonce of 33 characters", reqBody(func(r *req) { r.Data["nonce_string"] = strings.Repeat("n", 33) }),
			yabandpaytest.RefusedBadRequest, "at most 32 characters"},
		{"no currency", reqBody(func(r *req) { delete(r.Data, "currency") }), yabandpaytest.RefusedBadRequest,
			"data.currency is required"},
		{"a currency without a wallet", reqBody(func(r *req) { r.Data["currency"] = "USD" }),
			yabandpaytest.RefusedUnsupportedCurrency, `currency "USD" is not supported`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := setup(t, yabandpaytest.Options{})
			a := post(t, s, tc.body(t))
			if a.status != 200 || a.env.Status || string(a.env.Code) != `"`+tc.refusal.Code()+`"` ||
				string(a.env.Data) != "[]" || !strings.Contains(a.env.Message, tc.message) {
				t.Errorf("answer %d %s; want status false, code %s, data [] and a message with %q", a.status, a.raw,
					tc.refusal.Code(), tc.message)
			}
			if n := s.Refused(tc.refusal); n != 1 {
				t.Errorf("Refused(%q) = %d, want 1", tc.refusal, n)
			}
		})
	}
}

func raw(s string) func(*testing.T) []byte { return func(*testing.T) []byte { return []byte(s) } }

func reqBody(change func(*req)) func(*testing.T) []byte {
	return func(t *testing.T) []byte {
		r := balanceReq("EUR", "nonce-1")
		change(&r)
		return r.body(t)
	}
}

func edit(r req, change func(map[string]any)) func(*testing.T) []byte {
	return func(t *testing.T) []byte { r.Edit = change; return r.body(t) }
}

func withData(r req, k string, v any) func(*testing.T) []byte {
	return func(t *testing.T) []byte {
		r.Edit = func(b map[string]any) { b["data"].(map[string]any)[k] = v }
		return r.body(t)
	}
}

// A nonce is good once: the same request sent twice is a replay.
func TestReplayedNonce(t *testing.T) {
	t.Parallel()
	s := setup(t, yabandpaytest.Options{})
	body := balanceReq("EUR", "once").body(t)
	if a := post(t, s, body); !a.env.Status {
		t.Fatalf("first: %s", a.raw)
	}
	if a := post(t, s, body); a.env.Status || string(a.env.Code) != `"409"` {
		t.Errorf("replay: %s", a.raw)
	}
	if n := s.Refused(yabandpaytest.RefusedReplayedNonce); n != 1 {
		t.Errorf("Refused = %d", n)
	}
}

func TestOtherPathsAndMethods(t *testing.T) {
	t.Parallel()
	s := setup(t, yabandpaytest.Options{})
	if a := send(t, s, http.MethodGet, "/Payments", nil); a.status != http.StatusMethodNotAllowed ||
		a.header.Get("Allow") != http.MethodPost || a.env.Status {
		t.Errorf("GET /Payments: %d %s", a.status, a.raw)
	}
	if a := post(t, s, nil); a.status != 200 || string(a.env.Code) != `"400"` {
		t.Errorf("empty body: %d %s", a.status, a.raw)
	}
	if a := send(t, s, http.MethodPost, "/payments/v3", balanceReq("EUR", "n").body(t)); a.status != http.StatusNotFound {
		t.Errorf("POST /payments/v3: %d %s", a.status, a.raw)
	}
	if a := post(t, s, bytes.Repeat([]byte(" "), 70<<10)); a.status != http.StatusRequestEntityTooLarge {
		t.Errorf("a 70 KiB body: %d %s", a.status, a.raw)
	}
	if n := s.Requests(); n != 4 {
		t.Errorf("Requests() = %d, want 4", n)
	}
}

func TestNumericCode(t *testing.T) {
	t.Parallel()
	s := setup(t, yabandpaytest.Options{NumericCode: true})
	if a := post(t, s, balanceReq("EUR", "n1").body(t)); string(a.env.Code) != "200" {
		t.Errorf("success: %s", a.raw)
	}
	if a := post(t, s, balanceReq("USD", "n2").body(t)); string(a.env.Code) != "422" {
		t.Errorf("refusal: %s", a.raw)
	}
}
