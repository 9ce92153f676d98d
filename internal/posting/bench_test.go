package posting

import (
	"testing"

	"github.com/mizanhq/mizan/internal/events"
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
