// Package security_test holds mizan's security tests: across a whole pipeline run no credential reaches a
// log, an error, an event or a metric; provider tokens are encrypted at rest; the analysts' role cannot touch
// them and no role can rewrite the ledger's history; Kafka SASL PLAIN is refused without TLS; and provider
// responses larger than a sane bound are refused unread.
package security_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/mizanhq/mizan/internal/sources/sourcetest"
)

// secrets is every credential the run handed out or learned, by a name that says what it is.
type secrets struct {
	mu sync.Mutex
	m  map[string]secret
}

type secret struct {
	value string
	whole bool // look for the whole value only: its ends are not secret (a URL's scheme and host)
}

// add adds a token or key: found whole, by either end, or encoded.
func (s *secrets) add(name, value string) { s.put(name, secret{value: value}) }

// addURL adds a URL with a secret path (a Slack webhook): the URL whole, and its path in every form.
func (s *secrets) addURL(name, url string) {
	s.put(name, secret{value: url, whole: true})
	s.put(name+"'s path", secret{value: url[strings.Index(url, "/services/"):]})
}

func (s *secrets) put(name string, v secret) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v.value == "" {
		panic("empty secret " + name)
	}
	if s.m == nil {
		s.m = map[string]secret{}
	}
	s.m[name] = v
}

// forms returns the secrets with the forms a leak could take: whole, either end of it (a snippet cut at a
// length limit still leaks), base64 and hex (a body or a ciphertext dumped as bytes).
func (s *secrets) forms() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for name, sec := range s.m {
		v := sec.value
		out[name] = v
		if sec.whole {
			continue
		}
		if len(v) >= 24 {
			out[name+" (its first 16 characters)"] = v[:16]
			out[name+" (its last 16 characters)"] = v[len(v)-16:]
		}
		out[name+" (base64)"] = base64.StdEncoding.EncodeToString([]byte(v))
		out[name+" (hex)"] = hex.EncodeToString([]byte(v))
	}
	return out
}

// find returns the names of the secrets text shows, in any of their forms.
func (s *secrets) find(text string) []string {
	var found []string
	for name, v := range s.forms() {
		if strings.Contains(text, v) {
			found = append(found, name)
		}
	}
	sort.Strings(found)
	return found
}

// redact replaces every secret in text, so that a failure message never prints one.
func (s *secrets) redact(text string) string {
	forms := s.forms()
	vals := make([]string, 0, len(forms))
	for _, v := range forms {
		vals = append(vals, v)
	}
	sort.Slice(vals, func(i, j int) bool { return len(vals[i]) > len(vals[j]) })
	for _, v := range vals {
		text = strings.ReplaceAll(text, v, "‹secret›")
	}
	return text
}

// mustNotLeak fails t for each item of what that shows a secret.
func (s *secrets) mustNotLeak(t *testing.T, where string, items []string) {
	t.Helper()
	leaks := 0
	for i, item := range items {
		if found := s.find(item); len(found) > 0 {
			leaks++
			if leaks <= 5 {
				t.Errorf("%s #%d shows %s:\n%s", where, i, strings.Join(found, ", "), clip(s.redact(item), 600))
			}
		}
	}
	if leaks > 5 {
		t.Errorf("%s: %d items leak a secret in all", where, leaks)
	}
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// random returns a distinctive credential-like string.
func random(prefix string) string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return prefix + "-" + base64.RawURLEncoding.EncodeToString(b)
}

// logLines are the lines written to a log buffer so far.
func logLines(b *sourcetest.LogBuffer) []string {
	return strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }
