package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"
	"golang.org/x/sync/errgroup"

	"github.com/mizanhq/mizan/internal/ledger"
)

// ReferenceResult is how fast PostgreSQL took the entries the fastest idempotent way.
type ReferenceResult struct {
	Entries, Postings int
	Batch, Conns      int
	Elapsed           time.Duration
	CPU               CPUSplit
}

// Rate is entries per second.
func (r ReferenceResult) Rate() float64 { return float64(r.Entries) / r.Elapsed.Seconds() }

// The staging tables, per connection, emptied by every commit.
const referenceStaging = `
CREATE TEMP TABLE IF NOT EXISTS bench_entries (ord int, key text, effective_at timestamptz, description text, metadata text)
	ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS bench_postings (ord int, account_id bigint, currency text, amount bigint,
	balance_after bigint, account_seq bigint, booked_at timestamptz) ON COMMIT DELETE ROWS`

// referenceInsert moves a staged batch into the ledger: new entries only, and the postings of those.
const referenceInsert = `
WITH e AS (
	INSERT INTO ledger.entries (idempotency_key, effective_at, description, metadata)
	SELECT key, effective_at, description, metadata::jsonb FROM bench_entries ORDER BY ord
	ON CONFLICT (idempotency_key) DO NOTHING
	RETURNING id, idempotency_key
)
INSERT INTO ledger.postings (entry_id, account_id, currency, amount, balance_after, account_seq, booked_at)
SELECT e.id, p.account_id, p.currency, p.amount, p.balance_after, p.account_seq, p.booked_at
FROM bench_postings p JOIN bench_entries s ON s.ord = p.ord JOIN e ON e.idempotency_key = s.key`

// Reference measures the raw idempotent ingest rate of this PostgreSQL into mizan's own ledger schema (db,
// freshly migrated: every constraint and trigger of the ledger on): per batch of `batch` entries, one
// transaction that COPYs the entries and their postings into temporary staging tables and moves them into
// ledger.entries and ledger.postings with one INSERT … SELECT … ON CONFLICT (idempotency_key) DO NOTHING,
// synchronous commit on. The client computes each posting's account_seq, balance_after and booked_at, as
// ledger.Apply does, from balances it keeps itself (it is the only writer), so nothing is read back.
//
// With conns > 1 the entries are split by wallet over that many connections writing at once; a business's
// accounts are only ever written by one of them, as two reconciler replicas owning different partitions would.
func Reference(ctx context.Context, db *Database, entries []ledger.Entry, batch, conns, brokerPid int) (ReferenceResult, error) {
	res := ReferenceResult{Entries: len(entries), Postings: Postings(entries), Batch: batch, Conns: conns}
	cfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		return res, err
	}
	cfg.MaxConns = int32(conns)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return res, err
	}
	defer pool.Close()
	ids, err := createAccounts(ctx, pool, entries)
	if err != nil {
		return res, err
	}
	// Every posting's place in its account's chain, in entry order.
	type chain struct {
		balance  decimal.Decimal
		seq      int64
		bookedAt time.Time
	}
	chains := map[string]*chain{}
	type staged struct{ entries, postings [][]any }
	work := make([][]staged, conns) // per connection, its batches in order
	for _, e := range entries {
		k := 0
		if conns > 1 {
			h := fnv.New32a()
			h.Write([]byte(e.Postings[0].Account.Code))
			k = int(h.Sum32() % uint32(conns))
		}
		if n := len(work[k]); n == 0 || len(work[k][n-1].entries) == batch {
			work[k] = append(work[k], staged{})
		}
		b := &work[k][len(work[k])-1]
		meta, err := json.Marshal(e.Metadata)
		if err != nil {
			return res, err
		}
		at := e.EffectiveAt.UTC().Truncate(time.Microsecond)
		ord := len(b.entries) + 1
		b.entries = append(b.entries, []any{ord, e.IdempotencyKey, at, e.Description, string(meta)})
		for _, p := range e.Postings {
			c := chains[p.Account.Code]
			if c == nil {
				c = &chain{}
				chains[p.Account.Code] = c
			}
			c.seq++
			c.balance = c.balance.Add(p.Amount)
			if c.bookedAt.Before(at) {
				c.bookedAt = at
			}
			if p.Amount.Exponent() < 0 || c.balance.Exponent() < 0 {
				return res, fmt.Errorf("entry %s: amounts must be whole tomans", e.IdempotencyKey)
			}
			b.postings = append(b.postings, []any{ord, ids[p.Account.Code], p.Account.Currency, p.Amount.IntPart(),
				c.balance.IntPart(), c.seq, c.bookedAt})
		}
	}

	held := make([]*pgxpool.Conn, conns)
	for k := range held {
		if held[k], err = pool.Acquire(ctx); err != nil {
			return res, err
		}
		defer held[k].Release()
		if _, err := held[k].Exec(ctx, referenceStaging); err != nil {
			return res, fmt.Errorf("staging tables: %w", err)
		}
	}
	db.Checkpoint(ctx)
	meter := StartCPU(ctx, db.admin, db.Name, brokerPid)
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for k, c := range held {
		g.Go(func() error {
			for _, b := range work[k] {
				err := pgx.BeginFunc(gctx, c, func(tx pgx.Tx) error {
					if _, err := tx.CopyFrom(gctx, pgx.Identifier{"bench_entries"},
						[]string{"ord", "key", "effective_at", "description", "metadata"}, pgx.CopyFromRows(b.entries)); err != nil {
						return fmt.Errorf("copy entries: %w", err)
					}
					if _, err := tx.CopyFrom(gctx, pgx.Identifier{"bench_postings"},
						[]string{"ord", "account_id", "currency", "amount", "balance_after", "account_seq", "booked_at"},
						pgx.CopyFromRows(b.postings)); err != nil {
						return fmt.Errorf("copy postings: %w", err)
					}
					tag, err := tx.Exec(gctx, referenceInsert)
					if err != nil {
						return fmt.Errorf("insert: %w", err)
					}
					if int(tag.RowsAffected()) != len(b.postings) {
						return fmt.Errorf("inserted %d postings of %d", tag.RowsAffected(), len(b.postings))
					}
					return nil
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
	err = g.Wait()
	res.Elapsed = time.Since(start)
	res.CPU = meter.Stop(ctx)
	if err != nil {
		return res, fmt.Errorf("reference ingest: %w", err)
	}
	var n int
	if err := held[0].QueryRow(ctx, `SELECT count(*) FROM ledger.entries`).Scan(&n); err != nil {
		return res, err
	}
	if n != len(entries) {
		return res, fmt.Errorf("reference ingest: %d entries in the ledger, want %d", n, len(entries))
	}
	return res, nil
}

// createAccounts creates the entries' accounts (their balance rows come with them) and returns their ids.
func createAccounts(ctx context.Context, pool *pgxpool.Pool, entries []ledger.Entry) (map[string]int64, error) {
	seen := map[string]bool{}
	var codes, types, currencies []string
	for _, e := range entries {
		for _, p := range e.Postings {
			if !seen[p.Account.Code] {
				seen[p.Account.Code] = true
				codes = append(codes, p.Account.Code)
				types = append(types, string(p.Account.Type))
				currencies = append(currencies, p.Account.Currency)
			}
		}
	}
	if _, err := pool.Exec(ctx, `INSERT INTO ledger.accounts (code, type, currency)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ORDER BY 1 ON CONFLICT (code) DO NOTHING`,
		codes, types, currencies); err != nil {
		return nil, fmt.Errorf("create accounts: %w", err)
	}
	return idsByCode(ctx, pool, `SELECT code, id FROM ledger.accounts`)
}

// idsByCode reads a query's (code, id) rows: the accounts' ids by code, for the entries the bench builds.
func idsByCode(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, sql string) (map[string]int64, error) {
	rows, err := q.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ids := map[string]int64{}
	for rows.Next() {
		var code string
		var id int64
		if err := rows.Scan(&code, &id); err != nil {
			return nil, err
		}
		ids[code] = id
	}
	return ids, rows.Err()
}
