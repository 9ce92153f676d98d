// Package devstack finds or starts the PostgreSQL that local development uses — `make run` and `make up`
// (internal/demo) and the tests (internal/pgtest) — so that a machine with only Go needs nothing else, and
// makes the demo's own database.
//
// The order, the same for both: the configured URL (DATABASE_URL for the demo, TEST_DATABASE_URL for the
// tests); the machine's server on 127.0.0.1:5432; a cluster made with the installed initdb; else an embedded
// PostgreSQL whose binaries fergusstrange/embedded-postgres downloads from Maven Central once and keeps in
// the user's cache. MIZAN_PG forces one of them (url, local, initdb, embedded).
//
// A server mizan starts runs detached in a directory of its own (a lock in it makes concurrent starters
// agree on one), as an unprivileged user when mizan runs as root (see unprivileged).
package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// LocalServerURL is the machine's own PostgreSQL, tried after the configured URL.
const LocalServerURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// SwitchVar is the environment variable that forces where PostgreSQL comes from: url, local, initdb or
// embedded (empty or auto: the order above).
const SwitchVar = "MIZAN_PG"

// Kind says where a PostgreSQL came from.
type Kind string

// The kinds, in the order Find tries them.
const (
	KindURL      Kind = "url"      // the configured URL
	KindLocal    Kind = "local"    // the machine's server on 127.0.0.1:5432
	KindInitdb   Kind = "initdb"   // a cluster mizan made with the installed initdb and pg_ctl
	KindEmbedded Kind = "embedded" // the embedded PostgreSQL (fergusstrange/embedded-postgres)
)

// Options says where to look for PostgreSQL and where to start one.
type Options struct {
	// URLVar names the variable holding a configured URL: DATABASE_URL or TEST_DATABASE_URL.
	URLVar string
	// Dir is where a server mizan starts keeps its data, in a subdirectory per kind (postgres-initdb,
	// postgres-embedded).
	Dir string
	// Port is where a server mizan starts listens; 0 picks a free port. A running server keeps its own.
	Port int
	// Params are server settings for a server mizan starts (-c name=value), e.g. fsync=off for tests.
	Params map[string]string
	// Exe is an executable that calls RunChild when its first argument is ChildCommand (the demo binary).
	// Only needed as root, where the embedded server must be started by such a child; "" then makes the
	// embedded kind fail with a message saying what to do instead.
	Exe string
	// Getenv reads the environment (SwitchVar and URLVar).
	Getenv func(string) string
	// Log receives what is being started. Default: nowhere.
	Log *slog.Logger
}

// Postgres is a PostgreSQL to use.
type Postgres struct {
	// AdminURL connects as a role that may create databases: the configured URL, or postgres on a server
	// mizan found or started.
	AdminURL string
	// Kind says where it came from.
	Kind Kind
	// Where says it in words, for the user (no password).
	Where string
	// Started is set when Find started the server; Stop stops it.
	Started bool
	srv     *server
}

// Stop stops the server if Find started it; a server it found running is left alone.
func (p *Postgres) Stop(ctx context.Context) error {
	if !p.Started || p.srv == nil {
		return nil
	}
	return p.srv.stop(ctx)
}

// Find returns the PostgreSQL to use, in the order the package comment gives, starting a server when it
// comes to initdb or embedded.
func Find(ctx context.Context, o Options) (*Postgres, error) {
	force := Kind(strings.ToLower(strings.TrimSpace(o.Getenv(SwitchVar))))
	switch force {
	case "", "auto":
		force = ""
	case KindURL, KindLocal, KindInitdb, KindEmbedded:
	default:
		return nil, fmt.Errorf("%s=%q: want url, local, initdb or embedded (or nothing: try them in that order)", SwitchVar, force)
	}
	if force == "" || force == KindURL {
		if u := strings.TrimSpace(o.Getenv(o.URLVar)); u != "" {
			return &Postgres{AdminURL: u, Kind: KindURL, Where: o.URLVar}, nil
		}
		if force == KindURL {
			return nil, fmt.Errorf("%s=url but %s is not set", SwitchVar, o.URLVar)
		}
	}
	if force == "" || force == KindLocal {
		err := ping(ctx, LocalServerURL)
		if err == nil {
			return &Postgres{AdminURL: LocalServerURL, Kind: KindLocal, Where: "the local server on 127.0.0.1:5432"}, nil
		}
		if force == KindLocal {
			return nil, fmt.Errorf("%s=local but nothing answers as postgres on 127.0.0.1:5432: %w", SwitchVar, err)
		}
	}
	srv := o.server(force)
	if srv.kind == KindInitdb && srv.initdb == "" {
		return nil, fmt.Errorf("%s=initdb but initdb is not installed", SwitchVar)
	}
	url, started, err := srv.ensure(ctx)
	if err != nil {
		return nil, err
	}
	where := "a cluster made with initdb in " + srv.dir
	if srv.kind == KindEmbedded {
		where = fmt.Sprintf("the embedded PostgreSQL %s in %s", EmbeddedVersion, srv.dir)
	}
	return &Postgres{AdminURL: url, Kind: srv.kind, Where: where, Started: started, srv: srv}, nil
}

// server is the server Find would start: of kind force, or initdb when it is installed, else embedded.
func (o Options) server(force Kind) *server {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	initdb, _ := findTool("initdb")
	kind := force
	if kind == "" {
		kind = KindEmbedded
		if initdb != "" {
			kind = KindInitdb
		}
	}
	// Absolute, because PostgreSQL reads a relative log_directory from its data directory, and the server may
	// be started by a child process in another working directory.
	dir := filepath.Join(o.Dir, "postgres-"+string(kind))
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return &server{kind: kind, dir: dir, port: o.Port, params: o.Params, exe: o.Exe, log: log, initdb: initdb}
}

// StopServers stops the servers mizan started in o.Dir (either kind), if they run.
func StopServers(ctx context.Context, o Options) error {
	var errs []error
	for _, k := range []Kind{KindInitdb, KindEmbedded} {
		errs = append(errs, o.server(k).stop(ctx))
	}
	return errors.Join(errs...)
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

// pingUntil pings url until it answers or d has passed: a server just started, or recovering after a crash,
// refuses connections for a while.
func pingUntil(ctx context.Context, url string, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		err := ping(ctx, url)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// findTool looks for a PostgreSQL server program on PATH and where Debian and others install them.
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

// TestOptions are the options the tests find their PostgreSQL with (internal/pgtest), and `make test`
// starts it with ahead of them (`demo postgres start`): TEST_DATABASE_URL, else the local server, else one
// server shared by every test process, kept in the cache directory and tuned for throwaway data.
func TestOptions(getenv func(string) string) (Options, error) {
	cache, err := CacheDir()
	if err != nil {
		return Options{}, err
	}
	return Options{
		URLVar: "TEST_DATABASE_URL",
		Dir:    filepath.Join(cache, "test-server"),
		// Test databases are thrown away: durability only costs time. Every package's tests at once need
		// more than the default 100 connections.
		Params: map[string]string{"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
			"max_connections": "300"},
		Getenv: getenv,
	}, nil
}
