package migrations_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mizanhq/mizan/internal/pgtest"
)

// Migration 00031 checks the postings' references once per statement instead of by foreign keys: a posting
// whose entry or account does not exist, or whose currency is not its account's, is still refused, under the
// foreign keys' names.
func TestPostingReferencesAreCheckedPerStatement(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewDB(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO ledger.accounts (code, type, currency) VALUES
		('assets:ref:cash', 'asset', 'IRT'), ('income:ref:sales', 'income', 'IRT')`); err != nil {
		t.Fatal(err)
	}
	// Two postings that continue both chains and balance, so that only the reference is wrong.
	post := func(entry, currency string) error {
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx) //nolint:errcheck // every attempt is undone
		_, err = tx.Exec(ctx, `
			WITH e AS (
				INSERT INTO ledger.entries (idempotency_key, effective_at, description)
				SELECT 'ref-1', now(), 'reference test' WHERE $1 = 'new'
				RETURNING id)
			INSERT INTO ledger.postings (entry_id, account_id, currency, amount, balance_after, account_seq, booked_at)
			SELECT coalesce((SELECT id FROM e), 999999999), a.id, $2, v.amount, v.amount, 1, now()
			FROM (VALUES ('assets:ref:cash', 100), ('income:ref:sales', -100)) AS v(code, amount)
			JOIN ledger.accounts a ON a.code = v.code`, entry, currency)
		return err
	}
	if err := post("new", "IRT"); err != nil {
		t.Fatalf("a correct entry: %v", err)
	}
	for _, tt := range []struct {
		name, entry, currency, constraint string
	}{
		{"a posting of an entry that does not exist", "none", "IRT", "postings_entry_id_fkey"},
		{"a posting in another currency than its account's", "new", "USD", "postings_account_currency_fkey"},
	} {
		err := post(tt.entry, tt.currency)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "23503" || pgErr.ConstraintName != tt.constraint {
			t.Errorf("%s: %v, want foreign_key_violation on %s", tt.name, err, tt.constraint)
		}
	}
}
