package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

// The world moves while the chaos runs. Besides the settled month, each business gets live items, drawn from
// the seed when the world is made and timed on the real clock from the chaos's start: payments that wait
// (status 3) and then succeed or fail, settlements that are PENDING and then DONE, FAILED or CANCELED (the
// last two bringing their money back as a later -6 item), a batch whose items are INIT and then paid, failed
// or cancelled, refunds, cash-ins, internal transfers, corrections. Access tokens are expired a few times on
// the same schedule, so the pollers refresh and rotate their pairs mid-chaos, one refresh faulted and one
// expiry raced by both pollers (tokens.go), and one payment is restated (a new amount) mid-chaos, once mizan
// has posted it (see restateMidChaos).
//
// The simulator runs on the real clock, not on one the suite steps: mizan's watermark ("everything up to the
// cutoff, the poll's start, is published") and its balance observation time are the poller's clock, so a
// world whose items appeared with times behind that clock would break the provider's promises, not test
// mizan. What the world becomes is fixed by the seed; only when each change is seen depends on the machine,
// and the suite checks only the end state: it waits for the last live change before the final poll.

// liveItem is a planned live item: the business and the item the simulator gave it.
type liveItem struct {
	biz  string
	item vandartest.Item
}

// restatement is the one restated payment: posted first with from, then reported with to, no earlier than
// at and only once mizan has posted it.
type restatement struct {
	biz      string
	id       int64
	from, to int64
	at       time.Time
	done     atomic.Bool
}

type live struct {
	start, end time.Time   // of the live items (end: the last change of any)
	items      []liveItem  // as added, in their final state's plan
	expiries   []time.Time // when every access token is expired (more follow until the pollers have raced)
	faulted    []bool      // by expiry: the refresh after it is faulted
	restate    *restatement
	refresh    *refreshGate

	movesMu sync.Mutex
	moves   []time.Time // every moment a live item appears or changes, sorted; the restatement's once due
}

// balanceGuard is how long before a live change a balance request is held back until the change has
// happened: the poller stamps a balance with the time its answer arrives, so an answer computed just before
// an item moved the wallet and read just after would disagree with the ledger at that moment — a transient
// balance alert no restart or kill caused, which the suite keeps out of its verdict. A second is far beyond
// the time an answer takes (the slow fault delays one by 300ms).
const balanceGuard = time.Second

// liveTick is the grid the live changes fall on.
const liveTick = 5 * time.Second

// planLive adds each business's live items to the simulator, timed from start over span, and plans the
// token expiries. Items the wallet cannot afford at their time are left out, as Vandar refuses them.
func planLive(vsim *vandartest.Server, seed uint64, start time.Time, span time.Duration, perBusiness, refreshFaults int) (*live, error) {
	l := &live{start: start, refresh: newRefreshGate()}
	if perBusiness <= 0 {
		return l, nil
	}
	rng := rand.New(rand.NewPCG(seed, 0x6c697665))
	// Every live change falls on a tick of liveTick (start is put on one too), so that a balance request is
	// held back only in the second before a tick (holdBalance), never through a stream of changes.
	start = start.Truncate(liveTick)
	l.start = start
	ticks := func(lo, hi int) time.Duration { return time.Duration(lo+rng.IntN(hi-lo+1)) * liveTick }
	amount := func(lo, hi int64) int64 { return (lo + rng.Int64N(hi-lo)) / 1000 * 1000 }
	for _, biz := range vsim.Businesses() {
		for range perBusiness {
			at := start.Add(time.Duration(rng.Int64N(max(1, int64(span/liveTick)))) * liveTick)
			var n vandartest.NewItem
			switch x := rng.IntN(100); {
			case x < 35:
				a := amount(10_000, 2_000_000)
				n = vandartest.NewItem{Kind: vandartest.KindIPG, Amount: a, Wage: min(a/100, 5_000), ResolvedAt: at.Add(ticks(1, 4))}
				if rng.IntN(100) < 15 {
					n.Status = vandartest.StatusPaymentFailed
				}
				if rng.IntN(3) == 0 {
					n.Kind = vandartest.KindForm
				}
			case x < 45:
				a := amount(100_000, 5_000_000)
				n = vandartest.NewItem{Kind: vandartest.KindCashIn, Amount: a, Wage: min(a/1000, 5_000)}
			case x < 50:
				a := amount(50_000, 1_000_000)
				n = vandartest.NewItem{Kind: vandartest.KindSubscription, Amount: a, Wage: min(a/100, 5_000)}
			case x < 55:
				n = vandartest.NewItem{Kind: vandartest.KindInternalDeposit, Amount: amount(100_000, 3_000_000)}
			case x < 60:
				n = vandartest.NewItem{Kind: vandartest.KindInternalWithdrawal, Amount: amount(50_000, 500_000)}
			case x < 65:
				n = vandartest.NewItem{Kind: vandartest.KindCorrection, Amount: amount(1_000, 200_000), Out: rng.IntN(2) == 0}
			case x < 75:
				n = vandartest.NewItem{Kind: vandartest.KindRefund, Amount: amount(10_000, 300_000), Wage: 1_000}
			default:
				n = vandartest.NewItem{Kind: vandartest.KindSettlement, Amount: amount(5_000, 800_000), Wage: 1_000,
					ResolvedAt: at.Add(ticks(1, 6))}
				switch y := rng.IntN(100); {
				case y < 20:
					n.Status = vandartest.StatusSettlementFailed
				case y < 40:
					n.Status = vandartest.StatusSettlementCanceled
				}
			}
			n.CreatedAt = at
			it, err := vsim.AddItem(biz, n)
			if err != nil {
				if errors.Is(err, vandartest.ErrInsufficientFunds) {
					continue
				}
				return nil, fmt.Errorf("live item of %s: %w", biz, err)
			}
			l.items = append(l.items, liveItem{biz, it})
			l.moves = append(l.moves, it.CreatedAt, it.ResolvedAt)
			l.end = maxTime(l.end, it.ResolvedAt)
		}
	}
	// One batch settlement each: its items INIT, then paid (SUBMITTED), FAILED or CANCELED.
	for _, biz := range vsim.Businesses() {
		at := start.Add(time.Duration(rng.Int64N(max(1, int64(span/liveTick)))) * liveTick)
		var n vandartest.NewBatch
		for range 3 {
			it := vandartest.NewBatchItem{Amount: amount(5_000, 400_000), ResolvedAt: at.Add(ticks(1, 6))}
			switch y := rng.IntN(100); {
			case y < 20:
				it.Status = vandartest.StatusSettlementFailed
			case y < 40:
				it.Status = vandartest.StatusSettlementCanceled
			}
			n.Items = append(n.Items, it)
		}
		n.CreatedAt = at
		bt, err := vsim.AddBatch(biz, n)
		if errors.Is(err, vandartest.ErrInsufficientFunds) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("live batch of %s: %w", biz, err)
		}
		for _, it := range bt.Items {
			l.items = append(l.items, liveItem{biz, it})
			l.moves = append(l.moves, it.CreatedAt, it.ResolvedAt)
			l.end = maxTime(l.end, it.ResolvedAt)
		}
	}
	slices.SortFunc(l.moves, func(a, b time.Time) int { return a.Compare(b) })
	// From the second expiry on, as many as the setting says have the refresh that follows faulted; the first
	// stays a plain rotation under the chaos.
	for i := 1; i <= 3; i++ {
		l.expiries = append(l.expiries, start.Add(span*time.Duration(i)/4))
		l.faulted = append(l.faulted, i >= 2 && i-1 <= refreshFaults)
	}
	// The payment to restate: the live acme payment that succeeds first, restated restateAfter after it
	// succeeds — mid-chaos, while processes are being killed — or as soon after as mizan has posted it.
	var first time.Time
	for _, li := range l.items {
		it := li.item
		if li.biz == clean && (it.Kind == vandartest.KindIPG || it.Kind == vandartest.KindForm) &&
			it.FinalStatus == vandartest.StatusPaymentSucceeded && (first.IsZero() || it.ResolvedAt.Before(first)) {
			first = it.ResolvedAt
			l.restate = &restatement{biz: clean, id: it.ID, from: it.Amount, to: it.Amount + 5_000, at: it.ResolvedAt.Add(restateAfter)}
		}
	}
	return l, nil
}

// restateAfter is how long after the restated payment succeeds the suite first looks for it in the ledger.
const restateAfter = 3 * liveTick

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// holdBalance holds a balance request back while a live change is due within balanceGuard, until it has
// happened.
func (l *live) holdBalance() {
	for {
		now := time.Now()
		l.movesMu.Lock()
		i, _ := slices.BinarySearchFunc(l.moves, now, func(m, t time.Time) int {
			if m.After(t) {
				return 1
			}
			return -1
		})
		var next time.Time
		if i < len(l.moves) {
			next = l.moves[i]
		}
		l.movesMu.Unlock()
		if next.IsZero() || next.Sub(now) > balanceGuard {
			return
		}
		time.Sleep(next.Sub(now) + 50*time.Millisecond)
	}
}

// announce adds a moment the world changes at, at least twice balanceGuard from now, so that balance requests
// are held back before it like before any planned change; it returns the moment.
func (l *live) announce() time.Time {
	at := time.Now().Add(2 * balanceGuard).Truncate(time.Second).Add(time.Second)
	l.movesMu.Lock()
	defer l.movesMu.Unlock()
	i, _ := slices.BinarySearchFunc(l.moves, at, func(m, t time.Time) int { return m.Compare(t) })
	l.moves = slices.Insert(l.moves, i, at)
	return at
}

// restate restates the payment mid-chaos: from its planned moment on, as soon as mizan has posted it (a
// restatement of an item mizan never saw would be a new item, not a changed one) — waiting for that through
// the kills and restarts, for as long as the chaos lasts; the chaos does not end before it is done. The
// moment is announced first, so that no balance Vandar computes before it arrives at the poller after it
// (holdBalance). mizan must then tell a balance observed before the restatement from one after it: the
// changed_item alert stays open, no balance alert is raised for the same money
// (TestABalanceFromBeforeARestatementLeavesItsAlertOpen, internal/apply). A no-op without a payment to restate.
func (l *live) restateMidChaos(ctx context.Context, vsim *vandartest.Server, posted func(context.Context, string) bool, logf func(string, ...any)) {
	r := l.restate
	if r == nil {
		return
	}
	key := fmt.Sprintf("vandar:%s:statement:%d", r.biz, r.id)
	sleep(ctx, time.Until(r.at))
	for ctx.Err() == nil && !posted(ctx, key) {
		sleep(ctx, 500*time.Millisecond)
	}
	if ctx.Err() != nil {
		return
	}
	at := l.announce()
	sleep(ctx, time.Until(at))
	if ctx.Err() != nil {
		return
	}
	if err := vsim.ChangeAmount(r.biz, r.id, r.to); err != nil {
		logf("world: could not restate %s: %v", key, err)
		return
	}
	r.done.Store(true)
	logf("world: %s item %d restated from %d to %d toman, mid-chaos, after mizan posted it", r.biz, r.id, r.from, r.to)
}

// restated reports whether the restatement is done, or there is none to do.
func (l *live) restated() bool { return l.restate == nil || l.restate.done.Load() }
