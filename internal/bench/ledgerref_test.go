package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mizanhq/mizan/internal/pgtest"
)

// The independent reference is a sound ledger, not a fast table: it takes the workload exactly (every
// wallet at the provider's balance, over two connections), takes it again as nothing, and refuses an
// unbalanced entry and any change to what it holds.
func TestTheIndependentReferenceIsASoundLedger(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	work, err := NewWorkload(ctx, 600, 0, 3)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := work.Entries(false)
	if err != nil {
		t.Fatal(err)
	}
	db, err := CreateBareDatabase(ctx, pgtest.AdminURL(), "ledgerref_test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Drop() })
	ref, err := NewLedgerRef(ctx, db, entries, work.Items, work.Wallets, 100)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ref.Pass(ctx, work.Items, 2, false, 0); err != nil {
		t.Fatalf("ingest: %v", err)
	}
	// A replay inserts no posting (Pass checks each batch's count) and leaves every balance where it was.
	if _, err := ref.Pass(ctx, work.Items, 1, true, 0); err != nil {
		t.Fatalf("replay: %v", err)
	}

	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var a, b int64
	if err := conn.QueryRow(ctx, `SELECT min(id), max(id) FROM benchref.accounts`).Scan(&a, &b); err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, ledgerRefInsert, []string{"unbalanced"}, []time.Time{time.Now()}, []string{""}, []string{"{}"},
		[]int64{1, 1}, []int64{a, b}, []string{"IRT", "IRT"}, []string{"100", "-99"})
	if err == nil || !strings.Contains(err.Error(), "do not sum to zero") {
		t.Fatalf("an unbalanced entry: got %v, want it refused", err)
	}
	for _, sql := range []string{`UPDATE benchref.postings SET amount = amount + 1`, `DELETE FROM benchref.entries`,
		`TRUNCATE benchref.postings`} {
		if _, err := conn.Exec(ctx, sql); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: got %v, want it refused", sql, err)
		}
	}
	var entriesNow int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM benchref.entries`).Scan(&entriesNow); err != nil {
		t.Fatal(err)
	}
	if entriesNow != len(entries) {
		t.Fatalf("%d entries after the refusals, want %d", entriesNow, len(entries))
	}
}
