// Command reconciler applies mizan's events to the ledger and checks the ledger against the providers.
//
//	reconciler migrate                 apply the database migrations
//	reconciler topics                  create or check mizan's Kafka topics
//	reconciler run [--until-idle]      consume events (until caught up, with --until-idle)
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "reconciler:", err)
		os.Exit(1)
	}
}
