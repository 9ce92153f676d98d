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

-- Bank accounts: their statements' lines and balances, and the payouts awaiting their credits. A day the
-- facts carry as text (events.DateLayout) is passed as text and read by PostgreSQL as a date, as it was.

-- name: LockBank :exec
-- A bank account's advisory lock, held to the end of the transaction.
SELECT pg_advisory_xact_lock(hashtextextended(sqlc.arg(key)::text, 0));

-- name: FollowedBanks :many
-- Which of the IBANs mizan reads the statements of.
SELECT account FROM recon.sources WHERE account = ANY(sqlc.arg(ibans)::text[])
UNION SELECT iban FROM recon.bank_accounts WHERE iban = ANY(sqlc.arg(ibans)::text[]);

-- name: EntryEffectiveAt :one
SELECT effective_at FROM ledger.entries WHERE idempotency_key = $1;

-- name: RecordBankPayout :exec
INSERT INTO recon.bank_payouts (payout_key, provider, account, iban, currency, amount, transaction_id,
    settlement_id, batch_id, track_id, payment_number, paid_at, paid_day, window_from, due_day, status, event_id)
VALUES (sqlc.arg(payout_key), sqlc.arg(provider), sqlc.arg(account), sqlc.arg(iban), sqlc.arg(currency),
    sqlc.arg(amount), nullif(sqlc.arg(transaction_id)::text, ''), nullif(sqlc.arg(settlement_id)::text, ''),
    nullif(sqlc.arg(batch_id)::text, ''), nullif(sqlc.arg(track_id)::text, ''),
    nullif(sqlc.arg(payment_number)::text, ''), sqlc.arg(paid_at), sqlc.arg(paid_day), sqlc.arg(window_from),
    sqlc.arg(due_day), 'unconfirmed', sqlc.arg(event_id))
ON CONFLICT (payout_key) DO NOTHING;

-- name: RecordBankAccount :one
-- Records a bank account the first time one of its facts comes; returns the currency it is kept in.
WITH ins AS (INSERT INTO recon.bank_accounts (iban, provider, currency) VALUES (sqlc.arg(iban), sqlc.arg(provider), sqlc.arg(currency))
    ON CONFLICT (iban) DO NOTHING RETURNING currency)
SELECT currency FROM ins UNION ALL SELECT currency FROM recon.bank_accounts WHERE iban = sqlc.arg(iban);

-- name: RecordBankLine :execrows
-- A line recorded before (the same line in another statement) records nothing: no row affected.
INSERT INTO recon.bank_lines (iban, line_id, provider, currency, booking_date, value_date, booked_at, amount,
    end_to_end_id, bank_reference, entry_reference, description, counterparty_iban, counterparty_name,
    statement_id, file, line_no, event_id, payout_like)
VALUES (sqlc.arg(iban), sqlc.arg(line_id), sqlc.arg(provider), sqlc.arg(currency), (sqlc.arg(booking_date)::text)::date,
    nullif(sqlc.arg(value_date)::text, '')::date, sqlc.arg(booked_at), sqlc.arg(amount),
    nullif(sqlc.arg(end_to_end_id)::text, ''), nullif(sqlc.arg(bank_reference)::text, ''),
    nullif(sqlc.arg(entry_reference)::text, ''), nullif(sqlc.arg(description)::text, ''),
    nullif(sqlc.arg(counterparty_iban)::text, ''), nullif(sqlc.arg(counterparty_name)::text, ''),
    nullif(sqlc.arg(statement_id)::text, ''), nullif(sqlc.arg(file)::text, ''), nullif(sqlc.arg(line_no)::int, 0),
    sqlc.arg(event_id), sqlc.arg(payout_like))
ON CONFLICT (iban, line_id) DO NOTHING;

-- name: CoverBankStatement :exec
-- How far a bank account's statements reach, widened by a statement from covers_from to covers_to.
UPDATE recon.bank_accounts SET covered_from = least(covered_from, (sqlc.arg(covers_from)::text)::date),
    covered_through = greatest(covered_through, (sqlc.arg(covers_to)::text)::date), updated_at = now()
WHERE iban = sqlc.arg(iban) AND (covered_from IS NULL OR covered_from > (sqlc.arg(covers_from)::text)::date
                     OR covered_through IS NULL OR covered_through < (sqlc.arg(covers_to)::text)::date);

-- name: BankOpenedOn :one
SELECT opened_on FROM recon.bank_accounts WHERE iban = $1;

-- name: OpenBankAccount :exec
UPDATE recon.bank_accounts SET opened_on = (sqlc.arg(opened_on)::text)::date, updated_at = now() WHERE iban = sqlc.arg(iban);

-- name: RecordBankBalance :exec
INSERT INTO recon.bank_balances (event_id, iban, provider, currency, statement_id, kind, day, at, reported, ledger,
    difference, outcome, covers_from, covers_to, file)
VALUES (sqlc.arg(event_id), sqlc.arg(iban), sqlc.arg(provider), sqlc.arg(currency),
    nullif(sqlc.arg(statement_id)::text, ''), sqlc.arg(kind), (sqlc.arg(day)::text)::date, sqlc.arg(at),
    sqlc.narg(reported), sqlc.narg(ledger), sqlc.narg(difference), sqlc.arg(outcome),
    (sqlc.arg(covers_from)::text)::date, (sqlc.arg(covers_to)::text)::date, nullif(sqlc.arg(file)::text, ''))
ON CONFLICT (event_id) DO NOTHING;

-- name: OpenCredits :many
-- A bank account's credits no payout has met, booked from one day to another.
SELECT line_id, booking_date, amount, currency, coalesce(end_to_end_id, '')::text AS end_to_end_id,
    coalesce(bank_reference, '')::text AS bank_reference, coalesce(entry_reference, '')::text AS entry_reference,
    coalesce(description, '')::text AS description, booked_at
FROM recon.bank_lines
WHERE iban = sqlc.arg(iban) AND payout_key IS NULL AND amount > 0
  AND booking_date BETWEEN sqlc.arg(from_day)::date AND sqlc.arg(to_day)::date;

-- name: MatchPayout :exec
UPDATE recon.bank_payouts SET status = 'matched', line_id = sqlc.arg(line_id)::text, rule = sqlc.arg(rule)::text,
    credited = sqlc.arg(credited)::numeric, difference = sqlc.arg(difference)::numeric, matched_at = now(), updated_at = now()
WHERE payout_key = sqlc.arg(payout_key);

-- name: MatchLine :exec
UPDATE recon.bank_lines SET payout_key = sqlc.arg(payout_key)::text WHERE iban = sqlc.arg(iban) AND line_id = sqlc.arg(line_id);

-- name: AwaitingPayouts :many
-- The payouts to a bank account no credit has met yet.
SELECT payout_key, provider, account, iban, currency, amount, coalesce(transaction_id, '')::text AS transaction_id,
    coalesce(settlement_id, '')::text AS settlement_id, coalesce(batch_id, '')::text AS batch_id,
    coalesce(track_id, '')::text AS track_id, coalesce(payment_number, '')::text AS payment_number,
    paid_at, paid_day, window_from, due_day
FROM recon.bank_payouts WHERE iban = $1 AND status = 'unconfirmed';

-- name: MissingPayouts :many
-- The unconfirmed payouts (to every bank account, or to ibans) whose due day the statements have passed.
SELECT p.payout_key, p.provider, p.account, p.iban, p.currency, p.amount,
    coalesce(p.transaction_id, '')::text AS transaction_id, coalesce(p.settlement_id, '')::text AS settlement_id,
    coalesce(p.batch_id, '')::text AS batch_id, coalesce(p.track_id, '')::text AS track_id,
    coalesce(p.payment_number, '')::text AS payment_number, p.paid_at, p.paid_day, p.window_from, p.due_day,
    b.covered_from::date AS covered_from, b.covered_through::date AS covered_through
FROM recon.bank_payouts p JOIN recon.bank_accounts b ON b.iban = p.iban
WHERE p.status = 'unconfirmed' AND p.missing_at IS NULL AND (sqlc.arg(all_ibans)::boolean OR p.iban = ANY(sqlc.arg(ibans)::text[]))
  AND b.covered_through >= p.due_day AND b.covered_from <= p.paid_day
ORDER BY p.paid_at, p.payout_key;

-- name: MarkPayoutMissing :execrows
-- A reconciler that matched the payout meanwhile wins: only a payout still unconfirmed is marked.
UPDATE recon.bank_payouts SET missing_at = now(), updated_at = now()
WHERE payout_key = $1 AND status = 'unconfirmed' AND missing_at IS NULL;

-- name: UnexplainedCredits :many
-- The payout-like credits (of every bank account, or of ibans) no payout has met and none alerted yet.
SELECT l.iban, l.line_id, l.booking_date, l.amount, l.currency, coalesce(l.end_to_end_id, '')::text AS end_to_end_id,
    coalesce(l.bank_reference, '')::text AS bank_reference, coalesce(l.entry_reference, '')::text AS entry_reference,
    coalesce(l.description, '')::text AS description
FROM recon.bank_lines l
WHERE l.payout_like AND l.payout_key IS NULL AND l.unexpected_at IS NULL AND l.amount > 0
  AND (sqlc.arg(all_ibans)::boolean OR l.iban = ANY(sqlc.arg(ibans)::text[]))
ORDER BY l.iban, l.booking_date, l.line_id;

-- name: MarkLineUnexpected :execrows
UPDATE recon.bank_lines SET unexpected_at = now()
WHERE iban = $1 AND line_id = $2 AND payout_key IS NULL AND unexpected_at IS NULL;

-- name: PayoutFeedsThrough :one
-- How far the payout feeds (registered with their sources, or whose watermark has been seen) have been
-- applied, and whether one of them has not been (its watermark missing, or its last event not applied).
WITH feeds AS (
    SELECT provider, account, feed FROM recon.source_feeds WHERE feed = ANY(sqlc.arg(feeds)::text[])
    UNION
    SELECT provider, account, feed FROM recon.watermarks WHERE feed = ANY(sqlc.arg(feeds)::text[])
)
-- through is only meaningful when feeds > 0 and nothing is pending: then every feed has a watermark.
SELECT count(*)::int AS feeds, coalesce(min(w.through), 'epoch')::timestamptz AS through,
    coalesce(bool_or(w.through IS NULL OR NOT (w.last_event IS NULL OR w.last_event = ''
         OR EXISTS (SELECT 1 FROM recon.processed_events p WHERE p.event_id = w.last_event))), false)::boolean AS pending
FROM feeds f
LEFT JOIN recon.watermarks w ON w.provider = f.provider AND w.account = f.account AND w.feed = f.feed;

-- name: CoveredBankAccounts :many
SELECT iban, covered_through::date AS covered_through FROM recon.bank_accounts WHERE covered_through IS NOT NULL ORDER BY iban;

-- name: ReturnBankPayout :one
UPDATE recon.bank_payouts SET status = 'returned', updated_at = now()
WHERE payout_key = $1 AND status = 'unconfirmed'
RETURNING payout_key, provider, account, iban, amount, currency, coalesce(transaction_id, '')::text AS transaction_id,
    coalesce(settlement_id, '')::text AS settlement_id, coalesce(batch_id, '')::text AS batch_id;

-- name: BankPayoutStatus :one
SELECT status FROM recon.bank_payouts WHERE payout_key = $1;
