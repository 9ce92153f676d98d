package config

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources"
)

// ReadSigningKeys reads the keys events are signed and verified with (docs/security.md), from
// MIZAN_SIGNING_KEYS or from the file MIZAN_SIGNING_KEYS_FILE names (a mounted Kubernetes Secret); exactly
// one of them must be set.
//
// The value is a list of "id:secret" entries separated by commas or newlines; in a file, blank lines and
// lines starting with '#' are ignored. The first entry is the active key, which the poller signs with; the
// reconciler accepts every entry. A rotation lists the new key first and the old one second, on both, until
// no event signed with the old key is left unread; then the old one goes. Ids are 1 to 64 letters, digits,
// '.', '_' or '-'; secrets at least events.MinSigningKeyLen bytes and without ',' or a newline.
//
// Errors name the variable and the entry's position or id, never a secret.
func ReadSigningKeys(getenv func(string) string) (events.Keyring, error) {
	inline, path := getenv("MIZAN_SIGNING_KEYS"), strings.TrimSpace(getenv("MIZAN_SIGNING_KEYS_FILE"))
	source := "MIZAN_SIGNING_KEYS"
	switch {
	case strings.TrimSpace(inline) != "" && path != "":
		return nil, errors.New("environment: MIZAN_SIGNING_KEYS and MIZAN_SIGNING_KEYS_FILE are both set: set one")
	case path != "":
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("environment: MIZAN_SIGNING_KEYS_FILE: %w", err)
		}
		inline, source = string(b), "MIZAN_SIGNING_KEYS_FILE "+path
	case strings.TrimSpace(inline) == "":
		return nil, errors.New("environment: MIZAN_SIGNING_KEYS or MIZAN_SIGNING_KEYS_FILE must be set " +
			`("id:secret", the active key first; docs/security.md)`)
	}
	var ring events.Keyring
	n := 0
	for _, line := range strings.Split(inline, "\n") {
		if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		for _, entry := range strings.Split(line, ",") {
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			n++
			id, secret, ok := strings.Cut(entry, ":")
			id = strings.TrimSpace(id)
			if !ok || id == "" {
				// The entry may be a bare secret: say where it is, not what it is.
				return nil, fmt.Errorf("environment: %s: entry %d is not id:secret", source, n)
			}
			k, err := events.NewSigningKey(id, []byte(strings.TrimSpace(secret)))
			if err != nil {
				return nil, fmt.Errorf("environment: %s: entry %d: %w", source, n, err)
			}
			for _, other := range ring {
				if other.ID() == id {
					return nil, fmt.Errorf("environment: %s: key id %s is listed twice", source, id)
				}
			}
			ring = append(ring, k)
		}
	}
	if len(ring) == 0 {
		return nil, fmt.Errorf("environment: %s lists no key", source)
	}
	return ring, nil
}

// LoadSourceList reads the sources file for the sources it lists — names, providers, accounts, feeds — but
// not their credentials: each source's Settings keeps only its account, and cannot open a Source. It is for a
// process that must know which provider accounts are configured without polling them (the reconciler
// registering the known sources): it needs none of the secrets the file names, and must not be given them.
// providers says which providers exist (each still checks its own fields).
func LoadSourceList(path string, providers sources.Registry) (Sources, error) {
	s, err := LoadSources(path, func(string) string { return "unused" }, providers)
	if err != nil {
		return Sources{}, err
	}
	for i := range s.Sources {
		s.Sources[i].Settings = listedOnly(s.Sources[i].Account())
	}
	return s, nil
}

// listedOnly is the Settings of a source read by LoadSourceList: its account, and no credentials.
type listedOnly string

// Account is the source's provider account.
func (a listedOnly) Account() string { return string(a) }

// Open refuses: a listed source has no credentials to poll with.
func (a listedOnly) Open(sources.Env) (sources.Source, error) {
	return nil, fmt.Errorf("source of account %s was read without its credentials (LoadSourceList)", string(a))
}
