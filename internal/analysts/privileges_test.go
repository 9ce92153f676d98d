package analysts_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mizanhq/mizan/internal/pgtest"
	"github.com/mizanhq/mizan/migrations"
)

// SQLSTATEs the role's refusals come with.
const (
	insufficientPrivilege = "42501"
	viewNotUpdatable      = "55000" // "cannot insert into view": PostgreSQL says so before it checks privileges
)

// relation is a table or view of mizan's schemas, as the owner sees them.
type relation struct {
	schema, name string
	view         bool
	column       string // its first column, for an UPDATE that names one
}

func (r relation) String() string { return pgx.Identifier{r.schema, r.name}.Sanitize() }

func relations(t *testing.T, f *fixture) []relation {
	t.Helper()
	rows, err := f.pool.Query(f.ctx, `
		SELECT n.nspname, c.relname, c.relkind = 'v',
		       (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		        ORDER BY a.attnum LIMIT 1)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname IN ('ledger', 'recon', 'poller', 'analytics') AND c.relkind IN ('r', 'p', 'v', 'm')
		ORDER BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	rels, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (relation, error) {
		var x relation
		return x, r.Scan(&x.schema, &x.name, &x.view, &x.column)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"ledger"."entries"`, `"recon"."alerts"`, `"poller"."credentials"`, `"analytics"."settlements"`} {
		if !slices.ContainsFunc(rels, func(r relation) bool { return r.String() == want }) {
			t.Fatalf("relation %s not found among %v", want, rels)
		}
	}
	return rels
}

// refused runs sql as mizan_analyst and fails t unless PostgreSQL refuses it with one of codes.
func refused(t *testing.T, f *fixture, sql string, codes ...string) {
	t.Helper()
	refusedAs(t, f, analyst, sql, codes...)
}

// refusedAs runs sql as role and fails t unless PostgreSQL refuses it with one of codes.
func refusedAs(t *testing.T, f *fixture, role, sql string, codes ...string) {
	t.Helper()
	err := asRole(f.ctx, f.pool, role, func(tx pgx.Tx) error {
		_, err := tx.Exec(f.ctx, sql)
		return err
	})
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || !slices.Contains(codes, pgErr.Code) {
		t.Errorf("as %s: %s\n  got %v, want SQLSTATE %v", role, sql, err, codes)
	}
}

func allowed(t *testing.T, f *fixture, sql string) {
	t.Helper()
	allowedAs(t, f, analyst, sql)
}

func allowedAs(t *testing.T, f *fixture, role, sql string) {
	t.Helper()
	if err := asRole(f.ctx, f.pool, role, func(tx pgx.Tx) error {
		_, err := tx.Exec(f.ctx, sql)
		return err
	}); err != nil {
		t.Errorf("as %s: %s: %v", role, sql, err)
	}
}

func TestAnalystChangesNothing(t *testing.T) {
	t.Parallel()
	f := setup(t)
	rels := relations(t, f)

	t.Run("no INSERT, UPDATE, DELETE or TRUNCATE on any table or view", func(t *testing.T) {
		t.Parallel()
		for _, r := range rels {
			codes := []string{insufficientPrivilege}
			if r.view {
				codes = append(codes, viewNotUpdatable)
			}
			col := pgx.Identifier{r.column}.Sanitize()
			refused(t, f, fmt.Sprintf("INSERT INTO %s DEFAULT VALUES", r), codes...)
			refused(t, f, fmt.Sprintf("UPDATE %s SET %s = %[2]s", r, col), codes...)
			refused(t, f, fmt.Sprintf("DELETE FROM %s", r), codes...)
			if !r.view {
				refused(t, f, fmt.Sprintf("TRUNCATE %s", r), insufficientPrivilege)
			}
		}
	})

	t.Run("no CREATE TABLE or VIEW in any schema, nor a schema of its own", func(t *testing.T) {
		t.Parallel()
		schemas := query(t, f, `SELECT nspname::text FROM pg_namespace
		                        WHERE nspname <> 'pg_toast' AND nspname NOT LIKE 'pg\_temp\_%' AND nspname NOT LIKE 'pg\_toast\_temp\_%'
		                        ORDER BY 1`, pgx.RowTo[string])
		for _, want := range []string{"analytics", "information_schema", "ledger", "pg_catalog", "poller", "public", "recon"} {
			if !slices.Contains(schemas, want) {
				t.Fatalf("schema %s not among %v", want, schemas)
			}
		}
		for _, s := range schemas {
			id := pgx.Identifier{s}.Sanitize()
			refused(t, f, fmt.Sprintf("CREATE TABLE %s.analyst_probe (i int)", id), insufficientPrivilege)
			refused(t, f, fmt.Sprintf("CREATE VIEW %s.analyst_probe AS SELECT 1 AS one", id), insufficientPrivilege)
			refused(t, f, fmt.Sprintf("CREATE FUNCTION %s.analyst_probe() RETURNS int LANGUAGE sql AS 'SELECT 1'", id), insufficientPrivilege)
		}
		refused(t, f, "CREATE SCHEMA analyst_probe", insufficientPrivilege)
	})

	t.Run("no DDL on what exists", func(t *testing.T) {
		t.Parallel()
		for _, sql := range []string{
			"DROP VIEW analytics.balances",
			"CREATE OR REPLACE VIEW analytics.open_alerts AS SELECT 1 AS id",
			"ALTER TABLE ledger.entries DISABLE TRIGGER entries_immutable",
			"DROP TRIGGER entries_record_sources ON ledger.entries",
			"ALTER TABLE ledger.postings ADD COLUMN note text",
			"CREATE INDEX analyst_probe ON ledger.postings (amount)",
			"DROP FUNCTION ledger.balance_at(text, timestamptz)",
			"COMMENT ON TABLE ledger.entries IS 'mine'",
			"SELECT nextval('ledger.entries_id_seq')",
			"SELECT setval('recon.alerts_id_seq', 1)",
		} {
			refused(t, f, sql, insufficientPrivilege)
		}
	})

	t.Run("temporary tables are its own and allowed", func(t *testing.T) {
		t.Parallel()
		allowed(t, f, "CREATE TEMP TABLE scratch AS SELECT * FROM analytics.balances")
	})

	t.Run("the role is a group role without attributes", func(t *testing.T) {
		t.Parallel()
		var login, super, createDB, createRole, bypass, repl bool
		if err := f.pool.QueryRow(f.ctx, `SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolbypassrls, rolreplication
		                                  FROM pg_roles WHERE rolname = $1`, analyst).
			Scan(&login, &super, &createDB, &createRole, &bypass, &repl); err != nil {
			t.Fatal(err)
		}
		if login || super || createDB || createRole || bypass || repl {
			t.Errorf("%s: login %v super %v createdb %v createrole %v bypassrls %v replication %v; want none",
				analyst, login, super, createDB, createRole, bypass, repl)
		}
	})
}

// readable are the ledger and recon relations analysts read whole (recon.alerts they read column by column).
var readable = map[string]bool{
	"ledger.accounts": true, "ledger.account_balances": true, "ledger.entries": true, "ledger.postings": true,
	"ledger.entry_sources": true, "ledger.balances": true, "ledger.currencies": true, "ledger.limits": true,
	"ledger.adjustments":     true,
	"recon.processed_events": true, "recon.watermarks": true, "recon.balance_observations": true,
	"recon.check_results": true, "recon.settlements": true, "recon.settlement_returns": true,
	"recon.running_balances": true, "recon.sources": true, "recon.source_feeds": true, "recon.quarantined": true,
	"recon.expectations": true, "recon.provider_lines": true, "recon.matches": true, "recon.expectation_kinds": true,
	"recon.bank_accounts": true, "recon.bank_lines": true, "recon.bank_payouts": true, "recon.bank_balances": true,
}

func TestAnalystReadsWhatItShould(t *testing.T) {
	t.Parallel()
	f := setup(t)
	rels := relations(t, f)

	t.Run("nothing of the pollers' state", func(t *testing.T) {
		t.Parallel()
		for _, sql := range []string{
			"SELECT * FROM poller.credentials",
			"SELECT source FROM poller.credentials",
			"SELECT * FROM poller.cursors",
			"SELECT count(*) FROM poller.cursors",
		} {
			refused(t, f, sql, insufficientPrivilege)
		}
	})

	t.Run("every analytics view and the ledger and recon tables it is granted", func(t *testing.T) {
		t.Parallel()
		for _, r := range rels {
			switch {
			case r.schema == "poller":
				continue
			case r.String() == `"recon"."dead_letters"`:
				// Column by column: what was refused and why, not the original bytes (provider data, maybe
				// forged events), which stay with the operators.
				refused(t, f, "SELECT original FROM recon.dead_letters", insufficientPrivilege)
				refused(t, f, "SELECT * FROM recon.dead_letters", insufficientPrivilege)
				allowed(t, f, `SELECT id, topic, partition, "offset", event_id, event_type, source, message_key, reason_code,
				                      reason, error_class, size, sha256, truncated, refused_by, refused_at, published_at,
				                      replayed_at, replay_outcome, replay_error FROM recon.dead_letters`)
			case r.schema != "analytics" && !readable[r.schema+"."+r.name] && r.String() != `"recon"."alerts"` &&
				r.String() != `"recon"."alert_acknowledgements"`:
				// A table added since: whether analysts may read it is a decision, made in its migration.
				t.Errorf("%s.%s: new in %s; grant SELECT to %s in its migration and list it in readable, or refuse "+
					"it and test that here", r.schema, r.name, r.schema, analyst)
			case r.String() == `"recon"."alerts"`:
				// Column by column: the delivery error may quote the webhook URL.
				refused(t, f, "SELECT last_delivery_error FROM recon.alerts", insufficientPrivilege)
				refused(t, f, "SELECT * FROM recon.alerts", insufficientPrivilege)
				allowed(t, f, `SELECT id, kind, severity, subject, dedup_key, summary, details, opened_at, last_seen_at,
				                      resolved_at, open_sent_at, resolved_sent_at, delivery_attempts FROM recon.alerts`)
			case r.String() == `"recon"."alert_acknowledgements"`:
				// The same: who acknowledged what, when and why, but not the delivery error.
				refused(t, f, "SELECT last_delivery_error FROM recon.alert_acknowledgements", insufficientPrivilege)
				refused(t, f, "SELECT * FROM recon.alert_acknowledgements", insufficientPrivilege)
				allowed(t, f, `SELECT alert_id, acknowledged_by, acknowledged_at, note, sent_at, delivery_attempts
				               FROM recon.alert_acknowledgements`)
			default:
				allowed(t, f, fmt.Sprintf("SELECT * FROM %s LIMIT 1", r))
			}
		}
		allowed(t, f, "SELECT ledger.balance_at('assets:vandar:acme:wallet', now())")
	})

	t.Run("views added to analytics later are readable; tables added to recon are not", func(t *testing.T) {
		t.Parallel()
		// Created by the role that ran the migrations, as a later migration would be.
		tx, err := f.pool.Begin(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(f.ctx) //nolint:errcheck // probe objects vanish with the rollback
		for _, sql := range []string{
			"CREATE VIEW analytics.later_view AS SELECT count(*) AS n FROM ledger.entries",
			"CREATE TABLE recon.later_table (secret text)",
			"SET LOCAL ROLE " + analyst,
		} {
			if _, err := tx.Exec(f.ctx, sql); err != nil {
				t.Fatalf("%s: %v", sql, err)
			}
		}
		var n int
		if err := tx.QueryRow(f.ctx, "SELECT n FROM analytics.later_view").Scan(&n); err != nil || n == 0 {
			t.Errorf("a view created in analytics after the grants: n=%d, %v", n, err)
		}
		_, err = tx.Exec(f.ctx, "SELECT * FROM recon.later_table")
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != insufficientPrivilege {
			t.Errorf("a table created in recon after the grants: %v, want permission denied", err)
		}
	})
}

// Roles belong to the cluster, and several databases migrate at once (each test's, a staging copy): the
// migration's DO block, run by concurrent transactions that all find the role missing, creates it once and
// fails none of them. Run with a role name of the test's own, so that mizan_analyst is never touched.
func TestAnalystRoleCreatedOnceUnderConcurrency(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, _ := pgtest.NewDB(t)
	src, err := fs.ReadFile(migrations.FS, "00022_analyst_role.sql")
	if err != nil {
		t.Fatal(err)
	}
	start := bytes.Index(src, []byte("DO $$"))
	end := bytes.Index(src, []byte("$$;\n"))
	if start < 0 || end < start {
		t.Fatal("no DO block in 00022_analyst_role.sql")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	role := "mizan_analyst_probe_" + hex.EncodeToString(b)
	block := strings.ReplaceAll(string(src[start:end+3]), analyst, role)
	t.Cleanup(func() {
		if _, err := pool.Exec(context.Background(), "DROP ROLE IF EXISTS "+role); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})

	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, block); err != nil {
					return err
				}
				// Hold the new role uncommitted for a while: the others have found it missing by now and
				// wait on the catalog's unique index, then fail on it.
				_, err := tx.Exec(ctx, "SELECT pg_sleep(0.2)")
				return err
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrator %d: %v", i, err)
		}
	}
	var login bool
	if err := pool.QueryRow(ctx, "SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", role).Scan(&login); err != nil || login {
		t.Errorf("role %s after concurrent creation: login %v, %v", role, login, err)
	}
}

// mizan_accountant reads what analysts read and writes only through its functions: an adjustment that
// balances and has a reason, a reversal, an acknowledgement. Every table and view refuses it anything else,
// and analysts may not call those functions.
func TestAccountantWritesOnlyThroughItsFunctions(t *testing.T) {
	t.Parallel()
	f := setup(t)
	rels := relations(t, f)

	t.Run("no INSERT, UPDATE, DELETE or TRUNCATE on any table or view", func(t *testing.T) {
		t.Parallel()
		for _, r := range rels {
			codes := []string{insufficientPrivilege}
			if r.view {
				codes = append(codes, viewNotUpdatable)
			}
			col := pgx.Identifier{r.column}.Sanitize()
			refusedAs(t, f, accountant, fmt.Sprintf("INSERT INTO %s DEFAULT VALUES", r), codes...)
			refusedAs(t, f, accountant, fmt.Sprintf("UPDATE %s SET %s = %[2]s", r, col), codes...)
			refusedAs(t, f, accountant, fmt.Sprintf("DELETE FROM %s", r), codes...)
			if !r.view {
				refusedAs(t, f, accountant, fmt.Sprintf("TRUNCATE %s", r), insufficientPrivilege)
			}
		}
		for _, sql := range []string{
			"CREATE TABLE ledger.accountant_probe (i int)",
			"ALTER TABLE ledger.entries DISABLE TRIGGER entries_immutable",
			"SELECT ledger.post_entry('x', now(), '', '{}', NULL, ARRAY[1::bigint, 2], ARRAY[1::numeric, -1])",
			"SELECT * FROM poller.tokens",
		} {
			refusedAs(t, f, accountant, sql, insufficientPrivilege)
		}
	})

	t.Run("it reads what analysts read", func(t *testing.T) {
		t.Parallel()
		for _, sql := range []string{"SELECT * FROM analytics.suspense", "SELECT * FROM analytics.adjustments",
			"SELECT * FROM ledger.adjustments", "SELECT count(*) FROM ledger.postings",
			"SELECT ledger.balance_at('assets:vandar:acme:wallet', now())"} {
			allowedAs(t, f, accountant, sql)
		}
	})

	t.Run("a balanced adjustment with a reason posts; an unbalanced one does not", func(t *testing.T) {
		t.Parallel()
		const post = `SELECT ledger.post_adjustment(reason => %s, accounts => ARRAY['liabilities:vandar:acme:suspense',
		              'income:vandar:acme:sales:ipg'], amounts => ARRAY[%s])`
		allowedAs(t, f, accountant, fmt.Sprintf(post, "'moving the correction to sales'", "12000, -12000"))
		refusedAs(t, f, accountant, fmt.Sprintf(post, "'r'", "12000, -11000"), "23514")
		refusedAs(t, f, accountant, fmt.Sprintf(post, "NULL", "12000, -12000"), "23514")
		refusedAs(t, f, accountant, fmt.Sprintf(post, "'r'", "12000, -12000")+"; UPDATE ledger.entries SET description = ''",
			insufficientPrivilege)
	})

	t.Run("analysts may not adjust or acknowledge", func(t *testing.T) {
		t.Parallel()
		for _, sql := range []string{
			`SELECT ledger.post_adjustment('r', ARRAY['liabilities:vandar:acme:suspense', 'income:vandar:acme:sales:ipg'], ARRAY[1, -1])`,
			fmt.Sprintf(`SELECT ledger.reverse_adjustment(%d, 'r')`, f.adjustment),
			`SELECT recon.acknowledge_alert((SELECT id FROM recon.alerts WHERE resolved_at IS NULL LIMIT 1), 'note')`,
		} {
			refused(t, f, sql, insufficientPrivilege)
		}
	})
}
