// Command bench measures how close mizan's pipeline runs to this machine's limits and prints a table:
// PostgreSQL's raw idempotent ingest rate into mizan's ledger schema, and into a minimal sound ledger of the
// benchmark's own (the independent reference, at one connection and at the reconciler's workers), the
// reconciler's ingest (one worker and its workers) and replay rates against them, the poller's backfill rate
// against Vandar's rate limit and its peak memory, the balance check's latency as an account's history
// grows, and matching's cost. `make bench` runs it.
//
//	bench [--quick] [--events N] [--backfill N] [--rss-items N] …   (bench --help lists every flag)
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/mizanhq/mizan/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
	}
	os.Exit(cli.ExitCode(err))
}
