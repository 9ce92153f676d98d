package events_test

import (
	"testing"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/events/rawtest"
)

// BenchmarkStatementItemEncode is the poller's cost per item: the deterministic id, the payload and the
// envelope.
func BenchmarkStatementItemEncode(b *testing.B) {
	raw, item := rawtest.StatementEvent(b)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		ev, err := item.Event()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ev.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStatementItemDecode is the reconciler's cost per message before it touches the database: the
// envelope, then the payload.
func BenchmarkStatementItemDecode(b *testing.B) {
	raw, _ := rawtest.StatementEvent(b)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		ev, err := events.Decode(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := events.DecodeData[events.StatementItem](ev); err != nil {
			b.Fatal(err)
		}
	}
}
