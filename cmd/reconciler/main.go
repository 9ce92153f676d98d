// Command reconciler applies mizan's events to the ledger and checks the ledger against the providers.
//
//	reconciler migrate                 apply the database migrations
//	reconciler topics                  create or check mizan's Kafka topics
//	reconciler migrate status          list applied and pending migrations
//	reconciler run [--until-idle]      consume events (until caught up, with --until-idle)
//	reconciler config check            print and check the configuration
//	reconciler dlq list | replay       list the dead letters, or apply them again after a fix
//	reconciler version | help
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
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "reconciler:", err)
	}
	// Some failures have exit codes of their own (docs/operations.md): 3 an environment problem, 4 alerts
	// left undelivered, 5 a stall, 6 dead letters that still fail.
	os.Exit(cli.ExitCode(err))
}
