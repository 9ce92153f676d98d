// Package config reads mizan's configuration: the environment (12-factor, as Kubernetes passes it) and the
// sources file that lists which provider accounts to poll and when.
//
// Everything is checked at start-up, and every refusal names the source and the field, so that a bad deploy
// fails at once with a message an operator can act on instead of failing at the first cron tick. The
// sources file's fields common to every source (name, provider, feeds) are checked here; the rest of each
// source is its provider's to decode and check (sources.Provider.Configure), strictly: a field the provider
// does not have is refused. Secrets are read from the environment variables the sources file names and are
// never printed: Secret's String is redacted.
package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources"
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

// Secret is a string that must never reach a log, an error, an event or stdout: sources.Secret, which prints
// redacted.
type Secret = sources.Secret

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

// Source is one provider account to poll: its name, provider and feeds, and what its provider read from its
// own fields.
type Source struct {
	Name     string            // unique in the file; `poller once --source NAME`
	Provider string            // the provider's name in the registry, e.g. "vandar"
	Feeds    map[string]string // feed → cron spec
	// Settings is what the provider read from the source's own fields (an account, URLs, credentials). It
	// prints its secrets redacted.
	Settings sources.Settings
}

// Account is the provider account the source reads.
func (s Source) Account() string {
	if s.Settings == nil {
		return ""
	}
	return s.Settings.Account()
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

// file is the YAML shape: a list of sources, each a mapping split between the common fields and the
// provider's. Unknown top-level fields are refused.
type file struct {
	Sources []map[string]yaml.Node `yaml:"sources"`
}

// commonFields are the fields every source has; every other field is its provider's.
var commonFields = []string{"name", "provider", "feeds"}

// LoadSources reads and checks the sources file at path. providers says which providers exist.
func LoadSources(path string, getenv func(string) string, providers sources.Registry) (Sources, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Sources{}, fmt.Errorf("sources file: %w", err)
	}
	s, err := ParseSources(b, getenv, providers)
	if err != nil {
		return Sources{}, fmt.Errorf("sources file %s: %w", path, err)
	}
	return s, nil
}

var (
	slugRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	fieldRE    = regexp.MustCompile(`^[a-z_]+$`)
	cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
)

// ParseCron parses a cron spec the way the poller schedules it: five fields or a descriptor such as
// "@every 1m" or "@hourly".
func ParseCron(spec string) (cron.Schedule, error) { return cronParser.Parse(spec) }

// ParseSources parses and checks a sources file's contents; providers says which providers exist.
func ParseSources(b []byte, getenv func(string) string, providers sources.Registry) (Sources, error) {
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
	for i, fields := range f.Sources {
		src, err := checkSource(fields, getenv, providers)
		name := cmp.Or(src.Name, fmt.Sprintf("#%d", i+1))
		if err != nil {
			return Sources{}, fmt.Errorf("source %s: %w", name, err)
		}
		if seen[src.Name] {
			return Sources{}, fmt.Errorf("source %s: field name: used by another source", name)
		}
		seen[src.Name] = true
		// Two sources polling one provider account would publish every fact twice under two names and fight
		// over one set of credentials.
		key := events.Key(src.Provider, src.Account())
		if other, ok := accounts[key]; ok {
			return Sources{}, fmt.Errorf("source %s: the same %s account %q as source %s", name, src.Provider, src.Account(), other)
		}
		accounts[key] = src.Name
		out.Sources = append(out.Sources, src)
	}
	return out, nil
}

// checkSource checks the common fields of one source and hands the rest to its provider. The returned Source
// has its Name set as soon as it is known, so that errors can name it.
func checkSource(fields map[string]yaml.Node, getenv func(string) string, providers sources.Registry) (Source, error) {
	var src Source
	for field, dst := range map[string]any{"name": &src.Name, "provider": &src.Provider, "feeds": &src.Feeds} {
		if node, ok := fields[field]; ok {
			if err := node.Decode(dst); err != nil {
				return Source{}, fmt.Errorf("field %s: %s", field, yamlError(err))
			}
		}
	}
	if !slugRE.MatchString(src.Name) {
		name := src.Name
		src.Name = ""
		return src, fmt.Errorf("field name: %q must be lowercase letters, digits, '.', '_' or '-'", name)
	}
	p, ok := providers.Lookup(src.Provider)
	if !ok {
		return src, fmt.Errorf("field provider: unknown provider %q (known: %s)", src.Provider,
			strings.Join(providers.Names(), ", "))
	}
	if len(src.Feeds) == 0 {
		return src, errors.New("field feeds: at least one feed with a cron schedule is required")
	}
	for _, feed := range slices.Sorted(maps.Keys(src.Feeds)) {
		if _, ok := sources.FindFeed(p, feed); !ok {
			return src, fmt.Errorf("field feeds.%s: %s has no feed %q (it has: %s)", feed, src.Provider, feed,
				strings.Join(sources.FeedNames(p), ", "))
		}
		if _, err := ParseCron(src.Feeds[feed]); err != nil {
			return src, fmt.Errorf("field feeds.%s: bad cron spec %q: %v", feed, src.Feeds[feed], err)
		}
	}
	own := maps.Clone(fields)
	for _, f := range commonFields {
		delete(own, f)
	}
	settings, err := p.Configure(sources.Block{
		Decode: func(v any) error { return decodeStrict(own, v, src.Provider, "") },
		Getenv: getenv,
	})
	if err != nil {
		return src, err
	}
	if settings == nil || settings.Account() == "" {
		return src, fmt.Errorf("field provider: %s read no account from the source", src.Provider)
	}
	src.Settings = settings
	return src, nil
}

// decodeStrict decodes a provider's fields into v, a pointer to a struct whose fields carry `yaml` tags,
// field by field, so that an error names the field; a field v does not declare is refused. A struct-valued
// field is decoded the same way, its errors naming "outer.inner".
func decodeStrict(fields map[string]yaml.Node, v any, provider, prefix string) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("field provider: %s decodes its fields into a %T, not a pointer to a struct", provider, v)
	}
	known := map[string]reflect.Value{}
	var names []string
	st := rv.Elem()
	for i := range st.NumField() {
		tag, _, _ := strings.Cut(st.Type().Field(i).Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" || !st.Type().Field(i).IsExported() {
			continue
		}
		known[tag] = st.Field(i)
		names = append(names, prefix+tag)
	}
	for _, key := range slices.Sorted(maps.Keys(fields)) {
		name := prefix + key
		if !fieldRE.MatchString(key) {
			name = strconv.Quote(name)
		}
		dst, ok := known[key]
		if !ok {
			if prefix == "" {
				for _, c := range commonFields {
					names = append(names, c)
				}
			}
			slices.Sort(names)
			return fmt.Errorf("field %s: unknown: a %s source has no such field (it has: %s)", name, provider,
				strings.Join(names, ", "))
		}
		node := fields[key]
		if isStruct(dst.Type()) {
			var inner map[string]yaml.Node
			if err := node.Decode(&inner); err != nil {
				return fmt.Errorf("field %s: %s", name, yamlError(err))
			}
			target := dst
			if dst.Kind() == reflect.Pointer {
				dst.Set(reflect.New(dst.Type().Elem()))
				target = dst.Elem()
			}
			if err := decodeStrict(inner, target.Addr().Interface(), provider, prefix+key+"."); err != nil {
				return err
			}
			continue
		}
		if err := node.Decode(dst.Addr().Interface()); err != nil {
			return fmt.Errorf("field %s: %s", name, yamlError(err))
		}
	}
	return nil
}

// isStruct says whether a field is a struct of fields (or a pointer to one) to decode strictly in turn.
func isStruct(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Struct && t.PkgPath() != "time"
}

// yamlError makes a YAML decoding error one line: "line 3: cannot unmarshal !!seq into string".
func yamlError(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:")
	return strings.Join(strings.Fields(msg), " ")
}
