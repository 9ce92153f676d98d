-- Finding a payment by what a customer, a bank or a support ticket quotes: the order number (Vandar's
-- factorNumber), the bank's reference (ref_id) or tracking code, the masked card, a settlement's track id, an
-- IBAN, a deposit id. internal/posting puts them in each entry's metadata (RefFactorNumber … in
-- internal/posting/references.go); this indexes them.
--
-- One GIN index over all of them, not one B-tree per reference: a person holding "391066915244" rarely knows
-- which kind of reference it is, and one array lookup (refs @> ARRAY['391066915244']) answers for every kind at
-- once. Measured on a ledger of 100,000 statement entries (docs/analysts.md, "Finding a payment"): the
-- lookup is a bitmap scan of this index, well under a millisecond, where a filter on the metadata reads
-- every entry. Entries posted before this version carry no references (their items' references are still in
-- Kafka's data.raw): the index cannot find them.

-- +goose Up
-- IMMUTABLE: it reads only its argument. Empty strings are no references; the order is fixed so that the
-- array reads the same way in every row.
CREATE FUNCTION ledger.entry_references(metadata jsonb) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN array_remove(ARRAY[nullif(metadata ->> 'factor_number', ''), nullif(metadata ->> 'ref_id', ''),
                              nullif(metadata ->> 'tracking_code', ''), nullif(metadata ->> 'card_number', ''),
                              nullif(metadata ->> 'track_id', ''), nullif(metadata ->> 'iban', ''),
                              nullif(metadata ->> 'payment_number', '')], NULL);

COMMENT ON FUNCTION ledger.entry_references(jsonb) IS
    'The provider''s and bank''s references an entry''s metadata carries (factor_number, ref_id, tracking_code, '
    'card_number, track_id, iban, payment_number), as an array. Indexed: WHERE ledger.entry_references(metadata) '
    '@> ARRAY[''1643''] finds an entry by any of them.';

-- Whoever reads entries may use the function in a query (the index is only used through it).
GRANT EXECUTE ON FUNCTION ledger.entry_references(jsonb) TO mizan_analyst;

CREATE INDEX entries_references_idx ON ledger.entries USING gin (ledger.entry_references(metadata));

-- +goose Down
DROP INDEX ledger.entries_references_idx;
DROP FUNCTION ledger.entry_references(jsonb);
