package main

import (
	"cmp"
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
	"github.com/mizanhq/mizan/internal/sources"
	"github.com/mizanhq/mizan/internal/sources/registry"
	"github.com/mizanhq/mizan/internal/trust"
)

const usage = `usage:
  poller run                   poll every source on its cron schedule until SIGTERM
  poller once [--source NAME] [--feed FEED]
                               poll every source (or only NAME; every feed or only FEED: statement, balance,
                               settlements, batches) once; exit non-zero if any poll failed
  poller probe --source NAME [--record DIR]
                               call each endpoint of one source once (read-only; credentials refreshed and stored
                               as a poll would), print what mizan understood, exit non-zero on anything the poller
                               would not handle; --record writes the answers, redacted, as test fixtures
  poller config check          print the configuration (secrets masked) and check it; connects to nothing
  poller version               print the version, commit and Go version
  poller help [COMMAND]        print this help, or a command's
The sources file also names the variables holding each source's credentials.`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if words, ok := cli.HelpWanted(args); ok {
		cli.PrintHelp(stdout, "poller", usage, words)
		return nil
	}
	if len(args) == 0 {
		return cli.Usagef(usage, "a command is needed")
	}
	var source, feed, record string
	switch args[0] {
	case "run":
		if len(args) > 1 {
			return cli.Usagef(usage, "poller run takes no arguments")
		}
	case "once":
		fs := flag.NewFlagSet("once", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.StringVar(&source, "source", "", "poll only the source with this name")
		fs.StringVar(&feed, "feed", "", "poll only this feed (statement, balance, settlements, batches)")
		if err := fs.Parse(args[1:]); err != nil {
			return cli.Usagef(usage, "poller once: %v", err)
		}
		if fs.NArg() > 0 {
			return cli.Usagef(usage, "poller once takes no arguments, only flags: %q", fs.Args())
		}
	case "probe":
		fs := flag.NewFlagSet("probe", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.StringVar(&source, "source", "", "the source to probe (required)")
		fs.StringVar(&record, "record", "", "write each answer, redacted, into this directory")
		if err := fs.Parse(args[1:]); err != nil {
			return cli.Usagef(usage, "poller probe: %v", err)
		}
		if fs.NArg() > 0 {
			return cli.Usagef(usage, "poller probe takes no arguments, only flags: %q", fs.Args())
		}
		if source == "" {
			return cli.Usagef(usage, "poller probe needs --source NAME")
		}
		return probe(ctx, getenv, stdout, stderr, source, record)
	case "config":
		if len(args) != 2 || args[1] != "check" {
			return cli.Usagef(usage, "poller config: the only command is `poller config check`")
		}
		return cli.CheckConfig(stdout, "poller", getenv, registry.Providers())
	case "version":
		fmt.Fprintln(stdout, cli.Version("poller"))
		return nil
	default:
		return cli.Usagef(usage, "unknown command %q", args[0])
	}

	log := cli.Logger(stderr, getenv).With("cmd", "poller")
	env, err := config.ReadEnv(getenv, "DATABASE_URL", "KAFKA_BROKERS", "MIZAN_SOURCES", "MIZAN_SECRET_KEY")
	if err != nil {
		return err
	}
	srcs, err := config.LoadSources(env.SourcesPath, getenv, registry.Providers())
	if err != nil {
		return err
	}
	keys, err := config.ReadSigningKeys(getenv)
	if err != nil {
		return err
	}
	gateway := ""
	if args[0] == "once" {
		if gateway, err = cli.Pushgateway(getenv); err != nil {
			return err
		}
	} else if getenv("MIZAN_PUSHGATEWAY_URL") != "" {
		log.Warn("MIZAN_PUSHGATEWAY_URL is set, but only poller once pushes: poller run is scraped on MIZAN_HTTP_ADDR")
	}
	if source != "" {
		if _, ok := srcs.Find(source); !ok {
			return fmt.Errorf("no source named %q in %s", source, env.SourcesPath)
		}
	}
	open := cli.Pool // a one-off run (a CronJob's) that cannot reach PostgreSQL fails; the Job retries it
	if args[0] == "run" {
		open = cli.OpenPool // a Deployment's waits, not ready, rather than being restarted in a loop
	}
	pool, err := open(ctx, env)
	if err != nil {
		return err
	}
	defer pool.Close()
	kcfg, _, err := cli.Kafka(env, getenv, log)
	if err != nil {
		return err
	}
	kpub := kafka.NewPublisher(kcfg)
	defer kpub.Close()
	// Every event is signed: the reconciler takes as a provider's fact only what a poller signed, and only
	// for the sources some poller registered.
	pub, err := trust.NewSigningPublisher(kpub, keys)
	if err != nil {
		return err
	}
	reg := metrics.NewPoller(cli.BuildInfo())
	defaultAddr := ""
	if args[0] == "run" {
		defaultAddr = ":8080"
	}
	stopHTTP, err := cli.Serve(ctx, getenv, defaultAddr, reg.Registry,
		metrics.Ready(metrics.PostgresCheck(pool), metrics.KafkaCheck(kcfg)), log)
	if err != nil {
		return err
	}
	defer stopHTTP()
	if args[0] == "run" {
		if err := cli.WaitForDatabase(ctx, pool, log); err != nil {
			return nil // stopped while waiting: nothing was polled, nothing to undo
		}
	}
	if err := trust.Register(ctx, pool, srcs, "poller"); err != nil {
		return err
	}
	pcfg := poller.Config{Metrics: reg, TopicPrefix: kcfg.TopicPrefix}
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
	p, err := poller.New(pcfg, registry.Providers(), srcs, pool, pub, env.SecretKey, log)
	if err != nil {
		return err
	}
	if args[0] == "run" {
		return p.Run(ctx)
	}
	err = p.OnceFeed(ctx, source, feed)
	if gateway != "" {
		// A failed run is pushed too: its mizan_poller_last_poll_failed is what the alerting rules look at.
		instance := cmp.Or(source, "all") + "/" + cmp.Or(feed, "all")
		if perr := metrics.Push(context.WithoutCancel(ctx), gateway, pushJob, instance, reg.Registry); perr != nil {
			// The polls' work is done and their cursors saved: a metrics push that fails does not make the run
			// fail (a retried Job would poll again for nothing). The feed's staleness alert is the backstop.
			log.Error("could not push the run's metrics to the Pushgateway", "err", perr)
		} else {
			log.Info("metrics pushed to the Pushgateway", "job", pushJob, "instance", instance)
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "poller: every poll complete")
	return nil
}

// pushJob is the Pushgateway job `poller once` pushes its metrics as (MIZAN_PUSHGATEWAY_URL); each run's
// group is job and instance "SOURCE/FEED" ("all" for either when not limited), and replaces that group's
// previous run.
const pushJob = "mizan-poller"

// probe runs `poller probe`: it needs the database (the source's credentials) but not Kafka, nor the signing
// keys: it publishes nothing.
func probe(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer, name, record string) error {
	log := cli.Logger(stderr, getenv).With("cmd", "poller")
	env, err := config.ReadEnv(getenv, "DATABASE_URL", "MIZAN_SOURCES", "MIZAN_SECRET_KEY")
	if err != nil {
		return err
	}
	srcs, err := config.LoadSources(env.SourcesPath, getenv, registry.Providers())
	if err != nil {
		return err
	}
	src, ok := srcs.Find(name)
	if !ok {
		return fmt.Errorf("no source named %q in %s", name, env.SourcesPath)
	}
	pool, err := cli.Pool(ctx, env)
	if err != nil {
		return err
	}
	defer pool.Close()
	var rec sources.Recorder
	if record != "" {
		rec = sources.DirRecorder(record)
	}
	report, err := poller.Probe(ctx, src, pool, env.SecretKey, nil, log, rec)
	poller.WriteReport(stdout, src, report)
	if err != nil {
		return err
	}
	if !report.OK() {
		return errors.New("probe found what the poller would not handle (see above)")
	}
	return nil
}
