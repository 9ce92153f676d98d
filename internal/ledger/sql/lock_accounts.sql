-- Reads the accounts a batch uses and locks their balance rows, in account id order — the order the
-- postings trigger locks in — so that batches touching the same accounts queue instead of deadlocking.
-- The values returned are the ends of the accounts' balance chains that the batch's postings continue.
-- ledger.lock_balances takes the locks as the ledger's owner: the writer has no UPDATE privilege, which
-- SELECT … FOR UPDATE would need (migrations/00027_app_privileges.sql).
-- $1 codes.
SELECT l.id, l.code, l.type, l.currency, l.balance::text, l.last_seq, l.last_booked_at
FROM ledger.lock_balances($1::text[]) AS l
