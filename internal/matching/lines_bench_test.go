package matching_test

import (
	"testing"
	"time"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/events/rawtest"
	"github.com/mizanhq/mizan/internal/matching"
)

// BenchmarkLineOf is what matching reads of a real statement item of the Vandar simulator (1.8 kB raw):
// reading the raw item itself, and given it already read (the reconciler reads it once for posting and
// matching).
func BenchmarkLineOf(b *testing.B) {
	_, item := rawtest.StatementEvent(b)
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	b.Run("reading the raw item", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := matching.LineOf(item, events.ReadRaw(item.Raw), at); !ok {
				b.Fatal("no line")
			}
		}
	})
	read := events.ReadRaw(item.Raw)
	b.Run("read already", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := matching.LineOf(item, read, at); !ok {
				b.Fatal("no line")
			}
		}
	})
}
