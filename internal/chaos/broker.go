package chaos

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/kafka/apachekafka"
)

// ServeBroker is the `chaos broker` subcommand: an embedded Kafka-protocol broker (kfake) on 127.0.0.1:port
// keeping its logs and committed offsets in dir, in a process of its own so that the suite can kill it and
// start it again on the same port and data. It prints "ready" once it answers, and closes cleanly (saving its
// state) on SIGTERM or SIGINT. A SIGKILL is a crash: kfake has written every acknowledged batch to its files
// already (without fsync), which a process crash does not lose.
func ServeBroker(dir string, port int, stdout io.Writer) error {
	if dir == "" || port <= 0 {
		return errors.New("chaos broker: --dir and --port are required")
	}
	b, err := kafka.StartEmbedded(kafka.EmbeddedOptions{DataDir: dir, Port: port, Partitions: partitions,
		Topics: events.AllTopics})
	if err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	fmt.Fprintf(stdout, "ready %s\n", strings.Join(b.Addrs(), ","))
	<-sig
	b.Close()
	return nil
}

// partitions is the partition count of every topic: more than one, so the group has partitions to move.
const partitions = 3

// broker is the suite's Kafka broker in a process of its own, which it kills and starts again on the same
// port and data: kfake (--broker fake) or Apache Kafka (--broker real).
type broker interface {
	// start starts the broker and returns once it answers.
	start(ctx context.Context) error
	// kill signals the broker and waits for it to exit: SIGTERM closes it cleanly, SIGKILL crashes it.
	kill(sig syscall.Signal)
	addr() string
	String() string
}

// Brokers the suite can run against (Options.Broker).
const (
	BrokerFake = "fake"
	BrokerReal = "real"
)

// fakeBroker runs ServeBroker in a child process (this program, started again with the broker subcommand).
type fakeBroker struct {
	self   string // this program's executable
	dir    string
	port   int
	logDir string
	proc   *exec.Cmd
	exited chan struct{}
	starts int
}

func (b *fakeBroker) String() string { return "kfake on " + b.addr() }

func (b *fakeBroker) addr() string { return "127.0.0.1:" + strconv.Itoa(b.port) }

// start starts the broker and waits until it says it is ready.
func (b *fakeBroker) start(ctx context.Context) error {
	b.starts++
	logf, err := os.Create(fmt.Sprintf("%s/broker-%02d.log", b.logDir, b.starts))
	if err != nil {
		return err
	}
	cmd := exec.Command(b.self, "broker", "--dir", b.dir, "--port", strconv.Itoa(b.port))
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "ready") {
				ready <- nil
				io.Copy(io.Discard, out)
				return
			}
		}
		ready <- errors.New("the broker exited before it was ready")
	}()
	b.proc, b.exited = cmd, make(chan struct{})
	go func(exited chan struct{}) {
		_ = cmd.Wait()
		logf.Close()
		close(exited)
	}(b.exited)
	select {
	case err := <-ready:
		if err != nil {
			return fmt.Errorf("%w (see %s)", err, logf.Name())
		}
		return nil
	case <-time.After(60 * time.Second):
		b.kill(syscall.SIGKILL)
		return fmt.Errorf("the broker was not ready within a minute (see %s)", logf.Name())
	case <-ctx.Done():
		b.kill(syscall.SIGKILL)
		return ctx.Err()
	}
}

// kill signals the broker and waits for it to exit: SIGTERM closes it cleanly, SIGKILL crashes it.
func (b *fakeBroker) kill(sig syscall.Signal) {
	if b.proc == nil || b.proc.Process == nil {
		return
	}
	_ = b.proc.Process.Signal(sig)
	select {
	case <-b.exited:
	case <-time.After(30 * time.Second):
		_ = b.proc.Process.Kill()
		<-b.exited
	}
	b.proc = nil
}

// realBroker is Apache Kafka (internal/kafka/apachekafka): a JVM the suite SIGKILLs and starts again on the
// same ports and log directories, as a crashed broker pod would be.
type realBroker struct {
	dir     string
	logDir  string
	b       *apachekafka.Broker
	address string
	starts  int
}

func (r *realBroker) String() string {
	return fmt.Sprintf("Apache Kafka %s on %s (KRaft, one broker+controller)", apachekafka.Release(), r.address)
}

func (r *realBroker) addr() string { return r.address }

func (r *realBroker) start(ctx context.Context) error {
	r.starts++
	logf, err := os.Create(fmt.Sprintf("%s/broker-%02d.log", r.logDir, r.starts))
	if err != nil {
		return err
	}
	b, err := apachekafka.Start(ctx, apachekafka.Options{Dir: r.dir, Log: logf})
	if err != nil {
		logf.Close()
		return err
	}
	go func() { <-b.Done(); logf.Close() }()
	r.b, r.address = b, b.Addr()
	return nil
}

func (r *realBroker) kill(sig syscall.Signal) {
	if r.b == nil {
		return
	}
	if sig == syscall.SIGKILL {
		r.b.Kill()
	} else {
		_ = r.b.Stop(time.Minute)
	}
	r.b = nil
}
