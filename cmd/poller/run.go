package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/mizanhq/mizan/internal/cli"
	"github.com/mizanhq/mizan/internal/config"
	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/metrics"
	"github.com/mizanhq/mizan/internal/poller"
)

const usage = `usage:
  poller run                   poll every source on its cron schedule until stopped
  poller once [--source NAME] [--feed FEED]
                               poll every source (or one; every feed or one) once; exit non-zero if any failed`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	var source, feed string
	switch args[0] {
	case "run":
		if len(args) > 1 {
			return fmt.Errorf("poller run takes no arguments\n%s", usage)
		}
	case "once":
		fs := flag.NewFlagSet("once", flag.ContinueOnError)
		fs.StringVar(&source, "source", "", "poll only the source with this name")
		fs.StringVar(&feed, "feed", "", "poll only this feed (statement, balance, settlements, batches)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown command %q\n%s", args[0], usage)
	}

	log := cli.Logger(stderr, getenv).With("cmd", "poller")
	env, err := config.ReadEnv(getenv, "DATABASE_URL", "KAFKA_BROKERS", "MIZAN_SOURCES", "MIZAN_SECRET_KEY")
	if err != nil {
		return err
	}
	sources, err := config.LoadSources(env.SourcesPath, getenv)
	if err != nil {
		return err
	}
	if source != "" {
		if _, ok := sources.Find(source); !ok {
			return fmt.Errorf("no source named %q in %s", source, env.SourcesPath)
		}
	}
	pool, err := cli.Pool(ctx, env)
	if err != nil {
		return err
	}
	defer pool.Close()
	kcfg, _, err := cli.Kafka(env, getenv, log)
	if err != nil {
		return err
	}
	pub := kafka.NewPublisher(kcfg)
	defer pub.Close()
	reg := metrics.New()
	defaultAddr := ""
	if args[0] == "run" {
		defaultAddr = ":8080"
	}
	stopHTTP, err := cli.Serve(ctx, getenv, defaultAddr, reg,
		metrics.Ready(metrics.PostgresCheck(pool), metrics.KafkaCheck(kcfg)), log)
	if err != nil {
		return err
	}
	defer stopHTTP()
	pcfg := poller.Config{Metrics: reg}
	if v := getenv("MIZAN_SETTLE_DELAY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("environment: MIZAN_SETTLE_DELAY=%q is not a duration such as 10s", v)
		}
		pcfg.SettleDelay = d
		if d == 0 {
			pcfg.SettleDelay = -1 // explicitly none
		}
	}
	p, err := poller.New(pcfg, sources, pool, pub, env.SecretKey, log)
	if err != nil {
		return err
	}
	if args[0] == "run" {
		return p.Run(ctx)
	}
	if err := p.OnceFeed(ctx, source, feed); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "poller: every poll complete")
	return nil
}
