package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// EnsureTopics creates those of the topics (base names) that do not exist yet, then checks that every one of
// them exists with at least partitions partitions. It is idempotent and safe to run from several processes at
// once: a topic someone else created in between is fine.
//
// partitions or replicationFactor ≤ 0 leave the choice to the brokers' defaults (num.partitions,
// default.replication.factor); with partitions ≤ 0 any partition count passes the check. A topic that exists
// with fewer partitions is an error naming it — never repaired here, because adding partitions moves keys to
// other partitions and breaks per-key order, which is an operator's decision.
func EnsureTopics(ctx context.Context, cfg Config, partitions, replicationFactor int, topics ...string) error {
	cfg = cfg.withDefaults()
	if err := cfg.check(); err != nil {
		return err
	}
	if len(topics) == 0 {
		return nil
	}
	// A fresh client per call: kafka-go's transport caches metadata, and this function must see the cluster as
	// it is now.
	client, release, err := cfg.client()
	if err != nil {
		return err
	}
	defer release()

	full := cfg.topics(topics)
	missing, err := missingTopics(ctx, client, full)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		req := &kafkago.CreateTopicsRequest{}
		for _, t := range missing {
			req.Topics = append(req.Topics, kafkago.TopicConfig{
				Topic:             t,
				NumPartitions:     orUnset(partitions),
				ReplicationFactor: orUnset(replicationFactor),
			})
		}
		resp, err := client.CreateTopics(ctx, req)
		if err != nil {
			return fmt.Errorf("create topics %v: %w", missing, err)
		}
		var errs []error
		for _, t := range missing {
			if err := resp.Errors[t]; err != nil && !errors.Is(err, kafkago.TopicAlreadyExists) {
				errs = append(errs, fmt.Errorf("create topic %s: %w", t, err))
			}
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
		if err := awaitLeaders(ctx, client, missing); err != nil {
			return err
		}
	}
	return checkPartitions(ctx, client, full, partitions)
}

// awaitLeaders waits until every partition of the topics answers a ListOffsets request, the first thing a
// consumer or a lag check asks. A real broker acknowledges CreateTopics once the controller has the topic, and
// its metadata may show a partition's leader before that leader serves it: for a moment ListOffsets answers
// NOT_LEADER_OR_FOLLOWER (seen on Apache Kafka 4.4 in KRaft mode; kfake never does). Created means usable here.
func awaitLeaders(ctx context.Context, client *kafkago.Client, topics []string) error {
	for {
		parts, err := partitionsOf(ctx, client, topics)
		if err == nil {
			req := &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{}}
			for t, ps := range parts {
				for _, p := range ps {
					req.Topics[t] = append(req.Topics[t], kafkago.FirstOffsetOf(p))
				}
			}
			var resp *kafkago.ListOffsetsResponse
			if resp, err = client.ListOffsets(ctx, req); err == nil {
				for t, ps := range resp.Topics {
					for _, p := range ps {
						if p.Error != nil {
							err = fmt.Errorf("topic %s partition %d: %w", t, p.Partition, p.Error)
						}
					}
				}
			}
		}
		if err == nil {
			return nil
		}
		if !isRetriable(err) {
			return fmt.Errorf("wait for the leaders of %v: %w", topics, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the leaders of %v: %w (last: %v)", topics, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// isRetriable reports whether a Kafka error is one a client should retry after a moment: a leader moving or not
// elected yet, metadata not propagated yet.
func isRetriable(err error) bool {
	var kerr kafkago.Error
	return errors.As(err, &kerr) && kerr.Temporary()
}

// missingTopics returns the topics the cluster does not know.
func missingTopics(ctx context.Context, client *kafkago.Client, topics []string) ([]string, error) {
	meta, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, fmt.Errorf("read metadata of %v: %w", topics, err)
	}
	var missing []string
	for _, t := range meta.Topics {
		switch {
		case errors.Is(t.Error, kafkago.UnknownTopicOrPartition):
			missing = append(missing, t.Name)
		case t.Error != nil:
			return nil, fmt.Errorf("read metadata of topic %s: %w", t.Name, t.Error)
		}
	}
	return missing, nil
}

// checkPartitions verifies every topic exists with at least want partitions (any count when want ≤ 0).
func checkPartitions(ctx context.Context, client *kafkago.Client, topics []string, want int) error {
	meta, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: topics})
	if err != nil {
		return fmt.Errorf("read metadata of %v: %w", topics, err)
	}
	var errs []error
	for _, t := range meta.Topics {
		switch {
		case t.Error != nil:
			errs = append(errs, fmt.Errorf("topic %s: %w", t.Name, t.Error))
		case len(t.Partitions) == 0:
			errs = append(errs, fmt.Errorf("topic %s has no partitions", t.Name))
		case len(t.Partitions) < want:
			errs = append(errs, fmt.Errorf("topic %s has %d partitions, want at least %d", t.Name,
				len(t.Partitions), want))
		}
	}
	return errors.Join(errs...)
}

// orUnset maps a non-positive count to -1, which CreateTopics (v4+) reads as "the broker's default".
func orUnset(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

// partitionsOf returns each topic's partition ids, and an error naming a topic the cluster does not have.
func partitionsOf(ctx context.Context, client *kafkago.Client, topics []string) (map[string][]int, error) {
	meta, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, fmt.Errorf("read metadata of %v: %w", topics, err)
	}
	parts := make(map[string][]int, len(meta.Topics))
	for _, t := range meta.Topics {
		if t.Error != nil {
			return nil, fmt.Errorf("topic %s: %w", t.Name, t.Error)
		}
		for _, p := range t.Partitions {
			parts[t.Name] = append(parts[t.Name], p.ID)
		}
	}
	return parts, nil
}
