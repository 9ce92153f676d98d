package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mizanhq/mizan/internal/cli"
	"github.com/mizanhq/mizan/internal/sources/registry"
)

func getenv(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

// config check prints every variable the command reads with secrets masked: no secret string reaches the
// output, whether the configuration is valid or not.
func TestConfigCheckMasksSecrets(t *testing.T) {
	t.Parallel()
	secrets := []string{"pw-in-the-url-42", "hunter2-sasl-password", "T00000000/B00000000/slack-secret-xyz",
		"the-secret-key-of-mizan-123", "vandar-access-tok-777", "vandar-refresh-tok-888"}
	sources := filepath.Join(t.TempDir(), "sources.yaml")
	if err := os.WriteFile(sources, []byte(`sources:
  - name: vandar-acme
    provider: vandar
    business: acme
    access_token_env: VANDAR_ACME_ACCESS_TOKEN
    refresh_token_env: VANDAR_ACME_REFRESH_TOKEN
    feeds: { statement: "@every 1m" }
`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"DATABASE_URL":              "postgres://mizan:" + secrets[0] + "@db.internal:5432/mizan",
		"KAFKA_BROKERS":             "kafka-0:9092,kafka-1:9092",
		"KAFKA_TLS":                 "true",
		"KAFKA_SASL_MECHANISM":      "SCRAM-SHA-512",
		"KAFKA_SASL_USERNAME":       "mizan",
		"KAFKA_SASL_PASSWORD":       secrets[1],
		"SLACK_WEBHOOK_URL":         "https://hooks.slack.com/services/" + secrets[2],
		"MIZAN_SECRET_KEY":          secrets[3],
		"MIZAN_SOURCES":             sources,
		"VANDAR_ACME_ACCESS_TOKEN":  secrets[4],
		"VANDAR_ACME_REFRESH_TOKEN": secrets[5],
		"MIZAN_STALE_AFTER":         "45m",
	}
	for _, program := range []string{"poller", "reconciler"} {
		var out bytes.Buffer
		if err := cli.CheckConfig(&out, program, getenv(env), registry.Providers()); err != nil {
			t.Errorf("%s config check: %v", program, err)
		}
		for _, s := range secrets {
			if strings.Contains(out.String(), s) {
				t.Errorf("%s config check prints the secret %q:\n%s", program, s, out.String())
			}
		}
		for _, want := range []string{"KAFKA_BROKERS", "kafka-0:9092,kafka-1:9092", "host=db.internal", "(set, masked)",
			"the configuration is valid"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%s config check does not show %q:\n%s", program, want, out.String())
			}
		}
	}
	var out bytes.Buffer
	_ = cli.CheckConfig(&out, "poller", getenv(env), registry.Providers())
	if !strings.Contains(out.String(), "vandar-acme") || !strings.Contains(out.String(), "statement @every 1m") {
		t.Errorf("poller config check does not show the sources file:\n%s", out.String())
	}
	out.Reset()
	_ = cli.CheckConfig(&out, "reconciler", getenv(env), registry.Providers())
	if !strings.Contains(out.String(), "MIZAN_STALE_AFTER") || !strings.Contains(out.String(), "45m") ||
		!strings.Contains(out.String(), "(not set: 2h)") {
		t.Errorf("reconciler config check does not show the checks' settings and defaults:\n%s", out.String())
	}
}

// An invalid configuration fails config check with every problem named, and still prints no secret.
func TestConfigCheckNamesEveryProblem(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"DATABASE_URL":           "postgres://u:leaky-pw@[::1",
		"KAFKA_SASL_MECHANISM":   "PLAIN",
		"KAFKA_SASL_PASSWORD":    "another-leaky-pw",
		"MIZAN_SETTLEMENT_GRACE": "two hours",
	}
	var out bytes.Buffer
	err := cli.CheckConfig(&out, "reconciler", getenv(env), registry.Providers())
	if err == nil {
		t.Fatal("config check accepted an invalid configuration")
	}
	for _, want := range []string{"KAFKA_BROKERS", "DATABASE_URL", "KAFKA_SASL_USERNAME", "MIZAN_SETTLEMENT_GRACE"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name %s: %v", want, err)
		}
	}
	for _, s := range []string{"leaky-pw", "another-leaky-pw"} {
		if strings.Contains(err.Error()+out.String(), s) {
			t.Errorf("config check shows %q: %v\n%s", s, err, out.String())
		}
	}
}

// The binary: exit 1 on an invalid configuration, naming it on stderr; exit 0 on a valid one.
func TestConfigCheckExitStatus(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds every command")
	}
	code, _, errOut := run(t, nil, "reconciler", "config", "check")
	if code != 1 || !strings.Contains(errOut, "DATABASE_URL, KAFKA_BROKERS must be set") {
		t.Errorf("reconciler config check with nothing set: exit %d, %q", code, errOut)
	}
	code, out, _ := run(t, []string{"DATABASE_URL=postgres://u:binary-secret@127.0.0.1:1/x", "KAFKA_BROKERS=127.0.0.1:1"},
		"reconciler", "config", "check")
	if code != 0 || strings.Contains(out, "binary-secret") {
		t.Errorf("reconciler config check: exit %d:\n%s", code, out)
	}
}
