package bench

import (
	"context"
	"slices"
	"strconv"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/posting"
)

// The benchmark's histories are read in full by the real Vandar client, in id order, once, with running
// balances that follow from the items in the order they moved the wallet, and every item has settled.
func TestTheBenchmarkHistoryIsReadInFull(t *testing.T) {
	t.Parallel()
	sim, err := newSimulator(false, history("acme", 3, 1_234), history("globex", 4, 1_234))
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	want, last := statementSize(sim, "acme")
	if want < 1_234*8/10 || want > 1_234*12/10+2 {
		t.Fatalf("asked for about 1234 items, the simulator has %d", want)
	}
	items, err := readStatement(context.Background(), sim, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != want || items[len(items)-1].ItemID != last {
		t.Fatalf("read %d items ending %s; the simulator has %d ending %s", len(items), items[len(items)-1].ItemID, want, last)
	}
	var moved []events.StatementItem
	for i, it := range items {
		if i > 0 {
			prev, _ := strconv.ParseInt(items[i-1].ItemID, 10, 64)
			if id, _ := strconv.ParseInt(it.ItemID, 10, 64); id <= prev {
				t.Fatalf("item %d: id %d after %d", i, id, prev)
			}
		}
		if it.State == events.StatePending {
			t.Fatalf("item %s is still pending", it.ItemID)
		}
		if it.MovedWallet {
			moved = append(moved, it)
		}
	}
	sortByRelease(moved)
	wallet := decimal.Zero
	for _, it := range moved {
		wallet = wallet.Add(posting.NetEffect(it))
		if it.WalletAfter == nil || !it.WalletAfter.Equal(wallet) {
			t.Fatalf("item %s reports wallet %v; the items before it make %v", it.ItemID, it.WalletAfter, wallet)
		}
	}
	if len(moved) < len(items)*3/4 || slices.ContainsFunc(items, func(it events.StatementItem) bool { return it.Account != "acme" }) {
		t.Errorf("%d of %d items moved the wallet", len(moved), len(items))
	}
}
