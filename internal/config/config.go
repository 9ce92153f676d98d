// Package config reads mizan's configuration: the environment (12-factor, as Kubernetes passes it) and the
// sources file that lists which provider accounts to poll and when.
//
// Everything is checked at start-up, and every refusal names the source and the field, so that a bad deploy
// fails at once with a message an operator can act on instead of failing at the first cron tick. Secrets are
// read from the environment variables the sources file names and are never printed: Secret's String is
// redacted.
package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"github.com/mizanhq/mizan/internal/events"
)

// Env is the process environment mizan reads.
type Env struct {
	DatabaseURL  string   // DATABASE_URL: PostgreSQL connection string
	KafkaBrokers []string // KAFKA_BROKERS: comma-separated host:port list
	SourcesPath  string   // MIZAN_SOURCES: path of the sources file
	SecretKey    Secret   // MIZAN_SECRET_KEY: encrypts stored provider tokens (AES-256-GCM, key derived with HKDF)
	SlackWebhook Secret   // SLACK_WEBHOOK_URL: where alerts go (used by the alert dispatcher)
	TopicPrefix  string   // MIZAN_TOPIC_PREFIX: prepended to every topic name; "" in production
}

// Secret is a string that must never reach a log, an error or an event.
type Secret string

// String redacts the secret so that %v and %s never print it.
func (Secret) String() string { return "[redacted]" }

// GoString redacts the secret for %#v.
func (Secret) GoString() string { return "[redacted]" }

// Reveal returns the secret itself, for the one place that needs it.
func (s Secret) Reveal() string { return string(s) }

// ReadEnv reads the environment through getenv. need lists the variables the calling command cannot run
// without; they are refused when empty with one error naming all of them.
func ReadEnv(getenv func(string) string, need ...string) (Env, error) {
	e := Env{
		DatabaseURL:  getenv("DATABASE_URL"),
		SourcesPath:  getenv("MIZAN_SOURCES"),
		SecretKey:    Secret(getenv("MIZAN_SECRET_KEY")),
		SlackWebhook: Secret(getenv("SLACK_WEBHOOK_URL")),
		TopicPrefix:  getenv("MIZAN_TOPIC_PREFIX"),
	}
	for _, b := range strings.Split(getenv("KAFKA_BROKERS"), ",") {
		if b = strings.TrimSpace(b); b != "" {
			e.KafkaBrokers = append(e.KafkaBrokers, b)
		}
	}
	var missing []string
	for _, name := range need {
		if strings.TrimSpace(getenv(name)) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return e, fmt.Errorf("environment: %s must be set", strings.Join(missing, ", "))
	}
	if e.SecretKey != "" && len(e.SecretKey) < 16 {
		return e, errors.New("environment: MIZAN_SECRET_KEY must be at least 16 characters")
	}
	return e, nil
}

// Source is one provider account to poll: (provider, account) plus its feeds and credentials.
type Source struct {
	Name     string            // unique in the file; `poller once --source NAME`
	Provider string            // events.ProviderVandar or events.ProviderYabandPay
	Account  string            // Vandar business slug, or YabandPay user id
	APIURL   string            // provider API base URL
	BatchURL string            // Vandar batch-settlement base URL
	Feeds    map[string]string // feed → cron spec
	// Currencies are the YabandPay balance currencies to ask for.
	Currencies []string
	// Vandar credentials: the initial token pair from the dashboard. Once mizan has refreshed it, the stored,
	// encrypted pair wins (the refresh token rotates; the environment's copy goes stale).
	AccessToken  Secret
	RefreshToken Secret
	// YabandPay secret key for HMAC-SHA256 signing.
	SecretKey Secret
}

// Sources is the parsed sources file.
type Sources struct {
	Sources []Source
}

// Find returns the source called name.
func (s Sources) Find(name string) (Source, bool) {
	i := slices.IndexFunc(s.Sources, func(src Source) bool { return src.Name == name })
	if i < 0 {
		return Source{}, false
	}
	return s.Sources[i], true
}

// Defaults for provider URLs.
const (
	DefaultVandarAPIURL    = "https://api.vandar.io"
	DefaultVandarBatchURL  = "https://batch.vandar.io"
	DefaultYabandPayAPIURL = "https://mapi.yabandpay.com"
)

// feedsByProvider lists which feeds each provider has.
var feedsByProvider = map[string][]string{
	events.ProviderVandar:    {events.FeedStatement, events.FeedBalance, events.FeedSettlements, events.FeedBatches},
	events.ProviderYabandPay: {events.FeedBalance},
}

// fileSource is the YAML shape; unknown fields are refused so that a typo never silently disables something.
type fileSource struct {
	Name            string            `yaml:"name"`
	Provider        string            `yaml:"provider"`
	Business        string            `yaml:"business"`
	User            string            `yaml:"user"`
	APIURL          string            `yaml:"api_url"`
	BatchURL        string            `yaml:"batch_url"`
	AccessTokenEnv  string            `yaml:"access_token_env"`
	RefreshTokenEnv string            `yaml:"refresh_token_env"`
	SecretKeyEnv    string            `yaml:"secret_key_env"`
	Currencies      []string          `yaml:"currencies"`
	Feeds           map[string]string `yaml:"feeds"`
}

type file struct {
	Sources []fileSource `yaml:"sources"`
}

// LoadSources reads and checks the sources file at path.
func LoadSources(path string, getenv func(string) string) (Sources, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Sources{}, fmt.Errorf("sources file: %w", err)
	}
	s, err := ParseSources(b, getenv)
	if err != nil {
		return Sources{}, fmt.Errorf("sources file %s: %w", path, err)
	}
	return s, nil
}

var (
	slugRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)
	envNameRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
)

// ParseCron parses a cron spec the way the poller schedules it: five fields or a descriptor such as
// "@every 1m" or "@hourly".
func ParseCron(spec string) (cron.Schedule, error) { return cronParser.Parse(spec) }

// ParseSources parses and checks a sources file's contents.
func ParseSources(b []byte, getenv func(string) string) (Sources, error) {
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return Sources{}, errors.New("empty: it must list at least one source under `sources:`")
		}
		return Sources{}, fmt.Errorf("malformed YAML: %w", err)
	}
	// A second document would be silently ignored; a file that says more than one thing is refused.
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Sources{}, errors.New("malformed YAML: more than one document (---); the file must be one document")
	}
	if len(f.Sources) == 0 {
		return Sources{}, errors.New("no sources: it must list at least one source under `sources:`")
	}
	var out Sources
	seen := map[string]bool{}
	accounts := map[string]string{}
	for i, fs := range f.Sources {
		src, err := checkSource(fs, getenv)
		name := cmp.Or(fs.Name, fmt.Sprintf("#%d", i+1))
		if err != nil {
			return Sources{}, fmt.Errorf("source %s: %w", name, err)
		}
		if seen[src.Name] {
			return Sources{}, fmt.Errorf("source %s: field name: used by another source", name)
		}
		seen[src.Name] = true
		// Two sources polling one provider account would publish every fact twice under two names and fight
		// over one token pair.
		key := events.Key(src.Provider, src.Account)
		if other, ok := accounts[key]; ok {
			return Sources{}, fmt.Errorf("source %s: the same %s account %q as source %s", name, src.Provider, src.Account, other)
		}
		accounts[key] = src.Name
		out.Sources = append(out.Sources, src)
	}
	return out, nil
}

func checkSource(fs fileSource, getenv func(string) string) (Source, error) {
	src := Source{Name: fs.Name, Provider: fs.Provider, APIURL: fs.APIURL, BatchURL: fs.BatchURL, Feeds: fs.Feeds}
	if !slugRE.MatchString(fs.Name) {
		return src, fmt.Errorf("field name: %q must be lowercase letters, digits, '.', '_' or '-'", fs.Name)
	}
	feeds, ok := feedsByProvider[fs.Provider]
	if !ok {
		return src, fmt.Errorf("field provider: unknown provider %q (known: vandar, yabandpay)", fs.Provider)
	}
	if len(fs.Feeds) == 0 {
		return src, errors.New("field feeds: at least one feed with a cron schedule is required")
	}
	for feed, spec := range fs.Feeds {
		if !slices.Contains(feeds, feed) {
			return src, fmt.Errorf("field feeds.%s: %s has no feed %q (it has: %s)", feed, fs.Provider, feed,
				strings.Join(feeds, ", "))
		}
		if _, err := ParseCron(spec); err != nil {
			return src, fmt.Errorf("field feeds.%s: bad cron spec %q: %v", feed, spec, err)
		}
	}
	secret := func(field, envName string) (Secret, error) {
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
	var err error
	switch fs.Provider {
	case events.ProviderVandar:
		if fs.User != "" || fs.SecretKeyEnv != "" || len(fs.Currencies) > 0 {
			return src, errors.New("fields user, secret_key_env and currencies are for yabandpay sources")
		}
		if !slugRE.MatchString(fs.Business) {
			return src, fmt.Errorf("field business: %q is not a Vandar business slug", fs.Business)
		}
		src.Account = fs.Business
		src.APIURL = cmp.Or(src.APIURL, DefaultVandarAPIURL)
		src.BatchURL = cmp.Or(src.BatchURL, DefaultVandarBatchURL)
		if src.AccessToken, err = secret("access_token_env", fs.AccessTokenEnv); err != nil {
			return src, err
		}
		if src.RefreshToken, err = secret("refresh_token_env", fs.RefreshTokenEnv); err != nil {
			return src, err
		}
	case events.ProviderYabandPay:
		if fs.Business != "" || fs.AccessTokenEnv != "" || fs.RefreshTokenEnv != "" || fs.BatchURL != "" {
			return src, errors.New("fields business, access_token_env, refresh_token_env and batch_url are for vandar sources")
		}
		if fs.User == "" || strings.ContainsAny(fs.User, "/ \t") {
			return src, fmt.Errorf("field user: %q is not a YabandPay user id", fs.User)
		}
		src.Account = fs.User
		src.APIURL = cmp.Or(src.APIURL, DefaultYabandPayAPIURL)
		if len(fs.Currencies) == 0 {
			return src, errors.New("field currencies: at least one currency is required")
		}
		for _, c := range fs.Currencies {
			if !currencyRE.MatchString(c) {
				return src, fmt.Errorf("field currencies: %q is not an ISO 4217 code", c)
			}
		}
		src.Currencies = fs.Currencies
		if src.SecretKey, err = secret("secret_key_env", fs.SecretKeyEnv); err != nil {
			return src, err
		}
	}
	for field, raw := range map[string]string{"api_url": src.APIURL, "batch_url": src.BatchURL} {
		if raw == "" {
			continue
		}
		u, perr := url.Parse(raw)
		if perr != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return src, fmt.Errorf("field %s: %q is not an http(s) URL", field, raw)
		}
	}
	return src, nil
}
