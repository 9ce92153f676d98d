package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/mizanhq/mizan/internal/bench"
	"github.com/mizanhq/mizan/internal/cli"
	"github.com/mizanhq/mizan/internal/reconciler"
)

const usage = `usage:
  bench [flags]     measure the pipeline against this machine's limits and print one table (make bench)
  bench version     print the version, commit and Go version
  bench help        print this help
It creates and drops its own databases on TEST_DATABASE_URL's server, else DATABASE_URL's, else the local one.`

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == bench.BrokerCommand {
		// The broker child (see bench.StartBroker).
		partitions := 6
		if len(args) > 1 {
			partitions, _ = strconv.Atoi(args[1])
		}
		return bench.ServeBroker(stdin, stdout, partitions)
	}

	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "shrink every size for a quick run (20,000 events, a 10,000-item backfill, "+
		"a 100,000-item memory run, histories of 10,000 and 100,000 postings)")
	events := fs.Int("events", 200_000, "statement events the reconciler ingests and replays")
	businesses := fs.Int("businesses", 50, "businesses (wallets) the events are spread over")
	batch := fs.Int("batch", 1_000, "entries per transaction of the reference (the reconciler's default batch)")
	refConns := fs.Int("reference-conns", 0, "also measure the reference over this many connections at once (the machine "+
		"with every core; about 15 s more)")
	backfill := fs.Int("backfill", 100_000, "statement items of each poller backfill")
	rssItems := fs.Int("rss-items", 1_000_000, "statement items of the poller memory run")
	rssSources := fs.Int("rss-sources", 1, "businesses the memory run's items are spread over (1: one business, `poller once`, "+
		"about 5 minutes for a million items behind the client's rate limiter; more: polled at once by `poller run`)")
	explainEvents := fs.Int("explain-events", 5_000, "events of the EXPLAIN ANALYZE pass after the replay (0: none)")
	history := fs.String("history", "10000,1000000", "account history lengths (postings) the balance check is timed at")
	calls := fs.Int("balance-calls", 2_000, "balance checks timed at each history length")
	partitions := fs.Int("partitions", 6, "partitions of each topic (the `reconciler topics` default)")
	pollerBin := fs.String("poller-bin", "bin/poller", "the built poller binary, for the memory run")
	out := fs.String("out", ".run/bench", "directory for the CPU profile and the memory run's files")
	strict := fs.Bool("strict", false, "exit non-zero when a target is short, not only when a phase fails")
	matchExps := fs.Int("match-expectations", 1_000_000, "open expectations in the table of the matching phase")
	matchItems := fs.Int("match-items", 200_000, "statement items the matching phase applies with matching on and off")
	workers := fs.Int("workers", 0, "the reconciler's apply workers in the ingest and replay, and the independent reference's "+
		"connections beside them (default: MIZAN_APPLY_WORKERS, else the reconciler's default, GOMAXPROCS and at least 2); "+
		"the ingest is also measured with one worker")
	without := fs.String("without", "", "comma-separated features of the schema to leave out, to measure what they cost: "+
		strings.Join(slices.Sorted(maps.Keys(bench.Features)), ", "))
	skip := fs.String("skip", "", "comma-separated phases not to run: reference, ingest, poller, rss, balance, matching")
	if _, ok := cli.HelpWanted(args); ok {
		cli.PrintFlagsHelp(stdout, "bench", usage, fs)
		return nil
	}
	if len(args) == 1 && args[0] == "version" {
		fmt.Fprintln(stdout, cli.Version("bench"))
		return nil
	}
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return cli.Usagef(usage, "%v", err)
	}
	if fs.NArg() > 0 {
		return cli.Usagef(usage, "unexpected arguments: %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *quick {
		shrink := func(name string, p *int, v int) {
			if !set[name] {
				*p = v
			}
		}
		shrink("events", events, 20_000)
		shrink("backfill", backfill, 10_000)
		shrink("rss-items", rssItems, 100_000)
		shrink("balance-calls", calls, 500)
		shrink("explain-events", explainEvents, 2_000)
		shrink("match-expectations", matchExps, 100_000)
		shrink("match-items", matchItems, 20_000)
		if !set["history"] {
			*history = "10000,100000"
		}
	}
	var lengths []int
	for _, s := range strings.Split(*history, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("--history %q: want comma-separated positive numbers", *history)
		}
		lengths = append(lengths, n)
	}
	skipped := map[string]bool{}
	for _, s := range strings.Split(*skip, ",") {
		if s = strings.TrimSpace(s); s != "" {
			skipped[s] = true
		}
	}
	var left []string
	for _, s := range strings.Split(*without, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if _, ok := bench.Features[s]; !ok {
			return fmt.Errorf("--without %q: not one of %s", s, strings.Join(slices.Sorted(maps.Keys(bench.Features)), ", "))
		}
		left = append(left, s)
	}
	switch {
	case *events < *businesses || *businesses < 1:
		return fmt.Errorf("--events %d over --businesses %d: want at least one event per business", *events, *businesses)
	case *rssSources < 1 || *rssItems < *rssSources:
		return fmt.Errorf("--rss-items %d over --rss-sources %d: want at least one item per source", *rssItems, *rssSources)
	case *matchItems > 0 && *matchExps < 1:
		return errors.New("--match-expectations must be positive when --match-items is")
	case *backfill < 1 || *batch < 1 || *calls < 10 || *partitions < 1 || *explainEvents < 0:
		return errors.New("--backfill, --batch, --partitions must be positive, --balance-calls at least 10 " +
			"and --explain-events not negative")
	}

	if *workers == 0 {
		rcfg, err := reconciler.ReadEnv(reconciler.Config{}, getenv)
		if err != nil {
			return err
		}
		*workers = cmp.Or(rcfg.Workers, reconciler.DefaultWorkers())
	}
	if *workers < 1 {
		return errors.New("--workers must be positive")
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rep, err := bench.Run(ctx, bench.Config{
		AdminURL: bench.AdminURL(getenv), Events: *events, Businesses: *businesses, Batch: *batch, ReferenceConns: *refConns,
		Backfill: *backfill, RSSItems: *rssItems, RSSSources: *rssSources, History: lengths, BalanceCalls: *calls, ExplainEvents: *explainEvents,
		PollerBin: *pollerBin, OutDir: *out, Partitions: *partitions, Skip: skipped, Without: left, Progress: stderr, Log: log,
		MatchExpectations: *matchExps, Workers: *workers, MatchItems: *matchItems,
	})
	if rep != nil {
		rep.Print(stdout)
	}
	if err != nil {
		return err
	}
	if len(rep.Errors) > 0 {
		return fmt.Errorf("%d phase(s) failed", len(rep.Errors))
	}
	if *strict && !rep.Verdicts() {
		return bench.ErrShort
	}
	return nil
}
