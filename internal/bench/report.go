package bench

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Targets (issues 7 and 20).
const (
	TargetIngest    = 0.5  // × reference (mizan's schema, one connection)
	TargetReplay    = 1.0  // × reference (mizan's schema, one connection)
	TargetIngestRef = 0.8  // × the independent reference at as many connections as the reconciler has workers
	TargetScaling   = 2.5  // × the reconciler's ingest with one worker, same run
	TargetReplayRef = 0.5  // × the independent reference's replay at as many connections
	TargetBackfill  = 0.9  // × CeilingItemsPerSecond, with no 429
	TargetRSS       = 64   // MB
	TargetBalanceAt = 2.0  // × latency at the shortest history
	mb              = 1e6  // the targets' megabyte
	pctScale        = 100. // percent
)

// Verdicts says whether every measured target passed.
func (r *Report) Verdicts() (pass bool) {
	pass = len(r.Errors) == 0
	for _, v := range r.verdicts() {
		pass = pass && v
	}
	return pass
}

func (r *Report) verdicts() map[string]bool {
	v := map[string]bool{}
	ref := r.ReferenceSame.Rate()
	if r.Ingest.Messages > 0 && r.ReferenceSame.Entries > 0 {
		v["ingest"] = r.Ingest.Rate() >= TargetIngest*ref
		v["replay"] = r.Replay.Messages > 0 && r.Replay.Rate() >= TargetReplay*ref
	}
	if r.IngestOne.Messages > 0 && r.LedgerRefOne.Entries > 0 {
		v["ingest-ref-one"] = r.IngestOne.Rate() >= TargetIngestRef*r.LedgerRefOne.Rate()
	}
	if r.Ingest.Messages > 0 && r.LedgerRef.Entries > 0 {
		v["ingest-ref"] = r.Ingest.Rate() >= TargetIngestRef*r.LedgerRef.Rate()
	}
	if r.Ingest.Messages > 0 && r.IngestOne.Messages > 0 && r.Ingest.Workers > 1 {
		v["scaling"] = r.Ingest.Rate() >= TargetScaling*r.IngestOne.Rate()
	}
	if r.Replay.Messages > 0 && r.LedgerRefReplay.Entries > 0 {
		v["replay-ref"] = r.Replay.Rate() >= TargetReplayRef*r.LedgerRefReplay.Rate()
	}
	if r.Limited.Items > 0 {
		v["backfill"] = r.Limited.Rate() >= TargetBackfill*CeilingItemsPerSecond && r.Limited.Throttled == 0
	}
	if r.RSS.Peak > 0 {
		v["rss"] = float64(r.RSS.Peak) <= TargetRSS*mb
	}
	if len(r.Balance) >= 2 {
		v["balance"] = float64(r.Balance[len(r.Balance)-1].P50) <= TargetBalanceAt*float64(r.Balance[0].P50)
	}
	return v
}

// noisyAbove is how much CPU other processes may take during a measurement before the report says so.
const noisyAbove = 0.3 // cores

// noise says when processes outside the benchmark took CPU during the measurements behind a row.
func noise(splits ...CPUSplit) string {
	worst := 0.0
	for _, s := range splits {
		worst = max(worst, s.Other)
	}
	if worst <= noisyAbove {
		return ""
	}
	return fmt.Sprintf(" — NOISY: other processes took %.1f cores", worst)
}

func verdict(ok bool, detail string) string {
	if ok {
		return "pass  " + detail
	}
	return "SHORT " + detail
}

// Print writes the table, then the details behind it.
func (r *Report) Print(w io.Writer) {
	v := r.verdicts()
	fmt.Fprintf(w, "\nmizan bench — %s, took %s\n", r.Started.Format("2006-01-02 15:04"), r.Duration.Round(time.Second))
	fmt.Fprintf(w, "machine: %s; %s\n\n", r.Machine, r.Postgres)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tmeasurement\tresult\ttarget\tverdict")
	ref := r.ReferenceSame
	if ref.Entries > 0 {
		fmt.Fprintf(tw, "1\treference: %s entries × 2 postings into mizan's ledger schema (COPY → INSERT … ON CONFLICT DO NOTHING, %s/tx, 1 connection)\t%s entries/s\t\t\n",
			n(r.Reference2.Entries), n(r.Reference2.Batch), n(int(r.Reference2.Rate())))
		fmt.Fprintf(tw, "\treference: the same entries as the reconciler posts them (%s postings, %.2f per entry) — the targets' reference\t%s entries/s\t\t%s\n",
			n(ref.Postings), float64(ref.Postings)/float64(ref.Entries), n(int(ref.Rate())), strings.TrimPrefix(noise(ref.CPU, r.Reference2.CPU), " — "))
	}
	if wide := r.ReferenceWide; wide.Entries > 0 {
		fmt.Fprintf(tw, "\treference: the same over %d connections at once, wallets split between them (the machine with every core)\t%s entries/s\t\t%s\n",
			wide.Conns, n(int(wide.Rate())), strings.TrimPrefix(noise(wide.CPU), " — "))
	}
	// against says how a rate compares with the reference, when there is one.
	against := func(rate, factor float64, key, detail string, splits ...CPUSplit) (target, verd string) {
		if ref.Entries == 0 {
			return fmt.Sprintf("≥ %.1f × reference (not measured)", factor), ""
		}
		return fmt.Sprintf("≥ %.1f × reference = %s/s", factor, n(int(factor*ref.Rate()))),
			verdict(v[key], fmt.Sprintf("%.2f×%s", rate/ref.Rate(), detail)) + noise(append(splits, ref.CPU)...)
	}
	lr, lr1, lrr := r.LedgerRef, r.LedgerRefOne, r.LedgerRefReplay
	if lr.Entries > 0 {
		if lr1.Entries > 0 && lr1.Conns != lr.Conns {
			fmt.Fprintf(tw, "2\tindependent reference: the same entries into a minimal sound ledger of its own (schema benchref: FKs, sum-to-zero and append-only triggers, balance rows, running balances; one statement a batch of %s), 1 connection\t%s entries/s\t\t%s\n",
				n(lr1.Batch), n(int(lr1.Rate())), strings.TrimPrefix(noise(lr1.CPU), " — "))
			fmt.Fprintf(tw, "\tindependent reference: the same at %d connections, wallets split as the reconciler's workers split them\t%s entries/s\t\t%s\n",
				lr.Conns, n(int(lr.Rate())), strings.TrimPrefix(noise(lr.CPU), " — "))
		} else {
			fmt.Fprintf(tw, "2\tindependent reference: the same entries into a minimal sound ledger of its own (schema benchref), %d connection(s)\t%s entries/s\t\t%s\n",
				lr.Conns, n(int(lr.Rate())), strings.TrimPrefix(noise(lr.CPU), " — "))
		}
		if lrr.Entries > 0 {
			fmt.Fprintf(tw, "\tindependent reference replay: the same entries again, all duplicates, %d connection(s)\t%s entries/s\t\t%s\n",
				lrr.Conns, n(int(lrr.Rate())), strings.TrimPrefix(noise(lrr.CPU), " — "))
		}
	}
	// vs says how a rate compares with another of the same run.
	vs := func(rate, factor, base float64, key, of string, splits ...CPUSplit) (target, verd string) {
		return fmt.Sprintf("≥ %.1f × %s = %s/s", factor, of, n(int(factor*base))),
			verdict(v[key], fmt.Sprintf("%.2f×", rate/base)) + noise(splits...)
	}
	if one := r.IngestOne; one.Messages > 0 && (r.Ingest.Messages == 0 || r.Ingest.Workers > 1) {
		target, verd := "", ""
		if lr1.Entries > 0 {
			target, verd = vs(one.Rate(), TargetIngestRef, lr1.Rate(), "ingest-ref-one", "(2) at 1 connection", one.CPU, lr1.CPU)
		}
		fmt.Fprintf(tw, "3\treconciler ingest, 1 worker: %s statement events over %d wallets, already on the topic → committed ledger\t%s events/s\t%s\t%s\n",
			n(one.Messages), r.Workload.Businesses, n(int(one.Rate())), target, verd)
	}
	if in := r.Ingest; in.Messages > 0 {
		num := "3"
		if r.IngestOne.Messages > 0 && in.Workers > 1 {
			num = ""
		}
		target, verd := "", ""
		if lr.Entries > 0 {
			target, verd = vs(in.Rate(), TargetIngestRef, lr.Rate(), "ingest-ref", fmt.Sprintf("(2) at %d connection(s)", lr.Conns), in.CPU, lr.CPU)
		}
		what := "the same events, a new ledger"
		if num != "" {
			what = fmt.Sprintf("%s statement events over %d wallets, already on the topic → committed ledger", n(in.Messages),
				r.Workload.Businesses)
		}
		fmt.Fprintf(tw, "%s\treconciler ingest, %d worker(s): %s\t%s events/s\t%s\t%s\n",
			num, in.Workers, what, n(int(in.Rate())), target, verd)
		if one := r.IngestOne; one.Messages > 0 && in.Workers > 1 {
			target, verd := vs(in.Rate(), TargetScaling, one.Rate(), "scaling", "1 worker", in.CPU, one.CPU)
			fmt.Fprintf(tw, "\treconciler ingest, %d workers against 1 worker (the same run)\t%.2f×\t%s\t%s\n",
				in.Workers, in.Rate()/one.Rate(), target, verd)
		}
		if ref.Entries > 0 {
			detail := ""
			if r.Reference2.Entries > 0 {
				detail = fmt.Sprintf(" (%.2f× the 2-posting reference)", in.Rate()/r.Reference2.Rate())
			}
			target, verd := against(in.Rate(), TargetIngest, "ingest", detail, in.CPU)
			fmt.Fprintf(tw, "\treconciler ingest, %d worker(s), against (1)\t%s events/s\t%s\t%s\n", in.Workers, n(int(in.Rate())), target, verd)
		}
	}
	if re := r.Replay; re.Messages > 0 {
		target, verd := "", ""
		if lrr.Entries > 0 {
			target, verd = vs(re.Rate(), TargetReplayRef, lrr.Rate(), "replay-ref", "(2)'s replay", re.CPU, lrr.CPU)
		}
		fmt.Fprintf(tw, "4\treplay, %d worker(s): the same events from offset 0 in a new consumer group (all duplicates)\t%s events/s\t%s\t%s\n",
			re.Workers, n(int(re.Rate())), target, verd)
		if ref.Entries > 0 {
			target, verd := against(re.Rate(), TargetReplay, "replay", "", re.CPU)
			fmt.Fprintf(tw, "\treplay against (1)\t%s events/s\t%s\t%s\n", n(int(re.Rate())), target, verd)
		}
	}
	if l := r.Limited; l.Items > 0 {
		fmt.Fprintf(tw, "5\tpoller backfill: %s statement items, simulator enforcing 100 GET / 3 s\t%s items/s, %d × 429\t≥ %.0f%% of %s/s, no 429\t%s\n",
			n(l.Items), n(int(l.Rate())), l.Throttled, TargetBackfill*pctScale, "3,333",
			verdict(v["backfill"], fmt.Sprintf("%.1f%% of the ceiling", l.Rate()/CeilingItemsPerSecond*pctScale))+noise(l.CPU))
	}
	if m := r.RSS; m.FirstItems > 0 {
		fmt.Fprintf(tw, "\tpoller backfill: %s items without a provider limit (`%s`, the first %s of the memory run)\t%s items/s\t\t(%.1f%% of the ceiling: the client's own limiter paces it)\n",
			n(m.FirstItems), m.Command, n(m.FirstItems), n(int(m.FirstRate())), m.FirstRate()/CeilingItemsPerSecond*pctScale)
	}
	if m := r.RSS; m.Peak > 0 {
		fmt.Fprintf(tw, "\tpoller peak RSS: `%s` backfilling %s items (%d business(es)), a child process\t%.1f MB\t≤ %d MB\t%s\n",
			m.Command, n(m.Items), m.Sources, float64(m.Peak)/mb, TargetRSS, verdict(v["rss"], ""))
	}
	for i, b := range r.Balance {
		target, verd := "", ""
		if i == len(r.Balance)-1 && i > 0 {
			base := r.Balance[0].P50
			target = fmt.Sprintf("≤ %.0f × %s", TargetBalanceAt, ms(base))
			verd = verdict(v["balance"], fmt.Sprintf("%.2f×", float64(b.P50)/float64(base))) + noise(b.CPU, r.Balance[0].CPU)
		}
		num := ""
		if i == 0 {
			num = "6"
		}
		fmt.Fprintf(tw, "%s\tbalance check (ledger.BalanceAt): %s postings on the account\t%s p50, %s p99\t%s\t%s\n",
			num, n(b.Postings), ms(b.P50), ms(b.P99), target, verd)
	}
	if m := r.Matching; m.Items > 0 && m.On > 0 && m.Off > 0 {
		fmt.Fprintf(tw, "7\tmatching: %s statement items applied beside %s open expectations (%s/tx), matching on vs off\t%s vs %s items/s (%.2f×), %s matched\t\t%s\n",
			n(m.Items), n(m.Expectations), n(m.Batch), n(int(m.RateOn())), n(int(m.RateOff())), m.RateOn()/m.RateOff(),
			n(m.Matched), strings.TrimPrefix(noise(m.CPUOn, m.CPUOff), " — "))
		if m.None > 0 {
			fmt.Fprintf(tw, "\tmatching: the same items, matching on, no expectation at all (a business that publishes none) vs off\t%s vs %s items/s (%.2f×)\t\t%s\n",
				n(int(m.RateNone())), n(int(m.RateOff())), m.RateNone()/m.RateOff(), strings.TrimPrefix(noise(m.CPUNone, m.CPUOff), " — "))
		}
	}
	tw.Flush()
	for _, phase := range slices.Sorted(maps.Keys(r.Errors)) {
		fmt.Fprintf(w, "\n%s FAILED: %v\n", phase, r.Errors[phase])
	}
	r.printDetails(w)
}

func (r *Report) printDetails(w io.Writer) {
	section := func(title string) {
		fmt.Fprintf(w, "\n── %s %s\n", title, strings.Repeat("─", max(0, 100-len(title))))
	}
	if r.Workload.Events > 0 {
		section("workload")
		fmt.Fprintf(w, "%s statement events (gateway and form payments, settlements; every one moves its wallet), %d businesses, "+
			"%d bytes a CloudEvent on average, %d partitions\n", n(r.Workload.Events), r.Workload.Businesses, r.Workload.Bytes, r.Config.Partitions)
		if len(r.Config.Without) > 0 {
			fmt.Fprintf(w, "WITHOUT %s: every database of this run lacks them, so it measures what they cost, not mizan as it ships\n",
				strings.Join(r.Config.Without, ", "))
		}
	}
	if r.ReferenceSame.Entries > 0 {
		section("reference")
		for _, ref := range []ReferenceResult{r.Reference2, r.ReferenceSame, r.ReferenceWide} {
			if ref.Entries > 0 {
				fmt.Fprintf(w, "%s entries, %s postings, %d connection(s) in %s: %s entries/s; %s\n", n(ref.Entries),
					n(ref.Postings), ref.Conns, ref.Elapsed.Round(time.Millisecond), n(int(ref.Rate())), ref.CPU)
			}
		}
	}
	if lr := r.LedgerRef; lr.Entries > 0 {
		section("independent reference (schema benchref, internal/bench/ledgerref.go)")
		runs := []LedgerRefResult{r.LedgerRef, r.LedgerRefReplay}
		if r.LedgerRefOne.Conns != lr.Conns {
			runs = append([]LedgerRefResult{r.LedgerRefOne}, runs...)
		}
		for _, x := range runs {
			if x.Entries == 0 {
				continue
			}
			what := "ingest"
			if x.Replay {
				what = "replay"
			}
			fmt.Fprintf(w, "%s: %s entries, %s postings, %d connection(s), %s a statement, in %s: %s entries/s; %s\n", what,
				n(x.Entries), n(x.Postings), x.Conns, n(x.Batch), x.Elapsed.Round(time.Millisecond), n(int(x.Rate())), x.CPU)
			fmt.Fprintf(w, "    its backends (pg_stat_activity every 25 ms): %s\n", x.Waits)
		}
	}
	if one := r.IngestOne; one.Messages > 0 && r.Ingest.Workers > 1 {
		section("reconciler ingest, 1 worker")
		fmt.Fprintf(w, "%s messages in %d batches in %s: %s events/s; apply %s a batch; CPU: %s\n", n(one.Messages), one.Batches,
			one.Elapsed.Round(time.Millisecond), n(int(one.Rate())), ms(one.Apply/time.Duration(max(one.Batches, 1))), one.CPU)
		fmt.Fprintf(w, "its backends (pg_stat_activity every 25 ms): %s\n", one.Waits)
	}
	for _, x := range []struct {
		name string
		res  ReconcileResult
	}{{fmt.Sprintf("reconciler ingest, %d worker(s)", r.Ingest.Workers), r.Ingest}, {"replay", r.Replay}} {
		in := x.res
		if in.Messages == 0 {
			continue
		}
		section(x.name)
		perBatch := func(d time.Duration) string {
			return fmt.Sprintf("%s (%.0f%%)", ms(d/time.Duration(in.Batches)), 100*d.Seconds()/in.Elapsed.Seconds())
		}
		fmt.Fprintf(w, "%s messages in %d batches (%.0f a batch) in %s after %s joining the group; %d dead letters, %d alerts opened\n",
			n(in.Messages), in.Batches, float64(in.Messages)/float64(in.Batches), in.Elapsed.Round(time.Millisecond),
			in.Startup.Round(time.Millisecond), in.DeadLetters, in.AlertsOpened)
		fmt.Fprintf(w, "a batch: waiting for its fetch %s, apply %s, commit offsets %s (the next batch is fetched and decoded during the apply)\n",
			perBatch(in.Fetch), perBatch(in.Apply), perBatch(in.Commit))
		if len(in.Tenths) > 0 {
			var parts []string
			for _, d := range in.Tenths {
				parts = append(parts, fmt.Sprintf("%.0f", float64(d)/float64(time.Millisecond)))
			}
			fmt.Fprintf(w, "apply per batch through the run, by tenths (ms): %s\n", strings.Join(parts, " "))
		}
		fmt.Fprintf(w, "CPU: %s\n", in.CPU)
		fmt.Fprintf(w, "its backends (pg_stat_activity every 25 ms): %s\n", in.Waits)
		fmt.Fprintf(w, "\nSQL as the reconciler's pool timed it (client side: round trip, server, reading the result):\n")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "calls\ttotal\tper call\tof apply\t\tstatement")
		var rest time.Duration
		for i, s := range in.Statements {
			if i >= 14 {
				rest += s.Total
				continue
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%.1f%%\t\t%s\n", s.Calls, s.Total.Round(time.Millisecond), ms(s.Total/time.Duration(s.Calls)),
				100*s.Total.Seconds()/in.Apply.Seconds(), s.SQL)
		}
		if rest > 0 {
			fmt.Fprintf(tw, "\t%s\t\t%.1f%%\t\t(%d more statements)\n", rest.Round(time.Millisecond), 100*rest.Seconds()/in.Apply.Seconds(), len(in.Statements)-14)
		}
		tw.Flush()
		if len(in.Functions) > 0 {
			fmt.Fprintf(w, "\nPL/pgSQL functions as PostgreSQL timed them (pg_stat_user_functions, track_functions = pl):\n")
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "calls\ttotal\tself\tof apply\t\tfunction")
			for _, f := range in.Functions {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%.1f%%\t\t%s\n", f.Calls, f.Total.Round(time.Millisecond), f.Self.Round(time.Millisecond),
					100*f.Total.Seconds()/in.Apply.Seconds(), f.Name)
			}
			tw.Flush()
		}
		if x.name != "replay" && r.ProfileTop != "" {
			fmt.Fprintf(w, "\nGo CPU profile of the reconciler process (%s), go tool pprof -top:\n%s", r.Profile, indent(r.ProfileTop))
			fmt.Fprintf(w, "\nthe same, cumulative over mizan's functions (-top -cum -show=mizanhq):\n%s", indent(pprofBody(r.ProfileCum)))
		}
	}
	if b := r.Limited; b.Items > 0 {
		section("poller backfill, rate-limited")
		work := b.Work()
		fmt.Fprintf(w, "%s items, %d pages in %s: %s a page (Vandar's limit allows one every 30 ms); %d × 429\n",
			n(b.Items), b.Pages, b.Elapsed.Round(time.Millisecond), ms(b.PageTime()), b.Throttled)
		fmt.Fprintf(w, "a page: fetch and decode %s (of which the simulator %s), make events %s, publish %s, PostgreSQL %s — "+
			"%s of the poller's own work; the rest, %s, its client's rate limiter waiting\n",
			ms(b.Fetch), ms(b.SimPage), ms(b.Events), ms(b.Publish), ms(b.Postgres), ms(work), ms(max(b.PageTime()-work, 0)))
		if work > 0 {
			fmt.Fprintf(w, "the poller's own work alone would allow about %s items/s (%.1f× the ceiling)\n",
				n(int(100/work.Seconds())), 100/work.Seconds()/CeilingItemsPerSecond)
		}
		fmt.Fprintf(w, "CPU: %s\n", b.CPU)
	}
	if len(r.Explain) > 0 {
		section("EXPLAIN ANALYZE of the reconciler's statements (auto_explain, nested statements and triggers)")
		fmt.Fprintf(w, "%s more events applied with auto_explain (log_analyze, log_triggers, log_nested_statements) on every "+
			"statement; ANALYZE's timing slows each statement down, so compare shares, not times with the table above. "+
			"A trigger function's statements are nested in the statement that fired it: their times are inside its time. "+
			"The pass runs on fresh connections: each plans (and may JIT-compile) its statements anew and keeps those plans.\n\n",
			n(r.ExplainEvents))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "calls\ttotal\tper call\tJIT compiled\t\tstatement")
		for i, s := range r.Explain {
			if i >= 16 {
				break
			}
			jit := ""
			if s.JITCalls > 0 {
				jit = fmt.Sprintf("%d× %s", s.JITCalls, s.JIT.Round(time.Millisecond))
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t\t%s\n", s.Calls, s.Total.Round(time.Millisecond), ms(s.Total/time.Duration(s.Calls)), jit, s.SQL)
		}
		tw.Flush()
		for _, s := range r.Explain[:min(2, len(r.Explain))] {
			fmt.Fprintf(w, "\nslowest execution (%s) of: %s\n%s", ms(s.Slowest), s.SQL, indent(s.Plan))
			if len(s.Triggers) > 0 {
				fmt.Fprintf(w, "  triggers over all %d executions (foreign keys are triggers too):\n", s.Calls)
				for _, t := range s.Triggers {
					fmt.Fprintf(w, "    %-52s %8s  %6d calls  %5.1f%% of the statement\n", t.Name, t.Time.Round(time.Millisecond),
						t.Calls, 100*t.Time.Seconds()/s.Total.Seconds())
				}
			}
		}
	}
	if m := r.RSS; m.Peak > 0 {
		section("poller memory")
		fmt.Fprintf(w, "`%s`: %s items over %d business(es) in %s (%s items/s), %s of CPU (%.0f µs an item); peak RSS %.1f MB\n",
			m.Command, n(m.Items), m.Sources, m.Elapsed.Round(time.Millisecond), n(int(m.Rate())), m.CPU.Round(time.Millisecond),
			float64(m.CPU.Microseconds())/float64(m.Items), float64(m.Peak)/mb)
		var pts []string
		for _, p := range m.Timeline {
			pts = append(pts, fmt.Sprintf("%.0f%%: %.1f MB", p.Done*100, float64(p.RSS)/mb))
		}
		fmt.Fprintf(w, "resident set as the backfill went: %s\n", strings.Join(pts, ", "))
		if m.PoolMaxConns > 0 {
			fmt.Fprintf(w, "DATABASE_URL carried pool_max_conns=%d: with pgxpool's default (max(4, cores)) `poller run` stops at four "+
				"concurrent polls — each holds a connection for its advisory lock and waits for another to save its cursor\n", m.PoolMaxConns)
		}
	}
	if len(r.Balance) > 0 {
		section("balance check")
		for _, b := range r.Balance {
			fmt.Fprintf(w, "%s postings (history built and vacuumed in %s, its index then read once into the cache): %d calls at random moments, p50 %s, p99 %s, max %s; %s\n", n(b.Postings),
				b.Build.Round(time.Millisecond), b.Calls, ms(b.P50), ms(b.P99), ms(b.Max), b.CPU)
		}
		last := r.Balance[len(r.Balance)-1]
		fmt.Fprintf(w, "plan at %s postings:\n%s\n", n(last.Postings), indent(last.Plan))
	}
}

// pprofBody drops pprof's header lines (file, build id, time…), keeping the table.
func pprofBody(s string) string {
	if i := strings.Index(s, "      flat"); i >= 0 {
		return s[i:]
	}
	return s
}

func indent(s string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("    " + line + "\n")
	}
	return b.String()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// n formats an integer with thousands separators.
func n(v int) string {
	s := fmt.Sprint(v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
