-- Finds which of the given idempotency keys are already posted (the batch's duplicates, and the targets of
-- its reversals), with the key of the entry that reverses each, if any.
-- $1 idempotency keys.
SELECT e.idempotency_key, e.id, coalesce(r.idempotency_key, '')
FROM ledger.entries e
LEFT JOIN ledger.entries r ON r.reverses_entry_id = e.id
WHERE e.idempotency_key = ANY ($1::text[])
