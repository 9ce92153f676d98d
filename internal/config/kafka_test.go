package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mizanhq/mizan/internal/kafka"
)

// kafkaFiles are readable files for the variables that name one.
type kafkaFiles struct{ ca, cert, key, password string }

func writeKafkaFiles(t *testing.T) kafkaFiles {
	t.Helper()
	dir := t.TempDir()
	f := kafkaFiles{
		ca:       filepath.Join(dir, "ca.pem"),
		cert:     filepath.Join(dir, "client.pem"),
		key:      filepath.Join(dir, "client-key.pem"),
		password: filepath.Join(dir, "password"),
	}
	for path, content := range map[string]string{
		f.ca: "ca", f.cert: "cert", f.key: "key",
		// As `kubectl create secret --from-file` of an echoed file leaves it.
		f.password: "pw-from-file-Q7\n",
	} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestReadKafkaDefaults(t *testing.T) {
	t.Parallel()
	k, err := ReadKafka(envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := KafkaEnv{
		ClientID:       kafka.DefaultClientID,
		ConsumerGroup:  "mizan-reconciler",
		MaxBatch:       kafka.DefaultMaxBatch,
		MaxWait:        kafka.DefaultMaxWait,
		SessionTimeout: kafka.DefaultSessionTimeout,
	}
	if diff := cmp.Diff(want, k); diff != "" {
		t.Fatalf("defaults (-want +got):\n%s", diff)
	}
	cfg := k.Config(Env{KafkaBrokers: []string{"b1:9092"}, TopicPrefix: "p."})
	if diff := cmp.Diff(kafka.Config{Brokers: []string{"b1:9092"}, ClientID: "mizan", TopicPrefix: "p."}, cfg); diff != "" {
		t.Fatalf("kafka config of the defaults (-want +got):\n%s", diff)
	}
}

func TestReadKafkaReadsEverySetting(t *testing.T) {
	t.Parallel()
	f := writeKafkaFiles(t)
	for _, tc := range []struct {
		name string
		env  map[string]string
		want KafkaEnv
	}{
		{
			name: "mutual TLS with SCRAM and a password file, every consumer setting",
			env: map[string]string{
				"KAFKA_TLS": "true", "KAFKA_TLS_CA_FILE": f.ca, "KAFKA_TLS_CERT_FILE": f.cert,
				"KAFKA_TLS_KEY_FILE": f.key, "KAFKA_TLS_SERVER_NAME": "kafka.internal",
				"KAFKA_SASL_MECHANISM": "scram-sha-512", "KAFKA_SASL_USERNAME": " mizan ",
				"KAFKA_SASL_PASSWORD_FILE": f.password,
				"KAFKA_CLIENT_ID":          "mizan-poller", "MIZAN_CONSUMER_GROUP": "recon-eu",
				"KAFKA_MAX_BATCH": "500", "KAFKA_MAX_WAIT": "50ms", "KAFKA_SESSION_TIMEOUT": "30s",
			},
			want: KafkaEnv{
				TLS: true, TLSCAFile: f.ca, TLSCertFile: f.cert, TLSKeyFile: f.key, TLSServerName: "kafka.internal",
				SASLMechanism: kafka.SASLScramSHA512, SASLUsername: "mizan", SASLPassword: "pw-from-file-Q7",
				ClientID: "mizan-poller", ConsumerGroup: "recon-eu",
				MaxBatch: 500, MaxWait: 50 * time.Millisecond, SessionTimeout: 30 * time.Second,
			},
		},
		{
			name: "PLAIN over TLS with the system roots and a password in the environment",
			env: map[string]string{
				"KAFKA_TLS": "TRUE", "KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "key-id",
				"KAFKA_SASL_PASSWORD": "pw with spaces \n",
			},
			want: KafkaEnv{
				TLS: true, SASLMechanism: kafka.SASLPlain, SASLUsername: "key-id", SASLPassword: "pw with spaces ",
				ClientID: "mizan", ConsumerGroup: "mizan-reconciler",
				MaxBatch: 1000, MaxWait: 200 * time.Millisecond, SessionTimeout: 10 * time.Second,
			},
		},
		{
			name: "PLAIN without TLS when explicitly allowed",
			env: map[string]string{
				"KAFKA_TLS": "false", "KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "u",
				"KAFKA_SASL_PASSWORD": "p", "KAFKA_ALLOW_PLAINTEXT_SASL": "1",
			},
			want: KafkaEnv{
				SASLMechanism: kafka.SASLPlain, SASLUsername: "u", SASLPassword: "p", AllowPlaintextSASL: true,
				ClientID: "mizan", ConsumerGroup: "mizan-reconciler",
				MaxBatch: 1000, MaxWait: 200 * time.Millisecond, SessionTimeout: 10 * time.Second,
			},
		},
		{
			name: "SCRAM without TLS needs no permission",
			env: map[string]string{
				"KAFKA_SASL_MECHANISM": "SCRAM-SHA-256", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p",
			},
			want: KafkaEnv{
				SASLMechanism: kafka.SASLScramSHA256, SASLUsername: "u", SASLPassword: "p",
				ClientID: "mizan", ConsumerGroup: "mizan-reconciler",
				MaxBatch: 1000, MaxWait: 200 * time.Millisecond, SessionTimeout: 10 * time.Second,
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ReadKafka(envOf(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

// Config carries every setting into kafka.Config, password included, and the result is one the kafka package
// accepts.
func TestKafkaEnvConfigCarriesEverySetting(t *testing.T) {
	t.Parallel()
	f := writeKafkaFiles(t)
	k, err := ReadKafka(envOf(map[string]string{
		"KAFKA_TLS": "true", "KAFKA_TLS_CA_FILE": f.ca, "KAFKA_TLS_CERT_FILE": f.cert, "KAFKA_TLS_KEY_FILE": f.key,
		"KAFKA_TLS_SERVER_NAME": "kafka.internal", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
		"KAFKA_SASL_USERNAME": "mizan", "KAFKA_SASL_PASSWORD": "pw-1", "KAFKA_CLIENT_ID": "mizan-recon",
		"KAFKA_MAX_BATCH": "7", "KAFKA_MAX_WAIT": "1s", "KAFKA_SESSION_TIMEOUT": "6s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	got := k.Config(Env{KafkaBrokers: []string{"a:9093", "b:9093"}, TopicPrefix: "stage."})
	want := kafka.Config{
		Brokers: []string{"a:9093", "b:9093"}, ClientID: "mizan-recon", TopicPrefix: "stage.",
		Security: kafka.Security{
			TLS:  kafka.TLS{Enabled: true, CAFile: f.ca, CertFile: f.cert, KeyFile: f.key, ServerName: "kafka.internal"},
			SASL: kafka.SASL{Mechanism: kafka.SASLScramSHA256, Username: "mizan", Password: "pw-1"},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if got.Security.SASL.Password.Reveal() != "pw-1" {
		t.Fatal("password not carried over")
	}
	wantOpts := kafka.ConsumerOptions{MaxBatch: 7, MaxWait: time.Second, SessionTimeout: 6 * time.Second}
	if diff := cmp.Diff(wantOpts, k.ConsumerOptions()); diff != "" {
		t.Fatalf("consumer options (-want +got):\n%s", diff)
	}
}

// Every malformed or contradictory variable is refused with an error that names it, and never shows the
// password.
func TestReadKafkaRefusesNamingTheVariable(t *testing.T) {
	t.Parallel()
	f := writeKafkaFiles(t)
	const password = "pw-must-not-show-31"
	missing := filepath.Join(t.TempDir(), "missing")
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	scram := map[string]string{"KAFKA_SASL_MECHANISM": "SCRAM-SHA-256", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": password}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string // every one must be in the error
	}{
		{"KAFKA_TLS that is not a boolean", with(nil, "KAFKA_TLS", "yes please"), []string{"KAFKA_TLS", "yes please"}},
		{"KAFKA_ALLOW_PLAINTEXT_SASL that is not a boolean", with(nil, "KAFKA_ALLOW_PLAINTEXT_SASL", "maybe"), []string{"KAFKA_ALLOW_PLAINTEXT_SASL"}},
		{"a CA file without KAFKA_TLS", with(nil, "KAFKA_TLS_CA_FILE", f.ca), []string{"KAFKA_TLS_CA_FILE", "KAFKA_TLS=true"}},
		{"a server name without KAFKA_TLS", with(nil, "KAFKA_TLS", "false", "KAFKA_TLS_SERVER_NAME", "k"), []string{"KAFKA_TLS_SERVER_NAME"}},
		{"a missing CA file", with(nil, "KAFKA_TLS", "true", "KAFKA_TLS_CA_FILE", missing), []string{"KAFKA_TLS_CA_FILE", missing}},
		{"a certificate without its key", with(nil, "KAFKA_TLS", "true", "KAFKA_TLS_CERT_FILE", f.cert), []string{"KAFKA_TLS_CERT_FILE", "KAFKA_TLS_KEY_FILE"}},
		{"a missing key file", with(nil, "KAFKA_TLS", "true", "KAFKA_TLS_CERT_FILE", f.cert, "KAFKA_TLS_KEY_FILE", missing), []string{"KAFKA_TLS_KEY_FILE"}},
		{"an unknown mechanism", with(scram, "KAFKA_SASL_MECHANISM", "GSSAPI"), []string{"KAFKA_SASL_MECHANISM", "GSSAPI"}},
		{"a mechanism without a username", with(scram, "KAFKA_SASL_USERNAME", ""), []string{"KAFKA_SASL_USERNAME"}},
		{"a mechanism without a password", with(scram, "KAFKA_SASL_PASSWORD", ""), []string{"KAFKA_SASL_PASSWORD", "KAFKA_SASL_PASSWORD_FILE"}},
		{"a password and a password file", with(scram, "KAFKA_SASL_PASSWORD_FILE", f.password), []string{"KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE"}},
		{"a missing password file", with(scram, "KAFKA_SASL_PASSWORD", "", "KAFKA_SASL_PASSWORD_FILE", missing), []string{"KAFKA_SASL_PASSWORD_FILE", missing}},
		{"an empty password file", with(scram, "KAFKA_SASL_PASSWORD", "", "KAFKA_SASL_PASSWORD_FILE", empty), []string{"KAFKA_SASL_PASSWORD_FILE", "empty"}},
		{"credentials without a mechanism", with(scram, "KAFKA_SASL_MECHANISM", ""), []string{"KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD is set", "KAFKA_SASL_MECHANISM"}},
		{"PLAIN without TLS", with(scram, "KAFKA_SASL_MECHANISM", "plain"), []string{"KAFKA_SASL_MECHANISM=PLAIN", "KAFKA_TLS=true", "KAFKA_ALLOW_PLAINTEXT_SASL=true"}},
		{"a client id with a space", with(nil, "KAFKA_CLIENT_ID", "mizan poller"), []string{"KAFKA_CLIENT_ID", "mizan poller"}},
		{"a batch size that is not a number", with(nil, "KAFKA_MAX_BATCH", "lots"), []string{"KAFKA_MAX_BATCH", "lots"}},
		{"a batch size of zero", with(nil, "KAFKA_MAX_BATCH", "0"), []string{"KAFKA_MAX_BATCH"}},
		{"a batch size too big to queue", with(nil, "KAFKA_MAX_BATCH", "10000000"), []string{"KAFKA_MAX_BATCH"}},
		{"a wait without a unit", with(nil, "KAFKA_MAX_WAIT", "200"), []string{"KAFKA_MAX_WAIT", `"200"`}},
		{"a negative wait", with(nil, "KAFKA_MAX_WAIT", "-1s"), []string{"KAFKA_MAX_WAIT"}},
		{"a session timeout under a second", with(nil, "KAFKA_SESSION_TIMEOUT", "500ms"), []string{"KAFKA_SESSION_TIMEOUT"}},
		{"several mistakes at once, each named", with(nil, "KAFKA_MAX_BATCH", "x", "KAFKA_MAX_WAIT", "y", "KAFKA_TLS", "z"), []string{"KAFKA_MAX_BATCH", "KAFKA_MAX_WAIT", "KAFKA_TLS:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k, err := ReadKafka(envOf(tc.env))
			if err == nil {
				t.Fatalf("accepted: %+v", k)
			}
			t.Logf("as expected: %v", err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not name %q: %v", w, err)
				}
			}
			for _, out := range []string{err.Error(), fmt.Sprintf("%v", k), fmt.Sprintf("%+v", k), fmt.Sprintf("%#v", k)} {
				if strings.Contains(out, password) {
					t.Errorf("password shown: %s", out)
				}
			}
		})
	}
}

// The password, from the environment or a file, is never shown by %v, %+v, %s or %#v of what ReadKafka
// returns, nor of the kafka.Config made from it.
func TestReadKafkaPasswordNeverPrints(t *testing.T) {
	t.Parallel()
	f := writeKafkaFiles(t)
	for _, env := range []map[string]string{
		{"KAFKA_TLS": "true", "KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "pw-env-5512"},
		{"KAFKA_TLS": "true", "KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD_FILE": f.password},
	} {
		k, err := ReadKafka(envOf(env))
		if err != nil {
			t.Fatal(err)
		}
		cfg := k.Config(Env{KafkaBrokers: []string{"b:9093"}})
		for _, verb := range []string{"%v", "%+v", "%s", "%#v"} {
			for _, out := range []string{fmt.Sprintf(verb, k), fmt.Sprintf(verb, cfg)} {
				if strings.Contains(out, "pw-env-5512") || strings.Contains(out, "pw-from-file-Q7") {
					t.Errorf("%s shows the password: %s", verb, out)
				}
			}
		}
	}
}
