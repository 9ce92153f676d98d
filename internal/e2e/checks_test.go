package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mizanhq/mizan/internal/alerts/slacktest"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

// A month that ends an hour before "now": recent enough that the statement's re-read window covers its last
// two days (changed items are seen), long enough to hold every kind of item.
var (
	checksStart = time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	checksNow   = checksStart.AddDate(0, 0, 30).Add(time.Hour)
)

func checksSetup(t *testing.T) *bundle {
	return setup(t, checksNow, vandartest.Options{Businesses: []vandartest.BusinessOptions{{
		Slug: "acme", Seed: 21, Start: checksStart, Days: 30, PerDay: 30, OpeningWallet: 3_000_000,
	}}})
}

// pickItem finds an item that moved the wallet with a fee, created after from.
func pickItem(t *testing.T, b *bundle, from time.Time, kinds ...vandartest.Kind) vandartest.Item {
	t.Helper()
	for _, it := range b.sim.Items("acme") {
		if it.EffectiveAt.IsZero() || it.Wage == 0 || it.CreatedAt.Before(from) {
			continue
		}
		for _, k := range kinds {
			if it.Kind == k {
				return it
			}
		}
	}
	t.Fatal("no suitable item in the simulated month")
	return vandartest.Item{}
}

func (b *bundle) run(ctx context.Context) {
	b.t.Helper()
	if err := b.pollOnce(ctx); err != nil {
		b.t.Fatal(err)
	}
	b.reconcile(ctx, "reconciler")
}

func TestACleanMonthRaisesNoAlert(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := checksSetup(t)
	b.run(ctx)
	b.run(ctx) // and polling again changes nothing
	if got := b.alerts(ctx); len(got) != 0 {
		t.Fatalf("alerts on a clean month: %+v", got)
	}
	if n := len(b.slack.Messages()); n != 0 {
		t.Fatalf("%d Slack messages on a clean month", n)
	}
	if n := b.count(ctx, `SELECT count(*) FROM recon.check_results WHERE check_name = 'balance' AND outcome = 'OK'`); n == 0 {
		t.Fatal("the balance was never checked")
	}
	// Items that continue the chain are one evaluation per wallet and batch, counting its items.
	if n := b.count(ctx, `SELECT coalesce(sum((details->>'items')::int), 0) FROM recon.check_results
		WHERE check_name = 'running_balance' AND outcome = 'OK'`); n < 100 {
		t.Fatalf("only %d items passed the running-balance check", n)
	}
	if n := b.count(ctx, `SELECT count(*) FROM recon.check_results WHERE outcome <> 'OK'`); n != 0 {
		t.Fatalf("%d checks not OK on a clean month", n)
	}
}

func TestEachInjectedDiscrepancyRaisesExactlyOneAlertNamingItAndTheAmount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		kind  string
		plant func(t *testing.T, b *bundle) (mentions []string)
		// after, when set, plants the discrepancy only after a first clean poll (a change to a past item).
		after bool
	}{
		{"a missing statement item", "running_balance", func(t *testing.T, b *bundle) []string {
			it := pickItem(t, b, checksStart.AddDate(0, 0, 10), vandartest.KindIPG, vandartest.KindForm)
			must(t, b.sim.HideItem("acme", it.ID))
			return []string{strconv.FormatInt(it.Amount-it.Wage, 10)}
		}, false},
		{"a duplicated item", "consistency", func(t *testing.T, b *bundle) []string {
			it := pickItem(t, b, checksStart.AddDate(0, 0, 10), vandartest.KindIPG, vandartest.KindForm)
			must(t, b.sim.DuplicateItem("acme", it.ID))
			return []string{strconv.FormatInt(it.ID, 10)}
		}, false},
		{"a mis-signed fee", "running_balance", func(t *testing.T, b *bundle) []string {
			it := pickItem(t, b, checksStart.AddDate(0, 0, 10), vandartest.KindIPG, vandartest.KindForm)
			must(t, b.sim.MisSignFee("acme", it.ID))
			return []string{strconv.FormatInt(it.ID, 10), strconv.FormatInt(2*it.Wage, 10)}
		}, false},
		{"a balance drift", "balance", func(t *testing.T, b *bundle) []string {
			must(t, b.sim.DriftBalance("acme", 7_000))
			return []string{"7000"}
		}, false},
		{"a changed past item", "changed_item", func(t *testing.T, b *bundle) []string {
			it := pickItem(t, b, checksNow.Add(-40*time.Hour), vandartest.KindIPG, vandartest.KindForm)
			must(t, b.sim.ChangeAmount("acme", it.ID, it.Amount+5_000))
			return []string{strconv.FormatInt(it.ID, 10), strconv.FormatInt(it.Amount+5_000, 10)}
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := checksSetup(t)
			var mentions []string
			if tt.after {
				b.run(ctx)
				if got := b.alerts(ctx); len(got) != 0 {
					t.Fatalf("alerts before the change: %+v", got)
				}
				b.setNow(checksNow.Add(time.Minute))
			}
			mentions = tt.plant(t, b)
			b.run(ctx)
			b.run(ctx) // the same mismatch seen again is the same alert
			got := b.alerts(ctx)
			if len(got) != 1 {
				t.Fatalf("%d alerts, want exactly 1: %+v", len(got), got)
			}
			if got[0].Kind != tt.kind {
				t.Fatalf("alert kind %q, want %q: %s", got[0].Kind, tt.kind, got[0].Summary)
			}
			for _, m := range mentions {
				if !strings.Contains(got[0].Summary, m) {
					t.Errorf("the alert does not mention %s: %s", m, got[0].Summary)
				}
			}
			msgs := b.slack.Messages()
			if len(msgs) != 1 || !strings.Contains(msgs[0].Text, got[0].Summary[:40]) {
				t.Fatalf("Slack got %d messages, want the one alert: %+v", len(msgs), msgs)
			}
		})
	}
}

func TestABalanceObservedBeforeTheStatementCaughtUpWaitsForTheWatermark(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := checksSetup(t)
	// The balance is read first; the statement has not been polled at all.
	if err := b.poller.PollFeed(ctx, b.src, events.FeedBalance); err != nil {
		t.Fatal(err)
	}
	b.reconcile(ctx, "reconciler")
	if n := b.count(ctx, `SELECT count(*) FROM recon.check_results WHERE check_name = 'balance'`); n != 0 {
		t.Fatalf("the balance was checked against a ledger the statement had not filled: %d results", n)
	}
	if got := b.alerts(ctx); len(got) != 0 {
		t.Fatalf("alerts: %+v", got)
	}
	// Once the statement's watermark passes the observation, the check runs, and it is right.
	b.setNow(checksNow.Add(time.Minute))
	if err := b.poller.PollFeed(ctx, b.src, events.FeedStatement); err != nil {
		t.Fatal(err)
	}
	b.reconcile(ctx, "reconciler")
	if n := b.count(ctx, `SELECT count(*) FROM recon.check_results WHERE check_name = 'balance' AND outcome = 'OK'`); n != 1 {
		t.Fatalf("%d OK balance checks, want 1", n)
	}
	if got := b.alerts(ctx); len(got) != 0 {
		t.Fatalf("alerts: %+v", got)
	}
}

func TestAStaleSourceIsUnknownAndOneAlert(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := checksSetup(t)
	b.run(ctx)
	b.setNow(checksNow.Add(2 * time.Hour)) // no poll for two hours; the default allows 30 minutes
	b.reconcile(ctx, "reconciler")
	got := b.alerts(ctx)
	if len(got) != 1 || got[0].Kind != "staleness" || got[0].Subject != "vandar/acme" {
		t.Fatalf("alerts: %+v", got)
	}
	if n := b.count(ctx, `SELECT count(*) FROM recon.check_results WHERE check_name = 'staleness' AND outcome = 'UNKNOWN'`); n == 0 {
		t.Fatal("staleness not recorded as UNKNOWN")
	}
	// A poll brings it back: the alert resolves, and Slack hears both.
	b.run(ctx)
	if got := b.alerts(ctx); len(got) != 1 || !got[0].Resolved {
		t.Fatalf("after a poll: %+v", got)
	}
	msgs := b.slack.Messages()
	if len(msgs) != 2 || !strings.HasPrefix(msgs[1].Text, "[RESOLVED]") {
		t.Fatalf("Slack messages: %+v", msgs)
	}
}

func TestAlertsReachSlackOnceThroughCrashesAndSlackFaultsInOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := checksSetup(t)
	must(t, b.sim.DriftBalance("acme", 1_000))
	// A reconciler that crashed after writing the alerts and before sending them: the alert is in the table,
	// undelivered. (Here: the webhook is unreachable while it runs.)
	b.slack.Close()
	b.run(ctx)
	if got := b.alerts(ctx); len(got) != 1 {
		t.Fatalf("alerts: %+v", got)
	}
	// After the restart Slack answers 429 then 500 before it recovers; a second alert waits behind the first.
	b.slack = slacktest.New(nil)
	t.Cleanup(b.slack.Close)
	b.slack.Fail(slacktest.Fault{Status: 429, RetryAfter: 1}, slacktest.Fault{Status: 500})
	must(t, b.sim.DriftBalance("acme", 1_000)) // the drift grows: the same alert, seen again — not a new one
	b.setNow(checksNow.Add(time.Hour))
	b.run(ctx) // a staleness-free second run delivers what is pending
	msgs := b.slack.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages delivered, want the one alert once: %+v", len(msgs), msgs)
	}
	if b.slack.Requests() != 3 {
		t.Fatalf("%d requests, want 429, 500, then the delivery", b.slack.Requests())
	}
	b.run(ctx)
	if n := len(b.slack.Messages()); n != 1 {
		t.Fatalf("delivered again: %d messages", n)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
