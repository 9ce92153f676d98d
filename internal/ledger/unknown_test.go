package ledger_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mizanhq/mizan/internal/ledger"
)

// An account the ledger knows holds 0 before its first posting; a code that names no account is an error,
// in SQL and in Go — a typo must not read as an empty wallet.
func TestBalanceAtOfAnUnknownAccount(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.mustApply(t, transfer("k1", t0, cash, sales, "10"))

	t.Run("ledger.balance_at raises, naming the code and the nearest accounts", func(t *testing.T) {
		t.Parallel()
		var got string
		err := f.pool.QueryRow(f.ctx, `SELECT ledger.balance_at('assets:cahs', now())::text`).Scan(&got)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) {
			t.Fatalf("balance_at of an unknown account = %s, %v; want an error", got, err)
		}
		if pgErr.Code != "42704" || pgErr.ConstraintName != "accounts_unknown" ||
			!strings.Contains(pgErr.Message, "'assets:cahs'") || !strings.Contains(pgErr.Hint, "assets:cash") {
			t.Errorf("error %s %q (constraint %s), hint %q; want 42704 naming the code, accounts_unknown, a hint naming assets:cash",
				pgErr.Code, pgErr.Message, pgErr.ConstraintName, pgErr.Hint)
		}
	})

	t.Run("ledger.balance_at of a known account before its first posting is 0", func(t *testing.T) {
		t.Parallel()
		var before, after string
		if err := f.pool.QueryRow(f.ctx, `SELECT ledger.balance_at('assets:cash', $1)::text, ledger.balance_at('assets:cash', $2)::text`,
			t0.Add(-time.Hour), t0).Scan(&before, &after); err != nil {
			t.Fatal(err)
		}
		if before != "0" || after != "10" {
			t.Errorf("balance_at before the first posting %s, at it %s; want 0 and 10", before, after)
		}
	})

	t.Run("BalanceAt says ErrUnknownAccount and leaves the transaction usable", func(t *testing.T) {
		t.Parallel()
		err := f.inTx(t, func(tx pgx.Tx) error {
			_, err := ledger.BalanceAt(f.ctx, tx, "assets:walet", t0)
			if !errors.Is(err, ledger.ErrUnknownAccount) || !strings.Contains(err.Error(), "assets:walet") {
				t.Errorf("BalanceAt of an unknown account: %v; want ErrUnknownAccount naming it", err)
			}
			got, err := ledger.BalanceAt(f.ctx, tx, cash.Code, t0)
			if err != nil || got.String() != "10" {
				t.Errorf("then BalanceAt of a known account in the same transaction = %s, %v; want 10", got, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("BalanceAt of an account created but never posted to is 0", func(t *testing.T) {
		t.Parallel()
		if err := f.inTx(t, func(tx pgx.Tx) error {
			if _, err := tx.Exec(f.ctx, `INSERT INTO ledger.accounts (code, type, currency) VALUES ('assets:empty', 'asset', 'EUR')`); err != nil {
				return err
			}
			got, err := ledger.BalanceAt(f.ctx, tx, "assets:empty", t0)
			if err != nil || !got.IsZero() {
				t.Errorf("BalanceAt of an account without postings = %s, %v; want 0", got, err)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	})
}
