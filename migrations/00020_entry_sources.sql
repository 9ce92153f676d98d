-- Where each ledger entry came from, as typed, indexed columns: the source event, the provider account, the
-- provider's item or settlement, and what the item was (kind, channel, direction, status). Analysts join on
-- these all the time — fees per channel, the settlement lifecycle, the audit trail from an entry back to its
-- event — and until now they lived only inside entries.metadata (jsonb, unindexed) and the idempotency keys.
--
-- This is a data migration. ledger.entries is append-only (invariant 3: its triggers refuse every UPDATE),
-- so the facts cannot become new columns of entries filled by an UPDATE. They go into a table of their own,
-- one row per entry:
--   * backfilled here from every entry already posted;
--   * kept current by a statement-level trigger on ledger.entries, in the statement that posts the entry —
--     no change to the Go code that writes the ledger, and no entry without its row;
--   * append-only like the entries it describes, and written only by that trigger, so nobody can give an
--     entry a different origin afterwards.
-- Deriving the row never fails: a key missing from the metadata, or of an unexpected type, gives NULL (and
-- so does an empty id). A classification must never refuse a posting.
--
-- There is deliberately no foreign key to ledger.entries: TRUNCATE checks foreign keys before it runs the
-- ledger's own triggers, so one would replace the refusal that names invariant 3 with a foreign-key error;
-- and entries can never be deleted, so it would protect nothing.

-- +goose Up
CREATE TABLE ledger.entry_sources (
    entry_id         bigint NOT NULL CONSTRAINT entry_sources_pkey PRIMARY KEY,
    source_event_id  text,   -- metadata.event_id: the CloudEvents id of the event the entry was posted from
    provider         text,   -- the idempotency key's first part: vandar, yabandpay
    provider_account text,   -- its second: the Vandar business slug or the YabandPay user id
    item_id          text,   -- metadata.item_id: the provider's own id of the statement item
    kind             text,   -- metadata.kind: payment, settlement, refund, cash_in, returned, …
    channel          text,   -- metadata.channel: ipg, form, pos, subscription, cash_in, refund, settlement, …
    direction        text,   -- metadata.direction: in or out, from the wallet's point of view
    status_code      int,    -- metadata.status_code: the provider's status when the entry was posted
    returns_item_id  text,   -- metadata.returns_item_id: the item a returned item gives money back for
    settlement_id    text,   -- metadata.settlement_id: the settlement (or batch item) a payout entry moves to the bank
    transaction_id   text    -- metadata.transaction_id: the statement item that took that payout's money into transit
);

COMMENT ON TABLE ledger.entry_sources IS
    'Where each entry came from: source event, provider account, item or settlement, kind, channel, direction, '
    'status. One row per entry, derived from its idempotency key and metadata; written only by the trigger '
    'entries_record_sources, in the statement that posts the entry. Append-only.';

-- Indexes cost the ingest: every entry pays for each full one (about 3% of BenchmarkApply apiece). The
-- event id gets one — from a Kafka message to its entry is the audit trail's other direction. An item is
-- found by the entry's idempotency key (vandar:<business>:statement:<item id>), which is indexed already; the
-- partial indexes hold only the few entries that return or pay out a settlement.
CREATE INDEX entry_sources_event_idx ON ledger.entry_sources (source_event_id);
CREATE INDEX entry_sources_returns_idx ON ledger.entry_sources (provider, provider_account, returns_item_id)
    WHERE returns_item_id IS NOT NULL;
CREATE INDEX entry_sources_settlement_idx ON ledger.entry_sources (provider, provider_account, settlement_id)
    WHERE settlement_id IS NOT NULL;
CREATE INDEX entry_sources_transaction_idx ON ledger.entry_sources (provider, provider_account, transaction_id)
    WHERE transaction_id IS NOT NULL;

-- The one definition of the row an entry gets, used by the backfill below and by the trigger. It reads
-- only the entry itself: a lookup of its postings per entry would put a join on the ledger's hottest path
-- (and, planned generically, turned into a scan of all postings per entry as the table grew).
-- provider and provider_account are the idempotency key's first two parts: internal/posting begins every
-- key it makes with them (vandar:acme:statement:…, vandar:acme:settlement:…:done, yabandpay:m-1:snapshot:…).
-- +goose StatementBegin
CREATE FUNCTION ledger.entry_source(entry_id bigint, idempotency_key text, metadata jsonb)
    RETURNS SETOF ledger.entry_sources
    LANGUAGE sql IMMUTABLE AS
$$
SELECT entry_id,
       metadata ->> 'event_id',
       CASE WHEN idempotency_key ~ '^[^:]+:[^:]+:' THEN split_part(idempotency_key, ':', 1) END,
       CASE WHEN idempotency_key ~ '^[^:]+:[^:]+:' THEN split_part(idempotency_key, ':', 2) END,
       metadata ->> 'item_id',
       metadata ->> 'kind',
       metadata ->> 'channel',
       metadata ->> 'direction',
       CASE WHEN metadata ->> 'status_code' ~ '^-?[0-9]{1,9}$' THEN (metadata ->> 'status_code')::int END,
       nullif(metadata ->> 'returns_item_id', ''),
       nullif(metadata ->> 'settlement_id', ''),
       nullif(metadata ->> 'transaction_id', '')
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION ledger.entry_source(bigint, text, jsonb) IS
    'The ledger.entry_sources row of an entry, from its idempotency key and metadata. Never fails.';

-- Nothing can be posted while the backfill runs and the trigger is created: an entry committed between the
-- two would get no row. SHARE ROW EXCLUSIVE is what CREATE TRIGGER takes anyway; taking it first makes the
-- backfill (a new snapshot under READ COMMITTED) see every entry committed before it.
LOCK TABLE ledger.entries IN SHARE ROW EXCLUSIVE MODE;

INSERT INTO ledger.entry_sources
SELECT s.*
FROM ledger.entries e
CROSS JOIN LATERAL ledger.entry_source(e.id, e.idempotency_key, e.metadata) s
ORDER BY e.id;

-- SECURITY DEFINER: whoever may post entries records their sources, whether or not it may write this table
-- (the ledger's tables may belong to another role than this one, or the writer hold only INSERT grants).
-- Hence the fixed search_path and every name qualified. A trigger function cannot be called directly.
-- +goose StatementBegin
CREATE FUNCTION ledger.entries_record_sources() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    INSERT INTO ledger.entry_sources
    SELECT s.*
    FROM new_entries e
    CROSS JOIN LATERAL ledger.entry_source(e.id, e.idempotency_key, e.metadata) s;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

REVOKE ALL ON FUNCTION ledger.entries_record_sources() FROM PUBLIC;

-- Runs at the end of the statement that posts the entries, after entries_check_insert (AFTER triggers fire
-- in name order): an entry it refuses never gets this far. One INSERT per statement, whatever the batch size.
CREATE TRIGGER entries_record_sources
    AFTER INSERT ON ledger.entries
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.entries_record_sources();

-- Rows are written only by entries_record_sources (its INSERT runs at pg_trigger_depth() 2 here; a client's
-- statement at 1) and never changed. Statement-level, so that the guard costs one call per batch, not one
-- per row.
-- +goose StatementBegin
CREATE FUNCTION ledger.entry_sources_refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    IF TG_OP = 'INSERT' AND pg_trigger_depth() > 1 THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'ledger.entry_sources: % refused: an entry''s source is recorded when the entry is posted and never changes',
        TG_OP
        USING ERRCODE = 'restrict_violation', CONSTRAINT = 'entry_sources_immutable',
            SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER entry_sources_immutable
    BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ledger.entry_sources
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.entry_sources_refuse_change();

-- +goose Down
DROP TRIGGER entries_record_sources ON ledger.entries;
DROP FUNCTION ledger.entries_record_sources();
DROP FUNCTION ledger.entry_source(bigint, text, jsonb); -- returns the table's row type: goes first
DROP TABLE ledger.entry_sources;
DROP FUNCTION ledger.entry_sources_refuse_change();
