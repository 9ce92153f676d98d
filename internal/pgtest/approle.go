package pgtest

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mizanhq/mizan/internal/dbroles"
)

// AppURL returns the URL of a database made by NewDB, dbURL, as the runtime login role (dbroles.Runtime): a
// member of mizan_app that owns nothing and is no superuser, as `poller` and `reconciler` connect in
// production. The role is created on the server if missing. The test's own pool stays the owner's, for
// setting up and inspecting what the role may not touch.
func AppURL(t testing.TB, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("pgtest: AppURL: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	app, err := dbroles.EnsureRuntimeAt(ctx, AdminURL(), strings.TrimPrefix(u.Path, "/"))
	if err != nil {
		t.Fatalf("pgtest: AppURL: %v", err)
	}
	return app
}

// AppPool is a pool connected to dbURL as the runtime login role (see AppURL), closed when t ends.
func AppPool(t testing.TB, dbURL string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), AppURL(t, dbURL))
	if err != nil {
		t.Fatalf("pgtest: AppPool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}
