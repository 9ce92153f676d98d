package bench

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/reconciler"
)

// Publish puts the workload on the statement topic, in pages of 5,000, as untimed setup.
func Publish(ctx context.Context, kcfg kafka.Config, evs []events.Event) error {
	pub := kafka.NewPublisher(kcfg)
	defer pub.Close()
	for i := 0; i < len(evs); i += 5_000 {
		if err := pub.Publish(ctx, events.TopicStatement, evs[i:min(i+5_000, len(evs))]); err != nil {
			return err
		}
	}
	return nil
}

// ReconcileOptions say what a reconciler run consumes and where it writes.
type ReconcileOptions struct {
	DB        *Database
	Kafka     kafka.Config
	Group     string
	BrokerPid int
	// CPUProfile, if set, is where the Go CPU profile of the run is written.
	CPUProfile string
	// Explain, if set, has auto_explain report every statement of the run to it.
	Explain *Explainer
	// Workers, if set, is the reconciler's apply workers (MIZAN_APPLY_WORKERS); else as the environment says.
	Workers int
	Log     *slog.Logger
}

// ReconcileResult is what one `reconciler run --until-idle` did and where its time went.
type ReconcileResult struct {
	Workers           int // apply workers, each with its connection
	Messages, Batches int
	// Startup is from the start of Run to the first batch in hand: joining the group and the first fetch.
	Startup time.Duration
	// Elapsed is from the first batch in hand to the last batch's offsets committed: the throughput window.
	Elapsed time.Duration
	// Where Elapsed went, summed over batches: waiting in FetchBatch, applying (decode, the PostgreSQL
	// transaction, checks) and committing offsets.
	Fetch, Apply, Commit time.Duration
	// Tenths is the mean apply time of a batch in each tenth of the run, in order: how the cost of a batch
	// changes as the ledger grows.
	Tenths       []time.Duration
	DeadLetters  int
	AlertsOpened int
	CPU          CPUSplit
	// Waits is what the database's backends were doing, sampled through the run.
	Waits WaitShares
	// Statements are the SQL statements of the run, as the client timed them (Tracer).
	Statements []StatementStat
	// Functions are the ledger's trigger functions as PostgreSQL timed them (pg_stat_user_functions), when
	// the role may turn function tracking on.
	Functions []FunctionStat
}

// Rate is messages per second over the throughput window.
func (r ReconcileResult) Rate() float64 { return float64(r.Messages) / r.Elapsed.Seconds() }

// FunctionStat is a PL/pgSQL function's cost as PostgreSQL counted it.
type FunctionStat struct {
	Name        string
	Calls       int64
	Total, Self time.Duration
}

// Reconcile runs the real reconciler (internal/reconciler, as `reconciler run --until-idle` builds it, with
// the binary's default consumer settings: batches of up to 1,000, 200 ms fill) against o.DB until the group
// has committed every message on the topics, and reports where the time went.
func Reconcile(ctx context.Context, o ReconcileOptions) (ReconcileResult, error) {
	var res ReconcileResult
	tracer := NewTracer()
	cfg, err := o.DB.PoolConfig(tracer)
	if err != nil {
		return res, err
	}
	if o.Explain != nil {
		cfg.AfterConnect = o.Explain.afterConnect
		cfg.ConnConfig.OnNotice = o.Explain.onNotice
	}
	tracked := superuser(ctx, o.DB.URL)
	if tracked {
		// Function-level timing of the ledger's triggers; superuser-only, and cheap.
		cfg.ConnConfig.RuntimeParams["track_functions"] = "pl"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return res, err
	}
	defer pool.Close()
	if tracked {
		if _, err := pool.Exec(ctx, `SELECT pg_stat_reset()`); err != nil {
			return res, err
		}
	}

	o.DB.Checkpoint(ctx)
	consumer := kafka.NewConsumer(o.Kafka, o.Group, events.DataTopics, kafka.ConsumerOptions{})
	defer consumer.Close()
	dlq := kafka.NewPublisher(o.Kafka)
	defer dlq.Close()
	meter := StartCPU(ctx, o.DB.admin, o.DB.Name, o.BrokerPid)
	tc := &timedConsumer{c: consumer, meter: meter, ctx: ctx}
	// As `reconciler run` configures it: MIZAN_APPLY_WORKERS sets the apply workers (default: GOMAXPROCS).
	rcfg, err := reconciler.ReadEnv(reconciler.Config{Group: o.Group}, os.Getenv)
	if err != nil {
		return res, err
	}
	if o.Workers > 0 {
		rcfg.Workers = o.Workers
	}
	res.Workers = cmp.Or(rcfg.Workers, reconciler.DefaultWorkers())
	r := reconciler.New(rcfg, pool, tc, dlq, o.Log)

	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return res, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return res, err
		}
	}
	waits := StartWaits(ctx, o.DB.admin, o.DB.Name, 25*time.Millisecond)
	start := time.Now()
	err = r.Run(ctx, true)
	res.Waits = waits.Stop()
	if o.CPUProfile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return res, fmt.Errorf("reconciler: %w", err)
	}
	if tc.committed == 0 {
		return res, fmt.Errorf("reconciler: consumed nothing")
	}
	res.Messages, res.Batches = tc.committed, tc.batches
	res.Startup = tc.first.Sub(start)
	res.Elapsed = tc.lastCommit.Sub(tc.first)
	res.Fetch, res.Apply, res.Commit = tc.fetch, tc.apply, tc.commit
	if len(tc.applies) >= 10 {
		for i := range 10 {
			part := tc.applies[i*len(tc.applies)/10 : (i+1)*len(tc.applies)/10]
			var sum time.Duration
			for _, d := range part {
				sum += d
			}
			res.Tenths = append(res.Tenths, sum/time.Duration(len(part)))
		}
	}
	res.DeadLetters, res.AlertsOpened = r.Stats.DeadLetters, r.Stats.AlertsOpened
	res.CPU = tc.cpu
	res.Statements = tracer.Stats()
	pool.Close() // its backends report their function statistics as they exit
	if tracked {
		res.Functions, err = functionStats(ctx, o.DB.URL)
	}
	return res, err
}

// timedConsumer is the reconciler's consumer, timed: where the loop's time goes, when the last offsets were
// committed, and the CPU split as of that commit (the idle wait that ends an --until-idle run excluded).
//
// The reconciler fetches the next batch while it applies the one before, so FetchBatch and Commit run on
// different goroutines. A batch's apply time runs from when it was in hand and its predecessor committed to
// when its own commit starts; its fetch time is the part of its fetch that the loop had to wait for.
type timedConsumer struct {
	c     *kafka.Consumer
	meter *CPUMeter
	ctx   context.Context

	mu                   sync.Mutex
	fetchedAt            []time.Time // of batches fetched and not yet committed, oldest first
	first, lastCommit    time.Time
	fetch, apply, commit time.Duration
	committed, batches   int
	applies              []time.Duration
	cpu                  CPUSplit
}

func (t *timedConsumer) FetchBatch(ctx context.Context) ([]kafka.Message, error) {
	msgs, err := t.c.FetchBatch(ctx)
	if len(msgs) > 0 {
		t.mu.Lock()
		now := time.Now()
		t.fetchedAt = append(t.fetchedAt, now)
		if t.first.IsZero() {
			t.first = now
		} else if !t.lastCommit.IsZero() && now.After(t.lastCommit) {
			t.fetch += now.Sub(t.lastCommit)
		}
		t.mu.Unlock()
	}
	return msgs, err
}

func (t *timedConsumer) Commit(ctx context.Context, msgs []kafka.Message) error {
	begin := time.Now()
	t.mu.Lock()
	started := t.fetchedAt[0]
	t.fetchedAt = t.fetchedAt[1:]
	if t.lastCommit.After(started) {
		started = t.lastCommit
	}
	t.apply += begin.Sub(started)
	t.applies = append(t.applies, begin.Sub(started))
	t.mu.Unlock()
	err := t.c.Commit(ctx, msgs)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lastCommit = time.Now()
	t.commit += t.lastCommit.Sub(begin)
	if err == nil {
		t.committed += len(msgs)
		t.batches++
		if t.batches == 1 || t.batches%25 == 0 {
			t.meter.Refresh(t.ctx) // the pool's connections, as they are opened
		}
		t.cpu = t.meter.Split()
	}
	return err
}

func (t *timedConsumer) Lag(ctx context.Context) (map[string]map[int]int64, int64, error) {
	return t.c.Lag(ctx)
}

func superuser(ctx context.Context, url string) bool {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return false
	}
	defer conn.Close(context.Background())
	var super bool
	_ = conn.QueryRow(ctx, `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&super)
	return super
}

// functionStats reads the PL/pgSQL functions' totals. Backends flush their statistics as they exit; the
// reading waits a moment for the last of them.
func functionStats(ctx context.Context, url string) ([]FunctionStat, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	time.Sleep(500 * time.Millisecond)
	rows, err := conn.Query(ctx, `SELECT schemaname || '.' || funcname, calls, total_time, self_time
		FROM pg_stat_user_functions ORDER BY total_time DESC`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (FunctionStat, error) {
		var f FunctionStat
		var total, self float64
		err := r.Scan(&f.Name, &f.Calls, &total, &self)
		f.Total, f.Self = time.Duration(total*float64(time.Millisecond)), time.Duration(self*float64(time.Millisecond))
		return f, err
	})
}

// Verify checks that the ledger holds the workload exactly: one entry and one processed event per event, and
// every wallet at the balance the provider reported after its last item.
func Verify(ctx context.Context, db *Database, w *Workload) error {
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var entries, processed int
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM ledger.entries), (SELECT count(*) FROM recon.processed_events)`).
		Scan(&entries, &processed); err != nil {
		return err
	}
	if entries != len(w.Events) || processed != len(w.Events) {
		return fmt.Errorf("ledger has %d entries and %d processed events, want %d of each", entries, processed, len(w.Events))
	}
	for code, want := range w.Wallets {
		var got string
		if err := conn.QueryRow(ctx, `SELECT balance::text FROM ledger.balances WHERE account = $1`, code).Scan(&got); err != nil {
			return fmt.Errorf("balance of %s: %w", code, err)
		}
		if got != want.String() {
			return fmt.Errorf("%s: ledger balance %s, the provider says %s", code, got, want)
		}
	}
	return nil
}
