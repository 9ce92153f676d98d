package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/ledger"
)

// BalanceResult is the balance check's latency at one history length.
type BalanceResult struct {
	Postings      int // on the account
	Build         time.Duration
	Calls         int
	P50, P99, Max time.Duration
	Plan          string // EXPLAIN (ANALYZE, BUFFERS) of the read ledger.balance_at makes
	CPU           CPUSplit
}

// balanceAccount is the account whose history grows.
const balanceAccount = "assets:bench:hot:wallet"

// balanceAt is the time of the account's i-th posting (1-based).
func balanceAt(i int64) time.Time {
	return time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
}

// History is one account whose history the balance check is timed on as it grows. Its history is written
// set-based, 100,000 entries a statement with every trigger on (each entry moves 1,000 from a sales account
// to the wallet, one posting each), then vacuumed, as autovacuum leaves an insert-only table.
type History struct {
	db            *Database
	pool          *pgxpool.Pool
	wallet, sales int64
	have          int
}

// NewHistory opens the account in db. Close it when done.
func NewHistory(ctx context.Context, db *Database) (*History, error) {
	pool, err := db.Pool(ctx, nil)
	if err != nil {
		return nil, err
	}
	h := &History{db: db, pool: pool}
	if _, err := pool.Exec(ctx, `INSERT INTO ledger.accounts (code, type, currency)
		VALUES ($1, 'asset', 'IRT'), ('income:bench:hot:sales', 'income', 'IRT')`, balanceAccount); err != nil {
		pool.Close()
		return nil, err
	}
	if err := pool.QueryRow(ctx, `SELECT (SELECT id FROM ledger.accounts WHERE code = $1),
		(SELECT id FROM ledger.accounts WHERE code = 'income:bench:hot:sales')`, balanceAccount).Scan(&h.wallet, &h.sales); err != nil {
		pool.Close()
		return nil, err
	}
	return h, nil
}

// Close releases the connections.
func (h *History) Close() { h.pool.Close() }

// Grow writes the account's history up to n postings and vacuums, and says how long that took.
func (h *History) Grow(ctx context.Context, n int) (time.Duration, error) {
	start := time.Now()
	for h.have < n {
		upto := min(n, h.have+100_000)
		// Entry g is booked at balanceAt(g); its wallet posting is the account's g-th, with balance 1000·g.
		_, err := h.pool.Exec(ctx, `
			WITH e AS (
				INSERT INTO ledger.entries (idempotency_key, effective_at, description, metadata)
				SELECT 'bench:hot:' || g, $3::timestamptz + g * interval '1 second', 'bench history', '{}'
				FROM generate_series($1::bigint, $2::bigint) g
				RETURNING id, effective_at)
			INSERT INTO ledger.postings (entry_id, account_id, currency, amount, balance_after, account_seq, booked_at)
			SELECT e.id, l.account_id, 'IRT', l.amount, l.amount * x.g, x.g, e.effective_at
			FROM e
			CROSS JOIN LATERAL (SELECT extract(epoch FROM e.effective_at - $3::timestamptz)::bigint AS g) x
			CROSS JOIN LATERAL (VALUES ($4::bigint, 1000), ($5::bigint, -1000)) AS l(account_id, amount)`,
			h.have+1, upto, balanceAt(0), h.wallet, h.sales)
		if err != nil {
			return 0, fmt.Errorf("build history to %d postings: %w", upto, err)
		}
		h.have = upto
	}
	if _, err := h.pool.Exec(ctx, `VACUUM (ANALYZE) ledger.postings`); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// Measure times calls balance checks (after a fifth as many to warm up) at random moments of the history, and
// checks each answer.
func (h *History) Measure(ctx context.Context, calls int) (BalanceResult, error) {
	n := h.have
	res := BalanceResult{Postings: n, Calls: calls}
	rng := rand.New(rand.NewPCG(uint64(n), 1))
	call := func() (time.Duration, error) {
		g := 1 + rng.Int64N(int64(n))
		at := balanceAt(g).Add(time.Duration(rng.Int64N(int64(time.Second))))
		begin := time.Now()
		got, err := ledger.BalanceAt(ctx, h.pool, balanceAccount, at)
		d := time.Since(begin)
		if err == nil && !got.Equal(decimal.NewFromInt(1000*g)) {
			err = fmt.Errorf("balance at posting %d: %s, want %d", g, got, 1000*g)
		}
		return d, err
	}
	// The check is timed on a warm cache, as a live account's is: one index-only pass reads the account's
	// whole index into shared buffers first. Without it the longer history's timing measures, for most
	// calls, a leaf page coming from the OS cache — about 0.1 ms, whatever the check's own cost.
	if err := h.warm(ctx); err != nil {
		return res, err
	}
	for range calls / 5 {
		if _, err := call(); err != nil {
			return res, err
		}
	}
	lat := make([]time.Duration, calls)
	meter := StartCPU(ctx, h.db.admin, h.db.Name, 0)
	for i := range lat {
		var err error
		if lat[i], err = call(); err != nil {
			return res, err
		}
	}
	res.CPU = meter.Stop(ctx)
	slices.Sort(lat)
	res.P50, res.P99, res.Max = lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1]
	var err error
	res.Plan, err = explain(ctx, h.pool, `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
		SELECT p.balance_after FROM ledger.postings p
		WHERE p.account_id = $1 AND p.booked_at <= $2
		ORDER BY p.booked_at DESC, p.account_seq DESC LIMIT 1`, h.wallet, balanceAt(int64(n/2)))
	return res, err
}

// warm reads the account's postings through the index the balance check uses.
func (h *History) warm(ctx context.Context) error {
	return pgx.BeginFunc(ctx, h.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off`); err != nil {
			return err
		}
		var n int64
		err := tx.QueryRow(ctx, `SELECT count(p.balance_after) FROM ledger.postings p
			WHERE p.account_id = $1 AND p.booked_at <= 'infinity'`, h.wallet).Scan(&n)
		if err == nil && n != int64(h.have) {
			err = fmt.Errorf("warming the cache read %d postings of %d", n, h.have)
		}
		return err
	})
}

func explain(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, sql string, args ...any) (string, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return "", err
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return strings.Join(lines, "\n"), err
}
