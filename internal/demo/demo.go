// Package demo runs mizan's whole pipeline on a newcomer's machine with embedded defaults: an in-process
// Kafka-protocol broker, the provider simulators with a realistic month, a Slack sink and a PostgreSQL
// (internal/devstack). It runs the real poller and reconciler binaries against them, as production would,
// and prints what happened. `make run` runs it once; `make up` (--keep-running) leaves the pipeline running.
package demo

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mizanhq/mizan/internal/alerts/slacktest"
	"github.com/mizanhq/mizan/internal/cli"
	"github.com/mizanhq/mizan/internal/devstack"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/matching"
	"github.com/mizanhq/mizan/internal/matching/matchingtest"
	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
	"github.com/mizanhq/mizan/internal/sources/yabandpay/yabandpaytest"
)

// demoSecretKey encrypts the simulator's tokens in the demo database. It protects nothing real.
const demoSecretKey = "mizan-demo-secret-key-not-for-production"

// demoSigningKeys signs the demo's events (MIZAN_SIGNING_KEYS). It protects nothing real either.
const demoSigningKeys = "demo:mizan-demo-signing-key-not-for-production"

// usage is the demo's help.
const usage = `usage:
  demo [flags]                 run the whole pipeline once on a simulated month and print what happened (make run)
  demo --keep-running [flags]  the same, then keep it running until Ctrl-C (make up)
      --keep-running           keep the pipeline running (poller on its schedule, reconciler consuming)
      --dir DIR                where the broker's data, the sources file and a PostgreSQL it starts live (.run)
      --database NAME          the demo's database (mizan_demo), dropped and recreated at every start; only a
                               database the demo created and marked is ever dropped
      --days N                 days of simulated history (30; 5 or more: the faults planted in globex need
                               payments older than two days)
      --per-day N              about how many statement items a day (40)
      --kafka-port P           the broker's port (0: any free port; --keep-running: 19092)
      --http-port P            --keep-running: the poller's /metrics port, the reconciler's is P+1 (9101; 0: none)
      --bin DIR                where the poller and reconciler binaries are (beside this one)
  demo postgres start          start (or find) the PostgreSQL the tests use and print where it is (make test)
  demo postgres stop           stop the PostgreSQL the tests use, if mizan started it
  demo version                 print the version, commit and Go version
  demo help                    print this help
Every start is clean: the simulated providers live only as long as the demo, so the database and the broker's
data of an earlier run are dropped, never resumed.`

// Run runs the demo with the command line args (without the program name).
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if words, ok := cli.HelpWanted(args); ok {
		cli.PrintHelp(stdout, "demo", usage, words)
		return nil
	}
	if len(args) > 0 {
		switch args[0] {
		case devstack.ChildCommand:
			return devstack.RunChild(args[1:])
		case "version":
			fmt.Fprintln(stdout, cli.Version("demo"))
			return nil
		case "postgres":
			return testPostgres(ctx, args[1:], getenv, stdout, stderr)
		}
	}
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	keep := fs.Bool("keep-running", false, "")
	dir := fs.String("dir", ".run", "")
	database := fs.String("database", "mizan_demo", "")
	days := fs.Int("days", 30, "")
	perDay := fs.Int("per-day", 40, "")
	kafkaPort := fs.Int("kafka-port", 0, "")
	httpPort := fs.Int("http-port", 9101, "")
	binFlag := fs.String("bin", "", "")
	if err := fs.Parse(args); err != nil {
		return cli.Usagef(usage, "%v", err)
	}
	if fs.NArg() > 0 {
		return cli.Usagef(usage, "unknown command %q", fs.Arg(0))
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	bin, err := binDir(*binFlag)
	if err != nil {
		return err
	}
	if *keep && *kafkaPort == 0 {
		*kafkaPort = 19092
	}
	// Every start is clean (see usage): the broker's data of an earlier run goes, as the database does below.
	if err := os.RemoveAll(filepath.Join(*dir, "kafka")); err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}

	step(stdout, "PostgreSQL")
	self, _ := os.Executable() // as root, the embedded PostgreSQL is started through this binary
	pg, err := devstack.Find(ctx, devstack.Options{URLVar: "DATABASE_URL", Dir: *dir, Getenv: getenv, Exe: self, Log: log})
	if err != nil {
		return err
	}
	defer pg.Stop(context.WithoutCancel(ctx))
	db, err := pg.FreshDemoDatabase(ctx, *database)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "  %s, database %s (created afresh)\n", pg.Where, redactURL(db.AppURL))

	step(stdout, "Kafka-protocol broker (in-process kfake)")
	broker, err := kafka.StartEmbedded(kafka.EmbeddedOptions{DataDir: filepath.Join(*dir, "kafka"), Port: *kafkaPort,
		Partitions: 3, Topics: events.AllTopics})
	if err != nil {
		return err
	}
	defer broker.Close()
	fmt.Fprintf(stdout, "  listening on %s, data in %s\n", strings.Join(broker.Addrs(), ","), filepath.Join(*dir, "kafka"))

	step(stdout, "Vandar simulator")
	// acme is a clean business; globex has discrepancies planted, for the checks and matching to catch.
	sim, err := vandartest.New(vandartest.Options{Businesses: []vandartest.BusinessOptions{
		{Slug: "acme", Seed: 1, Days: *days, PerDay: *perDay, OpeningWallet: 12_500_000},
		{Slug: "globex", Seed: 2, Days: *days, PerDay: *perDay / 2, OpeningWallet: 4_000_000},
	}})
	if err != nil {
		return err
	}
	planted, err := plant(sim, "globex")
	if err != nil {
		return err
	}
	simURL, stopSim, err := serve(sim)
	if err != nil {
		return err
	}
	defer stopSim()
	tokens := map[string][2]string{}
	for _, b := range sim.Businesses() {
		access, refresh, _ := sim.IssueTokens(b)
		tokens[b] = [2]string{access, refresh}
		fmt.Fprintf(stdout, "  %s: business %s, %d items over %d days\n", simURL, b, len(sim.Items(b)), *days)
	}
	for _, f := range planted.faults(nil) {
		fmt.Fprintf(stdout, "  planted in %s\n", f.what)
	}

	step(stdout, "Bank statements (one camt.053, one CSV)")
	banks, err := dropStatements(sim, filepath.Join(*dir, "statements"), *days)
	if err != nil {
		return err
	}
	for _, bk := range banks {
		fmt.Fprintf(stdout, "  %s: %s's account %s, %s\n", bk.file, bk.business, bk.iban, bk.note)
	}

	step(stdout, "YabandPay simulator")
	ysim, err := yabandpaytest.New(yabandpaytest.Options{Merchants: []yabandpaytest.MerchantOptions{
		{User: "036870", Seed: 3, Start: time.Now().AddDate(0, 0, -*days)},
	}})
	if err != nil {
		return err
	}
	yURL, stopY, err := serve(ysim)
	if err != nil {
		return err
	}
	defer stopY()
	ykey, err := ysim.SecretKey("036870")
	if err != nil {
		return err
	}
	ycurs, _ := ysim.Currencies("036870")
	fmt.Fprintf(stdout, "  %s: merchant 036870 in %s\n", yURL, strings.Join(ycurs, ", "))

	step(stdout, "Slack (a local sink that prints what it receives)")
	sink := slacktest.New(indent(stdout))
	defer sink.Close()
	fmt.Fprintf(stdout, "  %s\n", sink.URL)

	// The businesses' own records, matched with the statements (docs/matching.md).
	matchingOnce, matchingLive := filepath.Join(*dir, "matching.yaml"), filepath.Join(*dir, "matching-live.yaml")
	for f, text := range map[string]string{matchingOnce: matchingFile, matchingLive: matchingFileLive} {
		if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
			return err
		}
	}
	sources := filepath.Join(*dir, "sources.yaml")
	var yaml strings.Builder
	yaml.WriteString("# Written by the demo: the simulator stands in for api.vandar.io.\nsources:\n")
	for _, b := range sim.Businesses() {
		up := strings.ToUpper(b)
		fmt.Fprintf(&yaml, `  - name: vandar-%s
    provider: vandar
    business: %s
    api_url: %s
    batch_url: %s
    access_token_env: VANDAR_%s_ACCESS_TOKEN
    refresh_token_env: VANDAR_%s_REFRESH_TOKEN
    feeds: { statement: "@every 1m", balance: "*/5 * * * *", settlements: "*/5 * * * *", batches: "*/10 * * * *" }
`, b, b, simURL, simURL, up, up)
	}
	fmt.Fprintf(&yaml, `  - name: yabandpay-036870
    provider: yabandpay
    user: "036870"
    api_url: %s
    secret_key_env: YABANDPAY_SECRET_KEY
    currencies: [%s]
    feeds: { balance: "*/5 * * * *" }
`, yURL, strings.Join(ycurs, ", "))
	for _, bk := range banks {
		yaml.WriteString(bk.source)
	}
	if err := os.WriteFile(sources, []byte(yaml.String()), 0o600); err != nil {
		return err
	}
	env := append(os.Environ(),
		"DATABASE_URL="+db.AppURL,
		"KAFKA_BROKERS="+strings.Join(broker.Addrs(), ","),
		"MIZAN_SOURCES="+sources,
		"MIZAN_SECRET_KEY="+demoSecretKey,
		"MIZAN_SIGNING_KEYS="+demoSigningKeys,
		"SLACK_WEBHOOK_URL="+sink.URL,
		"MIZAN_SETTLE_DELAY=0s", // the simulator writes items whole: nothing to wait for
		"MIZAN_LOG_LEVEL=warn",
		"YABANDPAY_SECRET_KEY="+ykey,
		// Payouts that fail are expected back within a day in the simulated Paya cycles.
		"MIZAN_SETTLEMENT_GRACE=24h",
		matching.FileEnv+"="+matchingOnce,
	)
	for b, pair := range tokens {
		up := strings.ToUpper(b)
		env = append(env, "VANDAR_"+up+"_ACCESS_TOKEN="+pair[0], "VANDAR_"+up+"_REFRESH_TOKEN="+pair[1])
	}
	command := func(env []string, name string, args ...string) error {
		fmt.Fprintf(stdout, "  $ %s %s\n", name, strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, filepath.Join(bin, name), args...)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, indent(stdout), stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
		}
		return nil
	}

	step(stdout, "Pipeline")
	// The schema's owner migrates; the commands run as db.AppURL's role.
	if err := command(append(env, "DATABASE_URL="+db.MigrateURL), "reconciler", "migrate"); err != nil {
		return err
	}
	if err := command(env, "reconciler", "topics", "--partitions", "3", "--replication", "1"); err != nil {
		return err
	}
	// The shops and the payout tool publish what they expect, as the businesses' systems would.
	shop := newShop(broker.Addrs(), sim, map[string]matchingtest.Planted{planted.business: planted.records})
	defer shop.Close()
	start := time.Now()
	counts, err := shop.publish(ctx)
	if err != nil {
		return fmt.Errorf("publish the businesses' records: %w", err)
	}
	fmt.Fprintf(stdout, "  the businesses publish their records to %s:\n", events.TopicExpected)
	for _, line := range recordsOf(counts) {
		fmt.Fprintf(stdout, "    %s\n", line)
	}
	if err := command(env, "poller", "once"); err != nil {
		return err
	}
	if err := command(env, "reconciler", "run", "--until-idle"); err != nil {
		return err
	}
	elapsed := time.Since(start)

	step(stdout, "Result")
	if err := summary(ctx, stdout, db.AppURL, sim, planted, banks, elapsed); err != nil {
		return err
	}
	if !*keep {
		return nil
	}

	step(stdout, "Running (Ctrl-C stops)")
	psql, err := psqlCommand(*dir, pg, db)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "  %s -c 'select * from ledger.balances'\n", psql)
	fmt.Fprintf(stdout, "  kcat -b %s -t %s -C -e | head\n", broker.Addrs()[0], events.TopicStatement)
	// A poller or reconciler that stops by itself (its port taken, its database gone) must end make up with
	// the reason, not leave it looking alive with half a pipeline: stop cancels the rest.
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	// From now on a new order is published within seconds of the simulator's clock reaching it, while the
	// poller reads the statement every minute: a line may now arrive before its record (matchingFileLive).
	published := make(chan struct{})
	go func() {
		defer close(published)
		shop.keepPublishing(ctx, func(err error) { log.Warn("publish the businesses' records", "err", err) })
	}()
	env = append(env, matching.FileEnv+"="+matchingLive)
	if *httpPort != 0 {
		fmt.Fprintf(stdout, "  curl -s 127.0.0.1:%d/metrics | grep ^mizan_   # the poller's metrics; the reconciler's on :%d\n",
			*httpPort, *httpPort+1)
	}
	exited := make(chan error, 2)
	running := 0
	for i, args := range [][]string{{"poller", "run"}, {"reconciler", "run"}} {
		cmd := exec.CommandContext(ctx, filepath.Join(bin, args[0]), args[1:]...)
		addr := "off"
		if *httpPort != 0 {
			addr = fmt.Sprintf("127.0.0.1:%d", *httpPort+i)
		}
		cmd.Env = append(env, "MIZAN_HTTP_ADDR="+addr)
		cmd.Stdout, cmd.Stderr = indent(stdout), stderr
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
		if err := cmd.Start(); err != nil {
			stop()
			for ; running > 0; running-- {
				<-exited
			}
			<-published
			return err
		}
		running++
		name := strings.Join(args, " ")
		go func() {
			err := cmd.Wait()
			exited <- fmt.Errorf("%s stopped by itself (%v): make up stops too", name, err)
		}()
	}
	var failed error
	select {
	case <-ctx.Done():
	case err := <-exited:
		running--
		if ctx.Err() == nil { // not the SIGTERM of a Ctrl-C that raced with this select
			failed = err
		}
		stop()
	}
	for ; running > 0; running-- {
		<-exited
	}
	<-published // before the deferred shop.Close
	return failed
}

// serve serves the simulator on a loopback port.
func serve(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

// binDir is where the poller and reconciler binaries are: dir, or beside this one.
func binDir(dir string) (string, error) {
	if dir == "" {
		exe, err := os.Executable()
		if err != nil {
			return "", err
		}
		dir = filepath.Dir(exe)
	}
	for _, name := range []string{"poller", "reconciler"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return "", fmt.Errorf("%s is not beside the demo binary in %s: run `make run`, which builds them", name, dir)
		}
	}
	return dir, nil
}

func step(w io.Writer, title string) { fmt.Fprintf(w, "\n== %s\n", title) }

func redactURL(u string) string {
	if cfg, err := pgx.ParseConfig(u); err == nil {
		return fmt.Sprintf("%s on %s:%d", cfg.Database, cfg.Host, cfg.Port)
	}
	return "(from DATABASE_URL)"
}

// indent prefixes a child's output so it reads as part of its step.
func indent(w io.Writer) io.Writer { return &prefixWriter{w: w, prefix: "    "} }

type prefixWriter struct {
	w      io.Writer
	prefix string
	mid    bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line == "" {
			continue
		}
		if !p.mid {
			io.WriteString(p.w, p.prefix)
		}
		io.WriteString(p.w, line)
		p.mid = !strings.HasSuffix(line, "\n")
	}
	return len(b), nil
}
