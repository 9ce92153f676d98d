-- The postings of the posted entries that a batch reverses, to check that each reversal negates them.
-- $1 idempotency keys of the reversed entries.
SELECT e.idempotency_key, a.code, p.amount::text
FROM ledger.entries e
JOIN ledger.postings p ON p.entry_id = e.id
JOIN ledger.accounts a ON a.id = p.account_id
WHERE e.idempotency_key = ANY ($1::text[])
