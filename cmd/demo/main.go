// Command demo runs mizan's whole pipeline on a newcomer's machine with embedded defaults: an in-process
// Kafka-protocol broker, the Vandar simulator with a realistic month, and a local PostgreSQL. It runs the
// real poller and reconciler binaries (from the same folder) against them, as production would, and prints
// what happened. `make run` runs it once; `make up` (--keep-running) leaves the pipeline running.
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
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}
