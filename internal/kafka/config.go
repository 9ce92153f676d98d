// Package kafka is mizan's Kafka transport: a thin layer over github.com/segmentio/kafka-go that publishes
// events as CloudEvents (structured JSON) keyed by provider account, consumes them in a consumer group with
// explicit commits, creates and checks topics, reports a group's lag, and runs an in-process broker (kfake)
// for tests and the local pipeline. Every connection, whichever client opens it, uses the TLS and SASL
// settings of Config.Security (security.go); Ping is the readiness check built on them.
//
// Delivery is at least once: Publish returns only after every message is acknowledged by all in-sync replicas,
// but a failed Publish may still have delivered some messages (and kafka-go's writer retries internally), so a
// retried page can appear twice. Consumers commit after they have applied a batch, so a crash replays it. Both
// are harmless only because the reconciler deduplicates by event id; nothing here promises exactly once.
//
// Topic names passed to this package are base names (events.TopicStatement, …); Config.TopicPrefix is
// prepended to every one of them, so that tests sharing a cluster never see each other's messages. Messages
// and lag reports carry the full, prefixed name, as the broker knows it.
package kafka

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// Message is a Kafka record as kafka-go reads it. The alias lets callers use this package alone.
type Message = kafkago.Message

// Start offsets for a group's partitions that have no committed offset yet.
const (
	FirstOffset = kafkago.FirstOffset // the oldest message still retained
	LastOffset  = kafkago.LastOffset  // only messages published after the group first joined
)

// Config says how to reach the cluster and how to name topics. The zero value of every field but Brokers is a
// working default.
type Config struct {
	// Brokers are the bootstrap addresses, host:port. Required.
	Brokers []string

	// ClientID names this process to the brokers (in their logs and quotas). Default "mizan".
	ClientID string

	// TopicPrefix is prepended to every topic name. Default "": topics are exactly the events.Topic* names.
	// Tests set a unique prefix such as "t-1a2b3c." so that parallel tests never share a topic.
	TopicPrefix string

	// AllowAutoTopicCreation lets the publisher create a missing topic on first write (if the brokers allow it),
	// with the brokers' default partition count. Default false: topics are created on purpose, by EnsureTopics,
	// so that a typo never becomes a new topic and partition counts are chosen, not inherited.
	AllowAutoTopicCreation bool

	// WriteBatchTimeout is how long the writer waits for more messages before it sends a partly filled batch.
	// Every Publish waits this long at its end, so it is the floor of a publish's latency. Default 5ms
	// (kafka-go's own default is 1s, which would make every synchronous publish take a second).
	WriteBatchTimeout time.Duration

	// WriteTimeout bounds one produce request on the wire, sending it and waiting for its acknowledgement; a
	// request that times out is retried. Default 10s.
	WriteTimeout time.Duration

	// WriteAttempts is how many times the writer tries a batch that fails with a temporary or network error
	// (backing off 100ms, 400ms, 900ms, then 1s in between) before Publish fails. Retries ride out a leader
	// election; they go on after Publish has returned on a cancelled context, Close waits for them, and each
	// may duplicate messages. Default 5: about 2.4s of backoff (kafka-go's 10 made Close wait about 7.5s for a
	// stopped broker, and a failed page is published again by its poller anyway).
	WriteAttempts int

	// DialTimeout bounds opening a connection to a broker. Default 10s.
	DialTimeout time.Duration

	// Security is TLS and SASL for every connection: the consumer's, the publisher's and the admin calls'
	// (EnsureTopics, Lag, Ping) alike. Default zero: plain TCP without authentication.
	Security Security

	// Logger receives kafka-go's internal messages (errors it retries at Warn, chatter at Debug) and the reader
	// errors that end a batch early. Default nil: discarded.
	Logger *slog.Logger
}

// Defaults (see Config).
const (
	DefaultClientID          = "mizan"
	DefaultWriteBatchTimeout = 5 * time.Millisecond
	DefaultWriteTimeout      = 10 * time.Second
	DefaultWriteAttempts     = 5
	DefaultDialTimeout       = 10 * time.Second
)

// Topic returns the full name of a base topic name, with the prefix.
func (c Config) Topic(base string) string { return c.TopicPrefix + base }

// topics prefixes every base name.
func (c Config) topics(bases []string) []string {
	full := make([]string, len(bases))
	for i, b := range bases {
		full[i] = c.Topic(b)
	}
	return full
}

// withDefaults fills in every zero field that has a default.
func (c Config) withDefaults() Config {
	c.ClientID = cmp.Or(c.ClientID, DefaultClientID)
	c.WriteBatchTimeout = cmp.Or(c.WriteBatchTimeout, DefaultWriteBatchTimeout)
	c.WriteTimeout = cmp.Or(c.WriteTimeout, DefaultWriteTimeout)
	c.WriteAttempts = cmp.Or(c.WriteAttempts, DefaultWriteAttempts)
	c.DialTimeout = cmp.Or(c.DialTimeout, DefaultDialTimeout)
	return c
}

// check reports what makes the config unusable.
func (c Config) check() error {
	if len(c.Brokers) == 0 {
		return fmt.Errorf("kafka: no brokers configured")
	}
	return c.Security.check()
}

// addr is the bootstrap address set kafka-go's writer and client expect.
func (c Config) addr() net.Addr { return kafkago.TCP(c.Brokers...) }

// dialer is the consumer's way to connect, with the Security settings.
func (c Config) dialer() (*kafkago.Dialer, error) {
	tlsConfig, mech, err := c.Security.build()
	if err != nil {
		return nil, err
	}
	return &kafkago.Dialer{
		ClientID:      c.ClientID,
		Timeout:       c.DialTimeout,
		DualStack:     true,
		TLS:           tlsConfig,
		SASLMechanism: mech,
	}, nil
}

// transport returns the RoundTripper for the writer and admin calls, with the Security settings, and a
// function that releases it: a transport keeps connections and a metadata refresher, so whoever builds it
// must close it.
func (c Config) transport() (kafkago.RoundTripper, func(), error) {
	tlsConfig, mech, err := c.Security.build()
	if err != nil {
		return nil, nil, err
	}
	t := &kafkago.Transport{
		ClientID:    c.ClientID,
		DialTimeout: c.DialTimeout,
		// Dial opens TCP only; the transport runs the TLS handshake on top, with a ServerName per broker.
		Dial: (&net.Dialer{Timeout: c.DialTimeout}).DialContext,
		TLS:  tlsConfig,
		SASL: mech,
	}
	return t, t.CloseIdleConnections, nil
}

// client returns an admin client and its release function.
func (c Config) client() (*kafkago.Client, func(), error) {
	t, release, err := c.transport()
	if err != nil {
		return nil, nil, err
	}
	return &kafkago.Client{Addr: c.addr(), Transport: t, Timeout: c.WriteTimeout}, release, nil
}

// debugLogger and errorLogger adapt the slog logger to kafka-go's Printf-style loggers; nil keeps kafka-go
// silent.
func (c Config) debugLogger() kafkago.Logger { return c.logFunc(slog.LevelDebug) }
func (c Config) errorLogger() kafkago.Logger { return c.logFunc(slog.LevelWarn) }

func (c Config) logFunc(level slog.Level) kafkago.Logger {
	if c.Logger == nil {
		return nil
	}
	l := c.Logger.With("component", "kafka-go")
	return kafkago.LoggerFunc(func(format string, args ...any) {
		// Formatting is the expensive part of kafka-go's chatter: skip it when the level is off.
		if l.Enabled(context.Background(), level) {
			l.Log(context.Background(), level, fmt.Sprintf(format, args...))
		}
	})
}
