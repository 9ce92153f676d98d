package config

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mizanhq/mizan/internal/kafka"
)

// The arrow between config and kafka points from config to kafka: internal/kafka has its own Security type and
// knows nothing of the environment, and this file reads the environment into plain values (KafkaEnv) and turns
// them into a kafka.Config (KafkaEnv.Config). internal/kafka must therefore never import this package.

// KafkaEnv is how the Kafka clients are set up, read from the environment by ReadKafka: security, client id
// and the reconciler's consumer settings. The brokers and the topic prefix are in Env (KAFKA_BROKERS,
// MIZAN_TOPIC_PREFIX). Printing a KafkaEnv with %v, %+v, %s or %#v never shows the password.
type KafkaEnv struct {
	// TLS turns TLS on (KAFKA_TLS: true or false). Default false.
	TLS bool
	// TLSCAFile is a PEM file of the CAs that sign the brokers' certificates (KAFKA_TLS_CA_FILE). Default "":
	// the system's roots.
	TLSCAFile string
	// TLSCertFile and TLSKeyFile are a client certificate and key for mutual TLS (KAFKA_TLS_CERT_FILE,
	// KAFKA_TLS_KEY_FILE). Both or neither; default neither.
	TLSCertFile string
	TLSKeyFile  string
	// TLSServerName overrides the host name the brokers' certificates must carry (KAFKA_TLS_SERVER_NAME).
	// Default "": each broker's own host.
	TLSServerName string

	// SASLMechanism is "", kafka.SASLPlain, kafka.SASLScramSHA256 or kafka.SASLScramSHA512
	// (KAFKA_SASL_MECHANISM, any case). Default "": no SASL.
	SASLMechanism string
	// SASLUsername is the SASL user (KAFKA_SASL_USERNAME). Required with a mechanism.
	SASLUsername string
	// SASLPassword is the SASL password, from KAFKA_SASL_PASSWORD or from the file KAFKA_SASL_PASSWORD_FILE
	// names (a mounted Kubernetes secret); one of them is required with a mechanism. Trailing newlines are
	// dropped: `echo pw > file` and `kubectl create secret --from-file` leave one.
	SASLPassword Secret
	// AllowPlaintextSASL accepts SASL PLAIN without TLS, which sends the password in clear text
	// (KAFKA_ALLOW_PLAINTEXT_SASL: true or false). Default false.
	AllowPlaintextSASL bool

	// ClientID names this process to the brokers (KAFKA_CLIENT_ID: letters, digits, '.', '_', '-').
	// Default kafka.DefaultClientID ("mizan").
	ClientID string

	// ConsumerGroup is the reconciler's consumer group (MIZAN_CONSUMER_GROUP). Default "mizan-reconciler".
	ConsumerGroup string
	// MaxBatch is the most messages the reconciler applies in one transaction (KAFKA_MAX_BATCH, 1 to
	// 100000). Default kafka.DefaultMaxBatch (1000).
	MaxBatch int
	// MaxWait is how long a batch keeps filling after its first message (KAFKA_MAX_WAIT, a Go duration such
	// as 200ms). Default kafka.DefaultMaxWait (200ms).
	MaxWait time.Duration
	// SessionTimeout is how long the group waits for a silent member before giving its partitions away
	// (KAFKA_SESSION_TIMEOUT, a Go duration, at least 1s; brokers usually refuse less than 6s). Default
	// kafka.DefaultSessionTimeout (10s).
	SessionTimeout time.Duration
}

// Defaults of KafkaEnv that are not kafka's own.
const (
	DefaultConsumerGroup = "mizan-reconciler"
	maxMaxBatch          = 100_000 // the reader queues a whole batch; more than this is a typo, not a tuning
)

// clientIDRE is what Kafka accepts in quota and log names without escaping.
var clientIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,255}$`)

// ReadKafka reads KafkaEnv from the environment through getenv. Every malformed or contradictory variable is
// reported, each error naming its variable; a password never appears in an error. The files the TLS
// variables name must be readable now, so that a bad mount fails at start-up; the password file is read now.
func ReadKafka(getenv func(string) string) (KafkaEnv, error) {
	get := func(name string) string { return strings.TrimSpace(getenv(name)) }
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	boolean := func(name string) bool {
		v := get(name)
		if v == "" {
			return false
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			fail("%s: %q is not true or false", name, v)
		}
		return b
	}
	duration := func(name string, def, least time.Duration) time.Duration {
		v := get(name)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < least {
			fail("%s: %q is not a duration of at least %s (such as %s)", name, v, least, def)
			return def
		}
		return d
	}
	readable := func(name, path string) {
		if path == "" {
			return
		}
		f, err := os.Open(path)
		if err != nil {
			fail("%s: %w", name, err)
			return
		}
		_ = f.Close()
	}

	k := KafkaEnv{
		TLS:                boolean("KAFKA_TLS"),
		TLSCAFile:          get("KAFKA_TLS_CA_FILE"),
		TLSCertFile:        get("KAFKA_TLS_CERT_FILE"),
		TLSKeyFile:         get("KAFKA_TLS_KEY_FILE"),
		TLSServerName:      get("KAFKA_TLS_SERVER_NAME"),
		SASLMechanism:      strings.ToUpper(get("KAFKA_SASL_MECHANISM")),
		SASLUsername:       get("KAFKA_SASL_USERNAME"),
		AllowPlaintextSASL: boolean("KAFKA_ALLOW_PLAINTEXT_SASL"),
		ClientID:           cmp.Or(get("KAFKA_CLIENT_ID"), kafka.DefaultClientID),
		ConsumerGroup:      cmp.Or(get("MIZAN_CONSUMER_GROUP"), DefaultConsumerGroup),
		MaxWait:            duration("KAFKA_MAX_WAIT", kafka.DefaultMaxWait, time.Millisecond),
		SessionTimeout:     duration("KAFKA_SESSION_TIMEOUT", kafka.DefaultSessionTimeout, time.Second),
		MaxBatch:           kafka.DefaultMaxBatch,
	}

	// TLS.
	if !k.TLS {
		for _, name := range []string{"KAFKA_TLS_CA_FILE", "KAFKA_TLS_CERT_FILE", "KAFKA_TLS_KEY_FILE", "KAFKA_TLS_SERVER_NAME"} {
			if get(name) != "" {
				fail("%s is set but KAFKA_TLS is not true: set KAFKA_TLS=true, or unset %s", name, name)
			}
		}
	}
	if (k.TLSCertFile == "") != (k.TLSKeyFile == "") {
		fail("KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE go together: set both or neither")
	}
	readable("KAFKA_TLS_CA_FILE", k.TLSCAFile)
	readable("KAFKA_TLS_CERT_FILE", k.TLSCertFile)
	readable("KAFKA_TLS_KEY_FILE", k.TLSKeyFile)

	// SASL. The password is read before the checks that need it, and never quoted by them.
	password, passwordFile := trimNewlines(getenv("KAFKA_SASL_PASSWORD")), get("KAFKA_SASL_PASSWORD_FILE")
	switch {
	case password != "" && passwordFile != "":
		fail("KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE are both set: set one")
	case passwordFile != "":
		b, err := os.ReadFile(passwordFile)
		switch {
		case err != nil:
			fail("KAFKA_SASL_PASSWORD_FILE: %w", err)
		case trimNewlines(string(b)) == "":
			fail("KAFKA_SASL_PASSWORD_FILE: %s is empty", passwordFile)
		default:
			password = trimNewlines(string(b))
		}
	}
	k.SASLPassword = Secret(password)
	switch k.SASLMechanism {
	case "":
		for _, name := range []string{"KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD", "KAFKA_SASL_PASSWORD_FILE"} {
			if get(name) != "" {
				fail("%s is set but KAFKA_SASL_MECHANISM is not: set it to %s, %s or %s", name,
					kafka.SASLPlain, kafka.SASLScramSHA256, kafka.SASLScramSHA512)
			}
		}
	case kafka.SASLPlain, kafka.SASLScramSHA256, kafka.SASLScramSHA512:
		if k.SASLUsername == "" {
			fail("KAFKA_SASL_USERNAME must be set with KAFKA_SASL_MECHANISM=%s", k.SASLMechanism)
		}
		if password == "" && passwordFile == "" {
			fail("KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE must be set with KAFKA_SASL_MECHANISM=%s",
				k.SASLMechanism)
		}
		if k.SASLMechanism == kafka.SASLPlain && !k.TLS && !k.AllowPlaintextSASL {
			fail("KAFKA_SASL_MECHANISM=PLAIN without KAFKA_TLS=true would send the password in clear text: " +
				"set KAFKA_TLS=true, or KAFKA_ALLOW_PLAINTEXT_SASL=true to accept that")
		}
	default:
		fail("KAFKA_SASL_MECHANISM: %q is not one of %s, %s, %s", get("KAFKA_SASL_MECHANISM"),
			kafka.SASLPlain, kafka.SASLScramSHA256, kafka.SASLScramSHA512)
	}

	// Client and consumer.
	if !clientIDRE.MatchString(k.ClientID) {
		fail("KAFKA_CLIENT_ID: %q may hold only letters, digits, '.', '_' and '-'", k.ClientID)
	}
	if v := get("KAFKA_MAX_BATCH"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxMaxBatch {
			fail("KAFKA_MAX_BATCH: %q is not a whole number from 1 to %d", v, maxMaxBatch)
		} else {
			k.MaxBatch = n
		}
	}

	if err := errors.Join(errs...); err != nil {
		return k, fmt.Errorf("environment: %w", err)
	}
	return k, nil
}

// trimNewlines drops the line ends a secret file or an echoed value usually carries; other spaces may be part
// of a password and are kept.
func trimNewlines(s string) string { return strings.TrimRight(s, "\r\n") }

// Config returns the kafka.Config for env's brokers and topic prefix with these settings. The caller adds
// what the environment does not say, such as Config.Logger.
func (k KafkaEnv) Config(env Env) kafka.Config {
	return kafka.Config{
		Brokers:     env.KafkaBrokers,
		ClientID:    k.ClientID,
		TopicPrefix: env.TopicPrefix,
		Security: kafka.Security{
			TLS: kafka.TLS{
				Enabled:    k.TLS,
				CAFile:     k.TLSCAFile,
				CertFile:   k.TLSCertFile,
				KeyFile:    k.TLSKeyFile,
				ServerName: k.TLSServerName,
			},
			SASL: kafka.SASL{
				Mechanism: k.SASLMechanism,
				Username:  k.SASLUsername,
				Password:  kafka.Password(k.SASLPassword.Reveal()),
			},
			AllowPlaintextSASL: k.AllowPlaintextSASL,
		},
	}
}

// ConsumerOptions returns the reconciler's consumer options. The group is ConsumerGroup.
func (k KafkaEnv) ConsumerOptions() kafka.ConsumerOptions {
	return kafka.ConsumerOptions{MaxBatch: k.MaxBatch, MaxWait: k.MaxWait, SessionTimeout: k.SessionTimeout}
}
