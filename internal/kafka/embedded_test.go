package kafka_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka"
)

// A broker restarted on the same DataDir keeps its topics, messages and the groups' committed offsets: a
// group resumes after its commit, not from the start and not from the end. This is about the embedded broker
// itself, so it runs on it even when KAFKA_BROKERS is set.
func TestEmbeddedRestartKeepsMessagesAndOffsets(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	dir := t.TempDir()
	topics := []string{events.TopicStatement}
	group := "g-restart"

	start := func(topics ...string) (*kafka.Embedded, kafka.Config) {
		t.Helper()
		e, err := kafka.StartEmbedded(kafka.EmbeddedOptions{DataDir: dir, Topics: topics})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.Close)
		return e, kafka.Config{Brokers: e.Addrs()}
	}

	e, cfg := start(events.AllTopics...)
	pub := kafka.NewPublisher(cfg)
	evs := makeEvents(t, "restart", 10, 1)
	if err := pub.Publish(ctx, events.TopicStatement, evs); err != nil {
		t.Fatal(err)
	}
	if err := pub.Close(); err != nil {
		t.Fatal(err)
	}
	c := newConsumer(t, cfg, group, topics, kafka.ConsumerOptions{})
	got, _ := consume(ctx, t, c, len(evs))
	if err := c.Commit(ctx, got[:4]); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	e.Close()

	// A topic added to Topics since the last run is created too (kfake itself seeds only a new DataDir).
	_, cfg = start(append([]string{"added.later"}, events.AllTopics...)...)
	added := newConsumer(t, cfg, "g-added", []string{"added.later"}, kafka.ConsumerOptions{})
	if _, _, err := added.Lag(ctx); err != nil {
		t.Fatalf("topic added on restart: %v", err)
	}

	c = newConsumer(t, cfg, group, topics, kafka.ConsumerOptions{})
	if n := lag(ctx, t, c); n != 6 {
		t.Fatalf("lag after restart = %d, want the 6 uncommitted", n)
	}
	got, _ = consume(ctx, t, c, 6)
	if want := eventIDs(evs[4:]); !slices.Equal(ids(t, got), want) {
		t.Fatalf("after restart got %v, want %v", ids(t, got), want)
	}
}

// Without a DataDir a broker keeps nothing: the same options start an empty broker.
func TestEmbeddedWithoutDataDirStartsEmpty(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	e, err := kafka.StartEmbedded(kafka.EmbeddedOptions{Topics: []string{events.TopicBatch}, Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	cfg := kafka.Config{Brokers: e.Addrs()}
	// The seeded topic exists with the requested partitions: EnsureTopics with that count passes, one more fails.
	if err := kafka.EnsureTopics(ctx, cfg, 2, 0, events.TopicBatch); err != nil {
		t.Fatal(err)
	}
	if err := kafka.EnsureTopics(ctx, cfg, 3, 0, events.TopicBatch); err == nil {
		t.Fatal("a 2-partition topic passed a check for 3")
	}
	c := newConsumer(t, cfg, "g", []string{events.TopicBatch}, kafka.ConsumerOptions{})
	if n := lag(ctx, t, c); n != 0 {
		t.Fatalf("lag on a fresh broker = %d", n)
	}
}

// A publish that cannot be acknowledged — here the broker is gone — is an error, so the poller keeps its
// cursor. The context's deadline only bounds how long the writer keeps retrying.
func TestPublishFailsWhenTheBrokerIsDown(t *testing.T) {
	t.Parallel()
	e, err := kafka.StartEmbedded(kafka.EmbeddedOptions{Topics: []string{events.TopicStatement}})
	if err != nil {
		t.Fatal(err)
	}
	pub := kafka.NewPublisher(kafka.Config{Brokers: e.Addrs()})
	t.Cleanup(func() { _ = pub.Close() })
	if err := pub.Publish(testCtx(t), events.TopicStatement, makeEvents(t, "up", 3, 1)); err != nil {
		t.Fatal(err)
	}

	e.Close()
	ctx, cancel := context.WithTimeout(testCtx(t), time.Second)
	defer cancel()
	if err := pub.Publish(ctx, events.TopicStatement, makeEvents(t, "down", 3, 1)); err == nil {
		t.Fatal("publish to a stopped broker succeeded")
	} else {
		t.Logf("as expected: %v", err)
	}
}
