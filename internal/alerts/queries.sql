-- Alerts, their outbox and acknowledgements. `make generate` turns these into package alertsdb.
-- Written by hand in record.go: the batch insert of check results, whose unnest arrays hold NULL elements
-- (a window with no start, a result with no expected amount), which sqlc's array parameters cannot carry.

-- name: OpenAlert :one
-- Opens an alert, or refreshes the open one of the same dedup key; inserted says which.
INSERT INTO recon.alerts (kind, severity, subject, dedup_key, summary, details)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (dedup_key) WHERE resolved_at IS NULL
DO UPDATE SET last_seen_at = now(), details = EXCLUDED.details
RETURNING (xmax = 0)::boolean AS inserted;

-- name: ResolveAlert :execrows
UPDATE recon.alerts SET resolved_at = now(), last_seen_at = now()
WHERE dedup_key = $1 AND resolved_at IS NULL;

-- name: ResolveAlertsByPrefix :exec
-- An alert whose report reached mizan at or after before stays open (checks.Result.ResolvesBefore); one
-- without a reported time (raised before mizan recorded it) resolves as it always did.
UPDATE recon.alerts SET resolved_at = now(), last_seen_at = now()
WHERE starts_with(dedup_key, sqlc.arg(prefix)::text) AND resolved_at IS NULL
  AND (sqlc.narg(before)::timestamptz IS NULL OR NOT details ? 'reported_at'
       OR (details->>'reported_at')::timestamptz < sqlc.narg(before)::timestamptz);

-- name: Explained :one
-- What the open alerts of a wallet (the wallet's subject, or one of its items') already account for.
SELECT coalesce(sum((details->>'explains')::numeric), 0)::numeric AS explained FROM recon.alerts
WHERE resolved_at IS NULL AND (subject = sqlc.arg(wallet_subject)::text OR starts_with(subject, sqlc.arg(item_prefix)::text))
  AND details ? 'explains';

-- name: TryAdvisoryLock :one
SELECT pg_try_advisory_lock(sqlc.arg(key)::bigint);

-- name: AdvisoryUnlock :exec
SELECT pg_advisory_unlock(sqlc.arg(key)::bigint);

-- name: AlertOutbox :many
-- Every alert whose opening, or whose resolution, Slack has not been told of yet.
SELECT id, kind, severity, subject, summary, details, opened_at, resolved_at, (open_sent_at IS NOT NULL)::boolean AS open_sent
FROM recon.alerts
WHERE open_sent_at IS NULL OR (resolved_at IS NOT NULL AND resolved_sent_at IS NULL)
ORDER BY id;

-- name: OpenUnsent :one
SELECT (open_sent_at IS NULL)::boolean AS unsent FROM recon.alerts WHERE id = $1;

-- name: ResolvedUnsent :one
SELECT (resolved_sent_at IS NULL)::boolean AS unsent FROM recon.alerts WHERE id = $1;

-- name: MarkOpenSent :exec
UPDATE recon.alerts SET open_sent_at = coalesce(open_sent_at, now()),
    delivery_attempts = delivery_attempts + 1, last_delivery_error = NULL
WHERE id = $1;

-- name: MarkResolvedSent :exec
UPDATE recon.alerts SET resolved_sent_at = coalesce(resolved_sent_at, now()),
    delivery_attempts = delivery_attempts + 1, last_delivery_error = NULL
WHERE id = $1;

-- name: NoteDeliveryFailure :exec
UPDATE recon.alerts SET delivery_attempts = delivery_attempts + 1, last_delivery_error = $2
WHERE id = $1;

-- name: AcknowledgementOutbox :many
-- Every acknowledgement not sent yet whose alert has been announced, oldest first.
SELECT k.alert_id, a.kind, a.severity, a.subject, a.summary, a.opened_at, k.acknowledged_by, k.note, k.acknowledged_at
FROM recon.alert_acknowledgements k
JOIN recon.alerts a ON a.id = k.alert_id
WHERE k.sent_at IS NULL AND a.open_sent_at IS NOT NULL
ORDER BY k.acknowledged_at, k.alert_id;

-- name: AcknowledgementUnsent :one
SELECT (sent_at IS NULL)::boolean AS unsent FROM recon.alert_acknowledgements WHERE alert_id = $1;

-- name: MarkAcknowledgementSent :exec
UPDATE recon.alert_acknowledgements SET sent_at = coalesce(sent_at, now()),
    delivery_attempts = delivery_attempts + 1, last_delivery_error = NULL
WHERE alert_id = $1;

-- name: NoteAcknowledgementFailure :exec
UPDATE recon.alert_acknowledgements SET delivery_attempts = delivery_attempts + 1, last_delivery_error = $2
WHERE alert_id = $1;
