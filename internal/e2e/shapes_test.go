package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
	"github.com/mizanhq/mizan/internal/sources/yabandpay/yabandpaytest"
)

// The whole pipeline — poller, Kafka, reconciler, ledger, checks — run once against the simulators' documented
// answers and once against the same histories written in every shape that keeps their meaning (PHP empties,
// numbers as strings, Persian digits, floats, ISO times, millisecond epochs, Laravel resources, CANCELLED,
// signed outgoing amounts, a token refresh answer wrapped as {"status":1,"data":…}, …; YabandPay's status "1",
// code "0", a numeric UID, …) and without the statement's has_more, ends with the same ledger, entry for entry
// and balance for balance, and the same alerts. The access token has expired before each run, so the poller
// must read the (wrapped) refresh answer before anything else; without has_more it must page on until an
// empty page rather than stop after the first. Left out: seconds-less times (they change the facts, by design).
func TestThePipelineReadsEveryShapeAsTheSameLedger(t *testing.T) {
	t.Parallel()
	shapes := vandartest.ShapesKeepingMeaning | vandartest.ShapeNoHasMore
	run := func(vsh vandartest.Shape, ysh yabandpaytest.Shape) (ledger string, alerts []string) {
		ctx := context.Background()
		b := setup(t, checksNow, vandartest.Options{Shapes: vsh, Businesses: []vandartest.BusinessOptions{
			{Slug: "acme", Seed: 71, Start: checksStart, Days: 20, PerDay: 30, OpeningWallet: 3_000_000}}})
		b.src.Feeds = allFeeds
		b.addYabandPay(yabandpaytest.Options{Shapes: ysh, Merchants: []yabandpaytest.MerchantOptions{{User: "036870",
			Quiet: true}}})
		b.sim.ExpireAccessTokenNow()
		b.run(ctx)
		if n := b.sim.Requests(vandartest.EndpointRefreshToken); n != 1 {
			t.Errorf("shapes %v: %d token refreshes, want 1: the expired access token was not renewed once", vsh, n)
		}
		if n := b.sim.RefreshReuses(); n != 0 {
			t.Errorf("shapes %v: a refresh token was presented again %d times", vsh, n)
		}
		mustEqualWallet(t, b.walletBalance(ctx), b.sim.Wallet("acme"))
		for _, a := range b.alerts(ctx) {
			alerts = append(alerts, fmt.Sprintf("%s %s", a.Kind, a.Subject))
		}
		slices.Sort(alerts)
		return b.ledgerSnapshot(ctx), alerts
	}
	wantLedger, wantAlerts := run(0, 0)
	gotLedger, gotAlerts := run(shapes, yabandpaytest.AllShapes)
	if gotLedger != wantLedger {
		t.Errorf("ledger from the shaped answers:\n%s\nfrom the documented ones:\n%s", gotLedger, wantLedger)
	}
	if !slices.Equal(gotAlerts, wantAlerts) {
		t.Errorf("alerts from the shaped answers %v, from the documented ones %v", gotAlerts, wantAlerts)
	}
}
