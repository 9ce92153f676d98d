package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/mizanhq/mizan/internal/alerts"
	"github.com/mizanhq/mizan/internal/cli"
	"github.com/mizanhq/mizan/internal/config"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/metrics"
	"github.com/mizanhq/mizan/internal/reconciler"
	"github.com/mizanhq/mizan/migrations"
)

const usage = `usage:
  reconciler migrate                 apply the database migrations
  reconciler topics [flags]          create mizan's Kafka topics, or check they exist with enough partitions
  reconciler run [--until-idle]      consume events; with --until-idle, exit 0 once every partition is caught up`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	log := cli.Logger(stderr, getenv).With("cmd", "reconciler")
	switch args[0] {
	case "migrate":
		return migrate(ctx, getenv, stdout, log)
	case "topics":
		return topics(ctx, args[1:], getenv, stdout, log)
	case "run":
		return consume(ctx, args[1:], getenv, stdout, log)
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}

func migrate(ctx context.Context, getenv func(string) string, stdout io.Writer, log *slog.Logger) error {
	env, err := config.ReadEnv(getenv, "DATABASE_URL")
	if err != nil {
		return err
	}
	pool, err := cli.Pool(ctx, env)
	if err != nil {
		return err
	}
	defer pool.Close()
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	if err := migrations.UpWithLogger(ctx, db, log); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	v, err := migrations.Version(ctx, db)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database migrated to version %d\n", v)
	return nil
}

func topics(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("topics", flag.ContinueOnError)
	partitions := fs.Int("partitions", 6, "partitions per topic (the most reconciler replicas that can share the work)")
	replication := fs.Int("replication", 3, "replication factor (3 for production clusters; 1 for a single broker)")
	if err := fs.Parse(args); err != nil {
		return err
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
	untilIdle := fs.Bool("until-idle", false, "exit 0 once the group has consumed and committed every partition to its end")
	if err := fs.Parse(args); err != nil {
		return err
	}
	env, err := config.ReadEnv(getenv, "DATABASE_URL", "KAFKA_BROKERS")
	if err != nil {
		return err
	}
	pool, err := cli.Pool(ctx, env)
	if err != nil {
		return err
	}
	defer pool.Close()
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
	reg := metrics.New()
	defaultAddr := ":8080"
	if *untilIdle {
		defaultAddr = "" // a batch job: nothing scrapes it
	}
	stopHTTP, err := cli.Serve(ctx, getenv, defaultAddr, reg,
		metrics.Ready(metrics.PostgresCheck(pool), metrics.KafkaCheck(kcfg, events.DataTopics...)), log)
	if err != nil {
		return err
	}
	defer stopHTTP()
	r := reconciler.New(reconciler.Config{Group: group, Metrics: reg, Checks: reconciler.CheckConfig{
		BalanceTolerance: chk.BalanceTolerance, SettlementGrace: chk.SettlementGrace, StaleAfter: chk.StaleAfter,
		YabandPayMaxFall: chk.YabandPayMaxFall, Interval: chk.Interval,
	}}, pool, consumer, dlq, log)
	if env.SlackWebhook != "" {
		d := alerts.NewDispatcher(alerts.DispatcherConfig{WebhookURL: env.SlackWebhook.Reveal()}, pool, log)
		d.OnDelivery = func(outcome string) {
			label := map[string]string{"sent": metrics.SlackSent, "failed": metrics.SlackRetried, "rejected": metrics.SlackFailed}[outcome]
			reg.SlackDeliveries.WithLabelValues(label).Inc()
		}
		r.SetDispatcher(d)
	} else {
		log.Warn("SLACK_WEBHOOK_URL is not set: alerts are recorded in recon.alerts but not sent")
	}
	log.Info("reconciler started", "group", group, "until_idle", *untilIdle)
	err = r.Run(ctx, *untilIdle)
	fmt.Fprintf(stdout, "reconciler: %d messages in %d batches applied, %d dead letters, %d alerts opened",
		r.Stats.Messages, r.Stats.Batches, r.Stats.DeadLetters, r.Stats.AlertsOpened)
	if r.Stats.Undelivered > 0 {
		fmt.Fprintf(stdout, ", %d not yet delivered to Slack", r.Stats.Undelivered)
	}
	fmt.Fprintln(stdout)
	return err
}
