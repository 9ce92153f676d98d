package deploy

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	stage string // the stage's name (FROM … AS name)
	cmd   string // upper case: FROM, RUN, COPY, …
	args  string
}

func readDockerfile(t *testing.T) []instruction {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []instruction
	var buf strings.Builder
	stage := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if buf.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			buf.WriteString(strings.TrimSuffix(line, "\\") + " ")
			continue
		}
		buf.WriteString(line)
		cmd, args, _ := strings.Cut(buf.String(), " ")
		buf.Reset()
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.Join(strings.Fields(args), " ")}
		if in.cmd == "FROM" {
			if _, name, ok := strings.Cut(in.args, " AS "); ok {
				stage = name
			} else {
				stage = ""
			}
		}
		in.stage = stage
		out = append(out, in)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// goBuild returns the Dockerfile's go build command line (from "CGO_ENABLED=0 go build" to the package
// pattern) as written, and its arguments after "go" with the build arguments (${VERSION}, ${COMMIT}) set
// from args, as the shell in the RUN step would expand them.
func goBuild(t *testing.T, ins []instruction, buildArgs map[string]string) (line string, args []string) {
	t.Helper()
	re := regexp.MustCompile(`CGO_ENABLED=0 go (build [^&;]*\./cmd/\.\.\.)`)
	for _, in := range ins {
		if in.cmd != "RUN" || !strings.Contains(in.args, "go build") {
			continue
		}
		if line != "" {
			t.Fatal("the Dockerfile runs go build twice")
		}
		m := re.FindStringSubmatch(in.args)
		if m == nil {
			t.Fatalf("the Dockerfile's go build is not `CGO_ENABLED=0 go build … ./cmd/...`: %s", in.args)
		}
		line = m[0]
		args = shellWords(os.Expand(m[1], func(name string) string {
			v, ok := buildArgs[name]
			if !ok {
				t.Fatalf("the go build line uses ${%s}, which the test does not set", name)
			}
			return v
		}))
	}
	if line == "" {
		t.Fatal("the Dockerfile runs no go build")
	}
	return line, args
}

// shellWords splits a command line on spaces, honouring single and double quotes (all the Dockerfile's
// build uses; variables are expanded before).
func shellWords(s string) []string {
	var words []string
	var w strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote == 0 && (r == '\'' || r == '"'):
			quote, inWord = r, true
		case r == quote:
			quote = 0
		case r == ' ' && quote == 0:
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// makefileLDFlags returns the Makefile's LDFLAGS with its make variables written as shell ones ($(VERSION)
// as ${VERSION}): the -X flags the image's build must set too.
func makefileLDFlags(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^LDFLAGS\s*:?=\s*(.+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("the Makefile sets no LDFLAGS")
	}
	return regexp.MustCompile(`\$\((\w+)\)`).ReplaceAllString(strings.TrimSpace(string(m[1])), `$${$1}`)
}

func TestDockerfile(t *testing.T) {
	t.Parallel()
	ins := readDockerfile(t)

	// The builder's Go is the go.mod's.
	gomod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if goVersion == nil {
		t.Fatal("go.mod has no go directive")
	}
	if !slices.Contains(ins, instruction{cmd: "ARG", args: "GO_VERSION=" + string(goVersion[1])}) {
		t.Errorf("the Dockerfile does not build with Go %s (ARG GO_VERSION=%[1]s), the go.mod's", goVersion[1])
	}

	// The build is CI's static build, stripped, with the Makefile's version flags set from build arguments.
	ldflags := "-s -w " + makefileLDFlags(t)
	if !strings.Contains(ldflags, "internal/cli.version=${VERSION}") || !strings.Contains(ldflags, "internal/cli.commit=${COMMIT}") {
		t.Fatalf("the Makefile's LDFLAGS %q do not set cli.version and cli.commit", ldflags)
	}
	line, args := goBuild(t, ins, map[string]string{"VERSION": "v1", "COMMIT": "c"})
	for _, want := range []string{"-trimpath", "./cmd/..."} {
		if !slices.Contains(args, want) {
			t.Errorf("go build %q lacks %s", args, want)
		}
	}
	if want := `CGO_ENABLED=0 go build -trimpath -ldflags="` + ldflags + `" -o /out/ ./cmd/...`; line != want {
		t.Errorf("the build line drifted:\n  %s\nwant\n  %s", line, want)
	}
	if !slices.Contains(ins, instruction{stage: "build", cmd: "ARG", args: "VERSION COMMIT"}) {
		t.Error("the build stage does not declare ARG VERSION COMMIT")
	}

	// The final stage is the production image: distroless, user 65532, no shell step; the debug stage runs as
	// the same user. Both copy binaries that exist.
	last := ins[len(ins)-1].stage
	stages := map[string][]instruction{}
	for _, in := range ins {
		stages[in.stage] = append(stages[in.stage], in)
	}
	installs := map[string][]string{last: {"poller", "reconciler"}, "debug": {"poller", "reconciler", "simulator"}}
	for _, stage := range []string{last, "debug"} {
		got := stages[stage]
		if len(got) == 0 {
			t.Fatalf("no stage %q", stage)
		}
		if !strings.HasPrefix(got[0].args, "gcr.io/distroless/static") {
			t.Errorf("stage %s is FROM %s, want gcr.io/distroless/static…", stage, got[0].args)
		}
		var user string
		var copied []string
		for _, in := range got {
			switch in.cmd {
			case "USER":
				user = in.args
			case "RUN":
				if stage == last {
					t.Errorf("the production stage runs %q: it has no shell", in.args)
				}
			case "COPY":
				f := strings.Fields(in.args)
				if f[0] == "--from=build" && strings.HasPrefix(f[1], "/out/") && f[len(f)-1] == "/usr/local/bin/" {
					for _, src := range f[1 : len(f)-1] {
						copied = append(copied, path.Base(src))
					}
				}
			}
		}
		if user != "65532:65532" {
			t.Errorf("stage %s runs as %q, want 65532:65532", stage, user)
		}
		slices.Sort(copied)
		if !slices.Equal(copied, installs[stage]) {
			t.Errorf("stage %s installs %v, want %v (the simulator only for compose)", stage, copied, installs[stage])
		}
		for _, bin := range copied {
			if _, err := os.Stat(filepath.Join(repoRoot, "cmd", bin)); err != nil {
				t.Errorf("stage %s installs %s: %v", stage, bin, err)
			}
		}
	}
	if last != "runtime" {
		t.Errorf("the last stage is %q: the production stage must be last, as docker build's default target", last)
	}
	// The production image says which release and commit it is.
	var labels string
	for _, in := range stages[last] {
		if in.cmd == "LABEL" {
			labels += in.args + " "
		}
	}
	for _, want := range []string{"org.opencontainers.image.version=${VERSION}", "org.opencontainers.image.revision=${COMMIT}",
		"org.opencontainers.image.source=https://github.com/mizanhq/mizan"} {
		if !strings.Contains(labels, want) {
			t.Errorf("the production stage lacks LABEL %s", want)
		}
	}
	if !slices.Contains(stages[last], instruction{stage: last, cmd: "ARG", args: "VERSION COMMIT"}) {
		t.Error("the production stage does not declare ARG VERSION COMMIT for its labels")
	}
}

// TestDockerfileBuildIsStatic runs the Dockerfile's own go build line and checks that every binary is
// statically linked, as distroless/static (no libc) needs.
func TestDockerfileBuildIsStatic(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds every binary")
	}
	const version, commit = "v9.9.9-image", "0123abcd"
	_, args := goBuild(t, readDockerfile(t), map[string]string{"VERSION": version, "COMMIT": commit})
	out := t.TempDir()
	for i, a := range args {
		if a == "-o" {
			args[i+1] = out + string(filepath.Separator)
		}
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	for _, bin := range []string{"poller", "reconciler", "simulator"} {
		f, err := elf.Open(filepath.Join(out, bin))
		if err != nil {
			t.Fatalf("%s: %v", bin, err)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s needs a dynamic loader", bin)
			}
		}
		if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
			t.Errorf("%s links %v", bin, libs)
		}
		if f.Section(".symtab") != nil {
			t.Errorf("%s keeps its symbol table: -ldflags='-s -w' did not apply", bin)
		}
		f.Close()
	}
	// The build arguments reach `version`.
	for _, bin := range []string{"poller", "reconciler"} {
		b, err := exec.Command(filepath.Join(out, bin), "version").CombinedOutput()
		if want := bin + " " + version + " commit " + commit + " "; err != nil || !strings.HasPrefix(string(b), want) {
			t.Errorf("%s version: %v %q, want %q…", bin, err, b, want)
		}
	}
}

// dockerignore is .dockerignore's patterns with Docker's semantics (moby/patternmatcher): in order, the last
// pattern matching a path or one of its parent directories decides, "!" re-includes, "**" spans directories.
type dockerignore []struct {
	re      *regexp.Regexp
	include bool
}

func readDockerignore(t *testing.T) dockerignore {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var d dockerignore
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		include := strings.HasPrefix(line, "!")
		p := path.Clean(strings.TrimPrefix(strings.TrimPrefix(line, "!"), "/"))
		var re strings.Builder
		for i := 0; i < len(p); i++ {
			switch {
			case strings.HasPrefix(p[i:], "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(p[i:], "**"):
				re.WriteString(".*")
				i++
			case p[i] == '*':
				re.WriteString("[^/]*")
			case p[i] == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(p[i : i+1]))
			}
		}
		d = append(d, struct {
			re      *regexp.Regexp
			include bool
		}{regexp.MustCompile("^" + re.String() + "$"), include})
	}
	return d
}

// sent says whether the build context includes file (a slash-separated path from the repository root).
func (d dockerignore) sent(file string) bool {
	excluded := false
	for _, p := range d {
		for q := file; q != "."; q = path.Dir(q) {
			if p.re.MatchString(q) {
				excluded = !p.include
				break
			}
		}
	}
	return !excluded
}

func TestDockerignoreSendsWhatTheBuildReads(t *testing.T) {
	t.Parallel()
	d := readDockerignore(t)
	// Every Go and embedded file of every package the binaries are built from, and the module files.
	cmd := exec.Command("go", "list", "-deps", "-f",
		`{{if and .Module (eq .Module.Path "github.com/mizanhq/mizan")}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}
{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}
{{end}}{{end}}`, "./cmd/...")
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"go.mod", "go.sum"}
	for _, f := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, f)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, filepath.ToSlash(rel))
	}
	if len(files) < 20 {
		t.Fatalf("go list found only %v", files)
	}
	for _, f := range files {
		if !d.sent(f) {
			t.Errorf(".dockerignore leaves out %s, which the build needs", f)
		}
	}
	// And not what it doesn't need.
	for _, f := range []string{".git/HEAD", "deploy/compose.yaml", "bin/poller", ".run/pg/postmaster.pid",
		"internal/config/config_test.go", "internal/sources/vandar/testdata/statement.json", "Dockerfile"} {
		if d.sent(f) {
			t.Errorf(".dockerignore sends %s", f)
		}
	}
}
