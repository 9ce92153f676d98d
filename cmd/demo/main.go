// Command demo runs mizan's whole pipeline on a newcomer's machine with embedded defaults: an in-process
// Kafka-protocol broker, the provider simulators with a realistic month, and a PostgreSQL it finds or starts.
// It runs the real poller and reconciler binaries (from the same folder) against them, as production would,
// and prints what happened. `make run` runs it once; `make up` (--keep-running) leaves the pipeline running;
// `make test` starts the tests' PostgreSQL with `demo postgres start`. See internal/demo.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/mizanhq/mizan/internal/cli"
	"github.com/mizanhq/mizan/internal/demo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := demo.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
	}
	os.Exit(cli.ExitCode(err))
}
