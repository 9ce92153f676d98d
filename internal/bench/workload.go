package bench

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/shopspring/decimal"
	"golang.org/x/sync/errgroup"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/ledger"
	"github.com/mizanhq/mizan/internal/posting"
	"github.com/mizanhq/mizan/internal/sources/sourcetest"
	"github.com/mizanhq/mizan/internal/sources/vandar"
	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

// Workload is a stream of statement events as mizan's pollers publish them: n items that moved a wallet,
// spread over businesses, each business's items in the order they moved its wallet (the poller's release
// order), the businesses interleaved in time.
type Workload struct {
	Events []events.Event
	Items  []events.StatementItem // Items[i] is the fact of Events[i]
	// Wallets is each wallet account's balance once every event is applied.
	Wallets map[string]decimal.Decimal
	// Extra are more events that continue the same wallets after Events, for a profiling pass.
	Extra []events.Event
}

// NewWorkload makes n statement events over the given number of businesses, and extra more after them. The
// items come from the Vandar simulator (vandartest) and are read by the real Vandar client, so each event is exactly what the poller would publish for it — the raw
// item (about 1.8 kB) included. Only items that moved the wallet are kept: every event posts one entry, so
// events/s and entries/s are the same number.
func NewWorkload(ctx context.Context, n, extra, businesses int) (*Workload, error) {
	slugs := slugs("biz", businesses)
	// About 85% of the simulator's items move the wallet, and a day has up to 20% fewer items than asked
	// for; ask for enough.
	per := (n + extra + businesses - 1) / businesses
	var histories []vandartest.BusinessOptions
	for i, slug := range slugs {
		h := history(slug, 11+int64(i)*7919, per*3/2+100)
		h.NoAPIToken = true
		histories = append(histories, h)
	}
	sim, err := newSimulator(false, histories...)
	if err != nil {
		return nil, err
	}
	defer sim.Close()
	perBiz := make([][]events.StatementItem, businesses)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for b, slug := range slugs {
		want := (n + extra) / businesses
		if b < (n+extra)%businesses {
			want++
		}
		g.Go(func() error {
			items, err := readStatement(gctx, sim, slug)
			if err != nil {
				return err
			}
			moved := slices.DeleteFunc(items, func(it events.StatementItem) bool { return !it.MovedWallet })
			sortByRelease(moved)
			if len(moved) < want {
				return fmt.Errorf("business %s: %d items moved the wallet, want %d", slug, len(moved), want)
			}
			perBiz[b] = moved[:want]
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var all []events.StatementItem
	for _, items := range perBiz {
		all = append(all, items...)
	}
	// Interleave the businesses by time; the sort is stable, so each business keeps its own order.
	// The first n are the workload and the rest come after them: each business's share of either is a
	// stretch of its own history, so its running balance continues from one to the other.
	slices.SortStableFunc(all, func(a, b events.StatementItem) int { return a.EffectiveAt.Compare(b.EffectiveAt) })
	evs := make([]events.Event, len(all))
	g, _ = errgroup.WithContext(ctx)
	const chunk = 10_000
	for from := 0; from < len(all); from += chunk {
		g.Go(func() error {
			for i := from; i < min(from+chunk, len(all)); i++ {
				var err error
				if evs[i], err = all[i].Event(); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	w := &Workload{Items: all[:n], Events: evs[:n], Extra: evs[n:], Wallets: map[string]decimal.Decimal{}}
	for _, it := range w.Items {
		w.Wallets[posting.Wallet(it.Provider, it.Account, it.Currency).Code] = *it.WalletAfter
	}
	return w, nil
}

// slugs returns n business slugs: prefix01, prefix02, …
func slugs(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%02d", prefix, i+1)
	}
	return out
}

// readStatement reads a business's whole statement with the real Vandar client, unthrottled.
func readStatement(ctx context.Context, sim *vandartest.Server, slug string) ([]events.StatementItem, error) {
	access, refresh, _ := sim.IssueTokens(slug)
	client, err := vandar.New(vandar.Config{APIURL: sim.URL, BatchURL: sim.URL, Business: slug,
		Credentials: sourcetest.NewCredentials(), Seed: vandar.Tokens{Access: access, Refresh: refresh},
		GetLimit: 1e9, GetBurst: 1 << 20})
	if err != nil {
		return nil, err
	}
	var items []events.StatementItem
	q := vandar.StatementQuery{Sort: vandar.SortAsc, PerPage: vandar.MaxPerPage}
	for {
		page, err := client.Statement(ctx, q)
		if err != nil {
			return nil, err
		}
		items = append(items, page.Items...)
		if !page.HasMore || len(page.Items) == 0 {
			return items, nil
		}
		q.StartAfter = page.Next
	}
}

// sortByRelease orders items as the poller releases them: by the time they moved the wallet, then by id.
func sortByRelease(items []events.StatementItem) {
	slices.SortFunc(items, func(a, b events.StatementItem) int {
		if c := a.EffectiveAt.Compare(b.EffectiveAt); c != 0 {
			return c
		}
		x, _ := strconv.ParseUint(a.ItemID, 10, 64)
		y, _ := strconv.ParseUint(b.ItemID, 10, 64)
		return cmp.Compare(x, y)
	})
}

// Entries are the ledger entries the reconciler posts for the workload, in order: posting.Statement of each
// item, exactly. With twoPostings, each entry keeps only its wallet line and a counter-line that balances it
// (the fee folded in): the "N entries × 2 postings" shape of the reference.
func (w *Workload) Entries(twoPostings bool) ([]ledger.Entry, error) {
	out := make([]ledger.Entry, 0, len(w.Items))
	for i, it := range w.Items {
		e, ok, err := posting.Statement(it, w.Events[i].ID)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("item %s posts nothing", it.ItemID)
		}
		if twoPostings && len(e.Postings) > 2 {
			wallet := e.Postings[0]
			counter := e.Postings[len(e.Postings)-1]
			counter.Amount = wallet.Amount.Neg()
			e.Postings = []ledger.Posting{wallet, counter}
		}
		out = append(out, e)
	}
	return out, nil
}

// Postings is the total number of postings of entries.
func Postings(entries []ledger.Entry) int {
	n := 0
	for _, e := range entries {
		n += len(e.Postings)
	}
	return n
}
