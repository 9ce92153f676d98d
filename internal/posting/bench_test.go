package posting

import (
	"testing"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/events/rawtest"
)

// BenchmarkStatement is the posting rule the reconciler runs for every statement item: key, accounts,
// postings and the metadata an analyst reads back.
func BenchmarkStatement(b *testing.B) {
	items := []events.StatementItem{
		it(events.KindPayment, "ipg", events.DirectionIn, 157000, 1570, true),
		it(events.KindSettlement, "settlement", events.DirectionOut, 2_000_000, 0, true),
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, ok, err := Statement(items[i%len(items)], "event-id"); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkStatementRealItem is the statement posting rule on a real statement item of the Vandar simulator,
// whose 1.8 kB raw item it reads its references from.
func BenchmarkStatementRealItem(b *testing.B) {
	_, item := rawtest.StatementEvent(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := Statement(item, "event-id"); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}
