-- Matching the business's own records (expectations) with the providers' lines (issue 18, docs/matching.md).
--
-- Three tables, written only by internal/matching inside the reconciler's batch transactions (and by
-- `reconciler expect import`):
--   recon.expectations    what the business said it expects, as last stated, with the match state derived from it
--   recon.provider_lines  the statement lines a matching rule is about (payments in, settlements, refunds)
--   recon.matches         which line meets which expectation, by which rule, and the difference
-- The derived columns (match_status, matched_amount, explained, …) are recomputed for the few rows one
-- arriving fact touches — found by the reference indexes below, never by scanning what is open.

-- +goose Up
CREATE TABLE recon.expectations (
    provider         text        NOT NULL,
    account          text        NOT NULL,
    expectation_id   text        NOT NULL,
    kind             text        NOT NULL CONSTRAINT expectations_kind_check CHECK (kind IN ('payment', 'payout', 'refund')),
    reference        jsonb       NOT NULL,
    factor_number    text,
    track_id         text,
    payment_number   text,
    payment_item_id  text,
    amount           numeric     NOT NULL CONSTRAINT expectations_amount_check CHECK (amount > 0),
    currency         text        NOT NULL,
    expected_by      timestamptz NOT NULL,
    status           text        NOT NULL CONSTRAINT expectations_status_check CHECK (status IN ('open', 'cancelled')),
    origin           text        NOT NULL CONSTRAINT expectations_origin_check CHECK (origin IN ('kafka', 'csv')),
    event_id         text,
    first_seen_at    timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    -- Derived by matching.
    match_status     text        NOT NULL DEFAULT 'unmatched' CONSTRAINT expectations_match_status_check
                     CHECK (match_status IN ('matched', 'partly_matched', 'unmatched', 'overpaid', 'cancelled')),
    rule             text,
    matched_amount   numeric     NOT NULL DEFAULT 0,
    duplicate_amount numeric     NOT NULL DEFAULT 0,
    failed_amount    numeric     NOT NULL DEFAULT 0,
    difference       numeric,
    lines            int         NOT NULL DEFAULT 0,
    matched_at       timestamptz,
    overdue          boolean     NOT NULL DEFAULT false,
    raised           text[]      NOT NULL DEFAULT '{}',
    CONSTRAINT expectations_pkey PRIMARY KEY (provider, account, expectation_id)
) WITH (fillfactor = 80); -- room on each page for the match state's updates to stay HOT (none of it is indexed)

-- One index per reference an arriving line is looked up by; partial, so expectations without that reference
-- cost nothing. The reference leads: no other index shares a prefix with it, so a planner working from stale
-- statistics (a table that grew fast since it was analyzed) cannot pick the primary key's (provider, account)
-- prefix instead and filter every row of the account.
CREATE INDEX expectations_factor_number_idx ON recon.expectations (factor_number, provider, account, kind)
    WHERE factor_number IS NOT NULL;
CREATE INDEX expectations_track_id_idx ON recon.expectations (track_id, provider, account, kind)
    WHERE track_id IS NOT NULL;
CREATE INDEX expectations_payment_number_idx ON recon.expectations (payment_number, provider, account, kind)
    WHERE payment_number IS NOT NULL;
CREATE INDEX expectations_payment_item_idx ON recon.expectations (payment_item_id, provider, account, kind)
    WHERE payment_item_id IS NOT NULL;
-- The deadline check reads only the open expectations whose deadline it has not yet judged past.
CREATE INDEX expectations_deadline_idx ON recon.expectations (provider, account, expected_by)
    WHERE status = 'open' AND NOT overdue;

COMMENT ON TABLE recon.expectations IS
    'What the business expects at its providers (mizan.expected.v1 events and CSV imports), as last stated, '
    'with its match state. docs/matching.md.';
COMMENT ON COLUMN recon.expectations.provider IS 'Provider of the account the expectation is about (vandar).';
COMMENT ON COLUMN recon.expectations.account IS 'Provider account (a Vandar business slug).';
COMMENT ON COLUMN recon.expectations.expectation_id IS 'The business''s own id (an order number, a payout request id); unique per provider account.';
COMMENT ON COLUMN recon.expectations.kind IS 'payment (money in), payout (settlement to a bank account) or refund (money back to a customer).';
COMMENT ON COLUMN recon.expectations.reference IS 'The reference object as the business sent it.';
COMMENT ON COLUMN recon.expectations.factor_number IS 'reference.factor_number: a payment''s order number (Vandar factorNumber); for a refund, the refunded payment''s.';
COMMENT ON COLUMN recon.expectations.track_id IS 'reference.track_id: a payout''s track id.';
COMMENT ON COLUMN recon.expectations.payment_number IS 'reference.payment_number: a payout''s payment (deposit) number.';
COMMENT ON COLUMN recon.expectations.payment_item_id IS 'reference.payment_item_id: for a refund, the provider''s item id of the refunded payment.';
COMMENT ON COLUMN recon.expectations.amount IS 'Expected amount (a payment: gross, what the customer pays).';
COMMENT ON COLUMN recon.expectations.currency IS 'Currency code (IRT for Vandar tomans).';
COMMENT ON COLUMN recon.expectations.expected_by IS 'Deadline: unmatched once the statement is complete past this plus the grace, it is alerted.';
COMMENT ON COLUMN recon.expectations.status IS 'open or cancelled, as the business last said.';
COMMENT ON COLUMN recon.expectations.origin IS 'kafka (a mizan.expected.v1 event) or csv (reconciler expect import).';
COMMENT ON COLUMN recon.expectations.event_id IS 'The event that last stated it (NULL for a CSV import).';
COMMENT ON COLUMN recon.expectations.first_seen_at IS 'When mizan first learned of it.';
COMMENT ON COLUMN recon.expectations.updated_at IS 'When mizan last received a statement of it that changed something.';
COMMENT ON COLUMN recon.expectations.match_status IS 'matched, partly_matched, unmatched, overpaid or cancelled (docs/matching.md).';
COMMENT ON COLUMN recon.expectations.rule IS 'The rule that matched it, e.g. payment.factor_number, payout.track_id.';
COMMENT ON COLUMN recon.expectations.matched_amount IS 'Sum of the lines that meet it.';
COMMENT ON COLUMN recon.expectations.duplicate_amount IS 'Sum of further lines with its reference that its rule does not let it take: paid twice.';
COMMENT ON COLUMN recon.expectations.failed_amount IS 'Sum of the failed or cancelled settlements/refunds with its reference.';
COMMENT ON COLUMN recon.expectations.difference IS 'matched_amount + duplicate_amount - amount, for the expectations its lines meet together; NULL while unmatched.';
COMMENT ON COLUMN recon.expectations.lines IS 'Number of lines that meet it (duplicates and failed ones included).';
COMMENT ON COLUMN recon.expectations.matched_at IS 'When it was first met by a line (NULL: never).';
COMMENT ON COLUMN recon.expectations.overdue IS 'Whether the statement was known complete past expected_by plus the grace while it was open.';
COMMENT ON COLUMN recon.expectations.raised IS 'Kinds of the alerts open about it.';

CREATE TABLE recon.provider_lines (
    provider        text        NOT NULL,
    account         text        NOT NULL,
    item_id         text        NOT NULL,
    kind            text        NOT NULL CONSTRAINT provider_lines_kind_check CHECK (kind IN ('payment', 'payout', 'refund')),
    state           text        NOT NULL CONSTRAINT provider_lines_state_check CHECK (state IN ('counted', 'failed', 'void')),
    amount          numeric     NOT NULL,
    fee             numeric     NOT NULL DEFAULT 0,
    currency        text        NOT NULL,
    effective_at    timestamptz NOT NULL,
    seen_at         timestamptz NOT NULL,
    factor_number   text,
    track_id        text,
    payment_number  text,
    payment_item_id text,
    event_id        text        NOT NULL,
    -- Whether it carries a reference its kind's rule matches by: a line without one (a form payment has no
    -- factor number) can never be explained, and is never alerted as unexpected.
    referenced      boolean     GENERATED ALWAYS AS (CASE kind
                        WHEN 'payment' THEN factor_number IS NOT NULL
                        WHEN 'payout' THEN track_id IS NOT NULL OR payment_number IS NOT NULL
                        ELSE payment_item_id IS NOT NULL OR factor_number IS NOT NULL END) STORED,
    -- Derived by matching.
    explained       boolean     NOT NULL DEFAULT false,
    role            text,
    unexpected_at   timestamptz,
    CONSTRAINT provider_lines_pkey PRIMARY KEY (provider, account, item_id)
);

CREATE INDEX provider_lines_factor_number_idx ON recon.provider_lines (factor_number, provider, account, kind)
    WHERE factor_number IS NOT NULL;
CREATE INDEX provider_lines_track_id_idx ON recon.provider_lines (track_id, provider, account, kind)
    WHERE track_id IS NOT NULL;
CREATE INDEX provider_lines_payment_number_idx ON recon.provider_lines (payment_number, provider, account, kind)
    WHERE payment_number IS NOT NULL;
CREATE INDEX provider_lines_payment_item_idx ON recon.provider_lines (payment_item_id, provider, account, kind)
    WHERE payment_item_id IS NOT NULL;
-- The unexpected-money check reads only the counted, referenced lines nothing explains and no alert names yet.
CREATE INDEX provider_lines_unexplained_idx ON recon.provider_lines (provider, account, kind, greatest(effective_at, seen_at))
    WHERE NOT explained AND state = 'counted' AND unexpected_at IS NULL AND referenced;

COMMENT ON TABLE recon.provider_lines IS
    'The providers'' statement lines a matching rule is about — successful payments in, settlements, refunds — '
    'with whether an expectation explains them. docs/matching.md.';
COMMENT ON COLUMN recon.provider_lines.provider IS 'Provider (vandar).';
COMMENT ON COLUMN recon.provider_lines.account IS 'Provider account (a Vandar business slug).';
COMMENT ON COLUMN recon.provider_lines.item_id IS 'The provider''s id of the statement item.';
COMMENT ON COLUMN recon.provider_lines.kind IS 'The expectation kind that can explain it: payment, payout (a settlement: single, queued or batch item) or refund.';
COMMENT ON COLUMN recon.provider_lines.state IS 'counted (money moved), failed (a settlement or refund that failed or was cancelled) or void (no longer reported as money).';
COMMENT ON COLUMN recon.provider_lines.amount IS 'The item''s amount (gross: before the fee).';
COMMENT ON COLUMN recon.provider_lines.fee IS 'The provider''s fee on the item: the business''s cost, never a difference.';
COMMENT ON COLUMN recon.provider_lines.currency IS 'Currency code.';
COMMENT ON COLUMN recon.provider_lines.effective_at IS 'When the item moved the wallet (the provider''s time).';
COMMENT ON COLUMN recon.provider_lines.seen_at IS 'When mizan first recorded it (the reconciler''s clock).';
COMMENT ON COLUMN recon.provider_lines.factor_number IS 'Vandar factorNumber; for a refund, the refunded payment''s.';
COMMENT ON COLUMN recon.provider_lines.track_id IS 'A settlement''s track_id.';
COMMENT ON COLUMN recon.provider_lines.payment_number IS 'A settlement''s payment_number.';
COMMENT ON COLUMN recon.provider_lines.payment_item_id IS 'For a refund, the provider''s id of the payment refunded (refund.source_transaction).';
COMMENT ON COLUMN recon.provider_lines.event_id IS 'The event that reported the item''s current state.';
COMMENT ON COLUMN recon.provider_lines.referenced IS 'Whether it carries a reference its kind''s rule matches by (a form payment has no factor number): only such lines can be explained, or alerted as unexpected.';
COMMENT ON COLUMN recon.provider_lines.explained IS 'Whether an open expectation explains it (as its match, a duplicate, or its failed settlement).';
COMMENT ON COLUMN recon.provider_lines.role IS 'match, duplicate or failed, when explained.';
COMMENT ON COLUMN recon.provider_lines.unexpected_at IS 'When the unexpected alert about it was raised (NULL: none open).';

-- Which kinds each account has published expectations of, since when: the unexpected-money check looks only
-- at those (a deployment that publishes no refunds is never told its refunds are unexpected).
CREATE TABLE recon.expectation_kinds (
    provider         text        NOT NULL,
    account          text        NOT NULL,
    kind             text        NOT NULL,
    first_seen_at    timestamptz NOT NULL,
    CONSTRAINT expectation_kinds_pkey PRIMARY KEY (provider, account, kind)
);

COMMENT ON TABLE recon.expectation_kinds IS 'Per provider account, the kinds of expectation it has published.';
COMMENT ON COLUMN recon.expectation_kinds.provider IS 'Provider.';
COMMENT ON COLUMN recon.expectation_kinds.account IS 'Provider account.';
COMMENT ON COLUMN recon.expectation_kinds.kind IS 'payment, payout or refund.';
COMMENT ON COLUMN recon.expectation_kinds.first_seen_at IS 'When mizan first received an expectation of this kind for the account.';

CREATE TABLE recon.matches (
    provider           text        NOT NULL,
    account            text        NOT NULL,
    expectation_id     text        NOT NULL,
    item_id            text        NOT NULL,
    kind               text        NOT NULL,
    rule               text        NOT NULL,
    role               text        NOT NULL CONSTRAINT matches_role_check CHECK (role IN ('match', 'duplicate', 'failed')),
    group_key          text        NOT NULL,
    expectation_amount numeric     NOT NULL,
    line_amount        numeric     NOT NULL,
    line_fee           numeric     NOT NULL,
    currency           text        NOT NULL,
    group_expected     numeric     NOT NULL,
    group_matched      numeric     NOT NULL,
    difference         numeric     NOT NULL,
    tolerance          numeric     NOT NULL,
    within_tolerance   boolean     NOT NULL,
    matched_at         timestamptz NOT NULL,
    CONSTRAINT matches_pkey PRIMARY KEY (provider, account, expectation_id, item_id),
    CONSTRAINT matches_expectation_fkey FOREIGN KEY (provider, account, expectation_id)
        REFERENCES recon.expectations (provider, account, expectation_id),
    CONSTRAINT matches_line_fkey FOREIGN KEY (provider, account, item_id)
        REFERENCES recon.provider_lines (provider, account, item_id)
);

CREATE INDEX matches_line_idx ON recon.matches (item_id, provider, account);

COMMENT ON TABLE recon.matches IS
    'Which provider line meets which expectation, by which rule, with the difference. docs/matching.md.';
COMMENT ON COLUMN recon.matches.provider IS 'Provider.';
COMMENT ON COLUMN recon.matches.account IS 'Provider account.';
COMMENT ON COLUMN recon.matches.expectation_id IS 'The expectation met.';
COMMENT ON COLUMN recon.matches.item_id IS 'The provider line that meets it.';
COMMENT ON COLUMN recon.matches.kind IS 'payment, payout or refund.';
COMMENT ON COLUMN recon.matches.rule IS 'The rule and the reference it matched by: payment.factor_number, payout.track_id, payout.payment_number, refund.payment_item_id, refund.factor_number.';
COMMENT ON COLUMN recon.matches.role IS 'match (counts towards the amount), duplicate (a further line the rule does not allow: paid twice) or failed (a failed or cancelled settlement/refund).';
COMMENT ON COLUMN recon.matches.group_key IS 'The rows matched together (several lines for one expectation, or one line for several) share it.';
COMMENT ON COLUMN recon.matches.expectation_amount IS 'The expectation''s amount.';
COMMENT ON COLUMN recon.matches.line_amount IS 'The line''s amount (gross).';
COMMENT ON COLUMN recon.matches.line_fee IS 'The provider''s fee on the line: shown, never a difference.';
COMMENT ON COLUMN recon.matches.currency IS 'Currency code.';
COMMENT ON COLUMN recon.matches.group_expected IS 'Sum of the amounts of the expectations matched together.';
COMMENT ON COLUMN recon.matches.group_matched IS 'Sum of the amounts of the lines matched together (role match).';
COMMENT ON COLUMN recon.matches.difference IS 'group_matched - group_expected.';
COMMENT ON COLUMN recon.matches.tolerance IS 'The largest difference the rule accepts for this group.';
COMMENT ON COLUMN recon.matches.within_tolerance IS 'Whether abs(difference) <= tolerance.';
COMMENT ON COLUMN recon.matches.matched_at IS 'When mizan first matched this line with this expectation.';

-- The running commands write these (matching recomputes a match group: its old rows go, new ones come).
GRANT SELECT, INSERT, UPDATE ON recon.expectations, recon.provider_lines, recon.expectation_kinds TO mizan_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON recon.matches TO mizan_app;
GRANT SELECT ON recon.expectations, recon.provider_lines, recon.matches, recon.expectation_kinds TO mizan_analyst;

-- Analysts' views ------------------------------------------------------------------------------------------

CREATE VIEW analytics.expectation_status AS
SELECT e.provider,
       e.account                                           AS provider_account,
       e.expectation_id,
       e.kind,
       e.reference,
       e.amount,
       e.currency,
       e.expected_by,
       (e.expected_by AT TIME ZONE 'Asia/Tehran')::date    AS due_day,
       e.status,
       e.match_status,
       e.rule,
       e.matched_amount,
       e.duplicate_amount,
       e.failed_amount,
       e.difference,
       e.lines,
       e.matched_at,
       e.overdue,
       e.raised                                            AS open_alerts,
       e.origin,
       e.first_seen_at,
       e.updated_at
FROM recon.expectations e;

COMMENT ON VIEW analytics.expectation_status IS
    'Every expectation the business published, with its match status: matched, partly_matched, unmatched, '
    'overpaid or cancelled (docs/matching.md).';
COMMENT ON COLUMN analytics.expectation_status.provider_account IS 'Provider account (a Vandar business slug).';
COMMENT ON COLUMN analytics.expectation_status.due_day IS 'The Tehran calendar day of expected_by.';
COMMENT ON COLUMN analytics.expectation_status.status IS 'open or cancelled, as the business last said.';
COMMENT ON COLUMN analytics.expectation_status.match_status IS
    'matched (the lines'' amount within tolerance), partly_matched (less), overpaid (more, duplicates included), '
    'unmatched (no line yet, or its settlement failed), cancelled.';
COMMENT ON COLUMN analytics.expectation_status.rule IS 'The rule that matched it, e.g. payment.factor_number.';
COMMENT ON COLUMN analytics.expectation_status.difference IS 'matched_amount + duplicate_amount - amount of the group it was matched in; NULL while unmatched.';
COMMENT ON COLUMN analytics.expectation_status.open_alerts IS 'Kinds of the alerts open about it (unpaid, payout_missing, amount_mismatch, paid_twice).';
COMMENT ON COLUMN analytics.expectation_status.overdue IS 'Whether the statement was known complete past expected_by plus the grace while it was open.';
COMMENT ON COLUMN analytics.expectation_status.provider IS 'Provider of the account the expectation is about (vandar).';
COMMENT ON COLUMN analytics.expectation_status.expectation_id IS 'The business''s own id (an order number, a payout request id); unique per provider account.';
COMMENT ON COLUMN analytics.expectation_status.kind IS 'payment (money in), payout (settlement to a bank account) or refund (money back to a customer).';
COMMENT ON COLUMN analytics.expectation_status.reference IS 'The reference object as the business sent it (factor_number, track_id, payment_number, payment_item_id).';
COMMENT ON COLUMN analytics.expectation_status.amount IS 'Expected amount (a payment: gross, what the customer pays).';
COMMENT ON COLUMN analytics.expectation_status.currency IS 'Currency code (IRT for Vandar tomans).';
COMMENT ON COLUMN analytics.expectation_status.expected_by IS 'Deadline: unmatched once the statement is complete past this plus the grace, it is alerted.';
COMMENT ON COLUMN analytics.expectation_status.matched_amount IS 'Sum of the lines that meet it.';
COMMENT ON COLUMN analytics.expectation_status.duplicate_amount IS 'Sum of further lines with its reference that its rule does not let it take: paid twice.';
COMMENT ON COLUMN analytics.expectation_status.failed_amount IS 'Sum of the failed or cancelled settlements/refunds with its reference.';
COMMENT ON COLUMN analytics.expectation_status.lines IS 'Number of lines that meet it (duplicates and failed ones included).';
COMMENT ON COLUMN analytics.expectation_status.matched_at IS 'When it was first met by a line (NULL: never).';
COMMENT ON COLUMN analytics.expectation_status.origin IS 'kafka (a mizan.expected.v1 event) or csv (reconciler expect import).';
COMMENT ON COLUMN analytics.expectation_status.first_seen_at IS 'When mizan first learned of it.';
COMMENT ON COLUMN analytics.expectation_status.updated_at IS 'When mizan last received a statement of it that changed something.';

CREATE VIEW analytics.provider_lines AS
SELECT l.provider,
       l.account                                           AS provider_account,
       l.item_id,
       l.kind,
       l.state,
       l.amount,
       l.fee,
       l.currency,
       l.effective_at,
       (l.effective_at AT TIME ZONE 'Asia/Tehran')::date   AS day,
       l.factor_number,
       l.track_id,
       l.payment_number,
       l.payment_item_id,
       CASE WHEN l.explained THEN 'explained' ELSE 'unexplained' END AS explanation,
       l.role,
       (SELECT array_agg(m.expectation_id ORDER BY m.expectation_id) FROM recon.matches m
        WHERE m.provider = l.provider AND m.account = l.account AND m.item_id = l.item_id) AS expectation_ids,
       l.unexpected_at IS NOT NULL                         AS alerted,
       l.seen_at
FROM recon.provider_lines l;

COMMENT ON VIEW analytics.provider_lines IS
    'Every provider statement line a matching rule is about (successful payments in, settlements, refunds) and '
    'whether an expectation explains it.';
COMMENT ON COLUMN analytics.provider_lines.provider_account IS 'Provider account (a Vandar business slug).';
COMMENT ON COLUMN analytics.provider_lines.day IS 'The Tehran calendar day of effective_at.';
COMMENT ON COLUMN analytics.provider_lines.explanation IS 'explained (an open expectation accounts for it) or unexplained.';
COMMENT ON COLUMN analytics.provider_lines.role IS 'match, duplicate (a second payment for one expectation) or failed, when explained.';
COMMENT ON COLUMN analytics.provider_lines.expectation_ids IS 'The expectations it meets.';
COMMENT ON COLUMN analytics.provider_lines.alerted IS 'Whether an unexpected alert about it is open.';
COMMENT ON COLUMN analytics.provider_lines.state IS 'counted (money moved), failed (a settlement or refund that failed or was cancelled) or void.';
COMMENT ON COLUMN analytics.provider_lines.provider IS 'Provider (vandar).';
COMMENT ON COLUMN analytics.provider_lines.item_id IS 'The provider''s id of the statement item.';
COMMENT ON COLUMN analytics.provider_lines.kind IS 'The expectation kind that can explain it: payment, payout (a settlement: single, queued or batch item) or refund.';
COMMENT ON COLUMN analytics.provider_lines.amount IS 'The item''s amount (gross: before the fee).';
COMMENT ON COLUMN analytics.provider_lines.fee IS 'The provider''s fee on the item: the business''s cost, never a difference.';
COMMENT ON COLUMN analytics.provider_lines.currency IS 'Currency code (IRT for Vandar tomans).';
COMMENT ON COLUMN analytics.provider_lines.effective_at IS 'When the item moved the wallet (the provider''s time).';
COMMENT ON COLUMN analytics.provider_lines.factor_number IS 'Vandar factorNumber (a payment''s order number); for a refund, the refunded payment''s.';
COMMENT ON COLUMN analytics.provider_lines.track_id IS 'A settlement''s track_id.';
COMMENT ON COLUMN analytics.provider_lines.payment_number IS 'A settlement''s payment_number.';
COMMENT ON COLUMN analytics.provider_lines.payment_item_id IS 'For a refund, the provider''s id of the payment refunded (refund.source_transaction).';
COMMENT ON COLUMN analytics.provider_lines.seen_at IS 'When mizan first recorded it (the reconciler''s clock).';

-- Ageing: how long past their deadline the expectations not (fully) met are. Buckets by whole days past
-- expected_by, so a report sorts them by bucket_order.
CREATE VIEW analytics.unmatched_ageing AS
SELECT e.provider,
       e.account AS provider_account,
       e.kind,
       e.currency,
       b.bucket,
       b.bucket_order,
       count(*)                         AS expectations,
       sum(e.amount - e.matched_amount) AS amount_missing,
       min(e.expected_by)               AS oldest_expected_by
FROM recon.expectations e
CROSS JOIN LATERAL (
    SELECT CASE
               WHEN e.expected_by > now()                      THEN 'not due'
               WHEN e.expected_by > now() - interval '1 day'   THEN '0-1 days'
               WHEN e.expected_by > now() - interval '7 days'  THEN '1-7 days'
               WHEN e.expected_by > now() - interval '30 days' THEN '7-30 days'
               ELSE 'over 30 days'
           END AS bucket,
           CASE
               WHEN e.expected_by > now()                      THEN 0
               WHEN e.expected_by > now() - interval '1 day'   THEN 1
               WHEN e.expected_by > now() - interval '7 days'  THEN 2
               WHEN e.expected_by > now() - interval '30 days' THEN 3
               ELSE 4
           END AS bucket_order
) b
WHERE e.status = 'open' AND e.match_status IN ('unmatched', 'partly_matched')
GROUP BY e.provider, e.account, e.kind, e.currency, b.bucket, b.bucket_order;

COMMENT ON VIEW analytics.unmatched_ageing IS
    'Open expectations not (fully) met, by how long past their deadline they are: not due, 0-1, 1-7, 7-30, '
    'over 30 days.';
COMMENT ON COLUMN analytics.unmatched_ageing.provider_account IS 'Provider account (a Vandar business slug).';
COMMENT ON COLUMN analytics.unmatched_ageing.bucket IS 'not due, 0-1 days, 1-7 days, 7-30 days or over 30 days past expected_by.';
COMMENT ON COLUMN analytics.unmatched_ageing.bucket_order IS '0 (not due) to 4 (over 30 days): sort by it.';
COMMENT ON COLUMN analytics.unmatched_ageing.expectations IS 'How many expectations are in the bucket.';
COMMENT ON COLUMN analytics.unmatched_ageing.amount_missing IS 'Sum of amount - matched_amount: what has not arrived (or left).';
COMMENT ON COLUMN analytics.unmatched_ageing.oldest_expected_by IS 'The earliest deadline in the bucket.';
COMMENT ON COLUMN analytics.unmatched_ageing.provider IS 'Provider (vandar).';
COMMENT ON COLUMN analytics.unmatched_ageing.kind IS 'payment, payout or refund.';
COMMENT ON COLUMN analytics.unmatched_ageing.currency IS 'Currency code (IRT for Vandar tomans).';

-- Match rate per Tehran day of the deadline: of the expectations due that day (cancelled ones apart), the
-- share matched.
CREATE VIEW analytics.daily_match_rate AS
SELECT e.provider,
       e.account                                                   AS provider_account,
       e.kind,
       (e.expected_by AT TIME ZONE 'Asia/Tehran')::date            AS day,
       count(*) FILTER (WHERE e.status = 'open')                   AS expectations,
       count(*) FILTER (WHERE e.match_status = 'matched')          AS matched,
       count(*) FILTER (WHERE e.match_status = 'partly_matched')   AS partly_matched,
       count(*) FILTER (WHERE e.match_status = 'overpaid')         AS overpaid,
       count(*) FILTER (WHERE e.match_status = 'unmatched')        AS unmatched,
       count(*) FILTER (WHERE e.match_status = 'cancelled')        AS cancelled,
       round(count(*) FILTER (WHERE e.match_status = 'matched')::numeric
             / nullif(count(*) FILTER (WHERE e.status = 'open'), 0), 4) AS match_rate
FROM recon.expectations e
GROUP BY e.provider, e.account, e.kind, (e.expected_by AT TIME ZONE 'Asia/Tehran')::date;

COMMENT ON VIEW analytics.daily_match_rate IS
    'Per provider account, kind and Tehran day of the deadline: how many expectations were due and how many '
    'were matched, partly matched, overpaid, unmatched or cancelled.';
COMMENT ON COLUMN analytics.daily_match_rate.provider_account IS 'Provider account (a Vandar business slug).';
COMMENT ON COLUMN analytics.daily_match_rate.day IS 'The Tehran calendar day of expected_by.';
COMMENT ON COLUMN analytics.daily_match_rate.expectations IS 'Open (not cancelled) expectations due that day.';
COMMENT ON COLUMN analytics.daily_match_rate.match_rate IS 'matched / expectations (0 to 1, 4 decimals); NULL when none are open.';
COMMENT ON COLUMN analytics.daily_match_rate.provider IS 'Provider (vandar).';
COMMENT ON COLUMN analytics.daily_match_rate.kind IS 'payment, payout or refund.';
COMMENT ON COLUMN analytics.daily_match_rate.matched IS 'Expectations due that day whose lines'' amount is within tolerance.';
COMMENT ON COLUMN analytics.daily_match_rate.partly_matched IS 'Expectations due that day met by less than their amount.';
COMMENT ON COLUMN analytics.daily_match_rate.overpaid IS 'Expectations due that day met by more than their amount (duplicates included).';
COMMENT ON COLUMN analytics.daily_match_rate.unmatched IS 'Expectations due that day with no line yet, or whose settlement failed.';
COMMENT ON COLUMN analytics.daily_match_rate.cancelled IS 'Expectations due that day that the business cancelled.';

GRANT SELECT ON analytics.expectation_status, analytics.provider_lines, analytics.unmatched_ageing,
    analytics.daily_match_rate TO mizan_analyst;

-- +goose Down
DROP VIEW analytics.daily_match_rate;
DROP VIEW analytics.unmatched_ageing;
DROP VIEW analytics.provider_lines;
DROP VIEW analytics.expectation_status;
DROP TABLE recon.matches;
DROP TABLE recon.expectation_kinds;
DROP TABLE recon.provider_lines;
DROP TABLE recon.expectations;
