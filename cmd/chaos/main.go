// Command chaos is mizan's fault suite: `make chaos` (the CI setting) and `make chaos-long`. It runs the
// whole pipeline on a simulated month while it kills and restarts the reconciler, the poller, the broker and
// PostgreSQL, then proves that nothing was lost and nothing counted twice (see internal/chaos).
//
//	chaos --setting ci|long [--seed N] [--dir D] [--bin DIR]
//	chaos broker --dir D --port P      (the broker's own process, which the suite starts and kills)
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/mizanhq/mizan/internal/chaos"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "broker" {
		fs := flag.NewFlagSet("broker", flag.ContinueOnError)
		dir := fs.String("dir", "", "the broker's data directory")
		port := fs.Int("port", 0, "the port to listen on, on 127.0.0.1")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return chaos.ServeBroker(*dir, *port, stdout)
	}
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("setting", "ci", "how much chaos: "+chaos.SettingNames())
	seed := fs.Uint64("seed", 0, "the run's random seed (0: from the clock); printed, to replay a run's plan")
	dir := fs.String("dir", "", "work directory, kept (default: a temporary one, removed when the run passes)")
	bin := fs.String("bin", "", "directory of the poller and reconciler binaries (default: beside this one)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	setting, ok := chaos.Settings[*name]
	if !ok {
		return fmt.Errorf("unknown setting %q (known: %s)", *name, chaos.SettingNames())
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if *bin == "" {
		*bin = filepath.Dir(self)
	}
	for _, b := range []string{"poller", "reconciler"} {
		if _, err := os.Stat(filepath.Join(*bin, b)); err != nil {
			return fmt.Errorf("%s is not in %s: run `make build` (or `make chaos`), or pass --bin", b, *bin)
		}
	}
	if *seed == 0 {
		*seed = uint64(time.Now().UnixNano())
	}
	if *dir != "" {
		if *dir, err = filepath.Abs(*dir); err != nil {
			return err
		}
	}
	_, err = chaos.Run(ctx, chaos.Options{Setting: setting, BinDir: *bin, Self: self, Dir: *dir, Seed: *seed, Out: stdout})
	return err
}
