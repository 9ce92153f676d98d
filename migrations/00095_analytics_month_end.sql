-- The analyst's month-end: Jalali dates on every view with a day, the provider's references on the item-level
-- views, a trial balance and a profit and loss for any period, suspense with its ageing and origin, the
-- adjustments' audit, and acknowledgements beside the open alerts (docs/analysts.md).
--
-- Views keep their columns and only gain new ones at the end (the contract 00021 states), so every query
-- written against them before still runs.

-- +goose Up

-- Balances at the end of each day, with the day on the Jalali calendar ------------------------------------------

CREATE OR REPLACE VIEW analytics.daily_balances AS
SELECT a.account, a.type, a.currency, a.provider, a.provider_account, a.name, a.detail,
       d.day,
       d.day_end,
       coalesce(bal.balance_after, 0) AS balance,
       d.day_end <= now()             AS closed,
       a.account_id,
       analytics.jalali_date(d.day)    AS jalali_date,
       analytics.jalali_year(d.day)    AS jalali_year,
       analytics.jalali_month(d.day)   AS jalali_month,
       analytics.jalali_quarter(d.day) AS jalali_quarter
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

-- Daily movements --------------------------------------------------------------------------------------------

CREATE OR REPLACE VIEW analytics.daily_movements AS
SELECT a.account, a.type, a.currency, a.provider, a.provider_account, a.name, a.detail,
       m.day,
       m.debits,
       m.credits,
       m.net,
       m.postings,
       m.closing_balance - m.net AS opening_balance,
       m.closing_balance,
       a.account_id,
       analytics.jalali_date(m.day)    AS jalali_date,
       analytics.jalali_year(m.day)    AS jalali_year,
       analytics.jalali_month(m.day)   AS jalali_month,
       analytics.jalali_quarter(m.day) AS jalali_quarter
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

-- Wallet movements, with the provider's references ---------------------------------------------------------------

-- The references come from the entry's metadata (internal/posting/references.go); refs is the expression
-- ledger.entries_references_idx indexes, so WHERE refs @> ARRAY['1643'] is an index lookup however large the
-- ledger (a filter on one reference column, e.g. factor_number = '1643', reads every entry).
CREATE OR REPLACE VIEW analytics.wallet_movements AS
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
       e.description,
       analytics.jalali_date((e.effective_at AT TIME ZONE 'Asia/Tehran')::date)    AS jalali_date,
       analytics.jalali_year((e.effective_at AT TIME ZONE 'Asia/Tehran')::date)    AS jalali_year,
       analytics.jalali_month((e.effective_at AT TIME ZONE 'Asia/Tehran')::date)   AS jalali_month,
       analytics.jalali_quarter((e.effective_at AT TIME ZONE 'Asia/Tehran')::date) AS jalali_quarter,
       e.metadata ->> 'factor_number'                AS factor_number,
       e.metadata ->> 'ref_id'                       AS ref_id,
       e.metadata ->> 'tracking_code'                AS tracking_code,
       e.metadata ->> 'card_number'                  AS card_number,
       e.metadata ->> 'track_id'                     AS track_id,
       e.metadata ->> 'iban'                         AS iban,
       e.metadata ->> 'payment_number'               AS payment_number,
       ledger.entry_references(e.metadata)           AS refs
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

-- Fees per day and channel ----------------------------------------------------------------------------------

CREATE OR REPLACE VIEW analytics.daily_fees AS
SELECT m.provider, m.provider_account, m.currency, m.day, m.channel, m.kind,
       count(*)      AS items,
       sum(m.amount) AS amount,
       sum(m.fee)    AS fees,
       analytics.jalali_date(m.day)    AS jalali_date,
       analytics.jalali_year(m.day)    AS jalali_year,
       analytics.jalali_month(m.day)   AS jalali_month,
       analytics.jalali_quarter(m.day) AS jalali_quarter
FROM analytics.wallet_movements m
WHERE m.item_id IS NOT NULL -- statement items: what fees are charged on
GROUP BY m.provider, m.provider_account, m.currency, m.day, m.channel, m.kind;

-- Settlement lifecycle, with the settlement's references --------------------------------------------------------

CREATE OR REPLACE VIEW analytics.settlements AS
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
-- The references: the statement item's (its entry's metadata), else what the settlement feed gave.
SELECT l.*,
       coalesce(l.stage = 'in_transit' AND l.predicted_at < now(), false) AS overdue,
       coalesce(re.metadata ->> 'track_id', rs.track_id)       AS track_id,
       re.metadata ->> 'payment_number'                        AS payment_number,
       re.metadata ->> 'ref_id'                                AS ref_id,
       re.metadata ->> 'tracking_code'                         AS tracking_code
FROM lifecycle l
LEFT JOIN ledger.entries re ON re.id = l.entry_id
LEFT JOIN recon.settlements rs ON rs.provider = l.provider AND rs.account = l.provider_account
                              AND rs.settlement_id = l.settlement_id;

-- Reconciliation checks, with the Jalali day --------------------------------------------------------------------

CREATE OR REPLACE VIEW analytics.check_results AS
SELECT c.id, c.check_name, c.subject,
       nullif(split_part(c.subject, '/', 1), '')          AS provider,
       nullif(split_part(c.subject, '/', 2), '')          AS provider_account,
       c.outcome, c.expected, c.actual, c.difference,
       c.window_start, c.window_end, c.watermark,
       c.details, c.event_id,
       c.evaluated_at,
       (c.evaluated_at AT TIME ZONE 'Asia/Tehran')::date AS day,
       analytics.jalali_date((c.evaluated_at AT TIME ZONE 'Asia/Tehran')::date)    AS jalali_date,
       analytics.jalali_year((c.evaluated_at AT TIME ZONE 'Asia/Tehran')::date)    AS jalali_year,
       analytics.jalali_month((c.evaluated_at AT TIME ZONE 'Asia/Tehran')::date)   AS jalali_month,
       analytics.jalali_quarter((c.evaluated_at AT TIME ZONE 'Asia/Tehran')::date) AS jalali_quarter
FROM recon.check_results c;

-- Open alerts, with who acknowledged them ---------------------------------------------------------------------

CREATE OR REPLACE VIEW analytics.open_alerts AS
SELECT a.id, a.kind, a.severity, a.subject,
       nullif(split_part(a.subject, '/', 1), '') AS provider,
       nullif(split_part(a.subject, '/', 2), '') AS provider_account,
       a.summary, a.details, a.dedup_key,
       a.opened_at, a.last_seen_at,
       now() - a.opened_at AS open_for,
       a.open_sent_at      AS notified_at,
       k.acknowledged_by,
       k.acknowledged_at,
       k.note              AS acknowledgement_note
FROM recon.alerts a
LEFT JOIN recon.alert_acknowledgements k ON k.alert_id = a.id
WHERE a.resolved_at IS NULL;

-- Suspense ----------------------------------------------------------------------------------------------------------

-- Every posting on a suspense account — money mizan could not attribute: a provider's correction item, a
-- YabandPay balance change no entry explains — and every adjustment that cleared some. A line is open until
-- a standing adjustment (one not reversed) names its entry in clears; an adjustment's own suspense posting
-- is the clearing, never open. Where a line came from: its entry, its event (and where that sits in Kafka),
-- the provider's item, and for a snapshot the figures the provider reported.
CREATE VIEW analytics.suspense AS
SELECT a.account, a.currency, a.provider, a.provider_account,
       e.id                                              AS entry_id,
       e.idempotency_key,
       coalesce(s.kind, 'unknown')                       AS kind,
       e.description,
       e.effective_at,
       p.booked_at,
       (e.effective_at AT TIME ZONE 'Asia/Tehran')::date AS day,
       analytics.jalali_date((e.effective_at AT TIME ZONE 'Asia/Tehran')::date) AS jalali_date,
       p.amount                                          AS suspense_change,
       p.balance_after                                   AS suspense_balance_after,
       x.entry_id IS NULL AND c.entry_id IS NULL         AS is_open,
       now() - e.effective_at                            AS age,
       CASE WHEN now() - e.effective_at < interval '8 days' THEN '0-7 days'
            WHEN now() - e.effective_at < interval '31 days' THEN '8-30 days'
            WHEN now() - e.effective_at < interval '91 days' THEN '31-90 days'
            ELSE 'over 90 days' END                      AS age_bucket,
       s.item_id,
       s.source_event_id,
       pe.topic,
       pe.partition,
       pe."offset",
       bo.figures                                        AS reported_figures,
       x.entry_id IS NOT NULL                            AS is_adjustment,
       x.author                                          AS adjustment_author,
       x.reason                                          AS adjustment_reason,
       c.entry_id                                        AS cleared_by_entry_id,
       c.author                                          AS cleared_by,
       c.authored_at                                     AS cleared_at,
       c.reason                                          AS cleared_reason,
       a.account_id
FROM ledger.postings p
JOIN analytics.accounts a ON a.account_id = p.account_id AND a.name = 'suspense'
JOIN ledger.entries e ON e.id = p.entry_id
LEFT JOIN ledger.entry_sources s ON s.entry_id = e.id
LEFT JOIN recon.processed_events pe ON pe.event_id = s.source_event_id
LEFT JOIN recon.balance_observations bo ON bo.event_id = s.source_event_id
LEFT JOIN ledger.adjustments x ON x.entry_id = e.id
LEFT JOIN LATERAL (
    SELECT c.entry_id, c.author, c.authored_at, c.reason
    FROM ledger.adjustments c
    WHERE c.clears_entry_ids @> ARRAY[e.id]
      AND NOT EXISTS (SELECT 1 FROM ledger.adjustments r WHERE r.reverses_entry_id = c.entry_id)
    ORDER BY c.entry_id DESC
    LIMIT 1
) c ON true;

COMMENT ON VIEW analytics.suspense IS
    'Every posting on a suspense account (money mizan could not attribute), with where it came from (entry, '
    'event, Kafka position, provider item, reported figures), its age, and whether an adjustment cleared it. '
    'Clear an open line with ledger.post_adjustment(..., clears => ARRAY[entry_id]) (docs/analysts.md).';

-- Adjustments ------------------------------------------------------------------------------------------------------

CREATE VIEW analytics.adjustments AS
SELECT x.entry_id, x.idempotency_key, x.kind, x.reason, x.author, x.authored_at,
       e.effective_at,
       (e.effective_at AT TIME ZONE 'Asia/Tehran')::date AS day,
       s.provider, s.provider_account,
       l.currency,
       l.amount,
       l.lines,
       x.clears_entry_ids                                AS clears,
       x.reverses_entry_id,
       r.entry_id                                        AS reversed_by_entry_id,
       x.kind = 'adjustment' AND r.entry_id IS NULL      AS standing,
       x.client_addr,
       x.application_name
FROM ledger.adjustments x
JOIN ledger.entries e ON e.id = x.entry_id
LEFT JOIN ledger.entry_sources s ON s.entry_id = x.entry_id
LEFT JOIN ledger.adjustments r ON r.reverses_entry_id = x.entry_id
LEFT JOIN LATERAL (
    SELECT min(a.currency) AS currency,
           sum(p.amount) FILTER (WHERE p.amount > 0) AS amount,
           string_agg(a.code || ' ' || p.amount::text, ', ' ORDER BY p.id) AS lines
    FROM ledger.postings p
    JOIN ledger.accounts a ON a.id = p.account_id
    WHERE p.entry_id = x.entry_id
) l ON true;

COMMENT ON VIEW analytics.adjustments IS
    'The audit of adjustments: every entry posted by ledger.post_adjustment or ledger.reverse_adjustment, who '
    '(the login role), when, why, its postings, what it clears, and whether it still stands (not reversed).';

-- Trial balance and profit and loss ------------------------------------------------------------------------------

-- A period is whole Tehran days, first_day to last_day inclusive: [first_day 00:00, last_day + 1 00:00) in
-- Asia/Tehran. Figures follow booking time, like daily_balances, so a closed period's figures never change.
--
-- An entry belongs to a period as a whole, at the time its last posting was booked. For nearly every entry
-- all postings are booked at its effective time; a late fact's postings can be booked at different times
-- (each at its account's latest booking, docs/ledger.md), and if a period's bound falls between them, counting
-- postings by their own booking time would put part of the entry in each period and the trial balance would
-- not balance. So: an account's balance at a bound is ledger.balance_at's (one index read) less the postings
-- of entries that straddle the bound, which count after it. Straddling entries can only be among those with a
-- posting booked at or after the period's start, so the work grows with the postings since then, not with the
-- ledger's history.
-- +goose StatementBegin
CREATE FUNCTION analytics.trial_balance(first_day date, last_day date)
    RETURNS TABLE (account text, type text, currency text, provider text, provider_account text, name text,
                   detail text, opening_balance numeric, debits numeric, credits numeric, net numeric,
                   closing_balance numeric, postings bigint, account_id bigint)
    LANGUAGE sql STABLE PARALLEL SAFE AS
$$
WITH b AS (
    SELECT first_day::timestamp AT TIME ZONE 'Asia/Tehran'       AS s,
           (last_day + 1)::timestamp AT TIME ZONE 'Asia/Tehran' AS e
),
-- Postings booked since the start, account by account through the (account_id, booked_at) index.
recent AS MATERIALIZED (
    SELECT q.account_id, q.entry_id, q.amount, q.booked_at
    FROM b
    CROSS JOIN ledger.accounts a
    CROSS JOIN LATERAL (SELECT a.id AS account_id, p.entry_id, p.amount, p.booked_at
                        FROM ledger.postings p
                        WHERE p.account_id = a.id AND p.booked_at >= b.s) q
),
-- Their entries whose postings were booked at more than one time, with when the last one was. Such an
-- entry's last posting is booked later than the entry's own time (a late fact) and at or after the start, so
-- the late postings among the recent ones name every candidate: a few, where grouping every recent entry
-- would cost as much as the rest of the function.
late AS MATERIALIZED (
    SELECT DISTINCT r.entry_id
    FROM recent r
    JOIN ledger.entries e ON e.id = r.entry_id
    WHERE r.booked_at > e.effective_at
),
spread AS MATERIALIZED (
    SELECT p.entry_id, max(p.booked_at) AS entry_booked_at
    FROM late l
    JOIN ledger.postings p ON p.entry_id = l.entry_id
    GROUP BY p.entry_id
    HAVING min(p.booked_at) < max(p.booked_at)
),
spread_postings AS (
    SELECT p.account_id, p.amount, p.booked_at, sp.entry_booked_at
    FROM spread sp
    JOIN ledger.postings p ON p.entry_id = sp.entry_id
),
-- The period's postings: those of the entries booked in it.
moves AS (
    SELECT r.account_id, r.amount
    FROM recent r, b
    WHERE r.booked_at < b.e AND NOT EXISTS (SELECT 1 FROM spread sp WHERE sp.entry_id = r.entry_id)
    UNION ALL
    SELECT sp.account_id, sp.amount
    FROM spread_postings sp, b
    WHERE sp.entry_booked_at >= b.s AND sp.entry_booked_at < b.e
),
move_sums AS (
    SELECT m.account_id,
           coalesce(sum(m.amount) FILTER (WHERE m.amount > 0), 0)  AS debits,
           coalesce(-sum(m.amount) FILTER (WHERE m.amount < 0), 0) AS credits,
           count(*)                                                AS postings
    FROM moves m
    GROUP BY m.account_id
),
-- Postings booked before a bound whose entry counts after it.
straddling AS (
    SELECT sp.account_id,
           coalesce(sum(sp.amount) FILTER (WHERE sp.booked_at < b.s AND sp.entry_booked_at >= b.s), 0) AS at_start,
           coalesce(sum(sp.amount) FILTER (WHERE sp.booked_at < b.e AND sp.entry_booked_at >= b.e), 0) AS at_end
    FROM spread_postings sp, b
    GROUP BY sp.account_id
)
SELECT a.account, a.type, a.currency, a.provider, a.provider_account, a.name, a.detail,
       coalesce(o.balance_after, 0) - coalesce(st.at_start, 0)        AS opening_balance,
       coalesce(m.debits, 0)                                          AS debits,
       coalesce(m.credits, 0)                                         AS credits,
       coalesce(m.debits, 0) - coalesce(m.credits, 0)                 AS net,
       coalesce(c.balance_after, 0) - coalesce(st.at_end, 0)          AS closing_balance,
       coalesce(m.postings, 0)                                        AS postings,
       a.account_id
FROM b
CROSS JOIN analytics.accounts a
LEFT JOIN LATERAL (
    SELECT p.balance_after FROM ledger.postings p
    WHERE p.account_id = a.account_id AND p.booked_at < b.s
    ORDER BY p.booked_at DESC, p.account_seq DESC
    LIMIT 1
) o ON true
LEFT JOIN LATERAL (
    SELECT p.balance_after FROM ledger.postings p
    WHERE p.account_id = a.account_id AND p.booked_at < b.e
    ORDER BY p.booked_at DESC, p.account_seq DESC
    LIMIT 1
) c ON true
LEFT JOIN move_sums m ON m.account_id = a.account_id
LEFT JOIN straddling st ON st.account_id = a.account_id
WHERE c.balance_after IS NOT NULL -- the account had a posting before the period ended
ORDER BY a.account
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION analytics.trial_balance(date, date) IS
    'Trial balance of the Tehran days first_day..last_day (inclusive), by booking time: per account the '
    'opening balance, debits and credits (magnitudes), net and closing balance, debit positive. Per currency '
    'the opening and closing balances and the nets sum to zero, and debits equal credits.';

-- +goose StatementBegin
CREATE FUNCTION analytics.profit_and_loss(first_day date, last_day date)
    RETURNS TABLE (provider text, provider_account text, currency text, type text, account text, name text,
                   detail text, debits numeric, credits numeric, net numeric, profit numeric, postings bigint,
                   account_id bigint)
    LANGUAGE sql STABLE PARALLEL SAFE AS
$$
SELECT t.provider, t.provider_account, t.currency, t.type, t.account, t.name, t.detail,
       t.debits, t.credits, t.net, -t.net AS profit, t.postings, t.account_id
FROM analytics.trial_balance(first_day, last_day) t
WHERE t.type IN ('income', 'expense') AND t.postings > 0
ORDER BY t.provider, t.provider_account, t.currency, t.type DESC, t.account
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION analytics.profit_and_loss(date, date) IS
    'Profit and loss of the Tehran days first_day..last_day (inclusive): the income and expense accounts that '
    'moved, their debits, credits and net (debit positive: income negative), and profit = -net (what each adds '
    'to profit). sum(profit) per currency is the period''s result. The trial balance''s figures, by booking time.';

-- +goose Down
DROP FUNCTION analytics.profit_and_loss(date, date);
DROP FUNCTION analytics.trial_balance(date, date);
DROP VIEW analytics.adjustments;
DROP VIEW analytics.suspense;
DROP VIEW analytics.daily_fees;
DROP VIEW analytics.wallet_movements;
DROP VIEW analytics.daily_balances;
DROP VIEW analytics.daily_movements;
DROP VIEW analytics.settlements;
DROP VIEW analytics.check_results;
DROP VIEW analytics.open_alerts;
-- The views as 00021 made them.
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
