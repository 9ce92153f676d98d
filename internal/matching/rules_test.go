package matching

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func exp(id, kind string, amount int64, ref events.Reference) Expectation {
	return Expectation{Expectation: events.Expectation{ExpectationID: id, Kind: kind, Provider: "vandar",
		Account: "acme", Reference: ref, Amount: decimal.NewFromInt(amount), Currency: "IRT",
		ExpectedBy: t0.Add(24 * time.Hour), Status: events.ExpectationOpen}}
}

func line(id, kind string, amount int64, ref events.Reference) Line {
	return Line{ItemID: id, Kind: kind, State: LineCounted, Amount: decimal.NewFromInt(amount),
		Fee: decimal.NewFromInt(amount / 100), Currency: "IRT", At: t0.Add(time.Hour), Refs: ref}
}

func fn(v string) events.Reference { return events.Reference{FactorNumber: v} }

// summary is what a test compares: each expectation's status and wanted alerts, each line's role.
type summary struct {
	Exps  map[string]string
	Want  map[string][]string
	Roles map[string]string
	Pairs []string
}

func summarize(o Outcome) summary {
	s := summary{Exps: map[string]string{}, Want: map[string][]string{}, Roles: map[string]string{}}
	for id, st := range o.Expectations {
		s.Exps[id] = st.Status
		if len(st.Want) > 0 {
			s.Want[id] = st.Want
		}
	}
	for id, st := range o.Lines {
		s.Roles[id] = st.Role
	}
	for _, p := range o.Pairs {
		s.Pairs = append(s.Pairs, p.ExpectationID+"~"+p.ItemID+":"+p.Rule+":"+p.Role)
	}
	slices.Sort(s.Pairs)
	return s
}

func TestRules(t *testing.T) {
	t.Parallel()
	overdue := func(e Expectation) Expectation { e.Overdue = true; return e }
	cancelled := func(e Expectation) Expectation { e.Status = events.ExpectationCancelled; return e }
	failed := func(l Line) Line { l.State = LineFailed; return l }
	tests := []struct {
		name  string
		kind  string
		rule  Rule
		exps  []Expectation
		lines []Line
		want  summary
	}{
		{
			name: "a payment meets its order by factor number at the gross amount; the fee is no difference",
			kind: events.ExpectPayment,
			exps: []Expectation{exp("order-1", events.ExpectPayment, 500_000, fn("1643"))},
			lines: []Line{line("i1", events.ExpectPayment, 500_000, fn("1643")),
				line("i2", events.ExpectPayment, 500_000, fn("1644"))},
			want: summary{Exps: map[string]string{"order-1": StatusMatched}, Want: map[string][]string{},
				Roles: map[string]string{"i1": RoleMatch, "i2": ""}, Pairs: []string{"order-1~i1:payment.factor_number:match"}},
		},
		{
			name:  "a payment of another amount is an amount mismatch, at once",
			kind:  events.ExpectPayment,
			exps:  []Expectation{exp("order-1", events.ExpectPayment, 500_000, fn("1643"))},
			lines: []Line{line("i1", events.ExpectPayment, 490_000, fn("1643"))},
			want: summary{Exps: map[string]string{"order-1": StatusPartly},
				Want:  map[string][]string{"order-1": {AlertAmountMismatch}},
				Roles: map[string]string{"i1": RoleMatch}, Pairs: []string{"order-1~i1:payment.factor_number:match"}},
		},
		{
			name:  "within the percentage tolerance it matches",
			kind:  events.ExpectPayment,
			rule:  Rule{TolerancePercent: decimal.RequireFromString("2.5")},
			exps:  []Expectation{exp("order-1", events.ExpectPayment, 500_000, fn("1643"))},
			lines: []Line{line("i1", events.ExpectPayment, 490_000, fn("1643"))},
			want: summary{Exps: map[string]string{"order-1": StatusMatched}, Want: map[string][]string{},
				Roles: map[string]string{"i1": RoleMatch}, Pairs: []string{"order-1~i1:payment.factor_number:match"}},
		},
		{
			name:  "within the absolute tolerance it matches",
			kind:  events.ExpectPayment,
			rule:  Rule{Tolerance: decimal.NewFromInt(10_000)},
			exps:  []Expectation{exp("order-1", events.ExpectPayment, 500_000, fn("1643"))},
			lines: []Line{line("i1", events.ExpectPayment, 510_000, fn("1643"))},
			want: summary{Exps: map[string]string{"order-1": StatusMatched}, Want: map[string][]string{},
				Roles: map[string]string{"i1": RoleMatch}, Pairs: []string{"order-1~i1:payment.factor_number:match"}},
		},
		{
			name: "a second payment for one order is a duplicate: paid twice, overpaid",
			kind: events.ExpectPayment,
			exps: []Expectation{exp("order-1", events.ExpectPayment, 500_000, fn("1643"))},
			lines: []Line{line("i1", events.ExpectPayment, 500_000, fn("1643")),
				line("i2", events.ExpectPayment, 500_000, fn("1643"))},
			want: summary{Exps: map[string]string{"order-1": StatusOverpaid},
				Want:  map[string][]string{"order-1": {AlertPaidTwice}},
				Roles: map[string]string{"i1": RoleMatch, "i2": RoleDuplicate},
				Pairs: []string{"order-1~i1:payment.factor_number:match", "order-1~i2:payment.factor_number:duplicate"}},
		},
		{
			name:  "an order not paid is unmatched, and unpaid only once overdue",
			kind:  events.ExpectPayment,
			exps:  []Expectation{exp("order-1", events.ExpectPayment, 500_000, fn("1643")), overdue(exp("order-2", events.ExpectPayment, 1, fn("9")))},
			lines: nil,
			want: summary{Exps: map[string]string{"order-1": StatusUnmatched, "order-2": StatusUnmatched},
				Want: map[string][]string{"order-2": {AlertUnpaid}}, Roles: map[string]string{}},
		},
		{
			name:  "a cancelled order matches nothing and wants nothing; its payment is unexplained",
			kind:  events.ExpectPayment,
			exps:  []Expectation{overdue(cancelled(exp("order-1", events.ExpectPayment, 500_000, fn("1643"))))},
			lines: []Line{line("i1", events.ExpectPayment, 500_000, fn("1643"))},
			want: summary{Exps: map[string]string{"order-1": StatusCancelled}, Want: map[string][]string{},
				Roles: map[string]string{"i1": ""}},
		},
		{
			name: "a payout matches by track id before payment number",
			kind: events.ExpectPayout,
			exps: []Expectation{exp("p1", events.ExpectPayout, 2_000_000, events.Reference{TrackID: "T1", PaymentNumber: "77"}),
				exp("p2", events.ExpectPayout, 1_000_000, events.Reference{PaymentNumber: "77"})},
			lines: []Line{line("s1", events.ExpectPayout, 2_000_000, events.Reference{TrackID: "T1", PaymentNumber: "77"}),
				line("s2", events.ExpectPayout, 1_000_000, events.Reference{TrackID: "T9", PaymentNumber: "77"})},
			want: summary{Exps: map[string]string{"p1": StatusMatched, "p2": StatusMatched}, Want: map[string][]string{},
				Roles: map[string]string{"s1": RoleMatch, "s2": RoleMatch},
				Pairs: []string{"p1~s1:payout.track_id:match", "p2~s2:payout.payment_number:match"}},
		},
		{
			name:  "a failed settlement leaves its payout missing at once",
			kind:  events.ExpectPayout,
			exps:  []Expectation{exp("p1", events.ExpectPayout, 2_000_000, events.Reference{TrackID: "T1"})},
			lines: []Line{failed(line("s1", events.ExpectPayout, 2_000_000, events.Reference{TrackID: "T1"}))},
			want: summary{Exps: map[string]string{"p1": StatusUnmatched}, Want: map[string][]string{"p1": {AlertPayoutMissing}},
				Roles: map[string]string{"s1": RoleFailed}, Pairs: []string{"p1~s1:payout.track_id:failed"}},
		},
		{
			name: "with many_lines a payout split across batch items adds up; short of it is partly matched, no alert before the deadline",
			kind: events.ExpectPayout,
			rule: Rule{ManyLines: true},
			exps: []Expectation{exp("p1", events.ExpectPayout, 3_000_000, events.Reference{PaymentNumber: "88"}),
				exp("p2", events.ExpectPayout, 3_000_000, events.Reference{PaymentNumber: "99"})},
			lines: []Line{line("b1", events.ExpectPayout, 1_000_000, events.Reference{TrackID: "a", PaymentNumber: "88"}),
				line("b2", events.ExpectPayout, 2_000_000, events.Reference{TrackID: "b", PaymentNumber: "88"}),
				line("b3", events.ExpectPayout, 1_000_000, events.Reference{TrackID: "c", PaymentNumber: "99"})},
			want: summary{Exps: map[string]string{"p1": StatusMatched, "p2": StatusPartly}, Want: map[string][]string{},
				Roles: map[string]string{"b1": RoleMatch, "b2": RoleMatch, "b3": RoleMatch},
				Pairs: []string{"p1~b1:payout.payment_number:match", "p1~b2:payout.payment_number:match",
					"p2~b3:payout.payment_number:match"}},
		},
		{
			name: "without many_expectations two orders with one factor number each take a payment of their own amount",
			kind: events.ExpectPayment,
			exps: []Expectation{exp("o1", events.ExpectPayment, 700, fn("5")), exp("o2", events.ExpectPayment, 500, fn("5"))},
			lines: []Line{line("i1", events.ExpectPayment, 500, fn("5")),
				line("i2", events.ExpectPayment, 700, fn("5"))},
			want: summary{Exps: map[string]string{"o1": StatusMatched, "o2": StatusMatched}, Want: map[string][]string{},
				Roles: map[string]string{"i1": RoleMatch, "i2": RoleMatch},
				Pairs: []string{"o1~i2:payment.factor_number:match", "o2~i1:payment.factor_number:match"}},
		},
		{
			name:  "with many_expectations two orders are met by one payment of their sum",
			kind:  events.ExpectPayment,
			rule:  Rule{ManyExpectations: true},
			exps:  []Expectation{exp("o1", events.ExpectPayment, 700, fn("5")), exp("o2", events.ExpectPayment, 500, fn("5"))},
			lines: []Line{line("i1", events.ExpectPayment, 1200, fn("5"))},
			want: summary{Exps: map[string]string{"o1": StatusMatched, "o2": StatusMatched}, Want: map[string][]string{},
				Roles: map[string]string{"i1": RoleMatch},
				Pairs: []string{"o1~i1:payment.factor_number:match", "o2~i1:payment.factor_number:match"}},
		},
		{
			name: "a line outside the time window does not match",
			kind: events.ExpectPayment,
			rule: Rule{Window: 48 * time.Hour},
			exps: []Expectation{exp("o1", events.ExpectPayment, 700, fn("5"))},
			lines: []Line{func() Line {
				l := line("old", events.ExpectPayment, 700, fn("5"))
				l.At = t0.AddDate(-1, 0, 0)
				return l
			}()},
			want: summary{Exps: map[string]string{"o1": StatusUnmatched}, Want: map[string][]string{},
				Roles: map[string]string{"old": ""}},
		},
		{
			name: "a refund matches by the refunded payment's item id, else its factor number",
			kind: events.ExpectRefund,
			exps: []Expectation{exp("r1", events.ExpectRefund, 100, events.Reference{PaymentItemID: "171"}),
				exp("r2", events.ExpectRefund, 200, fn("1643"))},
			lines: []Line{line("f1", events.ExpectRefund, 100, events.Reference{PaymentItemID: "171", FactorNumber: "1"}),
				line("f2", events.ExpectRefund, 200, events.Reference{PaymentItemID: "172", FactorNumber: "1643"})},
			want: summary{Exps: map[string]string{"r1": StatusMatched, "r2": StatusMatched}, Want: map[string][]string{},
				Roles: map[string]string{"f1": RoleMatch, "f2": RoleMatch},
				Pairs: []string{"r1~f1:refund.payment_item_id:match", "r2~f2:refund.factor_number:match"}},
		},
		{
			name:  "another currency does not match",
			kind:  events.ExpectPayment,
			exps:  []Expectation{exp("o1", events.ExpectPayment, 700, fn("5"))},
			lines: []Line{func() Line { l := line("i1", events.ExpectPayment, 700, fn("5")); l.Currency = "EUR"; return l }()},
			want: summary{Exps: map[string]string{"o1": StatusUnmatched}, Want: map[string][]string{},
				Roles: map[string]string{"i1": ""}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := summarize(Match(tc.kind, tc.rule, tc.exps, tc.lines))
			if tc.want.Pairs == nil {
				tc.want.Pairs = nil
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
			// The verdict never depends on the order the rows come in.
			r := rand.New(rand.NewPCG(1, 2))
			for range 20 {
				exps, lines := slices.Clone(tc.exps), slices.Clone(tc.lines)
				r.Shuffle(len(exps), func(i, j int) { exps[i], exps[j] = exps[j], exps[i] })
				r.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
				if diff := cmp.Diff(got, summarize(Match(tc.kind, tc.rule, exps, lines))); diff != "" {
					t.Fatalf("a different order gave a different verdict (-first +shuffled)\n%s", diff)
				}
			}
		})
	}
}

func TestLineOfReadsReferencesFromTheRawItem(t *testing.T) {
	t.Parallel()
	pay := events.StatementItem{Provider: "vandar", Account: "acme", ItemID: "1", Kind: events.KindPayment,
		State: events.StateSucceeded, Direction: events.DirectionIn, MovedWallet: true, Amount: decimal.NewFromInt(5),
		Currency: "IRT", EffectiveAt: t0, Raw: []byte(`{"factorNumber": 1643, "payment_number": null}`)}
	l, ok := LineOf(pay, events.ReadRaw(pay.Raw), t0)
	if !ok || l.Kind != events.ExpectPayment || l.State != LineCounted || l.Refs.FactorNumber != "1643" {
		t.Fatalf("payment line = %+v, %v", l, ok)
	}
	pay.Raw = []byte(`{"factorNumber": " 92 "}`)
	if l, _ := LineOf(pay, events.ReadRaw(pay.Raw), t0); l.Refs.FactorNumber != "92" {
		t.Errorf("string factor number = %q", l.Refs.FactorNumber)
	}
	pending := pay
	pending.State, pending.MovedWallet = events.StatePending, false
	if l, ok := LineOf(pending, events.ReadRaw(pending.Raw), t0); !ok || l.State != LineVoid {
		t.Errorf("pending payment = %+v, %v; want a void line (updates an existing one only)", l, ok)
	}
	refund := events.StatementItem{ItemID: "2", Kind: events.KindRefund, State: events.StateSucceeded,
		Direction: events.DirectionOut, Raw: []byte(`{"refund": {"type": "IPG", "source_transaction": 171}}`)}
	if l, ok := LineOf(refund, events.ReadRaw(refund.Raw), t0); !ok || l.Kind != events.ExpectRefund || l.Refs.PaymentItemID != "171" {
		t.Errorf("refund line = %+v, %v", l, ok)
	}
	stl := events.StatementItem{ItemID: "3", Kind: events.KindSettlement, State: events.StateCanceled, TrackID: "T",
		Direction: events.DirectionOut, Raw: []byte(`{"payment_number": "4411"}`)}
	if l, ok := LineOf(stl, events.ReadRaw(stl.Raw), t0); !ok || l.Kind != events.ExpectPayout || l.State != LineFailed ||
		l.Refs.TrackID != "T" || l.Refs.PaymentNumber != "4411" {
		t.Errorf("cancelled settlement line = %+v, %v", l, ok)
	}
	cash := events.StatementItem{ItemID: "4", Kind: events.KindCashIn, Direction: events.DirectionIn, Raw: []byte(`{}`)}
	if _, ok := LineOf(cash, events.ReadRaw(cash.Raw), t0); ok {
		t.Error("a cash-in is no rule's line")
	}
}

func TestParseConfig(t *testing.T) {
	t.Parallel()
	c, err := ParseConfig([]byte(`
defaults:
  grace: 2h
  payment: {tolerance: "100", tolerance_percent: 0.5, window: 720h}
sources:
  vandar/acme:
    unexpected_grace: 10m
    refund: {no_unexpected: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	acme, other := c.For("vandar", "acme"), c.For("vandar", "zeytoon")
	if acme.Grace != 2*time.Hour || acme.UnexpectedGrace != 10*time.Minute || !acme.Refund.NoUnexpected ||
		!acme.Payment.Tolerance.Equal(decimal.NewFromInt(100)) || acme.Payment.Window != 720*time.Hour {
		t.Errorf("acme = %+v", acme)
	}
	if other.Grace != 2*time.Hour || other.UnexpectedGrace != DefaultUnexpectedGrace || other.Refund.NoUnexpected ||
		!other.Payment.TolerancePercent.Equal(decimal.RequireFromString("0.5")) {
		t.Errorf("zeytoon = %+v", other)
	}
	for name, bad := range map[string]string{
		"a misspelt setting":  "defaults:\n  grase: 1h\n",
		"a misspelt rule key": "defaults:\n  payment: {tolerence: 1}\n",
		"a bad source key":    "sources:\n  acme: {grace: 1h}\n",
		"a negative amount":   "defaults:\n  payout: {tolerance: \"-1\"}\n",
		"not a duration":      "defaults:\n  grace: soon\n",
	} {
		if _, err := ParseConfig([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if c, err := ParseConfig(nil); err != nil || c.For("a", "b").Grace != DefaultGrace {
		t.Errorf("empty file: %+v, %v", c, err)
	}
}
