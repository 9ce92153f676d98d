package main

import (
	"github.com/mizanhq/mizan/internal/alerts"
	"github.com/mizanhq/mizan/internal/apply"
	"github.com/mizanhq/mizan/internal/checks"
	"github.com/mizanhq/mizan/internal/cli"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/matching"
	"github.com/mizanhq/mizan/internal/metrics"
)

// checkNames are the names every check result can carry — the checks', the quarantine's and the matcher's —
// which are also the alert kinds they open. A test holds the list to the constants of those packages.
var checkNames = []string{
	checks.CheckRunningBalance, checks.CheckBalance, checks.CheckSettlement, checks.CheckSettlementReturn,
	checks.CheckBatch, checks.CheckChangedItem, checks.CheckYabandPayMovement, checks.CheckStaleness,
	checks.CheckConsistency, checks.CheckPayoutFailed,
	checks.CheckBankCreditMissing, checks.CheckBankCreditUnexpected, checks.CheckBankAmountDiffers,
	checks.CheckBankBalance, checks.CheckBankStatementStale,
	apply.CheckQuarantined,
	matching.AlertUnpaid, matching.AlertPayoutMissing, matching.AlertAmountMismatch, matching.AlertPaidTwice,
	matching.AlertUnexpected,
}

// newMetrics is the reconciler's registry, with every series whose labels are known — the topics it
// consumes, each check and outcome, each alert kind and severity — at zero from the start.
func newMetrics(kcfg kafka.Config) *metrics.Reconciler {
	topics := make([]string, len(events.DataTopics))
	for i, t := range events.DataTopics {
		topics[i] = kcfg.Topic(t)
	}
	return metrics.NewReconciler(cli.BuildInfo(), metrics.Known{
		Topics:        topics,
		Checks:        checkNames,
		CheckOutcomes: []string{string(checks.OK), string(checks.Mismatch), string(checks.Unknown)},
		AlertKinds:    append(append([]string(nil), checkNames...), alerts.KindDeadLetter, alerts.KindStalled),
		Severities:    []string{checks.SeverityWarning, checks.SeverityCritical},
	})
}
