package dbroles_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/dbroles"
	"github.com/mizanhq/mizan/internal/devstack"
	"github.com/mizanhq/mizan/internal/ledger"
	"github.com/mizanhq/mizan/internal/pgtest"
	"github.com/mizanhq/mizan/migrations"
)

// The recipe docs/security.md gives production, on an empty database: the owner — no superuser, no
// CREATEROLE — runs every migration, and the runtime role then posts to the ledger through the triggers
// the owner's functions run.
func TestTheOwnerMigratesAndTheRuntimeRolePosts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	empty := pgtest.NewEmptyDB(t)
	cfg, err := pgx.ParseConfig(empty)
	if err != nil {
		t.Fatal(err)
	}
	ownerURL, appURL, err := dbroles.Ensure(ctx, pgtest.AdminURL(), cfg.Database)
	if err != nil {
		t.Fatal(err)
	}
	// Again: nothing to do, nothing fails.
	if _, _, err := dbroles.Ensure(ctx, pgtest.AdminURL(), cfg.Database); err != nil {
		t.Fatalf("a second Ensure: %v", err)
	}

	migrateAs(t, ownerURL)

	owner, err := pgxpool.New(ctx, ownerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	for _, role := range []string{dbroles.Owner, dbroles.Runtime} {
		var super, createRole, createDB bool
		if err := owner.QueryRow(ctx, `SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = $1`, role).
			Scan(&super, &createRole, &createDB); err != nil {
			t.Fatal(err)
		}
		if super || createRole || createDB {
			t.Errorf("%s: superuser %v, createrole %v, createdb %v", role, super, createRole, createDB)
		}
	}
	var tables, definers int
	if err := owner.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM pg_tables WHERE schemaname IN ('ledger', 'recon', 'poller') AND tableowner <> $1),
		       (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		        WHERE n.nspname = 'ledger' AND p.prosecdef AND pg_get_userbyid(p.proowner) = $1)`, dbroles.Owner).
		Scan(&tables, &definers); err != nil {
		t.Fatal(err)
	}
	if tables != 0 || definers < 4 {
		t.Errorf("%d of mizan's tables not owned by %s; %d SECURITY DEFINER functions of its", tables, dbroles.Owner, definers)
	}

	app, err := pgxpool.New(ctx, appURL)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	wallet := ledger.Account{Code: "assets:vandar:acme:wallet", Type: ledger.AccountAsset, Currency: "IRT"}
	sales := ledger.Account{Code: "income:vandar:acme:sales:ipg", Type: ledger.AccountIncome, Currency: "IRT"}
	for i, amount := range []int64{1000, 250} {
		err := pgx.BeginFunc(ctx, app, func(tx pgx.Tx) error {
			_, err := ledger.Apply(ctx, tx, []ledger.Entry{{IdempotencyKey: fmt.Sprint("k", i),
				EffectiveAt: time.Now().Add(-time.Hour), Postings: []ledger.Posting{
					{Account: wallet, Amount: decimal.NewFromInt(amount)}, {Account: sales, Amount: decimal.NewFromInt(-amount)}}}})
			return err
		})
		if err != nil {
			t.Fatalf("posting %d as %s: %v", i, dbroles.Runtime, err)
		}
	}
	bal, err := ledger.Balance(ctx, app, wallet.Code)
	if err != nil {
		t.Fatal(err)
	}
	if !bal.Equal(decimal.NewFromInt(1250)) {
		t.Fatalf("wallet %s, want 1250", bal)
	}
	if _, err := app.Exec(ctx, `UPDATE ledger.account_balances SET balance = 0`); err == nil {
		t.Fatal("the runtime role updated a balance")
	}
}

// On a cluster nobody has set up before — a fresh machine's `make run` (MIZAN_PG=initdb or embedded) — the
// owner, without CREATEROLE, cannot make mizan_accountant a member of mizan_analyst, which migration 00093
// needs; on the machine's shared server an earlier superuser migration had always done it, which hid that.
// Ensure grants it, so every migration runs.
func TestTheOwnerMigratesOnAFreshCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster of its own")
	}
	t.Parallel()
	ctx := context.Background()
	adminURL, admin := freshCluster(t)
	if _, err := admin.Exec(ctx, "CREATE DATABASE fresh"); err != nil {
		t.Fatal(err)
	}
	ownerURL, _, err := dbroles.Ensure(ctx, adminURL, "fresh")
	if err != nil {
		t.Fatal(err)
	}
	migrateAs(t, ownerURL)
}

// freshCluster starts a PostgreSQL cluster of the test's own, that nobody has set up, and returns its
// administrator's URL and a connection as the administrator; both go when the test ends.
func freshCluster(t *testing.T) (string, *pgx.Conn) {
	t.Helper()
	dir := t.TempDir()
	getenv := func(k string) string { return map[string]string{devstack.SwitchVar: string(devstack.KindInitdb)}[k] }
	pg, err := devstack.Find(context.Background(), devstack.Options{URLVar: "UNSET_URL_VAR", Dir: dir, Getenv: getenv})
	if err != nil {
		if _, lookErr := exec.LookPath("initdb"); lookErr != nil {
			t.Skipf("no initdb on this machine: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = devstack.StopServers(context.Background(), devstack.Options{Dir: dir, Getenv: getenv}) })
	admin, err := pgx.Connect(context.Background(), pg.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) })
	return pg.AdminURL, admin
}

// The role setups a user is handed — deploy/compose/roles.sql, and the production SQL of docs/security.md —
// run as written on a cluster nobody has set up, let the owner they create run every migration. Both once
// left out mizan_accountant's membership of mizan_analyst, which migration 00093 cannot grant without
// CREATEROLE: the owner's first migrate failed.
func TestTheDocumentedRoleSetupsLetTheOwnerMigrate(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL clusters of its own")
	}
	t.Parallel()
	compose, err := os.ReadFile("../../deploy/compose/roles.sql")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	production := regexp.MustCompile("(?s)Creating them in production.*?```sql\n(.*?)```").FindSubmatch(doc)
	if production == nil {
		t.Fatal("docs/security.md has no sql block under \"Creating them in production\"")
	}
	setups := []struct {
		name, sql string
		before    []string // what the setup assumes exists
	}{
		{"deploy/compose/roles.sql", string(compose), []string{"CREATE DATABASE mizan"}}, // the image's POSTGRES_DB
		{"docs/security.md", strings.ReplaceAll(string(production[1]), "'…'", "'secret'"), nil},
	}
	for _, setup := range setups {
		t.Run(setup.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			adminURL, admin := freshCluster(t)
			// One statement at a time: CREATE DATABASE cannot run inside the implicit transaction of a
			// multi-statement query.
			for _, stmt := range append(setup.before, strings.Split(setup.sql, ";\n")...) {
				if strings.TrimSpace(stripComments(stmt)) == "" {
					continue
				}
				if _, err := admin.Exec(ctx, stmt); err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
			}
			u, err := url.Parse(adminURL)
			if err != nil {
				t.Fatal(err)
			}
			u.User, u.Path = url.User(dbroles.Owner), "/mizan"
			migrateAs(t, u.String())
		})
	}
}

func stripComments(sql string) string {
	return regexp.MustCompile(`(?m)--.*$`).ReplaceAllString(sql, "")
}

// migrateAs runs every migration connected as dbURL's role, failing the test with what the migration said.
func migrateAs(t *testing.T, dbURL string) {
	t.Helper()
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	if err := migrations.Up(context.Background(), db); err != nil {
		t.Fatalf("migrating as %s: %v", cfg.User, err)
	}
}
