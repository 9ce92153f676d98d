-- Balance of an account at a point in booking time, and whether the account exists. The read
-- ledger.balance_at makes, without its error for an unknown account: an SQL error would abort the caller's
-- transaction, and the caller (the reconciler's balance check) decides what an unknown account means.
-- $1 account code, $2 time.
SELECT a.id IS NOT NULL,
       coalesce((SELECT p.balance_after
                 FROM ledger.postings p
                 WHERE p.account_id = a.id AND p.booked_at <= $2
                 ORDER BY p.booked_at DESC, p.account_seq DESC
                 LIMIT 1), 0)::text
FROM (SELECT $1::text AS code) c
LEFT JOIN ledger.accounts a ON a.code = c.code
