package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/mizanhq/mizan/internal/metrics"
)

// UsageError is a command line a program does not understand: an unknown subcommand or flag, a missing or
// extra argument. The program prints it with its usage and exits with status 2, as flag and the shell do.
type UsageError struct {
	Problem string // what was wrong
	Usage   string // the usage text to print after it
}

func (e *UsageError) Error() string {
	if e.Usage == "" {
		return e.Problem
	}
	return e.Problem + "\n" + e.Usage
}

// Usagef returns a UsageError with usage.
func Usagef(usage, format string, args ...any) error {
	return &UsageError{Problem: fmt.Sprintf(format, args...), Usage: usage}
}

// ExitCode is the exit status for what a program's run returned: 0 for nil, 2 for a UsageError, the code of
// an error that names its own (an ExitCode() int method, such as the reconciler's stalls), else 1.
func ExitCode(err error) int {
	var ue *UsageError
	var coded interface{ ExitCode() int }
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		return 2
	case errors.As(err, &coded):
		return coded.ExitCode()
	default:
		return 1
	}
}

// HelpWanted says whether args ask for help — `help …`, or -h, -help or --help anywhere before a "--" —
// and for which subcommand: the words of args that are not flags, without "help" (["migrate", "status"]
// for `reconciler migrate status --help` and for `reconciler help migrate status`).
func HelpWanted(args []string) (words []string, ok bool) {
	if len(args) > 0 && args[0] == "help" {
		return plain(args[1:]), true
	}
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			return plain(args), true
		}
	}
	return nil, false
}

// plain is the words of args up to the first flag.
func plain(args []string) []string {
	var out []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			break
		}
		out = append(out, a)
	}
	return out
}

// PrintHelp prints program's help for the subcommand words (none: the whole program) to w: the usage
// lines of usage that are about that subcommand (all of them if none is), then the environment variables
// it reads (Vars). usage is the program's usage text: a first line, then one entry per subcommand
// starting "  <program> <subcommand>", with continuation lines indented further.
func PrintHelp(w io.Writer, program, usage string, words []string) {
	sub := strings.Join(words, " ")
	lines := strings.Split(strings.TrimRight(usage, "\n"), "\n")
	var picked []string
	if sub != "" {
		prefix := "  " + program + " " + sub
		in := false
		for _, l := range lines[1:] {
			switch {
			case strings.HasPrefix(l, prefix) && (len(l) == len(prefix) || l[len(prefix)] == ' '):
				in = true
			case strings.HasPrefix(l, "  "+program+" ") || !strings.HasPrefix(l, "   "):
				in = false
			}
			if in {
				picked = append(picked, l)
			}
		}
	}
	if len(picked) == 0 {
		fmt.Fprintln(w, strings.Join(lines, "\n"))
		sub = ""
	} else {
		fmt.Fprintln(w, lines[0])
		fmt.Fprintln(w, strings.Join(picked, "\n"))
	}
	writeVars(w, program, sub)
}

// version and commit are set when building: -ldflags "-X github.com/mizanhq/mizan/internal/cli.version=v1.2.3
// -X github.com/mizanhq/mizan/internal/cli.commit=<sha>" (the Makefile sets them from git). Without them the
// build info's module version and VCS stamp are used; a build with -buildvcs=false, or from a source tree
// without .git (a container build), has no stamp.
var version, commit string

// Version describes this build in one line: program, version, VCS commit and time (and whether the tree
// had changes), Go version and platform — from -ldflags and runtime/debug.ReadBuildInfo.
func Version(program string) string {
	b := build()
	out := program + " " + b.version
	if b.commit != "" {
		out += " commit " + b.commit
		if b.when != "" {
			out += " (" + b.when + ")"
		}
		if b.dirty {
			out += " with uncommitted changes"
		}
	}
	return out + " " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
}

// BuildInfo is what Version says, for the metric mizan_build_info{version,commit,goversion}; an unstamped
// build's commit is "" and its version "devel".
func BuildInfo() metrics.Build {
	b := build()
	commit := b.commit
	if commit != "" && b.dirty {
		commit += "-dirty"
	}
	return metrics.Build{Version: b.version, Commit: commit, GoVersion: runtime.Version()}
}

type stamp struct {
	version, commit, when string
	dirty                 bool
}

// build reads the stamp of this build from -ldflags and runtime/debug.ReadBuildInfo.
func build() stamp {
	s := stamp{version: version, commit: commit}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if s.version == "" {
			s.version = bi.Main.Version
		}
		for _, kv := range bi.Settings {
			switch kv.Key {
			case "vcs.revision":
				s.commit = kv.Value
			case "vcs.time":
				s.when = kv.Value
			case "vcs.modified":
				s.dirty = kv.Value == "true"
			}
		}
	}
	if s.version == "" || s.version == "(devel)" {
		s.version = "devel"
	}
	return s
}

// PrintFlagsHelp is PrintHelp for a program of one command whose flags say it all: synopsis (its first
// lines), the flag set's flags with their defaults, then the environment variables it reads.
func PrintFlagsHelp(w io.Writer, program, synopsis string, fs *flag.FlagSet) {
	fmt.Fprintln(w, strings.TrimRight(synopsis, "\n"))
	fmt.Fprintln(w, "\nflags:")
	out := fs.Output()
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(out)
	writeVars(w, program, "")
}
