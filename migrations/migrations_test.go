package migrations_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/mizanhq/mizan/internal/pgtest"
	"github.com/mizanhq/mizan/migrations"
)

func open(t *testing.T, url string) *sql.DB {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { db.Close() })
	return db
}

func sources(t *testing.T, db *sql.DB) []*goose.Source {
	t.Helper()
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	s := p.ListSources()
	if len(s) == 0 {
		t.Fatal("no migrations embedded")
	}
	return s
}

// latest is the newest version among the embedded files.
func latest(t *testing.T, db *sql.DB) int64 {
	s := sources(t, db)
	return s[len(s)-1].Version
}

// Several processes migrating one empty database at once: all succeed and the schema is applied once.
func TestUpConcurrently(t *testing.T) {
	t.Parallel()
	url := pgtest.NewEmptyDB(t)
	ctx := context.Background()

	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		db := open(t, url) // one *sql.DB per "process"
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = migrations.Up(ctx, db)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrator %d: %v", i, err)
		}
	}

	db := open(t, url)
	v, err := migrations.Version(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if want := latest(t, db); v != want {
		t.Errorf("Version = %d, want %d", v, want)
	}
	var applied int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM goose_db_version WHERE version_id > 0`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if n := len(sources(t, db)); applied != n {
		t.Errorf("%d migrations recorded as applied, want each of the %d once", applied, n)
	}
	if err := migrations.Up(ctx, db); err != nil {
		t.Errorf("Up on an up-to-date database: %v", err)
	}
}

func TestVersionOfEmptyDatabase(t *testing.T) {
	t.Parallel()
	db := open(t, pgtest.NewEmptyDB(t))
	v, err := migrations.Version(context.Background(), db)
	if err != nil || v != 0 {
		t.Errorf("Version of an empty database = %d, %v; want 0", v, err)
	}
}

// Every migration can be rolled back and applied again.
func TestDownAndUpAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := open(t, pgtest.NewEmptyDB(t))
	if err := migrations.Up(ctx, db); err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 0); err != nil {
		t.Fatalf("down: %v", err)
	}
	var schemas int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_namespace WHERE nspname IN ('ledger', 'recon', 'poller')`).Scan(&schemas); err != nil {
		t.Fatal(err)
	}
	if schemas != 0 {
		t.Errorf("%d of mizan's schemas left after migrating down", schemas)
	}
	if err := migrations.Up(ctx, db); err != nil {
		t.Fatalf("up again: %v", err)
	}
}
