package deploy

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// repoRoot is the module root, seen from this package's directory (go test runs tests there).
const repoRoot = ".."

// binary is what one of mizan's commands accepts, read from its cmd/<name>/run.go rather than restated here:
// the subcommands its usage string lists, each subcommand's flags (from its flag.FlagSet) and the
// environment variables it refuses to start without (its config.ReadEnv arguments).
type binary struct {
	name        string
	subcommands map[string]*subcommand
	reads       []string // every variable name it passes to getenv or config.ReadEnv
}

type subcommand struct {
	flags       map[string]bool // flag name → takes a value (false for a bool flag)
	requiredEnv []string
}

var (
	binariesOnce sync.Once
	binaries     map[string]*binary
	binariesErr  error
)

// mizanBinaries parses cmd/poller and cmd/reconciler once for every test.
func mizanBinaries(t *testing.T) map[string]*binary {
	t.Helper()
	binariesOnce.Do(func() {
		binaries = map[string]*binary{}
		for _, name := range []string{"poller", "reconciler"} {
			b, err := parseBinary(name)
			if err != nil {
				binariesErr = err
				return
			}
			binaries[name] = b
		}
	})
	if binariesErr != nil {
		t.Fatal(binariesErr)
	}
	return binaries
}

func parseBinary(name string) (*binary, error) {
	path := filepath.Join(repoRoot, "cmd", name, "run.go")
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		return nil, err
	}
	b := &binary{name: name, subcommands: map[string]*subcommand{}}

	// Subcommands: the usage constant's lines "  <name> <subcommand> …".
	usage := ""
	ast.Inspect(f, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok && len(vs.Names) == 1 && vs.Names[0].Name == "usage" && len(vs.Values) == 1 {
			if lit, ok := vs.Values[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				usage, _ = strconv.Unquote(lit.Value)
			}
		}
		return true
	})
	if usage == "" {
		return nil, fmt.Errorf("%s: no usage constant", path)
	}
	line := regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(name) + `\s+([a-z][a-z-]*)`)
	for _, m := range line.FindAllStringSubmatch(usage, -1) {
		b.subcommands[m[1]] = &subcommand{flags: map[string]bool{}}
	}
	if len(b.subcommands) == 0 {
		return nil, fmt.Errorf("%s: no subcommand in the usage string %q", path, usage)
	}

	funcs := map[string]*ast.FuncDecl{}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok {
			funcs[fd.Name.Name] = fd
		}
	}
	var perr error
	// Flags: fs := flag.NewFlagSet("<subcommand>", …); fs.String("name", …) / fs.StringVar(&v, "name", …).
	for _, fd := range funcs {
		sets := map[string]string{} // variable → flag set name
		ast.Inspect(fd, func(n ast.Node) bool {
			if as, ok := n.(*ast.AssignStmt); ok && len(as.Lhs) == 1 && len(as.Rhs) == 1 {
				if call, ok := as.Rhs[0].(*ast.CallExpr); ok && isCall(call, "flag", "NewFlagSet") && len(call.Args) > 0 {
					if id, ok := as.Lhs[0].(*ast.Ident); ok {
						sets[id.Name] = stringLit(call.Args[0])
					}
				}
			}
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			recv, ok := sel.X.(*ast.Ident)
			if !ok {
				return true
			}
			set, ok := sets[recv.Name]
			if !ok || !isFlagDefiner(sel.Sel.Name) {
				return true
			}
			sub := b.subcommands[set]
			if sub == nil {
				perr = fmt.Errorf("%s: flag set %q is not a subcommand in the usage string", path, set)
				return false
			}
			for _, a := range call.Args {
				if s := stringLit(a); s != "" {
					sub.flags[s] = !strings.HasPrefix(sel.Sel.Name, "Bool")
					break
				}
			}
			return true
		})
	}
	if perr != nil {
		return nil, perr
	}

	// Required environment: config.ReadEnv(getenv, "A", …) in run itself (outside the switch's cases, so for
	// every subcommand) and in the functions a subcommand's case calls.
	readEnv := func(n ast.Node) []string {
		var names []string
		ast.Inspect(n, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok && isCall(call, "config", "ReadEnv") {
				for _, a := range call.Args[1:] {
					names = append(names, stringLit(a))
				}
			}
			return true
		})
		return names
	}
	run := funcs["run"]
	if run == nil {
		return nil, fmt.Errorf("%s: no func run", path)
	}
	var common []string
	called := map[string][]string{} // subcommand → functions its case calls
	for _, stmt := range run.Body.List {
		sw, ok := stmt.(*ast.SwitchStmt)
		if !ok {
			common = append(common, readEnv(stmt)...)
			continue
		}
		for _, c := range sw.Body.List {
			cc := c.(*ast.CaseClause)
			for _, e := range cc.List {
				sub := stringLit(e)
				ast.Inspect(cc, func(n ast.Node) bool {
					if call, ok := n.(*ast.CallExpr); ok {
						if id, ok := call.Fun.(*ast.Ident); ok {
							called[sub] = append(called[sub], id.Name)
						}
					}
					return true
				})
			}
		}
	}
	// A case's functions and, in turn, the functions of this binary they call (migrate → withSQLDB → connect).
	var envOf func(fn string, seen map[string]bool) []string
	envOf = func(fn string, seen map[string]bool) []string {
		fd := funcs[fn]
		if fd == nil || seen[fn] {
			return nil
		}
		seen[fn] = true
		names := readEnv(fd)
		ast.Inspect(fd, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				if id, ok := call.Fun.(*ast.Ident); ok {
					names = append(names, envOf(id.Name, seen)...)
				}
			}
			return true
		})
		return names
	}
	for name, sub := range b.subcommands {
		sub.requiredEnv = append(sub.requiredEnv, common...)
		seen := map[string]bool{}
		for _, fn := range called[name] {
			sub.requiredEnv = append(sub.requiredEnv, envOf(fn, seen)...)
		}
		slices.Sort(sub.requiredEnv)
		sub.requiredEnv = slices.Compact(sub.requiredEnv)
	}

	// Everything it reads: getenv("X") and ReadEnv's arguments.
	ast.Inspect(f, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok {
			if id, ok := call.Fun.(*ast.Ident); ok && id.Name == "getenv" && len(call.Args) == 1 {
				b.reads = append(b.reads, stringLit(call.Args[0]))
			}
		}
		return true
	})
	b.reads = append(b.reads, readEnv(f)...)
	return b, nil
}

// check says what is wrong with running this binary with args ("" if nothing): the subcommand must be in
// the usage string and every flag must be one its flag set defines, with a value where it takes one.
func (b *binary) check(args []string) (sub string, flags map[string]string, problem string) {
	if len(args) == 0 {
		return "", nil, b.name + " without a subcommand only prints its usage"
	}
	s, ok := b.subcommands[args[0]]
	if !ok {
		return "", nil, b.name + " has no subcommand " + strconv.Quote(args[0])
	}
	flags = map[string]string{}
	for i := 1; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			return "", nil, b.name + " " + args[0] + " takes no positional argument " + strconv.Quote(a)
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		takesValue, ok := s.flags[name]
		if !ok {
			return "", nil, b.name + " " + args[0] + " has no flag --" + name
		}
		if takesValue && !hasValue {
			if i+1 >= len(args) {
				return "", nil, "--" + name + " needs a value"
			}
			i++
			value = args[i]
		}
		flags[name] = value
	}
	return args[0], flags, ""
}

func isCall(call *ast.CallExpr, pkg, fn string) bool {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != fn {
		return false
	}
	id, ok := sel.X.(*ast.Ident)
	return ok && id.Name == pkg
}

func isFlagDefiner(method string) bool {
	switch strings.TrimSuffix(method, "Var") {
	case "Bool", "String", "Int", "Int64", "Uint", "Uint64", "Float64", "Duration", "Func", "Text":
		return true
	}
	return false
}

func stringLit(e ast.Expr) string {
	if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
		s, err := strconv.Unquote(lit.Value)
		if err == nil {
			return s
		}
	}
	return ""
}

// pendingEnv are variables another change is adding to the binaries at the same time as these manifests:
// Kafka TLS and SASL, and the HTTP server for /metrics, /healthz and /readyz. Once they are in README's
// configuration table this list can go.
var pendingEnv = []string{
	"KAFKA_TLS", "KAFKA_TLS_CA_FILE", "KAFKA_SASL_MECHANISM", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD",
	"KAFKA_SASL_PASSWORD_FILE", "MIZAN_HTTP_ADDR",
}

// contractEnv is the configuration contract: the variables README's configuration table documents, the ones
// the binaries read, and pendingEnv.
func contractEnv(t *testing.T) map[string]bool {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## Configuration")
	if !ok {
		t.Fatal("README.md has no Configuration section")
	}
	env := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Z][A-Z0-9_]*)` \\|").FindAllStringSubmatch(section, -1) {
		env[m[1]] = true
	}
	if len(env) < 5 {
		t.Fatalf("README's configuration table lists only %v", env)
	}
	for _, b := range mizanBinaries(t) {
		for _, name := range b.reads {
			env[name] = true
		}
	}
	for _, name := range pendingEnv {
		env[name] = true
	}
	return env
}

func TestCommandsAreReadFromTheBinaries(t *testing.T) {
	t.Parallel()
	bins := mizanBinaries(t)
	// If parsing silently found nothing, every later check would pass vacuously.
	want := map[string][]string{"poller": {"config", "help", "once", "probe", "run", "version"},
		"reconciler": {"ack", "adjust", "config", "dlq", "expect", "help", "migrate", "run", "topics", "version"}}
	for name, subs := range want {
		got := slices.Sorted(maps.Keys(bins[name].subcommands))
		if !slices.Equal(got, subs) {
			t.Errorf("%s subcommands = %v, want %v", name, got, subs)
		}
	}
	if _, _, p := bins["poller"].check([]string{"once", "--source", "x"}); p != "" {
		t.Error(p)
	}
	if _, _, p := bins["reconciler"].check([]string{"run", "--until-idle"}); p != "" {
		t.Error(p)
	}
	if _, _, p := bins["reconciler"].check([]string{"topics", "--partitions=6", "--replication", "3"}); p != "" {
		t.Error(p)
	}
	for _, bad := range [][]string{{"run", "--source", "x"}, {"poll"}, {"once", "x"}, {}} {
		if _, _, p := bins["poller"].check(bad); p == "" {
			t.Errorf("poller %q accepted", bad)
		}
	}
	if got := bins["poller"].subcommands["once"].requiredEnv; !slices.Contains(got, "MIZAN_SECRET_KEY") || !slices.Contains(got, "DATABASE_URL") {
		t.Errorf("poller once requires %v", got)
	}
	if got := bins["reconciler"].subcommands["topics"].requiredEnv; !slices.Equal(got, []string{"KAFKA_BROKERS"}) {
		t.Errorf("reconciler topics requires %v", got)
	}
	if got := bins["reconciler"].subcommands["migrate"].requiredEnv; !slices.Equal(got, []string{"DATABASE_URL"}) {
		t.Errorf("reconciler migrate requires %v", got)
	}
}
