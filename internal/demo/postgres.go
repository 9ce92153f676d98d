package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/mizanhq/mizan/internal/cli"
	"github.com/mizanhq/mizan/internal/devstack"
	"github.com/mizanhq/mizan/internal/pgurl"
)

// testPostgres is `demo postgres start|stop`: the PostgreSQL the tests share (devstack.TestOptions), which
// `make test` starts before go test and stops after it. go test runs each package's tests in a process of its
// own and has no hook after the last one, so only something around go test knows when the shared server can
// stop; and as root the embedded server must be started through a binary that can re-run itself as its
// unprivileged child, which a test binary cannot.
func testPostgres(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) != 1 || (args[0] != "start" && args[0] != "stop") {
		return cli.Usagef(usage, "demo postgres: start or stop")
	}
	o, err := devstack.TestOptions(getenv)
	if err != nil {
		return err
	}
	o.Exe, _ = os.Executable()
	o.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if args[0] == "stop" {
		return devstack.StopServers(ctx, o)
	}
	pg, err := devstack.Find(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "tests use %s (%s)\n", pg.Where, pgurl.Redact(pg.AdminURL))
	return nil
}

// psqlCommand is the psql command line that reaches the demo's database, without a password in it: the
// embedded server's password goes into a pgpass file beside the demo's data (mode 0600, git-ignored), a
// password in DATABASE_URL stays there.
func psqlCommand(dir string, pg *devstack.Postgres, db devstack.Database) (string, error) {
	u, err := url.Parse(db.AppURL)
	if err != nil || u.User == nil {
		return "psql " + pgurl.Redact(db.AppURL), nil
	}
	password, has := u.User.Password()
	u.User = url.User(u.User.Username())
	u.RawQuery = ""
	if !has {
		return fmt.Sprintf("psql '%s'", u), nil
	}
	if pg.Kind != devstack.KindEmbedded {
		return fmt.Sprintf("psql '%s'   # the password is the one in DATABASE_URL", u), nil
	}
	pass, err := filepath.Abs(filepath.Join(dir, "pgpass"))
	if err != nil {
		return "", err
	}
	esc := strings.NewReplacer(`\`, `\\`, `:`, `\:`)
	line := strings.Join([]string{esc.Replace(u.Hostname()), esc.Replace(u.Port()), esc.Replace(db.Name),
		esc.Replace(u.User.Username()), esc.Replace(password)}, ":")
	if err := os.WriteFile(pass, []byte(line+"\n"), 0o600); err != nil {
		return "", err
	}
	return fmt.Sprintf("PGPASSFILE=%s psql '%s'", pass, u), nil
}
