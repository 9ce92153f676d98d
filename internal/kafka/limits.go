package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	kafkago "github.com/segmentio/kafka-go"
)

// MaxMessageBytes asks the cluster for a broker's message.max.bytes: the largest record batch it accepts, and
// so about the largest message anyone can publish to a topic that does not override it (max.message.bytes).
func MaxMessageBytes(ctx context.Context, cfg Config) (int, error) {
	cfg = cfg.withDefaults()
	if err := cfg.check(); err != nil {
		return 0, err
	}
	client, release, err := cfg.client()
	if err != nil {
		return 0, err
	}
	defer release()
	// An empty, non-nil list asks for no topics: only the brokers.
	meta, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{}})
	if err != nil {
		return 0, fmt.Errorf("message.max.bytes: read the brokers: %w", err)
	}
	if len(meta.Brokers) == 0 {
		return 0, errors.New("message.max.bytes: the cluster named no broker")
	}
	resp, err := client.DescribeConfigs(ctx, &kafkago.DescribeConfigsRequest{Resources: []kafkago.DescribeConfigRequestResource{{
		ResourceType: kafkago.ResourceTypeBroker, ResourceName: strconv.Itoa(meta.Brokers[0].ID),
		ConfigNames: []string{"message.max.bytes"},
	}}})
	if err != nil {
		return 0, fmt.Errorf("message.max.bytes: %w", err)
	}
	for _, r := range resp.Resources {
		if r.Error != nil {
			return 0, fmt.Errorf("message.max.bytes of broker %s: %w", r.ResourceName, r.Error)
		}
		for _, e := range r.ConfigEntries {
			if e.ConfigName != "message.max.bytes" {
				continue
			}
			n, err := strconv.Atoi(e.ConfigValue)
			if err != nil || n <= 0 {
				return 0, fmt.Errorf("message.max.bytes of broker %s is %q", r.ResourceName, e.ConfigValue)
			}
			return n, nil
		}
	}
	return 0, errors.New("message.max.bytes: the broker did not say")
}
