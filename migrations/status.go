package migrations

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Status is what `reconciler migrate status` shows: every migration this binary carries and whether the
// database has applied it.
type Status struct {
	Migrations []MigrationStatus
	// Unknown are versions the database has applied that this binary does not carry: it is older than the
	// schema (a rollback of the binary, or a newer one migrated it).
	Unknown []int64
}

// MigrationStatus is one migration's state.
type MigrationStatus struct {
	Version   int64
	File      string
	AppliedAt time.Time // zero when pending
}

// Applied says whether the database has applied the migration.
func (m MigrationStatus) Applied() bool { return !m.AppliedAt.IsZero() }

// Pending returns the migrations not yet applied.
func (s Status) Pending() []MigrationStatus {
	var out []MigrationStatus
	for _, m := range s.Migrations {
		if !m.Applied() {
			out = append(out, m)
		}
	}
	return out
}

// ReadStatus reads which migrations db has applied. Unlike goose's own status it only reads: it creates no
// version table in an empty database and takes no lock, so it can look at production while a migration runs.
func ReadStatus(ctx context.Context, db *sql.DB) (Status, error) {
	var st Status
	names, err := fs.Glob(FS, "*.sql")
	if err != nil {
		return st, err
	}
	slices.Sort(names)
	byVersion := map[int64]int{}
	for _, n := range names {
		digits, _, _ := strings.Cut(n, "_")
		v, err := strconv.ParseInt(digits, 10, 64)
		if err != nil {
			return st, fmt.Errorf("migrations: %s is not named NNNNN_description.sql", n)
		}
		byVersion[v] = len(st.Migrations)
		st.Migrations = append(st.Migrations, MigrationStatus{Version: v, File: n})
	}

	var exists bool
	if err := db.QueryRowContext(ctx, `SELECT to_regclass('goose_db_version') IS NOT NULL`).Scan(&exists); err != nil {
		return st, fmt.Errorf("migrations: status: %w", err)
	}
	if !exists {
		return st, nil // never migrated
	}
	// goose appends a row per apply and per rollback: a version's latest row says where it stands.
	rows, err := db.QueryContext(ctx, `SELECT DISTINCT ON (version_id) version_id, is_applied, tstamp
		FROM goose_db_version WHERE version_id > 0 ORDER BY version_id, id DESC`)
	if err != nil {
		return st, fmt.Errorf("migrations: status: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v int64
		var applied bool
		var at time.Time
		if err := rows.Scan(&v, &applied, &at); err != nil {
			return st, fmt.Errorf("migrations: status: %w", err)
		}
		if !applied {
			continue
		}
		if i, ok := byVersion[v]; ok {
			st.Migrations[i].AppliedAt = at
		} else {
			st.Unknown = append(st.Unknown, v)
		}
	}
	return st, rows.Err()
}

// Print writes the status for a person: a summary line, then each migration.
func (s Status) Print(w io.Writer) {
	pending := s.Pending()
	fmt.Fprintf(w, "%d of %d migrations applied, %d pending\n", len(s.Migrations)-len(pending), len(s.Migrations), len(pending))
	for _, m := range s.Migrations {
		state := "pending"
		if m.Applied() {
			state = "applied " + m.AppliedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "  %-40s %s\n", m.File, state)
	}
	for _, v := range s.Unknown {
		fmt.Fprintf(w, "  version %d is applied but this binary does not have it: the database is newer than this binary\n", v)
	}
}
