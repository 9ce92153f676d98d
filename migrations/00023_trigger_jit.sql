-- The ledger's statement-level triggers check a batch of a few thousand rows; their queries run in a
-- millisecond or two. PostgreSQL's JIT compiler decides to compile a query from the planner's cost estimate,
-- and estimates grow with the tables: make bench's EXPLAIN pass, on connections opened after 200,000 entries,
-- showed the reversal check of entries_check_insert compiled on every execution — 12 ms of LLVM a batch for a
-- query that reads nothing, since almost no batch holds a reversal. PL/pgSQL keeps a plan for the life of a
-- connection, so a reconciler's connection opened when the ledger is large paid that on every batch until
-- the pool recycled it.
--
-- So both check triggers run with jit off, whatever the session or server says. What they check is unchanged.

-- +goose Up
ALTER FUNCTION ledger.entries_check_insert() SET jit = off;
ALTER FUNCTION ledger.postings_check_insert() SET jit = off;

-- +goose Down
ALTER FUNCTION ledger.postings_check_insert() RESET jit;
ALTER FUNCTION ledger.entries_check_insert() RESET jit;
