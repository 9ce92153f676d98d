package bench

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/mizanhq/mizan/internal/cli"
	"github.com/mizanhq/mizan/internal/pgurl"
	"github.com/mizanhq/mizan/migrations"
)

// DefaultAdminURL is the server the benchmark uses when neither TEST_DATABASE_URL nor DATABASE_URL is set.
const DefaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// AdminURL is the connection the benchmark creates and drops its databases through: TEST_DATABASE_URL, else
// DATABASE_URL, else DefaultAdminURL. Its role needs CREATEDB.
func AdminURL(getenv func(string) string) string {
	return cmp.Or(getenv("TEST_DATABASE_URL"), getenv("DATABASE_URL"), DefaultAdminURL)
}

// Database is a database the benchmark created, migrated to mizan's current schema.
type Database struct {
	Name  string
	URL   string
	admin string
}

// CreateDatabase creates a fresh database named after purpose and applies mizan's migrations to it, then
// removes the features named in without (Features).
func CreateDatabase(ctx context.Context, admin, purpose string, without ...string) (*Database, error) {
	return createDatabase(ctx, admin, purpose, true, without)
}

// Features are the parts of mizan's schema a run can leave out (bench --without), to measure what each costs
// the ingest: the SQL that removes it. A run without one measures a ledger mizan does not ship.
var Features = map[string]string{
	// The GIN index that finds an entry by any reference it carries (migration 00092).
	"references-index": "DROP INDEX ledger.entries_references_idx",
	// The trigger that writes each entry's ledger.entry_sources row (migration 00020).
	"entry-sources": "DROP TRIGGER entries_record_sources ON ledger.entries",
}

// CreateBareDatabase creates a fresh, empty database named after purpose: no mizan schema, for the
// independent reference (ledgerref.go), which brings its own.
func CreateBareDatabase(ctx context.Context, admin, purpose string) (*Database, error) {
	return createDatabase(ctx, admin, purpose, false, nil)
}

func createDatabase(ctx context.Context, admin, purpose string, migrate bool, without []string) (*Database, error) {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "mizan_bench_" + purpose + "_" + hex.EncodeToString(b)
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL at %s (set TEST_DATABASE_URL or DATABASE_URL): %w", pgurl.Redact(admin), err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	d := &Database{Name: name, admin: admin}
	if d.URL, err = pgurl.WithDatabase(admin, name); err != nil {
		return nil, errors.Join(fmt.Errorf("the admin database URL: %w", err), d.Drop())
	}
	if !migrate {
		return d, nil
	}
	cfg, err := pgx.ParseConfig(d.URL)
	if err != nil {
		return nil, errors.Join(err, d.Drop())
	}
	db := stdlib.OpenDB(*cfg)
	err = migrations.Up(ctx, db)
	for _, f := range without {
		sql, known := Features[f]
		if err == nil && !known {
			err = fmt.Errorf("no feature %q to leave out", f)
		}
		if err == nil {
			_, err = db.ExecContext(ctx, sql)
		}
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("migrate %s: %w", name, err), d.Drop())
	}
	return d, nil
}

// PoolConfig is the pool configuration mizan's commands use (cli.PoolConfig) for this database, with an
// optional tracer.
func (d *Database) PoolConfig(tracer *Tracer) (*pgxpool.Config, error) {
	cfg, err := cli.PoolConfig(d.URL)
	if err != nil {
		return nil, err
	}
	if tracer != nil {
		cfg.ConnConfig.Tracer = tracer
	}
	return cfg, nil
}

// Pool connects to the database as mizan's commands do, with an optional tracer.
func (d *Database) Pool(ctx context.Context, tracer *Tracer) (*pgxpool.Pool, error) {
	cfg, err := d.PoolConfig(tracer)
	if err != nil {
		return nil, err
	}
	return pgxpool.NewWithConfig(ctx, cfg)
}

// Checkpoint flushes the server's dirty buffers before a measurement, so that every measured phase starts
// from the same state: right after a checkpoint, paying the same full-page writes, and not inheriting a
// checkpoint the phase before it made due. It needs a superuser (or pg_checkpoint); without one it does
// nothing.
func (d *Database) Checkpoint(ctx context.Context) {
	conn, err := pgx.Connect(ctx, d.admin)
	if err != nil {
		return
	}
	defer conn.Close(context.Background())
	_, _ = conn.Exec(ctx, "CHECKPOINT")
}

// Drop drops the database, disconnecting whoever is still connected.
func (d *Database) Drop() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, d.admin)
	if err != nil {
		return fmt.Errorf("drop %s: %w", d.Name, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{d.Name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop %s: %w", d.Name, err)
	}
	return nil
}
