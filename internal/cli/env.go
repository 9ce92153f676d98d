package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// Var is an environment variable one of mizan's programs reads. The table below is the one list: every
// program's help prints its part of it, `config check` walks it, and a test holds the README's configuration
// table and the code's getenv calls to it.
type Var struct {
	Name string
	// Scope lists who reads it: a program ("poller", "demo") for all of its subcommands, or a program and a
	// subcommand ("reconciler run"); "tests" for `make test`.
	Scope []string
	// Default is what an unset variable means, in words ("" when it must be set or has no default).
	Default string
	// Meaning says what it is for.
	Meaning string
	// Secret marks a value that is never printed, not even by `config check`.
	Secret bool
}

// Scopes used more than once.
var (
	both = []string{"poller", "reconciler migrate", "reconciler run", "reconciler topics", "reconciler config",
		"reconciler dlq"}
	kafkaAll = []string{"poller", "reconciler run", "reconciler topics", "reconciler config"}
	consumer = []string{"reconciler run", "reconciler config"}
	running  = []string{"poller", "reconciler run", "reconciler config", "reconciler dlq"}
	// replay: what `reconciler dlq replay` reads besides, to apply a dead letter as `run` would.
	replay = []string{"reconciler run", "reconciler config", "reconciler dlq"}
)

var vars = []Var{
	{Name: "DATABASE_URL", Scope: append(slices.Clip(both), "demo", "bench"),
		Meaning: "PostgreSQL connection string, a URL or key=value pairs (demo and bench: the server they make " +
			"their own databases on)"},
	{Name: "KAFKA_BROKERS", Scope: append(slices.Clip(kafkaAll), "tests"),
		Meaning: "comma-separated host:port bootstrap list (tests: a real cluster instead of the in-process broker)"},
	{Name: "MIZAN_SOURCES", Scope: []string{"poller"}, Meaning: "path of the sources file (YAML) listing what to poll"},
	{Name: "MIZAN_SECRET_KEY", Scope: []string{"poller"}, Secret: true,
		Meaning: "at least 16 characters; encrypts the stored provider tokens (AES-256-GCM, HKDF-SHA256)"},
	{Name: "MIZAN_SIGNING_KEYS", Scope: append(slices.Clip(running), "demo"), Secret: true,
		Meaning: "id:secret keys (comma or newline separated, active first): the poller signs with the first, " +
			"the reconciler accepts any (docs/security.md)"},
	{Name: "MIZAN_SIGNING_KEYS_FILE", Scope: running, Meaning: "a file holding MIZAN_SIGNING_KEYS (a mounted secret)"},
	{Name: "SLACK_WEBHOOK_URL", Scope: consumer, Secret: true, Default: "alerts are recorded but not sent",
		Meaning: "Slack incoming webhook for alerts"},
	{Name: "MIZAN_TOPIC_PREFIX", Scope: kafkaAll, Default: "none", Meaning: "prefix for every topic name"},
	{Name: "MIZAN_CONSUMER_GROUP", Scope: replay, Default: "mizan-reconciler", Meaning: "the reconciler's consumer group id"},
	{Name: "MIZAN_LOG_LEVEL", Scope: both, Default: "info", Meaning: "debug, info, warn or error; logs are JSON on stderr"},
	{Name: "KAFKA_TLS", Scope: kafkaAll, Default: "false", Meaning: "true: TLS to the brokers"},
	{Name: "KAFKA_TLS_CA_FILE", Scope: kafkaAll, Default: "the system's roots", Meaning: "PEM file of the CAs that sign the brokers' certificates"},
	{Name: "KAFKA_TLS_CERT_FILE", Scope: kafkaAll, Default: "none", Meaning: "client certificate for mutual TLS (with KAFKA_TLS_KEY_FILE)"},
	{Name: "KAFKA_TLS_KEY_FILE", Scope: kafkaAll, Default: "none", Meaning: "client key for mutual TLS (with KAFKA_TLS_CERT_FILE)"},
	{Name: "KAFKA_TLS_SERVER_NAME", Scope: kafkaAll, Default: "each broker's host", Meaning: "host name the brokers' certificates must carry"},
	{Name: "KAFKA_SASL_MECHANISM", Scope: kafkaAll, Default: "no SASL", Meaning: "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"},
	{Name: "KAFKA_SASL_USERNAME", Scope: kafkaAll, Meaning: "SASL user"},
	{Name: "KAFKA_SASL_PASSWORD", Scope: kafkaAll, Secret: true, Meaning: "SASL password (or KAFKA_SASL_PASSWORD_FILE)"},
	{Name: "KAFKA_SASL_PASSWORD_FILE", Scope: kafkaAll, Meaning: "file holding the SASL password (a mounted secret)"},
	{Name: "KAFKA_ALLOW_PLAINTEXT_SASL", Scope: kafkaAll, Default: "false", Meaning: "true: accept SASL PLAIN without TLS (the password in clear text)"},
	{Name: "KAFKA_CLIENT_ID", Scope: kafkaAll, Default: "mizan", Meaning: "client id the brokers see"},
	{Name: "KAFKA_MAX_BATCH", Scope: consumer, Default: "1000", Meaning: "most messages applied in one transaction"},
	{Name: "KAFKA_MAX_WAIT", Scope: consumer, Default: "200ms", Meaning: "how long a batch keeps filling after its first message"},
	{Name: "KAFKA_SESSION_TIMEOUT", Scope: consumer, Default: "10s", Meaning: "consumer group session timeout"},
	{Name: "MIZAN_APPLY_WORKERS", Scope: consumer, Default: "the number of CPUs, at least 2",
		Meaning: "batch parts applied at once (1 to 64), each in its own transaction; one key's messages stay in order"},
	{Name: "MIZAN_STALL_AFTER", Scope: consumer, Default: "2m",
		Meaning: "a failure (or lag with nothing applied) this long fails /readyz and raises a stalled alert"},
	{Name: "MIZAN_HTTP_ADDR", Scope: running, Default: ":8080 for poller run and reconciler run, none for one-shot runs",
		Meaning: "where /metrics, /healthz and /readyz are served; off: nowhere"},
	{Name: "MIZAN_PUSHGATEWAY_URL", Scope: []string{"poller once", "poller config"}, Default: "no push",
		Meaning: "Prometheus Pushgateway (http[s]://[user:password@]host:port) that poller once pushes its metrics to " +
			"when it ends, as job mizan-poller (docs/operations.md#observability)"},
	{Name: "MIZAN_SETTLE_DELAY", Scope: []string{"poller"}, Default: "10s", Meaning: "items newer than this are left for the next poll"},
	{Name: "MIZAN_BALANCE_TOLERANCE", Scope: replay, Default: "0", Meaning: "balance difference the balance check accepts"},
	{Name: "MIZAN_SETTLEMENT_GRACE", Scope: replay, Default: "2h", Meaning: "how long past its prediction a settlement may take"},
	{Name: "MIZAN_STALE_AFTER", Scope: replay, Default: "30m", Meaning: "a source with no complete poll for this long is stale"},
	{Name: "MIZAN_YABANDPAY_MAX_FALL", Scope: replay, Default: "0", Meaning: "how far YabandPay's available balance may fall unexplained"},
	{Name: "MIZAN_CHECK_INTERVAL", Scope: replay, Default: "1m", Meaning: "how often the time-driven checks run"},
	{Name: "MIZAN_EXPECTATION_KEYS", Scope: replay, Default: "none: expectations believed unsigned",
		Meaning: "id=base64 Ed25519 public keys (comma-separated) the business signs expectations with; set, an " +
			"expectation without a valid signature by one of them is dead-lettered as untrusted (docs/matching.md)"},
	{Name: "MIZAN_MATCHING_FILE", Scope: []string{"reconciler run", "reconciler config", "reconciler expect"},
		Default: "every rule and grace at its default", Meaning: "YAML file of the matching rules, tolerances and graces per source (docs/matching.md)"},
	{Name: "MIZAN_BANK_WINDOW_DAYS", Scope: replay, Default: "2",
		Meaning: "business days a payout's credit may take to show on the bank statement"},
	{Name: "MIZAN_BANK_WEEKEND", Scope: replay, Default: "fri", Meaning: "days the banks do not work (comma-separated: fri,sat; none)"},
	{Name: "MIZAN_BANK_HOLIDAYS_FILE", Scope: replay, Default: "Iran's fixed public holidays only",
		Meaning: "bank holidays to add, one date a line (docs/sources.md, bankstatement)"},
	{Name: "MIZAN_BANK_TIME_ZONE", Scope: replay, Default: "Asia/Tehran", Meaning: "the banks' time zone: which day a payout was paid on"},
	{Name: "MIZAN_BANK_PAYOUT_PATTERN", Scope: replay, Default: "settlement|payout|تسویه",
		Meaning: "regular expression: a bank credit whose description matches looks like a provider's payout"},
	{Name: "MIZAN_BANK_STATEMENT_MAX_AGE", Scope: replay, Default: "96h",
		Meaning: "a followed bank account with no statement reaching further for this long is a warning"},
	{Name: "TEST_DATABASE_URL", Scope: []string{"tests", "bench"}, Default: "the local server, else one mizan starts",
		Meaning: "PostgreSQL where tests create their databases (the role needs CREATEDB)"},
	{Name: "MIZAN_PG", Scope: []string{"demo", "tests"}, Default: "auto",
		Meaning: "where a local PostgreSQL comes from: url, local, initdb or embedded (auto: in that order)"},
	{Name: "MIZAN_KAFKA_VERSION", Scope: []string{"chaos", "tests"}, Default: "the release internal/kafka/apachekafka names",
		Meaning: "the Apache Kafka release that make kafka, make test-kafka and chaos --broker real run (docs/kafka.md)"},
	// Not listed, being no program's configuration: MIZAN_TEST_PAUSE_AT and MIZAN_TEST_PAUSE_DIR arm the test
	// points of internal/testpoint in the tests' and the fault suite's processes only, and MIZAN_KAFKA_DIR is
	// scripts/kafka.sh's (the --dir of `chaos kafka`).
}

// Vars returns the environment variables that program (and, if not "", its subcommand) reads, in the
// table's order. Without a subcommand every variable any of its subcommands reads is listed.
func Vars(program, sub string) []Var {
	var out []Var
	for _, v := range vars {
		if slices.ContainsFunc(v.Scope, func(s string) bool { return inScope(s, program, sub) }) {
			out = append(out, v)
		}
	}
	return out
}

// AllVars returns the whole table.
func AllVars() []Var { return slices.Clone(vars) }

func inScope(scope, program, sub string) bool {
	p, s, _ := strings.Cut(scope, " ")
	if p != program {
		return false
	}
	if s == "" || sub == "" {
		return true
	}
	first, _, _ := strings.Cut(sub, " ")
	return s == first
}

// writeVars prints the environment section of a help text.
func writeVars(w io.Writer, program, sub string) {
	vs := Vars(program, sub)
	if len(vs) == 0 {
		fmt.Fprintln(w, "\nenvironment: none")
		return
	}
	fmt.Fprintln(w, "\nenvironment:")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, v := range vs {
		meaning := v.Meaning
		if v.Default != "" {
			meaning += " (default: " + v.Default + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", v.Name, meaning)
	}
	tw.Flush()
}
