package chaos

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mizanhq/mizan/internal/testpoint"
)

// proc is one run of bin/poller or bin/reconciler, its stdout and stderr (JSON logs) in a file of its own.
type proc struct {
	name    string // e.g. "reconciler-007"
	cmd     *exec.Cmd
	log     string
	done    chan struct{}
	err     error       // after done: the exit error, nil for exit 0
	killed  atomic.Bool // the suite SIGKILLed it
	stopped atomic.Bool // the suite asked it to stop (SIGTERM)
	started time.Time

	// pauseDir is where the process says it waits at a test point (internal/testpoint); handled holds the
	// points the suite has acted on (the watcher's alone).
	pauseDir string
	handled  map[string]bool
}

// procs starts the pipeline's commands and keeps track of the ones running, so that nothing outlives the
// suite.
type procs struct {
	bin    string // directory of the poller and reconciler binaries
	logDir string
	env    []string

	// points returns the test points to arm in a new process of command (nil: none).
	points func(command string) []string

	mu      sync.Mutex
	seq     map[string]int
	running map[*proc]bool
}

// start runs bin/<command> args with the suite's environment plus extra.
func (ps *procs) start(command string, extra []string, args ...string) (*proc, error) {
	ps.mu.Lock()
	ps.seq[command]++
	name := fmt.Sprintf("%s-%03d", command, ps.seq[command])
	ps.mu.Unlock()
	logPath := filepath.Join(ps.logDir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(logf, "# %s %s\n# %s\n", command, strings.Join(args, " "), strings.Join(extra, " "))
	cmd := exec.Command(filepath.Join(ps.bin, command), args...)
	cmd.Env = append(append([]string(nil), ps.env...), extra...)
	pauseDir := filepath.Join(ps.logDir, "pause", name)
	if ps.points != nil {
		if pts := ps.points(command); len(pts) > 0 {
			if err := os.MkdirAll(pauseDir, 0o755); err != nil {
				logf.Close()
				return nil, err
			}
			cmd.Env = append(cmd.Env, testpoint.EnvPauseAt+"="+strings.Join(pts, ","), testpoint.EnvPauseDir+"="+pauseDir)
			fmt.Fprintf(logf, "# test points armed: %s\n", strings.Join(pts, ","))
		}
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the suite
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{}), started: time.Now(), pauseDir: pauseDir,
		handled: map[string]bool{}}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	ps.mu.Lock()
	ps.running[p] = true
	ps.mu.Unlock()
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		ps.mu.Lock()
		delete(ps.running, p)
		ps.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// run starts a command and waits for it, at most timeout.
func (ps *procs) run(ctx context.Context, timeout time.Duration, command string, extra []string, args ...string) (*proc, error) {
	p, err := ps.start(command, extra, args...)
	if err != nil {
		return nil, err
	}
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.kill()
		return p, fmt.Errorf("%s did not finish within %s (log %s)", p.name, timeout, p.log)
	case <-ctx.Done():
		p.kill()
		return p, ctx.Err()
	}
	if p.err != nil {
		return p, fmt.Errorf("%s: %v (log %s)", p.name, p.err, p.log)
	}
	return p, nil
}

// kill SIGKILLs the process (a crash: no deferred code, no goodbye to the group) and waits for it. It reports
// whether this call killed it: false when the suite had killed it already, or it had exited.
func (p *proc) kill() bool {
	first := p.killed.CompareAndSwap(false, true) && !p.exited()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	return first
}

// list returns the processes running now.
func (ps *procs) list() []*proc {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	var live []*proc
	for p := range ps.running {
		live = append(live, p)
	}
	return live
}

// stop asks the process to shut down (SIGTERM, as Kubernetes does) and waits up to grace, then kills it.
func (p *proc) stop(grace time.Duration) {
	p.stopped.Store(true)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.kill()
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// killAll kills whatever is still running.
func (ps *procs) killAll() {
	ps.mu.Lock()
	var live []*proc
	for p := range ps.running {
		live = append(live, p)
	}
	ps.mu.Unlock()
	for _, p := range live {
		p.kill()
	}
}

// tail returns the last n lines of a log file, for a failure report.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
