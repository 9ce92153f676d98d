package reconciler

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mizanhq/mizan/migrations"
)

// CheckSchema compares the migration version of the database with the newest migration this binary embeds,
// and checks that every migration it embeds is applied (one numbered below the newest can be missing: they
// are numbered in ranges per change, and merged in any order). A mismatch, or a schema version the
// connecting role cannot read, is an *EnvironmentError saying which version was expected and which was
// found; nil means they agree. Other errors (PostgreSQL unreachable) are returned as they are.
func CheckSchema(ctx context.Context, db interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) error {
	embedded, err := migrations.Versions()
	if err != nil {
		return err
	}
	expected := embedded[len(embedded)-1]
	found, err := schemaVersion(ctx, db)
	if err != nil {
		if Classify(err) == Environment {
			return &EnvironmentError{Expected: expected, Found: -1, Err: fmt.Errorf("cannot read the schema version: %w", err)}
		}
		return err
	}
	switch {
	case found < expected:
		return &EnvironmentError{Expected: expected, Found: found,
			Err: errors.New("the database's schema is older than this binary: run `reconciler migrate` (as the owner role)")}
	case found > expected:
		return &EnvironmentError{Expected: expected, Found: found,
			Err: errors.New("the database's schema is newer than this binary: deploy the reconciler built for it")}
	}
	var missing []int64
	// Here, not in queries.sql: goose_db_version is goose's own table, which no migration creates, so sqlc
	// cannot check a query against it.
	if err := db.QueryRow(ctx, `SELECT coalesce(array_agg(v ORDER BY v), '{}') FROM unnest($1::bigint[]) AS v
		WHERE NOT EXISTS (SELECT 1 FROM goose_db_version g WHERE g.version_id = v AND g.is_applied)`, embedded).
		Scan(&missing); err != nil {
		if Classify(err) == Environment {
			return &EnvironmentError{Expected: expected, Found: -1, Err: fmt.Errorf("cannot read the schema version: %w", err)}
		}
		return err
	}
	if len(missing) > 0 {
		return &EnvironmentError{Expected: expected, Found: found,
			Err: fmt.Errorf("the database has not applied migrations %v of this binary: run `reconciler migrate` (as the owner role)", missing)}
	}
	return nil
}

// schemaVersion is the newest migration applied to the database: 0 if none ever was.
func schemaVersion(ctx context.Context, db interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (int64, error) {
	var v int64
	err := db.QueryRow(ctx, `SELECT coalesce(max(version_id), 0) FROM goose_db_version`).Scan(&v)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table: never migrated
		return 0, nil
	}
	return v, err
}

// environmentError explains an Environment failure met while applying: the cause, with the schema versions.
func (r *Reconciler) environmentError(ctx context.Context, err error) *EnvironmentError {
	var env *EnvironmentError
	if errors.As(err, &env) {
		return env
	}
	expected, _ := migrations.Newest()
	found, verr := schemaVersion(ctx, r.pool)
	if verr != nil {
		found = -1
	}
	return &EnvironmentError{Expected: expected, Found: found, Err: err}
}
