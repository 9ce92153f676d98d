-- The postings' two foreign keys, checked once per statement instead of once per row (issue 20).
--
-- A foreign key is a row-level trigger: for every posting inserted, PostgreSQL looks its entry and its
-- (account, currency) up and locks each with FOR KEY SHARE — a write to the entry's and the account's tuple
-- header, and on an account that several transactions post to at once (the reconciler's apply workers), a
-- multixact. Those two triggers were a quarter to a third of the statement that posts a batch
-- (docs/performance.md), and the measurement behind NOTES.md saw ingest go from 25k to 45k entries/s without
-- them.
--
-- The same references are checked here by one statement-level trigger over the statement's new postings.
-- That is as strong as the foreign keys because what they also guard against — the referenced row going away
-- or changing — cannot happen in this ledger: entries are never updated or deleted (entries_immutable,
-- entries_no_truncate), and an account is never deleted once it has postings (accounts_in_use) nor has its id
-- or currency changed (accounts_immutable). So the reference, once checked when the posting is inserted,
-- holds for ever, and the locks the foreign keys took protect nothing.
--
-- The error keeps the constraint names the foreign keys had, so callers (ledger.ErrAccountMismatch) and
-- operators see the same refusal. account_balances keeps its foreign key (one row per account, written by
-- the ledger's own trigger), and so does entries.reverses_entry_id (rare).

-- +goose Up
-- The entries are looked up by id = ANY (the statement's distinct entry ids): an index probe each, whatever
-- the planner thinks of the table's size. A join of the transition table with ledger.entries let it choose a
-- hash join over a sequential scan of every entry once the ledger had grown (make bench's EXPLAIN pass).
-- +goose StatementBegin
CREATE FUNCTION ledger.postings_check_references() RETURNS trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    ids bigint[];
    bad record;
BEGIN
    SELECT array_agg(DISTINCT np.entry_id) INTO ids FROM new_postings np;
    IF (SELECT count(*) FROM ledger.entries e WHERE e.id = ANY (ids)) <> coalesce(cardinality(ids), 0) THEN
        SELECT x.id INTO bad
        FROM unnest(ids) AS x(id)
        WHERE NOT EXISTS (SELECT 1 FROM ledger.entries e WHERE e.id = x.id)
        LIMIT 1;
        RAISE EXCEPTION 'a posting refers to entry %, which does not exist', bad.id
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'postings_entry_id_fkey',
                SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME;
    END IF;

    SELECT np.account_id, np.currency, a.id IS NULL AS no_account, a.code, a.currency AS account_currency,
           (SELECT min(p.entry_id) FROM new_postings p WHERE p.account_id = np.account_id) AS entry_id
    INTO bad
    FROM (SELECT DISTINCT n.account_id, n.currency FROM new_postings n) np
    LEFT JOIN ledger.accounts a ON a.id = np.account_id
    WHERE a.id IS NULL OR a.currency <> np.currency
    LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF bad.no_account THEN
        RAISE EXCEPTION 'a posting of entry % refers to account %, which does not exist', bad.entry_id, bad.account_id
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'postings_account_currency_fkey',
                SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME;
    END IF;
    RAISE EXCEPTION 'a posting of entry % is in %, but its account % (%) is in %', bad.entry_id, bad.currency,
        bad.account_id, bad.code, bad.account_currency
        USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'postings_account_currency_fkey',
            SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME;
END
$$;
-- +goose StatementEnd

-- Like the other check triggers (00023): a JIT compile costs more than the check. It runs as the writer (the
-- runtime role reads entries and accounts), with its search_path pinned like every ledger function (00027).
ALTER FUNCTION ledger.postings_check_references() SET jit = off;
ALTER FUNCTION ledger.postings_check_references() SET search_path = pg_catalog, pg_temp;

CREATE TRIGGER postings_check_references
    AFTER INSERT ON ledger.postings
    REFERENCING NEW TABLE AS new_postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.postings_check_references();

ALTER TABLE ledger.postings
    DROP CONSTRAINT postings_entry_id_fkey,
    DROP CONSTRAINT postings_account_currency_fkey;

-- +goose Down
ALTER TABLE ledger.postings
    ADD CONSTRAINT postings_entry_id_fkey FOREIGN KEY (entry_id) REFERENCES ledger.entries (id),
    ADD CONSTRAINT postings_account_currency_fkey FOREIGN KEY (account_id, currency)
        REFERENCES ledger.accounts (id, currency);
DROP TRIGGER postings_check_references ON ledger.postings;
DROP FUNCTION ledger.postings_check_references();
