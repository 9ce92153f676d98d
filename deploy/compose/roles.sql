-- The roles of deploy/compose.yaml, created when the postgres container initialises its data directory (as
-- its bootstrap superuser, which nothing of mizan uses afterwards). Neither login role is a superuser:
--   mizan_owner    owns the database and, once `reconciler migrate` has run as it, mizan's schemas;
--   mizan_runtime  what the poller and the reconciler connect as: a member of mizan_app, owning nothing.
-- The group roles and their membership exist before the first migration, so the owner needs no CREATEROLE. The passwords are for
-- this laptop setup only; docs/security.md says how to create the roles for real.
CREATE ROLE mizan_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
CREATE ROLE mizan_analyst NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
CREATE ROLE mizan_accountant NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
-- An accountant reads what an analyst reads; granting a membership needs CREATEROLE, which the owner lacks.
GRANT mizan_analyst TO mizan_accountant;
CREATE ROLE mizan_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD 'compose-owner';
CREATE ROLE mizan_runtime LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD 'compose-runtime'
    IN ROLE mizan_app;
ALTER DATABASE mizan OWNER TO mizan_owner;
