package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mizanhq/mizan/internal/sources"
	"github.com/mizanhq/mizan/internal/sources/registry"
)

func TestSigningKeysAreReadFromTheEnvironmentOrAFile(t *testing.T) {
	t.Parallel()
	a, b := strings.Repeat("a", 32), strings.Repeat("b", 40)
	file := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(file, []byte("# rotated 2026-12-01\n2026-12:"+b+"\n\n2026-11:"+a+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, env := range map[string]map[string]string{
		"inline":                    {"MIZAN_SIGNING_KEYS": "2026-12:" + b + ", 2026-11:" + a},
		"a file, one key a line":    {"MIZAN_SIGNING_KEYS_FILE": file},
		"inline, newline-separated": {"MIZAN_SIGNING_KEYS": "2026-12:" + b + "\n2026-11:" + a + "\n"},
	} {
		ring, err := ReadSigningKeys(getenv(env))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(ring) != 2 || ring[0].ID() != "2026-12" || ring[1].ID() != "2026-11" {
			t.Errorf("%s: keys %v, want 2026-12 (active) then 2026-11", name, ring)
		}
	}
}

func TestBadSigningKeysAreRefusedWithoutShowingASecret(t *testing.T) {
	t.Parallel()
	secret := "s3cr3t-" + strings.Repeat("x", 30)
	for name, env := range map[string]map[string]string{
		"nothing set":             {},
		"both set":                {"MIZAN_SIGNING_KEYS": "k:" + secret, "MIZAN_SIGNING_KEYS_FILE": "/x"},
		"a secret without its id": {"MIZAN_SIGNING_KEYS": secret},
		"an empty id":             {"MIZAN_SIGNING_KEYS": ":" + secret},
		"a short secret":          {"MIZAN_SIGNING_KEYS": "k:s3cr3t-short"},
		"an id with a space":      {"MIZAN_SIGNING_KEYS": "my key:" + secret},
		"one id twice":            {"MIZAN_SIGNING_KEYS": "k:" + secret + ",k:" + secret + "2"},
		"only separators":         {"MIZAN_SIGNING_KEYS": " , ,"},
		"a missing file":          {"MIZAN_SIGNING_KEYS_FILE": filepath.Join(t.TempDir(), "none")},
	} {
		_, err := ReadSigningKeys(getenv(env))
		switch {
		case err == nil:
			t.Errorf("%s: accepted", name)
		case strings.Contains(err.Error(), "s3cr3t"):
			t.Errorf("%s: the error shows the secret: %v", name, err)
		case !strings.Contains(err.Error(), "MIZAN_SIGNING_KEYS"):
			t.Errorf("%s: the error does not name the variable: %v", name, err)
		}
	}
}

func TestTheSourceListNeedsNoCredentials(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sources.yaml")
	if err := os.WriteFile(path, []byte(goodFile), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := LoadSourceList(path, registry.Providers())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Sources) != 2 || s.Sources[0].Account() != "acme" || s.Sources[1].Account() != "036870" {
		t.Fatalf("sources %+v", s.Sources)
	}
	for _, src := range s.Sources {
		if _, ok := src.Settings.(listedOnly); !ok {
			t.Errorf("source %s keeps its provider's settings (and credentials): %T", src.Name, src.Settings)
		}
		if _, err := src.Settings.Open(sources.Env{}); err == nil {
			t.Errorf("source %s can be opened without credentials", src.Name)
		}
	}
}
