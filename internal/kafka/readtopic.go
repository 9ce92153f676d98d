package kafka

import (
	"context"
	"fmt"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// ReadTopic reads every message of every partition of topic (its full name), from the first offset to the
// last: what the fault suite and the tests compare with what was applied. Not a way to consume.
func ReadTopic(ctx context.Context, addr, topic string) ([]kafkago.Message, error) {
	conn, err := kafkago.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		return nil, err
	}
	var out []kafkago.Message
	for _, p := range parts {
		msgs, err := readPartition(ctx, addr, topic, p.ID)
		if err != nil {
			return nil, fmt.Errorf("partition %d: %w", p.ID, err)
		}
		out = append(out, msgs...)
	}
	return out, nil
}

func readPartition(ctx context.Context, addr, topic string, partition int) ([]kafkago.Message, error) {
	conn, err := kafkago.DialLeader(ctx, "tcp", addr, topic, partition)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	first, last, err := conn.ReadOffsets()
	if err != nil {
		return nil, err
	}
	if _, err := conn.Seek(first, kafkago.SeekAbsolute); err != nil {
		return nil, err
	}
	var out []kafkago.Message
	next := first
	for next < last {
		if err := conn.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
			return nil, err
		}
		batch := conn.ReadBatch(1, 16<<20)
		n := 0
		for {
			msg, err := batch.ReadMessage()
			if err != nil {
				break
			}
			msg.Partition = partition
			out = append(out, msg)
			next = msg.Offset + 1
			n++
		}
		if err := batch.Close(); err != nil && n == 0 {
			return nil, err
		}
		if n == 0 {
			return nil, fmt.Errorf("no progress at offset %d of %d", next, last)
		}
		if _, err := conn.Seek(next, kafkago.SeekAbsolute); err != nil {
			return nil, err
		}
	}
	return out, nil
}
