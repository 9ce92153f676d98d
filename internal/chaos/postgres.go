package chaos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgres is a throwaway PostgreSQL cluster of the suite's own, made with initdb in its work directory and
// run with pg_ctl on a free loopback port — never the machine's shared server on 5432, because the suite
// stops it hard (an immediate shutdown is a crash: the next start replays the WAL).
type postgres struct {
	pgctl string
	data  string
	port  int
}

// startPostgres creates a cluster under dir and starts it.
func startPostgres(ctx context.Context, dir string) (*postgres, error) {
	initdb, err := findPGTool("initdb")
	if err != nil {
		return nil, err
	}
	p := &postgres{pgctl: filepath.Join(filepath.Dir(initdb), "pg_ctl"), data: filepath.Join(dir, "pg")}
	if err := os.MkdirAll(p.data, 0o700); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 { // the server runs as postgres and must own its data
		if out, err := exec.CommandContext(ctx, "chown", "-R", "postgres", p.data).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("chown %s to postgres: %v: %s", p.data, err, out)
		}
	}
	if out, err := runAsPostgres(ctx, initdb, "-D", p.data, "-U", "postgres", "--auth=trust", "--no-sync",
		"-E", "UTF8", "--locale=C"); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	if p.port, err = freePort(); err != nil {
		return nil, err
	}
	if err := p.start(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// findPGTool looks for a PostgreSQL server tool where Debian installs them (the newest version), then on PATH.
func findPGTool(name string) (string, error) {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	sort.Slice(matches, func(i, j int) bool { return pgVersion(matches[i]) < pgVersion(matches[j]) })
	if len(matches) > 0 {
		return matches[len(matches)-1], nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found in /usr/lib/postgresql/*/bin or on PATH: apt-get install postgresql", name)
}

func pgVersion(path string) int {
	var v int
	fmt.Sscanf(filepath.Base(filepath.Dir(filepath.Dir(path))), "%d", &v)
	return v
}

// runAsPostgres runs a server tool. initdb and pg_ctl refuse to run as root, so as root they run as the
// postgres user.
func runAsPostgres(ctx context.Context, tool string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, tool, args...)
	if os.Geteuid() == 0 {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", tool}, args...)...)
	}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	for range 10 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if port != 5432 {
			return port, nil
		}
	}
	return 0, errors.New("no free port")
}

func (p *postgres) start(ctx context.Context) error {
	out, err := runAsPostgres(ctx, p.pgctl, "-D", p.data, "-l", filepath.Join(p.data, "server.log"), "-w", "-t", "120",
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on", p.port, p.data),
		"start")
	if err != nil {
		return fmt.Errorf("pg_ctl start: %v: %s", err, out)
	}
	return nil
}

// stop stops the server: mode "immediate" is a crash (no checkpoint; the next start recovers from the WAL),
// "fast" a clean shutdown that disconnects every client.
func (p *postgres) stop(ctx context.Context, mode string) error {
	out, err := runAsPostgres(ctx, p.pgctl, "-D", p.data, "-m", mode, "-w", "-t", "60", "stop")
	if err != nil {
		return fmt.Errorf("pg_ctl stop -m %s: %v: %s", mode, err, out)
	}
	return nil
}

// adminURL connects to the cluster's postgres database.
func (p *postgres) adminURL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// createDatabase creates a database and returns its URL.
func (p *postgres) createDatabase(ctx context.Context, name string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.adminURL())
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", err
	}
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.port, name), nil
}
