// Package bench measures how close mizan's pipeline runs to this machine's limits: the raw idempotent
// ingest rate of PostgreSQL into mizan's own ledger schema, and into a minimal sound ledger with a schema of
// its own (ledgerref.go, the independent reference), the reconciler's ingest and replay rates against them,
// the poller's backfill rate against Vandar's documented rate limit and its peak memory,
// and the cost of the balance check as an account's history grows. cmd/bench runs it all and prints a table;
// `make bench` is the one command.
//
// Everything here drives the production code — internal/reconciler with a kafka.Consumer, internal/poller
// with a kafka.Publisher, the built `poller` binary, ledger.BalanceAt — against real PostgreSQL databases it
// creates and drops, and a real Kafka-protocol broker (kfake) that it runs in a child process so that the
// broker's CPU is not counted as the reconciler's. Only the provider is a stand-in: vandartest, the Vandar
// simulator the tests use, serves the statement at a cost per page that does not grow with the history.
//
// This is measurement code, not a test: nothing in `make test` depends on it or on timing.
package bench
