package kafka_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka"
)

// payload is the data of a test event: which key it belongs to and its place in that key's sequence, so that
// per-key order can be checked on the consuming side.
type payload struct {
	Key string `json:"key"`
	Seq int    `json:"seq"`
	Pad string `json:"pad,omitempty"`
}

// makeEvents returns n events spread round-robin over keys accounts, each with its per-key sequence number.
// run distinguishes the events of separate calls in one test (their ids differ).
func makeEvents(t testing.TB, run string, n, keys int) []events.Event {
	t.Helper()
	seq := map[string]int{}
	evs := make([]events.Event, n)
	for i := range evs {
		key := events.Key(events.ProviderVandar, fmt.Sprintf("acct-%d", i%keys))
		data, err := json.Marshal(payload{Key: key, Seq: seq[key]})
		if err != nil {
			t.Fatal(err)
		}
		evs[i] = events.Event{
			ID:     events.NewID("test", run, fmt.Sprint(i)),
			Type:   events.TypeStatementItem,
			Source: "/vandar/" + key + "/statement",
			Time:   time.Date(2024, 3, 1, 12, 0, i, 0, time.UTC),
			Key:    key,
			Data:   data,
		}
		seq[key]++
	}
	return evs
}

// testCtx bounds a test's waits so that a broken test fails instead of hanging; it asserts nothing about time.
func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newConsumer returns a consumer closed at the end of the test (closing twice is harmless).
func newConsumer(t testing.TB, cfg kafka.Config, group string, topics []string, opts kafka.ConsumerOptions) *kafka.Consumer {
	t.Helper()
	c := kafka.NewConsumer(cfg, group, topics, opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// consume fetches batches until it holds at least n messages and returns them, and the batches as fetched.
func consume(ctx context.Context, t testing.TB, c *kafka.Consumer, n int) (msgs []kafka.Message, batches [][]kafka.Message) {
	t.Helper()
	for len(msgs) < n {
		batch, err := c.FetchBatch(ctx)
		if err != nil {
			t.Fatalf("after %d of %d messages: %v", len(msgs), n, err)
		}
		msgs = append(msgs, batch...)
		batches = append(batches, batch)
	}
	return msgs, batches
}

// decode reads a message's event and payload.
func decode(t testing.TB, m kafka.Message) (events.Event, payload) {
	t.Helper()
	ev, err := events.Decode(m.Value)
	if err != nil {
		t.Fatalf("%s/%d@%d: %v", m.Topic, m.Partition, m.Offset, err)
	}
	p, err := events.DecodeData[payload](ev)
	if err != nil {
		t.Fatal(err)
	}
	return ev, p
}

// ids returns the event ids of msgs in order.
func ids(t testing.TB, msgs []kafka.Message) []string {
	t.Helper()
	out := make([]string, len(msgs))
	for i, m := range msgs {
		ev, _ := decode(t, m)
		out[i] = ev.ID
	}
	return out
}

// eventIDs returns the ids of evs in order.
func eventIDs(evs []events.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

// lag returns the consumer's total lag, failing the test on error.
func lag(ctx context.Context, t testing.TB, c *kafka.Consumer) int64 {
	t.Helper()
	_, total, err := c.Lag(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return total
}
