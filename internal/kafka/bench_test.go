package kafka_test

import (
	"strings"
	"testing"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/kafka/kafkatest"
)

// BenchmarkPublish publishes pages of 1,000 events of about 500 bytes each (the envelope included), as a
// poller does, acknowledged by all in-sync replicas.
func BenchmarkPublish(b *testing.B) {
	ctx := testCtx(b)
	cfg := kafkatest.Config(b)
	pub := kafka.NewPublisher(cfg)
	b.Cleanup(func() { _ = pub.Close() })

	const page = 1000
	evs := makeEvents(b, "bench", page, 50)
	pad := strings.Repeat("x", 211) // brings the encoded envelope to about 500 bytes
	var bytes int64
	for i := range evs {
		evs[i].Data = append(evs[i].Data[:len(evs[i].Data)-1], []byte(`,"pad":"`+pad+`"}`)...)
		v, err := evs[i].Marshal()
		if err != nil {
			b.Fatal(err)
		}
		bytes += int64(len(v))
	}
	b.SetBytes(bytes)

	for b.Loop() {
		if err := pub.Publish(ctx, events.TopicStatement, evs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*page)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(bytes)/page, "B/event")
}
