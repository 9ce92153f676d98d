package apply

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/mizanhq/mizan/internal/apply/applydb"
	"github.com/mizanhq/mizan/internal/checks"
	"github.com/mizanhq/mizan/internal/events"
)

// CheckQuarantined names the alert a quarantined item raises (recon.alerts kind, recon.check_results name).
const CheckQuarantined = "quarantined"

type quarantinedEvent struct {
	q       events.Quarantined
	eventID string
}

// applyQuarantined records each quarantined item in recon.quarantined and raises an alert naming it, its
// endpoint and the reason. The item posts nothing: what it would have moved shows as a running-balance break.
// One item (or one skipped endpoint) is one alert, however often it is quarantined again.
func (a *Applier) applyQuarantined(ctx context.Context, tx pgx.Tx, qs []quarantinedEvent) ([]checks.Result, error) {
	var results []checks.Result
	for _, qe := range qs {
		q := qe.q
		if q.Provider == "" || q.Account == "" || q.Feed == "" || q.Endpoint == "" || q.ObservedAt.IsZero() {
			return nil, &FactError{EventID: qe.eventID,
				Err: fmt.Errorf("quarantined item without provider, account, feed, endpoint or observation time")}
		}
		err := applydb.New(tx).RecordQuarantined(ctx, applydb.RecordQuarantinedParams{EventID: qe.eventID,
			Provider: q.Provider, Account: q.Account, Feed: q.Feed, Endpoint: q.Endpoint, ItemID: q.ItemID,
			Reason: q.Reason, Raw: rawOrNull(q.Raw), ObservedAt: q.ObservedAt})
		if err != nil {
			return nil, fmt.Errorf("record quarantined item %q of %s/%s: %w", q.ItemID, q.Provider, q.Account, err)
		}
		results = append(results, quarantinedResult(q, qe.eventID))
	}
	return results, nil
}

// quarantinedResult is the alert: sticky, since nothing but a person (or a fixed decoder) resolves it.
func quarantinedResult(q events.Quarantined, eventID string) checks.Result {
	subject := fmt.Sprintf("%s/%s/%s", q.Provider, q.Account, q.Feed)
	what := fmt.Sprintf("item %s from %s", q.ItemID, q.Endpoint)
	if q.ItemID == "" {
		what = "the answer of " + q.Endpoint
	} else {
		subject += "/item/" + q.ItemID
	}
	return checks.Result{
		Check: CheckQuarantined, Subject: subject, WindowEnd: q.ObservedAt, Outcome: checks.Mismatch,
		Severity: checks.SeverityWarning, Sticky: true, EventID: eventID,
		DedupKey: fmt.Sprintf("%s:%s/%s/%s:%s:%s", CheckQuarantined, q.Provider, q.Account, q.Feed, q.Endpoint, q.ItemID),
		Details:  map[string]any{"feed": q.Feed, "endpoint": q.Endpoint, "item_id": q.ItemID, "reason": q.Reason},
		Summary: fmt.Sprintf("%s %s: %s set aside (quarantined), not in the ledger: %s", q.Provider, q.Account, what,
			q.Reason),
	}
}

// rawOrNull is the raw item for a jsonb column: JSON null when there is none.
func rawOrNull(raw []byte) []byte {
	if len(raw) == 0 {
		return []byte("null")
	}
	return raw
}
