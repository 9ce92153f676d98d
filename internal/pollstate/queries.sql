-- The poller's state: cursors, sealed credentials and the advisory locks. `make generate` turns these into
-- package pollstatedb.

-- name: LoadCursor :one
SELECT cursor FROM poller.cursors WHERE source = $1 AND feed = $2;

-- name: SaveCursor :exec
INSERT INTO poller.cursors (source, feed, cursor, updated_at) VALUES ($1, $2, $3, now())
ON CONFLICT (source, feed) DO UPDATE SET cursor = EXCLUDED.cursor, updated_at = now();

-- name: LoadCredentials :many
SELECT name, sealed, expires_at, updated_at FROM poller.credentials WHERE source = $1;

-- name: DeleteCredential :exec
DELETE FROM poller.credentials WHERE source = $1 AND name = $2;

-- name: SaveCredential :exec
INSERT INTO poller.credentials (source, name, sealed, expires_at, updated_at)
VALUES ($1, $2, $3, $4, now())
ON CONFLICT (source, name) DO UPDATE SET sealed = EXCLUDED.sealed,
    expires_at = EXCLUDED.expires_at, updated_at = now();

-- name: TryAdvisoryLock :one
SELECT pg_try_advisory_lock(sqlc.arg(key)::bigint);

-- name: AdvisoryUnlock :exec
SELECT pg_advisory_unlock(sqlc.arg(key)::bigint);
