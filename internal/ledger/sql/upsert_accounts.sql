-- Creates the accounts a batch uses that do not exist yet. An existing account is left as it is — its type
-- and currency are compared with the batch's afterwards, from lock_accounts.sql. Inserting in code order
-- keeps two batches that create the same accounts from deadlocking on each other's unique index entries.
-- $1 codes, $2 types, $3 currencies: one element per distinct account.
INSERT INTO ledger.accounts (code, type, currency)
SELECT u.code, u.type, u.currency
FROM unnest($1::text[], $2::text[], $3::text[]) AS u(code, type, currency)
ORDER BY u.code
ON CONFLICT (code) DO NOTHING
