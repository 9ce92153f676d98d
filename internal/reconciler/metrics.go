package reconciler

import (
	"slices"

	"github.com/mizanhq/mizan/internal/alerts"
	"github.com/mizanhq/mizan/internal/apply"
	"github.com/mizanhq/mizan/internal/checks"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/matching"
	"github.com/mizanhq/mizan/internal/metrics"
)

// CheckNames are the names every check result the reconciler stores can carry — the checks', the
// quarantine's and the matcher's — which are also the kinds of the alerts they open. A test holds the list to
// the constants of those packages.
var CheckNames = []string{
	checks.CheckRunningBalance, checks.CheckBalance, checks.CheckSettlement, checks.CheckSettlementReturn,
	checks.CheckBatch, checks.CheckChangedItem, checks.CheckSnapshotMovement, checks.CheckStaleness,
	checks.CheckConsistency, checks.CheckPayoutFailed,
	checks.CheckBankCreditMissing, checks.CheckBankCreditUnexpected, checks.CheckBankAmountDiffers,
	checks.CheckBankBalance, checks.CheckBankStatementStale,
	apply.CheckQuarantined,
	matching.AlertUnpaid, matching.AlertPayoutMissing, matching.AlertAmountMismatch, matching.AlertPaidTwice,
	matching.AlertUnexpected,
}

// KnownSeries is what the reconciler's metrics can be labelled with before anything happens — the topics it
// consumes (full names: topic maps a base name to one), each check and outcome, each alert kind and
// severity — for metrics.NewReconciler to start every such series at zero.
func KnownSeries(topic func(base string) string) metrics.Known {
	topics := make([]string, len(events.DataTopics))
	for i, t := range events.DataTopics {
		topics[i] = topic(t)
	}
	return metrics.Known{
		Topics:        topics,
		Checks:        slices.Clone(CheckNames),
		CheckOutcomes: []string{string(checks.OK), string(checks.Mismatch), string(checks.Unknown)},
		AlertKinds:    append(slices.Clone(CheckNames), alerts.KindDeadLetter, alerts.KindStalled),
		Severities:    []string{checks.SeverityWarning, checks.SeverityCritical},
	}
}
