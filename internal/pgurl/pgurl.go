// Package pgurl edits and prints PostgreSQL connection URLs for the tools that create databases of their
// own (the tests' pgtest, the benchmark).
package pgurl

import (
	"errors"
	"net/url"
)

// WithDatabase returns the postgres:// URL u with its database replaced by name.
func WithDatabase(u, name string) (string, error) {
	parsed, err := url.Parse(u)
	if err != nil || (parsed.Scheme != "postgres" && parsed.Scheme != "postgresql") {
		return "", errors.New("not a postgres:// URL")
	}
	parsed.Path = "/" + name
	parsed.RawPath = ""
	return parsed.String(), nil
}

// Redact is u with its password hidden, for a log or an error.
func Redact(u string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return parsed.Redacted()
}
