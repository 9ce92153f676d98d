package reconciler_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/mizanhq/mizan/internal/pgtest"
)

// BenchmarkProcessedEventKey compares recording a batch's 1,000 event ids with the key as text (32 hex
// characters, the database's collation) and as the 16 bytes they encode, on tables that grow to 200,000 rows.
func BenchmarkProcessedEventKey(b *testing.B) {
	pool, _ := pgtest.NewDB(b)
	ctx := context.Background()
	for _, ddl := range []string{
		`CREATE TABLE k_text (event_id text PRIMARY KEY, topic text, partition int, "offset" bigint, applied_at timestamptz NOT NULL DEFAULT now())`,
		`CREATE TABLE k_bytea (event_key bytea PRIMARY KEY, event_id text NOT NULL, topic text, partition int, "offset" bigint, applied_at timestamptz NOT NULL DEFAULT now())`,
	} {
		if _, err := pool.Exec(ctx, ddl); err != nil {
			b.Fatal(err)
		}
	}
	const batches, per = 200, 1000
	var textT, byteaT time.Duration
	for i := range batches {
		ids := make([]string, per)
		keys := make([][]byte, per)
		topics := make([]string, per)
		parts := make([]int32, per)
		offs := make([]int64, per)
		for j := range ids {
			k := make([]byte, 16)
			_, _ = rand.Read(k)
			keys[j], ids[j] = k, hex.EncodeToString(k)
			topics[j], parts[j], offs[j] = "mizan.statement.v1", int32(j%6), int64(i*per+j)
		}
		// The statement alone, inside a transaction as the reconciler runs it: the commit's fsync is the
		// same either way.
		run := func(sql string, args ...any) time.Duration {
			tx, err := pool.Begin(ctx)
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			rows, err := tx.Query(ctx, sql, args...)
			if err != nil {
				b.Fatal(err)
			}
			for rows.Next() {
			}
			if rows.Err() != nil {
				b.Fatal(rows.Err())
			}
			d := time.Since(start)
			if err := tx.Commit(ctx); err != nil {
				b.Fatal(err)
			}
			return d
		}
		// Alternate which goes first, so that neither always meets a warmer cache.
		t := func() time.Duration {
			return run(`INSERT INTO k_text (event_id, topic, partition, "offset") SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[])
				ON CONFLICT (event_id) DO NOTHING RETURNING event_id`, ids, topics, parts, offs)
		}
		y := func() time.Duration {
			return run(`INSERT INTO k_bytea (event_key, event_id, topic, partition, "offset") SELECT * FROM unnest($1::bytea[], $2::text[], $3::text[], $4::int[], $5::bigint[])
				ON CONFLICT (event_key) DO NOTHING RETURNING event_key`, keys, ids, topics, parts, offs)
		}
		if i%2 == 0 {
			textT += t()
			byteaT += y()
		} else {
			byteaT += y()
			textT += t()
		}
	}
	b.ReportMetric(float64(textT.Microseconds())/batches/1000, "text-ms/batch")
	b.ReportMetric(float64(byteaT.Microseconds())/batches/1000, "bytea-ms/batch")
	fmt.Printf("text %.2f ms/batch, bytea %.2f ms/batch over %d batches of %d\n",
		float64(textT.Microseconds())/batches/1000, float64(byteaT.Microseconds())/batches/1000, batches, per)
}
