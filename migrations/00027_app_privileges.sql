-- What the running commands may do (issue 14: least-privilege database roles). `poller` and `reconciler run`
-- connect as a login role that is a member of mizan_app (00024) and owns nothing; the migrations run as the
-- owner of mizan's schemas. Owning a table is what lets a role disable or drop its triggers, replace the
-- functions behind them or truncate it; so the commands must not connect as the owner, and mizan_app gets
-- exactly the privileges they use:
--
--   ledger   SELECT, and INSERT into accounts, entries and postings — never UPDATE, DELETE or TRUNCATE.
--            The balance rows are written by the ledger's triggers as the owner (SECURITY DEFINER below), and
--            locked by Apply through ledger.lock_balances, which takes the locks as the owner: locking rows
--            with SELECT … FOR UPDATE would need the UPDATE privilege.
--   recon    SELECT and INSERT; UPDATE only where a row is state that moves on (alerts, settlements,
--            watermarks, running balances; balance_observations.checked_at). No DELETE or TRUNCATE: the
--            applied event ids, the check results and the sources are only ever added to.
--   poller   SELECT, INSERT, UPDATE on the cursors and the (encrypted) tokens.
--
-- Nothing in any schema can be created by it: it has USAGE, never CREATE. Tables added later grant their own
-- privileges in their migrations (never UPDATE, DELETE or TRUNCATE on the ledger).
--
-- SECURITY DEFINER functions run as their owner — the role that ran this migration — so each pins its
-- search_path (pg_catalog first, pg_temp last) and names every object with its schema: a caller cannot
-- slip its own objects in. The ledger's other trigger functions pin theirs too.

-- +goose Up
REVOKE ALL ON ALL TABLES IN SCHEMA ledger, recon, poller FROM mizan_app;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA ledger, recon, poller FROM mizan_app;
REVOKE ALL ON SCHEMA ledger, recon, poller FROM mizan_app;

GRANT USAGE ON SCHEMA ledger, recon, poller TO mizan_app;

-- The ledger: append and read.
GRANT SELECT ON ledger.accounts, ledger.account_balances, ledger.entries, ledger.postings, ledger.entry_sources,
    ledger.balances, ledger.currencies, ledger.limits TO mizan_app;
GRANT INSERT ON ledger.accounts, ledger.entries, ledger.postings TO mizan_app;
GRANT USAGE ON SEQUENCE ledger.accounts_id_seq, ledger.entries_id_seq, ledger.postings_id_seq TO mizan_app;

-- The reconciler's state.
GRANT SELECT, INSERT ON recon.processed_events, recon.check_results, recon.settlement_returns, recon.sources,
    recon.balance_observations TO mizan_app;
GRANT UPDATE (checked_at) ON recon.balance_observations TO mizan_app;
GRANT SELECT, INSERT, UPDATE ON recon.watermarks, recon.alerts, recon.running_balances, recon.settlements
    TO mizan_app;
GRANT USAGE ON SEQUENCE recon.check_results_id_seq, recon.alerts_id_seq TO mizan_app;

-- The pollers' state.
GRANT SELECT, INSERT, UPDATE ON poller.cursors, poller.tokens TO mizan_app;

-- Which migrations are applied: the commands compare it with the version they were built for when they start.
-- goose creates the table (in public, as the migrating role) before the first migration runs.
GRANT SELECT ON public.goose_db_version TO mizan_app;

-- Trigger functions that write the balance rows run as the owner.
ALTER FUNCTION ledger.accounts_open_balance() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION ledger.postings_check_insert() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION ledger.accounts_open_balance(), ledger.postings_check_insert() FROM PUBLIC;

-- The others run as the writer; their names are qualified, and their search_path is fixed all the same.
ALTER FUNCTION ledger.entries_check_insert() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION ledger.refuse_change() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION ledger.accounts_refuse_update() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION ledger.accounts_refuse_delete_used() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION ledger.account_balances_refuse_direct() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION ledger.entry_sources_refuse_change() SET search_path = pg_catalog, pg_temp;

-- The balance rows of the accounts a batch posts to, locked until the caller's transaction ends, in account
-- id order (the order the postings trigger locks in, so that writers queue instead of deadlocking). What
-- ledger.Apply continues each account's chain from.
-- +goose StatementBegin
CREATE FUNCTION ledger.lock_balances(codes text[])
    RETURNS TABLE (id bigint, code text, type text, currency text, balance numeric, last_seq bigint,
                   last_booked_at timestamptz)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    RETURN QUERY
    SELECT a.id, a.code, a.type, a.currency, b.balance, b.last_seq, b.last_booked_at
    FROM ledger.accounts a
    JOIN ledger.account_balances b ON b.account_id = a.id
    WHERE a.code = ANY (codes)
    ORDER BY a.id
    FOR UPDATE OF b;
END
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION ledger.lock_balances(text[]) IS
    'Locks (FOR UPDATE, in account id order) and returns the balance rows of the accounts with these codes: '
    'what a writer continues their balance chains from. Runs as the ledger''s owner, so writers need no UPDATE.';

REVOKE ALL ON FUNCTION ledger.lock_balances(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ledger.lock_balances(text[]) TO mizan_app;

-- +goose Down
REVOKE ALL ON public.goose_db_version FROM mizan_app;
DROP FUNCTION ledger.lock_balances(text[]);
ALTER FUNCTION ledger.entry_sources_refuse_change() RESET search_path;
ALTER FUNCTION ledger.account_balances_refuse_direct() RESET search_path;
ALTER FUNCTION ledger.accounts_refuse_delete_used() RESET search_path;
ALTER FUNCTION ledger.accounts_refuse_update() RESET search_path;
ALTER FUNCTION ledger.refuse_change() RESET search_path;
ALTER FUNCTION ledger.entries_check_insert() RESET search_path;
GRANT EXECUTE ON FUNCTION ledger.accounts_open_balance(), ledger.postings_check_insert() TO PUBLIC;
ALTER FUNCTION ledger.postings_check_insert() SECURITY INVOKER RESET search_path;
ALTER FUNCTION ledger.accounts_open_balance() SECURITY INVOKER RESET search_path;
REVOKE ALL ON ALL TABLES IN SCHEMA ledger, recon, poller FROM mizan_app;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA ledger, recon, poller FROM mizan_app;
REVOKE ALL ON SCHEMA ledger, recon, poller FROM mizan_app;
-- What 00025 and 00026 granted stays.
GRANT SELECT, INSERT ON recon.sources TO mizan_app;
GRANT SELECT ON ledger.currencies, ledger.limits TO mizan_app;
