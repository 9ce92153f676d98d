package security_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/ledger"
	"github.com/mizanhq/mizan/internal/pgtest"
	"github.com/mizanhq/mizan/internal/pollstate"
)

const (
	insufficientPrivilege = "42501"
	restrictViolation     = "23001" // the ledger's invariant triggers
)

// withLedgerAndTokens is a migrated database holding one posted entry and one stored token pair.
func withLedgerAndTokens(t *testing.T) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	pool, _ := pgtest.NewDB(t)
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ledger.Apply(ctx, tx, []ledger.Entry{{IdempotencyKey: "security:1", EffectiveAt: time.Now(), Postings: []ledger.Posting{
		{Account: ledger.Account{Code: "assets:vandar:acme:wallet", Type: ledger.AccountAsset, Currency: "IRT"}, Amount: decimal.NewFromInt(100)},
		{Account: ledger.Account{Code: "equity:vandar:acme:opening_balance", Type: ledger.AccountEquity, Currency: "IRT"}, Amount: decimal.NewFromInt(-100)},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	sealer, err := pollstate.NewSealer(random("mizan-secret-key"))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := sealer.Seal("vandar-acme", random("access"))
	r, _ := sealer.Seal("vandar-acme", random("refresh"))
	if _, err := pool.Exec(ctx, `INSERT INTO poller.credentials (source, name, sealed) VALUES
		('vandar-acme', 'access_token', $1), ('vandar-acme', 'refresh_token', $2)`, a, r); err != nil {
		t.Fatal(err)
	}
	return pool
}

// as runs each statement as role, in one transaction that is rolled back (a role created in it included),
// each under a savepoint so that one refusal does not end the others; it returns each statement's error.
func as(t *testing.T, pool *pgxpool.Pool, setup []string, role string, stmts []string) []error {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // nothing done here is kept
	for _, s := range setup {
		if _, err := tx.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	if _, err := tx.Exec(ctx, "SET LOCAL ROLE "+pgx.Identifier{role}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	errs := make([]error, len(stmts))
	for i, s := range stmts {
		if _, err := tx.Exec(ctx, "SAVEPOINT probe"); err != nil {
			t.Fatal(err)
		}
		if _, errs[i] = tx.Exec(ctx, s); errs[i] != nil {
			if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT probe"); err != nil {
				t.Fatal(err)
			}
		}
	}
	return errs
}

func code(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

func TestTheAnalystRoleCannotReadOrWriteStoredTokens(t *testing.T) {
	t.Parallel()
	pool := withLedgerAndTokens(t)
	stmts := []string{
		`SELECT * FROM poller.credentials`,
		`SELECT sealed FROM poller.credentials`,
		`SELECT count(*) FROM poller.credentials`,
		`INSERT INTO poller.credentials (source, name, sealed) VALUES ('x', 'y', '\x00')`,
		`UPDATE poller.credentials SET sealed = '\x00'`,
		`DELETE FROM poller.credentials`,
		`TRUNCATE poller.credentials`,
		`COPY poller.credentials TO STDOUT`,
		`SELECT * FROM poller.cursors`,
		`UPDATE poller.cursors SET cursor = '{}'`,
		`ALTER TABLE poller.credentials OWNER TO mizan_analyst`,
		`GRANT SELECT ON poller.credentials TO mizan_analyst`,
	}
	for i, err := range as(t, pool, nil, "mizan_analyst", stmts) {
		if code(err) != insufficientPrivilege {
			t.Errorf("as mizan_analyst: %s\n  got %v, want SQLSTATE %s (insufficient privilege)", stmts[i], err, insufficientPrivilege)
		}
	}
	// And nothing it may read shows a token's ciphertext: no column it can read outside poller is a bytea.
	var n int
	if err := pool.QueryRow(context.Background(), `
		SELECT count(*) FROM information_schema.columns
		WHERE table_schema IN ('analytics', 'ledger', 'recon') AND data_type = 'bytea'
		  AND has_column_privilege('mizan_analyst', format('%I.%I', table_schema, table_name), column_name, 'SELECT')`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d bytea columns where the analyst reads", n)
	}
}

func TestNoApplicationRoleCanRewriteHistory(t *testing.T) {
	t.Parallel()
	pool := withLedgerAndTokens(t)
	rewrites := []string{
		`UPDATE ledger.entries SET description = 'rewritten'`,
		`UPDATE ledger.entries SET effective_at = effective_at - interval '1 day'`,
		`DELETE FROM ledger.entries`,
		`TRUNCATE ledger.entries CASCADE`,
		`UPDATE ledger.postings SET amount = amount * 2`,
		`UPDATE ledger.postings SET balance_after = 0`,
		`DELETE FROM ledger.postings`,
		`TRUNCATE ledger.postings`,
		`UPDATE ledger.account_balances SET balance = 0`,
		`DELETE FROM ledger.entry_sources`,
	}

	// The role that ran the migrations owns the tables; in these tests it is even a superuser. The commands
	// never connect as it (see TestTheRuntimeRoleCannotSwitchTheInvariantsOff), but its writes are refused all
	// the same: by the ledger's triggers, which hold for the owner too.
	t.Run("the tables' owner", func(t *testing.T) {
		errs := make([]error, len(rewrites))
		ctx := context.Background()
		for i, s := range rewrites {
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_, errs[i] = tx.Exec(ctx, s)
			_ = tx.Rollback(ctx)
		}
		for i, err := range errs {
			if c := code(err); c != restrictViolation && c != insufficientPrivilege {
				t.Errorf("%s\n  got %v, want the ledger's refusal", rewrites[i], err)
			}
		}
	})

	// A login role granted every table privilege on the ledger — as a careless deployment would — still
	// cannot rewrite it, nor switch the triggers off: that takes the owner's DDL or a superuser.
	t.Run("a role granted every privilege", func(t *testing.T) {
		role := "mizan_security_probe_" + random("")[1:9]
		role = pgx.Identifier{role}.Sanitize()
		setup := []string{
			"CREATE ROLE " + role + " NOLOGIN",
			"GRANT USAGE ON SCHEMA ledger TO " + role,
			"GRANT ALL ON ALL TABLES IN SCHEMA ledger TO " + role,
			"GRANT ALL ON ALL SEQUENCES IN SCHEMA ledger TO " + role,
		}
		stmts := append(slices.Clone(rewrites),
			`ALTER TABLE ledger.entries DISABLE TRIGGER entries_immutable`,
			`ALTER TABLE ledger.postings DISABLE TRIGGER USER`,
			`DROP TRIGGER postings_immutable ON ledger.postings`,
			`SET session_replication_role = replica`,
		)
		unquoted := role[1 : len(role)-1]
		for i, err := range as(t, pool, setup, unquoted, stmts) {
			if c := code(err); c != restrictViolation && c != insufficientPrivilege {
				t.Errorf("as a role with every privilege: %s\n  got %v, want a refusal", stmts[i], err)
			}
		}
	})

	// Nothing changed.
	var entries, postings int
	var balance string
	if err := pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM ledger.entries), (SELECT count(*) FROM ledger.postings),
		(SELECT balance::text FROM ledger.balances WHERE account = 'assets:vandar:acme:wallet')`).Scan(&entries, &postings, &balance); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%d %d %s", entries, postings, balance); got != "1 2 100" {
		t.Fatalf("the ledger changed: %s", got)
	}
}
