package events_test

import (
	"os"
	"testing"

	"github.com/mizanhq/mizan/internal/events"
)

// statementEvent is a statement item as the poller publishes it: a CloudEvent of 2,465 bytes whose data
// carries the provider's raw item, read from the Vandar simulator.
func statementEvent(b *testing.B) ([]byte, events.StatementItem) {
	b.Helper()
	raw, err := os.ReadFile("testdata/statement_item.json")
	if err != nil {
		b.Fatal(err)
	}
	ev, err := events.Decode(raw)
	if err != nil {
		b.Fatal(err)
	}
	item, err := events.DecodeData[events.StatementItem](ev)
	if err != nil {
		b.Fatal(err)
	}
	return raw, item
}

// BenchmarkStatementItemEncode is the poller's cost per item: the deterministic id, the payload and the
// envelope.
func BenchmarkStatementItemEncode(b *testing.B) {
	raw, item := statementEvent(b)
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
	raw, _ := statementEvent(b)
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
