// Package kafkatest gives tests a Kafka cluster and names nobody else uses on it: a real cluster when
// KAFKA_BROKERS is set (comma-separated host:port list), otherwise an embedded broker on loopback started for
// the test alone. Tests written against it run unchanged in both places.
package kafkatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka"
)

// EnvBrokers names the environment variable that points the tests at a real cluster.
const EnvBrokers = "KAFKA_BROKERS"

// Partitions is the partition count of the topics Config creates: more than one, so that tests see keys spread
// over partitions and per-key order is actually at stake.
const Partitions = 3

// Brokers returns the brokers of KAFKA_BROKERS, or else starts an in-memory embedded broker that is closed
// when the test ends.
func Brokers(t testing.TB) []string {
	t.Helper()
	if env := os.Getenv(EnvBrokers); env != "" {
		var brokers []string
		for _, b := range strings.Split(env, ",") {
			if b = strings.TrimSpace(b); b != "" {
				brokers = append(brokers, b)
			}
		}
		return brokers
	}
	e, err := kafka.StartEmbedded(kafka.EmbeddedOptions{Partitions: Partitions})
	if err != nil {
		t.Fatalf("start embedded kafka: %v", err)
	}
	t.Cleanup(e.Close)
	return e.Addrs()
}

// Config returns a config for Brokers(t) with a TopicPrefix of its own, under which every topic of
// events.AllTopics exists with Partitions partitions. Auto-creation stays off, as in production: a test that
// uses other topics creates them with kafka.EnsureTopics. On a real cluster the topics are deleted when the
// test ends.
func Config(t testing.TB) kafka.Config {
	t.Helper()
	cfg := kafka.Config{
		Brokers:     Brokers(t),
		ClientID:    "mizan-test",
		TopicPrefix: "t-" + unique() + ".",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, cfg, Partitions, 0, events.AllTopics...); err != nil {
		t.Fatalf("create test topics: %v", err)
	}
	if os.Getenv(EnvBrokers) != "" {
		t.Cleanup(func() { deleteTopics(t, cfg) })
	}
	return cfg
}

// Group returns a consumer group id no other test uses.
func Group(t testing.TB) string {
	t.Helper()
	return "g-" + unique()
}

// unique is random enough that parallel tests, and test runs against one long-lived cluster, never collide.
func unique() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// deleteTopics removes every topic under the test's prefix, so that runs against a shared cluster do not pile
// them up. It lists the cluster's topics, so topics a test made with EnsureTopics go too. Plain TCP only, like
// KAFKA_BROKERS.
func deleteTopics(t testing.TB, cfg kafka.Config) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	transport := &kafkago.Transport{ClientID: cfg.ClientID}
	defer transport.CloseIdleConnections()
	client := &kafkago.Client{Addr: kafkago.TCP(cfg.Brokers...), Transport: transport}
	meta, err := client.Metadata(ctx, &kafkago.MetadataRequest{})
	if err != nil {
		t.Logf("list topics to delete: %v", err)
		return
	}
	var mine []string
	for _, topic := range meta.Topics {
		if strings.HasPrefix(topic.Name, cfg.TopicPrefix) {
			mine = append(mine, topic.Name)
		}
	}
	if len(mine) == 0 {
		return
	}
	if _, err := client.DeleteTopics(ctx, &kafkago.DeleteTopicsRequest{Topics: mine}); err != nil {
		t.Logf("delete test topics %v: %v", mine, err)
	}
}
