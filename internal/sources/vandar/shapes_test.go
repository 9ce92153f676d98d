package vandar

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

// everything is what a client reads from one business: every statement item, the balance, every settlement
// (list and queue) and every batch with its items.
type everything struct {
	Statement   map[string]events.StatementItem
	Balance     events.Balance
	Wallet      *decimal.Decimal
	Settlements []events.Settlement
	Queue       []events.Settlement
	Batches     []events.Batch
	Quarantined []events.Quarantined
}

func (b *simBundle) everything(t *testing.T) everything {
	t.Helper()
	var e everything
	e.Statement = map[string]events.StatementItem{}
	q := StatementQuery{Sort: SortAsc, PerPage: 50}
	for pages := 0; ; pages++ {
		p, err := b.client.Statement(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		e.Quarantined = append(e.Quarantined, p.Quarantined...)
		for _, it := range p.Items {
			e.Statement[it.ItemID] = it
		}
		// Without has_more, page until a page comes back empty.
		if p.HasMoreReported && !p.HasMore || len(p.Items)+len(p.Quarantined) == 0 || pages > 1000 {
			break
		}
		q.StartAfter = p.Next
	}
	var err error
	if e.Balance, err = b.client.Balance(t.Context()); err != nil {
		t.Fatal(err)
	}
	for page := 1; ; page++ {
		p, err := b.client.Settlements(t.Context(), page, 20)
		if err != nil {
			t.Fatal(err)
		}
		e.Quarantined = append(e.Quarantined, p.Quarantined...)
		e.Settlements, e.Wallet = append(e.Settlements, p.Items...), p.Wallet
		if !p.HasMore || len(p.Items) == 0 {
			break
		}
	}
	for page := 1; ; page++ {
		p, err := b.client.QueuedSettlements(t.Context(), page, 20)
		if err != nil {
			t.Fatal(err)
		}
		e.Quarantined = append(e.Quarantined, p.Quarantined...)
		e.Queue = append(e.Queue, p.Items...)
		if !p.HasMore || len(p.Items) == 0 {
			break
		}
	}
	for page := 1; ; page++ {
		p, err := b.client.Batches(t.Context(), page)
		if err != nil {
			t.Fatal(err)
		}
		e.Quarantined = append(e.Quarantined, p.Quarantined...)
		for _, listed := range p.Items {
			full, qs, err := b.client.BatchWithItems(t.Context(), listed)
			if err != nil {
				t.Fatal(err)
			}
			e.Quarantined = append(e.Quarantined, qs...)
			e.Batches = append(e.Batches, full)
		}
		if !p.HasMore || len(p.Items) == 0 {
			break
		}
	}
	return e
}

// ignoreRaw compares facts by what they say, not by the bytes they were read from (which differ by shape).
var ignoreRaw = cmp.Options{
	cmpopts.IgnoreFields(events.StatementItem{}, "Raw"), cmpopts.IgnoreFields(events.Balance{}, "Raw", "ObservedAt"),
	cmpopts.IgnoreFields(events.Settlement{}, "Raw", "ObservedAt"),
	cmpopts.IgnoreFields(events.Batch{}, "Raw", "ObservedAt"),
	// Where each quarantined item sat among the others is part of what a page says.
	cmp.AllowUnexported(StatementPage{}),
	cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) }),
	// A figure the extra-fields shape adds is not a figure Vandar reports; the wallet figures must agree.
	cmpopts.IgnoreMapEntries(func(k string, _ decimal.Decimal) bool { return k == "x_undocumented" }),
}

// Every shape the simulator can write that keeps what the answers mean is read as the same facts as the
// documented shapes: every statement item, the balance, every settlement, queued settlement and batch —
// nothing quarantined, nothing misread. Each shape alone, then all of them at once.
func TestEveryShapeReadsAsTheSameFacts(t *testing.T) {
	t.Parallel()
	opts := func(sh vandartest.Shape) vandartest.Options {
		return vandartest.Options{Shapes: sh, Businesses: []vandartest.BusinessOptions{{Slug: "acme", Seed: 11,
			Start: simNow.AddDate(0, 0, -9), Days: 10, PerDay: 25, Batches: 2, Queued: 2}}}
	}
	want := simSetup(t, opts(0)).everything(t)
	if len(want.Statement) < 100 || len(want.Settlements) == 0 || len(want.Batches) == 0 || len(want.Quarantined) != 0 {
		t.Fatalf("documented read: %d items, %d settlements, %d batches, %d quarantined", len(want.Statement),
			len(want.Settlements), len(want.Batches), len(want.Quarantined))
	}
	// The wrapped refresh answer is read by tokens.go, which this client's refresh does not reach here (the
	// pair is fresh); TestShapedRefresh reads it.
	shapes := append((vandartest.ShapesKeepingMeaning &^ vandartest.ShapeWrappedRefresh).EachShape(),
		vandartest.ShapesKeepingMeaning&^vandartest.ShapeWrappedRefresh)
	for _, sh := range shapes {
		t.Run(sh.String(), func(t *testing.T) {
			t.Parallel()
			got := simSetup(t, opts(sh)).everything(t)
			if diff := cmp.Diff(want, got, ignoreRaw); diff != "" {
				t.Errorf("read differently (-documented +%s):\n%s", sh, diff)
			}
		})
	}
	// Seconds-less times lose the seconds and nothing else; a statement without has_more is read to its
	// end by paging until an empty page.
	t.Run("secondless-times+no-has-more", func(t *testing.T) {
		t.Parallel()
		got := simSetup(t, opts(vandartest.ShapeSecondlessTimes|vandartest.ShapeNoHasMore)).everything(t)
		if len(got.Statement) != len(want.Statement) || len(got.Quarantined) != 0 {
			t.Fatalf("%d items, %d quarantined; want %d, 0", len(got.Statement), len(got.Quarantined), len(want.Statement))
		}
		for id, w := range want.Statement {
			g := got.Statement[id]
			if !g.CreatedAt.Equal(w.CreatedAt.Truncate(time.Minute)) || !g.Amount.Equal(w.Amount) ||
				g.Direction != w.Direction || g.MovedWallet != w.MovedWallet {
				t.Errorf("item %s: %+v, want %+v to the minute", id, g, w)
			}
		}
	})
}
