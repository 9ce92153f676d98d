package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mizanhq/mizan/internal/alerts/alertsdb"
	"github.com/mizanhq/mizan/internal/checks"
)

// Kinds of the alerts the reconciler raises about itself rather than about money (no check result carries
// them). Their details hold "look_closer", the SQL the Slack message offers.
const (
	// KindDeadLetter: a message was refused to the dead letters. One alert per source and reason code.
	KindDeadLetter = "dead_letter"
	// KindStalled: the reconciler cannot make progress — an infrastructure failure past its bound, or an
	// environment problem (schema version, missing table or privilege). One alert per consumer group.
	KindStalled = "stalled"
)

// Alert is an alert raised directly, not from a check result.
type Alert struct {
	Kind     string
	Severity string // checks.SeverityWarning (default) or checks.SeverityCritical
	Subject  string
	DedupKey string
	Summary  string
	Details  map[string]any
}

// DB is what Raise and Resolve need: a transaction, a connection or a pool.
type DB = alertsdb.DBTX

// Raise opens a (or refreshes the open) alert of a.DedupKey in db. It reports whether it opened a new one.
// Text is made storable first: the alert of a message refused for a NUL byte must not fail for the same byte.
func Raise(ctx context.Context, db DB, a Alert) (opened bool, err error) {
	d, err := json.Marshal(orEmpty(a.Details))
	if err != nil {
		return false, fmt.Errorf("alert %s: details: %w", a.DedupKey, err)
	}
	severity := a.Severity
	if severity == "" {
		severity = checks.SeverityWarning
	}
	details := strings.ReplaceAll(string(d), `\u0000`, `\ufffd`) // jsonb cannot hold U+0000
	opened, err = alertsdb.New(db).OpenAlert(ctx, alertsdb.OpenAlertParams{Kind: a.Kind, Severity: severity,
		Subject: Storable(a.Subject), DedupKey: Storable(a.DedupKey), Summary: Storable(a.Summary), Details: []byte(details)})
	if err != nil {
		return false, fmt.Errorf("open alert %s: %w", a.DedupKey, err)
	}
	return opened, nil
}

// Resolve resolves the open alert of dedupKey, if there is one, and reports whether there was.
func Resolve(ctx context.Context, db DB, dedupKey string) (bool, error) {
	n, err := alertsdb.New(db).ResolveAlert(ctx, Storable(dedupKey))
	if err != nil {
		return false, fmt.Errorf("resolve alert %s: %w", dedupKey, err)
	}
	return n > 0, nil
}

// Storable returns s as PostgreSQL text can hold it: valid UTF-8 without NUL bytes (each invalid sequence
// and NUL becomes U+FFFD).
func Storable(s string) string {
	s = strings.ToValidUTF8(s, "\ufffd")
	return strings.ReplaceAll(s, "\x00", "\ufffd")
}
