package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/pgurl"
	"github.com/mizanhq/mizan/internal/reconciler"
)

// Config is one benchmark run.
type Config struct {
	AdminURL string
	// Events is how many statement events the reconciler ingests and replays, over Businesses wallets.
	Events, Businesses int
	// Batch is the reference's entries per transaction: the reconciler's default batch (KAFKA_MAX_BATCH).
	Batch int
	// ReferenceConns, above 1, adds a reference over that many connections at once: the machine's limit
	// with every core writing, beside the one-connection limit a single reconciler is compared with.
	ReferenceConns int
	// Backfill is how many statement items each poller backfill reads.
	Backfill int
	// RSSItems is the size of the poller memory run, over RSSSources businesses polled at once.
	RSSItems, RSSSources int
	// History is the account history lengths the balance check is timed at, shortest first.
	History []int
	// BalanceCalls is how many balance checks are timed at each length.
	BalanceCalls int
	// ExplainEvents is how many more events a short pass applies with auto_explain on (0: no such pass).
	ExplainEvents int
	// PollerBin is the built poller binary for the memory run.
	PollerBin string
	// OutDir receives the profiles and the memory run's files.
	OutDir string
	// Partitions of the statement topic: the `reconciler topics` default.
	Partitions int
	// MatchExpectations and MatchItems size the matching phase: open expectations in the table, statement
	// items applied with matching on and off.
	MatchExpectations, MatchItems int
	// Workers is the reconciler's apply workers in the ingest and replay, and the independent reference's
	// connections beside them (0: MIZAN_APPLY_WORKERS, else the reconciler's default).
	Workers int
	// Skip names phases not to run: reference, ingest, poller, rss, balance, matching.
	Skip map[string]bool
	// Without names features of the schema left out of every database the run migrates (Features).
	Without []string
	// Progress receives a line as each phase starts.
	Progress io.Writer
	Log      *slog.Logger
}

// Report is everything a run measured.
type Report struct {
	Config   Config
	Started  time.Time
	Duration time.Duration
	Machine  string
	Postgres string

	Workload struct {
		Events, Postings, Businesses int
		Bytes                        int // mean size of an event's value
	}
	Reference2, ReferenceSame ReferenceResult
	ReferenceWide             ReferenceResult // ReferenceConns connections
	Ingest, Replay            ReconcileResult // at Workers workers
	IngestOne                 ReconcileResult // at one worker
	// The independent reference (ledgerref.go): at one connection, at the reconciler's workers, and its
	// replay at the reconciler's workers.
	LedgerRefOne, LedgerRef, LedgerRefReplay LedgerRefResult
	Profile                                  string // the CPU profile file of the ingest
	ProfileTop, ProfileCum                   string // go tool pprof -top of it: flat, and cumulative over mizan's functions
	Explain                                  []ExplainedStatement
	ExplainEvents                            int
	Limited                                  BackfillResult
	RSS                                      RSSResult
	Balance                                  []BalanceResult
	Matching                                 MatchingResult
	Errors                                   map[string]error
}

// Run runs every phase not skipped, in order, and returns the report. A phase that fails is recorded in
// Report.Errors and the run goes on with the next.
//
// The poller memory run takes the longest (a million items behind the client's rate limiter, about five
// minutes), so the balance check grows its longest history meanwhile — once the memory run has served
// Backfill items, so that the rate of its first Backfill items, the backfill without a provider limit, is
// measured on a quiet machine — and times the checks after it.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	rep := &Report{Config: cfg, Started: time.Now(), Errors: map[string]error{}}
	progress := func(format string, args ...any) {
		fmt.Fprintf(cfg.Progress, "bench %4.0fs: "+format+"\n", append([]any{time.Since(rep.Started).Seconds()}, args...)...)
	}
	fail := func(phase string, err error) {
		if err != nil {
			rep.Errors[phase] = errors.Join(rep.Errors[phase], err)
			progress("%s failed: %v", phase, err)
		}
	}
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return nil, err
	}
	rep.Machine = machine()
	rep.Postgres = serverVersion(ctx, cfg.AdminURL)
	if rep.Postgres == "" {
		return nil, fmt.Errorf("cannot reach PostgreSQL at %s: set TEST_DATABASE_URL or DATABASE_URL", pgurl.Redact(cfg.AdminURL))
	}

	progress("starting the broker (kfake, in a child process)")
	broker, err := StartBroker(ctx, cfg.Partitions)
	if err != nil {
		return nil, err
	}
	defer broker.Close()
	kcfg := func(prefix string) (kafka.Config, error) {
		c := kafka.Config{Brokers: []string{broker.Addr}, ClientID: "mizan-bench", TopicPrefix: prefix}
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return c, kafka.EnsureTopics(tctx, c, cfg.Partitions, 0, events.AllTopics...)
	}
	var dbs []*Database
	defer func() {
		for _, db := range dbs {
			if err := db.Drop(); err != nil {
				cfg.Log.Warn("drop benchmark database", "err", err)
			}
		}
	}()
	newDB := func(purpose string) (*Database, error) {
		db, err := CreateDatabase(ctx, cfg.AdminURL, purpose, cfg.Without...)
		if err == nil {
			dbs = append(dbs, db)
		}
		return db, err
	}
	newBareDB := func(purpose string) (*Database, error) {
		db, err := CreateBareDatabase(ctx, cfg.AdminURL, purpose)
		if err == nil {
			dbs = append(dbs, db)
		}
		return db, err
	}
	drop := func(db *Database) {
		dbs = slices.DeleteFunc(dbs, func(d *Database) bool { return d == db })
		if err := db.Drop(); err != nil {
			cfg.Log.Warn("drop benchmark database", "err", err)
		}
	}

	var work *Workload
	if !cfg.Skip["reference"] || !cfg.Skip["ingest"] {
		progress("making %s statement events over %d businesses (the simulator's items, read by the Vandar client)",
			n(cfg.Events+cfg.ExplainEvents), cfg.Businesses)
		if work, err = NewWorkload(ctx, cfg.Events, cfg.ExplainEvents, cfg.Businesses); err != nil {
			return nil, fmt.Errorf("workload: %w", err)
		}
		rep.Workload.Events, rep.Workload.Businesses = len(work.Events), cfg.Businesses
		var bytes int
		for _, ev := range work.Events {
			b, _ := ev.Marshal()
			bytes += len(b)
		}
		rep.Workload.Bytes = bytes / len(work.Events)
	}

	if !cfg.Skip["reference"] && ctx.Err() == nil {
		runs := []struct {
			two   bool
			conns int
			into  *ReferenceResult
		}{{true, 1, &rep.Reference2}, {false, 1, &rep.ReferenceSame}}
		if cfg.ReferenceConns > 1 {
			runs = append(runs, struct {
				two   bool
				conns int
				into  *ReferenceResult
			}{false, cfg.ReferenceConns, &rep.ReferenceWide})
		}
		for _, run := range runs {
			entries, err := work.Entries(run.two)
			if err != nil {
				return nil, err
			}
			if !run.two {
				rep.Workload.Postings = Postings(entries)
			}
			db, err := newDB("ref")
			if err != nil {
				fail("reference", err)
				break
			}
			progress("reference: %s entries, %s postings: COPY, then INSERT … ON CONFLICT DO NOTHING, %s a transaction, %d connection(s)",
				n(len(entries)), n(Postings(entries)), n(cfg.Batch), run.conns)
			*run.into, err = Reference(ctx, db, entries, cfg.Batch, run.conns, broker.Pid())
			fail("reference", err)
			drop(db)
		}
	}

	if !cfg.Skip["ingest"] && ctx.Err() == nil {
		fail("ingest", func() error {
			k, err := kcfg("ingest.")
			if err != nil {
				return err
			}
			progress("publishing %s events to %s (untimed)", n(len(work.Events)), k.Topic(events.TopicStatement))
			if err := Publish(ctx, k, work.Events); err != nil {
				return err
			}
			entries, err := work.Entries(false)
			if err != nil {
				return err
			}
			// The independent reference and the reconciler, one connection each and then the reconciler's
			// worker count each, one after the other: on a shared machine, neighbours in time are the
			// fairest comparison there is.
			refPass := func(conns int, replay bool, ref *LedgerRef) (LedgerRefResult, error) {
				what := "ingest"
				if replay {
					what = "replay (all duplicates)"
				}
				progress("independent reference %s: %s entries, %d connection(s), one statement a batch of %s",
					what, n(len(entries)), conns, n(cfg.Batch))
				return ref.Pass(ctx, work.Items, conns, replay, broker.Pid())
			}
			newRef := func() (*LedgerRef, *Database, error) {
				db, err := newBareDB("ledgerref")
				if err != nil {
					return nil, nil, err
				}
				ref, err := NewLedgerRef(ctx, db, entries, work.Items, work.Wallets, cfg.Batch)
				return ref, db, err
			}
			workers := cmp.Or(cfg.Workers, reconciler.DefaultWorkers())
			if workers > 1 {
				ref, rdb, err := newRef()
				if err != nil {
					return err
				}
				rep.LedgerRefOne, err = refPass(1, false, ref)
				drop(rdb)
				if err != nil {
					return err
				}
				db, err := newDB("ingest1")
				if err != nil {
					return err
				}
				progress("reconciler ingest, 1 worker: %s events, a new group", n(len(work.Events)))
				rep.IngestOne, err = Reconcile(ctx, ReconcileOptions{DB: db, Kafka: k, Group: "bench-ingest-1",
					BrokerPid: broker.Pid(), Workers: 1, Log: cfg.Log})
				if err == nil {
					err = Verify(ctx, db, work)
				}
				drop(db)
				if err != nil {
					return fmt.Errorf("ingest with 1 worker: %w", err)
				}
			}
			ref, rdb, err := newRef()
			if err != nil {
				return err
			}
			defer drop(rdb)
			if rep.LedgerRef, err = refPass(workers, false, ref); err != nil {
				return err
			}
			if workers == 1 {
				rep.LedgerRefOne = rep.LedgerRef
			}

			db, err := newDB("ingest")
			if err != nil {
				return err
			}
			defer drop(db)
			rep.Profile = filepath.Join(cfg.OutDir, "reconciler-ingest.cpu.pprof")
			progress("reconciler ingest, %d workers: %s events, a new group (CPU profile: %s)", workers, n(len(work.Events)), rep.Profile)
			if rep.Ingest, err = Reconcile(ctx, ReconcileOptions{DB: db, Kafka: k, Group: "bench-ingest",
				BrokerPid: broker.Pid(), CPUProfile: rep.Profile, Workers: workers, Log: cfg.Log}); err != nil {
				return err
			}
			if err := Verify(ctx, db, work); err != nil {
				return fmt.Errorf("after ingest: %w", err)
			}
			if workers == 1 {
				rep.IngestOne = rep.Ingest
			}
			rep.ProfileTop = pprofTop(rep.Profile, "-nodecount=25")
			rep.ProfileCum = pprofTop(rep.Profile, "-cum", "-show=mizanhq", "-nodecount=25")
			if rep.LedgerRefReplay, err = refPass(workers, true, ref); err != nil {
				return err
			}
			progress("replay, %d workers: the same %s events from offset 0 in another new group (all duplicates)", workers, n(len(work.Events)))
			if rep.Replay, err = Reconcile(ctx, ReconcileOptions{DB: db, Kafka: k, Group: "bench-replay",
				BrokerPid: broker.Pid(), Workers: workers, Log: cfg.Log}); err != nil {
				return fmt.Errorf("replay: %w", err)
			}
			if err := Verify(ctx, db, work); err != nil {
				return fmt.Errorf("after replay: %w", err)
			}
			if len(work.Extra) == 0 {
				return nil
			}
			k, err = kcfg("explain.")
			if err != nil {
				return err
			}
			if err := Publish(ctx, k, work.Extra); err != nil {
				return err
			}
			progress("EXPLAIN ANALYZE pass: %s more events with auto_explain on every statement", n(len(work.Extra)))
			ex := NewExplainer()
			if _, err := Reconcile(ctx, ReconcileOptions{DB: db, Kafka: k, Group: "bench-explain", Explain: ex,
				Workers: workers, Log: cfg.Log}); err != nil {
				return fmt.Errorf("explain pass: %w", err)
			}
			rep.ExplainEvents = len(work.Extra)
			rep.Explain, err = ex.Stats()
			return err
		}())
	}
	work = nil

	var pollerDB *Database
	if (!cfg.Skip["poller"] || !cfg.Skip["rss"]) && ctx.Err() == nil {
		if pollerDB, err = newDB("poller"); err != nil {
			fail("poller", err)
		}
	}
	if !cfg.Skip["poller"] && pollerDB != nil {
		fail("poller", func() error {
			k, err := kcfg("backfill.")
			if err != nil {
				return err
			}
			progress("poller backfill: %s items, the simulator enforcing Vandar's rate limit", n(cfg.Backfill))
			rep.Limited, err = Backfill(ctx, BackfillOptions{DB: pollerDB, Kafka: k, Items: cfg.Backfill, RateLimit: true,
				BrokerPid: broker.Pid(), Log: cfg.Log})
			return err
		}())
	}

	// The balance check's histories but the longest, timed now.
	var hist *History
	lengths := cfg.History
	if !cfg.Skip["balance"] && ctx.Err() == nil {
		fail("balance", func() error {
			db, err := newDB("balance")
			if err != nil {
				return err
			}
			if hist, err = NewHistory(ctx, db); err != nil {
				return err
			}
			for len(lengths) > 1 {
				progress("balance check: growing the account's history to %s postings, then timing the check", n(lengths[0]))
				if err := grow(ctx, hist, lengths[0], cfg.BalanceCalls, rep); err != nil {
					return err
				}
				lengths = lengths[1:]
			}
			return nil
		}())
		if rep.Errors["balance"] != nil && hist != nil {
			hist.Close()
			hist = nil
		}
	}
	if hist != nil {
		defer hist.Close()
	}
	var (
		built    time.Duration
		growErr  error
		growOnce sync.Once
	)
	growLast := func() {
		growOnce.Do(func() {
			progress("balance check: growing the account's history to %s postings", n(lengths[0]))
			built, growErr = hist.Grow(ctx, lengths[0])
		})
	}

	if !cfg.Skip["rss"] && pollerDB != nil {
		fail("rss", func() error {
			k, err := kcfg("rss.")
			if err != nil {
				return err
			}
			opts := RSSOptions{PollerBin: cfg.PollerBin, DB: pollerDB, Kafka: k, Items: cfg.RSSItems,
				Sources: cfg.RSSSources, Dir: cfg.OutDir, FirstItems: min(cfg.Backfill, cfg.RSSItems)}
			if hist != nil {
				opts.OnFirstItems = growLast
			}
			progress("poller memory: %s backfilling %s items over %d business(es), no provider limit", cfg.PollerBin,
				n(cfg.RSSItems), cfg.RSSSources)
			rep.RSS, err = PollerRSS(ctx, opts)
			return err
		}())
	}
	if hist != nil {
		fail("balance", func() error {
			growLast() // or wait for it to finish
			if growErr != nil {
				return growErr
			}
			progress("balance check: timing the check at %s postings", n(lengths[0]))
			r, err := hist.Measure(ctx, cfg.BalanceCalls)
			r.Build = built
			rep.Balance = append(rep.Balance, r)
			return err
		}())
	}
	if !cfg.Skip["matching"] && cfg.MatchItems > 0 && ctx.Err() == nil {
		progress("matching: %s statement items beside %s open expectations, matching off, then on",
			n(cfg.MatchItems), n(cfg.MatchExpectations))
		rep.Matching, err = Matching(ctx, MatchingOptions{NewDB: newDB, Drop: drop, Expectations: cfg.MatchExpectations,
			Items: cfg.MatchItems, Batch: 500})
		fail("matching", err)
	}
	rep.Duration = time.Since(rep.Started)
	if ctx.Err() != nil {
		return rep, ctx.Err()
	}
	return rep, nil
}

// grow grows the history to n postings and times the check there.
func grow(ctx context.Context, h *History, n, calls int, rep *Report) error {
	built, err := h.Grow(ctx, n)
	if err != nil {
		return err
	}
	r, err := h.Measure(ctx, calls)
	r.Build = built
	rep.Balance = append(rep.Balance, r)
	return err
}

// pprofTop is `go tool pprof -top` of a CPU profile of this binary, or why there is none.
func pprofTop(profile string, flags ...string) string {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return "(go is not on PATH: run `go tool pprof -top " + profile + "`)"
	}
	exe, err := os.Executable()
	if err != nil {
		return err.Error()
	}
	args := append(append([]string{"tool", "pprof", "-top"}, flags...), exe, profile)
	out, err := exec.Command(gobin, args...).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("(go tool pprof: %v: %s)", err, out)
	}
	return string(out)
}

func serverVersion(ctx context.Context, admin string) string {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return ""
	}
	defer conn.Close(context.Background())
	var v string
	_ = conn.QueryRow(ctx, `SELECT 'PostgreSQL ' || current_setting('server_version') || ', shared_buffers ' ||
		current_setting('shared_buffers') || ', synchronous_commit ' || current_setting('synchronous_commit') ||
		', fsync ' || current_setting('fsync')`).Scan(&v)
	return v
}

func machine() string {
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
		}
	}
	return fmt.Sprintf("%d cores%s, %s %s/%s", runtime.NumCPU(), mem, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// ErrShort is returned when a run completed but some target was not met.
var ErrShort = errors.New("some targets are short")
