package checks

import (
	"cmp"
	"time"

	"github.com/shopspring/decimal"
)

// Config holds the checks' tolerances, grace periods and ages: the one place they and their defaults are
// defined. config.ReadChecks fills it from the environment; the reconciler applies WithDefaults.
type Config struct {
	// BalanceTolerance is how far a reported balance may differ from the ledger and still be OK.
	// Default 0: to the last toman or cent. (MIZAN_BALANCE_TOLERANCE)
	BalanceTolerance decimal.Decimal
	// SettlementGrace is how long past its predicted completion a settlement may still be on its way, and how
	// long a failed or cancelled one's money may take to come back. Default 2h. (MIZAN_SETTLEMENT_GRACE)
	SettlementGrace time.Duration
	// StaleAfter is how long a feed may go without a complete poll before its checks are UNKNOWN and an alert
	// says so. Default 30m. (MIZAN_STALE_AFTER)
	StaleAfter time.Duration
	// SnapshotMaxFall is how far the available figure of a balance snapshot (a provider that reports balances
	// and no statement) may fall between snapshots with nothing in the ledger explaining it, before an alert.
	// Default 0. (MIZAN_YABANDPAY_MAX_FALL: the variable keeps the name users have set.)
	SnapshotMaxFall decimal.Decimal
	// Interval is how often the time-driven checks (staleness, stuck settlements, missing returns) run while
	// the reconciler consumes. Default 1m. (MIZAN_CHECK_INTERVAL)
	Interval time.Duration
	// Bank tunes the checks of payouts against the business's bank statements (BankConfig).
	Bank BankConfig
}

// Defaults of Config's durations.
const (
	DefaultSettlementGrace = 2 * time.Hour
	DefaultStaleAfter      = 30 * time.Minute
	DefaultInterval        = time.Minute
)

// WithDefaults returns c with every zero duration (and every unset bank setting) set to its default. Zero
// amounts are meaningful (exact) and stay.
func (c Config) WithDefaults() Config {
	c.SettlementGrace = cmp.Or(c.SettlementGrace, DefaultSettlementGrace)
	c.StaleAfter = cmp.Or(c.StaleAfter, DefaultStaleAfter)
	c.Interval = cmp.Or(c.Interval, DefaultInterval)
	c.Bank = c.Bank.WithDefaults()
	return c
}
