package chaos

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/mizanhq/mizan/internal/kafka/apachekafka"
)

// KafkaCommand is `chaos kafka start|stop|status|install [--dir D]` (scripts/kafka.sh, `make kafka`, `make
// test-kafka`, CI): a real Apache Kafka broker on loopback that outlives the command, its state in D. start
// prints the bootstrap address once the broker answers (and only that, so `$(scripts/kafka.sh start)` is the
// address); it is idempotent: a broker already running in D is reused. stop stops it cleanly. status prints the
// address and pid, and fails when no broker answers. install fetches the jars (start does too).
func KafkaCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: chaos kafka start|stop|status|install [--dir D]")
	}
	fs := flag.NewFlagSet("kafka "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", ".run/kafka", "the broker's state directory")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch args[0] {
	case "start":
		if addr, _, err := apachekafka.Running(ctx, *dir); err == nil {
			fmt.Fprintln(stdout, addr)
			return nil
		}
		_ = apachekafka.StopDir(*dir, 30*time.Second) // a broker that runs but does not answer
		fmt.Fprintf(stderr, "kafka: starting Apache Kafka %s in %s (the first start fetches it with Maven)\n",
			apachekafka.Release(), *dir)
		b, err := apachekafka.Start(ctx, apachekafka.Options{Dir: *dir, Detach: true})
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, b.Addr())
		return nil
	case "install":
		libs, err := apachekafka.Install(ctx, "")
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "kafka: Apache Kafka %s is in %s\n", apachekafka.Release(), libs)
		return nil
	case "stop":
		return apachekafka.StopDir(*dir, time.Minute)
	case "status":
		addr, pid, err := apachekafka.Running(ctx, *dir)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s pid %d\n", addr, pid)
		return nil
	}
	return fmt.Errorf("unknown kafka command %q: start, stop, status or install", args[0])
}
