package demo

import (
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/matching/matchingtest"
)

func TestMoneyGroupsThousands(t *testing.T) {
	for _, c := range []struct{ amount, currency, want string }{
		{"0", "IRT", "0"}, {"999", "IRT", "999"}, {"1000", "IRT", "1,000"}, {"-418000", "IRT", "-418,000"},
		{"1050239200", "IRT", "1,050,239,200"}, {"7571.4", "CHF", "7,571.40"}, {"-1234567.5", "EUR", "-1,234,567.50"},
		{"0.5", "EUR", "0.50"}, {"-100", "IRT", "-100"},
	} {
		if got := money(decimal.RequireFromString(c.amount), c.currency); got != c.want {
			t.Errorf("money(%s %s) = %s, want %s", c.amount, c.currency, got, c.want)
		}
	}
}

// Matching must raise exactly the four planted alerts: one missing, one more of any matching kind, or one about
// the clean business fails the run; other checks' alerts are not matching's.
func TestCheckMatchingAlertsWantsExactlyThePlanted(t *testing.T) {
	p := plantings{business: "globex", records: matchingtest.Planted{Unpaid: "order-9", Mismatch: "order-1",
		PaidTwice: "order-2", Unexpected: "103", Duplicate: "104"}}
	var four []alert
	for _, a := range p.records.Alerts("globex") {
		kind, subject, _ := strings.Cut(a, " ")
		four = append(four, alert{kind: kind, subject: subject, open: true})
	}
	if len(four) != 4 {
		t.Fatalf("Planted.Alerts lists %d alerts", len(four))
	}
	if err := checkMatchingAlerts(append(four, alert{kind: "balance", subject: "vandar/globex/wallet/IRT"}), p); err != nil {
		t.Errorf("the four planted: %v", err)
	}
	for name, alerts := range map[string][]alert{
		"one missing":        four[1:],
		"one more":           append(four[:4:4], alert{kind: "payout_missing", subject: "vandar/globex/expectation/payout-5"}),
		"the clean business": append(four[:4:4], alert{kind: "unexpected", subject: "vandar/acme/item/7"}),
	} {
		if checkMatchingAlerts(alerts, p) == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
