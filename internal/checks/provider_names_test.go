package checks

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// providerName matches a provider's name in code: vandar and yabandpay anywhere (VandarFoo, "yabandpay"),
// bankstatement only as a word of its own — BankStatementStale is a fact (a bank's statement), not the
// provider named bankstatement.
var providerName = regexp.MustCompile(`(?i)vandar|yabandpay|\bbankstatement\b`)

// allowedProviderNames are the lines that must keep a provider's name, each with why: names users and the
// database already hold, which a rename would break.
var allowedProviderNames = map[string]string{
	`CheckSnapshotMovement = "yabandpay_movement"`: "the check's stored name: in recorded alerts, their dedup keys and analysts' queries",
	`(MIZAN_YABANDPAY_MAX_FALL`:                    "the environment variable users have set",
}

// TestNoProviderNameInTheReconciler holds the reconciler to what a fact is, never which provider sent it: no
// provider's name in the non-test Go files of internal/reconciler, internal/apply and internal/checks. A
// provider's capabilities come from what it declares (internal/sources/registry) or from the fact itself.
func TestNoProviderNameInTheReconciler(t *testing.T) {
	var files []string
	for _, dir := range []string{"../reconciler", "../apply", "."} {
		matches, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		if len(matches) == 0 {
			t.Fatalf("no Go files in %s: the test no longer looks where it should", dir)
		}
		for _, m := range matches {
			if !strings.HasSuffix(m, "_test.go") {
				files = append(files, m)
			}
		}
	}
	used := map[string]bool{}
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			if !providerName.MatchString(line) {
				continue
			}
			allowed := false
			for s := range allowedProviderNames {
				if strings.Contains(line, s) {
					allowed, used[s] = true, true
				}
			}
			if !allowed {
				t.Errorf("%s:%d names a provider (%q): choose by what the fact is or what its source declares, not by name",
					filepath.ToSlash(filepath.Clean(filepath.Join("internal/checks", path))), n, providerName.FindString(line))
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	for s, why := range allowedProviderNames {
		if !used[s] {
			t.Errorf("allowed line %q (%s) is gone: remove it from allowedProviderNames", s, why)
		}
	}
}

func TestProviderNamePattern(t *testing.T) {
	for line, want := range map[string]bool{
		`if b.Provider != events.ProviderYabandPay {`: true,
		`WHERE o.provider = 'vandar'`:                 true,
		`p := bankstatement.Provider{}`:               true,
		`case "BANKSTATEMENT":`:                       true,
		`checks.BankStatementStale(iban, …)`:          false,
		`DefaultBankStatementMaxAge = 96 * time.Hour`: false,
	} {
		if got := providerName.MatchString(line); got != want {
			t.Errorf("providerName matches %q: %v, want %v", line, got, want)
		}
	}
}
