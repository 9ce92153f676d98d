// Package dbroles creates the PostgreSQL roles mizan runs with, for a local pipeline (`make run`) and the
// tests: an owner that runs the migrations and owns mizan's schemas, and a runtime login role, member of
// mizan_app, that `poller` and `reconciler run` connect as. Neither is a superuser.
//
// In production an administrator creates the roles once, with real passwords (docs/security.md); this package
// is the same recipe for machines where a trusted local admin connection exists. The passwords it sets are
// fixed and public: it is for local servers and tests, never for a database that holds real money.
package dbroles

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The roles. The group roles are the ones mizan's migrations grant to (00022, 00024); the migrations create
// them too when the migrating role may, so creating them here is what lets the owner be without CREATEROLE.
const (
	Owner      = "mizan_owner"   // login: runs the migrations, owns the database and mizan's schemas
	Runtime    = "mizan_runtime" // login: what poller and reconciler connect as; member of AppGroup
	AppGroup   = "mizan_app"
	Analyst    = "mizan_analyst"
	Accountant = "mizan_accountant"
)

// lockKey serializes role changes across processes (test binaries run in parallel) on one admin database:
// concurrent GRANTs of one role fail with "tuple concurrently updated".
const lockKey int64 = 0x6d697a616e_726f // "mizan" "ro"

// Ensure creates what is missing of the roles on the server adminURL connects to (as a superuser, or a role
// with CREATEROLE that may hand the database over), makes Owner the owner of database, and returns URLs of
// database as Owner and as Runtime. Roles that exist are left as they are, passwords included.
func Ensure(ctx context.Context, adminURL, database string) (ownerURL, appURL string, err error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", "", fmt.Errorf("dbroles: connect: %w", err)
	}
	defer conn.Close(context.Background())
	err = locked(ctx, conn, func() error {
		if err := EnsureRuntime(ctx, conn); err != nil {
			return err
		}
		if err := ensureRole(ctx, conn, Owner, "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD "+
			quote(password(Owner))); err != nil {
			return err
		}
		_, err := conn.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{database}.Sanitize()+" OWNER TO "+Owner)
		if err != nil {
			return fmt.Errorf("dbroles: make %s the owner of %s: %w", Owner, database, err)
		}
		return nil
	})
	if err != nil {
		return "", "", err
	}
	if ownerURL, err = As(adminURL, database, Owner); err != nil {
		return "", "", err
	}
	if appURL, err = As(adminURL, database, Runtime); err != nil {
		return "", "", err
	}
	return ownerURL, appURL, nil
}

// EnsureRuntime creates, if missing, the group roles and the Runtime login role, member of AppGroup. conn is
// an admin connection; callers that change roles from several processes at once hold the lock Ensure takes.
func EnsureRuntime(ctx context.Context, conn *pgx.Conn) error {
	for _, g := range []string{AppGroup, Analyst, Accountant} {
		if err := ensureRole(ctx, conn, g, "NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"); err != nil {
			return err
		}
	}
	if err := ensureRole(ctx, conn, Runtime, "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD "+
		quote(password(Runtime))); err != nil {
		return err
	}
	// The accountant reads what analysts read (00093). Granting that membership needs CREATEROLE or the
	// analyst role's admin option, which an owner without CREATEROLE lacks on a cluster where nobody has
	// granted it yet: it is granted here, as 00093's hint asks an administrator to, once per cluster.
	for _, m := range [][2]string{{Runtime, AppGroup}, {Accountant, Analyst}} {
		if err := ensureMember(ctx, conn, m[0], m[1]); err != nil {
			return err
		}
	}
	return nil
}

// ensureMember makes member a member of group, unless it is already.
func ensureMember(ctx context.Context, conn *pgx.Conn, member, group string) error {
	var is bool
	if err := conn.QueryRow(ctx, `SELECT pg_has_role($1, $2, 'MEMBER')`, member, group).Scan(&is); err != nil {
		return fmt.Errorf("dbroles: is %s a member of %s: %w", member, group, err)
	}
	if !is {
		if _, err := conn.Exec(ctx, "GRANT "+group+" TO "+member); err != nil {
			return fmt.Errorf("dbroles: grant %s to %s: %w", group, member, err)
		}
	}
	return nil
}

// EnsureRuntimeAt is EnsureRuntime on the server adminURL connects to, serialized with every other caller
// on it; it returns the URL of database as Runtime.
func EnsureRuntimeAt(ctx context.Context, adminURL, database string) (string, error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("dbroles: connect: %w", err)
	}
	defer conn.Close(context.Background())
	if err := locked(ctx, conn, func() error { return EnsureRuntime(ctx, conn) }); err != nil {
		return "", err
	}
	return As(adminURL, database, Runtime)
}

// As returns adminURL pointing at database as role, with the password this package gives role.
func As(adminURL, database, role string) (string, error) {
	u, err := url.Parse(adminURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", errors.New("dbroles: not a postgres:// URL")
	}
	u.User = url.UserPassword(role, password(role))
	u.Path, u.RawPath = "/"+database, ""
	return u.String(), nil
}

// password is the fixed, public password of a local role (see the package comment).
func password(role string) string { return role + "-local-only" }

func quote(s string) string { return "'" + s + "'" } // only ever given password(), which has no quote

func locked(ctx context.Context, conn *pgx.Conn, fn func() error) error {
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
		return fmt.Errorf("dbroles: lock: %w", err)
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", lockKey) //nolint:errcheck // the session ends soon anyway
	return fn()
}

// ensureRole creates role with the given options unless it exists. Another process on the server may create
// it meanwhile (another admin database, where this lock does not reach): that is not an error.
func ensureRole(ctx context.Context, conn *pgx.Conn, role, options string) error {
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, role).Scan(&exists); err != nil {
		return fmt.Errorf("dbroles: look up role %s: %w", role, err)
	}
	if exists {
		return nil
	}
	_, err := conn.Exec(ctx, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" "+options)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42710" || pgErr.Code == "23505") { // duplicate_object, unique_violation
		return nil
	}
	if err != nil {
		return fmt.Errorf("dbroles: create role %s: %w", role, err)
	}
	return nil
}
