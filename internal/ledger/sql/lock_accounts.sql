-- Reads the accounts a batch uses and locks their balance rows, in account id order — the order the
-- postings trigger locks in — so that batches touching the same accounts queue instead of deadlocking.
-- The values returned are the ends of the accounts' balance chains that the batch's postings continue.
-- $1 codes.
SELECT a.id, a.code, a.type, a.currency, b.balance::text, b.last_seq, b.last_booked_at
FROM ledger.accounts a
JOIN ledger.account_balances b ON b.account_id = a.id
WHERE a.code = ANY ($1::text[])
ORDER BY a.id
FOR UPDATE OF b
