// Package reconciler consumes mizan's events and applies them to the ledger: a Kafka consumer group whose
// batches are applied by concurrent workers, each batch part in one PostgreSQL transaction, with offsets
// committed only after every transaction before them has committed.
//
// Exactly once in effect: each event id is recorded in the same transaction as its effects, and ids already
// recorded are skipped, so the replays that at-least-once delivery brings change nothing.
//
// What goes wrong is one of three classes (failure.go): a message's own fault is isolated by bisecting its
// batch and recorded as a dead letter with the rest of the batch; an infrastructure failure is retried with
// backoff and, past a bound, makes the process not ready and raises a `stalled` alert; an environment problem
// (schema version, missing table or privilege) stops consumption without touching the offsets.
package reconciler

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mizanhq/mizan/internal/alerts"
	"github.com/mizanhq/mizan/internal/apply"
	"github.com/mizanhq/mizan/internal/checks"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/matching"
	"github.com/mizanhq/mizan/internal/metrics"
	"github.com/mizanhq/mizan/internal/reconciler/reconcilerdb"
)

// Consumer is what the reconciler needs of a Kafka consumer group member. FetchBatch is called from one
// goroutine; Commit and Lag from others, concurrently with it.
type Consumer interface {
	FetchBatch(ctx context.Context) ([]kafka.Message, error)
	Commit(ctx context.Context, msgs []kafka.Message) error
	Lag(ctx context.Context) (map[string]map[int]int64, int64, error)
}

// Publisher sends events to a topic (the copies of dead letters).
type Publisher interface {
	Publish(ctx context.Context, topic string, evs []events.Event) error
}

// Config tunes a Reconciler. Every field has a working default.
type Config struct {
	// Group is the consumer group id, recorded in dead letters. Default "mizan-reconciler".
	Group string
	// IdleAfter is how long FetchBatch may find nothing before an --until-idle run checks whether the group
	// has caught up. Default 2s.
	IdleAfter time.Duration
	// SoftStop is how long the batches in flight may take to finish after shutdown is asked for. Default 30s.
	SoftStop time.Duration
	// RetryMax bounds the backoff between attempts when PostgreSQL or Kafka is unreachable. Default 30s.
	RetryMax time.Duration
	// Workers is how many batch parts are applied at once, each in its own transaction on its own
	// connection; messages of one key always go to the same worker, in order. Default DefaultWorkers().
	// (MIZAN_APPLY_WORKERS)
	Workers int
	// MaxApply is the most messages a worker applies in one transaction when it has fallen behind and merges
	// the parts waiting for it. Default 1000.
	MaxApply int
	// StallAfter is how long a failure may go on (or the group may lag with nothing applied) before /readyz
	// fails and a `stalled` alert is raised; an --until-idle run then exits with ExitStalled.
	// Default 2m. (MIZAN_STALL_AFTER)
	StallAfter time.Duration
	// EnvRetry is how often a reconciler stopped by an environment problem looks again whether it is fixed
	// (a long-running reconciler waits instead of exiting, so it does not crash-loop during a migration).
	// Default 30s.
	EnvRetry time.Duration
	// LagEvery is how often the consumer lag gauge is refreshed, whatever the batches do. Default 15s.
	LagEvery time.Duration
	// RepublishEvery is how often dead letters whose copy the dead-letter topic did not accept are offered
	// again. Default 1m.
	RepublishEvery time.Duration
	// Checks tunes the reconciliation checks (zero durations take their defaults).
	Checks checks.Config
	// Matching tunes how expectations are matched with provider lines (the zero value: every default).
	Matching matching.Config
	// Now is the clock of the time-driven checks. Default time.Now.
	Now func() time.Time
	// Clock is the clock of stall detection and the last-applied timestamps. Default time.Now.
	Clock func() time.Time
	// DeliverEvery is how often the Slack dispatcher looks for undelivered alerts while running. Default 2s.
	DeliverEvery time.Duration
	// Metrics receives the reconciler's metrics. Default: a registry nobody scrapes.
	Metrics *metrics.Reconciler
	// Trust admits each event before it is applied (internal/trust: signature, known source, amounts and
	// times within bounds); what it refuses is dead-lettered (reason code untrusted), and an event it could
	// not judge (the database did not answer) fails its batch, which is retried. cmd/reconciler always sets
	// it; `dlq replay` passes the same gate. nil admits every event: only for tests of the consume loop itself.
	Trust Gate
	// ExpectationKeys are the business's Ed25519 public keys (MIZAN_EXPECTATION_KEYS): when any are given, an
	// expectation (events.TypeExpected) is applied only if its record carries a valid signature by one of them
	// (matching.SignatureHeader), and is otherwise dead-lettered, reason code untrusted, before anything is
	// written. Every key listed is accepted, so a rotation lists the new key and the old. Default none:
	// expectations are believed unsigned, and who may write their topic is a Kafka ACL (docs/matching.md).
	ExpectationKeys matching.Keys
}

// Gate is the trust boundary (a *trust.Gate): nil to admit ev, an error that is trust.ErrRefused to refuse it,
// any other error if it cannot say now.
type Gate interface {
	Admit(ctx context.Context, ev events.Event, fact any) error
}

// DefaultWorkers is the default of Config.Workers: GOMAXPROCS, at least 2. Applying is bound by PostgreSQL's
// CPU (docs/performance.md), so more workers than the cores PostgreSQL can use only queue on its locks; and
// a second worker keeps the database busy while the first waits for its commit's fsync.
func DefaultWorkers() int { return max(2, runtime.GOMAXPROCS(0)) }

func (c Config) withDefaults() Config {
	c.Group = cmp.Or(c.Group, "mizan-reconciler")
	c.IdleAfter = cmp.Or(c.IdleAfter, 2*time.Second)
	c.SoftStop = cmp.Or(c.SoftStop, 30*time.Second)
	c.RetryMax = cmp.Or(c.RetryMax, 30*time.Second)
	c.Workers = cmp.Or(c.Workers, DefaultWorkers())
	c.MaxApply = cmp.Or(c.MaxApply, kafka.DefaultMaxBatch)
	c.StallAfter = cmp.Or(c.StallAfter, 2*time.Minute)
	c.EnvRetry = cmp.Or(c.EnvRetry, 30*time.Second)
	c.LagEvery = cmp.Or(c.LagEvery, 15*time.Second)
	c.RepublishEvery = cmp.Or(c.RepublishEvery, time.Minute)
	c.Checks = c.Checks.WithDefaults()
	c.DeliverEvery = cmp.Or(c.DeliverEvery, 2*time.Second)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Metrics == nil {
		c.Metrics = metrics.NewReconciler(metrics.Build{}, metrics.Known{})
	}
	return c
}

// Reconciler applies events to the ledger.
type Reconciler struct {
	cfg        Config
	pool       *pgxpool.Pool
	consumer   Consumer
	dlq        Publisher
	log        *slog.Logger
	dispatcher *alerts.Dispatcher
	applier    *apply.Applier
	health     *health

	// publishQ hands freshly recorded dead letters to the goroutine that copies them to the dead-letter topic.
	publishQ chan []letter

	statsMu sync.Mutex
	// Stats since start, for the run summary. Read it after Run has returned.
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

// New returns a Reconciler. dlq may be nil: dead letters are then only rows.
func New(cfg Config, pool *pgxpool.Pool, consumer Consumer, dlq Publisher, log *slog.Logger) *Reconciler {
	cfg = cfg.withDefaults()
	r := &Reconciler{cfg: cfg, pool: pool, consumer: consumer, dlq: dlq, log: log,
		applier: apply.New(cfg.Checks, cfg.Now).WithMatching(cfg.Matching), publishQ: make(chan []letter, 64)}
	r.health = newHealth(cfg.Clock, cfg.StallAfter, cfg.Metrics)
	return r
}

// SetDispatcher makes the reconciler deliver alerts to Slack as it runs, and every pending one before an
// --until-idle run exits.
func (r *Reconciler) SetDispatcher(d *alerts.Dispatcher) { r.dispatcher = d }

// Ready is the reconciler's readiness check for /readyz: it fails while an environment problem stops
// consumption, while a failure has gone on for StallAfter, and when nothing was applied for StallAfter while
// the group lags.
func (r *Reconciler) Ready(context.Context) error { return r.health.ready() }

func (r *Reconciler) addStats(f func(*Stats)) {
	r.statsMu.Lock()
	f(&r.Stats)
	r.statsMu.Unlock()
}

// Run consumes until ctx is done, or, with untilIdle, until the group has consumed and committed every
// partition to its end; then it returns nil (or an *UndeliveredError when alerts could not be delivered).
// An environment problem ends an --until-idle run with an *EnvironmentError; a long-running one waits,
// not ready, until it is fixed. The consumer is closed after Run returns, never run again: batches fetched
// but not committed are dropped when Run returns, and only a new consumer (resuming from the committed
// offsets) is sure to read them again.
func (r *Reconciler) Run(ctx context.Context, untilIdle bool) error {
	var bg sync.WaitGroup
	bgCtx, stopBg := context.WithCancel(ctx)
	defer func() { stopBg(); bg.Wait() }()
	if !untilIdle && r.dispatcher != nil {
		// From the start: the stalled alert of a schema problem found at start-up must reach Slack too.
		bg.Go(func() { r.deliverLoop(bgCtx) })
	}
	bg.Go(func() { r.lagLoop(bgCtx) })
	if err := r.waitForSchema(ctx, untilIdle); err != nil {
		if ctx.Err() != nil && !untilIdle {
			return nil // stopped while starting: as clean a stop as one while running
		}
		return err
	}
	bg.Go(func() { r.publishLoop(bgCtx, untilIdle) })

	err := newPipeline(r, untilIdle).run(ctx)
	stopBg()
	bg.Wait()
	if err != nil {
		r.deliverBeforeExit(ctx)
		return err
	}
	if untilIdle && ctx.Err() == nil {
		return r.finish(ctx)
	}
	return nil
}

// waitForSchema checks the database's migration version at start-up. An --until-idle run stops on a
// mismatch; a long-running one stays not ready and looks again every EnvRetry.
func (r *Reconciler) waitForSchema(ctx context.Context, untilIdle bool) error {
	for {
		err := CheckSchema(ctx, r.pool)
		if err == nil {
			r.health.envCleared()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if Classify(err) != Environment {
			// PostgreSQL unreachable at start-up: the batches' own retries take over from here.
			r.log.Warn("could not check the schema version; consuming anyway", "err", err)
			return nil
		}
		r.cfg.Metrics.ApplyFailures.WithLabelValues(Environment.String()).Inc()
		r.health.envProblem(err)
		r.raiseStalled(ctx, Environment, err)
		if untilIdle {
			r.deliverBeforeExit(ctx)
			return err
		}
		r.log.Error("environment problem: not consuming until it is fixed", "err", err, "retry_in", r.cfg.EnvRetry)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(r.cfg.EnvRetry):
		}
	}
}

// finish ends an --until-idle run: the time-driven checks once more, the dead-letter copies still
// unpublished, then every pending alert to Slack.
func (r *Reconciler) finish(ctx context.Context) error {
	if err := r.periodic(ctx); err != nil {
		return err
	}
	r.republish(ctx)
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
		return &UndeliveredError{Undelivered: undelivered}
	}
	return nil
}

// deliverBeforeExit gives the alerts a failing --until-idle run raised (stalled, above all) their chance to
// reach Slack before the process exits, within a bounded time.
func (r *Reconciler) deliverBeforeExit(ctx context.Context) {
	if r.dispatcher == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	undelivered, err := r.dispatcher.Deliver(ctx)
	r.Stats.Undelivered = undelivered
	if err != nil {
		r.log.Warn("could not deliver the alerts before exiting", "err", err)
	}
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

// lagLoop refreshes the lag gauge and what readiness knows of the lag on its own schedule, so that both keep
// moving while a batch is being retried.
func (r *Reconciler) lagLoop(ctx context.Context) {
	t := time.NewTicker(r.cfg.LagEvery)
	defer t.Stop()
	for {
		r.refreshLag(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *Reconciler) refreshLag(ctx context.Context) {
	lag, total, err := r.consumer.Lag(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Debug("could not measure consumer lag", "err", err)
		}
		return
	}
	r.cfg.Metrics.SetConsumerLag(lag)
	r.health.setLag(total)
}

// periodic runs the time-driven checks in a transaction of their own, then refreshes the gauges.
func (r *Reconciler) periodic(ctx context.Context) error {
	var res apply.Result
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		var err error
		res, err = r.applier.Periodic(ctx, tx)
		return err
	})
	if err != nil {
		return fmt.Errorf("periodic checks: %w", err)
	}
	r.addStats(func(s *Stats) { s.AlertsOpened += res.Opened })
	r.gauges(ctx)
	return nil
}

// gauges refreshes the metrics that are states, not counts: consumer lag, open alerts, and the alert state
// changes Slack has not accepted yet (the dispatcher's outbox, alerts.Dispatcher.Deliver).
func (r *Reconciler) gauges(ctx context.Context) {
	r.refreshLag(ctx)
	rows, err := reconcilerdb.New(r.pool).AlertCounts(ctx)
	if err != nil {
		return
	}
	var counts []metrics.AlertCount
	undelivered := 0
	for _, row := range rows {
		undelivered += int(row.Unsent)
		if row.Open > 0 {
			counts = append(counts, metrics.AlertCount{Kind: row.Kind, Severity: row.Severity, Open: int(row.Open)})
		}
	}
	r.cfg.Metrics.SetAlerts(counts, undelivered)
}
