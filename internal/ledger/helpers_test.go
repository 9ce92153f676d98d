package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/ledger"
	"github.com/mizanhq/mizan/internal/pgtest"
)

// Accounts the tests post to.
var (
	cash    = ledger.Account{Code: "assets:cash", Type: ledger.AccountAsset, Currency: "EUR"}
	bank    = ledger.Account{Code: "assets:bank", Type: ledger.AccountAsset, Currency: "EUR"}
	sales   = ledger.Account{Code: "income:sales", Type: ledger.AccountIncome, Currency: "EUR"}
	fees    = ledger.Account{Code: "expenses:fees", Type: ledger.AccountExpense, Currency: "EUR"}
	wallet  = ledger.Account{Code: "assets:wallet", Type: ledger.AccountAsset, Currency: "IRT"}
	income  = ledger.Account{Code: "income:irt", Type: ledger.AccountIncome, Currency: "IRT"}
	opening = ledger.Account{Code: "equity:opening", Type: ledger.AccountEquity, Currency: "EUR"}
)

// t0 is the tests' epoch: a time with microseconds, as PostgreSQL stores them.
var t0 = time.Date(2025, 3, 1, 9, 30, 0, 123456000, time.UTC)

// fixture is what a ledger test needs: its own migrated database.
type fixture struct {
	ctx  context.Context
	pool *pgxpool.Pool
}

func setup(t testing.TB) *fixture {
	t.Helper()
	pool, _ := pgtest.NewDB(t)
	return &fixture{ctx: t.Context(), pool: pool}
}

// apply runs ledger.Apply in a transaction of its own and commits it if Apply succeeds.
func (f *fixture) apply(entries ...ledger.Entry) (ledger.Result, error) {
	var res ledger.Result
	err := pgx.BeginFunc(f.ctx, f.pool, func(tx pgx.Tx) error {
		var err error
		res, err = ledger.Apply(f.ctx, tx, entries)
		return err
	})
	return res, err
}

func (f *fixture) mustApply(t testing.TB, entries ...ledger.Entry) ledger.Result {
	t.Helper()
	res, err := f.apply(entries...)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return res
}

func (f *fixture) balance(t testing.TB, code string) decimal.Decimal {
	t.Helper()
	d, err := ledger.Balance(f.ctx, f.pool, code)
	if err != nil {
		t.Fatalf("Balance(%s): %v", code, err)
	}
	return d
}

func (f *fixture) wantBalance(t testing.TB, code, want string) {
	t.Helper()
	if got := f.balance(t, code); !got.Equal(decimal.RequireFromString(want)) {
		t.Errorf("balance of %s = %s, want %s", code, got, want)
	}
}

// verifyLedger checks, from scratch over all postings, every invariant a correct history keeps: chains
// numbered 1..n with running balances and non-decreasing booking times, balance rows at the ends of their
// chains, and entries with two or more postings summing to zero per currency.
func (f *fixture) verifyLedger(t testing.TB) {
	t.Helper()
	checks := map[string]string{
		"postings off their chain": `
			SELECT count(*) FROM (
				SELECT p.account_seq, p.balance_after, p.booked_at,
				       row_number() OVER w AS n, sum(p.amount) OVER w AS running, lag(p.booked_at) OVER w AS prev
				FROM ledger.postings p
				WINDOW w AS (PARTITION BY p.account_id ORDER BY p.account_seq)) c
			WHERE c.account_seq <> c.n OR c.balance_after <> c.running OR c.booked_at < c.prev`,
		"balance rows off the end of their chain": `
			SELECT count(*)
			FROM ledger.account_balances b
			LEFT JOIN (SELECT account_id, sum(amount) AS total, max(account_seq) AS n, max(booked_at) AS last
			           FROM ledger.postings GROUP BY account_id) x USING (account_id)
			WHERE b.balance <> coalesce(x.total, 0) OR b.last_seq <> coalesce(x.n, 0)
			   OR b.last_booked_at IS DISTINCT FROM x.last`,
		"unbalanced entries": `
			SELECT count(*) FROM (
				SELECT entry_id FROM ledger.postings GROUP BY entry_id, currency HAVING sum(amount) <> 0
				UNION ALL
				SELECT e.id FROM ledger.entries e LEFT JOIN ledger.postings p ON p.entry_id = e.id
				GROUP BY e.id HAVING count(p.id) < 2) x`,
		"accounts without a balance row": `
			SELECT count(*) FROM ledger.accounts a
			WHERE NOT EXISTS (SELECT 1 FROM ledger.account_balances b WHERE b.account_id = a.id)`,
	}
	for what, q := range checks {
		var n int
		if err := f.pool.QueryRow(f.ctx, q).Scan(&n); err != nil {
			t.Fatalf("verify %s: %v", what, err)
		}
		if n != 0 {
			t.Errorf("%d %s", n, what)
		}
	}
}

// p is a posting.
func p(a ledger.Account, amount string) ledger.Posting {
	return ledger.Posting{Account: a, Amount: decimal.RequireFromString(amount)}
}

// e is an entry.
func e(key string, at time.Time, postings ...ledger.Posting) ledger.Entry {
	return ledger.Entry{IdempotencyKey: key, EffectiveAt: at, Description: "test " + key, Postings: postings}
}

// transfer is an entry moving amount from one account (credit) to another (debit).
func transfer(key string, at time.Time, debit, credit ledger.Account, amount string) ledger.Entry {
	d := decimal.RequireFromString(amount)
	return e(key, at, ledger.Posting{Account: debit, Amount: d}, ledger.Posting{Account: credit, Amount: d.Neg()})
}

// reversal reverses orig.
func reversal(key string, at time.Time, orig ledger.Entry) ledger.Entry {
	r := ledger.Entry{IdempotencyKey: key, EffectiveAt: at, Reverses: orig.IdempotencyKey}
	for _, p := range orig.Postings {
		r.Postings = append(r.Postings, ledger.Posting{Account: p.Account, Amount: p.Amount.Neg()})
	}
	return r
}

// wantPgError checks that err is the schema refusing something under the named constraint or trigger, with
// a message that contains every one of mentions, and that the package maps it to want.
func wantPgError(t testing.TB, err error, constraint string, want error, mentions ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want %s refusing it", constraint)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		t.Fatalf("error %v is not from PostgreSQL; want %s", err, constraint)
	}
	if pgErr.ConstraintName != constraint {
		t.Errorf("refused by %q (%s), want %q", pgErr.ConstraintName, pgErr.Message, constraint)
	}
	for _, m := range mentions {
		if !strings.Contains(pgErr.Message, m) {
			t.Errorf("message %q does not mention %q", pgErr.Message, m)
		}
	}
	if want != nil && !errors.Is(ledger.MapError(err), want) {
		t.Errorf("MapError(%v) = %v, want it to wrap %v", err, ledger.MapError(err), want)
	}
}

// rawPosting is a posting written by hand, bypassing Apply: every field is the test's to get right or wrong.
type rawPosting struct {
	code         string
	amount       string
	balanceAfter string
	seq          int64
	bookedAt     time.Time
	currency     string // "": the account's
}

// rawEntrySQL inserts one entry and its postings in one statement, the way the schema expects.
const rawEntrySQL = `
WITH e AS (
    INSERT INTO ledger.entries (idempotency_key, effective_at, reverses_entry_id)
    VALUES ($1, $2, (SELECT id FROM ledger.entries WHERE idempotency_key = $3))
    RETURNING id
)
INSERT INTO ledger.postings (entry_id, account_id, currency, amount, balance_after, account_seq, booked_at)
SELECT e.id, a.id, coalesce(nullif(r.currency, ''), a.currency), r.amount::numeric, r.balance_after::numeric,
       r.seq, r.booked_at
FROM e, unnest($4::text[], $5::text[], $6::text[], $7::bigint[], $8::timestamptz[], $9::text[])
            AS r(code, amount, balance_after, seq, booked_at, currency)
JOIN ledger.accounts a ON a.code = r.code`

type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// rawEntry inserts an entry by hand. reverses is the key of the entry it reverses, or "".
func rawEntry(ctx context.Context, db execer, key, reverses string, at time.Time, ps ...rawPosting) error {
	var codes, amounts, balances, currencies []string
	var seqs []int64
	var booked []time.Time
	for _, p := range ps {
		codes = append(codes, p.code)
		amounts = append(amounts, p.amount)
		balances = append(balances, p.balanceAfter)
		seqs = append(seqs, p.seq)
		booked = append(booked, p.bookedAt)
		currencies = append(currencies, p.currency)
	}
	_, err := db.Exec(ctx, rawEntrySQL, key, at, reverses, codes, amounts, balances, seqs, booked, currencies)
	return err
}

// inTx runs fn in a transaction that is always rolled back, so an attack leaves the database as it was.
func (f *fixture) inTx(t testing.TB, fn func(tx pgx.Tx) error) error {
	t.Helper()
	tx, err := f.pool.Begin(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(f.ctx) //nolint:errcheck // rolling back is the point
	return fn(tx)
}

func (f *fixture) exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if _, err := f.pool.Exec(f.ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func keys(n int, prefix string) []string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return ks
}
