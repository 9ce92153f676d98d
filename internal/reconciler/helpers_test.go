package reconciler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/alerts"
	"github.com/mizanhq/mizan/internal/alerts/slacktest"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/kafka/kafkatest"
	"github.com/mizanhq/mizan/internal/metrics"
	"github.com/mizanhq/mizan/internal/pgtest"
	"github.com/mizanhq/mizan/internal/reconciler"
	"github.com/mizanhq/mizan/internal/sources/sourcetest"
)

var t0 = time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)

// bundle is what a reconciler test needs: a migrated database, fresh topics, a publisher and a Slack sink.
type bundle struct {
	t     *testing.T
	pool  *pgxpool.Pool
	dbURL string
	kafka kafka.Config
	pub   *kafka.Publisher
	slack *slacktest.Sink
	log   *slog.Logger
	logs  *sourcetest.LogBuffer
}

func setup(t *testing.T) *bundle {
	t.Helper()
	pool, url := pgtest.NewDB(t)
	kcfg := kafkatest.Config(t)
	b := &bundle{t: t, pool: pool, dbURL: url, kafka: kcfg, pub: kafka.NewPublisher(kcfg), slack: slacktest.New(nil),
		logs: &sourcetest.LogBuffer{}}
	t.Cleanup(func() { b.pub.Close() })
	t.Cleanup(b.slack.Close)
	b.log = slog.New(slog.NewJSONHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return b
}

// reconciler returns a reconciler over pool (the bundle's by default) as a member of a new consumer group,
// and that consumer (closed when the test ends).
func (b *bundle) reconciler(cfg reconciler.Config, pool *pgxpool.Pool) (*reconciler.Reconciler, *kafka.Consumer) {
	b.t.Helper()
	if pool == nil {
		pool = b.pool
	}
	cfg.Group = "g-" + strings.ReplaceAll(b.t.Name(), "/", "-")
	if cfg.IdleAfter == 0 {
		cfg.IdleAfter = 300 * time.Millisecond
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewReconciler(metrics.Build{}, metrics.Known{})
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return t0.Add(time.Hour) }
	}
	c := kafka.NewConsumer(b.kafka, cfg.Group, events.DataTopics,
		kafka.ConsumerOptions{MaxWait: 100 * time.Millisecond, SessionTimeout: 6 * time.Second})
	b.t.Cleanup(func() { c.Close() })
	r := reconciler.New(cfg, pool, c, b.pub, b.log)
	r.SetDispatcher(alerts.NewDispatcher(alerts.DispatcherConfig{WebhookURL: b.slack.URL, PerSecond: 1000, Attempts: 1,
		Sleep: func(context.Context, time.Duration) error { return nil }}, pool, b.log))
	return r, c
}

// untilIdle runs r --until-idle, with a generous deadline as a safety net.
func untilIdle(t *testing.T, r *reconciler.Reconciler) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return r.Run(ctx, true)
}

// item is a Vandar statement item that moved the wallet: money in, amount and fee as given, the provider's
// running balance after it.
func item(id string, amount, fee, wallet int64) events.StatementItem {
	w := decimal.NewFromInt(wallet)
	return events.StatementItem{Provider: "vandar", Account: "acme", ItemID: id, StatusCode: 1,
		Kind: events.KindPayment, State: events.StateSucceeded, Direction: events.DirectionIn, Channel: "ipg",
		Amount: decimal.NewFromInt(amount), Fee: decimal.NewFromInt(fee), Currency: events.CurrencyToman,
		MovedWallet: true, WalletAfter: &w, CreatedAt: t0, EffectiveAt: t0, Raw: json.RawMessage(`{}`)}
}

func event(t *testing.T, it events.StatementItem) events.Event {
	t.Helper()
	ev, err := it.Event()
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// publish publishes events to the statement topic, in order.
func (b *bundle) publish(evs ...events.Event) {
	b.t.Helper()
	if err := b.pub.Publish(context.Background(), events.TopicStatement, evs); err != nil {
		b.t.Fatal(err)
	}
}

// publishRaw writes values as they are, under key, to the statement topic.
func (b *bundle) publishRaw(key string, values ...[]byte) {
	b.t.Helper()
	msgs := make([]kafkago.Message, len(values))
	for i, v := range values {
		msgs[i] = kafkago.Message{Key: []byte(key), Value: v}
	}
	b.publishRecords(events.TopicStatement, msgs...)
}

// publishRecords writes records as they are — key, value and headers — to topic, in one write: what a
// producer other than mizan's publisher sends (a business's, an attacker's).
func (b *bundle) publishRecords(topic string, msgs ...kafkago.Message) {
	b.t.Helper()
	// A transport of its own: kafka-go's shared default one caches the cluster's metadata for seconds, and on a
	// real broker a topic created since (this test's) is then "unknown" to it.
	transport := &kafkago.Transport{}
	defer transport.CloseIdleConnections()
	w := &kafkago.Writer{Addr: kafkago.TCP(b.kafka.Brokers...), Topic: b.kafka.Topic(topic),
		Balancer: &kafkago.Murmur2Balancer{Consistent: true}, BatchTimeout: 5 * time.Millisecond,
		RequiredAcks: kafkago.RequireAll, Transport: transport}
	defer w.Close()
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		b.t.Fatal(err)
	}
}

// count runs a counting query.
func (b *bundle) count(sql string, args ...any) int {
	b.t.Helper()
	var n int
	if err := b.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		b.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// deadLetter is a row of recon.dead_letters, as the tests look at it.
type deadLetter struct {
	ID                 int64
	Topic, EventID     string
	ReasonCode, Reason string
	Size               int
	SHA256             string
	Original           []byte
	Truncated          bool
	Published          bool
}

func (b *bundle) deadLetters() []deadLetter {
	b.t.Helper()
	rows, err := b.pool.Query(context.Background(), `SELECT id, topic, coalesce(event_id, ''), reason_code, reason, size,
		sha256, original, truncated, published_at IS NOT NULL FROM recon.dead_letters ORDER BY id`)
	if err != nil {
		b.t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (deadLetter, error) {
		var d deadLetter
		err := row.Scan(&d.ID, &d.Topic, &d.EventID, &d.ReasonCode, &d.Reason, &d.Size, &d.SHA256, &d.Original,
			&d.Truncated, &d.Published)
		return d, err
	})
	if err != nil {
		b.t.Fatal(err)
	}
	return out
}

// alertRow is a row of recon.alerts.
type alertRow struct {
	Kind, DedupKey, Summary string
	Resolved, Sent          bool
}

func (b *bundle) alerts(kind string) []alertRow {
	b.t.Helper()
	rows, err := b.pool.Query(context.Background(), `SELECT kind, dedup_key, summary, resolved_at IS NOT NULL,
		open_sent_at IS NOT NULL FROM recon.alerts WHERE kind = $1 ORDER BY id`, kind)
	if err != nil {
		b.t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (alertRow, error) {
		var a alertRow
		err := row.Scan(&a.Kind, &a.DedupKey, &a.Summary, &a.Resolved, &a.Sent)
		return a, err
	})
	if err != nil {
		b.t.Fatal(err)
	}
	return out
}

// dlqCopies reads n messages of the dead-letter topic.
func (b *bundle) dlqCopies(n int) []events.DeadLetter {
	b.t.Helper()
	c := kafka.NewConsumer(b.kafka, "dlq-reader-"+fmt.Sprint(time.Now().UnixNano()), []string{events.TopicDLQ},
		kafka.ConsumerOptions{MaxWait: 100 * time.Millisecond})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []events.DeadLetter
	for len(out) < n {
		msgs, err := c.FetchBatch(ctx)
		if err != nil {
			b.t.Fatalf("read dead-letter copies (have %d of %d): %v", len(out), n, err)
		}
		for _, m := range msgs {
			if len(m.Value) >= 1<<20 {
				b.t.Errorf("a dead-letter copy of %d bytes: over the 1 MiB producer limit", len(m.Value))
			}
			ev, err := events.Decode(m.Value)
			if err != nil {
				b.t.Fatal(err)
			}
			dl, err := events.DecodeData[events.DeadLetter](ev)
			if err != nil {
				b.t.Fatal(err)
			}
			out = append(out, dl)
		}
	}
	return out
}

// lag is the consumer group's total lag.
func lag(t *testing.T, c *kafka.Consumer) int64 {
	t.Helper()
	_, total, err := c.Lag(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return total
}

// eventually polls cond until it holds; the deadline is a safety net for a loaded machine, not a timing
// assertion.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still not so after 90s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// value reads a counter or gauge.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		t.Fatal(err)
	}
	if c := out.GetCounter(); c != nil {
		return c.GetValue()
	}
	return out.GetGauge().GetValue()
}

// gateFunc is a trust gate (reconciler.Gate) made of a function.
type gateFunc func(ctx context.Context, ev events.Event, fact any) error

func (f gateFunc) Admit(ctx context.Context, ev events.Event, fact any) error {
	return f(ctx, ev, fact)
}
