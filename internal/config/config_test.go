package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mizanhq/mizan/internal/sources/registry"
	"github.com/mizanhq/mizan/internal/sources/vandar"
	"github.com/mizanhq/mizan/internal/sources/yabandpay"
)

const goodFile = `
sources:
  - name: vandar-acme
    provider: vandar
    business: acme
    access_token_env: VANDAR_ACME_ACCESS_TOKEN
    refresh_token_env: VANDAR_ACME_REFRESH_TOKEN
    feeds: { statement: "@every 1m", balance: "*/5 * * * *", settlements: "*/5 * * * *", batches: "*/10 * * * *" }
  - name: yabandpay-main
    provider: yabandpay
    user: "036870"
    api_url: https://mapi.yabandpay.com
    secret_key_env: YABANDPAY_SECRET_KEY
    currencies: [EUR, CHF]
    feeds: { balance: "*/5 * * * *" }
`

var goodEnv = map[string]string{
	"VANDAR_ACME_ACCESS_TOKEN":  "access-secret-value",
	"VANDAR_ACME_REFRESH_TOKEN": "refresh-secret-value",
	"YABANDPAY_SECRET_KEY":      "yaband-secret-value",
}

func getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseSourcesAcceptsTheDocumentedExample(t *testing.T) {
	t.Parallel()
	s, err := ParseSources([]byte(goodFile), getenv(goodEnv), registry.Providers())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Sources) != 2 {
		t.Fatalf("got %d sources", len(s.Sources))
	}
	src, ok := s.Find("vandar-acme")
	v, isVandar := src.Settings.(vandar.Settings)
	if !ok || !isVandar || src.Provider != "vandar" || src.Account() != "acme" || v.APIURL != vandar.DefaultAPIURL ||
		v.BatchURL != vandar.DefaultBatchURL || len(src.Feeds) != 4 {
		t.Fatalf("vandar source: %+v", src)
	}
	if v.AccessToken.Reveal() != "access-secret-value" || v.RefreshToken.Reveal() != "refresh-secret-value" {
		t.Fatal("tokens not read from the named variables")
	}
	ysrc, _ := s.Find("yabandpay-main")
	y, _ := ysrc.Settings.(yabandpay.Settings)
	if ysrc.Account() != "036870" || strings.Join(y.Currencies, ",") != "EUR,CHF" || y.SecretKey.Reveal() != "yaband-secret-value" {
		t.Fatalf("yabandpay source: %+v", ysrc)
	}
	// A source printed with %v or %+v must not show its secrets.
	for _, out := range []string{fmt.Sprintf("%v", src), fmt.Sprintf("%+v", ysrc), fmt.Sprintf("%#v", src), fmt.Sprintf("%+v", s)} {
		for _, secret := range goodEnv {
			if strings.Contains(out, secret) {
				t.Fatalf("secret printed: %s", out)
			}
		}
	}
}

func TestParseSourcesRefusesBadFilesNamingSourceAndField(t *testing.T) {
	t.Parallel()
	replace := func(old, new string) string { return strings.Replace(goodFile, old, new, 1) }
	tests := []struct {
		name, file string
		env        map[string]string
		want       string
	}{
		{"malformed YAML", "sources: [", goodEnv, "malformed YAML"},
		{"empty file", "", goodEnv, "empty"},
		{"no sources", "sources: []", goodEnv, "no sources"},
		{"a second document", goodFile + "---\nsources: []\n", goodEnv, "more than one document"},
		{"unknown field is a typo, not ignored", replace("business: acme", "busines: acme"), goodEnv, "source vandar-acme: field busines: unknown"},
		{"another provider's field", replace("business: acme", "business: acme\n    currencies: [EUR]"), goodEnv, "source vandar-acme: field currencies: unknown: a vandar source has no such field"},
		{"a field of the wrong type", replace("business: acme", "business: [acme]"), goodEnv, "source vandar-acme: field business: line"},
		{"an unknown top-level field", goodFile + "defaults: {}\n", goodEnv, "malformed YAML"},
		{"unknown provider", replace("provider: vandar", "provider: paypal"), goodEnv, "source vandar-acme: field provider: unknown provider \"paypal\" (known: " +
			strings.Join(registry.Providers().Names(), ", ") + ")"},
		{"unknown feed", replace("statement: \"@every 1m\"", "ledger: \"@every 1m\""), goodEnv, "source vandar-acme: field feeds.ledger"},
		{"yabandpay has no statement feed", replace("feeds: { balance: \"*/5 * * * *\" }", "feeds: { statement: \"@every 1m\" }"), goodEnv, "source yabandpay-main: field feeds.statement"},
		{"bad cron spec", replace("\"@every 1m\"", "\"every minute\""), goodEnv, "source vandar-acme: field feeds.statement: bad cron spec"},
		{"missing secret", goodFile, map[string]string{"VANDAR_ACME_ACCESS_TOKEN": "x", "YABANDPAY_SECRET_KEY": "y"}, "source vandar-acme: field refresh_token_env: environment variable VANDAR_ACME_REFRESH_TOKEN is not set"},
		{"missing secret env name", replace("    refresh_token_env: VANDAR_ACME_REFRESH_TOKEN\n", ""), goodEnv, "source vandar-acme: field refresh_token_env: required"},
		{"duplicate name", replace("name: yabandpay-main", "name: vandar-acme"), goodEnv, "used by another source"},
		{"bad currency", replace("[EUR, CHF]", "[EUR, euro]"), goodEnv, "source yabandpay-main: field currencies"},
		{"bad url", replace("api_url: https://mapi.yabandpay.com", "api_url: mapi.yabandpay.com"), goodEnv, "source yabandpay-main: field api_url"},
		{"bad business", replace("business: acme", "business: \"Acme Inc\""), goodEnv, "source vandar-acme: field business"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseSources([]byte(tt.file), getenv(tt.env), registry.Providers())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
			for _, secret := range goodEnv {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("secret in error: %v", err)
				}
			}
		})
	}
}

func TestReadEnvNamesWhatIsMissing(t *testing.T) {
	t.Parallel()
	_, err := ReadEnv(getenv(map[string]string{"DATABASE_URL": "postgres://x"}), "DATABASE_URL", "KAFKA_BROKERS", "MIZAN_SECRET_KEY")
	if err == nil || !strings.Contains(err.Error(), "KAFKA_BROKERS, MIZAN_SECRET_KEY must be set") {
		t.Fatalf("error = %v", err)
	}
	e, err := ReadEnv(getenv(map[string]string{"KAFKA_BROKERS": " a:9092, b:9092 ,", "MIZAN_SECRET_KEY": "0123456789abcdef"}))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(e.KafkaBrokers, "|") != "a:9092|b:9092" {
		t.Fatalf("brokers = %q", e.KafkaBrokers)
	}
	if _, err := ReadEnv(getenv(map[string]string{"MIZAN_SECRET_KEY": "short"})); err == nil {
		t.Fatal("a short secret key was accepted")
	}
}

func TestReadChecksRefusesMalformedValuesByName(t *testing.T) {
	t.Parallel()
	c, err := ReadChecks(getenv(map[string]string{"MIZAN_BALANCE_TOLERANCE": "0.01", "MIZAN_STALE_AFTER": "45m"}))
	if err != nil || c.BalanceTolerance.String() != "0.01" || c.StaleAfter.Minutes() != 45 {
		t.Fatalf("%+v %v", c, err)
	}
	for name, v := range map[string]string{"MIZAN_BALANCE_TOLERANCE": "-1", "MIZAN_SETTLEMENT_GRACE": "two hours",
		"MIZAN_YABANDPAY_MAX_FALL": "1e", "MIZAN_CHECK_INTERVAL": "0s", "MIZAN_BANK_WINDOW_DAYS": "0",
		"MIZAN_BANK_WEEKEND": "fri,someday", "MIZAN_BANK_TIME_ZONE": "Mars/Olympus", "MIZAN_BANK_PAYOUT_PATTERN": "(",
		"MIZAN_BANK_HOLIDAYS_FILE": "/nonexistent/holidays", "MIZAN_BANK_STATEMENT_MAX_AGE": "soon"} {
		if _, err := ReadChecks(getenv(map[string]string{name: v})); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: error %v", name, v, err)
		}
	}
}

func TestReadChecksReadsTheBankCalendar(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "holidays.txt")
	if err := os.WriteFile(file, []byte("# 1405\n2026-06-25 Tasua\n1405/04/05 Ashura\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := ReadChecks(getenv(map[string]string{"MIZAN_BANK_WINDOW_DAYS": "3", "MIZAN_BANK_WEEKEND": "thu, fri",
		"MIZAN_BANK_HOLIDAYS_FILE": file, "MIZAN_BANK_PAYOUT_PATTERN": "(?i)vandar"}))
	if err != nil {
		t.Fatal(err)
	}
	cal := c.Bank.Calendar
	if c.Bank.WindowDays != 3 || !cal.Weekend[time.Thursday] || !cal.Weekend[time.Friday] || cal.Weekend[time.Saturday] ||
		!c.Bank.PayoutPattern.MatchString("VANDAR payout") {
		t.Fatalf("%+v", c.Bank)
	}
	for _, day := range []string{"2026-06-25", "2026-06-26", "2026-03-21"} { // Tasua, Ashura (1405/04/05), Nowruz
		d, _ := time.Parse(time.DateOnly, day)
		if cal.Off(d) == "" {
			t.Errorf("%s is a business day", day)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.txt")
	if err := os.WriteFile(bad, []byte("2026-06-25\n13/40 nonsense\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadChecks(getenv(map[string]string{"MIZAN_BANK_HOLIDAYS_FILE": bad})); err == nil ||
		!strings.Contains(err.Error(), "line 2") {
		t.Errorf("a bad holidays file: %v", err)
	}
}

// The sources a user copies from the docs parse as written: README's example, docs/sources.md's
// bankstatement source, and that source reading CSV with the documented column mapping.
func TestTheSourcesTheDocsShowParse(t *testing.T) {
	t.Parallel()
	blocks := func(path string) []string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(b), -1) {
			out = append(out, m[1])
		}
		return out
	}
	anyValue := func(string) string { return "a-value-long-enough-for-any-secret-0123456789" }
	find := func(bs []string, prefix string) string {
		for _, b := range bs {
			if strings.HasPrefix(b, prefix) && strings.Contains(b, "provider:") {
				return b
			}
		}
		t.Fatalf("no yaml block starting %q", prefix)
		return ""
	}
	readme, sourcesDoc := blocks("../../README.md"), blocks("../../docs/sources.md")
	bank := find(sourcesDoc, "  - name: bank-")
	var mapping string
	for _, b := range sourcesDoc {
		if strings.HasPrefix(b, "    csv:") {
			mapping = b
		}
	}
	if mapping == "" {
		t.Fatal("docs/sources.md shows no csv mapping")
	}
	csvSource := strings.Replace(strings.Replace(bank, "name: bank-", "name: csv-bank-", 1), "format: auto", "format: csv", 1) + mapping
	files := map[string]string{
		"README.md":                 find(readme, "sources:"),
		"docs/sources.md":           "sources:\n" + bank,
		"docs/sources.md with csv:": "sources:\n" + csvSource,
	}
	for name, file := range files {
		s, err := ParseSources([]byte(file), anyValue, registry.Providers())
		if err != nil {
			t.Errorf("%s: %v\n%s", name, err, file)
			continue
		}
		if len(s.Sources) == 0 {
			t.Errorf("%s: no source read", name)
		}
	}
}
