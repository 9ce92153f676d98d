package matching

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"go.yaml.in/yaml/v3"

	"github.com/mizanhq/mizan/internal/events"
)

// Rule tunes one kind's matching rule. The zero Rule is the default: exact amounts, any time, one line per
// expectation and one expectation per line, unexpected lines alerted.
type Rule struct {
	// Tolerance is how far (absolute, in the currency's unit) the lines' amount may differ from the expected
	// amount and still match. Default 0.
	Tolerance decimal.Decimal `yaml:"tolerance"`
	// TolerancePercent is the same as a percentage of the expected amount; the larger of the two applies.
	// Default 0.
	TolerancePercent decimal.Decimal `yaml:"tolerance_percent"`
	// Window is how far a line's time may be from the expectation's expected_by, either way, and still match
	// it (references such as order numbers are reused over the years). Default 0: any time.
	Window time.Duration `yaml:"window"`
	// ManyLines lets one expectation be met by several lines, their amounts added up (a payout split across
	// batch items). Without it a second line with the reference is a duplicate: paid twice. Default false.
	ManyLines bool `yaml:"many_lines"`
	// ManyExpectations lets the expectations sharing a reference be met together, their amounts added up
	// (two orders paid in one payment). Without it each is met by a line of its own. Default false.
	ManyExpectations bool `yaml:"many_expectations"`
	// NoUnexpected turns the unexpected alert off for this kind (a business that does not publish refunds).
	// Default false: alerted.
	NoUnexpected bool `yaml:"no_unexpected"`
}

// Settings are the matching settings of one source (provider account).
type Settings struct {
	// Grace is how long past expected_by the statement must be known complete before an unmatched
	// expectation is alerted. Default 1h.
	Grace time.Duration `yaml:"grace"`
	// UnexpectedGrace is how long a line no expectation explains may wait for one, from when mizan first saw
	// it (or its own time, if later), before it is alerted as unexpected. Default 1h.
	UnexpectedGrace time.Duration `yaml:"unexpected_grace"`
	// Since: lines before it are never alerted as unexpected (history from before the business published
	// expectations). Default: none. Independently, a kind is alerted only for accounts that have published at
	// least one expectation of it.
	Since time.Time `yaml:"since"`
	// The rules, per kind.
	Payment Rule `yaml:"payment"`
	Payout  Rule `yaml:"payout"`
	Refund  Rule `yaml:"refund"`
}

// Rule returns the settings' rule for kind.
func (s Settings) Rule(kind string) Rule {
	switch kind {
	case events.ExpectPayout:
		return s.Payout
	case events.ExpectRefund:
		return s.Refund
	}
	return s.Payment
}

// Defaults of Settings.
const (
	DefaultGrace           = time.Hour
	DefaultUnexpectedGrace = time.Hour
)

func (s Settings) withDefaults() Settings {
	s.Grace = cmp.Or(s.Grace, DefaultGrace)
	s.UnexpectedGrace = cmp.Or(s.UnexpectedGrace, DefaultUnexpectedGrace)
	return s
}

// Config is the matching configuration: settings for every source, and per source where one differs. The
// zero Config is every default.
type Config struct {
	// Disabled switches matching off: nothing is recorded, matched or alerted (a deployment whose businesses
	// publish no expectations saves the cost of recording their lines). Default false.
	Disabled bool     `yaml:"disabled"`
	Defaults Settings `yaml:"defaults"`
	// Sources overrides Defaults for one provider account, keyed "provider/account" (e.g. "vandar/acme"):
	// what a source's section sets replaces the default, the rest stays.
	Sources map[string]Settings `yaml:"-"`
}

// For returns the settings of one provider account.
func (c Config) For(provider, account string) Settings {
	if s, ok := c.Sources[events.Key(provider, account)]; ok {
		return s.withDefaults()
	}
	return c.Defaults.withDefaults()
}

// FileEnv names the environment variable that points at the matching file.
const FileEnv = "MIZAN_MATCHING_FILE"

// ReadConfig reads the file named by MIZAN_MATCHING_FILE; unset, every default applies.
func ReadConfig(getenv func(string) string) (Config, error) {
	path := strings.TrimSpace(getenv(FileEnv))
	if path == "" {
		return Config{}, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", FileEnv, err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return Config{}, fmt.Errorf("%s=%s: %w", FileEnv, path, err)
	}
	return c, nil
}

// ParseConfig reads a matching file (docs/matching.md, "Configuration"):
//
//	defaults:
//	  grace: 1h
//	  payment: {tolerance: "0", tolerance_percent: "0.5"}
//	sources:
//	  vandar/acme:
//	    refund: {no_unexpected: true}
//
// Unknown keys are refused, naming the line: a misspelt setting would otherwise silently keep its default.
func ParseConfig(b []byte) (Config, error) {
	var doc struct {
		Disabled bool                 `yaml:"disabled"`
		Defaults yaml.Node            `yaml:"defaults"`
		Sources  map[string]yaml.Node `yaml:"sources"`
	}
	if err := strictDecode(b, &doc); err != nil {
		return Config{}, err
	}
	c := Config{Disabled: doc.Disabled}
	if !doc.Defaults.IsZero() {
		if err := decodeNode(&doc.Defaults, &c.Defaults); err != nil {
			return Config{}, fmt.Errorf("defaults: %w", err)
		}
	}
	if err := c.Defaults.check(); err != nil {
		return Config{}, fmt.Errorf("defaults: %w", err)
	}
	for key, node := range doc.Sources {
		if p, a, ok := strings.Cut(key, "/"); !ok || p == "" || a == "" || strings.Contains(a, "/") {
			return Config{}, fmt.Errorf("sources: %q is not provider/account, e.g. vandar/acme", key)
		}
		s := c.Defaults // a source's section overrides only what it sets
		if err := decodeNode(&node, &s); err != nil {
			return Config{}, fmt.Errorf("sources: %s: %w", key, err)
		}
		if err := s.check(); err != nil {
			return Config{}, fmt.Errorf("sources: %s: %w", key, err)
		}
		if c.Sources == nil {
			c.Sources = map[string]Settings{}
		}
		c.Sources[key] = s
	}
	return c, nil
}

func strictDecode(b []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// decodeNode decodes one node strictly: yaml.Node.Decode has no KnownFields, so it is re-encoded first.
func decodeNode(n *yaml.Node, v any) error {
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	return strictDecode(b, v)
}

func (s Settings) check() error {
	if s.Grace < 0 || s.UnexpectedGrace < 0 {
		return errors.New("grace and unexpected_grace must not be negative")
	}
	for kind, r := range map[string]Rule{events.ExpectPayment: s.Payment, events.ExpectPayout: s.Payout,
		events.ExpectRefund: s.Refund} {
		if r.Tolerance.IsNegative() || r.TolerancePercent.IsNegative() || r.Window < 0 {
			return fmt.Errorf("%s: tolerance, tolerance_percent and window must not be negative", kind)
		}
	}
	return nil
}
