// Package pollstate keeps what a poller must remember between runs in PostgreSQL: each feed's cursor, the
// provider tokens (encrypted), and the advisory locks that keep two replicas from polling one source at once.
//
// It lives in the database rather than on a pod's disk because pollers run as CronJobs and Deployments whose
// pods come and go; the schema is in migrations (`poller.cursors`, `poller.tokens`).
package pollstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Cursors reads and writes feed cursors. A cursor is opaque JSON owned by the feed.
type Cursors struct{ pool *pgxpool.Pool }

// NewCursors returns a cursor store on pool.
func NewCursors(pool *pgxpool.Pool) *Cursors { return &Cursors{pool: pool} }

// Load reads the cursor of (source, feed) into v. It reports false, leaving v alone, when there is none yet.
func (c *Cursors) Load(ctx context.Context, source, feed string, v any) (bool, error) {
	var raw []byte
	err := c.pool.QueryRow(ctx, `SELECT cursor FROM poller.cursors WHERE source = $1 AND feed = $2`, source, feed).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("load cursor %s/%s: %w", source, feed, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("load cursor %s/%s: stored cursor is not valid: %w", source, feed, err)
	}
	return true, nil
}

// Save stores the cursor of (source, feed). The poller calls it only after the events the cursor moves past
// have been acknowledged by Kafka.
func (c *Cursors) Save(ctx context.Context, source, feed string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("save cursor %s/%s: %w", source, feed, err)
	}
	_, err = c.pool.Exec(ctx, `
		INSERT INTO poller.cursors (source, feed, cursor, updated_at) VALUES ($1, $2, $3, now())
		ON CONFLICT (source, feed) DO UPDATE SET cursor = EXCLUDED.cursor, updated_at = now()`, source, feed, raw)
	if err != nil {
		return fmt.Errorf("save cursor %s/%s: %w", source, feed, err)
	}
	return nil
}

// ErrLocked means another process holds the source's lock: the caller skips this tick.
var ErrLocked = errors.New("source is being polled by another process")

// Lock takes the session-level advisory lock of a source on a connection of its own, so that two replicas
// (or an overlapping CronJob) never poll one source at once. The returned release must be called; it also
// runs if the process dies, because PostgreSQL drops a session's advisory locks with the session.
func Lock(ctx context.Context, pool *pgxpool.Pool, source string) (release func(), err error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock source %s: %w", source, err)
	}
	key := lockKey(source)
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil {
		conn.Release()
		return nil, fmt.Errorf("lock source %s: %w", source, err)
	}
	if !ok {
		conn.Release()
		return nil, fmt.Errorf("lock source %s: %w", source, ErrLocked)
	}
	return func() {
		// A fresh context: the caller's may be cancelled already (SIGTERM), and the lock must still go.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
			// The lock dies with the session: make sure the session dies.
			conn.Conn().Close(ctx)
		}
		conn.Release()
	}, nil
}

// lockKey maps a source name into the advisory-lock key space, namespaced so mizan's locks don't collide with
// another application's in the same database.
func lockKey(source string) int64 {
	h := fnv.New64a()
	h.Write([]byte("mizan.poller:" + source))
	return int64(h.Sum64())
}
