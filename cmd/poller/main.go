// Command poller reads the providers and publishes what they report to Kafka.
//
//	poller run                  poll every source on its cron schedule until stopped
//	poller once [--source NAME] [--feed FEED]   poll every source (or one; every feed or one) once
//	poller config check         print and check the configuration
//	poller version | help
//	poller probe --source NAME [--record DIR]   call each endpoint of one source once, read-only, and say what
//	                                            mizan understood of it; non-zero if the poller would not handle it
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
		fmt.Fprintln(os.Stderr, "poller:", err)
	}
	os.Exit(cli.ExitCode(err))
}
