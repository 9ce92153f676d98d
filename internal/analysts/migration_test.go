package analysts_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/ledger"
	"github.com/mizanhq/mizan/internal/pgtest"
	"github.com/mizanhq/mizan/internal/posting"
	"github.com/mizanhq/mizan/migrations"
)

// entrySourcesVersion is the data migration under test: migrations/00020_entry_sources.sql.
const entrySourcesVersion = 20

// source is a ledger.entry_sources row, keyed by its entry's idempotency key.
type source struct {
	Event, Provider, Account, Item, Kind, Channel, Direction, Returns, Settlement, Transaction *string
	Status                                                                                     *int
}

func ptr[T any](v T) *T { return &v }

// The data migration, with data before and after (formance's up_tests_before/after): entries posted on
// the schema before it get their sources from the backfill, entries posted after it from the trigger, and
// both agree with what the posting rules put into each entry.
func TestEntrySourcesMigration(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := pgtest.NewEmptyDB(t)
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { db.Close() })
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, entrySourcesVersion-1); err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)

	// Before: what the reconciler posts, and metadata it never writes but a past version or a hand-made
	// correction might have.
	at := time.Date(2026, 1, 20, 9, 0, 0, 0, time.UTC)
	sale := events.StatementItem{Provider: "vandar", Account: "acme", ItemID: "9001", StatusCode: 1,
		Kind: events.KindPayment, State: events.StateSucceeded, Direction: events.DirectionIn, Channel: "ipg",
		Amount: decimal.NewFromInt(500_000), Fee: decimal.NewFromInt(5000), Currency: "IRT", MovedWallet: true,
		WalletAfter: ptr(decimal.NewFromInt(1_495_000)), EffectiveAt: at}
	payout := sale
	payout.ItemID, payout.StatusCode, payout.Kind, payout.Direction, payout.Channel = "9002", -3, events.KindSettlement, events.DirectionOut, "settlement"
	payout.Amount, payout.Fee, payout.EffectiveAt = decimal.NewFromInt(400_000), decimal.NewFromInt(2000), at.Add(time.Hour)
	back := payout
	back.ItemID, back.StatusCode, back.Kind, back.Direction, back.ReturnsItemID = "9003", -6, events.KindReturned, events.DirectionIn, "9002"
	back.Fee, back.EffectiveAt = decimal.Zero, at.Add(2*time.Hour)
	var before []ledger.Entry
	if o, ok := posting.Opening(sale); ok {
		before = append(before, o)
	}
	for i, it := range []events.StatementItem{sale, payout, back} {
		e, ok, err := posting.Statement(it, "ev-"+it.ItemID)
		if err != nil || !ok {
			t.Fatalf("item %d: %v %v", i, ok, err)
		}
		before = append(before, e)
	}
	wallet := posting.Wallet("vandar", "acme", "IRT")
	odd := ledger.Entry{IdempotencyKey: "vandar:acme:manual:odd-metadata", EffectiveAt: at.Add(3 * time.Hour),
		Metadata: map[string]any{"event_id": 42, "status_code": "2x", "kind": map[string]any{"nested": true}, "channel": nil},
		Postings: []ledger.Posting{
			{Account: wallet, Amount: decimal.NewFromInt(-1)},
			{Account: posting.Suspense("vandar", "acme", "IRT"), Amount: decimal.NewFromInt(1)},
		}}
	manual := ledger.Entry{IdempotencyKey: "manual-fix-7", EffectiveAt: at.Add(3 * time.Hour),
		Postings: []ledger.Posting{
			{Account: wallet, Amount: decimal.NewFromInt(-7)},
			{Account: posting.Wallet("vandar", "zeytoon", "IRT"), Amount: decimal.NewFromInt(7)},
		}}
	before = append(before, odd, manual)
	post(t, pool, before...)

	if _, err := p.UpTo(ctx, entrySourcesVersion); err != nil {
		t.Fatal(err)
	}

	// After: the settlement feed's and YabandPay's entries, posted through the trigger.
	done, ok := posting.SettlementDone(events.Settlement{Provider: "vandar", Account: "acme", SettlementID: "stl-9",
		TransactionID: "9002", Status: events.SettlementDone, Amount: decimal.NewFromInt(100), Currency: "IRT",
		IBAN: "IR000000000000000000000001", SettledAt: at.Add(4 * time.Hour)}, "ev-stl-9")
	if !ok {
		t.Fatal("SettlementDone posted nothing")
	}
	snap, _, ok := posting.Snapshot(events.Balance{Provider: "yabandpay", Account: "m-1", Currency: "EUR",
		Amount: decimal.RequireFromString("10.50"), ObservedAt: at,
		Figures: map[string]decimal.Decimal{"available": decimal.RequireFromString("10.50")}}, nil, true, "ev-yb-1")
	if !ok {
		t.Fatal("YabandPaySnapshot posted nothing")
	}
	post(t, pool, done, snap)

	s := func(v string) *string { return &v }
	want := map[string]source{
		"vandar:acme:opening:IRT": {Provider: s("vandar"), Account: s("acme")},
		"vandar:acme:statement:9001": {Event: s("ev-9001"), Provider: s("vandar"), Account: s("acme"), Item: s("9001"),
			Kind: s("payment"), Channel: s("ipg"), Direction: s("in"), Status: ptr(1)},
		"vandar:acme:statement:9002": {Event: s("ev-9002"), Provider: s("vandar"), Account: s("acme"), Item: s("9002"),
			Kind: s("settlement"), Channel: s("settlement"), Direction: s("out"), Status: ptr(-3)},
		"vandar:acme:statement:9003": {Event: s("ev-9003"), Provider: s("vandar"), Account: s("acme"), Item: s("9003"),
			Kind: s("returned"), Channel: s("settlement"), Direction: s("in"), Status: ptr(-6), Returns: s("9002")},
		// Odd metadata gives what can be read and NULL for the rest, never a refused posting.
		"vandar:acme:manual:odd-metadata": {Event: s("42"), Provider: s("vandar"), Account: s("acme"), Kind: s(`{"nested": true}`)},
		// A key not of the form provider:account:… names no provider.
		"manual-fix-7": {},
		done.IdempotencyKey: {Event: s("ev-stl-9"), Provider: s("vandar"), Account: s("acme"), Kind: s("payout_done"),
			Settlement: s("stl-9"), Transaction: s("9002")},
		snap.IdempotencyKey: {Event: s("ev-yb-1"), Provider: s("yabandpay"), Account: s("m-1"), Kind: s("yabandpay_snapshot")},
	}
	if diff := cmp.Diff(want, sources(t, pool)); diff != "" {
		t.Errorf("entry sources (-want +got):\n%s", diff)
	}

	t.Run("sources never change", func(t *testing.T) {
		for _, sql := range []string{
			`UPDATE ledger.entry_sources SET channel = 'pos'`,
			`DELETE FROM ledger.entry_sources`,
			`TRUNCATE ledger.entry_sources`,
			`INSERT INTO ledger.entry_sources (entry_id, source_event_id) VALUES (999, 'forged')`,
		} {
			_, err := pool.Exec(ctx, sql)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.ConstraintName != "entry_sources_immutable" {
				t.Errorf("as the owner: %s: %v, want entry_sources_immutable", sql, err)
			}
		}
	})

	t.Run("down and up again backfills what was posted in between", func(t *testing.T) {
		if _, err := p.DownTo(ctx, entrySourcesVersion-1); err != nil {
			t.Fatal(err)
		}
		late := sale
		late.ItemID, late.EffectiveAt = "9004", at.Add(5*time.Hour)
		e, _, err := posting.Statement(late, "ev-9004")
		if err != nil {
			t.Fatal(err)
		}
		post(t, pool, e)
		if _, err := p.UpTo(ctx, entrySourcesVersion); err != nil {
			t.Fatal(err)
		}
		want[e.IdempotencyKey] = source{Event: s("ev-9004"), Provider: s("vandar"), Account: s("acme"), Item: s("9004"),
			Kind: s("payment"), Channel: s("ipg"), Direction: s("in"), Status: ptr(1)}
		if diff := cmp.Diff(want, sources(t, pool)); diff != "" {
			t.Errorf("entry sources after down and up (-want +got):\n%s", diff)
		}
	})
}

// post posts entries with today's ledger.Apply. Apply locks the balance rows through ledger.lock_balances
// (migration 00027), which the schema under test predates: for the time of the call, a stand-in that does
// what it does (as the superuser these tests connect as) takes its place.
func post(t *testing.T, pool *pgxpool.Pool, entries ...ledger.Entry) {
	t.Helper()
	if err := pgx.BeginFunc(t.Context(), pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(t.Context(), `
			CREATE FUNCTION ledger.lock_balances(codes text[])
			RETURNS TABLE (id bigint, code text, type text, currency text, balance numeric, last_seq bigint, last_booked_at timestamptz)
			LANGUAGE sql AS $$
				SELECT a.id, a.code, a.type, a.currency, b.balance, b.last_seq, b.last_booked_at
				FROM ledger.accounts a JOIN ledger.account_balances b ON b.account_id = a.id
				WHERE a.code = ANY (codes) ORDER BY a.id FOR UPDATE OF b
			$$`); err != nil {
			return err
		}
		if _, err := ledger.Apply(t.Context(), tx, entries); err != nil {
			return err
		}
		_, err := tx.Exec(t.Context(), `DROP FUNCTION ledger.lock_balances(text[])`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func sources(t *testing.T, pool *pgxpool.Pool) map[string]source {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		SELECT e.idempotency_key, s.source_event_id, s.provider, s.provider_account, s.item_id, s.kind, s.channel,
		       s.direction, s.status_code, s.returns_item_id, s.settlement_id, s.transaction_id
		FROM ledger.entries e LEFT JOIN ledger.entry_sources s ON s.entry_id = e.id`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]source{}
	for rows.Next() {
		var key string
		var x source
		if err := rows.Scan(&key, &x.Event, &x.Provider, &x.Account, &x.Item, &x.Kind, &x.Channel, &x.Direction,
			&x.Status, &x.Returns, &x.Settlement, &x.Transaction); err != nil {
			t.Fatal(err)
		}
		got[key] = x
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}
