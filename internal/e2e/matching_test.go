package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/matching"
	"github.com/mizanhq/mizan/internal/matching/matchingtest"
	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

// The business publishes its orders, payout requests and refunds beside a month of Vandar history, with one
// order never paid, one paid with a different amount, one paid twice and one payment nobody expected: exactly
// those four are alerted — the unexpected payment once its grace has passed — and nothing else, and every
// other expectation is matched.
func TestThePlantedMatchingFaultsAndNothingElse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, afterHistory, vandartest.Options{Businesses: []vandartest.BusinessOptions{{
		Slug: "acme", Seed: 18, Start: historyStart, Days: 30, PerDay: 30, OpeningWallet: 1_000_000,
	}}})
	planted, err := matchingtest.Plant(b.sim, "acme")
	if err != nil {
		t.Fatal(err)
	}
	exps, err := matchingtest.Expectations(b.sim, "acme", planted)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := matchingtest.Events(exps, afterHistory)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.pub.Publish(ctx, events.TopicExpected, evs); err != nil {
		t.Fatal(err)
	}
	if err := b.pollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if stats := b.reconcile(ctx, "reconciler"); stats.DeadLetters != 0 {
		t.Fatalf("%d dead letters", stats.DeadLetters)
	}
	order := func(id string) string { return "vandar/acme/expectation/" + id }
	want := []string{
		"amount_mismatch " + order(planted.Mismatch),
		"paid_twice " + order(planted.PaidTwice),
		"unpaid " + order(planted.Unpaid),
	}
	if diff := cmp.Diff(want, openAlerts(b)); diff != "" {
		t.Fatalf("open alerts before the unexpected grace (-want +got)\n%s", diff)
	}

	// Past the grace (polled again, so nothing is stale), the payment nobody expected is alerted too.
	b.setNow(afterHistory.Add(matching.DefaultUnexpectedGrace + time.Minute))
	if err := b.pollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	b.reconcile(ctx, "reconciler")
	want = append(want, "unexpected vandar/acme/item/"+planted.Unexpected)
	slices.Sort(want)
	got := openAlerts(b)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("open alerts (-want +got)\n%s", diff)
	}
	// Nothing else, ever: no other alert was opened and resolved on the way.
	if n := b.count(ctx, `SELECT count(*) FROM recon.alerts`); n != len(want) {
		t.Errorf("%d alerts were ever opened, want %d: %v", n, len(want), b.alerts(ctx))
	}
	for _, a := range b.alerts(ctx) {
		for _, word := range map[string][]string{
			"unpaid":          {planted.Unpaid, "250000 IRT"},
			"amount_mismatch": {planted.Mismatch, "10000"},
			"paid_twice":      {planted.PaidTwice, "item " + planted.Duplicate},
			"unexpected":      {"item " + planted.Unexpected, "IRT"},
		}[a.Kind] {
			if !strings.Contains(a.Summary, word) {
				t.Errorf("%s alert %q does not name %q", a.Kind, a.Summary, word)
			}
		}
	}
	// Every other expectation is matched or cancelled, and every referenced line explained but the one.
	if n := b.count(ctx, `SELECT count(*) FROM recon.expectations WHERE match_status NOT IN ('matched', 'cancelled')
		AND expectation_id NOT IN ($1, $2, $3)`, planted.Unpaid, planted.Mismatch, planted.PaidTwice); n != 0 {
		t.Errorf("%d other expectations are not matched", n)
	}
	if n := b.count(ctx, `SELECT count(*) FROM recon.expectations WHERE match_status = 'matched'`); n < 100 {
		t.Errorf("only %d expectations matched", n)
	}
	if n := b.count(ctx, `SELECT count(*) FROM recon.provider_lines WHERE referenced AND NOT explained AND state = 'counted'`); n != 1 {
		var lines string
		_ = b.pool.QueryRow(ctx, `SELECT string_agg(item_id || ' ' || kind || ' ' || state, ', ') FROM recon.provider_lines
			WHERE referenced AND NOT explained`).Scan(&lines)
		t.Errorf("%d referenced lines with money unexplained, want 1: %s", n, lines)
	}
}

// An expectation that fails its schema is refused to the dead-letter topic like any bad event; the good ones
// beside it are applied.
func TestAnExpectationFailingItsSchemaIsDeadLettered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, afterHistory, vandartest.Options{Businesses: []vandartest.BusinessOptions{{Slug: "acme", Empty: true}}})
	good := events.Expectation{ExpectationID: "order-1", Kind: events.ExpectPayment, Provider: "vandar", Account: "acme",
		Reference: events.Reference{FactorNumber: "1"}, Currency: "IRT", ExpectedBy: afterHistory, Status: events.ExpectationOpen}
	good.Amount = decimal.NewFromInt(1000)
	ev, err := good.Event(afterHistory)
	if err != nil {
		t.Fatal(err)
	}
	bad := ev
	bad.ID = "bad-expectation"
	bad.Data = json.RawMessage(strings.Replace(string(ev.Data), `"IRT"`, `"toman"`, 1))
	if err := b.pub.Publish(ctx, events.TopicExpected, []events.Event{bad, ev}); err != nil {
		t.Fatal(err)
	}
	stats := b.reconcile(ctx, "reconciler")
	if stats.DeadLetters != 1 {
		t.Fatalf("%d dead letters, want 1", stats.DeadLetters)
	}
	if n := b.count(ctx, `SELECT count(*) FROM recon.expectations WHERE expectation_id = 'order-1'`); n != 1 {
		t.Errorf("the good expectation was not applied")
	}
	if n := b.count(ctx, `SELECT count(*) FROM recon.processed_events WHERE event_id = 'bad-expectation'`); n != 0 {
		t.Errorf("the bad expectation was applied")
	}
}

func openAlerts(b *bundle) []string {
	var out []string
	for _, a := range b.alerts(context.Background()) {
		if !a.Resolved {
			out = append(out, a.Kind+" "+a.Subject)
		}
	}
	slices.Sort(out)
	return out
}
