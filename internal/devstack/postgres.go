// Package devstack brings up what the local pipeline (`make run`, `make up`) needs on a newcomer's machine:
// a PostgreSQL (the one configured, the local server, or a throwaway cluster), a database for the demo, and
// the environment the two commands run with.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// LocalServerURL is the machine's own PostgreSQL, which `make run` tries second.
const LocalServerURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// throwawayPort is where a cluster made with initdb listens, away from a system server's 5432.
const throwawayPort = 54329

// Postgres is a PostgreSQL the local pipeline can use.
type Postgres struct {
	// AdminURL connects as a role that may create databases; "" when DATABASE_URL was given and is used as is.
	AdminURL string
	// DatabaseURL is set when DATABASE_URL was given.
	DatabaseURL string
	// Where says which PostgreSQL this is, for the summary.
	Where string
	stop  func()
}

// Stop stops a throwaway cluster; for any other server it does nothing.
func (p *Postgres) Stop() {
	if p.stop != nil {
		p.stop()
	}
}

// FindPostgres returns DATABASE_URL if set, else the local server if it answers, else a throwaway cluster
// created under dir with initdb and pg_ctl when they are installed.
func FindPostgres(ctx context.Context, dir string, getenv func(string) string, log *slog.Logger) (*Postgres, error) {
	if u := getenv("DATABASE_URL"); u != "" {
		return &Postgres{DatabaseURL: u, Where: "DATABASE_URL"}, nil
	}
	if ping(ctx, LocalServerURL) == nil {
		return &Postgres{AdminURL: LocalServerURL, Where: "local server 127.0.0.1:5432"}, nil
	}
	initdb, err := findTool("initdb")
	if err != nil {
		return nil, errors.New("no PostgreSQL: DATABASE_URL is not set, nothing answers on 127.0.0.1:5432, " +
			"and initdb is not installed (apt-get install postgresql)")
	}
	pgctl := filepath.Join(filepath.Dir(initdb), "pg_ctl")
	data := filepath.Join(dir, "pg")
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err != nil {
		log.Info("creating a throwaway PostgreSQL cluster", "dir", data)
		if err := os.MkdirAll(data, 0o700); err != nil {
			return nil, err
		}
		if os.Geteuid() == 0 { // the server runs as postgres and must own its data
			if out, err := exec.CommandContext(ctx, "chown", "-R", "postgres", data).CombinedOutput(); err != nil {
				return nil, fmt.Errorf("chown %s: %v: %s", data, err, out)
			}
		}
		out, err := runAs(ctx, initdb, "-D", data, "-U", "postgres", "--auth=trust", "--no-sync")
		if err != nil {
			return nil, fmt.Errorf("initdb: %v: %s", err, out)
		}
	}
	out, err := runAs(ctx, pgctl, "-D", data, "-l", filepath.Join(data, "server.log"), "-w",
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", throwawayPort, os.TempDir()), "start")
	if err != nil {
		return nil, fmt.Errorf("pg_ctl start: %v: %s", err, out)
	}
	admin := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", throwawayPort)
	return &Postgres{AdminURL: admin, Where: "throwaway cluster in " + data, stop: func() {
		runAs(context.Background(), pgctl, "-D", data, "-m", "fast", "-w", "stop")
	}}, nil
}

// Database returns the URL of database name on the server, creating it; fresh drops it first.
func (p *Postgres) Database(ctx context.Context, name string, fresh bool) (string, error) {
	if p.DatabaseURL != "" {
		return p.DatabaseURL, nil
	}
	conn, err := pgx.Connect(ctx, p.AdminURL)
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", p.Where, err)
	}
	defer conn.Close(ctx)
	ident := pgx.Identifier{name}.Sanitize()
	if fresh {
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			return "", fmt.Errorf("drop database %s: %w", name, err)
		}
	}
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
			return "", fmt.Errorf("create database %s: %w", name, err)
		}
	}
	cfg, err := pgx.ParseConfig(p.AdminURL)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name), nil
}

func ping(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// findTool looks for a PostgreSQL server tool on PATH and where Debian and others install them.
func findTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, pattern := range []string{"/usr/lib/postgresql/*/bin/" + name, "/usr/local/pgsql/bin/" + name, "/opt/homebrew/bin/" + name} {
		if m, _ := filepath.Glob(pattern); len(m) > 0 {
			return m[len(m)-1], nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

// runAs runs a PostgreSQL tool. initdb and pg_ctl refuse to run as root, so as root they run as the
// postgres user when there is one.
func runAs(ctx context.Context, tool string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, tool, args...)
	if os.Geteuid() == 0 {
		if _, err := exec.LookPath("runuser"); err == nil {
			cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", tool}, args...)...)
		}
	}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}
