package cli_test

import (
	"bytes"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mizanhq/mizan/internal/cli"
)

const repoRoot = "../.."

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds every command once for the tests that run them, stamping a known commit the way the
// Makefile does.
func binaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "mizan-cli-bin-")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags",
			"-X github.com/mizanhq/mizan/internal/cli.version=v9.9.9-test -X github.com/mizanhq/mizan/internal/cli.commit=0123abcd",
			"-o", binDir+string(filepath.Separator), "./cmd/...")
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = errors.New(err.Error() + ": " + string(out))
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// run runs a built command with only PATH and HOME in its environment plus extra, and returns its exit
// status and output.
func run(t *testing.T, extra []string, name string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binaries(t), name), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, extra...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("%s %q: %v", name, args, err)
	}
	return code, out.String(), errb.String()
}

// Every way of asking for help, on every command and subcommand, answers on stdout and exits 0 — with no
// DATABASE_URL, and with a DATABASE_URL and brokers that nothing answers on (connecting to them would fail
// or hang), so help never touches the network or a database.
func TestEveryHelpExitsZeroWithoutTouchingAnything(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds every command")
	}
	helps := map[string][][]string{
		"poller": {{"--help"}, {"-h"}, {"help"}, {"run", "--help"}, {"once", "-h"}, {"once", "--source", "x", "--help"},
			{"help", "once"}, {"config", "check", "--help"}, {"help", "version"}},
		"reconciler": {{"--help"}, {"-h"}, {"help"}, {"migrate", "--help"}, {"migrate", "status", "--help"},
			{"migrate", "status", "-h"}, {"topics", "-h"}, {"run", "--help"}, {"help", "run"}, {"config", "check", "-h"}},
		"simulator": {{"--help"}, {"-h"}, {"help"}},
		"demo":      {{"--help"}, {"-h"}, {"help"}, {"postgres", "--help"}, {"postgres", "start", "-h"}},
		"chaos":     {{"--help"}, {"-h"}, {"help"}, {"broker", "--help"}, {"help", "broker"}},
		"bench":     {{"--help"}, {"-h"}, {"help"}},
	}
	nowhere := []string{"DATABASE_URL=postgres://nobody@127.0.0.1:1/none?connect_timeout=1", "KAFKA_BROKERS=127.0.0.1:1",
		"TEST_DATABASE_URL=postgres://nobody@127.0.0.1:1/none?connect_timeout=1", "MIZAN_PG=url"}
	for name, variants := range helps {
		for _, args := range variants {
			for _, env := range [][]string{nil, nowhere} {
				code, out, errOut := run(t, env, name, args...)
				if code != 0 || !strings.HasPrefix(out, "usage:") || errOut != "" {
					t.Errorf("%s %s (env %q): exit %d, stdout %.80q, stderr %.200q; want 0, the usage, nothing",
						name, strings.Join(args, " "), env, code, out, errOut)
				}
			}
		}
	}
	// A subcommand's help is about that subcommand, and lists the environment it reads.
	_, out, _ := run(t, nil, "reconciler", "run", "--help")
	for _, want := range []string{"reconciler run [--until-idle]", "SLACK_WEBHOOK_URL", "KAFKA_MAX_BATCH", "MIZAN_STALE_AFTER"} {
		if !strings.Contains(out, want) {
			t.Errorf("reconciler run --help lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "reconciler topics") || strings.Contains(out, "MIZAN_SOURCES") {
		t.Errorf("reconciler run --help shows another command's usage or variables:\n%s", out)
	}
	_, out, _ = run(t, nil, "reconciler", "migrate", "--help")
	if strings.Contains(out, "KAFKA_BROKERS") || !strings.Contains(out, "DATABASE_URL") {
		t.Errorf("reconciler migrate --help should list DATABASE_URL and no Kafka variable:\n%s", out)
	}
}

// What a program does not understand is a usage error: the problem and the usage on stderr, exit 2.
func TestUnknownCommandsAndFlagsExitTwo(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds every command")
	}
	for _, c := range []struct {
		name string
		args []string
	}{
		{"poller", []string{"poll"}}, {"poller", nil}, {"poller", []string{"once", "--nope"}}, {"poller", []string{"once", "x"}},
		{"poller", []string{"run", "x"}}, {"poller", []string{"config"}},
		{"reconciler", []string{"migrat"}}, {"reconciler", nil}, {"reconciler", []string{"migrate", "down"}},
		{"reconciler", []string{"run", "--until-idel"}}, {"reconciler", []string{"topics", "--partitions", "x"}},
		{"simulator", []string{"--nope"}}, {"simulator", []string{"serve"}},
		{"demo", []string{"start"}}, {"demo", []string{"postgres", "restart"}},
		{"chaos", []string{"--setting", "extreme"}}, {"chaos", []string{"brokers"}},
		{"bench", []string{"--quik"}}, {"bench", []string{"run"}},
	} {
		code, out, errOut := run(t, nil, c.name, c.args...)
		if code != 2 || out != "" || !strings.Contains(errOut, "usage:") {
			t.Errorf("%s %q: exit %d, stdout %.80q, stderr %.120q; want 2, nothing, the usage", c.name, c.args, code, out, errOut)
		}
	}
}

// version names the program, the release and commit the build stamped, and the Go version.
func TestVersion(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds every command")
	}
	for _, name := range []string{"poller", "reconciler", "simulator", "demo", "chaos", "bench"} {
		code, out, _ := run(t, nil, name, "version")
		want := name + " v9.9.9-test commit 0123abcd "
		if code != 0 || !strings.HasPrefix(out, want) || !strings.Contains(out, runtime.Version()) {
			t.Errorf("%s version: exit %d, %q; want 0 and %q… %s", name, code, out, want, runtime.Version())
		}
	}
	// Unstamped (go build without -ldflags), it still names the program and the Go version.
	if got := cli.Version("poller"); !strings.HasPrefix(got, "poller ") || !strings.Contains(got, runtime.Version()) {
		t.Errorf("Version = %q", got)
	}
}

// The table of environment variables is the one list: every variable the commands' code names is in it,
// and README's configuration table shows exactly the poller's and the reconciler's.
// testHooks are variables only the project's own tests set (internal/testpoint's kill points); a user never
// sets them, so the help does not list them.
var testHooks = map[string]bool{"MIZAN_TEST_PAUSE_AT": true, "MIZAN_TEST_PAUSE_DIR": true}

func TestVariablesTableMatchesCodeAndREADME(t *testing.T) {
	t.Parallel()
	inTable := map[string]cli.Var{}
	for _, v := range cli.AllVars() {
		if _, dup := inTable[v.Name]; dup {
			t.Errorf("%s is in the table twice", v.Name)
		}
		inTable[v.Name] = v
	}

	// Every string literal that looks like one of mizan's variables, in the code that reads the environment.
	nameRE := regexp.MustCompile(`^(MIZAN|KAFKA|SLACK)_[A-Z0-9_]+$|^(TEST_)?DATABASE_URL$`)
	fset := token.NewFileSet()
	// All of the code, not a list of packages: a variable named through a constant in a package nobody thought
	// of (MIZAN_MATCHING_FILE in internal/matching once) must still be in the table.
	var files []string
	for _, dir := range []string{"cmd", "internal"} {
		err := filepath.WalkDir(filepath.Join(repoRoot, dir), func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(path, ".go") {
				files = append(files, path)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	seen := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(af, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			s, _, _ = strings.Cut(s, "=") // "DATABASE_URL="+url
			if nameRE.MatchString(s) && !testHooks[s] {
				seen++
				if _, ok := inTable[s]; !ok {
					t.Errorf("%s reads %s, which internal/cli's table of variables does not list", f, s)
				}
			}
			return true
		})
	}
	if seen < 20 {
		t.Fatalf("found only %d variable names in the code: the scan is broken", seen)
	}

	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "## Configuration")
	section, _, _ = strings.Cut(section, "\n## ")
	inREADME := map[string]bool{}
	for _, m := range regexp.MustCompile("`([A-Z][A-Z0-9_]+)(=[^`]*)?`").FindAllStringSubmatch(section, -1) {
		if nameRE.MatchString(m[1]) {
			inREADME[m[1]] = true
		}
	}
	for _, v := range cli.AllVars() {
		commands := slices.ContainsFunc(v.Scope, func(s string) bool {
			return strings.HasPrefix(s, "poller") || strings.HasPrefix(s, "reconciler")
		})
		if commands && !inREADME[v.Name] {
			t.Errorf("README's Configuration section does not document %s", v.Name)
		}
		delete(inREADME, v.Name)
	}
	for name := range inREADME {
		t.Errorf("README's Configuration section documents %s, which the table of variables does not list", name)
	}
}
