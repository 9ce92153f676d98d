package kafka

import (
	"context"
	"fmt"

	kafkago "github.com/segmentio/kafka-go"
)

// Ping asks the cluster for its metadata over a new connection with cfg's Security settings, and checks that
// every one of topics (base names) exists with at least one partition. It is the Kafka readiness check: a nil
// error means the brokers are reachable, the TLS handshake and SASL authentication pass, and the topics are
// there — what publishing and consuming need. With no topics only the brokers are asked about.
//
// Each call dials afresh, on purpose: a probe through a cached connection would keep passing after the
// credentials or certificates it was opened with stopped being accepted.
func Ping(ctx context.Context, cfg Config, topics ...string) error {
	cfg = cfg.withDefaults()
	if err := cfg.check(); err != nil {
		return err
	}
	client, release, err := cfg.client()
	if err != nil {
		return err
	}
	defer release()
	if len(topics) > 0 {
		if err := checkPartitions(ctx, client, cfg.topics(topics), 0); err != nil {
			return fmt.Errorf("kafka ping %v: %w", cfg.Brokers, err)
		}
		return nil
	}
	// An empty, non-nil list asks for no topics (nil would ask for every topic of the cluster).
	if _, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{}}); err != nil {
		return fmt.Errorf("kafka ping %v: %w", cfg.Brokers, err)
	}
	return nil
}
