// Package alerts stores what the reconciliation checks found — every evaluation in recon.check_results, every
// mismatch as an alert in recon.alerts — and delivers alerts to Slack from that table, which is the outbox:
// an alert is written in the same transaction as the state that raised it, so a crash can delay a message but
// never lose one.
package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/alerts/alertsdb"
	"github.com/mizanhq/mizan/internal/checks"
)

// Record stores the results of one batch's checks inside the caller's transaction: one check_results row each,
// and for each result with a dedup key, an alert opened (or seen again) on MISMATCH or UNKNOWN, or resolved on
// OK. It returns how many alerts it opened.
func Record(ctx context.Context, tx pgx.Tx, results []checks.Result) (opened int, err error) {
	if len(results) == 0 {
		return 0, nil
	}
	var (
		names, subjects, outcomes, details, evIDs []string
		starts, ends, marks                       []*time.Time
		expected, actual, diff                    []*decimal.Decimal
	)
	for _, r := range results {
		d, err := json.Marshal(orEmpty(r.Details))
		if err != nil {
			return 0, fmt.Errorf("check %s %s: details: %w", r.Check, r.Subject, err)
		}
		names = append(names, r.Check)
		subjects = append(subjects, r.Subject)
		outcomes = append(outcomes, string(r.Outcome))
		details = append(details, string(d))
		evIDs = append(evIDs, r.EventID)
		starts, ends, marks = append(starts, timePtr(r.WindowStart)), append(ends, timePtr(r.WindowEnd)), append(marks, timePtr(r.Watermark))
		expected, actual, diff = append(expected, r.Expected), append(actual, r.Actual), append(diff, r.Difference)
	}
	// Written by hand, not in queries.sql: its arrays hold NULL elements, which sqlc's array parameters cannot.
	_, err = tx.Exec(ctx, `
		INSERT INTO recon.check_results (check_name, subject, window_start, window_end, watermark, expected, actual,
			difference, outcome, details, event_id)
		SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::timestamptz[],
			$6::numeric[], $7::numeric[], $8::numeric[], $9::text[], $10::jsonb[], $11::text[])`,
		names, subjects, starts, ends, marks, expected, actual, diff, outcomes, details, nullIfEmpty(evIDs))
	if err != nil {
		return 0, fmt.Errorf("record %d check results: %w", len(results), err)
	}
	for _, r := range results {
		n, err := applyAlert(ctx, tx, r)
		if err != nil {
			return opened, err
		}
		opened += n
	}
	return opened, nil
}

// applyAlert opens, refreshes or resolves the alert of one result.
func applyAlert(ctx context.Context, tx pgx.Tx, r checks.Result) (opened int, err error) {
	q := alertsdb.New(tx)
	if r.Outcome == checks.OK {
		if r.DedupKey != "" && !r.Sticky {
			if _, err := q.ResolveAlert(ctx, r.DedupKey); err != nil {
				return 0, fmt.Errorf("resolve alert %s: %w", r.DedupKey, err)
			}
		}
		for _, prefix := range r.ResolvesWith {
			if err := q.ResolveAlertsByPrefix(ctx, alertsdb.ResolveAlertsByPrefixParams{Prefix: prefix,
				Before: timePtr(r.ResolvesBefore)}); err != nil {
				return 0, fmt.Errorf("resolve alerts %s*: %w", prefix, err)
			}
		}
		return 0, nil
	}
	if r.DedupKey == "" {
		return 0, nil
	}
	details := orEmpty(r.Details)
	details["explains"] = r.Explains.String()
	if r.Expected != nil {
		details["expected"] = r.Expected.String()
	}
	if r.Actual != nil {
		details["actual"] = r.Actual.String()
	}
	if r.Difference != nil {
		details["difference"] = r.Difference.String()
	}
	d, err := json.Marshal(details)
	if err != nil {
		return 0, err
	}
	severity := r.Severity
	if severity == "" {
		severity = checks.SeverityWarning
	}
	inserted, err := q.OpenAlert(ctx, alertsdb.OpenAlertParams{Kind: r.Check, Severity: severity, Subject: r.Subject,
		DedupKey: r.DedupKey, Summary: r.Summary, Details: d})
	if err != nil {
		return 0, fmt.Errorf("open alert %s: %w", r.DedupKey, err)
	}
	if inserted {
		return 1, nil
	}
	return 0, nil
}

// Explained sums what the open alerts of a wallet already account for (their "explains"), so the balance
// check raises only what is left.
func Explained(ctx context.Context, tx pgx.Tx, walletSubject, itemPrefix string) (decimal.Decimal, error) {
	sum, err := alertsdb.New(tx).Explained(ctx, alertsdb.ExplainedParams{WalletSubject: walletSubject, ItemPrefix: itemPrefix})
	if err != nil {
		return decimal.Zero, fmt.Errorf("sum explained differences of %s: %w", walletSubject, err)
	}
	return sum, nil
}

func orEmpty(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+4)
	for k, v := range m {
		out[k] = v
	}
	return out
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func nullIfEmpty(ids []string) []*string {
	out := make([]*string, len(ids))
	for i := range ids {
		if ids[i] != "" {
			out[i] = &ids[i]
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }
