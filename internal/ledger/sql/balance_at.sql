-- Balance of an account at a point in booking time. $1 account code, $2 time.
SELECT ledger.balance_at($1, $2)::text
