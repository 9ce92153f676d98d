-- What applying facts reads and writes besides the ledger's entries (package ledger posts those).
-- `make generate` turns these into package applydb. Arrays passed to several unnests in a select list are
-- zipped, element by element, as unnest(a, b, …) would zip them (a form sqlc cannot type).

-- name: OpenedWallets :many
-- Which of the wallets have had anything posted to them.
SELECT a.code FROM ledger.accounts a JOIN ledger.account_balances b ON b.account_id = a.id
WHERE a.code = ANY(sqlc.arg(codes)::text[]) AND b.last_seq > 0;

-- name: StoreWatermark :exec
-- Keeps, per (provider, account, feed), the furthest watermark seen.
INSERT INTO recon.watermarks (provider, account, feed, source, through, last_event, polled_at, updated_at)
VALUES (sqlc.arg(provider), sqlc.arg(account), sqlc.arg(feed), sqlc.arg(source), sqlc.arg(through),
    sqlc.arg(last_event)::text, sqlc.arg(polled_at), now())
ON CONFLICT (provider, account, feed) DO UPDATE SET
    source = EXCLUDED.source, through = EXCLUDED.through, last_event = EXCLUDED.last_event,
    polled_at = EXCLUDED.polled_at, updated_at = now()
WHERE recon.watermarks.through <= EXCLUDED.through;

-- name: StoreBalance :exec
INSERT INTO recon.balance_observations (event_id, provider, account, currency, amount, figures, observed_at)
VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: MarkBalanceChecked :exec
UPDATE recon.balance_observations SET checked_at = now() WHERE event_id = $1;

-- name: PreviousSnapshot :one
-- The observation of the same account and currency just before observed_at.
SELECT amount, coalesce(figures, '{}')::jsonb AS figures, observed_at FROM recon.balance_observations
WHERE provider = $1 AND account = $2 AND currency = $3 AND observed_at < sqlc.arg(before)
ORDER BY observed_at DESC LIMIT 1;

-- name: RecordQuarantined :exec
INSERT INTO recon.quarantined (event_id, provider, account, feed, endpoint, item_id, reason, raw, observed_at)
VALUES (sqlc.arg(event_id), sqlc.arg(provider), sqlc.arg(account), sqlc.arg(feed), sqlc.arg(endpoint),
    nullif(sqlc.arg(item_id)::text, ''), sqlc.arg(reason), sqlc.arg(raw), sqlc.arg(observed_at))
ON CONFLICT (event_id) DO NOTHING;

-- name: LockRunningBalances :many
SELECT subject, last_item_id, last_wallet FROM recon.running_balances
WHERE subject = ANY(sqlc.arg(subjects)::text[]) FOR UPDATE;

-- name: PostedItems :many
-- What the ledger posted for statement items, as their entries' metadata recorded it.
SELECT idempotency_key, (metadata->>'amount')::numeric AS amount, (metadata->>'fee')::numeric AS fee,
    (metadata->>'direction')::text AS direction
FROM ledger.entries WHERE idempotency_key = ANY(sqlc.arg(keys)::text[]) AND metadata ? 'amount';

-- name: StoreRunningBalances :exec
INSERT INTO recon.running_balances (subject, last_item_id, last_wallet, updated_at)
SELECT unnest(sqlc.arg(subjects)::text[]), unnest(sqlc.arg(item_ids)::text[]), unnest(sqlc.arg(wallets)::numeric[]), now()
ON CONFLICT (subject) DO UPDATE SET last_item_id = EXCLUDED.last_item_id, last_wallet = EXCLUDED.last_wallet,
    updated_at = now();

-- name: DueBalances :many
-- The unchecked balances of the accounts (providers[i], accounts[i]) that their statement has caught up with:
-- its watermark has passed the observation, and the event the watermark vouches for has been applied.
SELECT o.event_id, o.provider, o.account, o.currency, o.amount, o.observed_at, w.through, w.polled_at
FROM (SELECT unnest(sqlc.arg(providers)::text[]) AS provider, unnest(sqlc.arg(accounts)::text[]) AS account) AS k
JOIN recon.balance_observations o ON o.provider = k.provider AND o.account = k.account
JOIN recon.watermarks w ON w.provider = o.provider AND w.account = o.account AND w.feed = 'statement'
WHERE o.checked_at IS NULL AND w.through >= o.observed_at
  AND (w.last_event IS NULL OR w.last_event = ''
       OR EXISTS (SELECT 1 FROM recon.processed_events p WHERE p.event_id = w.last_event))
ORDER BY o.observed_at, o.event_id
FOR UPDATE OF o;

-- name: SourcesLastPolled :many
-- Each source's oldest feed poll: one staleness verdict per source.
SELECT provider, account, min(polled_at)::timestamptz AS polled_at FROM recon.watermarks
GROUP BY provider, account ORDER BY 1, 2;

-- name: OpenSettlements :many
-- The settlements not yet done and not yet returned.
SELECT provider, account, settlement_id, coalesce(transaction_id, '')::text AS transaction_id,
    coalesce(track_id, '')::text AS track_id, status, amount, fee, currency, coalesce(iban, '')::text AS iban,
    coalesce(created_at, status_since)::timestamptz AS created_at, predicted_at, status_since,
    (returned_at IS NOT NULL)::boolean AS returned, last_seen_at
FROM recon.settlements WHERE status <> 'DONE' AND returned_at IS NULL;

-- name: RecordSettlement :one
-- A settlement's latest state. status_since moves only when the status changes: a settlement seen PENDING on
-- every poll has been pending since the first time. Returns whether its money has come back.
INSERT INTO recon.settlements (provider, account, settlement_id, transaction_id, track_id, status, amount, fee,
    currency, iban, queued, created_at, predicted_at, status_since, last_seen_at, done_at)
VALUES (sqlc.arg(provider), sqlc.arg(account), sqlc.arg(settlement_id), nullif(sqlc.arg(transaction_id)::text, ''),
    nullif(sqlc.arg(track_id)::text, ''), sqlc.arg(status)::text, sqlc.arg(amount), sqlc.arg(fee), sqlc.arg(currency),
    nullif(sqlc.arg(iban)::text, ''), sqlc.arg(queued), sqlc.narg(created_at), sqlc.narg(predicted_at),
    sqlc.arg(observed_at)::timestamptz, sqlc.arg(observed_at)::timestamptz,
    CASE WHEN sqlc.arg(status)::text = 'DONE' THEN sqlc.arg(observed_at)::timestamptz END)
ON CONFLICT (provider, account, settlement_id) DO UPDATE SET
    transaction_id = coalesce(EXCLUDED.transaction_id, recon.settlements.transaction_id),
    track_id = coalesce(EXCLUDED.track_id, recon.settlements.track_id),
    status_since = CASE WHEN recon.settlements.status = EXCLUDED.status THEN recon.settlements.status_since
        ELSE EXCLUDED.status_since END,
    done_at = coalesce(recon.settlements.done_at, EXCLUDED.done_at),
    last_seen_at = greatest(recon.settlements.last_seen_at, EXCLUDED.last_seen_at),
    status = EXCLUDED.status, amount = EXCLUDED.amount, fee = EXCLUDED.fee, iban = EXCLUDED.iban,
    queued = EXCLUDED.queued, predicted_at = EXCLUDED.predicted_at, updated_at = now()
RETURNING (returned_at IS NOT NULL)::boolean AS returned;

-- name: MatchSettlementReturn :execrows
-- The return item may have come first: it travels on the statement topic.
UPDATE recon.settlements s SET returned_at = r.returned_at
FROM recon.settlement_returns r
WHERE s.provider = $1 AND s.account = $2 AND s.settlement_id = $3
  AND r.provider = s.provider AND r.account = s.account AND r.transaction_id = s.transaction_id;

-- name: RecordSettlementReturn :exec
INSERT INTO recon.settlement_returns (provider, account, transaction_id, return_item_id, returned_at)
VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING;

-- name: MarkSettlementsReturned :many
UPDATE recon.settlements SET returned_at = coalesce(returned_at, sqlc.arg(returned_at)::timestamptz), updated_at = now()
WHERE provider = sqlc.arg(provider)::text AND account = sqlc.arg(account)::text
  AND transaction_id = sqlc.arg(transaction_id)::text
RETURNING settlement_id, status, amount, currency, coalesce(iban, '')::text AS iban,
    coalesce(track_id, '')::text AS track_id, status_since;

-- name: PaidPayout :one
-- The payout-done entry of a payout whose return the ledger has posted: what it was paid to.
SELECT coalesce(d.metadata->>'iban', '')::text AS iban, coalesce(d.metadata->>'settlement_id', '')::text AS settlement_id,
    coalesce(d.metadata->>'batch_id', '')::text AS batch_id, coalesce(d.metadata->>'track_id', '')::text AS track_id
FROM ledger.entries r JOIN ledger.entries d ON d.idempotency_key = sqlc.arg(done_key)::text
WHERE r.idempotency_key = sqlc.arg(returned_key)::text;

-- name: EntryKinds :many
-- What the ledger posted under each key: the kind, the bank account and whether it awaits the bank.
SELECT idempotency_key, coalesce(metadata->>'kind', '')::text AS kind, coalesce(metadata->>'iban', '')::text AS iban,
    coalesce((metadata->>'awaits_bank')::boolean, false)::boolean AS awaits_bank
FROM ledger.entries WHERE idempotency_key = ANY(sqlc.arg(keys)::text[]);

-- name: ReturnedPayouts :many
-- Which of the payouts (providers[i], accounts[i], transaction_ids[i]) the statement has brought back, as
-- provider:account:transaction_id.
SELECT (r.provider || ':' || r.account || ':' || r.transaction_id)::text AS payout
FROM recon.settlement_returns r
JOIN (SELECT unnest(sqlc.arg(providers)::text[]) AS p, unnest(sqlc.arg(accounts)::text[]) AS a,
        unnest(sqlc.arg(transaction_ids)::text[]) AS id) AS t
  ON r.provider = t.p AND r.account = t.a AND r.transaction_id = t.id;

-- name: StatementThrough :one
-- How far an account's statement has been applied: its watermark, once the event it vouches for is in.
SELECT w.through FROM recon.watermarks w
WHERE w.provider = $1 AND w.account = $2 AND w.feed = 'statement'
  AND (w.last_event IS NULL OR w.last_event = ''
       OR EXISTS (SELECT 1 FROM recon.processed_events p WHERE p.event_id = w.last_event));
