package reconciler_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mizanhq/mizan/internal/apply"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/ledger"
	"github.com/mizanhq/mizan/internal/pgtest"
	"github.com/mizanhq/mizan/internal/reconciler"
)

// Every failure the reconciler meets is exactly one class, decided in one place. The PostgreSQL errors here
// are real: each statement makes the server answer with the SQLSTATE named.
func TestEveryFailureIsExactlyOneClass(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewDB(t)
	ctx := context.Background()
	pgErr := func(sql string) error {
		t.Helper()
		_, err := pool.Exec(ctx, sql)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) {
			t.Fatalf("%s: %v, want a PostgreSQL error", sql, err)
		}
		return fmt.Errorf("apply batch: %w", err)
	}
	raise := func(code string) error {
		return pgErr(fmt.Sprintf(`DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '%s'; END $$`, code))
	}
	_, ledgerErr := ledger.Apply(ctx, nil, []ledger.Entry{{IdempotencyKey: "k", EffectiveAt: t0}})
	tests := []struct {
		name string
		err  error
		want reconciler.Class
	}{
		{"undefined table (42P01): an unmigrated database", pgErr(`SELECT * FROM recon.no_such_table`), reconciler.Environment},
		{"undefined column (42703): a schema older than the binary", pgErr(`SELECT no_such_column FROM recon.alerts`), reconciler.Environment},
		{"undefined function (42883)", pgErr(`SELECT recon.no_such_function()`), reconciler.Environment},
		{"insufficient privilege (42501): a revoked grant", raise("42501"), reconciler.Environment},
		{"invalid schema name (3F000)", raise("3F000"), reconciler.Environment},
		{"a schema version mismatch", &reconciler.EnvironmentError{Expected: 30, Found: 24, Err: errors.New("older")}, reconciler.Environment},
		{"NUL byte in text (22021)", pgErr("SELECT convert_from('\\x00'::bytea, 'UTF8')"), reconciler.Message},
		{"a number out of range (22003)", pgErr(`SELECT 1e400::numeric::float8`), reconciler.Message},
		{"a ledger invariant (23001 from a trigger)", raise("23001"), reconciler.Message},
		{"a value too long for an index (54000)", raise("54000"), reconciler.Message},
		{"raised by PL/pgSQL (P0001)", pgErr(`DO $$ BEGIN RAISE EXCEPTION 'no'; END $$`), reconciler.Message},
		{"serialization failure (40001)", raise("40001"), reconciler.Infrastructure},
		{"deadlock (40P01)", raise("40P01"), reconciler.Infrastructure},
		{"connection failure (08006)", raise("08006"), reconciler.Infrastructure},
		{"too many connections (53300)", raise("53300"), reconciler.Infrastructure},
		{"admin shutdown, a failover (57P01)", raise("57P01"), reconciler.Infrastructure},
		{"lock not available (55P03)", raise("55P03"), reconciler.Infrastructure},
		{"a ledger entry that is invalid", ledgerErr, reconciler.Message},
		{"an idempotency key given twice with different content", fmt.Errorf("post: %w", &ledger.EntryError{Key: "k", Err: ledger.ErrConflict}), reconciler.Message},
		{"a fact no rule applies", &apply.FactError{EventID: "e", Err: errors.New("no posting rule")}, reconciler.Message},
		{"a malformed event", fmt.Errorf("decode: %w", events.ErrMalformed), reconciler.Message},
		{"a connection refused", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, reconciler.Infrastructure},
		{"a connection cut", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), reconciler.Infrastructure},
		{"a timeout", context.DeadlineExceeded, reconciler.Infrastructure},
		{"anything unknown: retried loudly, never thrown away", errors.New("something new"), reconciler.Infrastructure},
	}
	for _, tt := range tests {
		if got := reconciler.Classify(tt.err); got != tt.want {
			t.Errorf("%s: %v is %s, want %s", tt.name, tt.err, got, tt.want)
		}
	}
	if ledgerErr == nil {
		t.Fatal("the ledger accepted an entry without postings")
	}
}
