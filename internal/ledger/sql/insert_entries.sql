-- Inserts a batch of new entries and all of their postings in one statement: the ledger's triggers require
-- an entry's postings to arrive in the statement that inserts the entry, and check them all at its end.
--
-- Entry ids are drawn up front (ids), so that postings find their entry by its position in the batch and a
-- reversal can name an entry inserted by this same statement. Every account_seq, balance_after and
-- booked_at was computed by the caller from the locked balance rows; the postings trigger verifies them.
--
-- Entries, one element each:  $1 idempotency key, $2 effective_at, $3 description, $4 metadata (JSON text),
--   $5 id of the posted entry it reverses (0: none), $6 position in this batch of the entry it reverses
--   (0: none).
-- Postings, one element each: $7 position of its entry in the batch (1-based), $8 account id, $9 currency,
--   $10 amount, $11 balance_after, $12 account_seq, $13 booked_at.
WITH ids AS MATERIALIZED (
    SELECT ord, nextval('ledger.entries_id_seq') AS id
    FROM generate_series(1::bigint, cardinality($1::text[])) AS ord
),
e AS (
    INSERT INTO ledger.entries (id, idempotency_key, effective_at, description, metadata, reverses_entry_id)
    SELECT ids.id, u.key, u.effective_at, u.description, u.metadata::jsonb,
           coalesce(nullif(u.reverses_id, 0), target.id)
    FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::bigint[], $6::bigint[])
             WITH ORDINALITY AS u(key, effective_at, description, metadata, reverses_id, reverses_ord, ord)
    JOIN ids ON ids.ord = u.ord
    LEFT JOIN ids AS target ON target.ord = u.reverses_ord
    ORDER BY u.ord
)
INSERT INTO ledger.postings (entry_id, account_id, currency, amount, balance_after, account_seq, booked_at)
SELECT ids.id, p.account_id, p.currency, p.amount::numeric, p.balance_after::numeric, p.account_seq, p.booked_at
FROM unnest($7::bigint[], $8::bigint[], $9::text[], $10::text[], $11::text[], $12::bigint[],
            $13::timestamptz[]) AS p(entry_ord, account_id, currency, amount, balance_after, account_seq, booked_at)
JOIN ids ON ids.ord = p.entry_ord
