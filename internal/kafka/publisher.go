package kafka

import (
	"context"
	"errors"
	"fmt"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/mizanhq/mizan/internal/events"
)

// Headers every published message carries. The value is a structured-mode CloudEvent, and the content-type
// header says so: the CloudEvents Kafka binding reads a message that has ce_* headers but no
// application/cloudevents content type as binary mode, and would take the whole envelope for the data. The
// ce_* copies let tools (kcat, a broker UI, a dead-letter filter) see an event's id and type without parsing
// the value.
const (
	HeaderContentType = "content-type"
	HeaderID          = "ce_id"
	HeaderType        = "ce_type"
	HeaderSource      = "ce_source"
	HeaderSpecVersion = "ce_specversion"

	// ContentTypeCloudEvents is the structured-mode content type of every value this package writes.
	ContentTypeCloudEvents = "application/cloudevents+json; charset=UTF-8"
)

// writeBatchSize is how many messages the writer may put in one produce request per partition. kafka-go's
// default is 100, which splits a 1,000-event page into ten sequential round trips per partition; the real
// limit is the batch's bytes (kafka-go's default 1 MiB, the brokers' default message.max.bytes).
const writeBatchSize = 10_000

// Publisher writes events to Kafka synchronously. It is safe for concurrent use; one per process is enough.
type Publisher struct {
	cfg     Config
	w       *kafkago.Writer
	release func()

	// err is a configuration error (bad Security settings): NewPublisher does not return one, so Publish does.
	err error
}

// NewPublisher returns a publisher. It connects lazily, on the first Publish.
//
// Partitioning: kafka-go's Murmur2Balancer, the Java client's default partitioner for keyed messages (murmur2
// of the key, positive, modulo the partition count). All events of one key go to one partition, the same
// partition after a restart and the same one a Java, librdkafka or franz-go producer would choose — as long as
// the topic's partition count does not change. Consistent mode also hashes an empty key (to one fixed
// partition) instead of scattering it at random; mizan's events always have keys.
func NewPublisher(cfg Config) *Publisher {
	cfg = cfg.withDefaults()
	transport, release, err := cfg.transport()
	if err != nil {
		return &Publisher{cfg: cfg, release: func() {}, err: err}
	}
	w := &kafkago.Writer{
		Addr:                   cfg.addr(),
		Balancer:               kafkago.Murmur2Balancer{Consistent: true},
		RequiredAcks:           kafkago.RequireAll,
		BatchTimeout:           cfg.WriteBatchTimeout,
		BatchSize:              writeBatchSize,
		MaxAttempts:            cfg.WriteAttempts,
		WriteTimeout:           cfg.WriteTimeout,
		ReadTimeout:            cfg.WriteTimeout,
		AllowAutoTopicCreation: cfg.AllowAutoTopicCreation,
		Transport:              transport,
		Logger:                 cfg.debugLogger(),
		ErrorLogger:            cfg.errorLogger(),
	}
	return &Publisher{cfg: cfg, w: w, release: release}
}

// Publish writes evs to the topic with base name topic, in order, and returns when every one of them has been
// acknowledged by all in-sync replicas of its partition. Events of one key keep their order on their partition.
//
// An error means the page was not published as a whole: the caller must not advance its cursor, and should
// publish the page again later. Some events may already have been written, and the writer's own retries (up
// to Config.WriteAttempts per batch) may still deliver some after an error such as a cancelled ctx: publishing again
// makes duplicates, which consumers drop by event id.
//
// The message timestamp is the time of publishing, not the event's time: brokers apply time-based retention
// to message timestamps, and an old statement item must not be deleted the moment it is published.
func (p *Publisher) Publish(ctx context.Context, topic string, evs []events.Event) error {
	if p.err != nil {
		return p.err
	}
	if err := p.cfg.check(); err != nil {
		return err
	}
	if len(evs) == 0 {
		return nil
	}
	full := p.cfg.Topic(topic)
	msgs := make([]kafkago.Message, len(evs))
	for i, ev := range evs {
		value, err := ev.Marshal()
		if err != nil {
			return fmt.Errorf("publish to %s: encode event %s: %w", full, ev.ID, err)
		}
		msgs[i] = kafkago.Message{
			Topic: full,
			Key:   []byte(ev.Key),
			Value: value,
			Headers: []kafkago.Header{
				{Key: HeaderContentType, Value: []byte(ContentTypeCloudEvents)},
				{Key: HeaderID, Value: []byte(ev.ID)},
				{Key: HeaderType, Value: []byte(ev.Type)},
				{Key: HeaderSource, Value: []byte(ev.Source)},
				{Key: HeaderSpecVersion, Value: []byte(events.SpecVersion)},
			},
		}
	}
	if err := p.w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("publish %d events to %s: %w", len(evs), full, summarize(err))
	}
	return nil
}

// Close releases the writer's connections. Publish is synchronous, so nothing waits to be sent, but the retries
// of a batch whose Publish gave up on a cancelled context may still be running: Close waits for them.
func (p *Publisher) Close() error {
	if p.w == nil {
		return nil
	}
	err := p.w.Close()
	p.release()
	if err != nil {
		return fmt.Errorf("close publisher: %w", err)
	}
	return nil
}

// summarize shrinks kafka-go's WriteErrors, which holds one error per message (and prints all of them), to how
// many failed and the distinct causes, still matchable with errors.Is.
func summarize(err error) error {
	var werrs kafkago.WriteErrors
	if !errors.As(err, &werrs) {
		return err
	}
	seen := map[string]bool{}
	var causes []error
	for _, e := range werrs {
		if e != nil && !seen[e.Error()] {
			seen[e.Error()] = true
			causes = append(causes, e)
		}
	}
	return fmt.Errorf("%d of %d not acknowledged: %w", werrs.Count(), len(werrs), errors.Join(causes...))
}

// HeaderValue returns the value of the first header named name, or "" if there is none.
func HeaderValue(m Message, name string) string {
	for _, h := range m.Headers {
		if h.Key == name {
			return string(h.Value)
		}
	}
	return ""
}
