-- Amounts and times within bounds, enforced by the ledger itself (issue 14: nothing is money until it is
-- within bounds). The reconciler checks the same bounds before it writes anything and names the event it
-- refuses; these checks hold for every writer, whatever it checked.
--
--   * ledger.currencies: the currencies the ledger takes, each with its minor unit (the toman, IRT, has none;
--     EUR and CHF have cents) and the largest amount a posting may carry. A posting in another currency, with
--     more decimal places than the minor unit, or beyond the bound is refused: an amount of 1e400 would
--     otherwise make a wallet a 405-digit number, and 12.345 IRT a fraction of a coin that does not exist.
--   * ledger.limits: one row, the earliest effective or booking time the ledger takes (time_floor) and how far
--     past the database's clock one may be (clock_skew). An entry effective on 9999-12-31 would otherwise book
--     every later posting of its accounts at 9999 and break every balance check after it.
--
-- Both are the owner's to configure (UPDATE as the role that ran the migrations; docs/security.md); the
-- running commands read them. The checks are added to the two statement-level triggers that already check
-- every statement's entries and postings: one more pass over the statement's rows, no per-row trigger.
-- CREATE OR REPLACE resets a function's settings, so jit = off (00023) is restated.

-- +goose Up
CREATE TABLE ledger.currencies (
    code           text    NOT NULL CONSTRAINT currencies_pkey PRIMARY KEY
                                    CONSTRAINT currencies_code_check CHECK (code ~ '^[A-Z]{3}$'),
    minor_units    int     NOT NULL CONSTRAINT currencies_minor_units_check CHECK (minor_units BETWEEN 0 AND 4),
    max_abs_amount numeric NOT NULL DEFAULT 1e15
                                    CONSTRAINT currencies_max_abs_amount_check
                                    CHECK (max_abs_amount > 0 AND max_abs_amount < 'Infinity')
);

COMMENT ON TABLE ledger.currencies IS
    'Currencies the ledger takes: ISO 4217 (minor units as ISO gives them) and IRT, the toman, with none. '
    'A posting must be in one of them, with at most minor_units decimal places and at most max_abs_amount.';
COMMENT ON COLUMN ledger.currencies.code IS 'ISO 4217 code, or IRT for the toman.';
COMMENT ON COLUMN ledger.currencies.minor_units IS 'Decimal places an amount may have: 0 for IRT and JPY, 2 for EUR and CHF, 3 for KWD.';
COMMENT ON COLUMN ledger.currencies.max_abs_amount IS 'Largest absolute amount of one posting or one reported figure (default 1e15).';

INSERT INTO ledger.currencies (code, minor_units) VALUES
    ('AED', 2), ('AFN', 2), ('ALL', 2), ('AMD', 2), ('ANG', 2), ('AOA', 2), ('ARS', 2), ('AUD', 2), ('AWG', 2),
    ('AZN', 2), ('BAM', 2), ('BBD', 2), ('BDT', 2), ('BGN', 2), ('BHD', 3), ('BIF', 0), ('BMD', 2), ('BND', 2),
    ('BOB', 2), ('BOV', 2), ('BRL', 2), ('BSD', 2), ('BTN', 2), ('BWP', 2), ('BYN', 2), ('BZD', 2), ('CAD', 2),
    ('CDF', 2), ('CHE', 2), ('CHF', 2), ('CHW', 2), ('CLF', 4), ('CLP', 0), ('CNY', 2), ('COP', 2), ('COU', 2),
    ('CRC', 2), ('CUP', 2), ('CVE', 2), ('CZK', 2), ('DJF', 0), ('DKK', 2), ('DOP', 2), ('DZD', 2), ('EGP', 2),
    ('ERN', 2), ('ETB', 2), ('EUR', 2), ('FJD', 2), ('FKP', 2), ('GBP', 2), ('GEL', 2), ('GHS', 2), ('GIP', 2),
    ('GMD', 2), ('GNF', 0), ('GTQ', 2), ('GYD', 2), ('HKD', 2), ('HNL', 2), ('HTG', 2), ('HUF', 2), ('IDR', 2),
    ('ILS', 2), ('INR', 2), ('IQD', 3), ('IRR', 2), ('IRT', 0), ('ISK', 0), ('JMD', 2), ('JOD', 3), ('JPY', 0),
    ('KES', 2), ('KGS', 2), ('KHR', 2), ('KMF', 0), ('KPW', 2), ('KRW', 0), ('KWD', 3), ('KYD', 2), ('KZT', 2),
    ('LAK', 2), ('LBP', 2), ('LKR', 2), ('LRD', 2), ('LSL', 2), ('LYD', 3), ('MAD', 2), ('MDL', 2), ('MGA', 2),
    ('MKD', 2), ('MMK', 2), ('MNT', 2), ('MOP', 2), ('MRU', 2), ('MUR', 2), ('MVR', 2), ('MWK', 2), ('MXN', 2),
    ('MXV', 2), ('MYR', 2), ('MZN', 2), ('NAD', 2), ('NGN', 2), ('NIO', 2), ('NOK', 2), ('NPR', 2), ('NZD', 2),
    ('OMR', 3), ('PAB', 2), ('PEN', 2), ('PGK', 2), ('PHP', 2), ('PKR', 2), ('PLN', 2), ('PYG', 0), ('QAR', 2),
    ('RON', 2), ('RSD', 2), ('RUB', 2), ('RWF', 0), ('SAR', 2), ('SBD', 2), ('SCR', 2), ('SDG', 2), ('SEK', 2),
    ('SGD', 2), ('SHP', 2), ('SLE', 2), ('SOS', 2), ('SRD', 2), ('SSP', 2), ('STN', 2), ('SVC', 2), ('SYP', 2),
    ('SZL', 2), ('THB', 2), ('TJS', 2), ('TMT', 2), ('TND', 3), ('TOP', 2), ('TRY', 2), ('TTD', 2), ('TWD', 2),
    ('TZS', 2), ('UAH', 2), ('UGX', 0), ('USD', 2), ('USN', 2), ('UYI', 0), ('UYU', 2), ('UYW', 4), ('UZS', 2),
    ('VED', 2), ('VES', 2), ('VND', 0), ('VUV', 0), ('WST', 2), ('XAF', 0), ('XCD', 2), ('XOF', 0), ('XPF', 0),
    ('YER', 2), ('ZAR', 2), ('ZMW', 2), ('ZWG', 2);

CREATE TABLE ledger.limits (
    one        boolean     NOT NULL DEFAULT true CONSTRAINT limits_pkey PRIMARY KEY CONSTRAINT limits_one_check CHECK (one),
    time_floor timestamptz NOT NULL DEFAULT '2015-01-01T00:00:00Z'
                                    CONSTRAINT limits_time_floor_check CHECK (time_floor > '-infinity'),
    clock_skew interval    NOT NULL DEFAULT '5 minutes'
                                    CONSTRAINT limits_clock_skew_check CHECK (clock_skew >= '0' AND clock_skew <= '1 day')
);

COMMENT ON TABLE ledger.limits IS
    'One row: the times the ledger takes. effective_at and booked_at must be at or after time_floor and at '
    'most clock_skew past the database''s clock.';
COMMENT ON COLUMN ledger.limits.one IS 'Always true: the table has one row.';
COMMENT ON COLUMN ledger.limits.time_floor IS 'Earliest effective or booking time accepted (default 2015-01-01).';
COMMENT ON COLUMN ledger.limits.clock_skew IS 'How far past now() a time may be: the providers'' and the hosts'' clocks drift (default 5 minutes).';

INSERT INTO ledger.limits DEFAULT VALUES;

-- Read by the triggers below (as the writer), by the reconciler's own checks, and by analysts.
GRANT SELECT ON ledger.currencies, ledger.limits TO mizan_app, mizan_analyst;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ledger.entries_check_insert() RETURNS trigger
    LANGUAGE plpgsql SET jit = off AS
$$
DECLARE
    bad record;
    lim record;
BEGIN
    -- Bounds: an effective time before ledger.limits' floor or after now plus its clock skew is refused. A
    -- time in the far future would otherwise become the booking time of every later posting of the accounts
    -- it touches (an account's postings are booked in order), and every balance check after it would compare
    -- the wrong numbers.
    SELECT l.time_floor, l.clock_skew INTO lim FROM ledger.limits l;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ledger bounds: ledger.limits has no row'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'entries_effective_at_bounds',
                SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME;
    END IF;
    SELECT e.id, e.idempotency_key, e.effective_at INTO bad
    FROM new_entries e
    WHERE e.effective_at < lim.time_floor OR e.effective_at > now() + lim.clock_skew
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger bounds: entry % (%) has effective_at %, outside % .. % (ledger.limits: the floor, and now plus a clock skew of %)',
            bad.id, bad.idempotency_key, bad.effective_at, lim.time_floor, now() + lim.clock_skew, lim.clock_skew
            USING ERRCODE = 'check_violation', CONSTRAINT = 'entries_effective_at_bounds',
                SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME;
    END IF;

    SELECT e.id, e.idempotency_key INTO bad
    FROM new_entries e
    WHERE NOT EXISTS (SELECT 1 FROM ledger.postings p WHERE p.entry_id = e.id)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger invariant 1 (balanced entries): entry % (%) has no postings; an entry and all its postings must be inserted in one statement',
            bad.id, bad.idempotency_key
            USING ERRCODE = 'check_violation', CONSTRAINT = 'entries_have_postings',
                SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME;
    END IF;

    -- Invariant 4: a reversal's (account, amount) lines are the original's with the sign flipped, one for
    -- one. Only reversals pay for this.
    SELECT x.id, x.account_id, x.amount INTO bad
    FROM (SELECT r.id, p.account_id, p.amount, 1 AS n
          FROM new_entries r
          JOIN ledger.postings p ON p.entry_id = r.id
          WHERE r.reverses_entry_id IS NOT NULL
          UNION ALL
          SELECT r.id, p.account_id, -p.amount, -1
          FROM new_entries r
          JOIN ledger.postings p ON p.entry_id = r.reverses_entry_id
          WHERE r.reverses_entry_id IS NOT NULL) x
    GROUP BY x.id, x.account_id, x.amount
    HAVING sum(x.n) <> 0
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger invariant 4 (reversals negate): entry % (%) does not exactly negate entry % (%): account % amount % does not match',
            bad.id, (SELECT e.idempotency_key FROM ledger.entries e WHERE e.id = bad.id),
            (SELECT e.reverses_entry_id FROM ledger.entries e WHERE e.id = bad.id),
            (SELECT o.idempotency_key FROM ledger.entries e JOIN ledger.entries o ON o.id = e.reverses_entry_id
             WHERE e.id = bad.id),
            bad.account_id, bad.amount
            USING ERRCODE = 'check_violation', CONSTRAINT = 'entries_reversal_negates',
                SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ledger.postings_check_insert() RETURNS trigger
    LANGUAGE plpgsql SET jit = off AS
$$
DECLARE
    bad record;
    lim record;
BEGIN
    -- Invariant 1: all of an entry's postings arrive in one statement. If the table holds more postings of
    -- an entry than this statement inserted, some came earlier: this statement is adding to a posted entry.
    SELECT n.entry_id, n.n INTO bad
    FROM (SELECT np.entry_id, count(*) AS n FROM new_postings np GROUP BY np.entry_id) n
    WHERE (SELECT count(*) FROM ledger.postings p WHERE p.entry_id = n.entry_id) <> n.n
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger invariant 1 (balanced entries): entry % (%) already has postings; postings cannot be added to a posted entry',
            bad.entry_id, (SELECT e.idempotency_key FROM ledger.entries e WHERE e.id = bad.entry_id)
            USING ERRCODE = 'check_violation', CONSTRAINT = 'postings_one_statement',
                SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME;
    END IF;

    -- With the check above, new_postings holds every posting of each entry it mentions.
    SELECT np.entry_id, count(*) AS n INTO bad
    FROM new_postings np
    GROUP BY np.entry_id
    HAVING count(*) < 2
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger invariant 1 (balanced entries): entry % (%) has % posting(s); an entry needs at least two',
            bad.entry_id, (SELECT e.idempotency_key FROM ledger.entries e WHERE e.id = bad.entry_id), bad.n
            USING ERRCODE = 'check_violation', CONSTRAINT = 'postings_min_two',
                SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME;
    END IF;

    SELECT np.entry_id, np.currency, sum(np.amount) AS total INTO bad
    FROM new_postings np
    GROUP BY np.entry_id, np.currency
    HAVING sum(np.amount) <> 0
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger invariant 1 (balanced entries): entry % (%) does not balance: its % postings sum to %',
            bad.entry_id, (SELECT e.idempotency_key FROM ledger.entries e WHERE e.id = bad.entry_id),
            bad.currency, bad.total
            USING ERRCODE = 'check_violation', CONSTRAINT = 'postings_balanced',
                SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME;
    END IF;

    -- Bounds: every amount is in a currency of ledger.currencies, has no more decimal places than the
    -- currency's minor unit (a toman has none) and is at most its max_abs_amount; every booking time is within
    -- ledger.limits. One pass over the statement's postings, beside the checks above.
    SELECT l.time_floor, l.clock_skew INTO lim FROM ledger.limits l;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ledger bounds: ledger.limits has no row'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'postings_booked_at_bounds',
                SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME;
    END IF;
    SELECT np.entry_id, np.account_id, np.currency, np.amount, np.booked_at,
           c.code IS NULL AS unknown, c.minor_units, c.max_abs_amount INTO bad
    FROM new_postings np
    LEFT JOIN ledger.currencies c ON c.code = np.currency
    WHERE c.code IS NULL
       OR abs(np.amount) > c.max_abs_amount
       OR np.amount <> round(np.amount, c.minor_units)
       OR np.booked_at < lim.time_floor OR np.booked_at > now() + lim.clock_skew
    LIMIT 1;
    IF FOUND THEN
        IF bad.unknown THEN
            RAISE EXCEPTION 'ledger bounds: entry % (%), account %: currency % is not in ledger.currencies',
                bad.entry_id, (SELECT e.idempotency_key FROM ledger.entries e WHERE e.id = bad.entry_id),
                bad.account_id, bad.currency
                USING ERRCODE = 'check_violation', CONSTRAINT = 'postings_currency_known',
                    SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME;
        ELSIF abs(bad.amount) > bad.max_abs_amount THEN
            RAISE EXCEPTION 'ledger bounds: entry % (%), account %: the amount (% digits) is beyond the % bound of % (ledger.currencies.max_abs_amount)',
                bad.entry_id, (SELECT e.idempotency_key FROM ledger.entries e WHERE e.id = bad.entry_id),
                bad.account_id, length(trunc(abs(bad.amount))::text), bad.currency, bad.max_abs_amount
                USING ERRCODE = 'check_violation', CONSTRAINT = 'postings_amount_bound',
                    SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME;
        ELSIF bad.amount <> round(bad.amount, bad.minor_units) THEN
            RAISE EXCEPTION 'ledger bounds: entry % (%), account %: amount % % has more than % decimal place(s)',
                bad.entry_id, (SELECT e.idempotency_key FROM ledger.entries e WHERE e.id = bad.entry_id),
                bad.account_id, bad.amount, bad.currency, bad.minor_units
                USING ERRCODE = 'check_violation', CONSTRAINT = 'postings_amount_scale',
                    SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME;
        ELSE
            RAISE EXCEPTION 'ledger bounds: entry % (%), account %: booked_at %, outside % .. % (ledger.limits: the floor, and now plus a clock skew of %)',
                bad.entry_id, (SELECT e.idempotency_key FROM ledger.entries e WHERE e.id = bad.entry_id),
                bad.account_id, bad.booked_at, lim.time_floor, now() + lim.clock_skew, lim.clock_skew
                USING ERRCODE = 'check_violation', CONSTRAINT = 'postings_booked_at_bounds',
                    SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME;
        END IF;
    END IF;

    -- Invariant 5: the balance chain. Lock the touched balance rows in one order (no deadlock between
    -- writers), then check the new postings continue each account's chain from the locked, current end.
    -- Under READ COMMITTED the next statement sees what the previous lock holder committed, so a writer
    -- that computed from a stale balance fails here (or on postings_account_seq_key) instead of losing
    -- the other's update.
    PERFORM 1
    FROM ledger.account_balances b
    WHERE b.account_id IN (SELECT np.account_id FROM new_postings np)
    ORDER BY b.account_id
    FOR UPDATE;

    SELECT c.* INTO bad
    FROM (SELECT np.account_id, np.entry_id, np.account_seq, np.balance_after, np.booked_at,
                 b.account_id IS NULL AS no_balance_row,
                 b.last_seq + row_number() OVER w AS want_seq,
                 b.balance + sum(np.amount) OVER w AS want_balance,
                 coalesce(lag(np.booked_at) OVER w, b.last_booked_at, '-infinity') AS prev_booked_at
          FROM new_postings np
          LEFT JOIN ledger.account_balances b ON b.account_id = np.account_id
          WINDOW w AS (PARTITION BY np.account_id ORDER BY np.account_seq
                       ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)) c
    WHERE c.no_balance_row
       OR c.account_seq <> c.want_seq
       OR c.balance_after <> c.want_balance
       OR c.booked_at < c.prev_booked_at
    ORDER BY c.account_id, c.account_seq
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger invariant 5 (balance chain): account % (%), posting of entry % (%): %',
            bad.account_id, (SELECT a.code FROM ledger.accounts a WHERE a.id = bad.account_id),
            bad.entry_id, (SELECT e.idempotency_key FROM ledger.entries e WHERE e.id = bad.entry_id),
            CASE
                WHEN bad.no_balance_row THEN 'the account has no balance row'
                WHEN bad.account_seq <> bad.want_seq
                    THEN format('account_seq is %s, the chain continues at %s', bad.account_seq, bad.want_seq)
                WHEN bad.balance_after <> bad.want_balance
                    THEN format('balance_after is %s, the chain gives %s', bad.balance_after, bad.want_balance)
                ELSE format('booked_at %s is before the previous posting''s %s', bad.booked_at, bad.prev_booked_at)
            END
            USING ERRCODE = 'check_violation', CONSTRAINT = 'postings_balance_chain',
                SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME,
                HINT = 'Compute account_seq, balance_after and booked_at from the account''s balance row, locked FOR UPDATE.';
    END IF;

    UPDATE ledger.account_balances b
    SET balance        = l.balance_after,
        last_seq       = l.account_seq,
        last_booked_at = l.booked_at,
        updated_at     = now()
    FROM (SELECT DISTINCT ON (np.account_id) np.account_id, np.balance_after, np.account_seq, np.booked_at
          FROM new_postings np
          ORDER BY np.account_id, np.account_seq DESC) l
    WHERE b.account_id = l.account_id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ledger.entries_check_insert() RETURNS trigger
    LANGUAGE plpgsql SET jit = off AS
$$
DECLARE
    bad record;
BEGIN
    SELECT e.id, e.idempotency_key INTO bad
    FROM new_entries e
    WHERE NOT EXISTS (SELECT 1 FROM ledger.postings p WHERE p.entry_id = e.id)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger invariant 1 (balanced entries): entry % (%) has no postings; an entry and all its postings must be inserted in one statement',
            bad.id, bad.idempotency_key
            USING ERRCODE = 'check_violation', CONSTRAINT = 'entries_have_postings',
                SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME;
    END IF;

    -- Invariant 4: a reversal's (account, amount) lines are the original's with the sign flipped, one for
    -- one. Only reversals pay for this.
    SELECT x.id, x.account_id, x.amount INTO bad
    FROM (SELECT r.id, p.account_id, p.amount, 1 AS n
          FROM new_entries r
          JOIN ledger.postings p ON p.entry_id = r.id
          WHERE r.reverses_entry_id IS NOT NULL
          UNION ALL
          SELECT r.id, p.account_id, -p.amount, -1
          FROM new_entries r
          JOIN ledger.postings p ON p.entry_id = r.reverses_entry_id
          WHERE r.reverses_entry_id IS NOT NULL) x
    GROUP BY x.id, x.account_id, x.amount
    HAVING sum(x.n) <> 0
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger invariant 4 (reversals negate): entry % (%) does not exactly negate entry % (%): account % amount % does not match',
            bad.id, (SELECT e.idempotency_key FROM ledger.entries e WHERE e.id = bad.id),
            (SELECT e.reverses_entry_id FROM ledger.entries e WHERE e.id = bad.id),
            (SELECT o.idempotency_key FROM ledger.entries e JOIN ledger.entries o ON o.id = e.reverses_entry_id
             WHERE e.id = bad.id),
            bad.account_id, bad.amount
            USING ERRCODE = 'check_violation', CONSTRAINT = 'entries_reversal_negates',
                SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ledger.postings_check_insert() RETURNS trigger
    LANGUAGE plpgsql SET jit = off AS
$$
DECLARE
    bad record;
BEGIN
    -- Invariant 1: all of an entry's postings arrive in one statement. If the table holds more postings of
    -- an entry than this statement inserted, some came earlier: this statement is adding to a posted entry.
    SELECT n.entry_id, n.n INTO bad
    FROM (SELECT np.entry_id, count(*) AS n FROM new_postings np GROUP BY np.entry_id) n
    WHERE (SELECT count(*) FROM ledger.postings p WHERE p.entry_id = n.entry_id) <> n.n
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger invariant 1 (balanced entries): entry % (%) already has postings; postings cannot be added to a posted entry',
            bad.entry_id, (SELECT e.idempotency_key FROM ledger.entries e WHERE e.id = bad.entry_id)
            USING ERRCODE = 'check_violation', CONSTRAINT = 'postings_one_statement',
                SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME;
    END IF;

    -- With the check above, new_postings holds every posting of each entry it mentions.
    SELECT np.entry_id, count(*) AS n INTO bad
    FROM new_postings np
    GROUP BY np.entry_id
    HAVING count(*) < 2
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger invariant 1 (balanced entries): entry % (%) has % posting(s); an entry needs at least two',
            bad.entry_id, (SELECT e.idempotency_key FROM ledger.entries e WHERE e.id = bad.entry_id), bad.n
            USING ERRCODE = 'check_violation', CONSTRAINT = 'postings_min_two',
                SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME;
    END IF;

    SELECT np.entry_id, np.currency, sum(np.amount) AS total INTO bad
    FROM new_postings np
    GROUP BY np.entry_id, np.currency
    HAVING sum(np.amount) <> 0
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger invariant 1 (balanced entries): entry % (%) does not balance: its % postings sum to %',
            bad.entry_id, (SELECT e.idempotency_key FROM ledger.entries e WHERE e.id = bad.entry_id),
            bad.currency, bad.total
            USING ERRCODE = 'check_violation', CONSTRAINT = 'postings_balanced',
                SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME;
    END IF;

    -- Invariant 5: the balance chain. Lock the touched balance rows in one order (no deadlock between
    -- writers), then check the new postings continue each account's chain from the locked, current end.
    -- Under READ COMMITTED the next statement sees what the previous lock holder committed, so a writer
    -- that computed from a stale balance fails here (or on postings_account_seq_key) instead of losing
    -- the other's update.
    PERFORM 1
    FROM ledger.account_balances b
    WHERE b.account_id IN (SELECT np.account_id FROM new_postings np)
    ORDER BY b.account_id
    FOR UPDATE;

    SELECT c.* INTO bad
    FROM (SELECT np.account_id, np.entry_id, np.account_seq, np.balance_after, np.booked_at,
                 b.account_id IS NULL AS no_balance_row,
                 b.last_seq + row_number() OVER w AS want_seq,
                 b.balance + sum(np.amount) OVER w AS want_balance,
                 coalesce(lag(np.booked_at) OVER w, b.last_booked_at, '-infinity') AS prev_booked_at
          FROM new_postings np
          LEFT JOIN ledger.account_balances b ON b.account_id = np.account_id
          WINDOW w AS (PARTITION BY np.account_id ORDER BY np.account_seq
                       ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)) c
    WHERE c.no_balance_row
       OR c.account_seq <> c.want_seq
       OR c.balance_after <> c.want_balance
       OR c.booked_at < c.prev_booked_at
    ORDER BY c.account_id, c.account_seq
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger invariant 5 (balance chain): account % (%), posting of entry % (%): %',
            bad.account_id, (SELECT a.code FROM ledger.accounts a WHERE a.id = bad.account_id),
            bad.entry_id, (SELECT e.idempotency_key FROM ledger.entries e WHERE e.id = bad.entry_id),
            CASE
                WHEN bad.no_balance_row THEN 'the account has no balance row'
                WHEN bad.account_seq <> bad.want_seq
                    THEN format('account_seq is %s, the chain continues at %s', bad.account_seq, bad.want_seq)
                WHEN bad.balance_after <> bad.want_balance
                    THEN format('balance_after is %s, the chain gives %s', bad.balance_after, bad.want_balance)
                ELSE format('booked_at %s is before the previous posting''s %s', bad.booked_at, bad.prev_booked_at)
            END
            USING ERRCODE = 'check_violation', CONSTRAINT = 'postings_balance_chain',
                SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME,
                HINT = 'Compute account_seq, balance_after and booked_at from the account''s balance row, locked FOR UPDATE.';
    END IF;

    UPDATE ledger.account_balances b
    SET balance        = l.balance_after,
        last_seq       = l.account_seq,
        last_booked_at = l.booked_at,
        updated_at     = now()
    FROM (SELECT DISTINCT ON (np.account_id) np.account_id, np.balance_after, np.account_seq, np.booked_at
          FROM new_postings np
          ORDER BY np.account_id, np.account_seq DESC) l
    WHERE b.account_id = l.account_id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

DROP TABLE ledger.limits;
DROP TABLE ledger.currencies;
