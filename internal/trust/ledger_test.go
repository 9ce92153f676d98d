package trust_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/ledger"
)

// The ledger refuses by itself what the gate refuses: whatever a writer checked, a posting out of bounds
// never lands. Posted as the runtime role, through ledger.Apply, one entry per transaction.
func TestTheLedgerRefusesAmountsAndTimesOutOfBounds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	at := time.Now().Add(-time.Hour)
	entry := func(key string, effective time.Time, currency, amount string) ledger.Entry {
		d := decimal.RequireFromString(amount)
		return ledger.Entry{IdempotencyKey: key, EffectiveAt: effective, Postings: []ledger.Posting{
			{Account: ledger.Account{Code: "assets:" + key, Type: ledger.AccountAsset, Currency: currency}, Amount: d},
			{Account: ledger.Account{Code: "income:" + key, Type: ledger.AccountIncome, Currency: currency}, Amount: d.Neg()},
		}}
	}
	apply := func(e ledger.Entry) error {
		return pgx.BeginFunc(b.ctx, b.app, func(tx pgx.Tx) error {
			_, err := ledger.Apply(b.ctx, tx, []ledger.Entry{e})
			return err
		})
	}
	for _, tc := range []struct {
		name, constraint string
		entry            ledger.Entry
	}{
		{"1e400 tomans", "postings_amount_bound", entry("a", at, "IRT", "1e400")},
		{"12.345 tomans", "postings_amount_scale", entry("b", at, "IRT", "12.345")},
		{"0.001 euros", "postings_amount_scale", entry("c", at, "EUR", "0.001")},
		{"a currency the ledger does not take", "postings_currency_known", entry("d", at, "XYZ", "1")},
		// The postings' trigger sees the booking time first (a posting is booked at its entry's effective
		// time, or later), the entries' trigger the effective time: either refuses it.
		{"effective on 9999-12-31", "postings_booked_at_bounds entries_effective_at_bounds", entry("e", time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), "IRT", "1")},
		{"effective in 2014", "postings_booked_at_bounds entries_effective_at_bounds", entry("f", time.Date(2014, 6, 1, 0, 0, 0, 0, time.UTC), "IRT", "1")},
		{"effective an hour ahead", "postings_booked_at_bounds entries_effective_at_bounds", entry("g", time.Now().Add(time.Hour), "IRT", "1")},
	} {
		err := apply(tc.entry)
		var pgErr *pgconn.PgError
		switch {
		case !errors.Is(err, ledger.ErrOutOfBounds):
			t.Errorf("%s: %v, want ledger.ErrOutOfBounds", tc.name, err)
		case !errors.As(err, &pgErr) || !slices.Contains(strings.Fields(tc.constraint), pgErr.ConstraintName):
			t.Errorf("%s: %v, want the constraint %s", tc.name, err, tc.constraint)
		case len(err.Error()) > 1000:
			t.Errorf("%s: the error is %d characters", tc.name, len(err.Error()))
		}
	}
	for name, e := range map[string]ledger.Entry{
		"12 tomans written 12.000": entry("ok-1", at, "IRT", "12.000"),
		"12.34 euros":              entry("ok-2", at, "EUR", "12.34"),
		"three minutes ahead":      entry("ok-3", time.Now().Add(3*time.Minute), "CHF", "1"),
	} {
		if err := apply(e); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A late fact is booked after its accounts' last posting; an effective time before the floor is refused
	// all the same, by the entries' trigger.
	late := entry("ok-1", time.Date(2014, 6, 1, 0, 0, 0, 0, time.UTC), "IRT", "1")
	late.IdempotencyKey = "late"
	err := apply(late)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.ConstraintName != "entries_effective_at_bounds" {
		t.Errorf("an entry effective in 2014 booked after a posting of now: %v, want entries_effective_at_bounds", err)
	}
	// Nothing out of bounds reached the ledger.
	var n int
	if err := b.owner.QueryRow(b.ctx, `SELECT count(*) FROM ledger.postings`).Scan(&n); err != nil || n != 6 {
		t.Fatalf("%d postings (%v), want the 6 of the three entries in bounds", n, err)
	}
}

// A booking time is bounded on its own: a writer that hands the postings trigger a booked_at far ahead of
// an effective time in bounds is refused as well.
func TestTheLedgerRefusesABookingTimeOutOfBounds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	err := pgx.BeginFunc(b.ctx, b.app, func(tx pgx.Tx) error {
		_, err := tx.Exec(b.ctx, `
			WITH a AS (INSERT INTO ledger.accounts (code, type, currency) VALUES ('assets:x', 'asset', 'IRT'), ('income:x', 'income', 'IRT')
			           RETURNING id, code),
			     e AS (INSERT INTO ledger.entries (idempotency_key, effective_at) VALUES ('x', now()) RETURNING id)
			INSERT INTO ledger.postings (entry_id, account_id, currency, amount, balance_after, account_seq, booked_at)
			SELECT e.id, a.id, 'IRT', CASE a.code WHEN 'assets:x' THEN 5 ELSE -5 END, CASE a.code WHEN 'assets:x' THEN 5 ELSE -5 END,
			       1, '9999-12-31'
			FROM e, a`)
		return err
	})
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.ConstraintName != "postings_booked_at_bounds" || !strings.Contains(err.Error(), "9999") {
		t.Fatalf("%v, want postings_booked_at_bounds", err)
	}
}
