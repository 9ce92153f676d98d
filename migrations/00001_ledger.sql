-- The double-entry ledger: accounts, journal entries, their postings and one balance row per account.
--
-- Every invariant that money correctness depends on is enforced here, by PostgreSQL, for every role
-- including the tables' owner (only DDL — dropping or disabling a trigger — gets around them):
--
--   1. An entry has at least two postings, they sum to zero per currency, and they all arrive in the one
--      statement that inserts the entry: nothing can be added to an entry later.
--   2. A posting's currency is its account's currency.
--   3. Entries and postings are append-only: no UPDATE, DELETE or TRUNCATE.
--   4. A reversal's postings exactly negate the original's; an entry is reversed at most once.
--   5. Balance chain: per account, postings are numbered 1, 2, 3, … (account_seq), each carries the balance
--      after it (balance_after) and the time it was booked (booked_at, never decreasing), and
--      account_balances holds the end of that chain. Writers computing from a stale balance fail.
--   6. Idempotency keys are unique; an account's code, type and currency never change; an account with
--      postings cannot be deleted.
--
-- Checks over an entry's postings run in statement-level AFTER triggers over transition tables: they cost a
-- few percent of the ingest, where row-level deferred triggers cost about a fifth (see the project's notes).
-- That form is sound only because of invariants 1 and 3: an entry's postings are complete at the end of
-- the statement that inserted them and can never change afterwards.
--
-- Every error raised here names its invariant as the error's constraint (pgconn.PgError.ConstraintName),
-- so the Go code can map it to a domain error, and its message names the entry or account concerned.

-- +goose Up
CREATE SCHEMA ledger;

COMMENT ON SCHEMA ledger IS 'Double-entry ledger: accounts, entries, postings, balances. Append-only.';

-- Accounts --------------------------------------------------------------------------------------------------

CREATE TABLE ledger.accounts (
    id         bigserial   NOT NULL CONSTRAINT accounts_pkey PRIMARY KEY,
    code       text        NOT NULL CONSTRAINT accounts_code_key UNIQUE
                                    CONSTRAINT accounts_code_check CHECK (code <> ''),
    type       text        NOT NULL CONSTRAINT accounts_type_check
                                    CHECK (type IN ('asset', 'liability', 'income', 'expense', 'equity')),
    currency   text        NOT NULL CONSTRAINT accounts_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- The target of the postings' composite foreign key: a posting names its account and currency together.
    CONSTRAINT accounts_id_currency_key UNIQUE (id, currency)
);

COMMENT ON TABLE ledger.accounts IS
    'Chart of accounts, e.g. assets:vandar:acme:wallet. One currency per account. Created on first use; '
    'code, type and currency never change.';

CREATE TABLE ledger.account_balances (
    account_id     bigint      NOT NULL CONSTRAINT account_balances_pkey PRIMARY KEY,
    currency       text        NOT NULL,
    balance        numeric     NOT NULL DEFAULT 0,
    last_seq       bigint      NOT NULL DEFAULT 0,
    last_booked_at timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT account_balances_account_fkey FOREIGN KEY (account_id, currency)
        REFERENCES ledger.accounts (id, currency) ON DELETE CASCADE
);

COMMENT ON TABLE ledger.account_balances IS
    'Current balance per account: the end of its posting chain. Written only by the postings trigger.';

-- Entries and postings --------------------------------------------------------------------------------------

CREATE TABLE ledger.entries (
    id                bigserial   NOT NULL CONSTRAINT entries_pkey PRIMARY KEY,
    idempotency_key   text        NOT NULL CONSTRAINT entries_idempotency_key_key UNIQUE
                                           CONSTRAINT entries_idempotency_key_check CHECK (idempotency_key <> ''),
    effective_at      timestamptz NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    description       text        NOT NULL DEFAULT '',
    metadata          jsonb       NOT NULL DEFAULT '{}'
                                  CONSTRAINT entries_metadata_check CHECK (jsonb_typeof(metadata) = 'object'),
    reverses_entry_id bigint      CONSTRAINT entries_reverses_entry_id_fkey REFERENCES ledger.entries (id)
                                  CONSTRAINT entries_reverses_entry_id_key UNIQUE,
    CONSTRAINT entries_reverses_other_check CHECK (reverses_entry_id <> id)
);

COMMENT ON TABLE ledger.entries IS
    'Journal entries, one per economic event. effective_at is when the provider says it happened; '
    'a correction is a new entry that reverses the old one (reverses_entry_id).';

CREATE TABLE ledger.postings (
    id            bigserial   NOT NULL CONSTRAINT postings_pkey PRIMARY KEY,
    entry_id      bigint      NOT NULL CONSTRAINT postings_entry_id_fkey REFERENCES ledger.entries (id),
    account_id    bigint      NOT NULL,
    currency      text        NOT NULL,
    -- Debit positive, credit negative.
    -- Non-zero and finite (numeric has NaN and ±Infinity, which sort above and below every number).
    amount        numeric     NOT NULL CONSTRAINT postings_amount_check
                                       CHECK (amount <> 0 AND amount > '-Infinity' AND amount < 'Infinity'),
    balance_after numeric     NOT NULL,
    account_seq   bigint      NOT NULL CONSTRAINT postings_account_seq_check CHECK (account_seq > 0),
    booked_at     timestamptz NOT NULL,
    CONSTRAINT postings_account_currency_fkey FOREIGN KEY (account_id, currency)
        REFERENCES ledger.accounts (id, currency),
    CONSTRAINT postings_account_seq_key UNIQUE (account_id, account_seq)
);

COMMENT ON TABLE ledger.postings IS
    'Lines of the entries: signed amounts, debit positive. account_seq numbers an account''s postings from 1; '
    'balance_after is the account''s balance after the posting; booked_at never decreases along account_seq.';

-- A balance at a point in time is one backward index-only scan of this index (ledger.balance_at).
CREATE INDEX postings_account_booked_at_idx ON ledger.postings (account_id, booked_at, account_seq)
    INCLUDE (balance_after);
CREATE INDEX postings_entry_id_idx ON ledger.postings (entry_id);

-- Invariant 6: accounts -------------------------------------------------------------------------------------

-- +goose StatementBegin
CREATE FUNCTION ledger.accounts_refuse_update() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    IF NEW.id <> OLD.id OR NEW.code <> OLD.code OR NEW.type <> OLD.type OR NEW.currency <> OLD.currency
        OR NEW.created_at <> OLD.created_at THEN
        RAISE EXCEPTION 'ledger invariant 6 (accounts immutable): account % (%): code, type and currency never change',
            OLD.id, OLD.code
            USING ERRCODE = 'restrict_violation', CONSTRAINT = 'accounts_immutable',
                SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME,
                HINT = 'Create a new account instead.';
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER accounts_immutable
    BEFORE UPDATE ON ledger.accounts
    FOR EACH ROW EXECUTE FUNCTION ledger.accounts_refuse_update();

-- The foreign key from postings refuses the delete too; this says so in words.
-- +goose StatementBegin
CREATE FUNCTION ledger.accounts_refuse_delete_used() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    IF EXISTS (SELECT 1 FROM ledger.postings p WHERE p.account_id = OLD.id) THEN
        RAISE EXCEPTION 'ledger invariant 6 (used accounts stay): account % (%) has postings and cannot be deleted',
            OLD.id, OLD.code
            USING ERRCODE = 'restrict_violation', CONSTRAINT = 'accounts_in_use',
                SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME;
    END IF;
    RETURN OLD;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER accounts_in_use
    BEFORE DELETE ON ledger.accounts
    FOR EACH ROW EXECUTE FUNCTION ledger.accounts_refuse_delete_used();

-- Every account gets its balance row in the statement that creates it, so the postings trigger always has
-- a row to lock and to continue the chain from.
-- +goose StatementBegin
CREATE FUNCTION ledger.accounts_open_balance() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    INSERT INTO ledger.account_balances (account_id, currency)
    SELECT a.id, a.currency FROM new_accounts a;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER accounts_open_balance
    AFTER INSERT ON ledger.accounts
    REFERENCING NEW TABLE AS new_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.accounts_open_balance();

-- Balance rows are written only by triggers: the one above (insert), the postings trigger (update) and the
-- cascade of an unused account's delete. A trigger's own statements run at pg_trigger_depth() > 1 here; a
-- client's statement at depth 1.
-- +goose StatementBegin
CREATE FUNCTION ledger.account_balances_refuse_direct() RETURNS trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    what text := '';
BEGIN
    IF TG_OP <> 'TRUNCATE' AND pg_trigger_depth() > 1 THEN
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NEW;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        what := format(' for account %s', OLD.account_id);
    ELSIF TG_OP = 'INSERT' THEN
        what := format(' for account %s', NEW.account_id);
    END IF;
    RAISE EXCEPTION 'ledger invariant 5 (balance chain): % of ledger.account_balances refused%: balances are written only by posting entries',
        TG_OP, what
        USING ERRCODE = 'restrict_violation', CONSTRAINT = 'account_balances_guard',
            SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER account_balances_guard
    BEFORE INSERT OR UPDATE OR DELETE ON ledger.account_balances
    FOR EACH ROW EXECUTE FUNCTION ledger.account_balances_refuse_direct();

CREATE TRIGGER account_balances_no_truncate
    BEFORE TRUNCATE ON ledger.account_balances
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.account_balances_refuse_direct();

-- Invariant 3: append-only ----------------------------------------------------------------------------------

-- +goose StatementBegin
CREATE FUNCTION ledger.refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    what text := 'all rows';
BEGIN
    IF TG_OP <> 'TRUNCATE' THEN
        IF TG_TABLE_NAME = 'entries' THEN
            what := format('entry %s (%s)', OLD.id, to_jsonb(OLD) ->> 'idempotency_key');
        ELSE
            what := format('posting %s of entry %s on account %s', OLD.id, to_jsonb(OLD) ->> 'entry_id',
                           to_jsonb(OLD) ->> 'account_id');
        END IF;
    END IF;
    RAISE EXCEPTION 'ledger invariant 3 (append-only): % of %.% refused for %: entries and postings never change',
        TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME, what
        USING ERRCODE = 'restrict_violation', CONSTRAINT = TG_TABLE_NAME || '_immutable',
            SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME,
            HINT = 'Correct a posted entry with a reversing entry.';
END
$$;
-- +goose StatementEnd

CREATE TRIGGER entries_immutable
    BEFORE UPDATE OR DELETE ON ledger.entries
    FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();

CREATE TRIGGER entries_no_truncate
    BEFORE TRUNCATE ON ledger.entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();

CREATE TRIGGER postings_immutable
    BEFORE UPDATE OR DELETE ON ledger.postings
    FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();

CREATE TRIGGER postings_no_truncate
    BEFORE TRUNCATE ON ledger.postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();

-- Invariants 1 and 4, seen from the entries ------------------------------------------------------------------

-- Runs at the end of the statement that inserted the entries — after that statement's postings are in the
-- table. An entry inserted without postings fails here; since postings can only arrive with their entry
-- (postings_check_insert), such an entry could never be completed later.
-- +goose StatementBegin
CREATE FUNCTION ledger.entries_check_insert() RETURNS trigger
    LANGUAGE plpgsql AS
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

CREATE TRIGGER entries_check_insert
    AFTER INSERT ON ledger.entries
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.entries_check_insert();

-- Invariants 1 and 5, seen from the postings -----------------------------------------------------------------

-- +goose StatementBegin
CREATE FUNCTION ledger.postings_check_insert() RETURNS trigger
    LANGUAGE plpgsql AS
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

CREATE TRIGGER postings_check_insert
    AFTER INSERT ON ledger.postings
    REFERENCING NEW TABLE AS new_postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.postings_check_insert();

-- Reads ------------------------------------------------------------------------------------------------------

-- +goose StatementBegin
CREATE FUNCTION ledger.balance_at(account_code text, at timestamptz) RETURNS numeric
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

CREATE VIEW ledger.balances AS
SELECT a.code AS account, a.type, a.currency, b.balance
FROM ledger.account_balances b
JOIN ledger.accounts a ON a.id = b.account_id;

COMMENT ON VIEW ledger.balances IS 'Current balance of every account.';

-- +goose Down
DROP SCHEMA ledger CASCADE;
