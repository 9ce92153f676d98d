// Command poller reads the providers and publishes what they report to Kafka.
//
//	poller run                  poll every source on its cron schedule until stopped
//	poller once [--source NAME] [--feed FEED]   poll every source (or one; every feed or one) once
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
		fmt.Fprintln(os.Stderr, "poller:", err)
		os.Exit(1)
	}
}
