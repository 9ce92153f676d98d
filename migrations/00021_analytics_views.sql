-- The analyst's surface: views over the ledger and the reconciler's state, in a schema of their own.
--
-- Why a schema of their own: these views are a published contract (docs/analysts.md; the tests run every
-- query of that document against them). The ledger's and recon's tables may be reshaped by the code that
-- writes them; a view here keeps its name and columns, and only gains columns at the end. Everything in
-- `analytics` is for analysts by definition, so the analyst role reads whatever is created here (default
-- privileges, 00022) while ledger and recon are granted table by table.
--
-- Conventions, the same in every view:
--   * Amounts are numeric, signed debit positive (an asset's balance is positive, an income's negative),
--     except columns named debits, credits, amount, fee(s): those are magnitudes, never negative.
--   * A "day" is a calendar day in Asia/Tehran (Gregorian date), where Vandar's businesses live: the day
--     2026-01-31 runs from 2026-01-31 00:00 to 2026-02-01 00:00 Tehran time (+03:30 since Iran dropped
--     daylight saving time in 2022; the IANA zone gets older dates right too). Boundaries are half-open:
--     a posting booked exactly at midnight belongs to the new day.
--   * Balances and movements follow booking time (postings.booked_at), like ledger.balance_at, so a day's
--     closing balance is exactly balance_at at the end of that day. Item-level views (wallet_movements,
--     daily_fees, settlements) follow the provider's time (entries.effective_at): a fact reported late counts
--     on the day it happened. booked_at = effective_at except for such late facts (docs/ledger.md).
--   * provider, provider_account and name come from the account code, type:provider:account:name[:detail]
--     (docs/accounts.md; internal/posting/posting.go defines the codes).

-- +goose Up
CREATE SCHEMA analytics;

COMMENT ON SCHEMA analytics IS
    'Read-only views for analysts over the ledger and the reconciler (docs/analysts.md). Days are Asia/Tehran '
    'calendar days; amounts are signed debit positive unless named debits/credits/amount/fee.';

-- Accounts ---------------------------------------------------------------------------------------------------

CREATE VIEW analytics.accounts AS
SELECT a.id                                   AS account_id,
       a.code                                 AS account,
       a.type,
       a.currency,
       nullif(split_part(a.code, ':', 2), '') AS provider,
       nullif(split_part(a.code, ':', 3), '') AS provider_account,
       nullif(split_part(a.code, ':', 4), '') AS name,
       nullif(split_part(a.code, ':', 5), '') AS detail,
       a.created_at
FROM ledger.accounts a;

COMMENT ON VIEW analytics.accounts IS
    'The chart of accounts with its code split: provider, provider_account (Vandar business, YabandPay user), '
    'name (wallet, fees, sales, refunds, settlements_in_transit, bank, cash_in, internal_transfers, '
    'opening_balance, suspense; YabandPay also reserve, deposit) and detail (the sales channel, a bank '
    'account''s IBAN, or the currency of a multi-currency provider''s account).';
COMMENT ON COLUMN analytics.accounts.detail IS
    'Sales channel (ipg, form, pos, subscription, other), IBAN (bank), or currency (eur) for multi-currency providers.';

-- Balances now -------------------------------------------------------------------------------------------------

CREATE VIEW analytics.balances AS
SELECT a.account, a.type, a.currency, a.provider, a.provider_account, a.name, a.detail,
       b.balance,
       b.last_booked_at,
       b.last_seq AS postings,
       a.account_id
FROM analytics.accounts a
JOIN ledger.account_balances b ON b.account_id = a.account_id;

COMMENT ON VIEW analytics.balances IS
    'Every account''s balance now, signed debit positive: a wallet''s is what the provider should report.';
COMMENT ON COLUMN analytics.balances.last_booked_at IS 'Booking time of the account''s latest posting (NULL: none yet).';
COMMENT ON COLUMN analytics.balances.postings IS 'Number of postings on the account so far.';

-- Balances at the end of each day -----------------------------------------------------------------------------

-- One row per account per Tehran day, from the day of its first posting through today, movement or not, so
-- "the balance on date D" is a plain lookup. Each balance is one backward index-only read, as
-- ledger.balance_at does it; a filter on account or day is applied before that read.
CREATE VIEW analytics.daily_balances AS
SELECT a.account, a.type, a.currency, a.provider, a.provider_account, a.name, a.detail,
       d.day,
       d.day_end,
       coalesce(bal.balance_after, 0) AS balance,
       d.day_end <= now()             AS closed,
       a.account_id
FROM analytics.accounts a
JOIN ledger.account_balances b ON b.account_id = a.account_id AND b.last_seq > 0
JOIN ledger.postings p1 ON p1.account_id = a.account_id AND p1.account_seq = 1
CROSS JOIN LATERAL (
    SELECT g.day::date AS day,
           ((g.day::date + 1)::timestamp AT TIME ZONE 'Asia/Tehran') AS day_end
    FROM generate_series((p1.booked_at AT TIME ZONE 'Asia/Tehran')::date::timestamp,
                         greatest(now(), b.last_booked_at) AT TIME ZONE 'Asia/Tehran',
                         interval '1 day') AS g(day)
) d
LEFT JOIN LATERAL (
    SELECT p.balance_after
    FROM ledger.postings p
    WHERE p.account_id = a.account_id
      AND p.booked_at < d.day_end
    ORDER BY p.booked_at DESC, p.account_seq DESC
    LIMIT 1
) bal ON true;

COMMENT ON VIEW analytics.daily_balances IS
    'Balance of every account at the end of each Asia/Tehran day (booking time), from its first posting''s day '
    'through today. Equals ledger.balance_at(account, day_end - 1 microsecond).';
COMMENT ON COLUMN analytics.daily_balances.day IS 'Calendar day in Asia/Tehran.';
COMMENT ON COLUMN analytics.daily_balances.day_end IS 'The next Tehran midnight: the balance counts postings booked before it.';
COMMENT ON COLUMN analytics.daily_balances.closed IS 'false for today: the day is not over and its balance can still change.';

-- Daily movements --------------------------------------------------------------------------------------------

CREATE VIEW analytics.daily_movements AS
SELECT a.account, a.type, a.currency, a.provider, a.provider_account, a.name, a.detail,
       m.day,
       m.debits,
       m.credits,
       m.net,
       m.postings,
       m.closing_balance - m.net AS opening_balance,
       m.closing_balance,
       a.account_id
FROM (SELECT p.account_id,
             (p.booked_at AT TIME ZONE 'Asia/Tehran')::date                   AS day,
             coalesce(sum(p.amount) FILTER (WHERE p.amount > 0), 0)           AS debits,
             coalesce(-sum(p.amount) FILTER (WHERE p.amount < 0), 0)          AS credits,
             sum(p.amount)                                                    AS net,
             count(*)                                                         AS postings,
             (array_agg(p.balance_after ORDER BY p.account_seq DESC))[1]      AS closing_balance
      FROM ledger.postings p
      GROUP BY p.account_id, (p.booked_at AT TIME ZONE 'Asia/Tehran')::date) m
JOIN analytics.accounts a ON a.account_id = m.account_id;

COMMENT ON VIEW analytics.daily_movements IS
    'Per account and Asia/Tehran day (booking time), the days it moved: debits and credits (magnitudes), '
    'net (debits - credits, debit positive), number of postings, and the balance before and after the day.';
COMMENT ON COLUMN analytics.daily_movements.debits IS 'Sum of the day''s positive postings.';
COMMENT ON COLUMN analytics.daily_movements.credits IS 'Sum of the day''s negative postings, as a positive number.';
COMMENT ON COLUMN analytics.daily_movements.net IS 'debits - credits: the change of the (debit-positive) balance.';

-- Wallet movements: one row per item that moved a wallet ---------------------------------------------------

-- The base of the item-level questions (fees, sales, refunds, cash-in, settlements, late facts). The gross
-- amount is the counter-account's posting: the wallet moved by amount - fee (money in) or amount + fee (out).
CREATE VIEW analytics.wallet_movements AS
SELECT e.id                                          AS entry_id,
       e.idempotency_key,
       wa.provider,
       wa.provider_account,
       wa.currency,
       wa.account                                    AS wallet_account,
       s.item_id,
       coalesce(s.kind, CASE WHEN c.names = 'opening_balance' THEN 'opening' END) AS kind,
       s.channel,
       coalesce(s.direction, CASE WHEN w.amount > 0 THEN 'in' ELSE 'out' END)     AS direction,
       s.status_code,
       e.effective_at,
       w.booked_at,
       (e.effective_at AT TIME ZONE 'Asia/Tehran')::date AS day,
       abs(c.amount)                                 AS amount,
       coalesce(f.fee, 0)                            AS fee,
       w.amount                                      AS wallet_change,
       w.balance_after                               AS wallet_balance_after,
       c.accounts                                    AS counter_account,
       s.source_event_id,
       s.returns_item_id,
       e.description
FROM ledger.entries e
JOIN ledger.postings w ON w.entry_id = e.id
JOIN analytics.accounts wa ON wa.account_id = w.account_id AND wa.name = 'wallet'
LEFT JOIN ledger.entry_sources s ON s.entry_id = e.id
LEFT JOIN LATERAL (
    SELECT sum(p.amount) AS fee
    FROM ledger.postings p
    JOIN analytics.accounts fa ON fa.account_id = p.account_id
    WHERE p.entry_id = e.id AND fa.name = 'fees'
) f ON true
LEFT JOIN LATERAL (
    SELECT sum(p.amount) AS amount,
           string_agg(ca.account, ',' ORDER BY ca.account) AS accounts,
           string_agg(DISTINCT ca.name, ',') AS names
    FROM ledger.postings p
    JOIN analytics.accounts ca ON ca.account_id = p.account_id
    WHERE p.entry_id = e.id AND ca.name NOT IN ('wallet', 'fees')
) c ON true;

COMMENT ON VIEW analytics.wallet_movements IS
    'One row per entry that moved a provider wallet (a statement item, or the opening balance): the item, its '
    'kind, channel and direction, its gross amount and fee (magnitudes), the signed change of the wallet, the '
    'counter-account, and its source event. day is the Asia/Tehran day of effective_at (the provider''s time).';
COMMENT ON COLUMN analytics.wallet_movements.amount IS 'Gross amount of the item (the counter-account''s posting), positive.';
COMMENT ON COLUMN analytics.wallet_movements.fee IS 'The provider''s fee on the item (Vandar''s wage), positive or 0.';
COMMENT ON COLUMN analytics.wallet_movements.wallet_change IS 'Signed change of the wallet: amount - fee in, -(amount + fee) out.';
COMMENT ON COLUMN analytics.wallet_movements.status_code IS 'The provider''s status code when the entry was posted.';
COMMENT ON COLUMN analytics.wallet_movements.booked_at IS 'When the wallet posting was booked: later than effective_at for a late fact.';

-- Fees per day and channel ----------------------------------------------------------------------------------

CREATE VIEW analytics.daily_fees AS
SELECT m.provider, m.provider_account, m.currency, m.day, m.channel, m.kind,
       count(*)      AS items,
       sum(m.amount) AS amount,
       sum(m.fee)    AS fees
FROM analytics.wallet_movements m
WHERE m.item_id IS NOT NULL -- statement items: what fees are charged on
GROUP BY m.provider, m.provider_account, m.currency, m.day, m.channel, m.kind;

COMMENT ON VIEW analytics.daily_fees IS
    'Per provider account, Asia/Tehran day (provider''s time), channel and kind: statement items that moved the '
    'wallet, their gross amount and the fees charged on them (the fees account''s postings).';

-- Settlement lifecycle --------------------------------------------------------------------------------------

-- A settlement's money moves three times, each by one feed (internal/posting, PayoutDone):
--   requested: a statement item of kind settlement takes it out of the wallet into settlements_in_transit;
--   settled:   the settlement or batch feed reports it paid, and a payout_done entry moves it from transit
--              to the bank account (naming the statement item as its transaction_id, where the provider
--              gives it, and the settlement otherwise);
--   returned:  a statement item of kind returned (naming it in returns_item_id) brings it back to the wallet.
-- The stages come from those ledger entries, so the view always agrees with the in-transit account. What the
-- settlement feed said last (status, predicted date, IBAN) comes from recon.settlements, joined on the
-- statement item that took the money (transaction_id).
--
-- To extend: a new stage is a new ledger movement (e.g. a partial return) — one more CTE beside `settled`
-- and `returned`, one more WHEN in `stage`; new feed facts are columns of recon.settlements added at the end.
-- Existing rows and columns stay what they are.
CREATE VIEW analytics.settlements AS
WITH transit AS (
    -- Entries that moved money into or out of transit, with the amount and the fee.
    SELECT s.provider, s.provider_account, s.kind, s.item_id, s.returns_item_id, s.settlement_id,
           s.transaction_id, s.entry_id, s.source_event_id, s.status_code, e.effective_at, t.currency,
           t.amount, coalesce(fp.fee, 0) AS fee
    FROM ledger.entry_sources s
    JOIN ledger.entries e ON e.id = s.entry_id
    JOIN ledger.postings t ON t.entry_id = s.entry_id
    JOIN analytics.accounts ta ON ta.account_id = t.account_id AND ta.name = 'settlements_in_transit'
    LEFT JOIN LATERAL (
        SELECT sum(p.amount) AS fee
        FROM ledger.postings p
        JOIN analytics.accounts fa ON fa.account_id = p.account_id AND fa.name = 'fees'
        WHERE p.entry_id = s.entry_id
    ) fp ON true
    WHERE s.kind IN ('settlement', 'returned', 'payout_done')
),
requested AS (
    SELECT * FROM transit WHERE kind = 'settlement'
),
returned AS (
    SELECT m.provider, m.provider_account, m.returns_item_id,
           -sum(m.amount)                               AS returned_amount,
           max(m.effective_at)                          AS returned_at,
           array_agg(m.item_id ORDER BY m.effective_at) AS returned_item_ids
    FROM transit m
    WHERE m.kind = 'returned' AND m.returns_item_id IS NOT NULL
    GROUP BY m.provider, m.provider_account, m.returns_item_id
),
settled AS (
    SELECT m.provider, m.provider_account, m.transaction_id, m.settlement_id,
           m.effective_at AS settled_at, -m.amount AS settled_amount
    FROM transit m
    WHERE m.kind = 'payout_done'
),
feed AS (
    SELECT rs.provider, rs.account AS provider_account, rs.currency, rs.settlement_id, rs.transaction_id,
           rs.status, rs.status_since, rs.predicted_at, rs.iban, rs.amount, rs.fee,
           coalesce(rs.created_at, rs.status_since) AS created_at
    FROM recon.settlements rs
),
lifecycle AS (
    SELECT coalesce(q.provider, f.provider)                 AS provider,
           coalesce(q.provider_account, f.provider_account) AS provider_account,
           coalesce(q.currency, f.currency)                 AS currency,
           q.item_id,
           coalesce(f.settlement_id, d.settlement_id)       AS settlement_id,
           q.entry_id, q.source_event_id,
           coalesce(q.effective_at, f.created_at)           AS requested_at,
           coalesce(q.amount, f.amount)                     AS amount,
           coalesce(q.fee, f.fee)                           AS fee,
           q.status_code, f.status, f.status_since, f.predicted_at, f.iban,
           CASE WHEN q.entry_id IS NULL THEN 'not_in_statement'
                WHEN r.returns_item_id IS NOT NULL THEN 'returned'
                WHEN coalesce(d.settled_at, d2.settled_at) IS NOT NULL THEN 'settled'
                ELSE 'in_transit'
           END                                              AS stage,
           coalesce(d.settled_at, d2.settled_at)            AS settled_at,
           coalesce(d.settled_amount, d2.settled_amount)    AS settled_amount,
           r.returned_at, r.returned_amount, r.returned_item_ids,
           CASE WHEN q.entry_id IS NOT NULL
                THEN coalesce(r.returned_at, d.settled_at, d2.settled_at, now()) - q.effective_at
           END                                              AS in_transit_for
    FROM requested q
    FULL JOIN feed f ON f.provider = q.provider AND f.provider_account = q.provider_account
                    AND f.transaction_id = q.item_id
    LEFT JOIN returned r ON r.provider = q.provider AND r.provider_account = q.provider_account
                        AND r.returns_item_id = q.item_id
    -- Paid, by the statement item it names (settlement or batch feed) ...
    LEFT JOIN settled d ON d.provider = coalesce(q.provider, f.provider)
                       AND d.provider_account = coalesce(q.provider_account, f.provider_account)
                       AND d.transaction_id = coalesce(q.item_id, f.transaction_id)
    -- ... or, where the provider gave no transaction id, by the settlement.
    LEFT JOIN settled d2 ON d2.transaction_id IS NULL AND d2.provider = f.provider
                        AND d2.provider_account = f.provider_account AND d2.settlement_id = f.settlement_id
    UNION ALL
    -- Money the bank sent back for a settlement the ledger cannot name: the provider did not say which, or
    -- the settlement predates what mizan read. It leaves the in-transit account all the same.
    SELECT m.provider, m.provider_account, m.currency, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           NULL, NULL, NULL, 'return_unmatched', NULL, NULL, m.effective_at, -m.amount, ARRAY[m.item_id], NULL
    FROM transit m
    WHERE m.kind = 'returned'
      AND NOT EXISTS (SELECT 1 FROM requested q
                      WHERE q.provider = m.provider AND q.provider_account = m.provider_account
                        AND q.item_id = m.returns_item_id)
)
SELECT l.*,
       coalesce(l.stage = 'in_transit' AND l.predicted_at < now(), false) AS overdue
FROM lifecycle l;

COMMENT ON VIEW analytics.settlements IS
    'Settlement lifecycle: requested (the statement item took it out of the wallet into settlements_in_transit) '
    '-> settled (the settlement or batch feed reported it paid; moved to the bank account) or returned (a return '
    'item brought it back), or still in transit, with how long. One row per settlement; stage return_unmatched '
    'for money returned for no known settlement, not_in_statement for a settlement the feed reports and the '
    'statement has not shown yet.';
COMMENT ON COLUMN analytics.settlements.stage IS
    'in_transit, settled, returned, return_unmatched or not_in_statement: from the ledger''s entries.';
COMMENT ON COLUMN analytics.settlements.status IS
    'The settlement feed''s latest status (INIT, PENDING, SUBMITTED, DONE, FAILED, CANCELED), from recon.settlements.';
COMMENT ON COLUMN analytics.settlements.status_code IS
    'The statement item''s status code when it was posted: 2 done, -2 pending, -3 failed, -4 cancelled.';
COMMENT ON COLUMN analytics.settlements.in_transit_for IS
    'From the request until it was settled or returned, or until now while in transit.';
COMMENT ON COLUMN analytics.settlements.overdue IS
    'In transit past the date the provider predicted (false where it predicted none).';

-- Reconciliation checks -------------------------------------------------------------------------------------

CREATE VIEW analytics.check_results AS
SELECT c.id, c.check_name, c.subject,
       nullif(split_part(c.subject, '/', 1), '')          AS provider,
       nullif(split_part(c.subject, '/', 2), '')          AS provider_account,
       c.outcome, c.expected, c.actual, c.difference,
       c.window_start, c.window_end, c.watermark,
       c.details, c.event_id,
       c.evaluated_at,
       (c.evaluated_at AT TIME ZONE 'Asia/Tehran')::date AS day
FROM recon.check_results c;

COMMENT ON VIEW analytics.check_results IS
    'Every evaluation of a reconciliation check (OK, MISMATCH, UNKNOWN), with the provider and provider account '
    'of its subject (provider/account/...) and its Asia/Tehran day.';

-- The latest outcome of each check on each subject, and since when it has had that outcome: "open
-- mismatches and since when" without scanning the alerts.
CREATE VIEW analytics.check_status AS
WITH runs AS (
    SELECT c.*,
           lag(c.outcome) OVER (PARTITION BY c.check_name, c.subject ORDER BY c.evaluated_at, c.id) AS previous
    FROM recon.check_results c
)
SELECT l.check_name, l.subject,
       nullif(split_part(l.subject, '/', 1), '') AS provider,
       nullif(split_part(l.subject, '/', 2), '') AS provider_account,
       l.outcome,
       s.since,
       l.evaluated_at AS last_evaluated_at,
       l.expected, l.actual, l.difference, l.details,
       s.evaluations
FROM (SELECT DISTINCT ON (r.check_name, r.subject) r.*
      FROM runs r
      ORDER BY r.check_name, r.subject, r.evaluated_at DESC, r.id DESC) l
JOIN (SELECT r.check_name, r.subject,
             max(r.evaluated_at) FILTER (WHERE r.previous IS DISTINCT FROM r.outcome) AS since,
             count(*) AS evaluations
      FROM runs r
      GROUP BY r.check_name, r.subject) s ON s.check_name = l.check_name AND s.subject = l.subject;

COMMENT ON VIEW analytics.check_status IS
    'Latest outcome of every check on every subject, and since when it has been that outcome without a break.';
COMMENT ON COLUMN analytics.check_status.since IS 'First evaluation of the current unbroken run of this outcome.';

-- Alerts ------------------------------------------------------------------------------------------------------

-- Without the delivery bookkeeping: a delivery error may quote the Slack webhook URL, which is a secret.
CREATE VIEW analytics.open_alerts AS
SELECT a.id, a.kind, a.severity, a.subject,
       nullif(split_part(a.subject, '/', 1), '') AS provider,
       nullif(split_part(a.subject, '/', 2), '') AS provider_account,
       a.summary, a.details, a.dedup_key,
       a.opened_at, a.last_seen_at,
       now() - a.opened_at AS open_for,
       a.open_sent_at      AS notified_at
FROM recon.alerts a
WHERE a.resolved_at IS NULL;

COMMENT ON VIEW analytics.open_alerts IS
    'Alerts not resolved yet, with how long they have been open and when Slack was told (NULL: not yet).';

-- Ledger against provider -------------------------------------------------------------------------------------

-- Every balance a provider reported, beside the ledger's balance of the same wallet at the same moment. The
-- wallet's account code is built as internal/posting.Wallet builds it (tomans: no currency suffix).
CREATE VIEW analytics.balance_comparisons AS
SELECT o.event_id, o.provider, o.account AS provider_account, o.currency,
       w.code                                   AS wallet_account,
       o.observed_at,
       o.amount                                 AS reported,
       ledger.balance_at(w.code, o.observed_at) AS ledger,
       o.amount - ledger.balance_at(w.code, o.observed_at) AS difference,
       wm.through                               AS statement_through,
       wm.through >= o.observed_at              AS comparable,
       o.figures,
       o.recorded_at
FROM recon.balance_observations o
CROSS JOIN LATERAL (
    SELECT 'assets:' || o.provider || ':' || o.account || ':wallet'
               || CASE WHEN o.currency = 'IRT' THEN '' ELSE ':' || lower(o.currency) END AS code
) w
LEFT JOIN recon.watermarks wm ON wm.provider = o.provider AND wm.account = o.account AND wm.feed = 'statement';

COMMENT ON VIEW analytics.balance_comparisons IS
    'Each balance a provider reported against the ledger''s balance of that wallet at the observation time '
    '(difference = reported - ledger). comparable is true once the statement watermark has passed the '
    'observation: before that a difference may only mean items not read yet. NULL: no statement feed is '
    'tracked for the account (YabandPay reports balances only).';
COMMENT ON COLUMN analytics.balance_comparisons.statement_through IS
    'How far the statement feed of this provider account has been published (recon.watermarks).';

-- +goose Down
DROP SCHEMA analytics CASCADE;
