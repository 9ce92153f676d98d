package config

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/checks"
)

// ReadChecks reads the checks' settings from the environment (see checks.Config for each variable); a
// malformed value is refused naming its variable. Unset values stay zero: checks.Config.WithDefaults fills them.
func ReadChecks(getenv func(string) string) (checks.Config, error) {
	var c checks.Config
	var err error
	if c.BalanceTolerance, err = readDecimal(getenv, "MIZAN_BALANCE_TOLERANCE"); err != nil {
		return c, err
	}
	if c.SnapshotMaxFall, err = readDecimal(getenv, "MIZAN_YABANDPAY_MAX_FALL"); err != nil {
		return c, err
	}
	for name, dst := range map[string]*time.Duration{"MIZAN_SETTLEMENT_GRACE": &c.SettlementGrace,
		"MIZAN_STALE_AFTER": &c.StaleAfter, "MIZAN_CHECK_INTERVAL": &c.Interval} {
		if *dst, err = readDuration(getenv, name); err != nil {
			return c, err
		}
	}
	c.Bank, err = readBank(getenv)
	return c, err
}

// weekdays are the names MIZAN_BANK_WEEKEND takes.
var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
	"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// readBank reads the bank checks' settings (checks.BankConfig); unset values stay zero for WithDefaults.
func readBank(getenv func(string) string) (checks.BankConfig, error) {
	var b checks.BankConfig
	var err error
	if v := strings.TrimSpace(getenv("MIZAN_BANK_WINDOW_DAYS")); v != "" {
		if b.WindowDays, err = strconv.Atoi(v); err != nil || b.WindowDays < 1 || b.WindowDays > 60 {
			return b, fmt.Errorf("environment: MIZAN_BANK_WINDOW_DAYS=%q is not a number of business days from 1 to 60", v)
		}
	}
	if b.StatementMaxAge, err = readDuration(getenv, "MIZAN_BANK_STATEMENT_MAX_AGE"); err != nil {
		return b, err
	}
	if v := strings.TrimSpace(getenv("MIZAN_BANK_PAYOUT_PATTERN")); v != "" {
		if b.PayoutPattern, err = regexp.Compile(v); err != nil {
			return b, fmt.Errorf("environment: MIZAN_BANK_PAYOUT_PATTERN is not a regular expression: %v", err)
		}
	}
	zone, weekend, file := strings.TrimSpace(getenv("MIZAN_BANK_TIME_ZONE")),
		strings.TrimSpace(getenv("MIZAN_BANK_WEEKEND")), strings.TrimSpace(getenv("MIZAN_BANK_HOLIDAYS_FILE"))
	if zone == "" && weekend == "" && file == "" {
		return b, nil
	}
	cal := checks.DefaultBankCalendar()
	if zone != "" {
		if cal.Zone, err = time.LoadLocation(zone); err != nil {
			return b, fmt.Errorf("environment: MIZAN_BANK_TIME_ZONE=%q is not a time zone: %v", zone, err)
		}
	}
	if weekend != "" {
		cal.Weekend = map[time.Weekday]bool{}
		for _, name := range strings.Split(weekend, ",") {
			if name = strings.ToLower(strings.TrimSpace(name)); name == "none" {
				continue
			}
			d, ok := weekdays[name[:min(3, len(name))]]
			if !ok {
				return b, fmt.Errorf("environment: MIZAN_BANK_WEEKEND=%q: %q is not a day of the week (fri, sat, …) or none", weekend, name)
			}
			cal.Weekend[d] = true
		}
	}
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return b, fmt.Errorf("environment: MIZAN_BANK_HOLIDAYS_FILE: %w", err)
		}
		defer f.Close()
		if err := cal.ReadHolidays(f); err != nil {
			return b, fmt.Errorf("environment: MIZAN_BANK_HOLIDAYS_FILE %s: %w", file, err)
		}
	}
	b.Calendar = cal
	return b, nil
}

func readDecimal(getenv func(string) string, name string) (decimal.Decimal, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return decimal.Zero, nil
	}
	d, err := decimal.NewFromString(v)
	if err != nil || d.IsNegative() {
		return decimal.Zero, fmt.Errorf("environment: %s=%q is not a non-negative decimal amount", name, v)
	}
	return d, nil
}

func readDuration(getenv func(string) string, name string) (time.Duration, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("environment: %s=%q is not a positive duration such as 30m or 2h", name, v)
	}
	return d, nil
}
