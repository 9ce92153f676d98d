// Package pollstate keeps what a poller must remember between runs in PostgreSQL: each feed's cursor (JSON the
// source owns), each source's credentials (sealed, see Credentials), and the advisory locks that keep two
// replicas from polling one feed, or refreshing one source's credentials, at once.
//
// It knows no provider: a cursor and a credential are opaque to it. It lives in the database rather than on a
// pod's disk because pollers run as CronJobs and Deployments whose pods come and go; the schema is in
// migrations (`poller.cursors`, `poller.credentials`).
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

	"github.com/mizanhq/mizan/internal/pollstate/pollstatedb"
)

// Cursors reads and writes feed cursors. A cursor is opaque JSON owned by the source that wrote it; it is
// not secret (an item id, a time), so it is stored in the clear, where an operator can read it.
type Cursors struct{ pool *pgxpool.Pool }

// NewCursors returns a cursor store on pool.
func NewCursors(pool *pgxpool.Pool) *Cursors { return &Cursors{pool: pool} }

// Load returns the cursor of (source, feed), or nil when there is none yet.
func (c *Cursors) Load(ctx context.Context, source, feed string) ([]byte, error) {
	raw, err := pollstatedb.New(c.pool).LoadCursor(ctx, pollstatedb.LoadCursorParams{Source: source, Feed: feed})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load cursor %s/%s: %w", source, feed, err)
	}
	return raw, nil
}

// Save stores the cursor of (source, feed), which must be JSON. The poller calls it only after the events
// the cursor moves past have been acknowledged by Kafka.
func (c *Cursors) Save(ctx context.Context, source, feed string, raw []byte) error {
	if !json.Valid(raw) {
		return fmt.Errorf("save cursor %s/%s: the source's cursor is not JSON", source, feed)
	}
	err := pollstatedb.New(c.pool).SaveCursor(ctx, pollstatedb.SaveCursorParams{Source: source, Feed: feed, Cursor: raw})
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
	ok, err := pollstatedb.New(conn).TryAdvisoryLock(ctx, key)
	if err != nil {
		conn.Release()
		return nil, fmt.Errorf("lock source %s: %w", source, err)
	}
	if !ok {
		conn.Release()
		return nil, fmt.Errorf("lock source %s: %w", source, ErrLocked)
	}
	return func() { unlock(conn, key) }, nil
}

// lockWait takes the session-level advisory lock called name on a connection of its own, waiting for it up
// to ctx. The release must be called.
//
// It waits without holding a connection: it tries, and if another session holds the lock, gives its
// connection back and tries again a little later. A waiter blocked inside pg_advisory_lock would hold a
// connection the holder may need to finish (a refresh stores what it got on another connection), and with
// the few connections a poller has, two polls of one source could wait on each other for good.
func lockWait(ctx context.Context, pool *pgxpool.Pool, name string) (release func(), err error) {
	key := lockKey(name)
	wait := 20 * time.Millisecond
	for {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", name, err)
		}
		ok, err := pollstatedb.New(conn).TryAdvisoryLock(ctx, key)
		if err != nil {
			conn.Release()
			return nil, fmt.Errorf("lock %s: %w", name, err)
		}
		if ok {
			return func() { unlock(conn, key) }, nil
		}
		conn.Release()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("lock %s: waiting for another process: %w", name, context.Cause(ctx))
		case <-t.C:
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// unlock releases an advisory lock and its connection.
func unlock(conn *pgxpool.Conn, key int64) {
	// A fresh context: the caller's may be cancelled already (SIGTERM), and the lock must still go.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := pollstatedb.New(conn).AdvisoryUnlock(ctx, key); err != nil {
		// The lock dies with the session: make sure the session dies.
		conn.Conn().Close(ctx)
	}
	conn.Release()
}

// lockKey maps a source name into the advisory-lock key space, namespaced so mizan's locks don't collide with
// another application's in the same database.
func lockKey(source string) int64 {
	h := fnv.New64a()
	h.Write([]byte("mizan.poller:" + source))
	return int64(h.Sum64())
}
