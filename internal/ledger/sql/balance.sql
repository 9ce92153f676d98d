-- Current balance of an account; 0 for an account that does not exist (yet).
-- $1 account code.
SELECT coalesce((SELECT b.balance
                 FROM ledger.account_balances b
                 JOIN ledger.accounts a ON a.id = b.account_id
                 WHERE a.code = $1), 0)::text
