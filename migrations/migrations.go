// Package migrations holds mizan's PostgreSQL schema as numbered goose SQL files, embedded in the binary,
// and applies them.
//
// Schemas: ledger (double-entry storage and its invariants), recon (reconciler state) and poller (cursors,
// tokens). Each file runs in its own transaction. Applying is safe from several processes at once — a
// Kubernetes Job racing a developer's `make run`: a session-level advisory lock lets one migrate while the
// others wait, then find nothing left to do.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// FS holds the migration files, named NNNNN_description.sql.
//
//go:embed *.sql
var FS embed.FS

// lockID is the advisory lock migrations hold while they run: mizan's own, so that another goose-migrated
// application sharing the database neither waits for mizan nor lets it run alongside.
const lockID int64 = 0x6d697a616e // "mizan"

// newProvider returns a goose provider for FS over db. db must use the pgx stdlib driver
// (github.com/jackc/pgx/v5/stdlib). goose's own messages go to logger, or nowhere if it is nil.
func newProvider(db *sql.DB, logger *slog.Logger) (*goose.Provider, error) {
	// Probe every second, for up to ten minutes: a waiting process starts soon after the migrating one
	// finishes, and a stuck one eventually gives up with an error instead of hanging a deployment.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(lockID), lock.WithLockTimeout(1, 600))
	if err != nil {
		return nil, fmt.Errorf("migrations: session locker: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, FS,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
		goose.WithSlog(logger),
		// Migration numbers are given out in ranges to changes made side by side, so a merged change can bring
		// a migration numbered below one a database has already applied (00030 and 00031 came after 00096).
		// Each is written against the schema as the others leave it; goose applies such missing ones, in
		// version order, before the new ones, instead of refusing to migrate at all.
		goose.WithAllowOutofOrder(true),
	)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return p, nil
}

// Up applies every migration not yet applied, in order. It returns once the database is at the newest
// version, whether this call or a concurrent one applied them.
func Up(ctx context.Context, db *sql.DB) error {
	return UpWithLogger(ctx, db, nil)
}

// UpWithLogger is Up that reports what it applies to logger (nil: nowhere), for a migrate subcommand.
func UpWithLogger(ctx context.Context, db *sql.DB, logger *slog.Logger) error {
	p, err := newProvider(db, logger)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrations: up: %w", err)
	}
	return nil
}

// Version returns the newest migration version applied to db; 0 if none (goose then creates its empty
// version table).
func Version(ctx context.Context, db *sql.DB) (int64, error) {
	p, err := newProvider(db, nil)
	if err != nil {
		return 0, err
	}
	v, err := p.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrations: version: %w", err)
	}
	return v, nil
}

// Newest returns the newest migration version embedded in this binary: the schema version the running
// commands are built for.
func Newest() (int64, error) {
	vs, err := Versions()
	if err != nil || len(vs) == 0 {
		return 0, err
	}
	return vs[len(vs)-1], nil
}

// Versions returns the version of every migration embedded in this binary, in order.
func Versions() ([]int64, error) {
	names, err := fs.Glob(FS, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("migrations: list: %w", err)
	}
	var vs []int64
	for _, n := range names {
		num, _, ok := strings.Cut(n, "_")
		if !ok {
			continue
		}
		v, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("migrations: %s: not a numbered migration", n)
		}
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return vs, nil
}
