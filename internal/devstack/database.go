package devstack

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/mizanhq/mizan/internal/dbroles"
	"github.com/mizanhq/mizan/internal/pgurl"
)

// DemoMarker is the comment on a database that mizan's demo created (COMMENT ON DATABASE). The demo drops
// and recreates only a database that carries it; any other database of the same name is someone else's.
const DemoMarker = "mizan demo: created by `make run` / `make up`, which drop and recreate it at every start"

// ErrNotOurs is returned when a database of the demo's name exists without DemoMarker.
var ErrNotOurs = errors.New("not created by mizan's demo")

// Database is a database to run mizan in, and the one place that decides which connection applies the
// migrations and which one the poller and the reconciler run with.
type Database struct {
	// Name is the database's name.
	Name string
	// MigrateURL connects as the role that owns the schema: `reconciler migrate` runs with it.
	MigrateURL string
	// AppURL connects as the role the running commands use: mizan_runtime (member of mizan_app), never the
	// owner, so that the pipeline cannot switch the ledger's invariants off (internal/dbroles).
	AppURL string
}

// FreshDemoDatabase makes database name on p's server anew for one run of the demo: it drops the database of
// that name if the demo created it (DemoMarker) and nobody is connected to it, and creates it with the
// marker. A database of that name without the marker is never dropped: FreshDemoDatabase refuses, with
// ErrNotOurs. Every start is clean because the demo's simulated providers live only as long as the demo: a
// ledger and stored provider tokens from an earlier run describe a world that is gone.
func (p *Postgres) FreshDemoDatabase(ctx context.Context, name string) (Database, error) {
	admin, err := maintenanceURL(p.AdminURL, name)
	if err != nil {
		return Database{}, err
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return Database{}, fmt.Errorf("connect to %s: %w", p.Where, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	ident := pgx.Identifier{name}.Sanitize()

	var comment *string
	err = conn.QueryRow(ctx, `SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1`, name).Scan(&comment)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return Database{}, fmt.Errorf("look for database %s: %w", name, err)
	case comment == nil || *comment != DemoMarker:
		return Database{}, fmt.Errorf("database %s on %s exists but was %w (it has no comment %q), so the demo "+
			"will not drop it: drop it yourself if it is a leftover of an older mizan (DROP DATABASE %s)",
			name, p.Where, ErrNotOurs, DemoMarker, ident)
	default:
		var sessions int
		var clients string
		if err := conn.QueryRow(ctx, `SELECT count(*), coalesce(string_agg(DISTINCT coalesce(nullif(application_name, ''), 'a client'), ', '), '')
			FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, name).Scan(&sessions, &clients); err != nil {
			return Database{}, err
		}
		if sessions > 0 {
			return Database{}, fmt.Errorf("database %s is in use by %d session(s) (%s): is `make up` still running, or a psql? "+
				"Stop them first; the demo starts from a clean database and will not cut anyone off", name, sessions, clients)
		}
		if _, err := conn.Exec(ctx, "DROP DATABASE "+ident); err != nil {
			return Database{}, fmt.Errorf("drop the demo's database %s: %w", name, err)
		}
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return Database{}, fmt.Errorf("create database %s (the role needs CREATEDB): %w", name, err)
	}
	if _, err := conn.Exec(ctx, "COMMENT ON DATABASE "+ident+" IS '"+DemoMarker+"'"); err != nil {
		_, _ = conn.Exec(ctx, "DROP DATABASE "+ident) // unmarked, it would be refused at the next start
		return Database{}, fmt.Errorf("mark database %s as the demo's: %w", name, err)
	}
	// The migrations run as the owner, poller and reconciler as the runtime role: neither is a superuser.
	owner, app, err := dbroles.Ensure(ctx, p.AdminURL, name)
	if err != nil {
		return Database{}, fmt.Errorf("%s: the demo runs as mizan's own roles, which the admin connection must be "+
			"able to create (CREATEROLE): %w", p.Where, err)
	}
	return Database{Name: name, MigrateURL: owner, AppURL: app}, nil
}

// maintenanceURL is admin, or admin on the postgres database when admin names the database to be dropped
// (DATABASE_URL set to the URL `make up` printed): a session cannot drop its own database.
func maintenanceURL(admin, name string) (string, error) {
	cfg, err := pgx.ParseConfig(admin)
	if err != nil {
		return "", errors.New("the admin URL is not a valid PostgreSQL connection string")
	}
	if cfg.Database != name {
		return admin, nil
	}
	u, err := pgurl.WithDatabase(admin, "postgres")
	if err != nil {
		return "", err
	}
	return u, nil
}
