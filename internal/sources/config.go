package sources

import (
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
)

// Block is one source's entry of the sources file as its provider sees it: its own fields, which the
// provider decodes, and the environment the secrets it names are read from. The fields common to every
// source (name, provider, feeds) are the configuration's, and not in the block.
type Block struct {
	// Decode decodes the provider's fields into v, a pointer to a struct whose fields carry `yaml` tags. A
	// field the struct does not declare is refused, naming it, so that a typo never silently disables
	// something; a value of the wrong type is refused naming its field.
	Decode func(v any) error
	// Getenv reads the environment.
	Getenv func(string) string
}

// Secret is a credential that must never reach a log, an error, an event or stdout: fmt and slog print it
// redacted. Reveal returns it for the one place that sends it.
type Secret string

// String redacts the secret so that %v and %s never print it.
func (Secret) String() string { return "[redacted]" }

// GoString redacts the secret for %#v.
func (Secret) GoString() string { return "[redacted]" }

// LogValue redacts the secret in structured logs.
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return string(s) }

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// EnvSecret reads the secret a sources-file field names by its environment variable (`access_token_env:
// VANDAR_ACME_ACCESS_TOKEN`): the field is required, must be a variable name, and the variable must be set.
// The error names the field and the variable, never the value.
func EnvSecret(getenv func(string) string, field, envName string) (Secret, error) {
	if envName == "" {
		return "", fmt.Errorf("field %s: required", field)
	}
	if !envNameRE.MatchString(envName) {
		return "", fmt.Errorf("field %s: %q is not an environment variable name", field, envName)
	}
	v := strings.TrimSpace(getenv(envName))
	if v == "" {
		return "", fmt.Errorf("field %s: environment variable %s is not set", field, envName)
	}
	return Secret(v), nil
}

// CheckURL refuses a base URL that is not http(s) with a host.
func CheckURL(field, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("field %s: %q is not an http(s) URL", field, raw)
	}
	return nil
}
