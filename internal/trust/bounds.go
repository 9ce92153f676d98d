package trust

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
)

// errBounds marks the errors of check that refuse the event, as opposed to a database that did not answer.
var errBounds = errors.New("bounds")

type boundsError struct{ err error }

func (e boundsError) Error() string   { return e.err.Error() }
func (e boundsError) Unwrap() []error { return []error{e.err, errBounds} }

func outOfBounds(sentinel error, format string, args ...any) error {
	return boundsError{fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)}
}

// check judges one event's amounts and times.
type check struct {
	g   *Gate
	now time.Time
}

// time refuses a time before the floor or more than the clock skew ahead of now. A zero time is the fact's
// business (its absence is refused, where it matters, by the reconciler's own validation).
func (c check) time(what string, t time.Time) error {
	if t.IsZero() {
		return nil
	}
	if t.Before(c.g.floor) {
		return outOfBounds(ErrTime, "%s %s is before the floor %s (ledger.limits.time_floor)", what,
			t.UTC().Format(time.RFC3339), c.g.floor.UTC().Format(time.RFC3339))
	}
	if latest := c.now.Add(c.g.skew); t.After(latest) {
		return outOfBounds(ErrTime, "%s %s is after now (%s) plus the allowed clock skew of %s (ledger.limits.clock_skew)",
			what, t.UTC().Format(time.RFC3339), c.now.UTC().Format(time.RFC3339), c.g.skew)
	}
	return nil
}

// amount refuses an amount in a currency the ledger does not take, with more decimal places than the
// currency's minor unit, or beyond its bound.
func (c check) amount(ctx context.Context, what string, d decimal.Decimal, code string) error {
	cur, ok, err := c.g.currency(ctx, code)
	if err != nil {
		return err
	}
	if !ok {
		return outOfBounds(ErrUnknownCurrency, "%s: currency %q is not in ledger.currencies", what, code)
	}
	if d.IsZero() { // -0, 0.000 and 0e9 alike
		return nil
	}
	// Shape first, arithmetic after: an amount written 1e9999 is six bytes of JSON, and comparing it with
	// anything builds a ten-thousand-digit number (decoding refuses larger exponents). |d| < 10^(digits+exp),
	// and its fraction needs at least -exp-(digits-1) places (all but its first digit could be trailing zeros).
	digits, exp := int64(d.NumDigits()), int64(d.Exponent())
	if digits+exp > cur.maxDigits {
		return outOfBounds(ErrAmount, "%s: a %s amount of %s is beyond the bound %s (ledger.currencies.max_abs_amount)",
			what, code, shape(d), cur.maxAbs)
	}
	if -exp-(digits-1) > int64(cur.minorUnits) {
		return outOfBounds(ErrAmount, "%s: %s %s has more than %d decimal place(s)", what, shape(d), code, cur.minorUnits)
	}
	if d.Abs().Cmp(cur.maxAbs) > 0 {
		return outOfBounds(ErrAmount, "%s: a %s amount of %s is beyond the bound %s (ledger.currencies.max_abs_amount)",
			what, code, d, cur.maxAbs)
	}
	if !d.Equal(d.Truncate(cur.minorUnits)) {
		return outOfBounds(ErrAmount, "%s: %s %s has more than %d decimal place(s)", what, d, code, cur.minorUnits)
	}
	return nil
}

// shape prints an amount that may be absurdly long: as it is when short, by its size when not.
func shape(d decimal.Decimal) string {
	digits, exp := int64(d.NumDigits()), int64(d.Exponent())
	if digits <= 40 && exp >= -40 && exp <= 40 {
		return d.String()
	}
	return fmt.Sprintf("%d-digit number ×10^%d", digits, exp)
}

// fact checks every amount and time of a provider's fact.
func (c check) fact(ctx context.Context, fact any) error {
	var amounts []amountOf
	var times []timeOf
	switch f := fact.(type) {
	case events.StatementItem:
		amounts = []amountOf{{"amount", f.Amount, f.Currency}, {"fee", f.Fee, f.Currency}}
		if f.WalletAfter != nil {
			amounts = append(amounts, amountOf{"wallet_after", *f.WalletAfter, f.Currency})
		}
		times = []timeOf{{"effective_at", f.EffectiveAt}, {"created_at", f.CreatedAt}}
	case events.Balance:
		amounts = []amountOf{{"amount", f.Amount, f.Currency}}
		for _, name := range sortedKeys(f.Figures) {
			amounts = append(amounts, amountOf{"figure " + name, f.Figures[name], f.Currency})
		}
		times = []timeOf{{"observed_at", f.ObservedAt}}
	case events.Settlement:
		amounts = []amountOf{{"amount", f.Amount, f.Currency}, {"fee", f.Fee, f.Currency}}
		if f.WalletAfter != nil {
			amounts = append(amounts, amountOf{"wallet_after", *f.WalletAfter, f.Currency})
		}
		// predicted_at is a forecast: it may lie days ahead, and is only compared, never booked.
		times = []timeOf{{"observed_at", f.ObservedAt}, {"created_at", f.CreatedAt}, {"settled_at", f.SettledAt}}
	case events.Batch:
		amounts = []amountOf{{"total_amount", f.TotalAmount, f.Currency}}
		for _, name := range sortedKeys(f.Amounts) {
			amounts = append(amounts, amountOf{"amounts." + name, f.Amounts[name], f.Currency})
		}
		for _, it := range f.Items {
			amounts = append(amounts, amountOf{"item " + it.ID + " amount", it.Amount, f.Currency})
		}
		times = []timeOf{{"observed_at", f.ObservedAt}, {"created_at", f.CreatedAt}}
	case events.Watermark:
		times = []timeOf{{"through", f.Through}, {"polled_at", f.PolledAt}}
	case events.Quarantined:
		times = []timeOf{{"observed_at", f.ObservedAt}}
	case events.BankLine:
		amounts = []amountOf{{"amount", f.Amount, f.Currency}}
		if f.RunningBalance != nil {
			amounts = append(amounts, amountOf{"running_balance", *f.RunningBalance, f.Currency})
		}
		times = []timeOf{{"booked_at", f.BookedAt}}
	case events.BankBalance:
		if f.Amount != nil {
			amounts = []amountOf{{"amount", *f.Amount, f.Currency}}
		}
		// A closing balance's At is the start of the day after the statement's last: it may be ahead of the
		// clock on the day the statement is read. The day itself may not.
		at := f.At
		if f.Kind == events.BankBalanceClosing {
			at = at.AddDate(0, 0, -1)
		}
		times = []timeOf{{"at", at}}
	}
	for _, t := range times {
		if err := c.time(t.what, t.t); err != nil {
			return err
		}
	}
	for _, a := range amounts {
		if err := c.amount(ctx, a.what, a.d, a.currency); err != nil {
			return err
		}
	}
	return nil
}

type amountOf struct {
	what     string
	d        decimal.Decimal
	currency string
}

type timeOf struct {
	what string
	t    time.Time
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
