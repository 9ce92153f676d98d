package matching

import (
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/checks"
	"github.com/mizanhq/mizan/internal/events"
)

// expectationSubject names an expectation in alerts: provider/account/expectation/id, so the analysts'
// open_alerts view reads the provider and account from it like from every other subject.
func expectationSubject(a account, id string) string {
	return fmt.Sprintf("%s/%s/expectation/%s", a.provider, a.account, id)
}

func dedupKey(kind, subject string) string { return kind + ":" + subject }

// resolved is the OK result that resolves an alert whose condition has cleared.
func resolved(kind, subject string) checks.Result {
	return checks.Result{Check: kind, Subject: subject, Outcome: checks.OK, DedupKey: dedupKey(kind, subject),
		Details: map[string]any{"resolved": "the condition cleared"}}
}

func severity(kind string) string {
	switch kind {
	case AlertUnpaid, AlertUnexpected:
		return checks.SeverityWarning
	}
	return checks.SeverityCritical
}

func describeRef(r events.Reference) string {
	var parts []string
	for _, k := range []string{RefFactorNumber, RefTrackID, RefPaymentNumber, RefPaymentItemID} {
		if v := refValue(r, k); v != "" {
			parts = append(parts, k+" "+v)
		}
	}
	return strings.Join(parts, ", ")
}

func money(d decimal.Decimal, currency string) string { return d.String() + " " + currency }

// expectationResult opens an alert of kind about one expectation, naming it, the lines involved and the amounts.
func expectationResult(kind string, a account, e Expectation, st ExpectationState, pairs []Pair, g *group,
	through time.Time, complete bool) checks.Result {
	subject := expectationSubject(a, e.ExpectationID)
	expected := e.Amount
	r := checks.Result{Check: kind, Subject: subject, Outcome: checks.Mismatch, DedupKey: dedupKey(kind, subject),
		Severity: severity(kind), WindowEnd: e.ExpectedBy, Expected: &expected}
	if complete {
		r.Watermark = through
	}
	var items, lines []string
	lineAmounts := map[string]string{}
	for _, p := range pairs {
		l := g.lines[lineKey{a.provider, a.account, p.ItemID}]
		items = append(items, p.ItemID)
		lineAmounts[p.ItemID] = money(l.Amount, l.Currency)
		lines = append(lines, fmt.Sprintf("item %s (%s, %s)", p.ItemID, money(l.Amount, l.Currency), p.Role))
	}
	r.Details = map[string]any{"expectation_id": e.ExpectationID, "kind": e.Kind, "reference": describeRef(e.Reference),
		"amount": e.Amount.String(), "currency": e.Currency, "expected_by": e.ExpectedBy, "match_status": st.Status,
		"items": items, "item_amounts": lineAmounts}
	what := fmt.Sprintf("%s %s: %s %s (%s) of %s expected by %s", a.provider, a.account, e.Kind, e.ExpectationID,
		describeRef(e.Reference), money(e.Amount, e.Currency), e.ExpectedBy.UTC().Format(time.RFC3339))
	switch kind {
	case AlertUnpaid:
		zero := decimal.Zero
		r.Actual, r.Difference = &zero, ptr(e.Amount.Neg())
		r.Summary = fmt.Sprintf("%s is unpaid: no successful payment with its factor number in the statement, "+
			"complete up to %s", what, through.UTC().Format(time.RFC3339))
	case AlertPayoutMissing:
		r.Actual, r.Difference = ptr(decimal.Zero), ptr(e.Amount.Neg())
		if st.Failed.IsPositive() {
			r.Summary = fmt.Sprintf("%s is missing: its %s failed or was cancelled: %s", what,
				map[bool]string{true: "refund", false: "settlement"}[e.Kind == events.ExpectRefund], strings.Join(lines, ", "))
		} else {
			r.Summary = fmt.Sprintf("%s is missing: no %s with its reference in the statement, complete up to %s", what,
				map[bool]string{true: "refund", false: "settlement"}[e.Kind == events.ExpectRefund],
				through.UTC().Format(time.RFC3339))
		}
	case AlertAmountMismatch:
		r.Actual = ptr(st.Matched)
		d := st.Matched.Sub(e.Amount)
		if len(pairs) > 0 {
			r.Expected, d = ptr(pairs[0].GroupExpected), pairs[0].GroupMatched.Sub(pairs[0].GroupExpected)
		}
		r.Difference = &d
		r.Summary = fmt.Sprintf("%s was met by %s for %s: a difference of %s (tolerance %s)", what,
			strings.Join(lines, ", "), money(st.Matched, e.Currency), money(d, e.Currency), st.Tolerance)
	case AlertPaidTwice:
		total := st.Matched.Add(st.Duplicate)
		r.Actual, r.Difference = ptr(total), ptr(total.Sub(e.Amount))
		r.Summary = fmt.Sprintf("%s was paid more than once: %s; %s more than expected", what,
			strings.Join(lines, ", "), money(st.Duplicate, e.Currency))
	}
	return r
}

// unexpectedResult opens the alert about a line nothing explains.
func unexpectedResult(a account, l Line, grace time.Duration) checks.Result {
	subject := checks.ItemSubject(a.provider, a.account, l.ItemID)
	zero := decimal.Zero
	return checks.Result{Check: AlertUnexpected, Subject: subject, Outcome: checks.Mismatch,
		DedupKey: dedupKey(AlertUnexpected, subject), Severity: severity(AlertUnexpected), WindowEnd: l.At,
		Expected: &zero, Actual: ptr(l.Amount), Difference: ptr(l.Amount),
		Details: map[string]any{"item_id": l.ItemID, "kind": l.Kind, "reference": describeRef(l.Refs),
			"amount": l.Amount.String(), "fee": l.Fee.String(), "currency": l.Currency, "effective_at": l.At,
			"first_seen_at": l.SeenAt},
		Summary: fmt.Sprintf("%s %s: %s item %s (%s) of %s on %s is explained by no expectation, %s after mizan saw it",
			a.provider, a.account, l.Kind, l.ItemID, describeRef(l.Refs), money(l.Amount, l.Currency),
			l.At.UTC().Format(time.RFC3339), grace)}
}

func ptr(d decimal.Decimal) *decimal.Decimal { return &d }
