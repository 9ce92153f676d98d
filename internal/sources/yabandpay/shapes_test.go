package yabandpay_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/sources/yabandpay"
	"github.com/mizanhq/mizan/internal/sources/yabandpay/yabandpaytest"
)

// Every shape the simulator can write keeps the answer's meaning, and the client reads the same balance from
// it as from the documented answer: status "true" or 1, code "0", the UID as a number (36870 for "036870"),
// a lower-case currency, a null zero deposit, figures as JSON numbers, members no document shows. Refusals in
// the same shapes are still refusals.
func TestEveryShapeReadsAsTheSameBalance(t *testing.T) {
	t.Parallel()
	zero := &yabandpaytest.Figures{Available: dec("150.25"), Reserve: dec("0"), Deposit: dec("0")}
	opts := func(sh yabandpaytest.Shape) yabandpaytest.Options {
		return yabandpaytest.Options{Shapes: sh, Merchants: []yabandpaytest.MerchantOptions{{User: testUser,
			SecretKey: testSecret, Quiet: true, Currencies: []yabandpaytest.CurrencyOptions{{Currency: "EUR"},
				{Currency: "CHF", Opening: zero}}}}}
	}
	ref := setup(t, opts(0), nil)
	want := map[string]any{}
	for _, c := range []string{"EUR", "CHF"} {
		b, err := ref.client.Balance(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		b.Raw = nil
		want[c] = b
	}
	shapes := append([]yabandpaytest.Shape{yabandpaytest.ShapeStatusAsString, yabandpaytest.AllShapes},
		func() []yabandpaytest.Shape {
			var out []yabandpaytest.Shape
			for s := yabandpaytest.Shape(1); s <= yabandpaytest.ShapeExtraFields; s <<= 1 {
				out = append(out, s)
			}
			return out
		}()...)
	for _, sh := range shapes {
		b := setup(t, opts(sh), nil)
		for _, c := range []string{"EUR", "CHF"} {
			got, err := b.client.Balance(t.Context(), c)
			if err != nil {
				t.Fatalf("shape %b, %s: %v", sh, c, err)
			}
			got.Raw = nil
			if diff := cmp.Diff(want[c], got, cmp.Comparer(decimal.Decimal.Equal)); diff != "" {
				t.Errorf("shape %b, %s (-documented +shaped):\n%s", sh, c, diff)
			}
		}
		// A refusal in the same shape: a currency the merchant has no wallet in.
		_, err := b.client.Balance(t.Context(), "USD")
		var apiErr *yabandpay.APIError
		if !errors.As(err, &apiErr) || apiErr.Code != yabandpaytest.RefusedUnsupportedCurrency.Code() {
			t.Errorf("shape %b: refusal read as %v", sh, err)
		}
	}
}
