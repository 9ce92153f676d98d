package kafka

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// EmbeddedOptions configure an embedded broker. The zero value is an in-memory broker on a free port.
type EmbeddedOptions struct {
	// DataDir keeps the broker's logs and the groups' committed offsets in this directory, so that a broker
	// started again on it continues where the last one stopped. Default "": in memory, gone on Close.
	DataDir string

	// Port is the TCP port on 127.0.0.1 to listen on. Default 0: any free port (see Addrs).
	Port int

	// Partitions is the partition count of the seeded topics and of topics created without one. Default 3.
	Partitions int

	// Topics are created at start (full names, as the broker knows them) if they do not exist yet.
	Topics []string

	// Logger receives the broker's own messages. Default nil: discarded.
	Logger *slog.Logger
}

// DefaultEmbeddedPartitions is the default of EmbeddedOptions.Partitions.
const DefaultEmbeddedPartitions = 3

// Embedded is an in-process, single-node Kafka-protocol broker (franz-go's kfake) on loopback, for tests and
// the local pipeline. It speaks the real wire protocol over TCP, so the code under test is the production code.
// It is not a production broker: one node, no replication, and unsynced writes that a crash (but not Close)
// may lose.
type Embedded struct {
	cluster *kfake.Cluster
}

// StartEmbedded starts a broker and creates opts.Topics. It accepts auto-creation of topics, as Kafka does by
// default; whether a client asks for it is the client's Config.
func StartEmbedded(opts EmbeddedOptions) (*Embedded, error) {
	opts.Partitions = cmp.Or(opts.Partitions, DefaultEmbeddedPartitions)
	kopts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.DefaultNumPartitions(opts.Partitions),
		kfake.AllowAutoTopicCreation(),
	}
	if opts.Port != 0 {
		kopts = append(kopts, kfake.Ports(opts.Port))
	}
	if opts.DataDir != "" {
		kopts = append(kopts, kfake.DataDir(opts.DataDir))
	}
	if opts.Logger != nil {
		kopts = append(kopts, kfake.WithLogger(kfakeLogger{opts.Logger.With("component", "kfake")}))
	}
	cluster, err := kfake.NewCluster(kopts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded kafka: %w", err)
	}
	e := &Embedded{cluster: cluster}

	// Not kfake.SeedTopics: kfake ignores seeds when it loads a DataDir, so a topic added to Topics since the
	// last run would be missing. Creating them over the wire works either way and proves the broker answers.
	if len(opts.Topics) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := EnsureTopics(ctx, Config{Brokers: e.Addrs()}, opts.Partitions, 0, opts.Topics...); err != nil {
			e.Close()
			return nil, fmt.Errorf("start embedded kafka: %w", err)
		}
	}
	return e, nil
}

// Addrs returns the broker's host:port addresses, for Config.Brokers.
func (e *Embedded) Addrs() []string { return e.cluster.ListenAddrs() }

// Close stops the broker; with a DataDir it first saves its state there. Calling it again does nothing.
func (e *Embedded) Close() { e.cluster.Close() }

// kfakeLogger adapts slog to kfake's logger. kfake logs every request at its Info level, which is Debug here.
type kfakeLogger struct{ l *slog.Logger }

func (k kfakeLogger) Logf(level kfake.LogLevel, format string, args ...any) {
	lvl := slog.LevelDebug
	switch level {
	case kfake.LogLevelError:
		lvl = slog.LevelError
	case kfake.LogLevelWarn:
		lvl = slog.LevelWarn
	}
	if k.l.Enabled(context.Background(), lvl) {
		k.l.Log(context.Background(), lvl, fmt.Sprintf(format, args...))
	}
}
