// Command chaos is mizan's fault suite: `make chaos` (the CI setting) and `make chaos-long`. It runs the
// whole pipeline on a simulated month while it kills and restarts the reconciler, the poller, the broker and
// PostgreSQL, then proves that nothing was lost and nothing counted twice (see internal/chaos).
//
//	chaos --setting ci|long [--broker fake|real] [--no-big-poison] [--seed N] [--dir D] [--bin DIR]
//	chaos broker --dir D --port P      (the kfake broker's own process, which the suite starts and kills)
//	chaos kafka start|stop|status [--dir D]   (a real Apache Kafka broker: scripts/kafka.sh, make kafka)
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
	"github.com/mizanhq/mizan/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
	}
	os.Exit(cli.ExitCode(err))
}

const usage = `usage:
  chaos [--setting ci|long] [--broker fake|real] [--no-big-poison] [--seed N] [--dir D] [--bin DIR]
                                  run the fault suite and prove the ledger exact (make chaos, make chaos-long)
      --setting NAME              how much chaos: ci or long (ci)
      --broker fake|real          the Kafka broker to crash: kfake, or Apache Kafka (fetched by Maven) (fake)
      --no-big-poison             leave out the poison message of the broker's maximum size
      --seed N                    the run's random seed (0: from the clock); printed, to replay a run's plan
      --dir D                     work directory, kept (default: a temporary one, removed when the run passes)
      --bin DIR                   directory of the poller and reconciler binaries (default: beside this one)
  chaos broker --dir D --port P   the kfake broker's own process, which the suite starts and kills
  chaos kafka start|stop|status [--dir D]
                                  a real Apache Kafka broker (scripts/kafka.sh, make kafka)
  chaos version                   print the version, commit and Go version
  chaos help [COMMAND]            print this help, or a command's`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if words, ok := cli.HelpWanted(args); ok {
		cli.PrintHelp(stdout, "chaos", usage, words)
		return nil
	}
	if len(args) == 1 && args[0] == "version" {
		fmt.Fprintln(stdout, cli.Version("chaos"))
		return nil
	}
	if len(args) > 0 && args[0] == "kafka" {
		return chaos.KafkaCommand(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "broker" {
		fs := flag.NewFlagSet("broker", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		dir := fs.String("dir", "", "the broker's data directory")
		port := fs.Int("port", 0, "the port to listen on, on 127.0.0.1")
		if err := fs.Parse(args[1:]); err != nil {
			return cli.Usagef(usage, "chaos broker: %v", err)
		}
		return chaos.ServeBroker(*dir, *port, stdout)
	}
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	name := fs.String("setting", "ci", "how much chaos: "+chaos.SettingNames())
	seed := fs.Uint64("seed", 0, "the run's random seed (0: from the clock); printed, to replay a run's plan")
	dir := fs.String("dir", "", "work directory, kept (default: a temporary one, removed when the run passes)")
	bin := fs.String("bin", "", "directory of the poller and reconciler binaries (default: beside this one)")
	broker := fs.String("broker", chaos.BrokerFake, "the Kafka broker to crash: fake (kfake) or real (Apache Kafka, fetched by Maven)")
	noBig := fs.Bool("no-big-poison", false, "leave out the poison message of the broker's maximum size")
	if err := fs.Parse(args); err != nil {
		return cli.Usagef(usage, "%v", err)
	}
	if fs.NArg() > 0 {
		return cli.Usagef(usage, "unknown command %q", fs.Arg(0))
	}
	setting, ok := chaos.Settings[*name]
	if !ok {
		return cli.Usagef(usage, "unknown setting %q (known: %s)", *name, chaos.SettingNames())
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
	_, err = chaos.Run(ctx, chaos.Options{Setting: setting, BinDir: *bin, Self: self, Dir: *dir, Seed: *seed, Out: stdout,
		Broker: *broker, NoBigPoison: *noBig})
	return err
}
