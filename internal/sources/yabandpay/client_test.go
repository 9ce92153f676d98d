package yabandpay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"
	"golang.org/x/time/rate"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources/sourcetest"
	"github.com/mizanhq/mizan/internal/sources/yabandpay"
	"github.com/mizanhq/mizan/internal/sources/yabandpay/yabandpaytest"
)

const endpoint = "POST /Payments v3.MerchantBalance getBalance"

func TestBalance(t *testing.T) {
	t.Parallel()
	b := setup(t, yabandpaytest.Options{}, nil)
	bal, err := b.client.Balance(t.Context(), "EUR")
	if err != nil {
		t.Fatal(err)
	}
	want := events.Balance{
		Provider: events.ProviderYabandPay,
		Account:  testUser,
		Currency: "EUR",
		Amount:   dec("9999788.98"),
		Figures: map[string]decimal.Decimal{"available": dec("9999788.98"), "reserve": dec("200.00"),
			"usable": dec("9999588.98"), "deposit": dec("20.00")},
		ObservedAt: testNow,
	}
	if diff := cmp.Diff(want, bal, cmp.Comparer(decimal.Decimal.Equal), cmp.FilterPath(func(p cmp.Path) bool {
		return p.String() == "Raw"
	}, cmp.Ignore())); diff != "" {
		t.Errorf("balance (-want +got):\n%s", diff)
	}
	var raw map[string]any
	if err := json.Unmarshal(bal.Raw, &raw); err != nil || raw["wallet_id"] != "WA156227511825" ||
		raw["available"] != "9999788.98" || raw["gateway_name"] != "YabandPay" {
		t.Errorf("Raw is not the answer's data as received: %s (%v)", bal.Raw, err)
	}
	if _, err := bal.Event(); err != nil {
		t.Error(err)
	}
	// Figures are kept exactly as reported, trailing zeros included.
	if got := bal.Figures["reserve"].StringFixed(2); got != "200.00" {
		t.Errorf("reserve %s", got)
	}
}

// The request is the documents' envelope: user, sign, method, time in unix seconds as a JSON number, and data
// with command, currency and nonce_string — signed over exactly what was sent.
func TestEnvelope(t *testing.T) {
	t.Parallel()
	b := setup(t, yabandpaytest.Options{}, nil)
	for range 2 {
		if _, err := b.client.Balance(t.Context(), "CHF"); err != nil {
			t.Fatal(err)
		}
	}
	bodies := b.sent()
	if len(bodies) != 2 {
		t.Fatalf("%d requests, want 2", len(bodies))
	}
	var nonces []string
	for _, body := range bodies {
		var env map[string]json.RawMessage
		if err := json.Unmarshal(body, &env); err != nil {
			t.Fatal(err)
		}
		if got := keys(env); got != "data,method,sign,time,user" {
			t.Errorf("envelope members %s", got)
		}
		if string(env["time"]) != strconv.FormatInt(testNow.Unix(), 10) {
			t.Errorf("time %s, want the unix seconds %d as a number", env["time"], testNow.Unix())
		}
		var e struct {
			User, Sign, Method string
			Data               map[string]any
		}
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatal(err)
		}
		if e.User != testUser || e.Method != "v3.MerchantBalance" {
			t.Errorf("user %q, method %q", e.User, e.Method)
		}
		if got := keys(e.Data); got != "command,currency,nonce_string" {
			t.Errorf("data members %s", got)
		}
		nonce, _ := e.Data["nonce_string"].(string)
		if e.Data["command"] != "getBalance" || e.Data["currency"] != "CHF" || nonce == "" || len(nonce) > 32 {
			t.Errorf("data %v", e.Data)
		}
		nonces = append(nonces, nonce)
		params := map[string]string{"user": e.User, "method": e.Method, "time": string(env["time"])}
		for k, v := range e.Data {
			params[k] = v.(string)
		}
		if want := yabandpay.Sign(params, testSecret); e.Sign != want {
			t.Errorf("sign %s, want %s", e.Sign, want)
		}
		if bytes.Contains(body, []byte(testSecret)) {
			t.Error("the request carries the secret key")
		}
	}
	if nonces[0] == nonces[1] {
		t.Errorf("two requests with the nonce %s", nonces[0])
	}
}

func keys[V any](m map[string]V) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return strings.Join(ks, ",")
}

// code is "200" in most of the documents' examples and 200 in one; both are success, and so is an answer
// without a code (the SDK looks only at status).
func TestCodeAsStringOrNumber(t *testing.T) {
	t.Parallel()
	for _, numeric := range []bool{false, true} {
		b := setup(t, yabandpaytest.Options{NumericCode: numeric}, nil)
		if _, err := b.client.Balance(t.Context(), "EUR"); err != nil {
			t.Errorf("numeric code %t: %v", numeric, err)
		}
		b.cfg.SecretKey = "another-key-entirely"
		wrong, err := yabandpay.New(b.cfg)
		if err != nil {
			t.Fatal(err)
		}
		var apiErr *yabandpay.APIError
		if _, err := wrong.Balance(t.Context(), "EUR"); !errors.As(err, &apiErr) || apiErr.Code != "401" {
			t.Errorf("numeric code %t: refusal %v, want code 401", numeric, err)
		}
	}
	data := `"data":{"currency":"EUR","available":"1.00","reserve":"0.00","usable":"1.00","deposit":"0.00"}`
	for _, body := range []string{
		`{"status":true,"code":"200",` + data + `,"message":""}`,
		`{"status":true,"code":200,` + data + `,"message":""}`,
		`{"status":true,` + data + `}`,
	} {
		hs := fake(t, 200, body)
		c := newClient(t, hs.URL, nil)
		if bal, err := c.Balance(t.Context(), "EUR"); err != nil || !bal.Amount.Equal(dec("1")) {
			t.Errorf("%s: %+v, %v", body, bal, err)
		}
	}
}

// newClient is a client of a fake server that never sleeps.
func newClient(t *testing.T, url string, change func(*yabandpay.Config)) *yabandpay.Client {
	t.Helper()
	cfg := yabandpay.Config{APIURL: url, User: testUser, SecretKey: testSecret, RetryInitial: time.Millisecond, Limit: rate.Inf,
		Now: func() time.Time { return testNow }, Sleep: func(context.Context, time.Duration) error { return nil }}
	if change != nil {
		change(&cfg)
	}
	c, err := yabandpay.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A refusal ("status": false) carries YabandPay's code and message, names the call, and is not retried: the
// same request would be refused again.
func TestRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		change   func(*yabandpay.Config)
		currency string
		refusal  yabandpaytest.Refusal
		message  string
	}{
		{"a wrong secret key", func(c *yabandpay.Config) { c.SecretKey = "not-the-merchants-key" }, "EUR",
			yabandpaytest.RefusedBadSign, "sign error"},
		{"an unknown user", func(c *yabandpay.Config) { c.User = "999999" }, "EUR",
			yabandpaytest.RefusedUnknownUser, "user does not exist"},
		{"an operator account", func(c *yabandpay.Config) { c.User = "036871" }, "EUR",
			yabandpaytest.RefusedNoPermission, "only the merchant super admin"},
		{"a clock ten minutes slow", func(c *yabandpay.Config) {
			c.Now = func() time.Time { return testNow.Add(-10 * time.Minute) }
		}, "EUR", yabandpaytest.RefusedStaleTime, "request expired"},
		{"a currency the merchant has no wallet in", nil, "USD", yabandpaytest.RefusedUnsupportedCurrency,
			`currency "USD" is not supported`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, yabandpaytest.Options{}, tc.change)
			_, err := b.client.Balance(t.Context(), tc.currency)
			var apiErr *yabandpay.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want an APIError", err)
			}
			if apiErr.Status != 200 || apiErr.Code != tc.refusal.Code() || !strings.Contains(apiErr.Message, tc.message) ||
				apiErr.Endpoint != endpoint || apiErr.Retryable() {
				t.Errorf("APIError %+v, want code %s and a message with %q", apiErr, tc.refusal.Code(), tc.message)
			}
			want := "yabandpay " + endpoint + ": refused: code " + tc.refusal.Code() + ": " + apiErr.Message
			if err.Error() != want {
				t.Errorf("error\n%s\nwant\n%s", err, want)
			}
			if n := b.sim.Refused(tc.refusal); n != 1 {
				t.Errorf("the simulator refused %d requests as %q, want 1", n, tc.refusal)
			}
			if n := b.sim.Requests(); n != 1 {
				t.Errorf("%d requests, want 1: a refusal is not retried", n)
			}
			assertNoSecret(t, "the error", err.Error())
		})
	}
}

// Every attempt is signed anew with a fresh nonce and time: a retry never replays a nonce.
func TestRetriesSignAnew(t *testing.T) {
	t.Parallel()
	b := setup(t, yabandpaytest.Options{}, nil)
	b.sim.Inject(yabandpaytest.Fault{Kind: yabandpaytest.FaultStatus, Status: 502, HTML: true}, 1)
	b.sim.Inject(yabandpaytest.Fault{Kind: yabandpaytest.FaultTruncated}, 1)
	if _, err := b.client.Balance(t.Context(), "EUR"); err != nil {
		t.Fatal(err)
	}
	bodies := b.sent()
	if len(bodies) != 3 {
		t.Fatalf("%d requests, want 3", len(bodies))
	}
	seen := map[string]bool{}
	for _, body := range bodies {
		var e struct {
			Data struct {
				NonceString string `json:"nonce_string"`
			}
		}
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatal(err)
		}
		if seen[e.Data.NonceString] {
			t.Errorf("nonce %s sent twice", e.Data.NonceString)
		}
		seen[e.Data.NonceString] = true
	}
	if n := len(b.slept()); n != 2 {
		t.Errorf("waited %d times, want 2", n)
	}
	if !strings.Contains(b.logs.String(), "retrying") {
		t.Errorf("retries not logged:\n%s", b.logs)
	}
}

// Config.Nonce is what is sent: one that repeats is caught by the simulator's replay check, one that is too
// long is refused before anything is sent.
func TestNonceFromConfig(t *testing.T) {
	t.Parallel()
	b := setup(t, yabandpaytest.Options{}, func(c *yabandpay.Config) { c.Nonce = func() string { return "always-the-same" } })
	if _, err := b.client.Balance(t.Context(), "EUR"); err != nil {
		t.Fatal(err)
	}
	var apiErr *yabandpay.APIError
	if _, err := b.client.Balance(t.Context(), "EUR"); !errors.As(err, &apiErr) ||
		apiErr.Code != yabandpaytest.RefusedReplayedNonce.Code() {
		t.Errorf("err = %v, want the replay refused", err)
	}

	long := setup(t, yabandpaytest.Options{}, func(c *yabandpay.Config) {
		c.Nonce = func() string { return strings.Repeat("n", yabandpay.MaxNonceLength+1) }
	})
	if _, err := long.client.Balance(t.Context(), "EUR"); err == nil || !strings.Contains(err.Error(), "Config.Nonce") {
		t.Errorf("err = %v, want Config.Nonce refused", err)
	}
	if n := long.sim.Requests(); n != 0 {
		t.Errorf("%d requests with a bad nonce, want 0", n)
	}
}

func TestCurrencyIsChecked(t *testing.T) {
	t.Parallel()
	b := setup(t, yabandpaytest.Options{}, nil)
	for _, c := range []string{"", "eur", "EURO", "E R", "€"} {
		if _, err := b.client.Balance(t.Context(), c); err == nil || !strings.Contains(err.Error(), "ISO 4217") {
			t.Errorf("currency %q: err = %v", c, err)
		}
	}
	if n := b.sim.Requests(); n != 0 {
		t.Errorf("%d requests, want 0", n)
	}
}

// usable is recorded as reported, never derived: whichever of the documents' two formulas the provider
// follows, or neither.
func TestUsableIsNeverDerived(t *testing.T) {
	t.Parallel()
	b := setup(t, yabandpaytest.Options{Merchants: []yabandpaytest.MerchantOptions{{User: testUser,
		SecretKey: testSecret, Quiet: true, UsableAddsReserve: true,
		Currencies: []yabandpaytest.CurrencyOptions{{Currency: "EUR", Opening: &yabandpaytest.Figures{
			Available: dec("9999788.98"), Reserve: dec("200.00"), Deposit: dec("20.00")}}}}}}, nil)
	bal, err := b.client.Balance(t.Context(), "EUR")
	if err != nil {
		t.Fatal(err)
	}
	// The documents' own example: usable = available + reserve.
	if !bal.Figures["usable"].Equal(dec("9999988.98")) {
		t.Errorf("usable %s, want 9999988.98 as reported", bal.Figures["usable"])
	}
	odd := yabandpaytest.Figures{Available: dec("-12.34"), Reserve: dec("0.10"), Usable: dec("77777777777777.77"),
		Deposit: dec("0")}
	if err := b.sim.SetFigures(testUser, "EUR", odd); err != nil {
		t.Fatal(err)
	}
	bal, err = b.client.Balance(t.Context(), "EUR")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]decimal.Decimal{"available": odd.Available, "reserve": odd.Reserve,
		"usable": odd.Usable, "deposit": odd.Deposit} {
		if !bal.Figures[name].Equal(want) {
			t.Errorf("%s %s, want %s", name, bal.Figures[name], want)
		}
	}
	if !bal.Amount.Equal(odd.Available) {
		t.Errorf("amount %s, want available %s", bal.Amount, odd.Available)
	}
}

// Answers the client cannot read exactly are errors naming the call and what is wrong, never a guess. They
// are well-formed JSON, so they are not retried.
func TestMalformedAnswers(t *testing.T) {
	t.Parallel()
	figures := func(available, reserve, usable, deposit string) string {
		return fmt.Sprintf(`{"status":true,"code":"200","data":{"user":"036870","currency":"EUR","available":%s,`+
			`"reserve":%s,"usable":%s,"deposit":%s},"message":""}`, available, reserve, usable, deposit)
	}
	for _, tc := range []struct{ name, body, want string }{
		{"thousands separator", figures(`"1,000.00"`, `"0"`, `"0"`, `"0"`), "field available"},
		{"exponent", figures(`"1e5"`, `"0"`, `"0"`, `"0"`), "field available"},
		{"empty figure", figures(`"1"`, `""`, `"0"`, `"0"`), "field reserve"},
		{"figure as an object", figures(`"1"`, `"0"`, `{}`, `"0"`), "field usable"},
		{"null available", figures(`null`, `"0"`, `"0"`, `"0"`), "field available: missing"},
		{"too many digits", figures(`"1234567890123456789012345678901"`, `"0"`, `"0"`, `"0"`), "field available"},
		{"missing available", `{"status":true,"code":"200","data":{"currency":"EUR","reserve":"0",` +
			`"usable":"1","deposit":"0"}}`, "field available: missing"},
		{"another currency", `{"status":true,"code":"200","data":{"currency":"CHF","available":"1","reserve":"0",` +
			`"usable":"1","deposit":"0"}}`, `answered for "CHF", asked for EUR`},
		{"no currency", `{"status":true,"code":"200","data":{"available":"1","reserve":"0","usable":"1",` +
			`"deposit":"0"}}`, "field currency: missing"},
		{"another user", `{"status":true,"code":"200","data":{"user":"016683","currency":"EUR","available":"1",` +
			`"reserve":"0","usable":"1","deposit":"0"}}`, `answered for "016683"`},
		{"data is a list", `{"status":true,"code":"200","data":[],"message":""}`, "data is not an object"},
		{"no status", `{"code":"200","data":{}}`, "no status field"},
		{"status as a word", `{"status":"yes","code":"200","data":{}}`, "is not true or false"},
		{"status as a number other than 0 or 1", `{"status":2,"code":"200","data":{}}`, "is not true or false"},
		{"success with a failure code", `{"status":true,"code":"500","data":{}}`, `status true with code "500"`},
		{"not an object", `["status",true]`, "malformed response"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var n atomic.Int32
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n.Add(1)
				w.Write([]byte(tc.body))
			}))
			t.Cleanup(hs.Close)
			_, err := newClient(t, hs.URL, nil).Balance(t.Context(), "EUR")
			if !errors.Is(err, yabandpay.ErrMalformedResponse) || !strings.Contains(err.Error(), tc.want) ||
				!strings.Contains(err.Error(), endpoint) {
				t.Errorf("err = %v, want ErrMalformedResponse naming %q and %q", err, endpoint, tc.want)
			}
			if n := n.Load(); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

// A refusal with no message still says something: the body.
func TestRefusalWithoutMessage(t *testing.T) {
	t.Parallel()
	hs := fake(t, 200, `{"status":false,"code":"E_UNKNOWN","data":[]}`)
	_, err := newClient(t, hs.URL, nil).Balance(t.Context(), "EUR")
	var apiErr *yabandpay.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != "E_UNKNOWN" || !strings.Contains(apiErr.Message, `"data":[]`) {
		t.Errorf("err = %v", err)
	}
}

func TestHTTPErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		status    int
		body      string
		want      string
		retryable bool
	}{
		{"a 503 with YabandPay's envelope", 503, `{"status":false,"code":"503","data":[],"message":"maintenance"}`,
			"yabandpay " + endpoint + ": HTTP 503: code 503: maintenance", true},
		{"a 502 page", 502, "<html><head><title>502 Bad Gateway</title></head></html>",
			"yabandpay " + endpoint + ": HTTP 502: body is not JSON: <html><head><title>502 Bad Gateway</title></head></html>", true},
		{"a 404 with someone else's JSON", 404, `{"error":"not found"}`,
			"yabandpay " + endpoint + `: HTTP 404: no message in body: {"error":"not found"}`, false},
		{"a 400 with no body", 400, "", "yabandpay " + endpoint + ": HTTP 400", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hs := fake(t, tc.status, tc.body)
			_, err := newClient(t, hs.URL, func(c *yabandpay.Config) { c.MaxRetries = -1 }).Balance(t.Context(), "EUR")
			var apiErr *yabandpay.APIError
			if !errors.As(err, &apiErr) || apiErr.Retryable() != tc.retryable || apiErr.Status != tc.status {
				t.Fatalf("err = %v, want an APIError, retryable %t", err, tc.retryable)
			}
			if !strings.HasSuffix(err.Error(), tc.want) {
				t.Errorf("error\n%s\nwant it to end\n%s", err, tc.want)
			}
		})
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	b := setup(t, yabandpaytest.Options{}, nil)
	b.sim.Inject(yabandpaytest.Fault{Kind: yabandpaytest.FaultTooManyRequests, RetryAfter: 3 * time.Second}, 1)
	if _, err := b.client.Balance(t.Context(), "EUR"); err != nil {
		t.Fatal(err)
	}
	if got := b.slept(); len(got) != 1 || got[0] != 3*time.Second {
		t.Errorf("waited %v, want [3s]", got)
	}
}

func TestRetriesGiveUp(t *testing.T) {
	t.Parallel()
	b := setup(t, yabandpaytest.Options{}, func(c *yabandpay.Config) { c.MaxRetries = 2 })
	b.sim.Inject(yabandpaytest.Fault{Kind: yabandpaytest.FaultHTML200}, 100)
	_, err := b.client.Balance(t.Context(), "EUR")
	if !errors.Is(err, yabandpay.ErrMalformedResponse) || !strings.Contains(err.Error(), "giving up after 3 attempts") ||
		!strings.Contains(err.Error(), "<!DOCTYPE html>") {
		t.Fatalf("err = %v, want the HTML page quoted after 3 attempts", err)
	}
	if n := b.sim.Requests(); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

func TestOversizeBodyIsRefused(t *testing.T) {
	t.Parallel()
	hs := fake(t, 200, `{"status":true,"data":{"x":"`+strings.Repeat("a", 4096)+`"}}`)
	_, err := newClient(t, hs.URL, func(c *yabandpay.Config) { c.MaxBodyBytes = 1024 }).Balance(t.Context(), "EUR")
	if !errors.Is(err, yabandpay.ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
}

// Every request waits for the client-side limiter: with the bucket empty and a deadline sooner than the next
// token, the call is refused before anything is sent.
func TestRateLimiterGatesRequests(t *testing.T) {
	t.Parallel()
	b := setup(t, yabandpaytest.Options{}, func(c *yabandpay.Config) { c.Limit, c.Burst = rate.Every(time.Hour), 1 })
	if _, err := b.client.Balance(t.Context(), "EUR"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := b.client.Balance(ctx, "EUR"); err == nil || !strings.Contains(err.Error(), "rate limiter") {
		t.Fatalf("err = %v, want the limiter's refusal", err)
	}
	if n := b.sim.Requests(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestNewChecksConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []yabandpay.Config{
		{SecretKey: testSecret},
		{User: testUser},
		{User: "\xff", SecretKey: testSecret},
		{User: testUser, SecretKey: testSecret, APIURL: "ftp://mapi.yabandpay.com"},
		{User: testUser, SecretKey: testSecret, APIURL: "https://"},
		{User: testUser, SecretKey: testSecret, APIURL: "https://mapi.yabandpay.com?x=1"},
	} {
		if _, err := yabandpay.New(cfg); err == nil {
			t.Errorf("New(%v): no error", cfg)
		} else {
			assertNoSecret(t, "New's error", err.Error())
		}
	}
	if _, err := yabandpay.New(yabandpay.Config{User: testUser, SecretKey: testSecret}); err != nil {
		t.Error(err)
	}
}

// The secret key never reaches an error, a log line or an event: not when a server echoes it in a refusal,
// a code, a figure or a field, not when a proxy's page quotes it, not when the Config prints itself.
func TestSecretNeverLeaks(t *testing.T) {
	t.Parallel()
	escaped := strings.ReplaceAll(testSecret, "-", `\u002d`)
	answers := []struct {
		status int
		body   string
	}{
		{200, `{"status":false,"code":"401","data":[],"message":"sign error: expected key ` + testSecret + `"}`},
		{200, `{"status":false,"code":"` + testSecret + `","data":[],"message":"no"}`},
		{502, "<html><pre>secret_key=" + testSecret + "\n</pre></html>"},
		{200, `{"status":true,"data":{"secret":"` + testSecret},
		{500, `{"status":false,"code":"500","message":"key ` + escaped + `"}`},
		{200, `{"status":"` + testSecret + `","data":{}}`},
		{200, `{"status":true,"code":"` + testSecret + `","data":{}}`},
		{200, `{"status":true,"data":{"currency":"` + testSecret + `"}}`},
		{200, `{"status":true,"data":{"currency":"EUR","user":"` + testSecret + `"}}`},
		{200, `{"status":true,"data":{"currency":"EUR","available":"` + testSecret + `"}}`},
		{200, `{"status":true,"code":"200","data":{"currency":"EUR","available":"1.00","reserve":"0.00",` +
			`"usable":"1.00","deposit":"0.00","note":"` + testSecret + `"},"message":""}`},
	}
	var n atomic.Int32
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := answers[min(int(n.Add(1)), len(answers))-1]
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	t.Cleanup(hs.Close)
	var logs sourcetest.LogBuffer
	c := newClient(t, hs.URL, func(c *yabandpay.Config) {
		c.MaxRetries = -1
		c.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	var msgs []string
	for range len(answers) - 1 {
		_, err := c.Balance(t.Context(), "EUR")
		if err == nil {
			t.Fatal("no error")
		}
		msgs = append(msgs, err.Error())
	}
	for i, m := range msgs {
		if !strings.Contains(m, "[REDACTED]") {
			t.Errorf("answer %d: the echoed key was not visibly redacted: %s", i+1, m)
		}
	}
	bal, err := c.Balance(t.Context(), "EUR")
	if err != nil {
		t.Fatal(err)
	}
	ev, err := bal.Event()
	if err != nil {
		t.Fatal(err)
	}
	evJSON, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	cfg := yabandpay.Config{User: testUser, SecretKey: testSecret}
	var logged sourcetest.LogBuffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "cfg", cfg)
	for what, s := range map[string]string{
		"errors":              strings.Join(msgs, "\n"),
		"logs":                logs.String(),
		"the event":           string(evJSON),
		"Config's formatting": fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg) + logged.String(),
	} {
		assertNoSecret(t, what, s)
	}
}
