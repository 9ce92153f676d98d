package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/mizanhq/mizan/internal/alerts"
	"github.com/mizanhq/mizan/internal/cli"
	"github.com/mizanhq/mizan/internal/config"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/matching"
	"github.com/mizanhq/mizan/internal/metrics"
	"github.com/mizanhq/mizan/internal/reconciler"
	"github.com/mizanhq/mizan/internal/sources/registry"
	"github.com/mizanhq/mizan/internal/trust"
	"github.com/mizanhq/mizan/migrations"
)

const usage = `usage:
  reconciler migrate                 apply the database migrations (as the schema's owner)
  reconciler migrate status          list the migrations this binary has and which the database applied; pending
                                     ones are listed and change nothing
  reconciler topics [--partitions N] [--replication R]
                                     create mizan's Kafka topics, or check they exist with enough partitions
  reconciler run [--until-idle]      consume events; with --until-idle, exit 0 once every partition is caught up
                                     (3: the database is not this binary's schema, 4: alerts left undelivered,
                                     5: stalled; docs/operations.md)
  reconciler dlq list [--since TIME] list the dead letters (TIME: RFC 3339, or a duration back from now: 24h)
  reconciler dlq replay [--id N,N] [--since TIME]
                                     apply dead letters again after a fix, through the trust gate (default: every
                                     one not yet applied); exit 6 if some still fail
  reconciler adjust --reason TEXT --post ACCOUNT=AMOUNT --post ACCOUNT=AMOUNT [flags]
                                     post an audited adjustment entry (accountants: clear suspense); adjust -h
  reconciler adjust reverse ENTRY_ID --reason TEXT
                                     post the entry that negates an adjustment
  reconciler ack ALERT_ID --note TEXT
                                     acknowledge an open alert (who and when are recorded; announced in Slack)
  reconciler expect import FILE.csv  load the business's expectations from CSV (docs/matching.md); idempotent
  reconciler config check            print the configuration (secrets masked) and check it; connects to nothing
  reconciler version                 print the version, commit and Go version
  reconciler help [COMMAND]          print this help, or a command's`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if words, ok := cli.HelpWanted(args); ok {
		cli.PrintHelp(stdout, "reconciler", usage, words)
		return nil
	}
	if len(args) == 0 {
		return cli.Usagef(usage, "a command is needed")
	}
	log := cli.Logger(stderr, getenv).With("cmd", "reconciler")
	switch args[0] {
	case "migrate":
		switch {
		case len(args) == 1:
			return migrate(ctx, getenv, stdout, log)
		case len(args) == 2 && args[1] == "status":
			return migrateStatus(ctx, getenv, stdout)
		}
		return cli.Usagef(usage, "reconciler migrate: unexpected %q", args[1:])
	case "topics":
		return topics(ctx, args[1:], getenv, stdout, log)
	case "run":
		return consume(ctx, args[1:], getenv, stdout, log)
	case "config":
		if len(args) != 2 || args[1] != "check" {
			return cli.Usagef(usage, "reconciler config: the only command is `reconciler config check`")
		}
		return cli.CheckConfig(stdout, "reconciler", getenv, registry.Providers())
	case "version":
		fmt.Fprintln(stdout, cli.Version("reconciler"))
		return nil
	case "adjust", "ack":
		return accountantCommand(ctx, args, getenv, stdout)
	case "expect":
		return expect(ctx, args[1:], getenv, stdout, log)
	case "dlq":
		return deadLetters(ctx, args[1:], getenv, stdout, log)
	}
	return cli.Usagef(usage, "unknown command %q", args[0])
}

func migrate(ctx context.Context, getenv func(string) string, stdout io.Writer, log *slog.Logger) error {
	return withSQLDB(ctx, getenv, func(db *sql.DB) error {
		if err := migrations.UpWithLogger(ctx, db, log); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		v, err := migrations.Version(ctx, db)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "database migrated to version %d\n", v)
		return nil
	})
}

// migrateStatus prints which migrations the database has applied and which are pending. It only reads: an
// operator can run it against production before an upgrade.
func migrateStatus(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	return withSQLDB(ctx, getenv, func(db *sql.DB) error {
		st, err := migrations.ReadStatus(ctx, db)
		if err != nil {
			return err
		}
		st.Print(stdout)
		return nil
	})
}

// connect opens a pool on DATABASE_URL for the one-shot subcommands.
func connect(ctx context.Context, getenv func(string) string) (*pgxpool.Pool, error) {
	env, err := config.ReadEnv(getenv, "DATABASE_URL")
	if err != nil {
		return nil, err
	}
	return cli.Pool(ctx, env)
}

// withSQLDB runs fn with DATABASE_URL as a database/sql handle: goose, which migrations wraps, needs one.
func withSQLDB(ctx context.Context, getenv func(string) string, fn func(*sql.DB) error) error {
	pool, err := connect(ctx, getenv)
	if err != nil {
		return err
	}
	defer pool.Close()
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	return fn(db)
}

func topics(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("topics", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	partitions := fs.Int("partitions", 6, "partitions per topic (the most reconciler replicas that can share the work)")
	replication := fs.Int("replication", 3, "replication factor (3 for production clusters; 1 for a single broker)")
	if err := fs.Parse(args); err != nil {
		return cli.Usagef(usage, "reconciler topics: %v", err)
	}
	if fs.NArg() > 0 {
		return cli.Usagef(usage, "reconciler topics takes no arguments, only flags: %q", fs.Args())
	}
	env, err := config.ReadEnv(getenv, "KAFKA_BROKERS")
	if err != nil {
		return err
	}
	kcfg, _, err := cli.Kafka(env, getenv, log)
	if err != nil {
		return err
	}
	if err := kafka.EnsureTopics(ctx, kcfg, *partitions, *replication, events.AllTopics...); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "topics ready: %d with at least %d partitions\n", len(events.AllTopics), *partitions)
	return nil
}

func consume(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	untilIdle := fs.Bool("until-idle", false, "exit 0 once the group has consumed and committed every partition to its end")
	if err := fs.Parse(args); err != nil {
		return cli.Usagef(usage, "reconciler run: %v", err)
	}
	if fs.NArg() > 0 {
		return cli.Usagef(usage, "reconciler run takes no arguments, only flags: %q", fs.Args())
	}
	env, err := config.ReadEnv(getenv, "DATABASE_URL", "KAFKA_BROKERS")
	if err != nil {
		return err
	}
	rcfg, err := reconciler.ReadEnv(reconciler.Config{}, getenv)
	if err != nil {
		return err
	}
	// Set, every expectation must carry the business's signature; unset, they are believed unsigned
	// (trust.BusinessFactTypes) and the Kafka ACL on their topic is what guards them.
	expKeys, err := matching.ReadKeys(getenv)
	if err != nil {
		return err
	}
	rcfg.ExpectationKeys = expKeys
	gate, err := readGate(env, getenv)
	if err != nil {
		return err
	}
	pool, workers, err := applyPool(ctx, env.DatabaseURL, rcfg.Workers, *untilIdle, log)
	if err != nil {
		return err
	}
	defer pool.Close()
	gate.pool = pool
	rcfg.Workers = workers
	kcfg, kenv, err := cli.Kafka(env, getenv, log)
	if err != nil {
		return err
	}
	group := kenv.ConsumerGroup
	consumer := kafka.NewConsumer(kcfg, group, events.DataTopics, kenv.ConsumerOptions())
	defer consumer.Close()
	dlq := kafka.NewPublisher(kcfg)
	defer dlq.Close()
	chk, err := config.ReadChecks(getenv)
	if err != nil {
		return err
	}
	match, err := matching.ReadConfig(getenv)
	if err != nil {
		return err
	}
	reg := metrics.NewReconciler(cli.BuildInfo(), reconciler.KnownSeries(kcfg.Topic))
	rcfg.Group, rcfg.Metrics, rcfg.Checks, rcfg.Trust, rcfg.Matching = group, reg, chk, gate, match
	r := reconciler.New(rcfg, pool, consumer, dlq, log)
	defaultAddr := ":8080"
	if *untilIdle {
		defaultAddr = "" // a batch job: nothing scrapes it
	}
	stopHTTP, err := cli.Serve(ctx, getenv, defaultAddr, reg.Registry,
		metrics.Ready(metrics.PostgresCheck(pool), metrics.KafkaCheck(kcfg, events.DataTopics...), r.Ready), log)
	if err != nil {
		return err
	}
	defer stopHTTP()
	if env.SlackWebhook != "" {
		r.SetDispatcher(dispatcher(env, pool, reg, log))
	} else {
		log.Warn("SLACK_WEBHOOK_URL is not set: alerts are recorded in recon.alerts but not sent")
	}
	log.Info("reconciler started", "group", group, "until_idle", *untilIdle, "workers", rcfg.Workers)
	err = r.Run(ctx, *untilIdle)
	fmt.Fprintf(stdout, "reconciler: %d messages in %d batches applied, %d dead letters, %d alerts opened",
		r.Stats.Messages, r.Stats.Batches, r.Stats.DeadLetters, r.Stats.AlertsOpened)
	if r.Stats.Undelivered > 0 {
		fmt.Fprintf(stdout, ", %d not yet delivered to Slack", r.Stats.Undelivered)
	}
	fmt.Fprintln(stdout)
	return err
}

// applyPool connects to DATABASE_URL with room for the apply workers: each holds a connection while it
// applies, and the alert dispatcher, the time-driven checks and the stalled alert need one each besides.
// Unless the URL sets pool_max_conns, the pool grows to fit; workers (0: the default) is then what it holds.
//
// A long-running run does not wait for its first connection: PostgreSQL away at start-up is then what it is
// later, an infrastructure failure the batches retry (not ready meanwhile, a stalled alert past
// MIZAN_STALL_AFTER), not an exit that Kubernetes would answer with a restart loop. An --until-idle run, a
// batch job, exits 1 instead.
func applyPool(ctx context.Context, url string, workers int, untilIdle bool, log *slog.Logger) (*pgxpool.Pool, int, error) {
	cfg, err := cli.PoolConfig(url)
	if err != nil {
		return nil, 0, err
	}
	const others = 3
	if workers == 0 {
		workers = reconciler.DefaultWorkers()
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = max(cfg.MaxConns, int32(workers+others))
	} else if int(cfg.MaxConns) < workers+others {
		log.Warn("pool_max_conns leaves fewer connections than the apply workers need; workers will wait for them",
			"pool_max_conns", cfg.MaxConns, "workers", workers, "wanted", workers+others)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, 0, fmt.Errorf("connect to PostgreSQL (DATABASE_URL): %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		if untilIdle {
			pool.Close()
			return nil, 0, fmt.Errorf("connect to PostgreSQL (DATABASE_URL): %w", err)
		}
		log.Warn("PostgreSQL does not answer yet (DATABASE_URL): consuming waits for it, not ready meanwhile", "err", err)
	}
	return pool, workers, nil
}

func dispatcher(env config.Env, pool *pgxpool.Pool, reg *metrics.Reconciler, log *slog.Logger) *alerts.Dispatcher {
	d := alerts.NewDispatcher(alerts.DispatcherConfig{WebhookURL: env.SlackWebhook.Reveal()}, pool, log)
	d.OnDelivery = func(outcome string) {
		label := map[string]string{"sent": metrics.SlackSent, "failed": metrics.SlackRetried, "rejected": metrics.SlackFailed}[outcome]
		reg.SlackDeliveries.WithLabelValues(label).Inc()
	}
	return d
}

// readGate reads what the trust gate needs from the environment: the signing keys and the sources file. The
// gate itself is built on its first use (lazyGate), once the reconciler has checked the schema.
func readGate(env config.Env, getenv func(string) string) (*lazyGate, error) {
	keys, err := config.ReadSigningKeys(getenv)
	if err != nil {
		return nil, err
	}
	g := &lazyGate{keys: keys}
	if env.SourcesPath != "" { // the pollers' file: its sources are known even before a poller has run
		if g.sources, err = config.LoadSourceList(env.SourcesPath, registry.Providers()); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// lazyGate is the trust gate, built on its first use rather than at start-up. Building it registers the
// sources file's sources and reads tables an unmigrated database lacks; the reconciler checks the schema
// before it judges any event, so an unmigrated database is reported as what it is (an environment problem:
// exit 3, or not ready until it is migrated) instead of a failed start. Until the gate is built, Admit returns
// the error that building it met, which the reconciler takes as "could not judge" and retries.
type lazyGate struct {
	keys    events.Keyring
	sources config.Sources
	pool    *pgxpool.Pool

	mu   sync.Mutex
	gate *trust.Gate
}

// Admit builds the gate if it has not been, then asks it.
func (g *lazyGate) Admit(ctx context.Context, ev events.Event, fact any) error {
	g.mu.Lock()
	gate := g.gate
	if gate == nil {
		if err := trust.Register(ctx, g.pool, g.sources, "reconciler"); err != nil {
			g.mu.Unlock()
			return err
		}
		var err error
		if gate, err = trust.New(ctx, trust.Config{Keys: g.keys}, g.pool); err != nil {
			g.mu.Unlock()
			return err
		}
		g.gate = gate
	}
	g.mu.Unlock()
	return gate.Admit(ctx, ev, fact)
}
