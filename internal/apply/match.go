package apply

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/mizanhq/mizan/internal/checks"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/matching"
)

// WithMatching sets how expectations are matched with provider lines (internal/matching; the zero Config is
// every default) and returns a.
func (a *Applier) WithMatching(cfg matching.Config) *Applier {
	a.matcher = matching.New(cfg)
	return a
}

type expectationEvent struct {
	x       events.Expectation
	eventID string
}

// match records a batch's expectations and the statement lines a matching rule is about, and matches what
// they touch; an account whose statement watermark moved has its deadlines judged. It runs after the batch's
// postings and watermarks, so its per-account locks come after the ledger's and the watermarks are current.
func (a *Applier) match(ctx context.Context, tx pgx.Tx, items []itemEvent, exps []expectationEvent,
	marks []events.Watermark) ([]checks.Result, error) {
	if len(items) == 0 && len(exps) == 0 && len(marks) == 0 {
		return nil, nil
	}
	stated := make([]matching.Stated, len(exps))
	for i, e := range exps {
		stated[i] = matching.Stated{Expectation: e.x, EventID: e.eventID, Origin: matching.OriginKafka}
	}
	lines := make([]matching.Item, len(items))
	for i := range items {
		lines[i] = matching.Item{StatementItem: items[i].item, EventID: items[i].eventID, RawFields: &items[i].raw}
	}
	results, err := a.matcher.Record(ctx, tx, stated, lines, marks, a.now())
	if errors.Is(err, matching.ErrGroupTooLarge) {
		// The batch's data causes it: the reconciler applies the facts one by one and sets this one aside.
		id := ""
		if len(exps) > 0 {
			id = exps[0].eventID
		} else if len(items) > 0 {
			id = items[0].eventID
		}
		return nil, &FactError{EventID: id, Err: err}
	}
	for i := range results {
		if results[i].EventID == "" && len(exps)+len(items) == 1 {
			// One fact caused it: say which (a batch of many leaves the evaluation unattributed).
			if len(exps) == 1 {
				results[i].EventID = exps[0].eventID
			} else {
				results[i].EventID = items[0].eventID
			}
		}
	}
	return results, err
}

// periodicMatching judges matching's deadlines by the clock: expectations their statement has passed, lines
// left unexplained past the grace.
func (a *Applier) periodicMatching(ctx context.Context, tx pgx.Tx) ([]checks.Result, error) {
	return a.matcher.Due(ctx, tx, a.now())
}
