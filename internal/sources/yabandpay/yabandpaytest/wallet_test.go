package yabandpaytest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/mizanhq/mizan/internal/sources/yabandpay/yabandpaytest"
)

// active is a merchant whose wallets move, starting at testNow.
func active(seed int64) yabandpaytest.MerchantOptions {
	return yabandpaytest.MerchantOptions{User: user, SecretKey: secret, Seed: seed, Start: testNow}
}

func balance(t *testing.T, s *yabandpaytest.Server, currency string) yabandpaytest.Figures {
	t.Helper()
	f, err := s.Balance(user, currency)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func sameFigures(a, b yabandpaytest.Figures) bool {
	return a.Available.Equal(b.Available) && a.Reserve.Equal(b.Reserve) && a.Usable.Equal(b.Usable) &&
		a.Deposit.Equal(b.Deposit)
}

// The same seed and start give the same balances at the same times, whatever order the times are asked in.
func TestActivityIsDeterministic(t *testing.T) {
	t.Parallel()
	times := []time.Duration{90 * 24 * time.Hour, time.Hour, 0, 10 * 24 * time.Hour, 36 * time.Hour}
	a := setup(t, yabandpaytest.Options{Merchants: []yabandpaytest.MerchantOptions{active(3)}, Now: func() time.Time { return testNow }})
	b := setup(t, yabandpaytest.Options{Merchants: []yabandpaytest.MerchantOptions{active(3)}, Now: func() time.Time { return testNow }})
	got := map[time.Duration]yabandpaytest.Figures{}
	for _, d := range times {
		a.SetNow(testNow.Add(d))
		got[d] = balance(t, a, "EUR")
	}
	for i := len(times) - 1; i >= 0; i-- {
		d := times[i]
		b.SetNow(testNow.Add(d))
		if f := balance(t, b, "EUR"); !sameFigures(f, got[d]) {
			t.Errorf("at +%s: %+v and %+v", d, f, got[d])
		}
	}
	c := setup(t, yabandpaytest.Options{Merchants: []yabandpaytest.MerchantOptions{active(4)}, Now: func() time.Time { return testNow }})
	c.SetNow(testNow.Add(10 * 24 * time.Hour))
	if sameFigures(balance(t, c, "EUR"), got[10*24*time.Hour]) {
		t.Error("another seed gives the same balances")
	}
}

// Available moves with payments and payouts; reserve and deposit change only now and then; usable follows
// the rule; every figure has two decimals at most.
func TestBalancesMoveOverTheClock(t *testing.T) {
	t.Parallel()
	s := setup(t, yabandpaytest.Options{Merchants: []yabandpaytest.MerchantOptions{active(11)}})
	start := balance(t, s, "CHF")
	var prev yabandpaytest.Figures
	var availableMoves, reserveMoves, depositMoves int
	for h := range 24 * 75 {
		s.SetNow(testNow.Add(time.Duration(h) * time.Hour))
		f := balance(t, s, "CHF")
		if h > 0 {
			if !f.Available.Equal(prev.Available) {
				availableMoves++
			}
			if !f.Reserve.Equal(prev.Reserve) {
				reserveMoves++
			}
			if !f.Deposit.Equal(prev.Deposit) {
				depositMoves++
			}
		}
		if !f.Usable.Equal(f.Available.Sub(f.Reserve)) {
			t.Fatalf("at +%dh usable %s is not available %s − reserve %s", h, f.Usable, f.Available, f.Reserve)
		}
		for _, v := range []string{f.Available.String(), f.Reserve.String(), f.Deposit.String()} {
			if _, frac, ok := strings.Cut(v, "."); ok && len(frac) > 2 {
				t.Fatalf("at +%dh a figure %s has more than two decimals", h, v)
			}
		}
		if f.Available.IsNegative() {
			t.Fatalf("at +%dh available %s is negative without a planted drop", h, f.Available)
		}
		prev = f
	}
	// 75 days: payments every ten minutes or so move available nearly every hour; the reserve is
	// recalculated about weekly and the deposit about monthly.
	if availableMoves < 24*75/2 || reserveMoves < 8 || reserveMoves > 13 || depositMoves < 1 || depositMoves > 3 {
		t.Errorf("in 75 days: available moved in %d hours, reserve %d times, deposit %d times", availableMoves,
			reserveMoves, depositMoves)
	}
	if sameFigures(start, prev) {
		t.Error("nothing moved")
	}
}

func TestKnobs(t *testing.T) {
	t.Parallel()
	s := setup(t, yabandpaytest.Options{Merchants: []yabandpaytest.MerchantOptions{active(5)}})
	s.SetNow(testNow.Add(time.Hour))
	before := balance(t, s, "EUR")
	if err := s.SetReserve(user, "EUR", dec("1234.50")); err != nil {
		t.Fatal(err)
	}
	if err := s.SetDeposit(user, "EUR", dec("99.99")); err != nil {
		t.Fatal(err)
	}
	if err := s.DropAvailable(user, "EUR", dec("500.25")); err != nil {
		t.Fatal(err)
	}
	f := balance(t, s, "EUR")
	if !f.Reserve.Equal(dec("1234.50")) || !f.Deposit.Equal(dec("99.99")) ||
		!f.Available.Equal(before.Available.Sub(dec("500.25"))) || !f.Usable.Equal(f.Available.Sub(f.Reserve)) {
		t.Errorf("after the knobs: %+v (before %+v)", f, before)
	}

	// SetFigures reports anything, usable included; activity then moves on from there.
	odd := yabandpaytest.Figures{Available: dec("10.00"), Reserve: dec("200.00"), Usable: dec("210.00"), Deposit: dec("0")}
	if err := s.SetFigures(user, "EUR", odd); err != nil {
		t.Fatal(err)
	}
	if f := balance(t, s, "EUR"); !sameFigures(f, odd) {
		t.Errorf("after SetFigures: %+v", f)
	}
	s.Advance(6 * time.Hour)
	if f := balance(t, s, "EUR"); f.Available.LessThanOrEqual(odd.Available) || !f.Usable.Equal(f.Available.Sub(f.Reserve)) {
		t.Errorf("six hours of payments after SetFigures: %+v", f)
	}

	// A knob planted in the past (the clock set back) takes its place in the history.
	s.SetNow(testNow.Add(time.Hour))
	chf := balance(t, s, "CHF")
	s.SetNow(testNow.Add(30 * time.Minute))
	if err := s.DropAvailable(user, "CHF", dec("1.00")); err != nil {
		t.Fatal(err)
	}
	s.SetNow(testNow.Add(time.Hour))
	if f := balance(t, s, "CHF"); !f.Available.Equal(chf.Available.Sub(dec("1.00"))) {
		t.Errorf("at +1h after a drop planted at +30m: available %s, want %s", f.Available, chf.Available.Sub(dec("1.00")))
	}

	for _, err := range []error{
		s.SetReserve("nobody", "EUR", dec("1")),
		s.SetDeposit(user, "USD", dec("1")),
		s.DropAvailable(user, "", dec("1")),
	} {
		if err == nil {
			t.Error("a knob on an unknown merchant or wallet: no error")
		}
	}
}

func TestQuietWalletsMoveOnlyByKnobs(t *testing.T) {
	t.Parallel()
	s := setup(t, yabandpaytest.Options{})
	before := balance(t, s, "EUR")
	s.SetNow(testNow.Add(400 * 24 * time.Hour))
	if after := balance(t, s, "EUR"); !sameFigures(before, after) {
		t.Errorf("a quiet wallet moved: %+v → %+v", before, after)
	}
}

func TestMerchants(t *testing.T) {
	t.Parallel()
	// The zero Options: DefaultUser with a random key, EUR and CHF.
	s, err := yabandpaytest.New(yabandpaytest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	key, err := s.SecretKey(yabandpaytest.DefaultUser)
	if err != nil || len(key) != 32 {
		t.Errorf("default key %q, %v", key, err)
	}
	if cs, _ := s.Currencies(yabandpaytest.DefaultUser); strings.Join(cs, ",") != "EUR,CHF" {
		t.Errorf("default currencies %v", cs)
	}
	if err := s.AddCurrency(yabandpaytest.DefaultUser, yabandpaytest.CurrencyOptions{Currency: "GBP"}); err != nil {
		t.Error(err)
	}
	if f, err := s.Balance(yabandpaytest.DefaultUser, "GBP"); err != nil || !f.Reserve.Equal(dec("200")) {
		t.Errorf("GBP opening %+v, %v", f, err)
	}
	for name, err := range map[string]error{
		"a merchant added twice": s.AddMerchant(yabandpaytest.MerchantOptions{}),
		"an operator UID taken by a merchant": s.AddMerchant(yabandpaytest.MerchantOptions{User: "2",
			Operators: []string{yabandpaytest.DefaultUser}}),
		"a currency added twice":         s.AddCurrency(yabandpaytest.DefaultUser, yabandpaytest.CurrencyOptions{Currency: "EUR"}),
		"a currency that is not ISO":     s.AddCurrency(yabandpaytest.DefaultUser, yabandpaytest.CurrencyOptions{Currency: "eur"}),
		"an unknown merchant's currency": s.AddCurrency("nobody", yabandpaytest.CurrencyOptions{Currency: "USD"}),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if got := s.Merchants(); strings.Join(got, ",") != yabandpaytest.DefaultUser {
		t.Errorf("Merchants() = %v", got)
	}
}
