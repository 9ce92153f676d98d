-- ledger.balance_at of an account that does not exist raises an error instead of answering 0.
--
-- Until now `SELECT ledger.balance_at('assets:vandar:acme:walet', now())` — a typo — answered 0, which reads as
-- "the wallet is empty". Now:
--   * an account the ledger knows, at a moment before its first posting (or with no postings at all): 0, as
--     before — it held nothing then;
--   * a code that names no account: an error (SQLSTATE 42704 undefined_object, constraint accounts_unknown)
--     naming the code, with the closest account codes as a hint.
--
-- What relied on the 0, and what it does now:
--   * internal/ledger.BalanceAt (the reconciler's balance check) reads the balance with its own query and
--     reports an unknown account as ledger.ErrUnknownAccount without an SQL error, which would abort the
--     reconciler's transaction; the balance check treats a wallet the ledger has never posted to as holding 0.
--   * analytics.balance_comparisons compared every observation with balance_at of a wallet code it builds; a
--     provider account mizan has observed but never posted to (a business with no statement items yet) would
--     make the whole view fail. It now reads the balance itself, 0 for such a wallet, as the check does.
--   * The Grafana dashboard's balance panels (deploy/grafana) do the same, in their own SQL.

-- +goose Up
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ledger.balance_at(account_code text, at timestamptz) RETURNS numeric
    LANGUAGE plpgsql STABLE PARALLEL SAFE AS
$$
DECLARE
    account bigint;
    balance numeric;
    near    text;
BEGIN
    SELECT a.id INTO account FROM ledger.accounts a WHERE a.code = account_code;
    IF NOT FOUND THEN
        -- The codes sharing most of the leading parts (type:provider:account:name) with the one asked for.
        SELECT string_agg(c.code, ', ' ORDER BY c.same DESC, c.code) INTO near
        FROM (SELECT a.code,
                     (SELECT count(*) FROM generate_series(1, 5) i
                      WHERE split_part(a.code, ':', i) <> '' AND split_part(a.code, ':', i) = split_part(account_code, ':', i)) AS same
              FROM ledger.accounts a
              ORDER BY 2 DESC, a.code
              LIMIT 5) c
        WHERE c.same > 0;
        RAISE EXCEPTION 'ledger: there is no account %', coalesce(quote_literal(account_code), 'NULL')
            USING ERRCODE = 'undefined_object', CONSTRAINT = 'accounts_unknown', SCHEMA = 'ledger', TABLE = 'accounts',
                HINT = CASE WHEN near IS NULL THEN 'SELECT code FROM ledger.accounts lists the accounts.'
                            ELSE 'Did you mean one of: ' || near || '?' END;
    END IF;
    SELECT p.balance_after INTO balance
    FROM ledger.postings p
    WHERE p.account_id = account AND p.booked_at <= at
    ORDER BY p.booked_at DESC, p.account_seq DESC
    LIMIT 1;
    RETURN coalesce(balance, 0);
END
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION ledger.balance_at(text, timestamptz) IS
    'Balance of an account at a point in booking time: balance_after of its last posting booked at or before '
    '"at"; 0 before its first posting. An account code that names no account raises an error (42704). '
    'One index-only read.';

-- The same comparison as before; the ledger's figure is read directly, 0 for a wallet the ledger has not
-- opened (see above), so one such observation cannot fail the view.
CREATE OR REPLACE VIEW analytics.balance_comparisons AS
SELECT o.event_id, o.provider, o.account AS provider_account, o.currency,
       w.code                          AS wallet_account,
       o.observed_at,
       o.amount                        AS reported,
       coalesce(l.balance_after, 0)    AS ledger,
       o.amount - coalesce(l.balance_after, 0) AS difference,
       wm.through                      AS statement_through,
       wm.through >= o.observed_at     AS comparable,
       o.figures,
       o.recorded_at
FROM recon.balance_observations o
CROSS JOIN LATERAL (
    SELECT 'assets:' || o.provider || ':' || o.account || ':wallet'
               || CASE WHEN o.currency = 'IRT' THEN '' ELSE ':' || lower(o.currency) END AS code
) w
LEFT JOIN ledger.accounts a ON a.code = w.code
LEFT JOIN LATERAL (
    SELECT p.balance_after
    FROM ledger.postings p
    WHERE p.account_id = a.id AND p.booked_at <= o.observed_at
    ORDER BY p.booked_at DESC, p.account_seq DESC
    LIMIT 1
) l ON true
LEFT JOIN recon.watermarks wm ON wm.provider = o.provider AND wm.account = o.account AND wm.feed = 'statement';

-- +goose Down
CREATE OR REPLACE VIEW analytics.balance_comparisons AS
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

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ledger.balance_at(account_code text, at timestamptz) RETURNS numeric
    LANGUAGE sql STABLE PARALLEL SAFE AS
$$
SELECT coalesce((SELECT p.balance_after
                 FROM ledger.postings p
                 WHERE p.account_id = (SELECT a.id FROM ledger.accounts a WHERE a.code = account_code)
                   AND p.booked_at <= at
                 ORDER BY p.booked_at DESC, p.account_seq DESC
                 LIMIT 1), 0)
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION ledger.balance_at(text, timestamptz) IS
    'Balance of an account at a point in booking time: balance_after of its last posting booked at or before '
    '"at"; 0 before its first posting or for an unknown account. One index-only read.';
