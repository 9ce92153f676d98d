package kafka_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/kafka/kafkatest"
)

func TestConfigTopicPrependsThePrefix(t *testing.T) {
	t.Parallel()
	if got := (kafka.Config{}).Topic(events.TopicStatement); got != events.TopicStatement {
		t.Errorf("no prefix: %q", got)
	}
	if got := (kafka.Config{TopicPrefix: "t-1."}).Topic(events.TopicBalance); got != "t-1.mizan.balance.v1" {
		t.Errorf("prefix: %q", got)
	}
}

// Every published event arrives once, decodes, keeps its headers, and the events of one key arrive in order
// on the one partition a Java-compatible (murmur2) partitioner picks for it.
func TestPublishedEventsArriveOnceInKeyOrder(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	cfg := kafkatest.Config(t)

	pub := kafka.NewPublisher(cfg)
	t.Cleanup(func() { _ = pub.Close() })
	evs := makeEvents(t, "arrive", 300, 7)
	for page := range slices.Chunk(evs, 100) {
		if err := pub.Publish(ctx, events.TopicStatement, page); err != nil {
			t.Fatal(err)
		}
	}

	c := newConsumer(t, cfg, kafkatest.Group(t), []string{events.TopicStatement}, kafka.ConsumerOptions{})
	msgs, _ := consume(ctx, t, c, len(evs))
	if len(msgs) != len(evs) {
		t.Fatalf("got %d messages, published %d", len(msgs), len(evs))
	}

	want := map[string]events.Event{}
	for _, ev := range evs {
		want[ev.ID] = ev
	}
	franz := kgo.StickyKeyPartitioner(nil).ForTopic(cfg.Topic(events.TopicStatement))
	seen := map[string]bool{}
	next := map[string]int{} // next expected seq per key
	for _, m := range msgs {
		ev, p := decode(t, m)
		orig, ok := want[ev.ID]
		switch {
		case !ok:
			t.Fatalf("unknown event %s", ev.ID)
		case seen[ev.ID]:
			t.Fatalf("event %s delivered twice", ev.ID)
		}
		seen[ev.ID] = true

		if m.Topic != cfg.Topic(events.TopicStatement) || string(m.Key) != orig.Key || ev.Key != orig.Key {
			t.Errorf("event %s: topic %q, message key %q, envelope key %q; want key %q", ev.ID, m.Topic, m.Key,
				ev.Key, orig.Key)
		}
		if ev.Type != orig.Type || ev.Source != orig.Source || !ev.Time.Equal(orig.Time) {
			t.Errorf("event %s decoded as %+v, published %+v", ev.ID, ev, orig)
		}
		for name, v := range map[string]string{
			kafka.HeaderID:          orig.ID,
			kafka.HeaderType:        orig.Type,
			kafka.HeaderSource:      orig.Source,
			kafka.HeaderSpecVersion: events.SpecVersion,
			kafka.HeaderContentType: kafka.ContentTypeCloudEvents,
		} {
			if got := kafka.HeaderValue(m, name); got != v {
				t.Errorf("event %s: header %s = %q, want %q", ev.ID, name, got, v)
			}
		}
		if p.Seq != next[p.Key] {
			t.Fatalf("key %s: got seq %d, want %d (per-key order broken)", p.Key, p.Seq, next[p.Key])
		}
		next[p.Key]++
		if want := franz.Partition(&kgo.Record{Key: m.Key}, kafkatest.Partitions); m.Partition != want {
			t.Errorf("key %s on partition %d; franz-go's Kafka-compatible partitioner says %d", p.Key,
				m.Partition, want)
		}
	}
}

// A new member of a group resumes after the committed offset: nothing committed comes back, everything not
// committed does (what a crash between processing and committing looks like).
func TestGroupResumesAfterCommittedOffset(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	cfg := kafkatest.Config(t)
	group := kafkatest.Group(t)
	topics := []string{events.TopicBalance}

	pub := kafka.NewPublisher(cfg)
	t.Cleanup(func() { _ = pub.Close() })
	// One key: one partition, so "the first four" is well defined.
	first := makeEvents(t, "first", 10, 1)
	if err := pub.Publish(ctx, events.TopicBalance, first); err != nil {
		t.Fatal(err)
	}

	a := newConsumer(t, cfg, group, topics, kafka.ConsumerOptions{})
	got, _ := consume(ctx, t, a, len(first))
	if !slices.Equal(ids(t, got), eventIDs(first)) {
		t.Fatalf("first member got %v, want %v", ids(t, got), eventIDs(first))
	}
	// Processed four, then crashed: the other six were fetched but never committed.
	if err := a.Commit(ctx, got[:4]); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	second := makeEvents(t, "second", 5, 1)
	if err := pub.Publish(ctx, events.TopicBalance, second); err != nil {
		t.Fatal(err)
	}

	b := newConsumer(t, cfg, group, topics, kafka.ConsumerOptions{})
	want := append(eventIDs(first[4:]), eventIDs(second)...)
	got, _ = consume(ctx, t, b, len(want))
	if !slices.Equal(ids(t, got), want) {
		t.Fatalf("second member got %v, want the uncommitted and the new ones %v", ids(t, got), want)
	}
	if err := b.Commit(ctx, got); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	// A third member after a full commit starts at the end: its lag is zero.
	c := newConsumer(t, cfg, group, topics, kafka.ConsumerOptions{})
	if n := lag(ctx, t, c); n != 0 {
		t.Fatalf("lag after everything was committed = %d", n)
	}
}

// Lag counts what the group has not committed, across topics and partitions, and reaches zero when it has
// committed everything.
func TestLagCountsDownToZero(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	cfg := kafkatest.Config(t)
	topics := []string{events.TopicStatement, events.TopicWatermark}

	pub := kafka.NewPublisher(cfg)
	t.Cleanup(func() { _ = pub.Close() })
	if err := pub.Publish(ctx, events.TopicStatement, makeEvents(t, "lag-s", 40, 5)); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, events.TopicWatermark, makeEvents(t, "lag-w", 20, 5)); err != nil {
		t.Fatal(err)
	}
	const published = 60

	// Small batches, so that lag is seen at several steps.
	c := newConsumer(t, cfg, kafkatest.Group(t), topics, kafka.ConsumerOptions{MaxBatch: 7})
	byPartition, total, err := c.Lag(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if total != published {
		t.Fatalf("lag before any commit = %d, want %d", total, published)
	}
	if len(byPartition) != 2 || len(byPartition[cfg.Topic(events.TopicStatement)]) != kafkatest.Partitions {
		t.Fatalf("lag per topic and partition: %v", byPartition)
	}

	committed := 0
	for committed < published {
		batch, err := c.FetchBatch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(batch) > 7 {
			t.Fatalf("batch of %d, MaxBatch is 7", len(batch))
		}
		if err := c.Commit(ctx, batch); err != nil {
			t.Fatal(err)
		}
		committed += len(batch)
		if n := lag(ctx, t, c); n != int64(published-committed) {
			t.Fatalf("lag after committing %d of %d = %d", committed, published, n)
		}
	}

	// A group that starts at the end has no lag before it commits anything.
	late := newConsumer(t, cfg, kafkatest.Group(t), topics, kafka.ConsumerOptions{StartOffset: kafka.LastOffset})
	if n := lag(ctx, t, late); n != 0 {
		t.Fatalf("lag of a group starting at the end = %d", n)
	}
}

// FetchBatch ending a batch on MaxWait, or being called with a cancelled context, never loses a message the
// reader has already fetched: all of them arrive, in order, with no gap. Most calls here get a cancelled
// context, so the race between "context done" and "message ready" inside kafka-go's FetchMessage is run many
// times, both for a batch's first message and while filling one.
func TestFetchBatchTimeoutsLoseNothing(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	cfg := kafkatest.Config(t)

	pub := kafka.NewPublisher(cfg)
	t.Cleanup(func() { _ = pub.Close() })
	evs := makeEvents(t, "timeouts", 500, 1)
	if err := pub.Publish(ctx, events.TopicSettlement, evs); err != nil {
		t.Fatal(err)
	}

	// MaxWait of a microsecond: a batch filled under a live context is cut short by its fill timeout while
	// messages are still queued; MaxBatch 50 leaves most messages to the calls with a cancelled context.
	c := newConsumer(t, cfg, kafkatest.Group(t), []string{events.TopicSettlement},
		kafka.ConsumerOptions{MaxWait: time.Microsecond, MaxBatch: 50})
	cancelled, cancel := context.WithCancel(ctx)
	cancel()

	var got []kafka.Message
	var calls, refused, despite int // calls; cancelled calls that took nothing; that returned messages anyway
	for len(got) < len(evs) {
		call := cancelled
		if calls%10 == 0 {
			call = ctx // now and then one that may block, for when nothing is queued yet
		}
		calls++
		batch, err := c.FetchBatch(call)
		switch {
		case err != nil && call == cancelled && errors.Is(err, context.Canceled):
			refused++
			continue
		case err != nil:
			t.Fatal(err)
		case call == cancelled:
			despite++
		}
		got = append(got, batch...)
	}
	if !slices.Equal(ids(t, got), eventIDs(evs)) {
		t.Fatalf("got %d messages out of order or with gaps", len(got))
	}
	t.Logf("%d messages in %d calls; cancelled calls: %d took nothing, %d returned a batch", len(got), calls,
		refused, despite)
}

func TestEnsureTopicsIsIdempotentAndChecksPartitions(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	cfg := kafkatest.Config(t)

	for i := range 2 {
		if err := kafka.EnsureTopics(ctx, cfg, 2, 0, "ensure.a", "ensure.b"); err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
	}
	// Fewer partitions asked for than exist is fine: "at least".
	if err := kafka.EnsureTopics(ctx, cfg, 1, 0, "ensure.a"); err != nil {
		t.Fatal(err)
	}

	err := kafka.EnsureTopics(ctx, cfg, 4, 0, "ensure.a", "ensure.c")
	if err == nil {
		t.Fatal("no error for a topic with 2 partitions when 4 are required")
	}
	if !strings.Contains(err.Error(), cfg.Topic("ensure.a")) || strings.Contains(err.Error(), "ensure.c") {
		t.Fatalf("error should name only the short topic: %v", err)
	}

	// ensure.c was created with 4 partitions even though ensure.a failed the check.
	c := newConsumer(t, cfg, kafkatest.Group(t), []string{"ensure.c"}, kafka.ConsumerOptions{})
	byPartition, _, err := c.Lag(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(byPartition[cfg.Topic("ensure.c")]); n != 4 {
		t.Fatalf("ensure.c has %d partitions, want 4", n)
	}
}

// Without auto-creation a write to a topic that does not exist fails (and so the poller keeps its cursor).
func TestPublishToMissingTopicFails(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	cfg := kafkatest.Config(t)

	pub := kafka.NewPublisher(cfg)
	t.Cleanup(func() { _ = pub.Close() })
	err := pub.Publish(ctx, "no.such.topic", makeEvents(t, "missing", 3, 1))
	if !errors.Is(err, kafkago.UnknownTopicOrPartition) {
		t.Fatalf("got %v, want UnknownTopicOrPartition", err)
	}
}

// A batch the broker refuses is an error naming the cause once, not once per message.
func TestPublishRefusedByTheBrokerFails(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	cfg := kafkatest.Config(t)
	topic := cfg.Topic("small.messages")
	transport := &kafkago.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	client := &kafkago.Client{Addr: kafkago.TCP(cfg.Brokers...), Transport: transport}
	resp, err := client.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{
		Topic: topic, NumPartitions: 1, ReplicationFactor: -1,
		ConfigEntries: []kafkago.ConfigEntry{{ConfigName: "max.message.bytes", ConfigValue: "1000"}},
	}}})
	if err == nil {
		err = resp.Errors[topic]
	}
	if err != nil {
		t.Fatal(err)
	}

	pub := kafka.NewPublisher(cfg)
	t.Cleanup(func() { _ = pub.Close() })
	evs := makeEvents(t, "refused", 20, 1) // one key: one partition, one batch of about 8 KB
	err = pub.Publish(ctx, "small.messages", evs)
	if !errors.Is(err, kafkago.MessageSizeTooLarge) {
		t.Fatalf("got %v, want MessageSizeTooLarge", err)
	}
	if !strings.Contains(err.Error(), "20 of 20 not acknowledged") || strings.Count(err.Error(), "Too Large") != 1 {
		t.Errorf("error should count the messages and name the cause once: %v", err)
	}
	t.Logf("as expected: %v", err)
}

func TestUnusableConsumerReportsWhy(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	for name, c := range map[string]*kafka.Consumer{
		"no brokers": kafka.NewConsumer(kafka.Config{}, "g", []string{"t"}, kafka.ConsumerOptions{}),
		"no group":   kafka.NewConsumer(kafka.Config{Brokers: []string{"localhost:1"}}, "", []string{"t"}, kafka.ConsumerOptions{}),
		"no topics":  kafka.NewConsumer(kafka.Config{Brokers: []string{"localhost:1"}}, "g", nil, kafka.ConsumerOptions{}),
		"bad start": kafka.NewConsumer(kafka.Config{Brokers: []string{"localhost:1"}}, "g", []string{"t"},
			kafka.ConsumerOptions{StartOffset: 5}),
	} {
		if _, err := c.FetchBatch(ctx); err == nil {
			t.Errorf("%s: FetchBatch worked", name)
		}
		if err := c.Commit(ctx, []kafka.Message{{}}); err == nil {
			t.Errorf("%s: Commit worked", name)
		}
		if _, _, err := c.Lag(ctx); err == nil {
			t.Errorf("%s: Lag worked", name)
		}
		if err := c.Close(); err != nil {
			t.Errorf("%s: Close: %v", name, err)
		}
	}
}

// A message as big as the broker accepts can be published and is consumed whole, between two small ones: the
// consumer's fetch size must not be what stops a partition. (The broker's limit is on the record batch, a
// little over the record; 200 bytes leave room for that and kafka-go's accounting.)
func TestAMessageOfTheBrokersMaximumSizeIsConsumed(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	cfg := kafkatest.Config(t)
	limit, err := kafka.MaxMessageBytes(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if limit < 1000 {
		t.Fatalf("message.max.bytes = %d", limit)
	}
	big := bytes.Repeat([]byte("x"), limit-200)
	// A transport of its own: kafka-go's shared default one caches the cluster's metadata for seconds, and on a
	// real broker a topic created since (this test's) is then "unknown" to it.
	transport := &kafkago.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	w := &kafkago.Writer{Addr: kafkago.TCP(cfg.Brokers...), Topic: cfg.Topic(events.TopicStatement),
		Balancer: &kafkago.Murmur2Balancer{Consistent: true}, RequiredAcks: kafkago.RequireAll,
		BatchTimeout: 5 * time.Millisecond, BatchBytes: int64(limit), Transport: transport}
	t.Cleanup(func() { _ = w.Close() })
	key := []byte("vandar/acme")
	for _, v := range [][]byte{[]byte("before"), big, []byte("after")} {
		// One at a time: three in one batch would not fit the broker's limit.
		if err := w.WriteMessages(ctx, kafkago.Message{Key: key, Value: v}); err != nil {
			t.Fatalf("write %d bytes: %v", len(v), err)
		}
	}
	c := newConsumer(t, cfg, kafkatest.Group(t), []string{events.TopicStatement}, kafka.ConsumerOptions{MaxWait: 100 * time.Millisecond})
	var got [][]byte
	for len(got) < 3 {
		batch, err := c.FetchBatch(ctx)
		if err != nil {
			t.Fatalf("after %d messages: %v", len(got), err)
		}
		for _, m := range batch {
			got = append(got, m.Value)
		}
	}
	if len(got) != 3 || string(got[0]) != "before" || !bytes.Equal(got[1], big) || string(got[2]) != "after" {
		t.Fatalf("got %d messages of sizes %d…, want before, %d bytes, after", len(got), len(got[0]), len(big))
	}
}
