package kafka

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// ConsumerOptions tune a Consumer. The zero value is a working default for every field.
type ConsumerOptions struct {
	// MaxBatch is the most messages FetchBatch returns at once. Default 1000.
	MaxBatch int

	// MaxWait is how long FetchBatch keeps filling a batch once it holds its first message. It bounds the delay
	// a lone message adds before it is processed. Default 200ms.
	MaxWait time.Duration

	// SessionTimeout is how long the group coordinator waits for a heartbeat before it declares this member dead
	// and gives its partitions to others: a killed process holds its partitions this long. Brokers refuse values
	// below their group.min.session.timeout.ms (6s in Kafka and in kfake). Default 10s.
	SessionTimeout time.Duration

	// StartOffset is where the group starts on a partition that has no committed offset: FirstOffset (default)
	// or LastOffset.
	StartOffset int64
}

// Defaults (see ConsumerOptions).
const (
	DefaultMaxBatch       = 1000
	DefaultMaxWait        = 200 * time.Millisecond
	DefaultSessionTimeout = 10 * time.Second
)

// fetchMaxWait is how long the broker may hold an empty fetch. kafka-go's reader cannot interrupt a fetch in
// flight, so Close and every rebalance wait for it: kafka-go's 10s default would make shutdown and rebalances
// that slow on an idle topic. A message that arrives ends the wait at once, so this costs no latency, only an
// empty fetch per partition every so often.
const fetchMaxWait = 500 * time.Millisecond

// Consumer reads topics as a member of a consumer group and commits offsets only when told to. FetchBatch must
// be called from one goroutine at a time; Commit, Lag and Close may be called from any, concurrently with it
// (the reconciler commits from its own goroutine while the next batches are fetched). kafka-go's Reader hands
// fetched messages over a channel and commits through another, each guarded on its own (reader.go,
// FetchMessage and CommitMessages), so a commit never waits for a fetch nor disturbs it.
//
// How kafka-go's Reader behaves, read in its source (v0.4.51, reader.go) and relied on here:
//   - Per-partition goroutines fetch from the brokers and queue messages in one buffered channel.
//     FetchMessage selects on its ctx, the reader's error channel and that message channel; a message leaves
//     the channel only in the branch that returns it. So a FetchMessage whose ctx is cancelled or times out
//     takes nothing: the next message stays queued for the next call, and the reader stays usable (the ctx
//     of FetchMessage does not reach the fetch goroutines). Nothing is lost and nothing is re-delivered by a
//     timeout. When ctx is done and a message is ready at once, select may pick either: a message returned
//     with a nil error must be kept even though ctx has expired.
//   - In a group, FetchMessage moves nothing the broker knows; only a commit does. A message FetchBatch has
//     taken but the caller never commits comes back after a restart or rebalance, from the committed offset.
//     A message taken and then dropped would be lost once a later offset of its partition is committed
//     (commits are per partition, not per message), so FetchBatch never drops a fetched message: a batch cut
//     short by MaxWait, by ctx or by a reader error returns what it holds.
//   - After a rebalance the reader discards queued messages of the previous generation (they are re-delivered
//     to the partition's new owner from its committed offset). A batch fetched before the rebalance may still
//     be committed: the coordinator accepts it under the new generation, which at worst re-delivers or skips
//     messages the caller has applied already, both harmless to an idempotent consumer.
type Consumer struct {
	cfg    Config
	group  string
	topics []string // full names
	opts   ConsumerOptions

	r       *kafkago.Reader
	client  *kafkago.Client
	release func()

	// err is a configuration error: NewConsumer does not return one (kafka-go would panic), so every method does.
	err error
}

// NewConsumer starts joining group, in the background, to consume the topics (base names); FetchBatch waits
// for the join. Offsets are committed only by Commit, synchronously.
func NewConsumer(cfg Config, group string, topics []string, opts ConsumerOptions) *Consumer {
	cfg = cfg.withDefaults()
	opts.MaxBatch = cmp.Or(opts.MaxBatch, DefaultMaxBatch)
	opts.MaxWait = cmp.Or(opts.MaxWait, DefaultMaxWait)
	opts.SessionTimeout = cmp.Or(opts.SessionTimeout, DefaultSessionTimeout)
	opts.StartOffset = cmp.Or(opts.StartOffset, FirstOffset)
	c := &Consumer{cfg: cfg, group: group, topics: cfg.topics(topics), opts: opts, release: func() {}}

	switch {
	case cfg.check() != nil:
		c.err = cfg.check()
	case group == "":
		c.err = errors.New("kafka: consumer without a group")
	case len(topics) == 0:
		c.err = errors.New("kafka: consumer without topics")
	case opts.MaxBatch < 0 || opts.MaxWait < 0 || opts.SessionTimeout < 0:
		c.err = fmt.Errorf("kafka: negative consumer option in %+v", opts)
	case opts.StartOffset != FirstOffset && opts.StartOffset != LastOffset:
		c.err = fmt.Errorf("kafka: start offset %d is neither FirstOffset nor LastOffset", opts.StartOffset)
	}
	if c.err != nil {
		return c
	}
	dialer, err := cfg.dialer()
	if err != nil {
		c.err = err
		return c
	}
	client, release, err := cfg.client()
	if err != nil {
		c.err = err
		return c
	}
	c.client, c.release = client, release

	c.r = kafkago.NewReader(kafkago.ReaderConfig{
		Brokers:     cfg.Brokers,
		GroupID:     group,
		GroupTopics: c.topics,
		Dialer:      dialer,
		// A whole batch can wait in the queue while the previous one is being applied.
		QueueCapacity:     opts.MaxBatch,
		MaxWait:           fetchMaxWait,
		SessionTimeout:    opts.SessionTimeout,
		HeartbeatInterval: min(3*time.Second, opts.SessionTimeout/3),
		CommitInterval:    0, // synchronous: Commit returns once the broker has the offsets
		StartOffset:       opts.StartOffset,
		Logger:            cfg.debugLogger(),
		ErrorLogger:       cfg.errorLogger(),
	})
	return c
}

// FetchBatch blocks until a message is available (or ctx is done, which is then the error), then keeps adding
// messages until it holds MaxBatch of them or MaxWait has passed since the first. Messages of one partition
// are in offset order. A batch is never empty when the error is nil.
//
// Only the wait for the first message can fail; once a batch has a message, ctx, MaxWait and reader errors
// only end it early (see Consumer for why no fetched message may be dropped). The reader's errors are
// transient: it retries on its own, so a caller may log one and call FetchBatch again.
func (c *Consumer) FetchBatch(ctx context.Context) ([]Message, error) {
	if c.err != nil {
		return nil, c.err
	}
	first, err := c.r.FetchMessage(ctx)
	if err != nil {
		return nil, fmt.Errorf("fetch from %v as %s: %w", c.topics, c.group, err)
	}
	batch := make([]Message, 1, min(c.opts.MaxBatch, 256))
	batch[0] = first

	fill, cancel := context.WithTimeout(ctx, c.opts.MaxWait)
	defer cancel()
	for len(batch) < c.opts.MaxBatch {
		m, err := c.r.FetchMessage(fill)
		if err != nil {
			if fill.Err() == nil && c.cfg.Logger != nil {
				c.cfg.Logger.WarnContext(ctx, "kafka fetch ended a batch early", "group", c.group,
					"messages", len(batch), "err", err)
			}
			break
		}
		batch = append(batch, m)
	}
	return batch, nil
}

// Commit records msgs as processed for the group: for each partition, the offset after the highest message
// of it in msgs, so that the group resumes after it. Call it only once their effects are durable. Messages of
// a partition between the last commit and the highest one in msgs count as processed too: commit whole batches.
func (c *Consumer) Commit(ctx context.Context, msgs []Message) error {
	if c.err != nil {
		return c.err
	}
	if len(msgs) == 0 {
		return nil
	}
	type topicPartition struct {
		topic     string
		partition int
	}
	highest := map[topicPartition]Message{}
	for _, m := range msgs {
		k := topicPartition{m.Topic, m.Partition}
		if cur, ok := highest[k]; !ok || m.Offset > cur.Offset {
			highest[k] = m
		}
	}
	last := make([]Message, 0, len(highest))
	for _, m := range highest {
		last = append(last, m)
	}
	if err := c.r.CommitMessages(ctx, last...); err != nil {
		return fmt.Errorf("commit %d messages of group %s: %w", len(msgs), c.group, err)
	}
	return nil
}

// Lag returns, for the group and each partition of its topics (full names), how many messages are not yet
// committed: the partition's end offset minus the group's committed offset. A partition the group has never
// committed counts from where the group would start on it (StartOffset). total is the sum over all
// partitions; zero means the group has committed everything published so far.
//
// Errors a broker means to be retried (a coordinator or leader that moved or is still loading, as a real
// broker answers for a while after it starts or a group is new) are retried for up to about 15s.
func (c *Consumer) Lag(ctx context.Context) (map[string]map[int]int64, int64, error) {
	for attempt := 1; ; attempt++ {
		lag, total, err := c.lag(ctx)
		if err == nil || !isRetriable(err) || attempt == 60 {
			return lag, total, err
		}
		select {
		case <-ctx.Done():
			return nil, 0, err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (c *Consumer) lag(ctx context.Context) (map[string]map[int]int64, int64, error) {
	if c.err != nil {
		return nil, 0, c.err
	}
	parts, err := partitionsOf(ctx, c.client, c.topics)
	if err != nil {
		return nil, 0, fmt.Errorf("lag of group %s: %w", c.group, err)
	}

	offReq := &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{}}
	for t, ps := range parts {
		for _, p := range ps {
			offReq.Topics[t] = append(offReq.Topics[t], kafkago.FirstOffsetOf(p), kafkago.LastOffsetOf(p))
		}
	}
	offs, err := c.client.ListOffsets(ctx, offReq)
	if err != nil {
		return nil, 0, fmt.Errorf("lag of group %s: %w", c.group, err)
	}

	committed, err := c.client.OffsetFetch(ctx, &kafkago.OffsetFetchRequest{GroupID: c.group, Topics: parts})
	if err == nil {
		err = committed.Error
	}
	// A group that has not formed yet has committed nothing. Kafka answers -1 for each partition; kfake answers
	// GROUP_ID_NOT_FOUND until the first member has joined, which races with NewConsumer's background join.
	if errors.Is(err, kafkago.GroupIdNotFound) {
		committed, err = &kafkago.OffsetFetchResponse{}, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("lag of group %s: committed offsets: %w", c.group, err)
	}
	done := map[string]map[int]int64{}
	for t, ps := range committed.Topics {
		done[t] = map[int]int64{}
		for _, p := range ps {
			if errors.Is(p.Error, kafkago.GroupIdNotFound) {
				continue
			}
			if p.Error != nil {
				return nil, 0, fmt.Errorf("lag of group %s: committed offset of %s/%d: %w", c.group, t, p.Partition,
					p.Error)
			}
			done[t][p.Partition] = p.CommittedOffset
		}
	}

	lag := map[string]map[int]int64{}
	var total int64
	for t, ps := range offs.Topics {
		lag[t] = map[int]int64{}
		for _, p := range ps {
			if p.Error != nil {
				return nil, 0, fmt.Errorf("lag of group %s: offsets of %s/%d: %w", c.group, t, p.Partition, p.Error)
			}
			from, ok := done[t][p.Partition]
			if !ok || from < 0 {
				from = p.FirstOffset
				if c.opts.StartOffset == LastOffset {
					from = p.LastOffset
				}
			}
			// Below the log start the consumer skips to it: what retention deleted is not lag.
			from = max(from, p.FirstOffset)
			n := max(p.LastOffset-from, 0)
			lag[t][p.Partition] = n
			total += n
		}
	}
	return lag, total, nil
}

// Close leaves the group, so that its partitions go to the remaining members at once instead of after the
// session timeout, and releases the connections. It does not commit: what was fetched and not committed is
// delivered again to the next member.
func (c *Consumer) Close() error {
	defer c.release()
	if c.r == nil {
		return nil
	}
	if err := c.r.Close(); err != nil {
		return fmt.Errorf("close consumer of group %s: %w", c.group, err)
	}
	return nil
}
