package security_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/dbroles"
	"github.com/mizanhq/mizan/internal/ledger"
	"github.com/mizanhq/mizan/internal/pgtest"
)

// The role poller and reconciler log in as cannot do what the owner of the tables could do to get around the
// ledger's invariants: each statement below, tried in a real login session of the runtime role, is refused
// for want of privilege — not by a trigger it might have switched off first. And it still does its work.
func TestTheRuntimeRoleCannotSwitchTheInvariantsOff(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	owner := withLedgerAndTokens(t)
	conn, err := pgx.Connect(ctx, pgtest.AppURL(t, owner.Config().ConnString()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	// Who it is: a login role, member of mizan_app, no superuser, owning nothing in this database.
	var user string
	var super, createDB, createRole, bypassRLS, replication, member bool
	var owned int
	if err := conn.QueryRow(ctx, `
		SELECT current_user, r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolbypassrls, r.rolreplication,
		       pg_has_role(current_user, 'mizan_app', 'MEMBER'),
		       (SELECT count(*) FROM pg_class c WHERE c.relowner = r.oid) +
		       (SELECT count(*) FROM pg_namespace n WHERE n.nspowner = r.oid) +
		       (SELECT count(*) FROM pg_proc p WHERE p.proowner = r.oid)
		FROM pg_roles r WHERE r.rolname = current_user`).
		Scan(&user, &super, &createDB, &createRole, &bypassRLS, &replication, &member, &owned); err != nil {
		t.Fatal(err)
	}
	if user != dbroles.Runtime || super || createDB || createRole || bypassRLS || replication || !member || owned != 0 {
		t.Fatalf("connected as %s: superuser %v, createdb %v, createrole %v, bypassrls %v, replication %v, member of mizan_app %v, owns %d objects",
			user, super, createDB, createRole, bypassRLS, replication, member, owned)
	}

	bypasses := []string{
		// Rewriting history.
		`UPDATE ledger.entries SET description = 'rewritten'`,
		`UPDATE ledger.postings SET amount = 900 WHERE account_seq = 1`,
		`UPDATE ledger.account_balances SET balance = 0`,
		`UPDATE ledger.accounts SET currency = 'USD'`,
		`DELETE FROM ledger.entries`,
		`DELETE FROM ledger.postings`,
		`DELETE FROM ledger.accounts`,
		`DELETE FROM ledger.entry_sources`,
		`TRUNCATE ledger.entries CASCADE`,
		`TRUNCATE ledger.postings`,
		`TRUNCATE ledger.account_balances`,
		`TRUNCATE ledger.entry_sources`,
		`INSERT INTO ledger.account_balances (account_id, currency) VALUES (999, 'IRT')`,
		`INSERT INTO ledger.entry_sources (entry_id) VALUES (999)`,
		`SELECT * FROM ledger.account_balances FOR UPDATE`,
		`SELECT setval('ledger.entries_id_seq', 1)`,
		// Switching the invariants off.
		`ALTER TABLE ledger.entries DISABLE TRIGGER entries_immutable`,
		`ALTER TABLE ledger.postings DISABLE TRIGGER USER`,
		`ALTER TABLE ledger.postings DISABLE TRIGGER ALL`,
		`DROP TRIGGER postings_immutable ON ledger.postings`,
		`DROP TRIGGER postings_check_insert ON ledger.postings`,
		`CREATE OR REPLACE FUNCTION ledger.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$`,
		`CREATE OR REPLACE FUNCTION ledger.postings_check_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$`,
		`ALTER FUNCTION ledger.postings_check_insert() SECURITY INVOKER`,
		`ALTER FUNCTION ledger.refuse_change() RENAME TO old_refuse_change`,
		`DROP FUNCTION ledger.refuse_change() CASCADE`,
		`SET session_replication_role = replica`,
		`SET LOCAL session_replication_role = replica`,
		`ALTER TABLE ledger.postings DROP CONSTRAINT postings_amount_check`,
		`ALTER TABLE ledger.postings OWNER TO mizan_runtime`,
		`ALTER TABLE ledger.entries ADD COLUMN note text`,
		`DROP TABLE ledger.postings`,
		// Moving the bounds.
		`UPDATE ledger.limits SET clock_skew = '1 day'`,
		`UPDATE ledger.currencies SET max_abs_amount = 1e400`,
		`INSERT INTO ledger.currencies (code, minor_units) VALUES ('XXX', 4)`,
		`DELETE FROM ledger.limits`,
		// The reconciler's and the pollers' state, which has no triggers: privileges are its guard.
		`DELETE FROM recon.processed_events`,
		`UPDATE recon.processed_events SET event_id = 'x'`,
		`TRUNCATE recon.processed_events`,
		`DELETE FROM recon.sources`,
		`UPDATE recon.sources SET account = 'globex'`,
		`DELETE FROM recon.alerts`,
		`TRUNCATE recon.alerts`,
		`DELETE FROM recon.check_results`,
		`UPDATE recon.balance_observations SET amount = 0`,
		// poller.credentials it may DELETE from: a provider's store clears a credential by name (a raw refresh
		// answer once it is parsed), see internal/pollstate. Emptying the table at once it may not.
		`DELETE FROM poller.cursors`,
		`TRUNCATE poller.credentials`,
		`TRUNCATE poller.cursors`,
		// The record of applied migrations, which it may read.
		`DELETE FROM goose_db_version`,
		`UPDATE goose_db_version SET is_applied = false`,
		`INSERT INTO goose_db_version (version_id, is_applied) VALUES (99999, true)`,
		// Creating anything in mizan's schemas, or a schema of its own.
		`CREATE TABLE ledger.probe (i int)`,
		`CREATE TABLE recon.probe (i int)`,
		`CREATE TABLE poller.probe (i int)`,
		`CREATE TABLE analytics.probe (i int)`,
		`CREATE TABLE public.probe (i int)`,
		`CREATE FUNCTION ledger.probe() RETURNS int LANGUAGE sql AS 'SELECT 1'`,
		`CREATE VIEW ledger.probe AS SELECT 1 AS one`,
		`CREATE SCHEMA probe`,
		`CREATE TRIGGER probe BEFORE INSERT ON ledger.entries FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change()`,
		// Becoming someone else.
		`SET ROLE mizan_analyst`,
		`SET ROLE postgres`,
		`ALTER ROLE mizan_runtime SUPERUSER`,
		`CREATE ROLE probe SUPERUSER`,
		`GRANT mizan_analyst TO mizan_runtime`,
	}
	for _, stmt := range bypasses {
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, err = tx.Exec(ctx, stmt)
		_ = tx.Rollback(ctx)
		if code(err) != insufficientPrivilege {
			t.Errorf("as %s: %s\n  got %v, want SQLSTATE %s (insufficient privilege)", dbroles.Runtime, stmt, err, insufficientPrivilege)
		}
	}

	// What it is for, it can do: post an entry (the triggers that maintain the balances run as the owner),
	// read the ledger and record an applied event.
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ledger.Apply(ctx, tx, []ledger.Entry{{IdempotencyKey: "security:2", EffectiveAt: time.Now().Add(-time.Minute),
		Postings: []ledger.Posting{
			{Account: ledger.Account{Code: "assets:vandar:acme:wallet", Type: ledger.AccountAsset, Currency: "IRT"}, Amount: decimal.NewFromInt(25)},
			{Account: ledger.Account{Code: "income:vandar:acme:sales:ipg", Type: ledger.AccountIncome, Currency: "IRT"}, Amount: decimal.NewFromInt(-25)},
		}}})
	if err != nil {
		t.Fatalf("the runtime role cannot post: %v", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO recon.processed_events (event_id) VALUES ('security:2')`); err != nil {
		t.Fatalf("the runtime role cannot record an event: %v", err)
	}
	var version int64
	if err := tx.QueryRow(ctx, `SELECT max(version_id) FROM goose_db_version WHERE is_applied`).Scan(&version); err != nil || version < 27 {
		t.Fatalf("the runtime role cannot read the schema version: %d, %v", version, err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var balance string
	if err := conn.QueryRow(ctx, `SELECT balance::text FROM ledger.balances WHERE account = 'assets:vandar:acme:wallet'`).Scan(&balance); err != nil {
		t.Fatal(err)
	}
	if balance != "125" {
		t.Fatalf("wallet balance %s after the runtime role's posting, want 125", balance)
	}
	// And the owner finds the ledger as the invariants say: two entries, four postings, nothing rewritten.
	var entries, postings int
	if err := owner.QueryRow(ctx, `SELECT (SELECT count(*) FROM ledger.entries), (SELECT count(*) FROM ledger.postings)`).
		Scan(&entries, &postings); err != nil {
		t.Fatal(err)
	}
	if entries != 2 || postings != 4 {
		t.Fatalf("%d entries and %d postings, want 2 and 4", entries, postings)
	}
}
