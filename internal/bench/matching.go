package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/apply"
	"github.com/mizanhq/mizan/internal/checks"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/matching"
)

// MatchingResult is the matching row: the same statement items applied (posted, checked and, with matching
// on, matched) beside a table of open expectations, with matching on and off.
type MatchingResult struct {
	Expectations, Items, Batch int
	On, Off                    time.Duration
	Matched                    int // expectations matched by the run with matching on
	CPUOn, CPUOff              CPUSplit
	// None is the run with matching on and no expectation at all: a business that publishes none.
	None    time.Duration
	CPUNone CPUSplit
}

// RateNone is items/s with matching on and no expectations.
func (m MatchingResult) RateNone() float64 { return float64(m.Items) / m.None.Seconds() }

// RateOn is items/s with matching on.
func (m MatchingResult) RateOn() float64 { return float64(m.Items) / m.On.Seconds() }

// RateOff is items/s with matching off.
func (m MatchingResult) RateOff() float64 { return float64(m.Items) / m.Off.Seconds() }

// MatchingOptions configure the matching phase.
type MatchingOptions struct {
	NewDB        func(purpose string) (*Database, error)
	Drop         func(*Database)
	Expectations int // open payment expectations in the table before the items arrive
	Items        int // statement items applied, in batches of Batch
	Batch        int
	// Tracer, if set, receives the run with matching on's statements.
	Tracer *Tracer
}

// Matching applies Items successful gateway payments of one wallet through apply.Applier (as the reconciler
// does, minus Kafka), in batches, into a database holding Expectations open payment expectations — once with
// matching off, once on — and times the applies alone. Every item's factor number names one expectation, so
// the run with matching on records, looks up and matches each: the cost of matching per arriving fact, with a
// table too big to scan per batch.
func Matching(ctx context.Context, o MatchingOptions) (MatchingResult, error) {
	r := MatchingResult{Expectations: o.Expectations, Items: o.Items, Batch: o.Batch}
	items := matchingItems(o.Items, o.Expectations)
	for _, run := range []struct {
		name   string
		on     bool
		seeded int
	}{{"off", false, o.Expectations}, {"none", true, 0}, {"on", true, o.Expectations}} {
		db, err := o.NewDB("match_" + run.name)
		if err != nil {
			return r, err
		}
		oo := o
		oo.Expectations = run.seeded
		took, cpu, matched, err := matchingRun(ctx, db, oo, items, run.on)
		o.Drop(db)
		if err != nil {
			return r, fmt.Errorf("matching %s: %w", run.name, err)
		}
		switch run.name {
		case "on":
			r.On, r.CPUOn, r.Matched = took, cpu, matched
		case "none":
			r.None, r.CPUNone = took, cpu
		default:
			r.Off, r.CPUOff = took, cpu
		}
	}
	return r, nil
}

// matchingItems are n successful payments of vandar/acme, a running balance through them; item i pays the
// order with factor number (i × step) + 1, spread over the expectations.
func matchingItems(n, expectations int) []events.StatementItem {
	step := max(expectations/n, 1)
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	wallet := decimal.Zero
	items := make([]events.StatementItem, n)
	for i := range items {
		order := (i*step)%expectations + 1
		amount, fee := decimal.NewFromInt(int64(1000+order%1000)), decimal.NewFromInt(10)
		wallet = wallet.Add(amount).Sub(fee)
		w := wallet
		raw, _ := json.Marshal(map[string]any{"id": 900_000_000 + i, "factorNumber": strconv.Itoa(order)})
		at := start.Add(time.Duration(i) * time.Second)
		items[i] = events.StatementItem{Provider: events.ProviderVandar, Account: "acme", ItemID: strconv.Itoa(900_000_000 + i),
			StatusCode: 1, Kind: events.KindPayment, State: events.StateSucceeded, Direction: events.DirectionIn,
			Channel: "ipg", Amount: amount, Fee: fee, Currency: events.CurrencyToman, MovedWallet: true, WalletAfter: &w,
			CreatedAt: at, EffectiveAt: at, Raw: raw}
	}
	return items
}

func matchingRun(ctx context.Context, db *Database, o MatchingOptions, items []events.StatementItem, on bool) (time.Duration, CPUSplit, int, error) {
	var tracer *Tracer
	if on {
		tracer = o.Tracer
	}
	pool, err := db.Pool(ctx, tracer)
	if err != nil {
		return 0, CPUSplit{}, 0, err
	}
	defer pool.Close()
	// The expectations, untimed: order-g pays 1000 + g%1000 by factor number g, due long after the items.
	if o.Expectations > 0 {
		if err := seedExpectations(ctx, db, o.Expectations); err != nil {
			return 0, CPUSplit{}, 0, err
		}
	}
	db.Checkpoint(ctx)
	clock := func() time.Time { return time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) }
	a := apply.New(checks.Config{}, clock).WithMatching(matching.Config{Disabled: !on})
	facts := make([]apply.Fact, len(items))
	for i, it := range items {
		ev, err := it.Event()
		if err != nil {
			return 0, CPUSplit{}, 0, err
		}
		facts[i] = apply.Fact{EventID: ev.ID, Value: it}
	}
	cpu := StartCPU(ctx, db.admin, db.Name, 0)
	start := time.Now()
	for i := 0; i < len(facts); i += o.Batch {
		batch := facts[i:min(i+o.Batch, len(facts))]
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			_, err := a.Apply(ctx, tx, batch)
			return err
		}); err != nil {
			return 0, CPUSplit{}, 0, err
		}
	}
	took := time.Since(start)
	split := cpu.Stop(ctx)
	var matched int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM recon.expectations WHERE match_status = 'matched'`).Scan(&matched); err != nil {
		return 0, CPUSplit{}, 0, err
	}
	return took, split, matched, nil
}

// seedExpectations puts n open payment expectations of vandar/acme in the table: order-g pays 1000 + g%1000
// by factor number g, due long after the items.
func seedExpectations(ctx context.Context, db *Database, n int) error {
	pool, err := db.Pool(ctx, nil)
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `
		INSERT INTO recon.expectations (provider, account, expectation_id, kind, reference, factor_number, amount,
			currency, expected_by, status, origin, first_seen_at, updated_at)
		SELECT 'vandar', 'acme', 'order-' || g, 'payment', jsonb_build_object('factor_number', g::text), g::text,
			1000 + g % 1000, 'IRT', '2027-01-01', 'open', 'csv', now(), now()
		FROM generate_series(1, $1::int) g`, n); err != nil {
		return fmt.Errorf("seed %d expectations: %w", n, err)
	}
	for _, sql := range []string{`INSERT INTO recon.expectation_kinds VALUES ('vandar', 'acme', 'payment', now())`,
		`VACUUM ANALYZE recon.expectations`} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			return err
		}
	}
	return nil
}
