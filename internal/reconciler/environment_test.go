package reconciler_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/mizanhq/mizan/internal/pgtest"
	"github.com/mizanhq/mizan/internal/reconciler"
	"github.com/mizanhq/mizan/migrations"
)

// A reconciler pointed at a database nobody migrated used to dead-letter every message and commit the
// offsets: one forgotten migration Job emptied the topics into the dead letters. Now it stops, says which
// schema version it expected and found, and leaves the offsets alone.
func TestAnUnmigratedDatabaseStopsTheRunWithoutDeadLettersOrCommits(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.publish(event(t, item("1", 1_000, 0, 1_000)), event(t, item("2", 500, 0, 1_500)))
	empty, err := pgxpool.New(context.Background(), pgtest.NewEmptyDB(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(empty.Close)
	r, c := b.reconciler(reconciler.Config{}, empty)
	err = untilIdle(t, r)
	var env *reconciler.EnvironmentError
	if !errors.As(err, &env) {
		t.Fatalf("run: %v, want an environment error", err)
	}
	newest, _ := migrations.Newest()
	if env.Expected != newest || env.Found != 0 || env.ExitCode() != reconciler.ExitEnvironment ||
		!strings.Contains(err.Error(), fmt.Sprintf("expects migration version %d, the database is at 0", newest)) {
		t.Fatalf("error: %v (expected %d, found %d)", err, env.Expected, env.Found)
	}
	if l := lag(t, c); l != 2 {
		t.Fatalf("lag %d after the run, want 2: offsets were committed", l)
	}
	if r.Stats.DeadLetters != 0 || r.Stats.Messages != 0 {
		t.Fatalf("stats %+v", r.Stats)
	}
	if err := r.Ready(context.Background()); err == nil || !strings.Contains(err.Error(), "older than this binary") {
		t.Fatalf("ready: %v", err)
	}
}

func TestASchemaOlderOrNewerThanTheBinaryIsAnEnvironmentProblem(t *testing.T) {
	t.Parallel()
	newest, _ := migrations.Newest()
	for _, tt := range []struct {
		name, change string
		found        int64
		says         string
	}{
		{"older", `DELETE FROM goose_db_version WHERE version_id = (SELECT max(version_id) FROM goose_db_version)`, -2, "older"},
		{"newer", fmt.Sprintf(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (%d, true)`, newest+1), newest + 1, "newer"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pool, _ := pgtest.NewDB(t)
			if err := reconciler.CheckSchema(context.Background(), pool); err != nil {
				t.Fatalf("a freshly migrated database: %v", err)
			}
			var before int64
			if err := pool.QueryRow(context.Background(), `SELECT max(version_id) FROM goose_db_version WHERE version_id < $1`,
				newest).Scan(&before); err != nil {
				t.Fatal(err)
			}
			if _, err := pool.Exec(context.Background(), tt.change); err != nil {
				t.Fatal(err)
			}
			found := tt.found
			if found == -2 {
				found = before
			}
			err := reconciler.CheckSchema(context.Background(), pool)
			var env *reconciler.EnvironmentError
			if !errors.As(err, &env) || env.Expected != newest || env.Found != found || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("check: %v, want expected %d found %d", err, newest, found)
			}
		})
	}
}

// A role missing one GRANT fails every batch with SQLSTATE 42501. That used to be taken for bad data: every
// message dead-lettered, every offset committed. Now nothing is dead-lettered or committed, and the run,
// once the grant is back, applies everything.
func TestARevokedGrantStopsConsumptionWithoutDeadLettersOrCommits(t *testing.T) {
	t.Parallel()
	b := setup(t)
	role, rolePool := b.runtimeRole()
	b.publish(event(t, item("1", 1_000, 0, 1_000)), event(t, item("2", 500, 0, 1_500)))
	b.exec(`REVOKE INSERT ON recon.processed_events FROM ` + role)

	r, c := b.reconciler(reconciler.Config{}, rolePool)
	err := untilIdle(t, r)
	var env *reconciler.EnvironmentError
	newest, _ := migrations.Newest()
	if !errors.As(err, &env) || env.ExitCode() != reconciler.ExitEnvironment || env.Found != newest ||
		!strings.Contains(err.Error(), "permission denied") || !strings.Contains(err.Error(), "nothing was dead-lettered") {
		t.Fatalf("run: %v", err)
	}
	if n := b.count(`SELECT count(*) FROM recon.dead_letters`); n != 0 {
		t.Fatalf("%d dead letters", n)
	}
	if l := lag(t, c); l != 2 {
		t.Fatalf("lag %d, want 2: offsets were committed", l)
	}
	// The stalled alert says so, recorded outside the batch that could not commit.
	if got := b.alerts("stalled"); len(got) != 1 || !strings.Contains(got[0].Summary, "environment") {
		t.Fatalf("stalled alerts: %+v\n%s", got, b.logs.String())
	}

	b.exec(`GRANT INSERT ON recon.processed_events TO ` + role)
	c.Close() // leave the group, as the stopped process would
	r, c = b.reconciler(reconciler.Config{}, rolePool)
	if err := untilIdle(t, r); err != nil {
		t.Fatal(err)
	}
	if n := b.count(`SELECT count(*) FROM ledger.entries`); n != 2 {
		t.Fatalf("%d entries after the grant came back", n)
	}
	if l := lag(t, c); l != 0 {
		t.Fatalf("lag %d", l)
	}
	if got := b.alerts("stalled"); len(got) != 1 || !got[0].Resolved {
		t.Fatalf("stalled alert after recovery: %+v", got)
	}
}

// runtimeRole creates a login role that is no superuser and owns nothing, granted what `reconciler run`
// uses, and returns its name and a pool connected as it. Both go when the test ends.
func (b *bundle) runtimeRole() (string, *pgxpool.Pool) {
	b.t.Helper()
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	role := "mizan_test_runtime_" + hex.EncodeToString(suffix)
	// A password, because a server may ask for one (the embedded PostgreSQL does) where trust would not.
	b.exec(`CREATE ROLE ` + role + ` LOGIN PASSWORD '` + role + `' NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT`)
	b.t.Cleanup(func() {
		ctx := context.Background()
		admin, err := pgx.Connect(ctx, b.dbURL)
		if err == nil {
			_, _ = admin.Exec(ctx, `DROP OWNED BY `+role)
			_, _ = admin.Exec(ctx, `DROP ROLE `+role)
			admin.Close(ctx)
		}
	})
	for _, s := range []string{
		`GRANT USAGE ON SCHEMA ledger, recon, poller TO ` + role,
		`GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA ledger, recon, poller TO ` + role,
		`GRANT USAGE ON ALL SEQUENCES IN SCHEMA ledger, recon, poller TO ` + role,
		`GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ledger TO ` + role,
		`GRANT SELECT ON goose_db_version TO ` + role,
	} {
		b.exec(s)
	}
	u, err := url.Parse(b.dbURL)
	if err != nil {
		b.t.Fatal(err)
	}
	u.User = url.UserPassword(role, role)
	pool, err := pgxpool.New(context.Background(), u.String())
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(pool.Close)
	var super bool
	if err := pool.QueryRow(context.Background(), `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&super); err != nil || super {
		b.t.Fatalf("the runtime role is a superuser (%v) or cannot connect: %v", super, err)
	}
	return role, pool
}

func (b *bundle) exec(sql string) {
	b.t.Helper()
	if _, err := b.pool.Exec(context.Background(), sql); err != nil {
		b.t.Fatalf("%s: %v", sql, err)
	}
}

// Migrations are numbered in ranges per change and merged in any order: a database migrated before 00030 and
// 00031 were merged is at the newest version without them. The reconciler calls that what it is (an
// environment problem naming the migrations missing), and `reconciler migrate` applies them after the others.
func TestAMigrationMergedBelowTheNewestIsMissingUntilMigrateAppliesIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := pgtest.NewEmptyDB(t)
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { db.Close() })
	// The schema as a binary built before the merge left it: every migration but 00030 and 00031.
	before := fstest.MapFS{}
	names, _ := fs.Glob(migrations.FS, "*.sql")
	for _, n := range names {
		if strings.HasPrefix(n, "00030_") || strings.HasPrefix(n, "00031_") {
			continue
		}
		b, _ := fs.ReadFile(migrations.FS, n)
		before[n] = &fstest.MapFile{Data: b}
	}
	old, err := goose.NewProvider(goose.DialectPostgres, db, before, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Up(ctx); err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)

	err = reconciler.CheckSchema(ctx, pool)
	var env *reconciler.EnvironmentError
	if !errors.As(err, &env) || !strings.Contains(err.Error(), "not applied migrations [30 31]") {
		t.Fatalf("check before migrating: %v, want an environment error naming 30 and 31", err)
	}
	if err := migrations.Up(ctx, db); err != nil {
		t.Fatalf("migrate a database that lacks two migrations below its version: %v", err)
	}
	if err := reconciler.CheckSchema(ctx, pool); err != nil {
		t.Fatalf("check after migrating: %v", err)
	}
	var table, fks bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('recon.dead_letters') IS NOT NULL,
		EXISTS (SELECT 1 FROM pg_constraint WHERE conname IN ('postings_entry_id_fkey', 'postings_account_currency_fkey'))`).
		Scan(&table, &fks); err != nil || !table || fks {
		t.Fatalf("after migrating: recon.dead_letters %v, the postings' foreign keys still there %v (%v)", table, fks, err)
	}
}
