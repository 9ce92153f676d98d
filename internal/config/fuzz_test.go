package config_test

import (
	"bytes"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/mizanhq/mizan/internal/config"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources/registry"
	"github.com/mizanhq/mizan/internal/sources/vandar"
	"github.com/mizanhq/mizan/internal/sources/yabandpay"
)

// FuzzParseSources feeds the sources-file parser arbitrary bytes. Whatever an operator (or a broken
// ConfigMap) puts in the file:
//
//   - ParseSources never panics;
//   - a refusal names where the problem is: a source and its field ("source NAME: field …"), or the file as
//     a whole (empty, no sources, malformed YAML);
//   - no refusal and no printed source ever shows a secret read from the environment;
//   - what it accepts keeps every promise the poller relies on (valid names, known providers and feeds,
//     parseable cron specs, http(s) URLs, secrets present, no two sources for one provider account).
//
// Seeds are in testdata/fuzz; `make fuzz` runs it for FUZZTIME.
func FuzzParseSources(f *testing.F) {
	// The seeds are the files in testdata/fuzz/FuzzParseSources: the README's example, each refusal the unit
	// tests know, and YAML's sharper corners (anchors and aliases, merge keys, tags, complex keys, a second
	// document).
	f.Fuzz(func(t *testing.T, b []byte) {
		srcs, err := config.ParseSources(b, fuzzEnv, registry.Providers())
		// The input may itself contain the marker (the fuzzer can write anything): only then may it show.
		leakable := bytes.Contains(b, []byte(secretMarker))
		if err != nil {
			msg := err.Error()
			if !leakable && strings.Contains(msg, secretMarker) {
				t.Fatalf("a secret in the error: %v", err)
			}
			if !namesWhere(msg) {
				t.Fatalf("the error names neither a source and field nor the file's problem: %q", msg)
			}
			return
		}
		checkAccepted(t, srcs)
		if printed := fmt.Sprintf("%v %+v %#v", srcs, srcs, srcs); !leakable && strings.Contains(printed, secretMarker) {
			t.Fatalf("a secret in a printed source: %s", printed)
		}
	})
}

// secretMarker starts every value fuzzEnv returns: if it shows in an error or a printed source, a secret leaked.
const secretMarker = "fz-secret-7Qm2"

// fuzzEnv answers every variable with a secret, except names starting with UNSET, which are not set.
func fuzzEnv(name string) string {
	if strings.HasPrefix(name, "UNSET") {
		return ""
	}
	return secretMarker + "-" + name
}

var (
	sourceErrRE = regexp.MustCompile(`(?s)^source .*?: (field ([a-z_.]+|".*")[.:]|the same )`)
	fileErrs    = []string{"empty: ", "no sources: ", "malformed YAML: "}
	nameRE      = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
)

func namesWhere(msg string) bool {
	for _, p := range fileErrs {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return sourceErrRE.MatchString(msg)
}

func checkAccepted(t *testing.T, s config.Sources) {
	t.Helper()
	if len(s.Sources) == 0 {
		t.Fatal("accepted a file with no sources")
	}
	names, accounts := map[string]bool{}, map[string]bool{}
	for _, src := range s.Sources {
		if !nameRE.MatchString(src.Name) || names[src.Name] {
			t.Fatalf("accepted source name %q (unique lowercase slug required)", src.Name)
		}
		names[src.Name] = true
		key := events.Key(src.Provider, src.Account())
		if src.Account() == "" || accounts[key] {
			t.Fatalf("source %s: account %q empty or polled twice", src.Name, src.Account())
		}
		accounts[key] = true
		if len(src.Feeds) == 0 {
			t.Fatalf("source %s: no feeds", src.Name)
		}
		for feed, spec := range src.Feeds {
			if _, err := config.ParseCron(spec); err != nil {
				t.Fatalf("source %s: feed %s: accepted cron spec %q: %v", src.Name, feed, spec, err)
			}
		}
		var urls []string
		switch v := src.Settings.(type) {
		case vandar.Settings:
			urls = append(urls, v.APIURL, v.BatchURL)
			if src.Provider != events.ProviderVandar || !strings.HasPrefix(v.AccessToken.Reveal(), secretMarker) ||
				!strings.HasPrefix(v.RefreshToken.Reveal(), secretMarker) {
				t.Fatalf("source %s: tokens not read from the environment", src.Name)
			}
			for feed := range src.Feeds {
				if feed != events.FeedStatement && feed != events.FeedBalance && feed != events.FeedSettlements && feed != events.FeedBatches {
					t.Fatalf("source %s: unknown vandar feed %q accepted", src.Name, feed)
				}
			}
		case yabandpay.Settings:
			urls = append(urls, v.APIURL)
			if src.Provider != events.ProviderYabandPay || !strings.HasPrefix(v.SecretKey.Reveal(), secretMarker) ||
				len(v.Currencies) == 0 {
				t.Fatalf("source %s: secret key or currencies missing", src.Name)
			}
			for feed := range src.Feeds {
				if feed != events.FeedBalance {
					t.Fatalf("source %s: unknown yabandpay feed %q accepted", src.Name, feed)
				}
			}
		default:
			t.Fatalf("source %s: unknown provider %q accepted (%T)", src.Name, src.Provider, src.Settings)
		}
		for _, raw := range urls {
			u, err := url.Parse(raw)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				t.Fatalf("source %s: accepted URL %q", src.Name, raw)
			}
		}
	}
}
