package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Checks are the reconciliation checks' settings, from the environment. Zero values mean the reconciler's
// documented defaults.
type Checks struct {
	BalanceTolerance decimal.Decimal // MIZAN_BALANCE_TOLERANCE, default 0
	SettlementGrace  time.Duration   // MIZAN_SETTLEMENT_GRACE, default 2h
	StaleAfter       time.Duration   // MIZAN_STALE_AFTER, default 30m
	YabandPayMaxFall decimal.Decimal // MIZAN_YABANDPAY_MAX_FALL, default 0
	Interval         time.Duration   // MIZAN_CHECK_INTERVAL, default 1m
}

// ReadChecks reads the checks' settings; a malformed value is refused naming its variable.
func ReadChecks(getenv func(string) string) (Checks, error) {
	var c Checks
	var err error
	if c.BalanceTolerance, err = readDecimal(getenv, "MIZAN_BALANCE_TOLERANCE"); err != nil {
		return c, err
	}
	if c.YabandPayMaxFall, err = readDecimal(getenv, "MIZAN_YABANDPAY_MAX_FALL"); err != nil {
		return c, err
	}
	for name, dst := range map[string]*time.Duration{"MIZAN_SETTLEMENT_GRACE": &c.SettlementGrace,
		"MIZAN_STALE_AFTER": &c.StaleAfter, "MIZAN_CHECK_INTERVAL": &c.Interval} {
		if *dst, err = readDuration(getenv, name); err != nil {
			return c, err
		}
	}
	return c, nil
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
