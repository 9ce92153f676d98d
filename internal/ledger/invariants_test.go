package ledger_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mizanhq/mizan/internal/ledger"
)

// The schema's invariants hold against hand-written SQL, not only against Apply. Each attack runs in a
// transaction that is rolled back, on top of a small posted history:
//
//	base-1 at t0:      cash +100, sales -100   → cash #1 = 100, sales #1 = -100
//	base-2 at t0+1h:   fees +5,   cash -5      → cash #2 = 95 (booked t0+1h), fees #1 = 5
//	base-3 at t0:      wallet +1000, income -1000 (IRT)
func invariantsSetup(t *testing.T) *fixture {
	f := setup(t)
	f.mustApply(t,
		transfer("base-1", t0, cash, sales, "100"),
		transfer("base-2", t0.Add(time.Hour), fees, cash, "5"),
		transfer("base-3", t0, wallet, income, "1000"),
	)
	return f
}

var t1h, t2h = t0.Add(time.Hour), t0.Add(2 * time.Hour)

// goodNext are correct next postings on cash and sales: the control that shows attacks fail for their
// own reason.
func goodNext() []rawPosting {
	return []rawPosting{
		{code: "assets:cash", amount: "10", balanceAfter: "105", seq: 3, bookedAt: t2h},
		{code: "income:sales", amount: "-10", balanceAfter: "-110", seq: 2, bookedAt: t2h},
	}
}

func TestRawSQLControl(t *testing.T) {
	t.Parallel()
	f := invariantsSetup(t)
	if err := rawEntry(f.ctx, f.pool, "raw-ok", "", t2h, goodNext()...); err != nil {
		t.Fatalf("a correct hand-written entry was refused: %v", err)
	}
	f.wantBalance(t, "assets:cash", "105")
	f.wantBalance(t, "income:sales", "-110")
	f.verifyLedger(t)
}

func TestInvariantBalancedEntries(t *testing.T) {
	t.Parallel()
	f := invariantsSetup(t)

	t.Run("unbalanced entry", func(t *testing.T) {
		ps := goodNext()
		ps[1].amount, ps[1].balanceAfter = "-9", "-109"
		err := f.inTx(t, func(tx pgx.Tx) error { return rawEntry(f.ctx, tx, "raw-bad", "", t2h, ps...) })
		wantPgError(t, err, "postings_balanced", ledger.ErrUnbalanced, "invariant 1", "raw-bad", "EUR", "sum to 1")
	})
	t.Run("unbalanced in one currency, balanced overall", func(t *testing.T) {
		ps := []rawPosting{
			{code: "assets:cash", amount: "10", balanceAfter: "105", seq: 3, bookedAt: t2h},
			{code: "assets:wallet", amount: "-10", balanceAfter: "990", seq: 2, bookedAt: t2h},
		}
		err := f.inTx(t, func(tx pgx.Tx) error { return rawEntry(f.ctx, tx, "raw-fx", "", t2h, ps...) })
		wantPgError(t, err, "postings_balanced", ledger.ErrUnbalanced, "raw-fx")
	})
	t.Run("single-posting entry", func(t *testing.T) {
		err := f.inTx(t, func(tx pgx.Tx) error { return rawEntry(f.ctx, tx, "raw-one", "", t2h, goodNext()[0]) })
		wantPgError(t, err, "postings_min_two", ledger.ErrUnbalanced, "invariant 1", "raw-one", "1 posting")
	})
	t.Run("entry without postings", func(t *testing.T) {
		err := f.inTx(t, func(tx pgx.Tx) error {
			_, err := tx.Exec(f.ctx, `INSERT INTO ledger.entries (idempotency_key, effective_at) VALUES ('lonely', now())`)
			return err
		})
		wantPgError(t, err, "entries_have_postings", ledger.ErrUnbalanced, "invariant 1", "lonely")
	})
	t.Run("entry first, postings in a later statement", func(t *testing.T) {
		err := f.inTx(t, func(tx pgx.Tx) error {
			if _, err := tx.Exec(f.ctx, `INSERT INTO ledger.entries (idempotency_key, effective_at) VALUES ('two-step', now())`); err != nil {
				return err
			}
			return errors.New("the entry was accepted without postings")
		})
		wantPgError(t, err, "entries_have_postings", ledger.ErrUnbalanced, "two-step")
	})
	t.Run("posting added later to a posted entry", func(t *testing.T) {
		// A balanced pair with a correct chain, so only the one-statement rule refuses it.
		err := f.inTx(t, func(tx pgx.Tx) error {
			_, err := tx.Exec(f.ctx, `
				INSERT INTO ledger.postings (entry_id, account_id, currency, amount, balance_after, account_seq, booked_at)
				SELECT e.id, a.id, a.currency, v.amount, v.balance_after, v.seq, $1
				FROM ledger.entries e,
				     (VALUES ('assets:cash', 1, 96, 3), ('income:sales', -1, -101, 2)) v(code, amount, balance_after, seq)
				JOIN ledger.accounts a ON a.code = v.code
				WHERE e.idempotency_key = 'base-1'`, t2h)
			return err
		})
		wantPgError(t, err, "postings_one_statement", ledger.ErrImmutable, "invariant 1", "base-1")
	})
	t.Run("posting added to an entry of the same transaction", func(t *testing.T) {
		err := f.inTx(t, func(tx pgx.Tx) error {
			if err := rawEntry(f.ctx, tx, "raw-new", "", t2h, goodNext()...); err != nil {
				t.Fatalf("control entry refused: %v", err)
			}
			_, err := tx.Exec(f.ctx, `
				INSERT INTO ledger.postings (entry_id, account_id, currency, amount, balance_after, account_seq, booked_at)
				SELECT e.id, a.id, a.currency, v.amount, v.balance_after, v.seq, $1
				FROM ledger.entries e,
				     (VALUES ('assets:cash', 1, 106, 4), ('income:sales', -1, -111, 3)) v(code, amount, balance_after, seq)
				JOIN ledger.accounts a ON a.code = v.code
				WHERE e.idempotency_key = 'raw-new'`, t2h)
			return err
		})
		wantPgError(t, err, "postings_one_statement", ledger.ErrImmutable, "raw-new")
	})
	t.Run("zero amount", func(t *testing.T) {
		ps := goodNext()
		ps[0].amount, ps[0].balanceAfter = "0", "95"
		ps = append(ps, rawPosting{code: "expenses:fees", amount: "10", balanceAfter: "15", seq: 2, bookedAt: t2h})
		err := f.inTx(t, func(tx pgx.Tx) error { return rawEntry(f.ctx, tx, "raw-zero", "", t2h, ps...) })
		wantPgError(t, err, "postings_amount_check", ledger.ErrInvalid)
	})
	t.Run("infinite amounts", func(t *testing.T) {
		ps := goodNext()
		ps[0].amount, ps[0].balanceAfter = "Infinity", "Infinity"
		ps[1].amount, ps[1].balanceAfter = "-Infinity", "-Infinity"
		err := f.inTx(t, func(tx pgx.Tx) error { return rawEntry(f.ctx, tx, "raw-inf", "", t2h, ps...) })
		wantPgError(t, err, "postings_amount_check", ledger.ErrInvalid)
	})
	f.verifyLedger(t)
}

func TestInvariantPostingCurrencyIsAccountCurrency(t *testing.T) {
	t.Parallel()
	f := invariantsSetup(t)
	ps := goodNext() // balanced in USD, chain right: only the currency is wrong
	ps[0].currency, ps[1].currency = "USD", "USD"
	err := f.inTx(t, func(tx pgx.Tx) error { return rawEntry(f.ctx, tx, "raw-usd", "", t2h, ps...) })
	wantPgError(t, err, "postings_account_currency_fkey", ledger.ErrAccountMismatch)
}

func TestInvariantAppendOnly(t *testing.T) {
	t.Parallel()
	f := invariantsSetup(t)
	for _, tc := range []struct {
		sql, constraint string
		mentions        []string
	}{
		{`UPDATE ledger.entries SET description = 'edited' WHERE idempotency_key = 'base-1'`, "entries_immutable", []string{"invariant 3", "UPDATE", "base-1"}},
		{`UPDATE ledger.entries SET effective_at = effective_at`, "entries_immutable", []string{"UPDATE"}},
		{`DELETE FROM ledger.entries WHERE idempotency_key = 'base-2'`, "entries_immutable", []string{"DELETE", "base-2"}},
		{`TRUNCATE ledger.entries, ledger.postings`, "", []string{"invariant 3", "TRUNCATE"}},
		{`TRUNCATE ledger.entries CASCADE`, "", []string{"TRUNCATE"}},
		{`UPDATE ledger.postings SET amount = amount * 2`, "postings_immutable", []string{"invariant 3", "UPDATE", "posting"}},
		{`UPDATE ledger.postings SET balance_after = 0 WHERE account_seq = 2`, "postings_immutable", nil},
		{`DELETE FROM ledger.postings`, "postings_immutable", []string{"DELETE"}},
		{`TRUNCATE ledger.postings`, "postings_immutable", []string{"TRUNCATE"}},
		{`TRUNCATE ledger.accounts CASCADE`, "", nil},
		{`UPDATE ledger.account_balances SET balance = balance + 1`, "account_balances_guard", []string{"invariant 5", "UPDATE", "account"}},
		{`DELETE FROM ledger.account_balances`, "account_balances_guard", []string{"DELETE"}},
		{`TRUNCATE ledger.account_balances`, "account_balances_guard", []string{"TRUNCATE"}},
		{`INSERT INTO ledger.account_balances (account_id, currency, balance)
		  SELECT id, currency, 1000000 FROM ledger.accounts WHERE code = 'assets:cash'`, "account_balances_guard", []string{"INSERT"}},
	} {
		t.Run(tc.sql, func(t *testing.T) {
			err := f.inTx(t, func(tx pgx.Tx) error { _, err := tx.Exec(f.ctx, tc.sql); return err })
			if tc.constraint == "" { // several tables refuse; which one speaks first is PostgreSQL's choice
				var pgErr *pgconn.PgError
				if !errors.As(err, &pgErr) {
					t.Fatalf("%s: error %v, want a refusal", tc.sql, err)
				}
				tc.constraint = pgErr.ConstraintName
			}
			wantPgError(t, err, tc.constraint, ledger.ErrImmutable, tc.mentions...)
		})
	}
	f.wantBalance(t, "assets:cash", "95")
	f.verifyLedger(t)
}

// The owner of the tables — a role that is not a superuser, as in production — is refused too.
func TestInvariantAppendOnlyForOwner(t *testing.T) {
	t.Parallel()
	f := invariantsSetup(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	role := "mizan_owner_" + hex.EncodeToString(b)
	f.exec(t, fmt.Sprintf(`CREATE ROLE %s NOLOGIN NOSUPERUSER`, role))
	t.Cleanup(func() {
		// The role owns objects in this test's database, which is dropped only after this cleanup.
		ctx := context.Background() // t.Context() is already canceled when cleanups run
		if _, err := f.pool.Exec(ctx, fmt.Sprintf(`REASSIGN OWNED BY %[1]s TO CURRENT_USER; DROP OWNED BY %[1]s; DROP ROLE %[1]s`, role)); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})
	for _, obj := range []string{"SCHEMA ledger", "TABLE ledger.accounts", "TABLE ledger.account_balances",
		"TABLE ledger.entries", "TABLE ledger.postings", "TABLE ledger.currencies", "TABLE ledger.limits",
		"FUNCTION ledger.lock_balances(text[])"} {
		f.exec(t, fmt.Sprintf(`ALTER %s OWNER TO %s`, obj, role))
	}

	asOwner := func(t *testing.T, fn func(tx pgx.Tx) error) error {
		return f.inTx(t, func(tx pgx.Tx) error {
			if _, err := tx.Exec(f.ctx, `SET LOCAL ROLE `+role); err != nil {
				t.Fatal(err)
			}
			var super bool
			var owner string
			if err := tx.QueryRow(f.ctx, `SELECT rolsuper, (SELECT tableowner FROM pg_tables WHERE schemaname = 'ledger' AND tablename = 'postings')
				FROM pg_roles WHERE rolname = current_user`).Scan(&super, &owner); err != nil {
				t.Fatal(err)
			}
			if super || owner != role {
				t.Fatalf("acting as %s: superuser %v, postings owned by %s", role, super, owner)
			}
			return fn(tx)
		})
	}

	if err := asOwner(t, func(tx pgx.Tx) error {
		_, err := ledger.Apply(f.ctx, tx, []ledger.Entry{transfer("owner-ok", t2h, cash, sales, "1")})
		return err
	}); err != nil {
		t.Fatalf("the owner cannot post: %v", err)
	}
	for _, tc := range []struct{ sql, constraint string }{
		{`UPDATE ledger.entries SET description = 'edited'`, "entries_immutable"},
		{`DELETE FROM ledger.entries`, "entries_immutable"},
		{`TRUNCATE ledger.entries CASCADE`, ""},
		{`UPDATE ledger.postings SET amount = -amount`, "postings_immutable"},
		{`DELETE FROM ledger.postings`, "postings_immutable"},
		{`TRUNCATE ledger.postings`, "postings_immutable"},
		{`UPDATE ledger.account_balances SET balance = 0`, "account_balances_guard"},
		{`UPDATE ledger.accounts SET currency = 'USD' WHERE code = 'assets:cash'`, "accounts_immutable"},
		{`DELETE FROM ledger.accounts WHERE code = 'assets:cash'`, "accounts_in_use"},
	} {
		t.Run(tc.sql, func(t *testing.T) {
			err := asOwner(t, func(tx pgx.Tx) error { _, err := tx.Exec(f.ctx, tc.sql); return err })
			if tc.constraint == "" {
				var pgErr *pgconn.PgError
				if !errors.As(err, &pgErr) {
					t.Fatalf("error %v, want a refusal", err)
				}
				tc.constraint = pgErr.ConstraintName
			}
			wantPgError(t, err, tc.constraint, ledger.ErrImmutable)
		})
	}
}

func TestInvariantBalanceChain(t *testing.T) {
	t.Parallel()
	f := invariantsSetup(t)
	for _, tc := range []struct {
		name       string
		edit       func(ps []rawPosting) []rawPosting
		constraint string
		mentions   []string
	}{
		{"wrong balance_after", func(ps []rawPosting) []rawPosting {
			ps[0].balanceAfter = "106"
			return ps
		}, "postings_balance_chain", []string{"invariant 5", "assets:cash", "raw-chain", "balance_after is 106", "gives 105"}},
		{"gap in account_seq", func(ps []rawPosting) []rawPosting {
			ps[0].seq = 4
			return ps
		}, "postings_balance_chain", []string{"invariant 5", "assets:cash", "account_seq is 4", "continues at 3"}},
		{"account_seq reused", func(ps []rawPosting) []rawPosting {
			ps[0].seq = 2
			return ps
		}, "postings_account_seq_key", nil},
		{"booked before the account's last posting", func(ps []rawPosting) []rawPosting {
			ps[0].bookedAt = t0 // cash's last posting was booked at t0+1h
			return ps
		}, "postings_balance_chain", []string{"invariant 5", "assets:cash", "booked_at"}},
		{"booking time decreasing inside one statement", func(ps []rawPosting) []rawPosting {
			return []rawPosting{
				{code: "assets:cash", amount: "10", balanceAfter: "105", seq: 3, bookedAt: t2h.Add(time.Minute)},
				{code: "assets:cash", amount: "5", balanceAfter: "110", seq: 4, bookedAt: t2h},
				{code: "income:sales", amount: "-15", balanceAfter: "-115", seq: 2, bookedAt: t2h},
			}
		}, "postings_balance_chain", []string{"booked_at"}},
		{"running balance wrong inside one statement", func(ps []rawPosting) []rawPosting {
			return []rawPosting{
				{code: "assets:cash", amount: "10", balanceAfter: "105", seq: 3, bookedAt: t2h},
				{code: "assets:cash", amount: "5", balanceAfter: "105", seq: 4, bookedAt: t2h},
				{code: "income:sales", amount: "-15", balanceAfter: "-115", seq: 2, bookedAt: t2h},
			}
		}, "postings_balance_chain", []string{"balance_after is 105", "gives 110"}},
		{"balance_after from a stale balance", func(ps []rawPosting) []rawPosting {
			ps[0].balanceAfter = "110" // 100 + 10: as if base-2 had not happened
			return ps
		}, "postings_balance_chain", []string{"assets:cash"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := tc.edit(goodNext())
			err := f.inTx(t, func(tx pgx.Tx) error { return rawEntry(f.ctx, tx, "raw-chain", "", t2h, ps...) })
			wantPgError(t, err, tc.constraint, ledger.ErrBalanceChain, tc.mentions...)
		})
	}
	f.verifyLedger(t)
}

// Two writers that computed the same next posting from the same balance: the second to insert waits for
// the first, then fails; neither update is lost.
func TestInvariantBalanceChainStaleConcurrentWriter(t *testing.T) {
	t.Parallel()
	f := invariantsSetup(t)
	tx1, err := f.pool.Begin(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx1.Rollback(f.ctx) //nolint:errcheck
	if err := rawEntry(f.ctx, tx1, "writer-1", "", t2h, goodNext()...); err != nil {
		t.Fatalf("first writer: %v", err)
	}

	second := make(chan error, 1)
	go func() {
		ps := goodNext()
		ps[0].amount, ps[0].balanceAfter = "7", "102"
		ps[1].amount, ps[1].balanceAfter = "-7", "-107"
		second <- rawEntry(f.ctx, f.pool, "writer-2", "", t2h, ps...)
	}()
	waitForLockWaiters(t, f, 1)
	if err := tx1.Commit(f.ctx); err != nil {
		t.Fatal(err)
	}
	err = <-second
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || (pgErr.ConstraintName != "postings_account_seq_key" && pgErr.ConstraintName != "postings_balance_chain") {
		t.Fatalf("stale second writer: %v, want it refused by the balance chain", err)
	}
	if !errors.Is(ledger.MapError(err), ledger.ErrBalanceChain) {
		t.Errorf("MapError(%v) does not wrap ErrBalanceChain", err)
	}
	f.wantBalance(t, "assets:cash", "105")
	f.verifyLedger(t)
}

// waitForLockWaiters waits until n sessions on the test's database are blocked on a lock.
func waitForLockWaiters(t *testing.T, f *fixture, n int) {
	t.Helper()
	for i := 0; ; i++ {
		var waiting int
		if err := f.pool.QueryRow(f.ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting >= n {
			return
		}
		if i > 2000 {
			t.Fatalf("%d sessions waiting on a lock after 20s, want %d", waiting, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestInvariantReversals(t *testing.T) {
	t.Parallel()
	f := invariantsSetup(t)
	// A correct reversal of base-1 (cash +100, sales -100) continues cash at #3 and sales at #2.
	goodReversal := []rawPosting{
		{code: "assets:cash", amount: "-100", balanceAfter: "-5", seq: 3, bookedAt: t2h},
		{code: "income:sales", amount: "100", balanceAfter: "0", seq: 2, bookedAt: t2h},
	}

	t.Run("a reversal that does not negate", func(t *testing.T) {
		ps := []rawPosting{
			{code: "assets:cash", amount: "-50", balanceAfter: "45", seq: 3, bookedAt: t2h},
			{code: "income:sales", amount: "50", balanceAfter: "-50", seq: 2, bookedAt: t2h},
		}
		err := f.inTx(t, func(tx pgx.Tx) error { return rawEntry(f.ctx, tx, "rev-half", "base-1", t2h, ps...) })
		wantPgError(t, err, "entries_reversal_negates", ledger.ErrReversal, "invariant 4", "rev-half", "base-1")
	})
	t.Run("a reversal on other accounts", func(t *testing.T) {
		ps := []rawPosting{
			{code: "assets:cash", amount: "-100", balanceAfter: "-5", seq: 3, bookedAt: t2h},
			{code: "assets:bank", amount: "100", balanceAfter: "100", seq: 1, bookedAt: t2h},
		}
		err := f.inTx(t, func(tx pgx.Tx) error {
			if _, err := tx.Exec(f.ctx, `INSERT INTO ledger.accounts (code, type, currency) VALUES ('assets:bank', 'asset', 'EUR')`); err != nil {
				t.Fatal(err)
			}
			return rawEntry(f.ctx, tx, "rev-other", "base-1", t2h, ps...)
		})
		wantPgError(t, err, "entries_reversal_negates", ledger.ErrReversal, "rev-other")
	})
	t.Run("a second reversal", func(t *testing.T) {
		err := f.inTx(t, func(tx pgx.Tx) error {
			if err := rawEntry(f.ctx, tx, "rev-1", "base-1", t2h, goodReversal...); err != nil {
				t.Fatalf("a correct reversal was refused: %v", err)
			}
			return rawEntry(f.ctx, tx, "rev-2", "base-1", t2h,
				rawPosting{code: "assets:cash", amount: "-100", balanceAfter: "-105", seq: 4, bookedAt: t2h},
				rawPosting{code: "income:sales", amount: "100", balanceAfter: "100", seq: 3, bookedAt: t2h})
		})
		wantPgError(t, err, "entries_reverses_entry_id_key", ledger.ErrReversal)
	})
	t.Run("a correct reversal", func(t *testing.T) {
		if err := rawEntry(f.ctx, f.pool, "rev-ok", "base-1", t2h, goodReversal...); err != nil {
			t.Fatalf("a correct reversal was refused: %v", err)
		}
		f.wantBalance(t, "income:sales", "0")
	})
	f.verifyLedger(t)
}

func TestInvariantAccounts(t *testing.T) {
	t.Parallel()
	f := invariantsSetup(t)
	for _, tc := range []struct {
		sql, constraint string
		mentions        []string
	}{
		{`UPDATE ledger.accounts SET currency = 'USD' WHERE code = 'assets:cash'`, "accounts_immutable", []string{"invariant 6", "assets:cash"}},
		{`UPDATE ledger.accounts SET type = 'liability' WHERE code = 'assets:cash'`, "accounts_immutable", nil},
		{`UPDATE ledger.accounts SET code = 'assets:till' WHERE code = 'assets:cash'`, "accounts_immutable", nil},
		{`DELETE FROM ledger.accounts WHERE code = 'assets:cash'`, "accounts_in_use", []string{"invariant 6", "assets:cash", "has postings"}},
		{`INSERT INTO ledger.accounts (code, type, currency) VALUES ('x', 'asset', 'eur')`, "accounts_currency_check", nil},
		{`INSERT INTO ledger.accounts (code, type, currency) VALUES ('x', 'revenue', 'EUR')`, "accounts_type_check", nil},
	} {
		t.Run(tc.sql, func(t *testing.T) {
			err := f.inTx(t, func(tx pgx.Tx) error { _, err := tx.Exec(f.ctx, tc.sql); return err })
			want := ledger.ErrImmutable
			if tc.constraint == "accounts_currency_check" || tc.constraint == "accounts_type_check" {
				want = ledger.ErrInvalid
			}
			wantPgError(t, err, tc.constraint, want, tc.mentions...)
		})
	}
	t.Run("an unused account can change nothing but can be deleted", func(t *testing.T) {
		f.exec(t, `INSERT INTO ledger.accounts (code, type, currency) VALUES ('assets:spare', 'asset', 'CHF')`)
		err := f.inTx(t, func(tx pgx.Tx) error {
			_, err := tx.Exec(f.ctx, `UPDATE ledger.accounts SET currency = 'EUR' WHERE code = 'assets:spare'`)
			return err
		})
		wantPgError(t, err, "accounts_immutable", ledger.ErrImmutable, "assets:spare")
		f.exec(t, `DELETE FROM ledger.accounts WHERE code = 'assets:spare'`)
		var n int
		if err := f.pool.QueryRow(f.ctx, `SELECT count(*) FROM ledger.account_balances b
			WHERE NOT EXISTS (SELECT 1 FROM ledger.accounts a WHERE a.id = b.account_id)`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%d balance rows left without their account", n)
		}
	})
	f.verifyLedger(t)
}
