-- The reconciler's own state: the events it has applied, its dead letters, the open alerts it reports as
-- gauges. `make generate` turns these into package reconcilerdb.
-- Written by hand in schema.go: the two reads of goose_db_version, goose's own table, which no migration
-- creates and sqlc therefore does not know.

-- name: RecordProcessedEvents :many
-- Records a batch's event ids; returns the ones new to the ledger (the others were applied before).
-- The unnests in the select list zip the arrays as unnest(a, b, …) would (which sqlc does not know).
INSERT INTO recon.processed_events (event_id, topic, partition, "offset")
SELECT unnest(sqlc.arg(event_ids)::text[]), unnest(sqlc.arg(topics)::text[]), unnest(sqlc.arg(partitions)::int[]),
    unnest(sqlc.arg(offsets)::bigint[])
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id;

-- name: RecordDeadLetter :one
-- Returns no row when the message at that position was refused before: it is the same dead letter.
INSERT INTO recon.dead_letters (topic, partition, "offset", event_id, event_type, source, message_key,
    reason_code, reason, error_class, size, sha256, original, truncated, refused_by, refused_at)
VALUES (sqlc.arg(topic), sqlc.arg(partition), sqlc.arg(message_offset), nullif(sqlc.arg(event_id)::text, ''),
    nullif(sqlc.arg(event_type)::text, ''), nullif(sqlc.arg(source)::text, ''), nullif(sqlc.arg(message_key)::text, ''),
    sqlc.arg(reason_code), sqlc.arg(reason), 'message', sqlc.arg(size), sqlc.arg(sha256), sqlc.arg(original),
    sqlc.arg(truncated), sqlc.arg(refused_by), sqlc.arg(refused_at))
ON CONFLICT (topic, partition, "offset") DO NOTHING
RETURNING id;

-- name: MarkDeadLettersPublished :exec
UPDATE recon.dead_letters SET published_at = now() WHERE id = ANY(sqlc.arg(ids)::bigint[]);

-- name: UnpublishedDeadLetters :many
SELECT * FROM recon.dead_letters WHERE published_at IS NULL AND id > sqlc.arg(after) ORDER BY id LIMIT 100;

-- name: DeadLettersByID :many
SELECT * FROM recon.dead_letters WHERE id = ANY(sqlc.arg(ids)::bigint[]) ORDER BY id;

-- name: DeadLettersToReplay :many
-- The dead letters refused at or after since that no replay has applied yet.
SELECT * FROM recon.dead_letters WHERE refused_at >= sqlc.arg(since)
    AND replay_outcome IS DISTINCT FROM 'applied' AND replay_outcome IS DISTINCT FROM 'duplicate'
ORDER BY id;

-- name: ListDeadLetters :many
SELECT id, refused_at, topic, partition, "offset", coalesce(event_id, '')::text AS event_id, reason_code, size,
    truncated, (published_at IS NOT NULL)::boolean AS published, coalesce(replay_outcome, '')::text AS replay_outcome,
    reason
FROM recon.dead_letters WHERE refused_at >= sqlc.arg(since) ORDER BY id;

-- name: DeadLettersLeft :one
-- Whether any dead letter of one origin and reason code is still not applied by a replay.
SELECT EXISTS (SELECT 1 FROM recon.dead_letters
    WHERE coalesce(nullif(message_key, ''), nullif(source, ''), topic) = sqlc.arg(origin)::text
      AND reason_code = sqlc.arg(reason_code)
      AND replay_outcome IS DISTINCT FROM 'applied' AND replay_outcome IS DISTINCT FROM 'duplicate')::boolean;

-- name: RecordReplay :exec
UPDATE recon.dead_letters SET replayed_at = now(), replay_outcome = sqlc.arg(outcome)::text,
    replay_error = nullif(sqlc.arg(error)::text, '')
WHERE id = sqlc.arg(id);

-- name: AlertCounts :many
-- Open alerts per kind and severity, and the state changes Slack has not accepted yet (the outbox of
-- alerts.Dispatcher.Deliver).
SELECT kind, severity,
	count(*) FILTER (WHERE resolved_at IS NULL) AS open,
	count(*) FILTER (WHERE open_sent_at IS NULL OR (resolved_at IS NOT NULL AND resolved_sent_at IS NULL)) AS unsent
FROM recon.alerts
WHERE resolved_at IS NULL OR resolved_sent_at IS NULL
GROUP BY 1, 2;
