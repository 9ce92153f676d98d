package devstack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is a PostgreSQL that mizan starts itself, kept in a directory: a cluster made with the installed
// initdb, or the embedded one. Either way it runs detached (pg_ctl start), so that it outlives the process
// that started it and every test process can share it; whoever started it for one run stops it (Stop), a
// server shared by tests stays up until `make test` ends or `demo postgres stop`.
//
// dir holds data/ (the cluster), server.log, lock, and for the embedded server password and runtime/.
type server struct {
	kind     Kind
	dir      string
	port     int               // where to listen when starting; 0: a free port
	params   map[string]string // server settings (-c name=value)
	exe      string            // see Options.Exe
	log      *slog.Logger
	initdb   string // the installed initdb, for KindInitdb
	password string // the embedded server's, read from dir/password
}

// running returns the port of the server running in dir, or 0 if none is.
func (s *server) running() int {
	f, err := os.Open(filepath.Join(s.dir, "data", "postmaster.pid"))
	if err != nil {
		return 0
	}
	defer f.Close()
	// postmaster.pid: the PID, the data directory, the start time, the port, … (PostgreSQL's pidfile.h).
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() && len(lines) < 4 {
		lines = append(lines, strings.TrimSpace(sc.Text()))
	}
	if len(lines) < 4 {
		return 0
	}
	pid, err1 := strconv.Atoi(lines[0])
	port, err2 := strconv.Atoi(lines[3])
	if err1 != nil || err2 != nil || pid <= 0 {
		return 0
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return 0 // a stale file: pg_ctl start copes with it
	}
	return port
}

// url is the admin URL of the server listening on port.
func (s *server) url(port int) string {
	user := "postgres"
	if s.password != "" {
		user += ":" + s.password
	}
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/postgres?sslmode=disable", user, port)
}

// ensure returns the URL of the server in dir, starting it unless it runs; started says whether it did.
func (s *server) ensure(ctx context.Context) (url string, started bool, err error) {
	unlock, err := lockDir(ctx, s.dir)
	if err != nil {
		return "", false, err
	}
	defer unlock()
	if s.kind == KindEmbedded {
		if b, err := os.ReadFile(filepath.Join(s.dir, "password")); err == nil {
			s.password = strings.TrimSpace(string(b))
		}
	}
	if port := s.running(); port != 0 {
		// Running, but perhaps still starting after a crash's recovery: give it time to answer.
		if err := pingUntil(ctx, s.url(port), time.Minute); err != nil {
			return "", false, fmt.Errorf("the PostgreSQL in %s runs on port %d but does not answer: %w", s.dir, port, err)
		}
		return s.url(port), false, nil
	}
	port := s.port
	if port == 0 {
		if port, err = freePort(); err != nil {
			return "", false, err
		}
	}
	switch s.kind {
	case KindInitdb:
		err = s.startInitdb(ctx, port)
	case KindEmbedded:
		s.log.Info("starting the embedded PostgreSQL (the first start downloads its binaries)", "dir", s.dir)
		err = startEmbedded(ctx, s.dir, port, s.params, s.exe)
		if b, rerr := os.ReadFile(filepath.Join(s.dir, "password")); rerr == nil {
			s.password = strings.TrimSpace(string(b))
		}
	default:
		err = fmt.Errorf("cannot start a PostgreSQL of kind %q", s.kind)
	}
	if err != nil {
		return "", false, err
	}
	if err := pingUntil(ctx, s.url(port), time.Minute); err != nil {
		return "", false, fmt.Errorf("PostgreSQL started in %s but does not answer on port %d: %w", s.dir, port, err)
	}
	return s.url(port), true, nil
}

func (s *server) startInitdb(ctx context.Context, port int) error {
	data := filepath.Join(s.dir, "data")
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err != nil {
		s.log.Info("creating a PostgreSQL cluster with initdb", "dir", data)
		if err := os.RemoveAll(data); err != nil { // what a cut-short initdb left
			return err
		}
		out, err := pgTool(ctx, s.initdb, "-D", data, "-U", "postgres", "--auth=trust", "--no-sync",
			"--encoding=UTF8", "--locale=C")
		if err != nil {
			return fmt.Errorf("initdb: %v: %s", err, out)
		}
	}
	opts := []string{fmt.Sprintf("-p %d", port), "-k ''"}
	for k, v := range s.params {
		opts = append(opts, fmt.Sprintf("-c %s=%s", k, v))
	}
	opts = append(opts, "-c listen_addresses=127.0.0.1")
	out, err := pgTool(ctx, s.pgctl(), "-D", data, "-l", filepath.Join(s.dir, "server.log"), "-w", "-t", "120",
		"-o", strings.Join(opts, " "), "start")
	if err != nil {
		return fmt.Errorf("pg_ctl start: %v: %s", err, out)
	}
	return nil
}

// pgctl is the pg_ctl beside the server's binaries.
func (s *server) pgctl() string {
	if s.kind == KindInitdb {
		return filepath.Join(filepath.Dir(s.initdb), "pg_ctl")
	}
	cache, _ := CacheDir()
	return filepath.Join(embeddedBinaries(cache), "bin", "pg_ctl")
}

// stop stops the server in dir if it runs (fast shutdown: open sessions are ended).
func (s *server) stop(ctx context.Context) error {
	if _, err := os.Stat(s.dir); errors.Is(err, os.ErrNotExist) {
		return nil // never started here
	}
	unlock, err := lockDir(ctx, s.dir)
	if err != nil {
		return err
	}
	defer unlock()
	if s.running() == 0 {
		return nil
	}
	out, err := pgTool(ctx, s.pgctl(), "-D", filepath.Join(s.dir, "data"), "-m", "fast", "-w", "-t", "120", "stop")
	if err != nil {
		return fmt.Errorf("pg_ctl stop %s: %v: %s", s.dir, err, out)
	}
	return nil
}

// pgTool runs a PostgreSQL program, as an unprivileged user when this process is root.
func pgTool(ctx context.Context, tool string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, tool, args...)
	unprivileged(cmd)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), rootHint(err)
}

// rootHint explains the one failure of unprivileged a person can do something about: a system (a container
// with the default seccomp profile) that refuses user namespaces to root.
func rootHint(err error) error {
	if err != nil && os.Geteuid() == 0 && errors.Is(err, syscall.EPERM) {
		return fmt.Errorf("%w (as root, PostgreSQL runs as nobody in a user namespace, which this system refuses: "+
			"run as an ordinary user, or point DATABASE_URL / TEST_DATABASE_URL at a PostgreSQL)", err)
	}
	return err
}

// freePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
