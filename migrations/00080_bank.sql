-- The business's bank statements, and the payouts they confirm (issue 17: the payout loop closed;
-- docs/accounts.md, docs/sources.md "bankstatement").
--
-- A payout a provider reports paid to a bank account whose statements mizan reads (a source whose account is
-- that IBAN is registered in recon.sources) waits in assets:<provider>:<account>:payouts_unconfirmed:<IBAN>
-- until the bank's statement shows its credit. Four tables, written only by the reconciler (internal/apply):
--   recon.bank_accounts  per IBAN: how far its statements reach (the completeness the missing-credit check uses)
--   recon.bank_lines     every line of every statement, once, with the payout that explains it
--   recon.bank_payouts   every payout awaiting a bank's credit, with the line that met it
--   recon.bank_balances  every balance a statement stated, with the ledger's at the same moment
-- and three views for analysts.

-- +goose Up
CREATE TABLE recon.bank_accounts (
    iban            text        NOT NULL CONSTRAINT bank_accounts_pkey PRIMARY KEY,
    provider        text        NOT NULL,
    currency        text        NOT NULL,
    opened_on       date,
    covered_from    date,
    covered_through date,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE recon.bank_accounts IS
    'Bank accounts whose statements mizan reads, and how far those statements reach. docs/sources.md (bankstatement).';
COMMENT ON COLUMN recon.bank_accounts.iban IS 'The bank account''s IBAN, upper case without spaces.';
COMMENT ON COLUMN recon.bank_accounts.provider IS 'The provider of the source that first read its statements (bankstatement).';
COMMENT ON COLUMN recon.bank_accounts.currency IS 'The currency the ledger keeps it in (IRT: rials are read as tomans).';
COMMENT ON COLUMN recon.bank_accounts.opened_on IS 'The day of the first balance a statement stated (normally the first statement''s opening balance): the ledger''s bank account was opened at it.';
COMMENT ON COLUMN recon.bank_accounts.covered_from IS 'The first day any statement read covers.';
COMMENT ON COLUMN recon.bank_accounts.covered_through IS 'The last day any statement read covers: every line the bank booked up to its end is in the ledger. Payouts are judged missing only against it, never against the clock.';
COMMENT ON COLUMN recon.bank_accounts.updated_at IS 'When a statement last moved covered_from or covered_through.';

CREATE TABLE recon.bank_lines (
    iban              text        NOT NULL,
    line_id           text        NOT NULL,
    provider          text        NOT NULL,
    currency          text        NOT NULL,
    booking_date      date        NOT NULL,
    value_date        date,
    booked_at         timestamptz NOT NULL,
    amount            numeric     NOT NULL CONSTRAINT bank_lines_amount_check CHECK (amount <> 0),
    end_to_end_id     text,
    bank_reference    text,
    entry_reference   text,
    description       text,
    counterparty_iban text,
    counterparty_name text,
    statement_id      text,
    file              text,
    line_no           int,
    event_id          text        NOT NULL,
    payout_like       boolean     NOT NULL,
    payout_key        text,
    unexpected_at     timestamptz,
    seen_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT bank_lines_pkey PRIMARY KEY (iban, line_id)
);

-- The credits nothing explains yet, by day: what a payout's window looks through.
CREATE INDEX bank_lines_open_credits_idx ON recon.bank_lines (iban, booking_date)
    WHERE payout_key IS NULL AND amount > 0;
-- The payout-like credits not alerted yet: what the unexpected-credit check reads.
CREATE INDEX bank_lines_unexpected_idx ON recon.bank_lines (iban, booking_date)
    WHERE payout_like AND payout_key IS NULL AND unexpected_at IS NULL AND amount > 0;

COMMENT ON TABLE recon.bank_lines IS
    'Every line of the bank statements mizan read, once (a line stated again by another statement is the same '
    'line), with the payout that explains it.';
COMMENT ON COLUMN recon.bank_lines.iban IS 'The bank account.';
COMMENT ON COLUMN recon.bank_lines.line_id IS 'The line''s deterministic id, derived from what it is, not from which file it came in.';
COMMENT ON COLUMN recon.bank_lines.provider IS 'The provider of the source that read it (bankstatement).';
COMMENT ON COLUMN recon.bank_lines.currency IS 'Currency of amount (IRT: a rial statement is read as tomans).';
COMMENT ON COLUMN recon.bank_lines.booking_date IS 'The day the bank booked it.';
COMMENT ON COLUMN recon.bank_lines.value_date IS 'The day the money counts from, where the bank gives it.';
COMMENT ON COLUMN recon.bank_lines.booked_at IS 'The start of booking_date in the bank''s time zone: when it moved the ledger''s bank account.';
COMMENT ON COLUMN recon.bank_lines.amount IS 'Signed: positive money in (a credit), negative money out.';
COMMENT ON COLUMN recon.bank_lines.end_to_end_id IS 'The payer''s end-to-end id (camt.053 EndToEndId).';
COMMENT ON COLUMN recon.bank_lines.bank_reference IS 'The bank''s own reference (camt.053 AcctSvcrRef, a CSV''s reference column).';
COMMENT ON COLUMN recon.bank_lines.entry_reference IS 'The entry''s reference in the statement (camt.053 NtryRef).';
COMMENT ON COLUMN recon.bank_lines.description IS 'The remittance text (camt.053 Ustrd, a CSV''s description column).';
COMMENT ON COLUMN recon.bank_lines.counterparty_iban IS 'The other party''s IBAN: the payer of a credit, the payee of a debit.';
COMMENT ON COLUMN recon.bank_lines.counterparty_name IS 'The other party''s name.';
COMMENT ON COLUMN recon.bank_lines.statement_id IS 'The statement it was first read from.';
COMMENT ON COLUMN recon.bank_lines.file IS 'The file it was first read from.';
COMMENT ON COLUMN recon.bank_lines.line_no IS 'Its line in that file (a CSV row; the XML line of a camt.053 entry).';
COMMENT ON COLUMN recon.bank_lines.event_id IS 'The event that reported it.';
COMMENT ON COLUMN recon.bank_lines.payout_like IS 'Whether it is a credit that looks like a provider''s payout (MIZAN_BANK_PAYOUT_PATTERN).';
COMMENT ON COLUMN recon.bank_lines.payout_key IS 'The payout it confirms (recon.bank_payouts.payout_key); NULL while nothing explains it.';
COMMENT ON COLUMN recon.bank_lines.unexpected_at IS 'When a bank_credit_unexpected alert was raised about it.';
COMMENT ON COLUMN recon.bank_lines.seen_at IS 'When mizan first recorded it.';

CREATE TABLE recon.bank_payouts (
    payout_key     text        NOT NULL CONSTRAINT bank_payouts_pkey PRIMARY KEY,
    provider       text        NOT NULL,
    account        text        NOT NULL,
    iban           text        NOT NULL,
    currency       text        NOT NULL,
    amount         numeric     NOT NULL CONSTRAINT bank_payouts_amount_check CHECK (amount > 0),
    transaction_id text,
    settlement_id  text,
    batch_id       text,
    track_id       text,
    payment_number text,
    paid_at        timestamptz NOT NULL,
    paid_day       date        NOT NULL,
    window_from    date        NOT NULL,
    due_day        date        NOT NULL,
    status         text        NOT NULL CONSTRAINT bank_payouts_status_check CHECK (status IN ('unconfirmed', 'matched', 'returned')),
    line_id        text,
    rule           text        CONSTRAINT bank_payouts_rule_check CHECK (rule IN ('reference', 'amount')),
    credited       numeric,
    difference     numeric,
    matched_at     timestamptz,
    missing_at     timestamptz,
    event_id       text        NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    -- A line confirms at most one payout.
    CONSTRAINT bank_payouts_line_key UNIQUE (iban, line_id)
);

CREATE INDEX bank_payouts_unconfirmed_idx ON recon.bank_payouts (iban, due_day) WHERE status = 'unconfirmed';

COMMENT ON TABLE recon.bank_payouts IS
    'Payouts reported paid to a bank account whose statements mizan reads: they wait in payouts_unconfirmed '
    'until the bank shows the credit (docs/accounts.md).';
COMMENT ON COLUMN recon.bank_payouts.payout_key IS 'The idempotency key of the entry that reported it paid (…:payout:<transaction id>:done).';
COMMENT ON COLUMN recon.bank_payouts.provider IS 'The provider that paid it out (vandar).';
COMMENT ON COLUMN recon.bank_payouts.account IS 'The provider account (a Vandar business slug).';
COMMENT ON COLUMN recon.bank_payouts.iban IS 'The bank account it was paid to.';
COMMENT ON COLUMN recon.bank_payouts.currency IS 'Currency of amount.';
COMMENT ON COLUMN recon.bank_payouts.amount IS 'What the provider says it paid.';
COMMENT ON COLUMN recon.bank_payouts.transaction_id IS 'The statement item that took it out of the wallet.';
COMMENT ON COLUMN recon.bank_payouts.settlement_id IS 'The settlement''s id (or the batch item''s).';
COMMENT ON COLUMN recon.bank_payouts.batch_id IS 'The batch it belongs to, for a batch item.';
COMMENT ON COLUMN recon.bank_payouts.track_id IS 'The merchant''s track id: the bank line that carries it confirms the payout whatever its amount.';
COMMENT ON COLUMN recon.bank_payouts.payment_number IS 'The payment (deposit) number, where the provider gives one: found in a bank line like the track id.';
COMMENT ON COLUMN recon.bank_payouts.paid_at IS 'When the provider paid it: its done time where reported, else its predicted completion once passed, else when it was first seen done.';
COMMENT ON COLUMN recon.bank_payouts.paid_day IS 'paid_at''s day in the bank''s time zone.';
COMMENT ON COLUMN recon.bank_payouts.window_from IS 'The first day a credit is looked for by amount: the day it was requested (its statement item), else MIZAN_BANK_WINDOW_DAYS business days before paid_day.';
COMMENT ON COLUMN recon.bank_payouts.due_day IS 'The last day of its window: MIZAN_BANK_WINDOW_DAYS business days (no weekend, no bank holiday) after paid_day.';
COMMENT ON COLUMN recon.bank_payouts.status IS 'unconfirmed (no credit yet), matched (a line met it) or returned (the provider brought it back before the bank showed it).';
COMMENT ON COLUMN recon.bank_payouts.line_id IS 'The bank line that met it.';
COMMENT ON COLUMN recon.bank_payouts.rule IS 'reference (the line carries its track id or payment number) or amount (same amount, within the window).';
COMMENT ON COLUMN recon.bank_payouts.credited IS 'What the bank credited.';
COMMENT ON COLUMN recon.bank_payouts.difference IS 'credited - amount: non-zero raises bank_amount_differs.';
COMMENT ON COLUMN recon.bank_payouts.matched_at IS 'When mizan matched them.';
COMMENT ON COLUMN recon.bank_payouts.missing_at IS 'When a bank_credit_missing alert was raised about it (the statements reached past due_day without its credit).';
COMMENT ON COLUMN recon.bank_payouts.event_id IS 'The event that reported it paid.';
COMMENT ON COLUMN recon.bank_payouts.recorded_at IS 'When mizan recorded it.';
COMMENT ON COLUMN recon.bank_payouts.updated_at IS 'When its status last changed.';

CREATE TABLE recon.bank_balances (
    event_id     text        NOT NULL CONSTRAINT bank_balances_pkey PRIMARY KEY,
    iban         text        NOT NULL,
    provider     text        NOT NULL,
    currency     text        NOT NULL,
    statement_id text,
    kind         text        NOT NULL CONSTRAINT bank_balances_kind_check CHECK (kind IN ('opening', 'closing')),
    day          date        NOT NULL,
    at           timestamptz NOT NULL,
    reported     numeric,
    ledger       numeric,
    difference   numeric,
    outcome      text        NOT NULL CONSTRAINT bank_balances_outcome_check CHECK (outcome IN ('OK', 'MISMATCH', 'OPENED', 'NOT_STATED')),
    covers_from  date        NOT NULL,
    covers_to    date        NOT NULL,
    file         text,
    checked_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX bank_balances_iban_idx ON recon.bank_balances (iban, day);

COMMENT ON TABLE recon.bank_balances IS
    'Every balance a bank statement stated, beside the ledger''s bank account at the same moment.';
COMMENT ON COLUMN recon.bank_balances.event_id IS 'The event that stated it.';
COMMENT ON COLUMN recon.bank_balances.iban IS 'The bank account.';
COMMENT ON COLUMN recon.bank_balances.provider IS 'The provider of the source that read it (bankstatement).';
COMMENT ON COLUMN recon.bank_balances.currency IS 'Currency of the amounts.';
COMMENT ON COLUMN recon.bank_balances.statement_id IS 'The statement''s id.';
COMMENT ON COLUMN recon.bank_balances.kind IS 'opening (before the day''s lines) or closing (after them).';
COMMENT ON COLUMN recon.bank_balances.day IS 'The day the balance is of.';
COMMENT ON COLUMN recon.bank_balances.at IS 'The moment it is of: the start of day (opening) or of the next day (closing), in the bank''s time zone.';
COMMENT ON COLUMN recon.bank_balances.reported IS 'What the statement states (NULL: it states no balance, as a CSV export without a balance column).';
COMMENT ON COLUMN recon.bank_balances.ledger IS 'The ledger''s bank account (assets:bank:<IBAN>:cash) just before at.';
COMMENT ON COLUMN recon.bank_balances.difference IS 'ledger - reported.';
COMMENT ON COLUMN recon.bank_balances.outcome IS 'OK, MISMATCH (a bank_balance alert), OPENED (the first balance stated: the ledger''s account was opened at it) or NOT_STATED.';
COMMENT ON COLUMN recon.bank_balances.covers_from IS 'The first day the statement covers.';
COMMENT ON COLUMN recon.bank_balances.covers_to IS 'The last day the statement covers.';
COMMENT ON COLUMN recon.bank_balances.file IS 'The file it was read from.';
COMMENT ON COLUMN recon.bank_balances.checked_at IS 'When mizan compared it.';

GRANT SELECT, INSERT ON recon.bank_accounts, recon.bank_lines, recon.bank_payouts, recon.bank_balances TO mizan_app;
GRANT UPDATE (opened_on, covered_from, covered_through, updated_at) ON recon.bank_accounts TO mizan_app;
GRANT UPDATE (payout_key, unexpected_at) ON recon.bank_lines TO mizan_app;
GRANT UPDATE (status, line_id, rule, credited, difference, matched_at, missing_at, updated_at) ON recon.bank_payouts TO mizan_app;
GRANT SELECT ON recon.bank_accounts, recon.bank_lines, recon.bank_payouts, recon.bank_balances TO mizan_analyst;

-- The views ----------------------------------------------------------------------------------------------------

CREATE VIEW analytics.bank_payouts AS
SELECT p.provider,
       p.account AS provider_account,
       p.iban,
       p.transaction_id,
       p.settlement_id,
       p.batch_id,
       p.track_id,
       p.payment_number,
       p.amount,
       p.currency,
       p.paid_at,
       p.paid_day,
       p.window_from,
       p.due_day,
       CASE
           WHEN p.status = 'returned' THEN 'returned'
           WHEN p.status = 'matched' AND p.difference <> 0 THEN 'amount_differs'
           WHEN p.status = 'matched' THEN 'confirmed'
           WHEN a.covered_through IS NULL OR a.covered_through < p.due_day THEN 'awaiting_statement'
           WHEN a.covered_from > p.paid_day THEN 'before_statements'
           ELSE 'missing'
       END AS verdict,
       p.rule,
       p.line_id,
       l.booking_date,
       l.value_date,
       p.credited,
       p.difference,
       l.booking_date - p.paid_day AS days_to_credit,
       l.description AS line_description,
       p.matched_at,
       a.covered_through AS statements_through,
       p.missing_at IS NOT NULL AS alerted
FROM recon.bank_payouts p
LEFT JOIN recon.bank_lines l ON l.iban = p.iban AND l.line_id = p.line_id
LEFT JOIN recon.bank_accounts a ON a.iban = p.iban;

COMMENT ON VIEW analytics.bank_payouts IS
    'Every payout reported paid to a bank account whose statements mizan reads, and the bank line that '
    'confirmed it (or why none has): confirmed, amount_differs, awaiting_statement, before_statements, missing, returned.';
COMMENT ON COLUMN analytics.bank_payouts.provider IS 'The provider that paid it out (vandar).';
COMMENT ON COLUMN analytics.bank_payouts.provider_account IS 'The provider account (a Vandar business slug).';
COMMENT ON COLUMN analytics.bank_payouts.iban IS 'The bank account it was paid to.';
COMMENT ON COLUMN analytics.bank_payouts.transaction_id IS 'The statement item that took it out of the wallet.';
COMMENT ON COLUMN analytics.bank_payouts.settlement_id IS 'The settlement''s id (or the batch item''s).';
COMMENT ON COLUMN analytics.bank_payouts.batch_id IS 'The batch, for a batch item.';
COMMENT ON COLUMN analytics.bank_payouts.track_id IS 'The merchant''s track id.';
COMMENT ON COLUMN analytics.bank_payouts.payment_number IS 'The payment (deposit) number, where given.';
COMMENT ON COLUMN analytics.bank_payouts.amount IS 'What the provider says it paid.';
COMMENT ON COLUMN analytics.bank_payouts.currency IS 'Currency of amount, credited and difference.';
COMMENT ON COLUMN analytics.bank_payouts.paid_at IS 'When the provider paid it (its done time, else its predicted completion once passed, else when first seen done).';
COMMENT ON COLUMN analytics.bank_payouts.paid_day IS 'paid_at''s day in the bank''s time zone.';
COMMENT ON COLUMN analytics.bank_payouts.window_from IS 'The first day a credit is looked for by amount (the day it was requested).';
COMMENT ON COLUMN analytics.bank_payouts.due_day IS 'The last day of its window: MIZAN_BANK_WINDOW_DAYS business days after paid_day.';
COMMENT ON COLUMN analytics.bank_payouts.verdict IS 'confirmed, amount_differs, awaiting_statement (the statements have not reached due_day), before_statements (they begin after paid_day: it cannot be judged), missing, returned.';
COMMENT ON COLUMN analytics.bank_payouts.rule IS 'How the credit was found: reference (it carries the track id or payment number) or amount (same amount within the window).';
COMMENT ON COLUMN analytics.bank_payouts.line_id IS 'The bank line that confirmed it (analytics.bank_lines).';
COMMENT ON COLUMN analytics.bank_payouts.booking_date IS 'The day the bank booked the credit.';
COMMENT ON COLUMN analytics.bank_payouts.value_date IS 'The credit''s value date, where given.';
COMMENT ON COLUMN analytics.bank_payouts.credited IS 'What the bank credited.';
COMMENT ON COLUMN analytics.bank_payouts.difference IS 'credited - amount.';
COMMENT ON COLUMN analytics.bank_payouts.days_to_credit IS 'booking_date - paid_day, in calendar days.';
COMMENT ON COLUMN analytics.bank_payouts.line_description IS 'The credit''s description, as the bank wrote it.';
COMMENT ON COLUMN analytics.bank_payouts.matched_at IS 'When mizan matched them.';
COMMENT ON COLUMN analytics.bank_payouts.statements_through IS 'How far the bank account''s statements reach.';
COMMENT ON COLUMN analytics.bank_payouts.alerted IS 'Whether a bank_credit_missing alert was raised about it.';

CREATE VIEW analytics.bank_lines AS
SELECT l.iban,
       l.line_id,
       l.booking_date,
       l.value_date,
       CASE WHEN l.amount > 0 THEN 'credit' ELSE 'debit' END AS direction,
       l.amount,
       l.currency,
       l.description,
       l.end_to_end_id,
       l.bank_reference,
       l.counterparty_iban,
       l.counterparty_name,
       CASE WHEN l.payout_key IS NOT NULL THEN 'payout' ELSE 'unidentified' END AS explanation,
       p.provider AS payout_provider,
       p.account AS payout_account,
       p.settlement_id AS payout_settlement_id,
       p.track_id AS payout_track_id,
       l.payout_like,
       l.unexpected_at IS NOT NULL AS alerted,
       l.statement_id,
       l.file,
       l.line_no,
       l.seen_at
FROM recon.bank_lines l
LEFT JOIN recon.bank_payouts p ON p.payout_key = l.payout_key;

COMMENT ON VIEW analytics.bank_lines IS
    'Every line of the bank statements mizan read, and the payout that explains it; an unidentified line sits '
    'in liabilities:bank:<IBAN>:unidentified until a person decides.';
COMMENT ON COLUMN analytics.bank_lines.iban IS 'The bank account.';
COMMENT ON COLUMN analytics.bank_lines.line_id IS 'The line''s deterministic id.';
COMMENT ON COLUMN analytics.bank_lines.booking_date IS 'The day the bank booked it.';
COMMENT ON COLUMN analytics.bank_lines.value_date IS 'The day the money counts from, where given.';
COMMENT ON COLUMN analytics.bank_lines.direction IS 'credit (money in) or debit (money out).';
COMMENT ON COLUMN analytics.bank_lines.amount IS 'Signed: positive money in, negative money out.';
COMMENT ON COLUMN analytics.bank_lines.currency IS 'Currency of amount.';
COMMENT ON COLUMN analytics.bank_lines.description IS 'The remittance text.';
COMMENT ON COLUMN analytics.bank_lines.end_to_end_id IS 'The payer''s end-to-end id.';
COMMENT ON COLUMN analytics.bank_lines.bank_reference IS 'The bank''s reference.';
COMMENT ON COLUMN analytics.bank_lines.counterparty_iban IS 'The other party''s IBAN.';
COMMENT ON COLUMN analytics.bank_lines.counterparty_name IS 'The other party''s name.';
COMMENT ON COLUMN analytics.bank_lines.explanation IS 'payout (a provider''s payout it confirms) or unidentified.';
COMMENT ON COLUMN analytics.bank_lines.payout_provider IS 'The provider of the payout it confirms.';
COMMENT ON COLUMN analytics.bank_lines.payout_account IS 'The provider account of the payout it confirms.';
COMMENT ON COLUMN analytics.bank_lines.payout_settlement_id IS 'The settlement it confirms.';
COMMENT ON COLUMN analytics.bank_lines.payout_track_id IS 'That settlement''s track id.';
COMMENT ON COLUMN analytics.bank_lines.payout_like IS 'Whether it looks like a provider''s payout (MIZAN_BANK_PAYOUT_PATTERN).';
COMMENT ON COLUMN analytics.bank_lines.alerted IS 'Whether a bank_credit_unexpected alert was raised about it.';
COMMENT ON COLUMN analytics.bank_lines.statement_id IS 'The statement it was first read from.';
COMMENT ON COLUMN analytics.bank_lines.file IS 'The file it was first read from.';
COMMENT ON COLUMN analytics.bank_lines.line_no IS 'Its line in that file.';
COMMENT ON COLUMN analytics.bank_lines.seen_at IS 'When mizan first recorded it.';

CREATE VIEW analytics.bank_statement_balances AS
SELECT b.iban,
       b.statement_id,
       b.kind,
       b.day,
       b.reported,
       b.ledger,
       b.difference,
       b.currency,
       b.outcome,
       b.covers_from,
       b.covers_to,
       b.file,
       b.checked_at
FROM recon.bank_balances b;

COMMENT ON VIEW analytics.bank_statement_balances IS
    'Every opening and closing balance a bank statement stated, beside the ledger''s bank account at that moment.';
COMMENT ON COLUMN analytics.bank_statement_balances.iban IS 'The bank account.';
COMMENT ON COLUMN analytics.bank_statement_balances.statement_id IS 'The statement''s id.';
COMMENT ON COLUMN analytics.bank_statement_balances.kind IS 'opening (before the day''s lines) or closing (after them).';
COMMENT ON COLUMN analytics.bank_statement_balances.day IS 'The day the balance is of.';
COMMENT ON COLUMN analytics.bank_statement_balances.reported IS 'What the statement states (NULL: none).';
COMMENT ON COLUMN analytics.bank_statement_balances.ledger IS 'The ledger''s bank account at the same moment.';
COMMENT ON COLUMN analytics.bank_statement_balances.difference IS 'ledger - reported.';
COMMENT ON COLUMN analytics.bank_statement_balances.currency IS 'Currency of the amounts.';
COMMENT ON COLUMN analytics.bank_statement_balances.outcome IS 'OK, MISMATCH, OPENED (the first: the ledger''s account opened at it) or NOT_STATED.';
COMMENT ON COLUMN analytics.bank_statement_balances.covers_from IS 'The first day the statement covers.';
COMMENT ON COLUMN analytics.bank_statement_balances.covers_to IS 'The last day the statement covers.';
COMMENT ON COLUMN analytics.bank_statement_balances.file IS 'The file it was read from.';
COMMENT ON COLUMN analytics.bank_statement_balances.checked_at IS 'When mizan compared it.';

-- +goose Down
DROP VIEW analytics.bank_statement_balances;
DROP VIEW analytics.bank_lines;
DROP VIEW analytics.bank_payouts;
DROP TABLE recon.bank_balances;
DROP TABLE recon.bank_payouts;
DROP TABLE recon.bank_lines;
DROP TABLE recon.bank_accounts;
