package yabandpay

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
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
