package main

import (
	"context"
	"errors"
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
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mizanhq/mizan/internal/devstack"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

// demoSecretKey encrypts the simulator's tokens in the demo database. It protects nothing real.
const demoSecretKey = "mizan-demo-secret-key-not-for-production"

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	keep := fs.Bool("keep-running", false, "keep the pipeline running (poller on its schedule, reconciler consuming) until Ctrl-C")
	dir := fs.String("dir", ".run", "where the broker's data and the generated sources file live")
	days := fs.Int("days", 30, "days of simulated history")
	perDay := fs.Int("per-day", 40, "about how many statement items a day")
	kafkaPort := fs.Int("kafka-port", 0, "broker port (0: any free port; --keep-running uses 19092)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	bin, err := binDir()
	if err != nil {
		return err
	}
	fresh := !*keep
	if *keep && *kafkaPort == 0 {
		*kafkaPort = 19092
	}
	if fresh { // a run shows one clean month; `make up` keeps what it has
		if err := os.RemoveAll(filepath.Join(*dir, "kafka")); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}

	step(stdout, "PostgreSQL")
	pg, err := devstack.FindPostgres(ctx, *dir, getenv, log)
	if err != nil {
		return err
	}
	defer pg.Stop()
	dbURL, err := pg.Database(ctx, "mizan_demo", fresh)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "  %s, database %s\n", pg.Where, redactURL(dbURL))

	step(stdout, "Kafka-protocol broker (in-process kfake)")
	broker, err := kafka.StartEmbedded(kafka.EmbeddedOptions{DataDir: filepath.Join(*dir, "kafka"), Port: *kafkaPort,
		Partitions: 3, Topics: events.AllTopics})
	if err != nil {
		return err
	}
	defer broker.Close()
	fmt.Fprintf(stdout, "  listening on %s, data in %s\n", strings.Join(broker.Addrs(), ","), filepath.Join(*dir, "kafka"))

	step(stdout, "Vandar simulator")
	sim, err := vandartest.New(vandartest.Options{Businesses: []vandartest.BusinessOptions{
		{Slug: "acme", Seed: 1, Days: *days, PerDay: *perDay, OpeningWallet: 12_500_000},
	}})
	if err != nil {
		return err
	}
	simURL, stopSim, err := serve(sim)
	if err != nil {
		return err
	}
	defer stopSim()
	access, refresh, _ := sim.IssueTokens("acme")
	fmt.Fprintf(stdout, "  %s: business acme, %d items over %d days\n", simURL, len(sim.Items("acme")), *days)

	sources := filepath.Join(*dir, "sources.yaml")
	if err := os.WriteFile(sources, []byte(fmt.Sprintf(`# Written by the demo: the simulator stands in for api.vandar.io.
sources:
  - name: vandar-acme
    provider: vandar
    business: acme
    api_url: %s
    batch_url: %s
    access_token_env: VANDAR_ACME_ACCESS_TOKEN
    refresh_token_env: VANDAR_ACME_REFRESH_TOKEN
    feeds: { statement: "@every 1m", balance: "*/5 * * * *" }
`, simURL, simURL)), 0o600); err != nil {
		return err
	}
	env := append(os.Environ(),
		"DATABASE_URL="+dbURL,
		"KAFKA_BROKERS="+strings.Join(broker.Addrs(), ","),
		"MIZAN_SOURCES="+sources,
		"MIZAN_SECRET_KEY="+demoSecretKey,
		"VANDAR_ACME_ACCESS_TOKEN="+access,
		"VANDAR_ACME_REFRESH_TOKEN="+refresh,
		"MIZAN_LOG_LEVEL=warn",
	)
	command := func(name string, args ...string) error {
		fmt.Fprintf(stdout, "  $ %s %s\n", name, strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, filepath.Join(bin, name), args...)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, indent(stdout), stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
		}
		return nil
	}

	step(stdout, "Pipeline")
	if err := command("reconciler", "migrate"); err != nil {
		return err
	}
	if err := command("reconciler", "topics", "--partitions", "3", "--replication", "1"); err != nil {
		return err
	}
	start := time.Now()
	if err := command("poller", "once"); err != nil {
		return err
	}
	if err := command("reconciler", "run", "--until-idle"); err != nil {
		return err
	}
	elapsed := time.Since(start)

	step(stdout, "Result")
	if err := summary(ctx, stdout, dbURL, sim.Wallet("acme"), elapsed); err != nil {
		return err
	}
	if !*keep {
		return nil
	}

	step(stdout, "Running (Ctrl-C stops)")
	fmt.Fprintf(stdout, "  psql '%s' -c 'select * from ledger.balances'\n", dbURL)
	fmt.Fprintf(stdout, "  kcat -b %s -t %s -C -e | head\n", broker.Addrs()[0], events.TopicStatement)
	procs := []*exec.Cmd{}
	for _, args := range [][]string{{"poller", "run"}, {"reconciler", "run"}} {
		cmd := exec.CommandContext(ctx, filepath.Join(bin, args[0]), args[1:]...)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, indent(stdout), stderr
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
		if err := cmd.Start(); err != nil {
			return err
		}
		procs = append(procs, cmd)
	}
	<-ctx.Done()
	for _, p := range procs {
		_ = p.Wait()
	}
	return nil
}

// summary prints what the run did and the ledger's wallet beside the simulator's.
func summary(ctx context.Context, w io.Writer, dbURL string, simWallet int64, elapsed time.Duration) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var statementEvents, entries, postings int
	var ledgerWallet, reported string
	err = conn.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM recon.processed_events WHERE topic LIKE '%statement%'),
		       (SELECT count(*) FROM ledger.entries),
		       (SELECT count(*) FROM ledger.postings),
		       coalesce((SELECT balance::text FROM ledger.balances WHERE account = 'assets:vandar:acme:wallet'), '0'),
		       coalesce((SELECT amount::text FROM recon.balance_observations WHERE account = 'acme' ORDER BY observed_at DESC LIMIT 1), '-')`).
		Scan(&statementEvents, &entries, &postings, &ledgerWallet, &reported)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  statement items fetched and applied\t%d\n", statementEvents)
	fmt.Fprintf(tw, "  ledger entries posted\t%d (%d postings)\n", entries, postings)
	fmt.Fprintf(tw, "  poll + reconcile took\t%s\n", elapsed.Round(time.Millisecond))
	fmt.Fprintf(tw, "  wallet in the ledger\t%s IRT\n", ledgerWallet)
	fmt.Fprintf(tw, "  wallet Vandar reports\t%s IRT (balance endpoint)\n", reported)
	tw.Flush()
	verdict := "AGREE"
	if ledgerWallet != fmt.Sprint(simWallet) || reported != fmt.Sprint(simWallet) {
		verdict = "DISAGREE"
	}
	fmt.Fprintf(w, "  ledger and provider %s\n\n", verdict)

	rows, err := conn.Query(ctx, `SELECT account, type, currency, balance::text FROM ledger.balances ORDER BY account`)
	if err != nil {
		return err
	}
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  account\ttype\tcurrency\tbalance\t")
	for rows.Next() {
		var acc, typ, cur, bal string
		if err := rows.Scan(&acc, &typ, &cur, &bal); err != nil {
			return err
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t\n", acc, typ, cur, bal)
	}
	tw.Flush()
	if err := rows.Err(); err != nil {
		return err
	}
	if verdict != "AGREE" {
		return errors.New("the ledger does not agree with the simulator")
	}
	return nil
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

// binDir is where the poller and reconciler binaries are: beside this one.
func binDir() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	dir := filepath.Dir(exe)
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
