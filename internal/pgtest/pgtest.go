// Package pgtest gives each test its own PostgreSQL database, migrated to mizan's current schema.
//
// Migrating a database takes a while; cloning one is quick. So the schema is migrated once into a template
// database named after a hash of the migration files, and every test gets a fresh copy of it
// (CREATE DATABASE … TEMPLATE), dropped when the test ends. The template outlives the test process and is
// shared by every package's test binary (go test runs them in parallel processes) and every later run until
// the migrations change; an advisory lock on the admin database makes sure only one process builds it.
//
// The admin connection is found as internal/devstack does for every local tool (devstack.TestOptions):
// TEST_DATABASE_URL; else the server on 127.0.0.1:5432; else one server shared by every test process, which
// `make test` starts before go test and stops after it (`demo postgres start|stop`) — a cluster made with the
// installed initdb, or the embedded PostgreSQL on a machine that has none. A test process that finds none
// running starts it (under a lock in its directory, so parallel test processes start one) and leaves it up
// for the others. MIZAN_PG=embedded (or initdb, local, url) forces one. The role needs CREATEDB.
package pgtest

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/mizanhq/mizan/internal/devstack"
	"github.com/mizanhq/mizan/internal/pgurl"
	"github.com/mizanhq/mizan/migrations"
)

// DefaultURL is the local server, the admin database tests use when TEST_DATABASE_URL is not set and it
// answers.
const DefaultURL = devstack.LocalServerURL

// templateLockKey serializes template builds across processes (pg_advisory_lock on the admin database).
const templateLockKey int64 = 0x6d697a616e_7467 // "mizan" "tg"

// setupTimeout bounds everything NewDB does before handing the database over.
const setupTimeout = 2 * time.Minute

// found is this process's answer to where PostgreSQL is: looked for once, by the first test that asks.
var found = sync.OnceValues(func() (string, error) {
	o, err := devstack.TestOptions(os.Getenv)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // a first download on a slow line
	defer cancel()
	pg, err := devstack.Find(ctx, o)
	if err != nil {
		return "", err
	}
	if pg.Started {
		fmt.Fprintf(os.Stderr, "pgtest: started %s for the tests; it stays up for the next test process "+
			"(make test stops it at the end; or: bin/demo postgres stop)\n", pg.Where)
	}
	return pg.AdminURL, nil
})

// AdminURL returns the admin database URL tests connect to (see the package comment); DefaultURL when none
// was found, so that connecting to it fails with the reason.
func AdminURL() string {
	u, _ := found()
	return cmp.Or(u, os.Getenv("TEST_DATABASE_URL"), DefaultURL)
}

// adminURL is AdminURL for NewDB and NewEmptyDB, which fail t with the reason when no PostgreSQL was found.
func adminURL(t testing.TB) string {
	t.Helper()
	u, err := found()
	if err != nil {
		t.Fatalf("pgtest: no PostgreSQL for the tests: %v", err)
	}
	return u
}

// NewDB creates an empty, fully migrated database for t and returns a pool connected to it and its URL.
// The pool is closed and the database dropped when t ends. NewDB fails t if PostgreSQL cannot be reached:
// the tests that call it are meant to run, not to be skipped.
func NewDB(t testing.TB) (pool *pgxpool.Pool, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()

	admin := adminURL(t)
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("pgtest: cannot reach PostgreSQL at %s (set TEST_DATABASE_URL): %v", pgurl.Redact(admin), err)
	}
	defer conn.Close(context.Background())

	tmpl, err := templateName()
	if err != nil {
		t.Fatalf("pgtest: TEST_DATABASE_URL: %v", err)
	}
	if err := ensureTemplate(ctx, conn, admin, tmpl); err != nil {
		t.Fatalf("pgtest: template %s: %v", tmpl, err)
	}

	name := "mizan_test_" + randomHex(8)
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s",
		pgx.Identifier{name}.Sanitize(), pgx.Identifier{tmpl}.Sanitize())); err != nil {
		t.Fatalf("pgtest: create database %s from %s: %v", name, tmpl, err)
	}
	t.Cleanup(func() { dropDatabase(t, admin, name) })

	url, err = pgurl.WithDatabase(admin, name)
	if err != nil {
		t.Fatalf("pgtest: TEST_DATABASE_URL: %v", err)
	}
	pool, err = pgxpool.New(ctx, url)
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", name, err)
	}
	t.Cleanup(pool.Close) // runs before the drop: cleanups run last-in first-out
	return pool, url
}

// NewEmptyDB creates an empty database for t — no migrations applied — and returns its URL; it is dropped
// when t ends. For testing the migrations themselves.
func NewEmptyDB(t testing.TB) (url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	admin := adminURL(t)
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("pgtest: cannot reach PostgreSQL at %s (set TEST_DATABASE_URL): %v", pgurl.Redact(admin), err)
	}
	defer conn.Close(context.Background())
	name := "mizan_test_" + randomHex(8)
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s", pgx.Identifier{name}.Sanitize())); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() { dropDatabase(t, admin, name) })
	url, err = pgurl.WithDatabase(admin, name)
	if err != nil {
		t.Fatalf("pgtest: TEST_DATABASE_URL: %v", err)
	}
	return url
}

// templateName names the template after the migration files' names and contents, so a changed migration
// gets a new template instead of tests running against a stale schema.
func templateName() (string, error) {
	names, err := fs.Glob(migrations.FS, "*")
	if err != nil {
		return "", fmt.Errorf("list migrations: %w", err)
	}
	slices.Sort(names)
	h := sha256.New()
	for _, n := range names {
		b, err := fs.ReadFile(migrations.FS, n)
		if err != nil {
			return "", fmt.Errorf("read migration %s: %w", n, err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return "mizan_tmpl_" + hex.EncodeToString(h.Sum(nil))[:16], nil
}

// ensureTemplate builds the template database unless it exists. It builds under another name and renames
// at the end, so a database called tmpl is always complete; and it forbids connections to the template,
// because CREATE DATABASE … TEMPLATE fails while anyone is connected to it.
func ensureTemplate(ctx context.Context, conn *pgx.Conn, admin, tmpl string) error {
	exists := func() (bool, error) {
		var ok bool
		err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", tmpl).Scan(&ok)
		return ok, err
	}
	if ok, err := exists(); err != nil || ok {
		return err
	}

	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", templateLockKey); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", templateLockKey) //nolint:errcheck // the session ends soon anyway
	if ok, err := exists(); err != nil || ok {
		return err // built by another process while we waited
	}

	build := tmpl + "_build"
	if _, err := conn.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", pgx.Identifier{build}.Sanitize())); err != nil {
		return fmt.Errorf("drop leftover %s: %w", build, err)
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s", pgx.Identifier{build}.Sanitize())); err != nil {
		return fmt.Errorf("create %s: %w", build, err)
	}
	if err := migrate(ctx, admin, build); err != nil {
		return err
	}
	for _, stmt := range []string{
		fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", pgx.Identifier{build}.Sanitize(), pgx.Identifier{tmpl}.Sanitize()),
		fmt.Sprintf("ALTER DATABASE %s WITH IS_TEMPLATE true ALLOW_CONNECTIONS false", pgx.Identifier{tmpl}.Sanitize()),
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	return nil
}

// migrate applies the migrations to database name and closes every connection to it.
func migrate(ctx context.Context, admin, name string) error {
	url, err := pgurl.WithDatabase(admin, name)
	if err != nil {
		return fmt.Errorf("TEST_DATABASE_URL: %w", err)
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("parse url: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	if err := migrations.Up(ctx, db); err != nil {
		return fmt.Errorf("migrate %s: %w", name, err)
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("close %s: %w", name, err)
	}
	return nil
}

// dropDatabase drops a test's database, disconnecting whatever the test left connected.
func dropDatabase(t testing.TB, admin, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Errorf("pgtest: drop %s: %v", name, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", pgx.Identifier{name}.Sanitize())); err != nil {
		t.Errorf("pgtest: drop %s: %v", name, err)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand documents it)
	return hex.EncodeToString(b)
}
