-- The group roles the running commands connect through (issue 14: least privilege).
--
-- mizan_app: what `poller` and `reconciler run` hold. It owns nothing and is no superuser; each migration that
-- creates a table grants it exactly the privileges the running commands use on that table (never UPDATE,
-- DELETE or TRUNCATE on the ledger). Deployments create login roles that are members of it.
-- mizan_accountant: people who post adjustment entries (clearing suspense) through mizan's audited functions,
-- and acknowledge alerts; nothing else.
--
-- As with mizan_analyst (00022), roles belong to the cluster: created only if missing, tolerating a concurrent
-- creation by another database's migration, and never dropped on the way down.

-- +goose Up
-- +goose StatementBegin
DO $$
DECLARE
    r text;
    roles text[] := ARRAY['mizan_app', 'mizan_accountant'];
    notes text[] := ARRAY[
        'mizan: the poller and the reconciler. Grant it to their login roles; never give it LOGIN.',
        'mizan: accountants who post audited adjustments and acknowledge alerts.'];
BEGIN
    FOR i IN 1 .. array_length(roles, 1) LOOP
        r := roles[i];
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', r);
                EXECUTE format('COMMENT ON ROLE %I IS %L', r, notes[i]);
            EXCEPTION
                WHEN duplicate_object OR unique_violation THEN
                    NULL; -- created meanwhile by the same migration in another database of this cluster
                WHEN insufficient_privilege THEN
                    RAISE EXCEPTION 'cannot create role %: %', r, SQLERRM
                        USING HINT = 'The migrating role needs CREATEROLE, or an administrator runs '
                                     '"CREATE ROLE ' || r || ' NOLOGIN" once per cluster before migrating.';
            END;
        END IF;
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
SELECT 1;
