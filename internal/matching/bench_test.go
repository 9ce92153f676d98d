package matching_test

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/matching"
	"github.com/mizanhq/mizan/internal/pgtest"
)

// BenchmarkMatching records and matches batches of 500 arriving payments beside 200,000 open expectations, each
// payment meeting one: the cost of matching per arriving fact (make bench has the full-size row, on vs off).
func BenchmarkMatching(b *testing.B) {
	const open, batch = 200_000, 500
	pool, _ := pgtest.NewDB(b)
	ctx := b.Context()
	if _, err := pool.Exec(ctx, `
		INSERT INTO recon.expectations (provider, account, expectation_id, kind, reference, factor_number, amount,
			currency, expected_by, status, origin, first_seen_at, updated_at)
		SELECT 'vandar', 'acme', 'order-' || g, 'payment', '{}', g::text, 1000, 'IRT', '2027-01-01', 'open', 'csv', now(), now()
		FROM generate_series(1, $1::int) g;`, open); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE recon.expectations`); err != nil {
		b.Fatal(err)
	}
	m := matching.New(matching.Config{})
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	next := 0
	b.ResetTimer()
	for b.Loop() {
		items := make([]matching.Item, batch)
		for i := range items {
			next++
			raw, _ := json.Marshal(map[string]any{"factorNumber": strconv.Itoa(next%open + 1)})
			items[i] = matching.Item{EventID: "e" + strconv.Itoa(next), StatementItem: events.StatementItem{
				Provider: "vandar", Account: "acme", ItemID: strconv.Itoa(next), Kind: events.KindPayment,
				State: events.StateSucceeded, Direction: events.DirectionIn, MovedWallet: true,
				Amount: decimal.NewFromInt(1000), Currency: "IRT", EffectiveAt: at, Raw: raw}}
		}
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			_, err := m.Record(ctx, tx, nil, items, nil, at)
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "items/s")
}

// BenchmarkMatchingWithoutExpectations records batches of 500 arriving payments of an account that has no
// expectations: what a business that publishes none pays for matching (recording its lines).
func BenchmarkMatchingWithoutExpectations(b *testing.B) {
	const batch = 500
	pool, _ := pgtest.NewDB(b)
	ctx := b.Context()
	m := matching.New(matching.Config{})
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	next := 0
	b.ResetTimer()
	for b.Loop() {
		items := make([]matching.Item, batch)
		for i := range items {
			next++
			raw, _ := json.Marshal(map[string]any{"factorNumber": strconv.Itoa(next)})
			items[i] = matching.Item{EventID: "e" + strconv.Itoa(next), StatementItem: events.StatementItem{
				Provider: "vandar", Account: "acme", ItemID: strconv.Itoa(next), Kind: events.KindPayment,
				State: events.StateSucceeded, Direction: events.DirectionIn, MovedWallet: true,
				Amount: decimal.NewFromInt(1000), Currency: "IRT", EffectiveAt: at, Raw: raw}}
		}
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			_, err := m.Record(ctx, tx, nil, items, nil, at)
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "items/s")
}
