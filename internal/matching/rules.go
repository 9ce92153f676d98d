package matching

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
)

// Line states.
const (
	LineCounted = "counted" // the money moved: a successful payment in, a settlement or refund requested or done
	LineFailed  = "failed"  // a settlement or refund that failed or was cancelled: the money did not go
	LineVoid    = "void"    // once a line, no longer reported as money (a payment restated as not paid)
)

// Roles of a line in a match.
const (
	RoleMatch     = "match"     // counts towards the expectation's amount
	RoleDuplicate = "duplicate" // a further line the rule does not let the expectation take: paid twice
	RoleFailed    = "failed"    // the expectation's settlement or refund, failed or cancelled
)

// Match statuses of an expectation.
const (
	StatusMatched   = "matched"
	StatusPartly    = "partly_matched"
	StatusUnmatched = "unmatched"
	StatusOverpaid  = "overpaid"
	StatusCancelled = "cancelled"
)

// Expectation is an expectation as matching sees it: as last stated, and whether its deadline has passed on
// complete data.
type Expectation struct {
	events.Expectation
	Overdue bool
}

// Line is a provider statement line a rule is about.
type Line struct {
	ItemID   string
	Kind     string // the expectation kind that can explain it: events.ExpectPayment, ExpectPayout, ExpectRefund
	State    string // LineCounted, LineFailed or LineVoid
	Amount   decimal.Decimal
	Fee      decimal.Decimal
	Currency string
	At       time.Time // when it moved the wallet
	SeenAt   time.Time // when mizan first recorded it
	Refs     events.Reference
}

// Pair is one line meeting one expectation.
type Pair struct {
	ExpectationID string
	ItemID        string
	Rule          string // kind.reference, e.g. payment.factor_number
	Role          string
	Group         string // pairs matched together share it
	// The group's figures: what its expectations add up to, what its matching lines add up to, the
	// difference and the tolerance the rule allowed.
	GroupExpected, GroupMatched, Difference, Tolerance decimal.Decimal
}

// ExpectationState is what the rules make of one expectation.
type ExpectationState struct {
	Status     string
	Rule       string
	Matched    decimal.Decimal // lines with RoleMatch
	Duplicate  decimal.Decimal
	Failed     decimal.Decimal
	Difference *decimal.Decimal // matched + duplicate − expected, for its group; nil while unmatched
	Tolerance  decimal.Decimal
	Lines      int
	// Want are the alert kinds its state calls for (Alert* constants), sorted.
	Want []string
}

// LineState is what the rules make of one line.
type LineState struct {
	Explained bool
	Role      string
}

// Outcome is the rules' verdict on one group.
type Outcome struct {
	Pairs        []Pair
	Expectations map[string]ExpectationState // by expectation id
	Lines        map[string]LineState        // by item id
}

// keysOf lists, strongest first, the references a kind's rule matches by.
func keysOf(kind string) []string {
	switch kind {
	case events.ExpectPayment:
		return []string{RefFactorNumber}
	case events.ExpectPayout:
		return []string{RefTrackID, RefPaymentNumber}
	case events.ExpectRefund:
		return []string{RefPaymentItemID, RefFactorNumber}
	}
	return nil
}

// Reference names, as in the contract's reference object and the tables' columns.
const (
	RefFactorNumber  = "factor_number"
	RefTrackID       = "track_id"
	RefPaymentNumber = "payment_number"
	RefPaymentItemID = "payment_item_id"
)

func refValue(r events.Reference, key string) string {
	switch key {
	case RefFactorNumber:
		return r.FactorNumber
	case RefTrackID:
		return r.TrackID
	case RefPaymentNumber:
		return r.PaymentNumber
	case RefPaymentItemID:
		return r.PaymentItemID
	}
	return ""
}

// HasReference says whether a line carries any reference its kind's rule could match by: a line without one
// (a form payment has no factor number) can never be explained, and is never alerted as unexpected.
func HasReference(l Line) bool {
	for _, k := range keysOf(l.Kind) {
		if refValue(l.Refs, k) != "" {
			return true
		}
	}
	return false
}

// unit is what is matched as one: one expectation, or (ManyExpectations) every expectation sharing the
// reference.
type unit struct {
	exps    []Expectation
	matched []Line
	dups    []Line
	failed  []Line
	rule    string
	group   string
}

func (u *unit) expected() decimal.Decimal {
	sum := decimal.Zero
	for _, e := range u.exps {
		sum = sum.Add(e.Amount)
	}
	return sum
}

func sumOf(ls []Line) decimal.Decimal {
	sum := decimal.Zero
	for _, l := range ls {
		sum = sum.Add(l.Amount)
	}
	return sum
}

// Tolerance is the largest difference r accepts on an expected amount: the larger of its absolute and its
// percentage tolerance.
func (r Rule) tolerance(expected decimal.Decimal) decimal.Decimal {
	pct := expected.Mul(r.TolerancePercent).Div(decimal.NewFromInt(100))
	return decimal.Max(r.Tolerance, pct)
}

// inWindow says whether a line is close enough in time to one of the unit's expectations.
func (r Rule) inWindow(u *unit, l Line) bool {
	if r.Window <= 0 {
		return true
	}
	for _, e := range u.exps {
		if d := l.At.Sub(e.ExpectedBy); d <= r.Window && d >= -r.Window {
			return true
		}
	}
	return false
}

// Match applies kind's rule to one group: the expectations and lines of one provider account that share
// references. The result depends only on the group's contents, never on the order they are given in.
//
// For each reference the rule matches by, strongest first, the open expectations not yet matched are grouped
// by (currency, reference value); each group meets the lines with that currency and value not yet taken:
//   - Without ManyExpectations each expectation is a unit of its own; with it, all of the group's are one unit
//     whose amounts add up (two orders paid in one payment).
//   - Each unit takes first a line whose amount is within tolerance, else the earliest; with ManyLines it
//     goes on taking lines while it is short of its amount (a payout split across batch items).
//   - Lines left over go to the last unit: without ManyLines as duplicates (paid twice), with it as more of
//     the same (overpaid). Failed lines attach to the units in order (the payout that failed).
//
// Cancelled expectations match nothing.
func Match(kind string, r Rule, exps []Expectation, lines []Line) Outcome {
	exps = slices.Clone(exps)
	lines = slices.Clone(lines)
	slices.SortFunc(exps, func(a, b Expectation) int {
		return cmp.Or(a.ExpectedBy.Compare(b.ExpectedBy), cmp.Compare(a.ExpectationID, b.ExpectationID))
	})
	slices.SortFunc(lines, func(a, b Line) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.ItemID, b.ItemID))
	})
	placed := map[string]bool{}
	taken := map[string]bool{}
	var units []*unit
	for _, key := range keysOf(kind) {
		type gk struct{ currency, value string }
		var order []gk
		groups := map[gk][]Expectation{}
		for _, e := range exps {
			v := refValue(e.Reference, key)
			if placed[e.ExpectationID] || e.Status != events.ExpectationOpen || e.Kind != kind || v == "" {
				continue
			}
			k := gk{e.Currency, v}
			if _, ok := groups[k]; !ok {
				order = append(order, k)
			}
			groups[k] = append(groups[k], e)
		}
		for _, k := range order {
			var counted, failed []Line
			for _, l := range lines {
				if taken[l.ItemID] || l.Kind != kind || l.Currency != k.currency || refValue(l.Refs, key) != k.value {
					continue
				}
				switch l.State {
				case LineCounted:
					counted = append(counted, l)
				case LineFailed:
					failed = append(failed, l)
				}
			}
			if len(counted) == 0 && len(failed) == 0 {
				continue // a weaker reference may still find lines for these expectations
			}
			group := groups[k]
			var us []*unit
			rule := kind + "." + key
			if r.ManyExpectations {
				us = []*unit{{exps: group}}
			} else {
				for _, e := range group {
					us = append(us, &unit{exps: []Expectation{e}})
				}
			}
			for i, u := range us {
				u.rule = rule
				u.group = fmt.Sprintf("%s:%s:%s:%d", rule, k.currency, k.value, i)
			}
			assign(r, us, counted, failed, taken)
			for _, u := range us {
				if len(u.matched)+len(u.dups)+len(u.failed) == 0 {
					continue // nothing for this one: it stays to be placed by a weaker reference
				}
				for _, e := range u.exps {
					placed[e.ExpectationID] = true
				}
				units = append(units, u)
			}
		}
	}
	return outcome(kind, r, exps, lines, units)
}

// assign shares a reference group's lines among its units (see Match).
func assign(r Rule, us []*unit, counted, failed []Line, taken map[string]bool) {
	take := func(l Line) { taken[l.ItemID] = true }
	// First a line whose amount fits, for each unit in order; then the earliest line for those still empty.
	for _, u := range us {
		tol := r.tolerance(u.expected())
		for _, l := range counted {
			if !taken[l.ItemID] && r.inWindow(u, l) && l.Amount.Sub(u.expected()).Abs().LessThanOrEqual(tol) {
				u.matched = append(u.matched, l)
				take(l)
				break
			}
		}
	}
	for _, u := range us {
		if len(u.matched) > 0 {
			continue
		}
		for _, l := range counted {
			if !taken[l.ItemID] && r.inWindow(u, l) {
				u.matched = append(u.matched, l)
				take(l)
				break
			}
		}
	}
	if r.ManyLines {
		for _, u := range us {
			tol := r.tolerance(u.expected())
			for _, l := range counted {
				if sumOf(u.matched).Add(tol).GreaterThanOrEqual(u.expected()) {
					break
				}
				if !taken[l.ItemID] && r.inWindow(u, l) {
					u.matched = append(u.matched, l)
					take(l)
				}
			}
		}
	}
	last := us[len(us)-1]
	for _, l := range counted {
		if taken[l.ItemID] || !r.inWindow(last, l) {
			continue
		}
		if r.ManyLines {
			last.matched = append(last.matched, l)
		} else {
			last.dups = append(last.dups, l)
		}
		take(l)
	}
	i := 0
	for _, l := range failed {
		if taken[l.ItemID] {
			continue
		}
		u := us[min(i, len(us)-1)]
		if !r.inWindow(u, l) {
			continue
		}
		u.failed = append(u.failed, l)
		take(l)
		i++
	}
}

// outcome turns the units into each side's state and the pairs.
func outcome(kind string, r Rule, exps []Expectation, lines []Line, units []*unit) Outcome {
	out := Outcome{Expectations: map[string]ExpectationState{}, Lines: map[string]LineState{}}
	for _, l := range lines {
		out.Lines[l.ItemID] = LineState{}
	}
	inUnit := map[string]*unit{}
	for _, u := range units {
		for _, e := range u.exps {
			inUnit[e.ExpectationID] = u
		}
		expected, matched, dup := u.expected(), sumOf(u.matched), sumOf(u.dups)
		diff := matched.Add(dup).Sub(expected)
		tol := r.tolerance(expected)
		for _, role := range []struct {
			name string
			ls   []Line
		}{{RoleMatch, u.matched}, {RoleDuplicate, u.dups}, {RoleFailed, u.failed}} {
			for _, l := range role.ls {
				out.Lines[l.ItemID] = LineState{Explained: true, Role: role.name}
				for _, e := range u.exps {
					out.Pairs = append(out.Pairs, Pair{ExpectationID: e.ExpectationID, ItemID: l.ItemID, Rule: u.rule,
						Role: role.name, Group: u.group, GroupExpected: expected, GroupMatched: matched, Difference: diff,
						Tolerance: tol})
				}
			}
		}
	}
	for _, e := range exps {
		st := ExpectationState{Status: StatusUnmatched}
		u := inUnit[e.ExpectationID]
		switch {
		case e.Status == events.ExpectationCancelled:
			st.Status = StatusCancelled
		case u != nil:
			expected, matched, dup := u.expected(), sumOf(u.matched), sumOf(u.dups)
			st.Rule = u.rule
			st.Matched, st.Duplicate, st.Failed = matched, dup, sumOf(u.failed)
			st.Lines = len(u.matched) + len(u.dups) + len(u.failed)
			st.Tolerance = r.tolerance(expected)
			if len(u.matched) > 0 {
				d := matched.Add(dup).Sub(expected)
				st.Difference = &d
				switch {
				case d.GreaterThan(st.Tolerance):
					st.Status = StatusOverpaid
				case d.Neg().GreaterThan(st.Tolerance):
					st.Status = StatusPartly
				default:
					st.Status = StatusMatched
				}
			}
		}
		st.Want = want(kind, r, e, st, u)
		out.Expectations[e.ExpectationID] = st
	}
	return out
}

// Alert kinds, as stored in recon.alerts.kind.
const (
	AlertUnpaid         = "unpaid"
	AlertPayoutMissing  = "payout_missing"
	AlertAmountMismatch = "amount_mismatch"
	AlertPaidTwice      = "paid_twice"
	AlertUnexpected     = "unexpected"
)

// want lists the alerts an expectation's state calls for.
func want(kind string, r Rule, e Expectation, st ExpectationState, u *unit) []string {
	if e.Status != events.ExpectationOpen {
		return nil
	}
	var kinds []string
	hasMatch := u != nil && len(u.matched) > 0
	switch {
	case hasMatch:
	case kind == events.ExpectPayment:
		if e.Overdue {
			kinds = append(kinds, AlertUnpaid)
		}
	default: // a payout or refund: missing once overdue, or at once when its settlement failed
		if e.Overdue || (u != nil && len(u.failed) > 0) {
			kinds = append(kinds, AlertPayoutMissing)
		}
	}
	if hasMatch {
		d := sumOf(u.matched).Sub(u.expected())
		// Under ManyLines a shortfall may still be made up by lines to come: it is a mismatch only once the
		// deadline has passed on complete data.
		if d.Abs().GreaterThan(st.Tolerance) && (!r.ManyLines || d.IsPositive() || e.Overdue) {
			kinds = append(kinds, AlertAmountMismatch)
		}
		if len(u.dups) > 0 {
			kinds = append(kinds, AlertPaidTwice)
		}
	}
	slices.Sort(kinds)
	return kinds
}
