package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/mizanhq/mizan/internal/kafka"
)

// BrokerCommand is the argument that makes the bench binary serve a broker instead of benchmarking.
const BrokerCommand = "__broker"

// Broker is an embedded Kafka-protocol broker (kfake) running in a child process: the same binary,
// re-executed with BrokerCommand. Apart from the reconciler and the poller, its CPU and memory are its own.
type Broker struct {
	Addr  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// StartBroker starts the child and waits until it listens.
func StartBroker(ctx context.Context, partitions int) (*Broker, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, BrokerCommand, fmt.Sprint(partitions))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start broker: %w", err)
	}
	b := &Broker{cmd: cmd, stdin: stdin}
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		if s.Scan() {
			line <- s.Text()
		}
		close(line)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case l, ok := <-line:
		addr, found := strings.CutPrefix(l, "broker ")
		if !ok || !found {
			b.Close()
			return nil, fmt.Errorf("broker did not start: %q", l)
		}
		b.Addr = addr
		return b, nil
	case <-ctx.Done():
		b.Close()
		return nil, ctx.Err()
	case <-time.After(30 * time.Second):
		b.Close()
		return nil, errors.New("broker did not start within 30s")
	}
}

// Pid is the child's process id.
func (b *Broker) Pid() int { return b.cmd.Process.Pid }

// Close stops the broker: its stdin closing is the signal.
func (b *Broker) Close() {
	_ = b.stdin.Close()
	done := make(chan struct{})
	go func() { _ = b.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = b.cmd.Process.Kill()
		<-done
	}
}

// ServeBroker is the child's side: it starts an in-memory broker with the given default partition count,
// says "broker host:port" on stdout, and serves until stdin closes (the parent exiting closes it too).
func ServeBroker(stdin io.Reader, stdout io.Writer, partitions int) error {
	e, err := kafka.StartEmbedded(kafka.EmbeddedOptions{Partitions: partitions})
	if err != nil {
		return err
	}
	defer e.Close()
	fmt.Fprintf(stdout, "broker %s\n", e.Addrs()[0])
	_, _ = io.Copy(io.Discard, stdin)
	return nil
}
