// Package reconciler consumes mizan's events and applies them to the ledger: a Kafka consumer group whose
// every batch is one PostgreSQL transaction, with offsets committed only after that transaction commits.
//
// Exactly once in effect: each event id is recorded in the same transaction as its effects, and ids already
// recorded are skipped, so the replays that at-least-once delivery brings change nothing. A message that
// cannot be applied goes to the dead-letter topic with the reason and never blocks its partition.
package reconciler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mizanhq/mizan/internal/alerts"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/metrics"
)

// Consumer is what the reconciler needs of a Kafka consumer group member.
type Consumer interface {
	FetchBatch(ctx context.Context) ([]kafka.Message, error)
	Commit(ctx context.Context, msgs []kafka.Message) error
	Lag(ctx context.Context) (map[string]map[int]int64, int64, error)
}

// Publisher sends events to a topic (for dead letters).
type Publisher interface {
	Publish(ctx context.Context, topic string, evs []events.Event) error
}

// Config tunes a Reconciler.
type Config struct {
	// Group is the consumer group id, recorded in dead letters. Default "mizan-reconciler".
	Group string
	// IdleAfter is how long FetchBatch may find nothing before an --until-idle run checks whether the group
	// has caught up. Default 2s.
	IdleAfter time.Duration
	// SoftStop is how long a batch in flight may take to finish after shutdown is asked for. Default 30s.
	SoftStop time.Duration
	// RetryMax bounds the backoff between attempts when PostgreSQL or Kafka is unreachable. Default 30s.
	RetryMax time.Duration
	// Checks tunes the reconciliation checks.
	Checks CheckConfig
	// Now is the clock of the time-driven checks. Default time.Now.
	Now func() time.Time
	// DeliverEvery is how often the Slack dispatcher looks for undelivered alerts while running. Default 2s.
	DeliverEvery time.Duration
	// Metrics receives the reconciler's metrics. Default: a registry nobody scrapes.
	Metrics *metrics.Registry
}

// Reconciler applies events to the ledger.
type Reconciler struct {
	cfg        Config
	pool       *pgxpool.Pool
	consumer   Consumer
	dlq        Publisher
	log        *slog.Logger
	dispatcher *alerts.Dispatcher
	// txEntries counts the entries the current batch transaction posted (the loop is single-threaded).
	txEntries int

	// Stats since start, for the run summary.
	Stats Stats
}

// Stats counts what a run did.
type Stats struct {
	Messages     int
	Batches      int
	DeadLetters  int
	AlertsOpened int
	Undelivered  int // alerts Slack has not accepted, at the end of an --until-idle run
}

// New returns a Reconciler.
func New(cfg Config, pool *pgxpool.Pool, consumer Consumer, dlq Publisher, log *slog.Logger) *Reconciler {
	cfg.Group = cmp.Or(cfg.Group, "mizan-reconciler")
	cfg.IdleAfter = cmp.Or(cfg.IdleAfter, 2*time.Second)
	cfg.SoftStop = cmp.Or(cfg.SoftStop, 30*time.Second)
	cfg.RetryMax = cmp.Or(cfg.RetryMax, 30*time.Second)
	cfg.Checks.SettlementGrace = cmp.Or(cfg.Checks.SettlementGrace, 2*time.Hour)
	cfg.Checks.StaleAfter = cmp.Or(cfg.Checks.StaleAfter, 30*time.Minute)
	cfg.Checks.Interval = cmp.Or(cfg.Checks.Interval, time.Minute)
	cfg.DeliverEvery = cmp.Or(cfg.DeliverEvery, 2*time.Second)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	return &Reconciler{cfg: cfg, pool: pool, consumer: consumer, dlq: dlq, log: log}
}

// SetDispatcher makes the reconciler deliver alerts to Slack as it runs, and every pending one before an
// --until-idle run exits.
func (r *Reconciler) SetDispatcher(d *alerts.Dispatcher) { r.dispatcher = d }

// Run consumes until ctx is done, or, with untilIdle, until the group has consumed and committed every
// partition to its end; then it returns nil. The consumer is closed after Run returns, never run again: a
// batch fetched ahead of the one in flight is dropped uncommitted when Run returns, and only a new consumer
// (resuming from the committed offsets) is sure to read it again.
func (r *Reconciler) Run(ctx context.Context, untilIdle bool) error {
	if !untilIdle && r.dispatcher != nil {
		go r.deliverLoop(ctx)
	}
	// The next batch is fetched and decoded while the one before it is applied: decoding is most of the
	// reconciler's own CPU, and on its own it would leave PostgreSQL idle for a third of every batch.
	fetchCtx, stopFetching := context.WithCancel(ctx)
	pending := r.prefetch(fetchCtx)
	defer func() {
		stopFetching()
		if pending != nil {
			<-pending
		}
	}()
	// The time-driven checks judge the data the reconciler has applied, so they run when it has caught up
	// (a fetch found nothing), or — under constant load — at least every other interval. Running them before
	// consuming what is waiting would call a source stale whose polls are sitting in the topic.
	lastPeriodic, idle := time.Now(), false
	for ctx.Err() == nil {
		if !untilIdle && ((idle && time.Since(lastPeriodic) >= r.cfg.Checks.Interval) ||
			time.Since(lastPeriodic) >= 2*r.cfg.Checks.Interval) {
			if err := r.periodic(ctx); err != nil && ctx.Err() == nil {
				r.log.Warn("time-driven checks failed; they run again next interval", "err", err)
			}
			lastPeriodic = time.Now()
		}
		f := <-pending
		pending = nil
		idle = len(f.batch) == 0
		if idle {
			if ctx.Err() != nil {
				break
			}
			if f.err != nil && !errors.Is(f.err, context.DeadlineExceeded) {
				// The reader retries on its own (a broker restarting, a rebalance): say so and fetch again.
				r.log.Warn("fetch failed; fetching again", "err", f.err)
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			} else if untilIdle {
				caughtUp, err := r.caughtUp(ctx)
				if err != nil {
					return err
				}
				if caughtUp {
					return r.finish(ctx)
				}
			}
			pending = r.prefetch(fetchCtx)
			continue
		}
		pending = r.prefetch(fetchCtx)
		// A batch that was fetched is finished even when shutdown is asked for meanwhile: applied, committed,
		// offsets committed, within SoftStop.
		stopCtx, stop := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.SoftStop)
		err := r.handle(stopCtx, ctx, f.batch)
		stop()
		if err != nil {
			return err
		}
	}
	return nil
}

// fetched is a batch read from Kafka and decoded, or why none came within IdleAfter.
type fetched struct {
	batch []decoded
	err   error
}

// prefetch fetches and decodes the next batch in the background; its one result arrives on the channel.
func (r *Reconciler) prefetch(ctx context.Context) <-chan fetched {
	out := make(chan fetched, 1)
	go func() {
		waitCtx, cancel := context.WithTimeout(ctx, r.cfg.IdleAfter)
		msgs, err := r.consumer.FetchBatch(waitCtx)
		cancel()
		f := fetched{batch: make([]decoded, len(msgs)), err: err}
		for i, m := range msgs {
			f.batch[i] = decode(m)
		}
		out <- f
	}()
	return out
}

func (r *Reconciler) caughtUp(ctx context.Context) (bool, error) {
	_, total, err := r.consumer.Lag(ctx)
	if err != nil {
		return false, fmt.Errorf("check consumer lag: %w", err)
	}
	return total == 0, nil
}

// handle applies one fetched batch and commits its offsets, retrying infrastructure failures with backoff
// until they clear or ctx (the run's) ends.
func (r *Reconciler) handle(ctx, runCtx context.Context, batch []decoded) error {
	msgs := make([]kafka.Message, len(batch))
	for i, d := range batch {
		msgs[i] = d.msg
	}
	op := func() (struct{}, error) {
		err := r.applyAll(ctx, batch)
		if err != nil && runCtx.Err() != nil {
			return struct{}{}, backoff.Permanent(err)
		}
		return struct{}{}, err
	}
	_, err := backoff.Retry(runCtx, op,
		backoff.WithBackOff(&backoff.ExponentialBackOff{InitialInterval: 100 * time.Millisecond,
			RandomizationFactor: 0.5, Multiplier: 2, MaxInterval: r.cfg.RetryMax}),
		backoff.WithMaxElapsedTime(0),
		backoff.WithNotify(func(err error, wait time.Duration) {
			r.log.Warn("apply failed; retrying", "err", err, "retry_in", wait.Round(time.Millisecond), "messages", len(msgs))
		}))
	if err != nil {
		return fmt.Errorf("apply batch of %d: %w", len(msgs), err)
	}
	if err := r.consumer.Commit(ctx, msgs); err != nil {
		// The ledger has the batch; a replay after this is skipped by event id.
		return fmt.Errorf("commit offsets: %w", err)
	}
	r.Stats.Messages += len(msgs)
	r.Stats.Batches++
	r.cfg.Metrics.BatchSize.Observe(float64(len(msgs)))
	return nil
}

// applyAll applies a batch, isolating messages that cannot be applied: it tries the batch as one
// transaction, and if that fails for a reason the data carries, it applies the messages one by one and
// refuses only those that fail on their own. Refused messages go to the dead-letter topic before the batch's
// offsets are committed.
func (r *Reconciler) applyAll(ctx context.Context, batch []decoded) error {
	err := r.applyBatch(ctx, batch)
	if err != nil && !isPermanent(err) {
		return err
	}
	if err != nil {
		r.log.Warn("batch refused; applying its messages one by one", "err", err, "messages", len(batch))
		for i := range batch {
			if batch[i].refuse != "" {
				continue
			}
			if err := r.applyBatch(ctx, batch[i:i+1]); err != nil {
				if !isPermanent(err) {
					return err
				}
				batch[i].refuse = err.Error()
			}
		}
	}
	return r.deadLetter(ctx, batch)
}

// deadLetter publishes every refused message of the batch to the dead-letter topic.
func (r *Reconciler) deadLetter(ctx context.Context, batch []decoded) error {
	var evs []events.Event
	for _, d := range batch {
		if d.refuse == "" {
			continue
		}
		dl := events.DeadLetter{Topic: d.msg.Topic, Partition: d.msg.Partition, Offset: d.msg.Offset,
			Key: string(d.msg.Key), EventID: d.ev.ID, Reason: d.refuse, Value: d.msg.Value,
			RefusedAt: time.Now().UTC(), RefusedBy: r.cfg.Group}
		ev, err := dl.Event()
		if err != nil {
			return err
		}
		evs = append(evs, ev)
		r.log.Error("event refused to the dead-letter topic", "topic", d.msg.Topic, "partition", d.msg.Partition,
			"offset", d.msg.Offset, "event_id", d.ev.ID, "reason", d.refuse)
	}
	if len(evs) == 0 {
		return nil
	}
	if err := r.dlq.Publish(ctx, events.TopicDLQ, evs); err != nil {
		return fmt.Errorf("publish %d dead letters: %w", len(evs), err)
	}
	r.Stats.DeadLetters += len(evs)
	for _, d := range batch {
		if d.refuse != "" {
			r.cfg.Metrics.DeadLetters.WithLabelValues(d.msg.Topic).Inc()
			r.cfg.Metrics.Messages.WithLabelValues(d.msg.Topic, metrics.MessageDeadLetter).Inc()
		}
	}
	return nil
}

// finish ends an --until-idle run: the time-driven checks once more, then every pending alert to Slack.
func (r *Reconciler) finish(ctx context.Context) error {
	if err := r.periodic(ctx); err != nil {
		return err
	}
	if r.dispatcher == nil {
		return nil
	}
	undelivered, err := r.dispatcher.Deliver(ctx)
	r.Stats.Undelivered = undelivered
	if err != nil {
		return fmt.Errorf("deliver alerts: %w", err)
	}
	if undelivered > 0 {
		r.log.Error("some alerts could not be delivered to Slack; they stay in recon.alerts and are retried by the next run",
			"undelivered", undelivered)
	}
	return nil
}

// deliverLoop sends alerts to Slack while the reconciler runs.
func (r *Reconciler) deliverLoop(ctx context.Context) {
	t := time.NewTicker(r.cfg.DeliverEvery)
	defer t.Stop()
	for {
		if _, err := r.dispatcher.Deliver(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("alert delivery round failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
