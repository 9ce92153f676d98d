package pgtest_test

import (
	"context"
	"testing"

	"github.com/mizanhq/mizan/internal/pgtest"
)

func TestNewDBIsMigratedAndPrivate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, urlA := pgtest.NewDB(t)
	b, urlB := pgtest.NewDB(t)
	if urlA == urlB {
		t.Fatalf("two tests got the same database %s", urlA)
	}

	if _, err := a.Exec(ctx, `INSERT INTO ledger.accounts (code, type, currency) VALUES ('assets:x', 'asset', 'EUR')`); err != nil {
		t.Fatalf("insert into the migrated schema: %v", err)
	}
	var n int
	if err := b.QueryRow(ctx, `SELECT count(*) FROM ledger.accounts`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("the other test's database has %d accounts, want 0", n)
	}
}

func TestNewDBIsDroppedAtCleanup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var name string
	t.Run("user", func(t *testing.T) {
		pool, _ := pgtest.NewDB(t)
		if err := pool.QueryRow(ctx, `SELECT current_database()`).Scan(&name); err != nil {
			t.Fatal(err)
		}
	})
	admin, _ := pgtest.NewDB(t) // any database on the same server will do to look
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("database %s still exists after its test ended", name)
	}
}
