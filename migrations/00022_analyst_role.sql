-- mizan_analyst: the read-only group role analysts' login roles are members of (docs/analysts.md).
--
-- It reads the analytics views, the ledger and the reconciler's results; it cannot change anything, create
-- anything, or see the pollers' state (provider tokens are secrets, cursors are internals). What it may do
-- is granted here explicitly; everything else it is denied because nobody granted it (PostgreSQL grants a
-- new role nothing but PUBLIC's privileges, and PUBLIC has none on mizan's schemas).
--
-- Roles belong to the whole cluster, not to one database: several databases (each test's, a staging copy)
-- may run this migration against one server, at the same time. The role is created only if missing, a
-- concurrent creation is tolerated, and migrating down never drops it — other databases' grants may still
-- name it. Its grants are per database and are made (and revoked) here.
--
-- Future objects: default privileges make every table or view that the migrating role later creates in
-- `analytics` readable (that schema exists for analysts). Not so in ledger and recon: a new table there may
-- hold something an analyst must not read, so its migration grants SELECT deliberately.

-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mizan_analyst') THEN
        BEGIN
            CREATE ROLE mizan_analyst NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
            COMMENT ON ROLE mizan_analyst IS
                'mizan: read-only analysts (docs/analysts.md). Grant it to login roles; never give it LOGIN.';
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN
                NULL; -- created meanwhile by the same migration in another database of this cluster
            WHEN insufficient_privilege THEN
                RAISE EXCEPTION 'cannot create role mizan_analyst: %', SQLERRM
                    USING HINT = 'The migrating role needs CREATEROLE, or an administrator runs '
                                 '"CREATE ROLE mizan_analyst NOLOGIN" once per cluster before migrating.';
        END;
    END IF;
END
$$;
-- +goose StatementEnd

-- Reading: the analyst's schema, the ledger, and the reconciler's results.
GRANT USAGE ON SCHEMA analytics, ledger, recon TO mizan_analyst;

GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO mizan_analyst;
ALTER DEFAULT PRIVILEGES IN SCHEMA analytics GRANT SELECT ON TABLES TO mizan_analyst;

GRANT SELECT ON ledger.accounts, ledger.account_balances, ledger.entries, ledger.postings, ledger.entry_sources,
    ledger.balances TO mizan_analyst;
GRANT EXECUTE ON FUNCTION ledger.balance_at(text, timestamptz) TO mizan_analyst;

GRANT SELECT ON recon.processed_events, recon.watermarks, recon.balance_observations, recon.check_results,
    recon.settlements, recon.settlement_returns, recon.running_balances TO mizan_analyst;
-- Every column of the alerts but the last delivery error, which may quote the Slack webhook URL (a secret).
GRANT SELECT (id, kind, severity, subject, dedup_key, summary, details, opened_at, last_seen_at, resolved_at,
              open_sent_at, resolved_sent_at, delivery_attempts)
    ON recon.alerts TO mizan_analyst;

-- Creating nothing. PostgreSQL 15 no longer lets PUBLIC create in the public schema; older servers do, and
-- mizan's own migrations never create there (goose's version table is made before any of them runs). The
-- other revokes are no-ops today, written down so that a grant added by hand elsewhere stands out.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE CREATE ON SCHEMA public, analytics, ledger, recon FROM mizan_analyst;
REVOKE ALL ON SCHEMA poller FROM mizan_analyst;

-- +goose Down
-- The role stays (see above); its privileges in this database go. The public schema's CREATE is not given
-- back to PUBLIC: that was a weakness of older PostgreSQL, not a choice.
ALTER DEFAULT PRIVILEGES IN SCHEMA analytics REVOKE SELECT ON TABLES FROM mizan_analyst;
REVOKE ALL ON ALL TABLES IN SCHEMA analytics, ledger, recon FROM mizan_analyst;
REVOKE EXECUTE ON FUNCTION ledger.balance_at(text, timestamptz) FROM mizan_analyst;
REVOKE ALL ON SCHEMA analytics, ledger, recon FROM mizan_analyst;
