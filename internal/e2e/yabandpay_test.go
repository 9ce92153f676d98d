package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/ledger"
	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
	"github.com/mizanhq/mizan/internal/sources/yabandpay/yabandpaytest"
)

func TestYabandPaySnapshotsOpenTheLedgerAndAlertOnReserveAndFalls(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, checksNow, vandartest.Options{Businesses: []vandartest.BusinessOptions{{Slug: "acme", Empty: true}}})
	ysim := b.addYabandPay(yabandpaytest.Options{Merchants: []yabandpaytest.MerchantOptions{{User: "036870", Quiet: true}}})
	balance := func(name, cur string) decimal.Decimal {
		t.Helper()
		v, err := ledger.Balance(ctx, b.pool, "assets:yabandpay:036870:"+name+":"+cur)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	b.run(ctx)
	for _, cur := range []string{"EUR", "CHF"} {
		f, err := ysim.Balance("036870", cur)
		if err != nil {
			t.Fatal(err)
		}
		// The simulator follows YabandPay's text, usable = available − reserve: the reserve is inside available
		// and is not counted again as an account of its own.
		c := strings.ToLower(cur)
		if !balance("wallet", c).Equal(f.Available) || !balance("reserve", c).IsZero() || !balance("deposit", c).Equal(f.Deposit) ||
			!f.Usable.Equal(f.Available.Sub(f.Reserve)) {
			t.Fatalf("%s: ledger %s/%s/%s, reported %+v", cur, balance("wallet", c), balance("reserve", c), balance("deposit", c), f)
		}
	}
	if got := b.alerts(ctx); len(got) != 0 {
		t.Fatalf("the first snapshot opens the ledger without an alert: %+v", got)
	}
	// A quiet hour: nothing changes, nothing is raised.
	b.setNow(checksNow.Add(time.Hour))
	b.run(ctx)
	if got := b.alerts(ctx); len(got) != 0 {
		t.Fatalf("alerts on unchanged balances: %+v", got)
	}
	// The reserve changes in EUR and available falls in CHF: one alert each, and the ledger follows the
	// provider through suspense.
	must(t, ysim.SetReserve("036870", "EUR", decimal.RequireFromString("350.00")))
	must(t, ysim.DropAvailable("036870", "CHF", decimal.RequireFromString("125.50")))
	b.setNow(checksNow.Add(2 * time.Hour))
	b.run(ctx)
	got := b.alerts(ctx)
	if len(got) != 2 {
		t.Fatalf("%d alerts, want 2: %+v", len(got), got)
	}
	var reserve, fall bool
	for _, a := range got {
		reserve = reserve || (strings.Contains(a.Subject, "EUR/reserve") && strings.Contains(a.Summary, "350"))
		fall = fall || (strings.Contains(a.Subject, "CHF/available") && strings.Contains(a.Summary, "125.5"))
	}
	if !reserve || !fall {
		t.Fatalf("alerts: %+v", got)
	}
	if !balance("reserve", "eur").IsZero() {
		t.Fatalf("reserve in the ledger %s: it is inside available", balance("reserve", "eur"))
	}
	if n := b.count(ctx, `SELECT count(*) FROM ledger.balances WHERE account LIKE 'liabilities:yabandpay:036870:suspense:%'`); n == 0 {
		t.Fatal("unexplained changes were not posted to suspense")
	}
}
