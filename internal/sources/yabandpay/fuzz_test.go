package yabandpay_test

import (
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/mizanhq/mizan/internal/sources/yabandpay"
	"github.com/mizanhq/mizan/internal/sources/yabandpay/yabandpaytest"
)

// FuzzSignInput checks that signing never panics and always gives 64 lowercase hex characters, and that the
// simulator — whose signer shares no code with the client's — verifies whatever the client signs and sends:
// any user, secret, currency, nonce and time the client accepts. Inputs the client refuses must be refused
// before anything is sent. The seed corpus is in testdata/fuzz/FuzzSignInput.
func FuzzSignInput(f *testing.F) {
	f.Fuzz(func(t *testing.T, user, secret, currency, nonce string, unix int64) {
		// Keys are fuzzed too: any map signs.
		params := map[string]string{"user": user, "currency": currency, "nonce_string": nonce,
			"time": strconv.FormatInt(unix, 10), nonce: secret}
		sig := yabandpay.Sign(params, secret)
		if _, err := hex.DecodeString(sig); err != nil || len(sig) != 64 || sig != yabandpay.Sign(params, secret) {
			t.Fatalf("Sign = %q: not 64 lowercase hex characters, or not deterministic", sig)
		}
		for _, c := range sig {
			if c >= 'A' && c <= 'F' {
				t.Fatalf("Sign = %q: upper case", sig)
			}
		}
		if user == "" || secret == "" {
			return // the client refuses both (TestNewChecksConfig); the simulator would invent them
		}
		if len(secret) < 8 {
			// The client redacts the secret wherever it is quoted; a one- or two-character "secret" (no real
			// key is) would be redacted out of any text, YabandPay's codes included, so the refusal check
			// below cannot read them. Signing was checked above for every secret.
			return
		}

		now := time.Unix(unix, 0)
		sim, err := yabandpaytest.NewServer(yabandpaytest.Options{Now: func() time.Time { return now },
			Merchants: []yabandpaytest.MerchantOptions{{User: user, SecretKey: secret, Quiet: true,
				Currencies: []yabandpaytest.CurrencyOptions{{Currency: "EUR"}}}}})
		if err != nil {
			t.Fatal(err)
		}
		defer sim.Close()
		c, err := yabandpay.New(yabandpay.Config{APIURL: sim.URL, User: user, SecretKey: secret, Now: sim.Now,
			Nonce: func() string { return nonce }, MaxRetries: -1, Limit: rate.Inf,
			HTTPClient: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}})
		if err != nil {
			if utf8.ValidString(user) {
				t.Fatalf("New refused a valid user %q: %v", user, err)
			}
			return
		}
		bal, err := c.Balance(context.Background(), currency)
		for _, r := range []yabandpaytest.Refusal{yabandpaytest.RefusedBadSign, yabandpaytest.RefusedBadRequest,
			yabandpaytest.RefusedStaleTime} {
			if n := sim.Refused(r); n != 0 {
				t.Fatalf("the simulator refused what the client sent (%s): %v", r, err)
			}
		}
		validInput := len(currency) == 3 && nonce != "" && len(nonce) <= yabandpay.MaxNonceLength &&
			utf8.ValidString(nonce) && currency[0] >= 'A' && currency[0] <= 'Z' && currency[1] >= 'A' &&
			currency[1] <= 'Z' && currency[2] >= 'A' && currency[2] <= 'Z'
		switch {
		case !validInput:
			if err == nil || sim.Requests() != 0 {
				t.Fatalf("input the client should refuse: err %v after %d requests", err, sim.Requests())
			}
		case currency == "EUR":
			if err != nil || bal.Currency != "EUR" || bal.Account != user {
				t.Fatalf("balance %+v, %v", bal, err)
			}
		default:
			var apiErr *yabandpay.APIError
			if !errors.As(err, &apiErr) || apiErr.Code != yabandpaytest.RefusedUnsupportedCurrency.Code() {
				t.Fatalf("currency %q: err %v, want the simulator's refusal", currency, err)
			}
		}
	})
}
