package apply_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mizanhq/mizan/internal/apply"
	"github.com/mizanhq/mizan/internal/events"
)

// applyPublished applies facts as the reconciler does, each with the time the poller published it.
func (b *bundle) applyPublished(t *testing.T, published time.Time, facts ...any) {
	t.Helper()
	var fs []apply.Fact
	for _, f := range facts {
		ev, err := f.(interface{ Event() (events.Event, error) }).Event()
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, apply.Fact{EventID: ev.ID, Value: f, Published: published})
	}
	err := pgx.BeginFunc(context.Background(), b.pool, func(tx pgx.Tx) error {
		_, err := b.a.Apply(context.Background(), tx, fs)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A balance Vandar gave before it restated an item agrees with the ledger (both still hold the first version),
// and is checked only once the statement has caught up — after the restatement raised changed_item. It must
// not resolve that alert: it says nothing about the restatement. It used to, and the next balance, which does
// include the restatement, then raised a balance alert for the same money: one discrepancy, two alerts (found
// by make chaos with two pollers on one source).
func TestABalanceFromBeforeARestatementLeavesItsAlertOpen(t *testing.T) {
	t.Parallel()
	b := setup(t)
	mark := func(through time.Time) events.Watermark {
		return events.Watermark{Provider: events.ProviderVandar, Account: "acme", Feed: events.FeedStatement,
			Source: "vandar-acme", Through: through, PolledAt: through}
	}
	bal := func(amount string, at time.Time) events.Balance {
		return events.Balance{Provider: events.ProviderVandar, Account: "acme", Currency: events.CurrencyToman,
			Amount: d(amount), ObservedAt: at, Raw: json.RawMessage(`{}`)}
	}
	first := payment("1", "10000", "10000", t0)
	b.applyPublished(t, t0.Add(time.Minute), first)
	b.applyPublished(t, t0.Add(10*time.Minute), mark(t0.Add(10*time.Minute)))
	// Observed before the restatement; the statement has not reached it yet, so it waits.
	b.applyPublished(t, t0.Add(20*time.Minute), bal("10000", t0.Add(20*time.Minute)))

	restated := payment("1", "15000", "15000", t0)
	restated.StatusCode = 4 // Vandar's "corrected": another version, another event id
	b.applyPublished(t, t0.Add(30*time.Minute), restated)
	if got := b.alerts(t, "changed_item"); len(got) != 1 {
		t.Fatalf("changed_item alerts after the restatement: %+v", got)
	}

	// The statement catches up: the early balance is compared now, and agrees with the ledger.
	b.applyPublished(t, t0.Add(40*time.Minute), mark(t0.Add(40*time.Minute)))
	if got := b.alerts(t, "changed_item"); len(got) != 1 {
		t.Fatalf("a balance observed before the restatement resolved its alert: open changed_item %+v", got)
	}

	// A balance after it includes the 5,000 toman; the open changed_item explains them, so nothing new.
	b.applyPublished(t, t0.Add(50*time.Minute), bal("15000", t0.Add(50*time.Minute)))
	b.applyPublished(t, t0.Add(60*time.Minute), mark(t0.Add(60*time.Minute)))
	if got := b.alerts(t, "balance"); len(got) != 0 {
		t.Fatalf("one restatement, a second alert: %+v", got)
	}
	if got := b.alerts(t, "changed_item"); len(got) != 1 {
		t.Fatalf("changed_item alerts at the end: %+v", got)
	}
}
