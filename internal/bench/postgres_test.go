package bench

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/mizanhq/mizan/internal/pgtest"
)

// bench --without removes what it names, and only that: each feature exists in mizan's schema as migrated
// (so its SQL cannot rot while a migration renames it) and is gone from a database created without it.
func TestAFeatureLeftOutIsGoneAndOnlyIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	present := func(db *Database) map[string]bool {
		t.Helper()
		conn, err := pgx.Connect(ctx, db.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var index, trigger bool
		err = conn.QueryRow(ctx, `SELECT to_regclass('ledger.entries_references_idx') IS NOT NULL,
			EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'entries_record_sources'
			                                   AND tgrelid = 'ledger.entries'::regclass)`).Scan(&index, &trigger)
		if err != nil {
			t.Fatal(err)
		}
		return map[string]bool{"references-index": index, "entry-sources": trigger}
	}
	if db, err := CreateDatabase(ctx, pgtest.AdminURL(), "bench_without_test", "no-such-feature"); err == nil {
		_ = db.Drop()
		t.Error("a feature that does not exist was left out without a word: the run would measure all of them")
	}
	all := slices.Sorted(maps.Keys(Features))
	for _, without := range [][]string{nil, {"references-index"}, all} {
		db, err := CreateDatabase(ctx, pgtest.AdminURL(), "bench_without_test", without...)
		if err != nil {
			t.Fatalf("without %q: %v", without, err)
		}
		got := present(db)
		_ = db.Drop()
		if len(got) != len(Features) {
			t.Fatalf("the test knows %d features, bench.Features has %d", len(got), len(Features))
		}
		for _, f := range all {
			if want := !slices.Contains(without, f); got[f] != want {
				t.Errorf("without %q: %s present %v, want %v", without, f, got[f], want)
			}
		}
	}
}
