package apply_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mizanhq/mizan/internal/apply"
	"github.com/mizanhq/mizan/internal/checks"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/pgtest"
)

// A quarantined item is recorded as it was read, raises one alert naming the item, its endpoint and the
// reason, posts nothing, and stays one alert however often the source quarantines it again.
func TestAQuarantinedItemIsRecordedAndAlertedOnce(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewDB(t)
	ctx := t.Context()
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	item := events.Quarantined{Provider: "vandar", Account: "acme", Feed: events.FeedStatement,
		Endpoint: "GET /v3/business/acme/transaction", ItemID: "170000000042",
		Reason:     "statement item 170000000042: field status: 77 is not a code Vandar documents",
		ObservedAt: at, Raw: json.RawMessage(`{"id":170000000042,"status":77,"amount":5000}`)}
	skipped := events.Quarantined{Provider: "vandar", Account: "acme", Feed: events.FeedSettlements,
		Endpoint: "GET /v3/business/acme/settlement/queued", Reason: "endpoint skipped: vandar GET …: HTTP 403",
		ObservedAt: at, Raw: json.RawMessage(`null`)}
	a := apply.New(checks.Config{}, func() time.Time { return at })

	applyFacts := func(facts ...apply.Fact) apply.Result {
		t.Helper()
		var res apply.Result
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			var err error
			res, err = a.Apply(ctx, tx, facts)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := applyFacts(apply.Fact{EventID: "ev-q1", Value: item}, apply.Fact{EventID: "ev-q2", Value: skipped})
	if res.Entries != 0 {
		t.Errorf("%d entries posted for quarantined items, want none", res.Entries)
	}
	if res.Opened != 2 {
		t.Errorf("%d alerts opened, want 2", res.Opened)
	}

	var itemID *string
	var raw, reason string
	if err := pool.QueryRow(ctx, `SELECT item_id, raw::text, reason FROM recon.quarantined WHERE event_id = 'ev-q1'`).
		Scan(&itemID, &raw, &reason); err != nil {
		t.Fatal(err)
	}
	if itemID == nil || *itemID != "170000000042" || !strings.Contains(raw, `"status": 77`) || reason != item.Reason {
		t.Errorf("recorded item_id %v raw %s reason %q", itemID, raw, reason)
	}
	if err := pool.QueryRow(ctx, `SELECT item_id FROM recon.quarantined WHERE event_id = 'ev-q2'`).Scan(&itemID); err != nil || itemID != nil {
		t.Errorf("a skipped endpoint has item_id %v (%v), want NULL", itemID, err)
	}

	var kind, severity, summary string
	if err := pool.QueryRow(ctx, `SELECT kind, severity, summary FROM recon.alerts WHERE subject = 'vandar/acme/statement/item/170000000042'`).
		Scan(&kind, &severity, &summary); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"170000000042", "GET /v3/business/acme/transaction", "77 is not a code"} {
		if !strings.Contains(summary, want) {
			t.Errorf("alert summary %q does not name %q", summary, want)
		}
	}
	if kind != apply.CheckQuarantined || severity != checks.SeverityWarning {
		t.Errorf("alert kind %s severity %s", kind, severity)
	}

	// The next poll quarantines the same item again, read at another time: no second alert.
	again := item
	again.ObservedAt = at.Add(time.Minute)
	if res := applyFacts(apply.Fact{EventID: "ev-q3", Value: again}); res.Opened != 0 {
		t.Errorf("%d alerts opened for an item quarantined again, want 0", res.Opened)
	}
	var open int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM recon.alerts WHERE kind = 'quarantined' AND resolved_at IS NULL`).
		Scan(&open); err != nil || open != 2 {
		t.Errorf("%d open quarantine alerts (%v), want 2", open, err)
	}
}

// A quarantined fact that says nothing of where it came from is the fact's own fault: set aside, not retried.
func TestAQuarantinedFactWithoutOriginIsAFactError(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewDB(t)
	ctx := t.Context()
	a := apply.New(checks.Config{}, nil)
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := a.Apply(ctx, tx, []apply.Fact{{EventID: "ev-bad", Value: events.Quarantined{Reason: "x"}}})
		return err
	})
	var fe *apply.FactError
	if !errors.As(err, &fe) || fe.EventID != "ev-bad" {
		t.Fatalf("err = %v, want a FactError for ev-bad", err)
	}
}
