package e2e

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/config"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/ledger"
	"github.com/mizanhq/mizan/internal/sources/vandar"
	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
	"github.com/mizanhq/mizan/internal/sources/yabandpay/yabandpaytest"
)

// allFeeds polls every Vandar feed.
var allFeeds = map[string]string{events.FeedStatement: "@every 1m", events.FeedBalance: "@every 5m",
	events.FeedSettlements: "@every 5m", events.FeedBatches: "@every 10m"}

// addVandar adds another business of the bundle's simulator as a source of its own.
func (b *bundle) addVandar(business string) {
	b.t.Helper()
	access, refresh, _ := b.sim.IssueTokens(business)
	b.extra = append(b.extra, config.Source{Name: "vandar-" + business, Provider: events.ProviderVandar, Feeds: allFeeds,
		Settings: vandar.Settings{Business: business, APIURL: b.vandarSettings().APIURL, BatchURL: b.vandarSettings().BatchURL,
			AccessToken: config.Secret(access), RefreshToken: config.Secret(refresh)}})
	b.poller = b.newPoller()
}

// inTransit is what the simulator says is on its way to the bank: settlements that left the wallet and are
// neither paid nor returned.
func inTransit(b *bundle, business string) decimal.Decimal {
	sum := decimal.Zero
	for _, it := range b.sim.Items(business) {
		if it.Kind == vandartest.KindSettlement && !it.EffectiveAt.IsZero() && it.Status == vandartest.StatusSettlementPending {
			sum = sum.Add(decimal.NewFromInt(it.Amount))
		}
	}
	return sum
}

func TestAMonthOfEverySourceAcrossTenantsPostsOnceAndRaisesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, checksNow, vandartest.Options{Businesses: []vandartest.BusinessOptions{
		{Slug: "acme", Seed: 51, Start: checksStart, Days: 30, PerDay: 40, OpeningWallet: 5_000_000},
		{Slug: "globex", Seed: 52, Start: checksStart, Days: 30, PerDay: 25, OpeningWallet: 1_000_000},
	}})
	b.src.Feeds = allFeeds
	b.addVandar("globex")
	b.addYabandPay(yabandpaytest.Options{Merchants: []yabandpaytest.MerchantOptions{{User: "036870", Quiet: true}}})

	b.run(ctx)
	b.setNow(checksNow.Add(time.Minute))
	b.run(ctx) // polling again changes nothing

	for _, biz := range []string{"acme", "globex"} {
		bal, err := ledger.Balance(ctx, b.pool, "assets:vandar:"+biz+":wallet")
		if err != nil {
			t.Fatal(err)
		}
		mustEqualWallet(t, bal, b.sim.Wallet(biz))
		transit, err := ledger.Balance(ctx, b.pool, "assets:vandar:"+biz+":settlements_in_transit")
		if err != nil {
			t.Fatal(err)
		}
		if want := inTransit(b, biz); !transit.Equal(want) {
			t.Errorf("%s: %s in transit in the ledger, the simulator has %s on its way", biz, transit, want)
		}
		if n := b.count(ctx, `SELECT count(*) FROM ledger.entries WHERE metadata->>'kind' = 'payout_done'
			AND idempotency_key LIKE $1`, "vandar:"+biz+":%"); n == 0 {
			t.Errorf("%s: no settlement reached the bank account in the ledger", biz)
		}
	}
	// Every done settlement is posted to the bank exactly once, however often it was reported done.
	if n := b.count(ctx, `SELECT count(*) FROM recon.settlements WHERE status = 'DONE'`); n != b.count(ctx,
		`SELECT count(*) FROM ledger.entries WHERE metadata->>'kind' = 'payout_done' AND metadata->>'source' = 'settlement'`) {
		t.Fatalf("%d done settlements, a different number of bank entries", n)
	}
	if n := b.count(ctx, `SELECT count(*) FROM recon.check_results WHERE check_name = 'batch' AND outcome = 'OK'`); n == 0 {
		t.Error("no batch was checked")
	}
	// Tenants never mix: every posting's account belongs to the business or merchant of its entry.
	if n := b.count(ctx, `
		SELECT count(*) FROM ledger.postings p
		JOIN ledger.accounts a ON a.id = p.account_id JOIN ledger.entries e ON e.id = p.entry_id
		WHERE split_part(a.code, ':', 3) <> split_part(e.idempotency_key, ':', 2)`); n != 0 {
		t.Fatalf("%d postings on another tenant's account", n)
	}
	for _, cur := range []string{"eur", "chf"} {
		if n := b.count(ctx, `SELECT count(*) FROM ledger.balances WHERE account = $1`, "assets:yabandpay:036870:wallet:"+cur); n != 1 {
			t.Errorf("no YabandPay %s wallet", cur)
		}
	}
	// A clean month raises nothing but one warning per payout that did not reach its recipient — every
	// failed or cancelled settlement and batch item of the month, whether its money came back or not.
	failed, others := splitAlerts(b.alerts(ctx), "payout_failed")
	if len(others) != 0 {
		t.Fatalf("alerts on a clean month: %+v", others)
	}
	want := map[string]bool{}
	for _, slug := range b.sim.Businesses() {
		for _, it := range b.sim.Items(slug) {
			if it.Kind == vandartest.KindSettlement && (it.FinalStatus == vandartest.StatusSettlementFailed ||
				it.FinalStatus == vandartest.StatusSettlementCanceled) && !it.ResolvedAt.After(b.sim.Now()) {
				want[fmt.Sprintf("vandar/%s/payout/%d", slug, it.ID)] = true
			}
		}
	}
	got := map[string]bool{}
	for _, a := range failed {
		got[a.Subject] = true
		if !strings.Contains(a.Summary, " IRT to IR") || !strings.Contains(a.Summary, "did not reach its recipient") {
			t.Errorf("a failed payout's alert does not name the amount and the IBAN: %s", a.Summary)
		}
	}
	if len(want) == 0 || !maps.Equal(want, got) {
		t.Fatalf("failed payouts alerted %v, want %v", got, want)
	}
}

// splitAlerts separates the alerts of one kind from the others.
func splitAlerts(all []alert, kind string) (of, others []alert) {
	for _, a := range all {
		if a.Kind == kind {
			of = append(of, a)
		} else {
			others = append(others, a)
		}
	}
	return of, others
}

func TestPayoutDiscrepanciesRaiseOneAlertEach(t *testing.T) {
	t.Parallel()
	batchItems := func(b *bundle) map[int64]bool {
		inBatch := map[int64]bool{} // batch items are not in the settlement list
		for _, bt := range b.sim.Batches("acme") {
			for _, it := range bt.Items {
				inBatch[it.ID] = true
			}
		}
		return inBatch
	}
	pick := func(t *testing.T, b *bundle, final int) vandartest.Item {
		t.Helper()
		inBatch := batchItems(b)
		for _, it := range b.sim.Items("acme") {
			if it.Kind == vandartest.KindSettlement && it.FinalStatus == final && !inBatch[it.ID] &&
				it.CreatedAt.After(checksStart.AddDate(0, 0, 5)) {
				return it
			}
		}
		t.Fatalf("no settlement ending %d", final)
		return vandartest.Item{}
	}
	tests := []struct {
		name, kind string
		plant      func(t *testing.T, b *bundle) string // returns what the alert must mention
	}{
		{"a settlement stuck at the bank", "settlement", func(t *testing.T, b *bundle) string {
			it := pick(t, b, vandartest.StatusSettlementDone)
			must(t, b.sim.StickSettlement("acme", it.ID))
			return it.TrackID
		}},
		{"a failed settlement whose money never came back", "settlement_return", func(t *testing.T, b *bundle) string {
			// A small payout that fails near the end of the month: without its return the wallet still covers
			// everything after it.
			it, err := b.sim.AddItem("acme", vandartest.NewItem{Kind: vandartest.KindSettlement, Amount: 20_000,
				CreatedAt: checksNow.Add(-10 * time.Hour), Status: vandartest.StatusSettlementFailed,
				ResolvedAt: checksNow.Add(-9 * time.Hour)})
			must(t, err)
			must(t, b.sim.WithholdReturn("acme", it.ID))
			return it.TrackID
		}},
		{"a batch that does not add up", "batch", func(t *testing.T, b *bundle) string {
			bs := b.sim.Batches("acme")
			if len(bs) == 0 {
				t.Fatal("no batch in the simulated month")
			}
			must(t, b.sim.MisstateBatch("acme", bs[0].ID, 70_000))
			return bs[0].ID
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t, checksNow, vandartest.Options{Businesses: []vandartest.BusinessOptions{
				{Slug: "acme", Seed: 61, Start: checksStart, Days: 30, PerDay: 40, OpeningWallet: 5_000_000},
			}})
			b.src.Feeds = allFeeds
			b.poller = b.newPoller()
			mention := tt.plant(t, b)
			b.run(ctx)
			b.setNow(checksNow.Add(3 * time.Hour)) // past the default two hours' grace
			b.run(ctx)
			b.run(ctx) // seen again: still one alert
			// Failed payouts are warnings of their own (TestAMonthOfEverySourceAcrossTenantsPostsOnceAndRaisesNothing).
			_, got := splitAlerts(b.alerts(ctx), "payout_failed")
			if len(got) != 1 || got[0].Kind != tt.kind {
				t.Fatalf("alerts %+v, want one %s", got, tt.kind)
			}
			if !strings.Contains(got[0].Summary, mention) {
				t.Errorf("the alert does not name %s: %s", mention, got[0].Summary)
			}
			mustEqualWallet(t, b.walletBalance(ctx), b.sim.Wallet("acme"))
		})
	}
}
