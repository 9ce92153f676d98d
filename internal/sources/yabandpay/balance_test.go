package yabandpay

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources/quarantine"
)

// The documents' example answer, byte for byte (providers/yabandpay-balance.txt), decodes to its four figures
// as printed — usable = available + reserve, contradicting the documents' own text, recorded as is.
func TestDecodeDocumentsExample(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile("testdata/balance.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeBalance("POST /Payments v3.MerchantBalance getBalance", "036870", "EUR", body,
		func(s string) string { return s })
	if err != nil {
		t.Fatal(err)
	}
	d := decimal.RequireFromString
	want := events.Balance{
		Provider: events.ProviderYabandPay, Account: "036870", Currency: "EUR", Amount: d("9999788.98"),
		Figures: map[string]decimal.Decimal{FigureAvailable: d("9999788.98"), FigureReserve: d("200.00"),
			FigureUsable: d("9999988.98"), FigureDeposit: d("20.00")},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) }),
		cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "Raw" }, cmp.Ignore())); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	var raw, data map[string]any
	if err := json.Unmarshal(got.Raw, &raw); err != nil {
		t.Fatal(err)
	}
	var env struct{ Data map[string]any }
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatal(err)
	}
	data = env.Data
	if diff := cmp.Diff(data, raw); diff != "" {
		t.Errorf("Raw is not the answer's data (-want +got):\n%s", diff)
	}
}

func TestRedactRaw(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ secret, data, want string }{
		{"k3y-s3cret", `{"available":"1.00"}`, `{"available":"1.00"}`},
		{"k3y-s3cret", `{"note":"k3y-s3cret here"}`, `{"note":"[REDACTED] here"}`},
		{`a","b`, `{"k":"a","b":"c"}`, `{"withheld":"the answer echoed the secret key"}`},
		{`q"uote`, `{"k":"q\"uote"}`, `{"k":"[REDACTED]"}`},
	} {
		c, err := New(Config{User: "u", SecretKey: tc.secret})
		if err != nil {
			t.Fatal(err)
		}
		if got := string(redactRaw(json.RawMessage(tc.data), c.redact)); got != tc.want {
			t.Errorf("secret %q over %s: %s, want %s", tc.secret, tc.data, got, tc.want)
		}
	}
}

// The fixture corpus, testdata/shapes: the documents' example written each way a PHP application may write it
// where the documents are silent (docs/providers.md). Each reads as the same balance — but a null deposit,
// which is a frozen balance of none — and the figures no exact decimal can be read from are quarantined.
func TestBalanceCorpus(t *testing.T) {
	t.Parallel()
	const endpoint = "POST /Payments v3.MerchantBalance getBalance"
	at := time.Date(2024, 2, 20, 9, 43, 28, 0, time.UTC)
	decode := func(name string) (events.Balance, error) {
		body, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return decodeBalanceAt(endpoint, "036870", "EUR", body, at, func(s string) string { return s })
	}
	want, err := decode("balance.json")
	if err != nil {
		t.Fatal(err)
	}
	same := cmp.Options{cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) }),
		cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "Raw" }, cmp.Ignore())}
	for file, motivation := range map[string]string{
		"status_as_string.json":   `status "true": PHP's string of a boolean`,
		"status_as_number.json":   "status 1: PHP's integer of a boolean",
		"code_zero.json":          `code "0": the other way of writing "no error"`,
		"code_as_number.json":     "code 200, as the documents' Reports example writes it",
		"numeric_user.json":       `user 36870: the UID "036870" as a JSON number, its leading zero lost`,
		"lowercase_currency.json": `currency "eur"`,
		"figures_as_numbers.json": "the figures as JSON numbers, not strings",
		"extra_fields.json":       "members no document shows",
	} {
		got, err := decode("shapes/" + file)
		if err != nil {
			t.Errorf("%s (%s): %v", file, motivation, err)
			continue
		}
		if diff := cmp.Diff(want, got, same); diff != "" {
			t.Errorf("%s (%s) reads differently (-documented +shape):\n%s", file, motivation, diff)
		}
	}
	got, err := decode("shapes/null_deposit.json")
	if err != nil || !got.Figures[FigureDeposit].IsZero() || !got.Amount.Equal(want.Amount) {
		t.Errorf("a null deposit: %+v, %v; want a deposit of 0", got, err)
	}
	for file, reason := range map[string]string{"thousands_separator.json": "field available",
		"null_available.json": "field available: missing"} {
		_, err := decode("shapes/" + file)
		q, ok := quarantine.As(err)
		if !ok || !errors.Is(err, ErrMalformedResponse) || !strings.Contains(q.Reason, reason) ||
			q.Account != "036870" || q.ItemID != "EUR" || q.Feed != events.FeedBalance || !q.ObservedAt.Equal(at) {
			t.Errorf("%s: %v, want it quarantined for %q", file, err, reason)
		}
	}
}
