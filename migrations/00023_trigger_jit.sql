-- The ledger's statement-level triggers check a batch of a few thousand rows; their queries run in a
-- millisecond or two. PostgreSQL's JIT compiler decides to compile a query from the planner's cost estimate,
-- and estimates grow with the tables: make bench's EXPLAIN pass, on connections opened after 200,000 entries,
-- showed the reversal check of entries_check_insert compiled on every execution — 12 ms of LLVM a batch for a
-- query that reads nothing, since almost no batch holds a reversal. PL/pgSQL keeps a plan for the life of a
-- connection, so a reconciler's connection opened when the ledger is large pays that on every batch until
-- the pool recycles it.
--
-- So: the reversal check runs only for a statement that inserts a reversal (what the comment always said),
-- and both check triggers run with jit off, whatever the session or server says. Nothing they check changes.

-- +goose Up
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ledger.entries_check_insert() RETURNS trigger
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
    -- one. Only reversals pay for this: a statement without one skips the query, plan and all.
    IF NOT EXISTS (SELECT 1 FROM new_entries r WHERE r.reverses_entry_id IS NOT NULL) THEN
        RETURN NULL;
    END IF;
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

ALTER FUNCTION ledger.entries_check_insert() SET jit = off;
ALTER FUNCTION ledger.postings_check_insert() SET jit = off;

-- +goose Down
ALTER FUNCTION ledger.postings_check_insert() RESET jit;
ALTER FUNCTION ledger.entries_check_insert() RESET jit;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ledger.entries_check_insert() RETURNS trigger
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
