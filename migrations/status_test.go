package migrations_test

import (
	"bytes"
	"io/fs"
	"strings"
	"testing"

	"github.com/mizanhq/mizan/internal/pgtest"
	"github.com/mizanhq/mizan/migrations"
)

// On an empty database every migration is pending, and looking changed nothing: no goose version table.
func TestStatusOfAnEmptyDatabase(t *testing.T) {
	t.Parallel()
	db := open(t, pgtest.NewEmptyDB(t))
	st, err := migrations.ReadStatus(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := fs.Glob(migrations.FS, "*.sql")
	if len(st.Migrations) != len(files) || len(st.Pending()) != len(files) {
		t.Fatalf("%d migrations, %d pending; want all %d, every one pending", len(st.Migrations), len(st.Pending()), len(files))
	}
	var created bool
	if err := db.QueryRowContext(t.Context(), `SELECT to_regclass('goose_db_version') IS NOT NULL`).Scan(&created); err != nil {
		t.Fatal(err)
	}
	if created {
		t.Error("ReadStatus created goose's version table: it must only read")
	}
	var out bytes.Buffer
	st.Print(&out)
	if !strings.HasPrefix(out.String(), "0 of ") || !strings.Contains(out.String(), "00001_") || !strings.Contains(out.String(), "pending") {
		t.Errorf("status of an empty database:\n%s", out.String())
	}
}

// On a migrated database every migration is applied; one rolled back is pending again, and a version the
// binary does not carry is reported.
func TestStatusOfAMigratedDatabase(t *testing.T) {
	t.Parallel()
	_, url := pgtest.NewDB(t)
	db := open(t, url)
	st, err := migrations.ReadStatus(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(st.Pending()); n != 0 || len(st.Unknown) != 0 {
		t.Fatalf("%d pending, unknown %v; want none", n, st.Unknown)
	}
	last := st.Migrations[len(st.Migrations)-1]
	// What goose writes when it rolls one back, and when a newer binary applied one this one lacks.
	if _, err := db.ExecContext(t.Context(), `INSERT INTO goose_db_version (version_id, is_applied) VALUES ($1, false), (99999, true)`,
		last.Version); err != nil {
		t.Fatal(err)
	}
	st, err = migrations.ReadStatus(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	if p := st.Pending(); len(p) != 1 || p[0].Version != last.Version {
		t.Errorf("pending %v, want only %s", p, last.File)
	}
	var out bytes.Buffer
	st.Print(&out)
	want := []string{"1 pending", last.File + " ", "version 99999 is applied but this binary does not have it"}
	for _, w := range want {
		if !strings.Contains(out.String(), w) {
			t.Errorf("status lacks %q:\n%s", w, out.String())
		}
	}
}
