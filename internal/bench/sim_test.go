package bench

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/posting"
	"github.com/mizanhq/mizan/internal/sources/vandar"
)

// The real Vandar client reads every item Sim serves, in order, once, and the running balances it reports
// follow from the items in the order they moved the wallet: Sim is a provider the poller can be measured on.
func TestSimServesAStatementTheVandarClientReads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim, err := NewSim(SimOptions{Businesses: []string{"acme", "globex"}, Items: 1_234, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	access, refresh := sim.IssueTokens("acme")
	client, err := vandar.New(vandar.Config{APIURL: sim.URL, BatchURL: sim.URL, Business: "acme",
		Tokens: &staticTokens{vandar.Tokens{Access: access, Refresh: refresh}}, GetLimit: 1e6, GetBurst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var items []events.StatementItem
	q := vandar.StatementQuery{Sort: vandar.SortAsc, PerPage: 100}
	for {
		page, err := client.Statement(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, page.Items...)
		if !page.HasMore {
			break
		}
		q.StartAfter = page.Next
	}
	if len(items) != 1_234 || sim.Items("acme") != 1_234 {
		t.Fatalf("read %d items, the simulator has %d; want 1234", len(items), sim.Items("acme"))
	}
	if items[len(items)-1].ItemID != sim.LastID("acme") {
		t.Errorf("last item %s, the simulator's last is %s", items[len(items)-1].ItemID, sim.LastID("acme"))
	}
	kinds := map[string]int{}
	var moved []events.StatementItem
	for i, it := range items {
		kinds[it.Kind+"/"+it.State]++
		if i > 0 {
			prev, _ := strconv.ParseInt(items[i-1].ItemID, 10, 64)
			id, _ := strconv.ParseInt(it.ItemID, 10, 64)
			if id <= prev {
				t.Fatalf("item %d: id %d after %d", i, id, prev)
			}
		}
		if it.MovedWallet {
			moved = append(moved, it)
		}
	}
	for _, k := range []string{"payment/succeeded", "payment/failed", "settlement/succeeded"} {
		if kinds[k] == 0 {
			t.Errorf("no %s item among %v", k, kinds)
		}
	}
	slices.SortStableFunc(moved, func(a, b events.StatementItem) int { return a.EffectiveAt.Compare(b.EffectiveAt) })
	wallet := decimal.Zero
	for _, it := range moved {
		wallet = wallet.Add(posting.NetEffect(it))
		if it.WalletAfter == nil || !it.WalletAfter.Equal(wallet) {
			t.Fatalf("item %s reports wallet %v; the items before it make %v", it.ItemID, it.WalletAfter, wallet)
		}
		if wallet.IsNegative() {
			t.Fatalf("item %s takes the wallet below zero: %v", it.ItemID, wallet)
		}
	}

	// The re-read window: a day filter selects that Tehran day's items only.
	day := items[600].CreatedAt
	page, err := client.Statement(ctx, vandar.StatementQuery{Sort: vandar.SortAsc, PerPage: 100, FromDate: day, ToDate: day})
	if err != nil {
		t.Fatal(err)
	}
	tehran, _ := time.LoadLocation("Asia/Tehran")
	for _, it := range page.Items {
		if vandar.JalaliDate(it.CreatedAt.In(tehran)) != vandar.JalaliDate(day.In(tehran)) {
			t.Fatalf("day filter %s returned item %s of %s", vandar.JalaliDate(day), it.ItemID, it.CreatedAt)
		}
	}
	if len(page.Items) == 0 {
		t.Fatalf("day filter %s returned nothing", vandar.JalaliDate(day))
	}
}
