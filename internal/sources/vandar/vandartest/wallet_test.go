package vandartest_test

import (
	"errors"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

// net is an item's effect on the wallet by mizan's rules: in, amount − wage; out, −(amount + wage).
func net(it item) int64 {
	if it.IsDeposit {
		return it.Amount - it.Wage
	}
	return -(it.Amount + it.Wage)
}

// chain orders the items that moved the wallet by (effective time, id), as the running-balance check does.
func chain(items []item) []item {
	var moved []item
	for _, it := range items {
		if it.EffectiveTimeStamp != nil {
			moved = append(moved, it)
		}
	}
	slices.SortStableFunc(moved, func(a, b item) int {
		if *a.EffectiveTimeStamp != *b.EffectiveTimeStamp {
			return int(*a.EffectiveTimeStamp - *b.EffectiveTimeStamp)
		}
		return int(a.ID - b.ID)
	})
	return moved
}

func TestWalletChainHoldsForAGeneratedMonth(t *testing.T) {
	t.Parallel()
	const opening = 2_500_000
	acme := month("acme", 11)
	acme.OpeningWallet = opening
	b := setup(t, vandartest.Options{Businesses: []vandartest.BusinessOptions{acme}})
	items, _ := b.statement(t, "acme", url.Values{"per_page": {"100"}, "sort": {"ASC"}})
	moved := chain(items)
	if len(moved) < 300 {
		t.Fatalf("only %d items moved the wallet", len(moved))
	}
	wallet := int64(opening)
	for _, it := range moved {
		wallet += net(it)
		if it.Wallet != wallet {
			t.Fatalf("item %d (status %d, %s): wallet %d, want %d", it.ID, it.Status, it.Channel, it.Wallet, wallet)
		}
		if wallet < 0 {
			t.Fatalf("item %d takes the wallet to %d", it.ID, wallet)
		}
	}
	if got := b.balance(t, "acme"); got != wallet {
		t.Errorf("balance endpoint says %d, the last item's wallet is %d", got, wallet)
	}
	if got := b.srv.Wallet("acme"); got != wallet {
		t.Errorf("Wallet() = %d, want %d", got, wallet)
	}
	statuses := map[int]int{}
	for _, it := range items {
		statuses[it.Status]++
		if it.EffectiveTimeStamp == nil && it.Wallet != 0 {
			t.Errorf("item %d has not moved the wallet but reports wallet %d", it.ID, it.Wallet)
		}
	}
	// A realistic month has every everyday status in it.
	for _, s := range []int{1, -1, 2, -2, 3, 5, -5, 6} {
		if statuses[s] == 0 {
			t.Errorf("no item with status %d in the month: %v", s, statuses)
		}
	}
}

func TestWalletAtFollowsTheChain(t *testing.T) {
	t.Parallel()
	b := setup(t, vandartest.Options{})
	items := b.srv.Items("acme")
	var last vandartest.Item
	for _, it := range items {
		if !it.EffectiveAt.IsZero() && it.EffectiveAt.After(last.EffectiveAt) {
			last = it
		}
	}
	if got := b.srv.WalletAt("acme", last.EffectiveAt); got != b.srv.Wallet("acme") {
		t.Errorf("WalletAt(last move) = %d, Wallet() = %d", got, b.srv.Wallet("acme"))
	}
	if got := b.srv.WalletAt("acme", testNow.AddDate(0, -2, 0)); got != 0 {
		t.Errorf("WalletAt before the history = %d, want the opening 0", got)
	}
}

// empty is a business with no generated history, for hand-made items.
func empty(t *testing.T) bundle {
	return setup(t, vandartest.Options{Businesses: []vandartest.BusinessOptions{{Slug: "acme", Empty: true}}})
}

func add(t *testing.T, b bundle, n vandartest.NewItem) vandartest.Item {
	t.Helper()
	it, err := b.srv.AddItem("acme", n)
	if err != nil {
		t.Fatal(err)
	}
	return it
}

func find(t *testing.T, b bundle, id int64) item {
	t.Helper()
	items, _ := b.statement(t, "acme", url.Values{"per_page": {"100"}})
	for _, it := range items {
		if it.ID == id {
			return it
		}
	}
	t.Fatalf("item %d is not in the statement", id)
	return item{}
}

func TestPendingPaymentSucceedsWhenTheClockPassesIt(t *testing.T) {
	t.Parallel()
	b := empty(t)
	cashIn := add(t, b, vandartest.NewItem{Kind: vandartest.KindCashIn, Amount: 1_000_000, Wage: 1_000,
		CreatedAt: testNow.Add(-2 * time.Hour)})
	success := testNow.Add(time.Hour)
	pay := add(t, b, vandartest.NewItem{Kind: vandartest.KindIPG, Amount: 250_000, Wage: 2_500,
		CreatedAt: testNow.Add(-time.Minute), ResolvedAt: success})

	got := find(t, b, pay.ID)
	if got.Status != 3 || got.Wallet != 0 || got.EffectiveTimeStamp != nil || got.EffectiveAtJalali != nil {
		t.Errorf("before its time: %+v; want status 3, wallet 0, no effective time", got)
	}
	if bal := b.balance(t, "acme"); bal != 999_000 {
		t.Errorf("balance before = %d, want the cash-in's 999,000", bal)
	}
	if pending, _ := b.statement(t, "acme", url.Values{"status": {"pending"}}); len(pending) != 1 {
		t.Errorf("status=pending lists %d items, want 1", len(pending))
	}

	b.srv.Advance(2 * time.Hour)
	got = find(t, b, pay.ID)
	if got.Status != 1 || got.EffectiveTimeStamp == nil || *got.EffectiveTimeStamp != success.Unix() {
		t.Fatalf("after its time: %+v; want status 1 effective at %d", got, success.Unix())
	}
	if got.UpdatedAt != *got.EffectiveAtJalali || got.UpdatedAt != "16:30:00 - 1403/1/22" {
		t.Errorf("updated_at %q, effective_at_jalali %q; want both the success time 16:30:00 - 1403/1/22",
			got.UpdatedAt, *got.EffectiveAtJalali)
	}
	if want := int64(999_000 + 247_500); got.Wallet != want || b.balance(t, "acme") != want {
		t.Errorf("wallet %d, balance %d; want %d", got.Wallet, b.balance(t, "acme"), want)
	}
	if cashIn.Wallet != 999_000 {
		t.Errorf("the cash-in's wallet is %d", cashIn.Wallet)
	}
}

func TestPaymentCreatedInTheFutureAppearsWhenItsTimeComes(t *testing.T) {
	t.Parallel()
	b := empty(t)
	later := add(t, b, vandartest.NewItem{Kind: vandartest.KindCashIn, Amount: 50_000, CreatedAt: testNow.Add(time.Hour)})
	if items, _ := b.statement(t, "acme", nil); len(items) != 0 {
		t.Fatalf("statement before the item exists: %+v", items)
	}
	b.srv.Advance(time.Hour)
	if got := find(t, b, later.ID); got.Status != 1 || got.Wallet != 50_000 {
		t.Errorf("after: %+v", got)
	}
}

func TestFailedSettlementIsReturnedByANewItem(t *testing.T) {
	t.Parallel()
	b := empty(t)
	add(t, b, vandartest.NewItem{Kind: vandartest.KindCashIn, Amount: 1_000_000, CreatedAt: testNow.Add(-time.Hour)})
	failAt := testNow.Add(3 * time.Hour)
	s := add(t, b, vandartest.NewItem{Kind: vandartest.KindSettlement, Amount: 600_000, Wage: 2_000,
		CreatedAt: testNow.Add(-time.Minute), Status: vandartest.StatusSettlementFailed, ResolvedAt: failAt})

	got := find(t, b, s.ID)
	if got.Status != -2 || got.IsDeposit || got.Wallet != 398_000 || got.TrackID == nil {
		t.Errorf("pending settlement: %+v; want -2, money out, wallet 398,000 (deducted on request), a track_id", got)
	}
	if bal := b.balance(t, "acme"); bal != 398_000 {
		t.Errorf("balance while pending = %d", bal)
	}

	b.srv.Advance(4 * time.Hour)
	items, _ := b.statement(t, "acme", url.Values{"sort": {"ASC"}})
	if len(items) != 3 {
		t.Fatalf("statement after the failure: %+v", items)
	}
	settled, ret := items[1], items[2]
	if settled.ID != s.ID || settled.Status != -3 || settled.Wallet != 398_000 {
		t.Errorf("failed settlement: %+v; want -3 keeping its deduction", settled)
	}
	if ret.Status != -6 || !ret.IsDeposit || ret.Wage != 0 || ret.Amount != 600_000 ||
		ret.RevisedTransactionID == nil || *ret.RevisedTransactionID != s.ID || ret.Wallet != 998_000 {
		t.Errorf("return: %+v; want -6, money in, wage 0, 600,000, revised_transaction_id %d, wallet 998,000", ret, s.ID)
	}
	if *ret.EffectiveTimeStamp != failAt.Unix() {
		t.Errorf("return effective at %d, want the failure time %d", *ret.EffectiveTimeStamp, failAt.Unix())
	}
	if bal := b.balance(t, "acme"); bal != 998_000 {
		t.Errorf("balance after = %d, want 998,000 (the fee is not returned)", bal)
	}
}

func TestAddItemRefusesToOverdrawTheWallet(t *testing.T) {
	t.Parallel()
	b := empty(t)
	add(t, b, vandartest.NewItem{Kind: vandartest.KindCashIn, Amount: 100_000, CreatedAt: testNow.Add(-time.Hour)})
	_, err := b.srv.AddItem("acme", vandartest.NewItem{Kind: vandartest.KindSettlement, Amount: 100_000, Wage: 1,
		CreatedAt: testNow.Add(-time.Minute)})
	if !errors.Is(err, vandartest.ErrInsufficientFunds) {
		t.Errorf("err = %v, want ErrInsufficientFunds", err)
	}
	// Nor before the money arrived.
	_, err = b.srv.AddItem("acme", vandartest.NewItem{Kind: vandartest.KindSettlement, Amount: 50_000,
		CreatedAt: testNow.Add(-2 * time.Hour)})
	if !errors.Is(err, vandartest.ErrInsufficientFunds) {
		t.Errorf("err = %v, want ErrInsufficientFunds", err)
	}
	if items, _ := b.statement(t, "acme", nil); len(items) != 1 {
		t.Errorf("a refused item stayed: %+v", items)
	}
}

func TestDiscrepancyKnobs(t *testing.T) {
	t.Parallel()
	b := empty(t)
	base := testNow.Add(-10 * time.Hour)
	var ids []int64
	for i := range 4 {
		it := add(t, b, vandartest.NewItem{Kind: vandartest.KindIPG, Amount: 100_000, Wage: 1_000,
			CreatedAt: base.Add(time.Duration(i) * time.Hour)})
		ids = append(ids, it.ID)
	}
	// Four payments of 99,000 net each.
	must(0, b.srv.HideItem("acme", ids[0]))
	must(0, b.srv.DuplicateItem("acme", ids[1]))
	must(0, b.srv.MisSignFee("acme", ids[2]))
	must(0, b.srv.ChangeAmount("acme", ids[3], 150_000))
	must(0, b.srv.DriftBalance("acme", -500))

	items, _ := b.statement(t, "acme", url.Values{"sort": {"ASC"}})
	var got []int64
	for _, it := range items {
		got = append(got, it.ID)
	}
	if want := []int64{ids[1], ids[1], ids[2], ids[3]}; !slices.Equal(got, want) {
		t.Fatalf("statement ids %v, want %v (first hidden, second twice)", got, want)
	}
	// The hidden item still counts: the second's wallet is two payments' worth.
	if items[0].Wallet != 198_000 {
		t.Errorf("item after the hidden one: wallet %d, want 198,000", items[0].Wallet)
	}
	if items[2].Wage != 1_000 || items[2].Wallet != 198_000+101_000 {
		t.Errorf("mis-signed fee: %+v; want wage still 1,000 and wallet 299,000", items[2])
	}
	if items[3].Amount != 150_000 || items[3].Wallet != 299_000+149_000 {
		t.Errorf("changed amount: %+v; want 150,000 and wallet 448,000", items[3])
	}
	if bal := b.balance(t, "acme"); bal != 448_000-500 {
		t.Errorf("balance %d, want the wallet 448,000 drifted by -500", bal)
	}
	if w := b.srv.Wallet("acme"); w != 448_000 {
		t.Errorf("Wallet() %d: the truth does not drift", w)
	}
	truth := b.srv.Items("acme")
	if !truth[0].Hidden || !truth[1].Duplicated || !truth[2].FeeMisSigned {
		t.Errorf("Items does not say what was planted: %+v", truth)
	}
	if err := b.srv.HideItem("acme", 123); !errors.Is(err, vandartest.ErrUnknownItem) {
		t.Errorf("unknown item: %v", err)
	}
}
