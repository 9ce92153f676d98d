package devstack_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/mizanhq/mizan/internal/devstack"
	"github.com/mizanhq/mizan/internal/pgtest"
	"github.com/mizanhq/mizan/internal/pgurl"
	"github.com/mizanhq/mizan/migrations"
)

// helperEnv makes this test binary a helper process: it runs TestHelperFind only, which finds PostgreSQL
// with the options in the variable, prints what it found and exits (the os/exec tests' pattern).
const helperEnv = "MIZAN_DEVSTACK_TEST_HELPER"

type found struct {
	URL     string
	Kind    devstack.Kind
	Started bool
	Err     string
}

func TestHelperFind(t *testing.T) {
	spec := os.Getenv(helperEnv)
	if spec == "" {
		t.Skip("a helper process for TestEmbeddedIsSharedByTwoProcesses")
	}
	var o struct{ Dir, Exe string }
	if err := json.Unmarshal([]byte(spec), &o); err != nil {
		t.Fatal(err)
	}
	pg, err := devstack.Find(context.Background(), devstack.Options{URLVar: "UNSET_URL_VAR", Dir: o.Dir, Exe: o.Exe, Getenv: os.Getenv})
	f := found{}
	if err != nil {
		f.Err = err.Error()
	} else {
		f.URL, f.Kind, f.Started = pg.AdminURL, pg.Kind, pg.Started
	}
	b, _ := json.Marshal(f)
	os.Stdout.Write(append([]byte("FOUND "), append(b, '\n')...))
}

// The embedded PostgreSQL, forced with MIZAN_PG=embedded: two processes asking for it at once get one
// server — exactly one of them starts it — and it serves a database migrated to mizan's schema. Its
// directory is given relative to the processes' working directory, as make run gives .run.
func TestEmbeddedIsSharedByTwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL (and downloads its binaries the first time)")
	}
	work := t.TempDir()
	dir := filepath.Join(work, "run")
	// As root the embedded server is started through a binary that re-runs itself as its unprivileged
	// child: the demo, as make run and make test use it.
	exe := filepath.Join(t.TempDir(), "demo")
	build := exec.Command("go", "build", "-o", exe, "github.com/mizanhq/mizan/cmd/demo")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build demo: %v\n%s", err, out)
	}
	spec, _ := json.Marshal(struct{ Dir, Exe string }{"run", exe})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := devstack.StopServers(ctx, devstack.Options{Dir: dir, Getenv: os.Getenv}); err != nil {
			t.Errorf("stop: %v", err)
		}
	})

	results := make([]found, 2)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperFind$", "-test.count=1")
			cmd.Dir = work
			cmd.Env = append(os.Environ(), helperEnv+"="+string(spec), devstack.SwitchVar+"=embedded")
			out, err := cmd.CombinedOutput()
			sc := bufio.NewScanner(strings.NewReader(string(out)))
			for sc.Scan() {
				if line, ok := strings.CutPrefix(sc.Text(), "FOUND "); ok {
					_ = json.Unmarshal([]byte(line), &results[i])
					return
				}
			}
			results[i].Err = "no answer from the helper process: " + errString(err) + ": " + string(out)
		})
	}
	wg.Wait()
	for i, r := range results {
		if r.Err != "" {
			t.Fatalf("process %d: %s", i, r.Err)
		}
		if r.Kind != devstack.KindEmbedded {
			t.Errorf("process %d got a PostgreSQL of kind %s, want embedded", i, r.Kind)
		}
	}
	if results[0].URL != results[1].URL {
		t.Errorf("the two processes got two servers: %s and %s", pgurl.Redact(results[0].URL), pgurl.Redact(results[1].URL))
	}
	if results[0].Started == results[1].Started {
		t.Errorf("started by process 0: %v, by process 1: %v; want exactly one to start it", results[0].Started, results[1].Started)
	}

	// It serves what the tests need: a database created by the admin role and migrated to mizan's schema.
	ctx := t.Context()
	admin, err := pgx.Connect(ctx, results[0].URL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var version string
	if err := admin.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil || !strings.HasPrefix(version, "15.") {
		t.Fatalf("server_version %q, %v; want 15.x, the embedded version", version, err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE served"); err != nil {
		t.Fatal(err)
	}
	url, _ := pgurl.WithDatabase(results[0].URL, "served")
	cfg, _ := pgx.ParseConfig(url)
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	if err := migrations.Up(ctx, db); err != nil {
		t.Fatalf("migrate a database on the embedded server: %v", err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO ledger.accounts (code, type, currency) VALUES ('assets:x', 'asset', 'EUR')`); err != nil {
		t.Fatalf("use the migrated schema: %v", err)
	}

	// Stopped, it is gone; found again, it is started again with its data.
	if err := devstack.StopServers(ctx, devstack.Options{Dir: dir, Getenv: os.Getenv}); err != nil {
		t.Fatal(err)
	}
	if err := admin.Ping(ctx); err == nil {
		t.Fatal("the server still answers after StopServers")
	}
	pg, err := devstack.Find(ctx, devstack.Options{URLVar: "UNSET_URL_VAR", Dir: dir, Exe: exe,
		Getenv: func(k string) string { return map[string]string{devstack.SwitchVar: "embedded"}[k] }})
	if err != nil {
		t.Fatal(err)
	}
	if !pg.Started {
		t.Error("Find after a stop did not start the server")
	}
	url, _ = pgurl.WithDatabase(pg.AdminURL, "served") // a restarted server may listen on another port
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("the restarted server lost the database: %v", err)
	}
	var n int
	err = conn.QueryRow(ctx, "SELECT count(*) FROM ledger.accounts").Scan(&n)
	conn.Close(ctx)
	if err != nil || n != 1 {
		t.Errorf("after a restart: %d accounts, %v; want the 1 from before", n, err)
	}
}

func errString(err error) string {
	if err == nil {
		return "exit 0"
	}
	return err.Error()
}

// The demo's database is dropped and recreated only when the demo created it: a database of the same name
// without the mark is refused and left as it was, and so is a marked one that someone is connected to.
func TestFreshDemoDatabaseDropsOnlyItsOwn(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pg := &devstack.Postgres{AdminURL: pgtest.AdminURL(), Where: "the tests' server"}
	admin, err := pgx.Connect(ctx, pg.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	drop := func(name string) {
		_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	}
	exists := func(name string) bool {
		var ok bool
		if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	suffix := strings.ReplaceAll(t.Name(), "/", "_")[:20] + time.Now().Format("150405.000000")
	suffix = strings.ToLower(strings.ReplaceAll(suffix, ".", ""))

	// Someone else's database of that name.
	foreign := "mizan_demo_foreign_" + suffix
	t.Cleanup(func() { drop(foreign) })
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+foreign); err != nil {
		t.Fatal(err)
	}
	if _, err := pg.FreshDemoDatabase(ctx, foreign); !errors.Is(err, devstack.ErrNotOurs) {
		t.Fatalf("FreshDemoDatabase on a foreign database: %v, want ErrNotOurs", err)
	}
	if !exists(foreign) {
		t.Fatal("the foreign database was dropped")
	}

	// Its own: created marked, recreated empty at the next start.
	own := "mizan_demo_own_" + suffix
	t.Cleanup(func() { drop(own) })
	db, err := pg.FreshDemoDatabase(ctx, own)
	if err != nil {
		t.Fatal(err)
	}
	// The owner leaves something behind (the runtime role may not create anything).
	conn, err := pgx.Connect(ctx, db.MigrateURL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, "CREATE TABLE left_by_the_last_run (x int)")
	if err != nil {
		t.Fatal(err)
	}
	// In use: refused, not cut off.
	if _, err := pg.FreshDemoDatabase(ctx, own); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("FreshDemoDatabase while someone is connected: %v, want a refusal", err)
	}
	if err := conn.Ping(ctx); err != nil {
		t.Fatalf("the connected session was cut off: %v", err)
	}
	conn.Close(ctx)
	// A closed connection's backend leaves pg_stat_activity a moment after the client hangs up; until then it
	// still counts as a session, so wait for it to go rather than for some time.
	for {
		var sessions int
		if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", own).Scan(&sessions); err != nil {
			t.Fatal(err)
		}
		if sessions == 0 {
			break
		}
		runtime.Gosched()
	}
	db, err = pg.FreshDemoDatabase(ctx, own)
	if err != nil {
		t.Fatal(err)
	}
	conn, err = pgx.Connect(ctx, db.MigrateURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var left bool
	var comment string
	if err := conn.QueryRow(ctx, `SELECT to_regclass('left_by_the_last_run') IS NOT NULL,
		shobj_description((SELECT oid FROM pg_database WHERE datname = current_database()), 'pg_database')`).Scan(&left, &comment); err != nil {
		t.Fatal(err)
	}
	if left || comment != devstack.DemoMarker {
		t.Errorf("after a fresh start: last run's table there %v, comment %q; want a clean, marked database", left, comment)
	}
}
