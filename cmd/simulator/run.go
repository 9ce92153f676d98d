package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mizanhq/mizan/internal/cli"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/matching/matchingtest"
	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

const usage = `usage:
  simulator [flags]     serve the Vandar simulator until SIGINT or SIGTERM; print its URL and token pairs
  simulator version     print the version, commit and Go version
  simulator help        print this help`

// run parses the flags, builds the simulator, serves it until ctx is done or a signal arrives, then shuts
// down, letting requests in flight finish. The simulator takes flags only: it holds no secrets, and getenv
// is in the signature because every mizan command's run has it.
func run(ctx context.Context, args []string, _ func(string) string, stdout io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	fs := flag.NewFlagSet("simulator", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := fs.String("addr", "127.0.0.1:8081", "address to listen on")
	slugs := fs.String("business", "acme", "comma-separated business slugs")
	seed := fs.Int64("seed", 1, "seed of the histories; the i-th business gets seed+i")
	days := fs.Int("days", 30, "days of history, ending today; the rest of today's items appear as their time comes")
	perDay := fs.Int("per-day", 40, "about how many items a day")
	rateLimit := fs.Bool("rate-limit", false, "enforce Vandar's limits: 100 requests and 30 POSTs per 3 s per token")
	plant := fs.Bool("discrepancies", false,
		"plant one of each discrepancy per business: a hidden, a duplicated and a fee-mis-signed item, a "+
			"drifted balance, a settlement stuck pending, a failed settlement whose money never returns and a "+
			"batch whose totals don't add up at once, and an item's amount changed a minute after start")
	records := fs.String("expectations", "",
		"write the businesses' own records — an order per gateway payment, a payout request per settlement, a "+
			"refund per refund — to this CSV file for `reconciler expect import`, and rewrite it every minute with "+
			"what happened since")
	faults := fs.Bool("matching-faults", false,
		"plant the four faults matching must catch per business: an order never paid, one paid with another "+
			"amount, one paid twice, and a payment no order expects (needs --expectations to be seen)")
	if _, ok := cli.HelpWanted(args); ok {
		cli.PrintFlagsHelp(stdout, "simulator", usage, fs)
		return nil
	}
	if len(args) == 1 && args[0] == "version" {
		fmt.Fprintln(stdout, cli.Version("simulator"))
		return nil
	}
	if err := fs.Parse(args); err != nil {
		return cli.Usagef(usage, "%v", err)
	}
	if fs.NArg() > 0 {
		return cli.Usagef(usage, "unexpected arguments: %q", fs.Args())
	}

	opts := vandartest.Options{RateLimit: *rateLimit, Seed: *seed}
	for i, slug := range strings.Split(*slugs, ",") {
		opts.Businesses = append(opts.Businesses, vandartest.BusinessOptions{
			Slug: strings.TrimSpace(slug), Seed: *seed + int64(i), Days: *days, PerDay: *perDay})
	}
	srv, err := vandartest.New(opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "# vandar simulator: %d days of history, about %d items a day\n# api_url: %s\n", *days, *perDay, base)
	var restate []func()
	planted := map[string]matchingtest.Planted{}
	for _, slug := range srv.Businesses() {
		if *faults {
			// First, as Plant requires: it adds an item to the history.
			p, err := matchingtest.Plant(srv, slug)
			if err != nil {
				return fmt.Errorf("business %s: %w", slug, err)
			}
			planted[slug] = p
			fmt.Fprintf(stdout, "# planted in %s's records: order %s never paid, order %s paid 10000 Toman less than it says, "+
				"order %s paid twice (again by item %s), payment item %s in no order\n",
				slug, p.Unpaid, p.Mismatch, p.PaidTwice, p.Duplicate, p.Unexpected)
		}
		fmt.Fprintf(stdout, "# business %s: %d items so far, wallet %d Toman\n", slug, len(srv.Items(slug)), srv.Wallet(slug))
		if *plant {
			later, err := plantDiscrepancies(srv, slug, *seed, stdout)
			if err != nil {
				return fmt.Errorf("business %s: %w", slug, err)
			}
			restate = append(restate, later)
			if err := plantPayoutDiscrepancies(srv, slug, stdout); err != nil {
				return fmt.Errorf("business %s: %w", slug, err)
			}
		}
	}

	writeRecords := func() error { return nil }
	if *records != "" {
		writeRecords = func() error { return writeExpectations(*records, srv, planted) }
		if err := writeRecords(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "# the businesses' records: %s (reconciler expect import %s)\n", *records, *records)
	}
	recordsTick := time.NewTicker(time.Minute)
	defer recordsTick.Stop()
	// The token pairs last: whoever reads them (a test, a script) finds everything above already done.
	for _, slug := range srv.Businesses() {
		access, refresh, expiresIn := srv.IssueTokens(slug)
		env := "VANDAR_" + envName(slug)
		fmt.Fprintf(stdout, "# token pair of %s (the access token is valid %d s):\n", slug, expiresIn)
		fmt.Fprintf(stdout, "%s_ACCESS_TOKEN=%s\n%s_REFRESH_TOKEN=%s\n", env, access, env, refresh)
	}

	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	restated := time.NewTimer(time.Minute)
	defer restated.Stop()
	for {
		select {
		case err := <-served:
			return err
		case <-restated.C:
			for _, f := range restate {
				f()
			}
		case <-recordsTick.C:
			if err := writeRecords(); err != nil {
				fmt.Fprintf(stdout, "# could not rewrite the businesses' records: %v\n", err)
			}
		case <-ctx.Done():
			shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return hs.Shutdown(shutdown)
		}
	}
}

// writeExpectations writes every business's records as of the simulator's now to file, replacing it whole:
// importing it again is harmless, a record already imported is the same record.
func writeExpectations(file string, srv *vandartest.Server, planted map[string]matchingtest.Planted) error {
	var all []events.Expectation
	for _, slug := range srv.Businesses() {
		exps, err := matchingtest.Expectations(srv, slug, planted[slug])
		if err != nil {
			return err
		}
		all = append(all, exps...)
	}
	tmp := file + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := matchingtest.WriteCSV(f, all); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// envName turns a slug into the middle of an environment variable's name: acme-shop → ACME_SHOP.
func envName(slug string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, slug)
}

// plantDiscrepancies hides, duplicates and mis-signs the fee of three seeded gateway payments and drifts
// the balance now, and returns the fourth discrepancy — a payment's amount changed — to do later: a
// restatement is only visible to a reader that saw the item before it changed.
func plantDiscrepancies(srv *vandartest.Server, slug string, seed int64, out io.Writer) (func(), error) {
	var candidates []vandartest.Item
	for _, it := range srv.Items(slug) {
		if it.Kind == vandartest.KindIPG && it.Wage > 0 && !it.EffectiveAt.IsZero() {
			candidates = append(candidates, it)
		}
	}
	if len(candidates) < 4 {
		return nil, fmt.Errorf("only %d paid gateway payments: too few to plant discrepancies in", len(candidates))
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x706c616e74))
	rng.Shuffle(len(candidates), func(i, j int) { candidates[i], candidates[j] = candidates[j], candidates[i] })
	hidden, dup, missigned, changed := candidates[0], candidates[1], candidates[2], candidates[3]
	for _, step := range []struct {
		what string
		err  error
	}{
		{fmt.Sprintf("item %d hidden from the statement", hidden.ID), srv.HideItem(slug, hidden.ID)},
		{fmt.Sprintf("item %d listed twice", dup.ID), srv.DuplicateItem(slug, dup.ID)},
		{fmt.Sprintf("item %d's fee applied with the wrong sign", missigned.ID), srv.MisSignFee(slug, missigned.ID)},
		{"balance reported 1000 Toman high", srv.DriftBalance(slug, 1_000)},
	} {
		if step.err != nil {
			return nil, step.err
		}
		fmt.Fprintf(out, "# planted in %s: %s\n", slug, step.what)
	}
	fmt.Fprintf(out, "# planted in %s, a minute from now: item %d's amount changed from %d to %d\n",
		slug, changed.ID, changed.Amount, changed.Amount+10_000)
	return func() { _ = srv.ChangeAmount(slug, changed.ID, changed.Amount+10_000) }, nil
}

// plantPayoutDiscrepancies sticks the latest settlement already paid (it reads pending, past its prediction,
// from now on), withholds the return of a failed or cancelled settlement, and misstates the first batch's
// totals. A history too short to have what a knob needs gets a "not planted" line instead.
func plantPayoutDiscrepancies(srv *vandartest.Server, slug string, out io.Writer) error {
	now := srv.Now()
	var done, failed []vandartest.Item
	for _, it := range srv.Items(slug) {
		if it.Kind != vandartest.KindSettlement || it.ResolvedAt.After(now) {
			continue
		}
		switch it.FinalStatus {
		case vandartest.StatusSettlementDone:
			if it.BatchID == "" {
				done = append(done, it)
			}
		case vandartest.StatusSettlementFailed, vandartest.StatusSettlementCanceled:
			failed = append(failed, it)
		}
	}
	if n := len(done); n > 0 {
		if err := srv.StickSettlement(slug, done[n-1].ID); err != nil {
			return err
		}
		fmt.Fprintf(out, "# planted in %s: settlement %d stuck pending past its prediction\n", slug, done[n-1].ID)
	} else {
		fmt.Fprintf(out, "# not planted in %s: no paid settlement to stick\n", slug)
	}
	withheld := false
	for _, it := range failed {
		// A return later items depended on cannot be taken away (the wallet would go negative): try the next.
		if err := srv.WithholdReturn(slug, it.ID); err == nil {
			fmt.Fprintf(out, "# planted in %s: settlement %d's return withheld: failed, and its money never comes back\n",
				slug, it.ID)
			withheld = true
			break
		}
	}
	if !withheld {
		fmt.Fprintf(out, "# not planted in %s: no failed settlement whose return can be withheld\n", slug)
	}
	if batches := srv.Batches(slug); len(batches) > 0 {
		if err := srv.MisstateBatch(slug, batches[0].ID, 10_000); err != nil {
			return err
		}
		fmt.Fprintf(out, "# planted in %s: batch %.16s… reports 10000 Toman more than its items\n", slug, batches[0].ID)
	} else {
		fmt.Fprintf(out, "# not planted in %s: no batch to misstate\n", slug)
	}
	return nil
}
