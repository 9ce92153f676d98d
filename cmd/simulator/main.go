// Command simulator runs mizan's provider simulators as a process, for the local pipeline and for trying
// the poller by hand: today the Vandar API (internal/sources/vandar/vandartest) with seeded, realistic
// histories for one or more businesses, on the real clock, until SIGINT or SIGTERM.
//
//	simulator --addr 127.0.0.1:8081 --business acme,other --seed 1 --days 30 --per-day 40
//
// It prints the base URL and, per business, the initial token pair as VANDAR_<SLUG>_ACCESS_TOKEN and
// VANDAR_<SLUG>_REFRESH_TOKEN lines, the names mizan's sources file uses by convention. With --expectations
// FILE it also writes the businesses' own records (orders, payout requests, refunds) for `reconciler expect
// import`, and --matching-faults plants the four faults matching must catch in them (docs/matching.md).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/mizanhq/mizan/internal/cli"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "simulator:", err)
	}
	os.Exit(cli.ExitCode(err))
}
