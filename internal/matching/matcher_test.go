package matching_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/alerts"
	"github.com/mizanhq/mizan/internal/checks"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/matching"
	"github.com/mizanhq/mizan/internal/pgtest"
)

// day is the fixed day the tests happen on; every clock is injected.
var day = time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)

type fixture struct {
	t    *testing.T
	ctx  context.Context
	pool *pgxpool.Pool
	m    *matching.Matcher
	now  time.Time
}

func setup(t *testing.T, cfg matching.Config) *fixture {
	t.Helper()
	pool, _ := pgtest.NewDB(t)
	return &fixture{t: t, ctx: t.Context(), pool: pool, m: matching.New(cfg), now: day}
}

// tx runs f in a transaction and stores the alerts it returns, as the reconciler does.
func (f *fixture) tx(fn func(pgx.Tx) ([]checks.Result, error)) {
	f.t.Helper()
	err := pgx.BeginFunc(f.ctx, f.pool, func(tx pgx.Tx) error {
		results, err := fn(tx)
		if err != nil {
			return err
		}
		_, err = alerts.Record(f.ctx, tx, results)
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// record applies one batch: expectations, statement items and watermarks (stored first, as apply does).
func (f *fixture) record(exps []events.Expectation, items []events.StatementItem, marks ...events.Watermark) {
	f.t.Helper()
	var stated []matching.Stated
	for _, x := range exps {
		ev, err := x.Event(f.now)
		if err != nil {
			f.t.Fatal(err)
		}
		stated = append(stated, matching.Stated{Expectation: x, EventID: ev.ID, Origin: matching.OriginKafka})
	}
	var its []matching.Item
	for _, it := range items {
		ev, err := it.Event()
		if err != nil {
			f.t.Fatal(err)
		}
		its = append(its, matching.Item{StatementItem: it, EventID: ev.ID})
	}
	f.tx(func(tx pgx.Tx) ([]checks.Result, error) {
		for _, w := range marks {
			if _, err := tx.Exec(f.ctx, `INSERT INTO recon.watermarks (provider, account, feed, source, through, last_event, polled_at)
				VALUES ($1, $2, $3, 'test', $4, $5, $4) ON CONFLICT (provider, account, feed) DO UPDATE SET through = EXCLUDED.through,
				last_event = EXCLUDED.last_event`, w.Provider, w.Account, w.Feed, w.Through, w.LastEvent); err != nil {
				return nil, err
			}
		}
		return f.m.Record(f.ctx, tx, stated, its, marks, f.now)
	})
}

// due runs the time-driven checks at the fixture's clock.
func (f *fixture) due() {
	f.t.Helper()
	f.tx(func(tx pgx.Tx) ([]checks.Result, error) { return f.m.Due(f.ctx, tx, f.now) })
}

// alerts lists the open alerts as "kind subject".
func (f *fixture) alerts() []string {
	f.t.Helper()
	rows, err := f.pool.Query(f.ctx, `SELECT kind || ' ' || subject FROM recon.alerts WHERE resolved_at IS NULL ORDER BY 1`)
	if err != nil {
		f.t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

func (f *fixture) summary(kind, subject string) string {
	f.t.Helper()
	var s string
	if err := f.pool.QueryRow(f.ctx, `SELECT summary FROM recon.alerts WHERE kind = $1 AND subject = $2 ORDER BY id DESC LIMIT 1`,
		kind, subject).Scan(&s); err != nil {
		f.t.Fatalf("alert %s %s: %v", kind, subject, err)
	}
	return s
}

// state lists every expectation's match status and every line's explanation.
func (f *fixture) state() []string {
	f.t.Helper()
	rows, err := f.pool.Query(f.ctx, `
		SELECT 'expectation ' || expectation_id || ' ' || match_status || coalesce(' ' || rule, '') || ' matched=' || matched_amount
		FROM recon.expectations
		UNION ALL
		SELECT 'line ' || item_id || ' ' || CASE WHEN explained THEN 'explained ' || role ELSE 'unexplained' END
		FROM recon.provider_lines
		UNION ALL
		SELECT 'match ' || expectation_id || '~' || item_id || ' ' || rule || ' ' || role || ' difference=' || difference
		FROM recon.matches
		ORDER BY 1`)
	if err != nil {
		f.t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

func expectation(id, kind string, amount int64, ref events.Reference, by time.Time) events.Expectation {
	return events.Expectation{ExpectationID: id, Kind: kind, Provider: "vandar", Account: "acme", Reference: ref,
		Amount: decimal.NewFromInt(amount), Currency: "IRT", ExpectedBy: by, Status: events.ExpectationOpen}
}

func item(id, kind, state, dir string, amount int64, at time.Time, raw map[string]any) events.StatementItem {
	b, _ := json.Marshal(raw)
	return events.StatementItem{Provider: "vandar", Account: "acme", ItemID: id, Kind: kind, State: state,
		Direction: dir, Amount: decimal.NewFromInt(amount), Fee: decimal.NewFromInt(amount / 100), Currency: "IRT",
		MovedWallet: state != events.StateFailed || kind != events.KindPayment, CreatedAt: at, EffectiveAt: at, Raw: b}
}

func payment(id string, amount int64, factor string, at time.Time) events.StatementItem {
	return item(id, events.KindPayment, events.StateSucceeded, events.DirectionIn, amount, at, map[string]any{"factorNumber": factor})
}

func settlement(id string, amount int64, track, state string, at time.Time) events.StatementItem {
	it := item(id, events.KindSettlement, state, events.DirectionOut, amount, at, map[string]any{"payment_number": nil})
	it.TrackID = track
	return it
}

func refund(id string, amount int64, of string, at time.Time) events.StatementItem {
	return item(id, events.KindRefund, events.StateSucceeded, events.DirectionOut, amount, at,
		map[string]any{"refund": map[string]any{"type": "IPG", "source_transaction": of}})
}

func statementThrough(t time.Time) events.Watermark {
	return events.Watermark{Provider: "vandar", Account: "acme", Feed: events.FeedStatement, Through: t}
}

const (
	subjectOrder   = "vandar/acme/expectation/order-1643"
	subjectPayout  = "vandar/acme/expectation/payout-7"
	subjectRefund  = "vandar/acme/expectation/refund-1"
	subjectLine171 = "vandar/acme/item/171"
)

// Each rule and alert, with the business's side arriving first, the provider's first, and both in one batch:
// the same matches, the same state and the same alerts every time. Then the statement passes every deadline
// and the timer runs: the deadline alerts come, the others stay.
func TestEachRuleAndAlertInBothArrivalOrders(t *testing.T) {
	t.Parallel()
	by := day.Add(6 * time.Hour)
	paid := day.Add(time.Hour)
	order := func(amount int64) []events.Expectation {
		return []events.Expectation{expectation("order-1643", events.ExpectPayment, amount, events.Reference{FactorNumber: "1643"}, by)}
	}
	tests := []struct {
		name       string
		exps       []events.Expectation
		items      []events.StatementItem
		state      []string
		alerts     []string // on arrival
		overdue    []string // once the statement is complete past every deadline
		summaryHas []string // words the last alert's summary must carry
	}{
		{
			name:  "a payment meets its order",
			exps:  order(500_000),
			items: []events.StatementItem{payment("171", 500_000, "1643", paid)},
			state: []string{"expectation order-1643 matched payment.factor_number matched=500000", "line 171 explained match",
				"match order-1643~171 payment.factor_number match difference=0"},
		},
		{
			name:  "a payment of another amount",
			exps:  order(500_000),
			items: []events.StatementItem{payment("171", 480_000, "1643", paid)},
			state: []string{"expectation order-1643 partly_matched payment.factor_number matched=480000", "line 171 explained match",
				"match order-1643~171 payment.factor_number match difference=-20000"},
			alerts:     []string{"amount_mismatch " + subjectOrder},
			overdue:    []string{"amount_mismatch " + subjectOrder},
			summaryHas: []string{"order-1643", "item 171", "480000 IRT", "-20000 IRT"},
		},
		{
			name:  "an order paid twice",
			exps:  order(500_000),
			items: []events.StatementItem{payment("171", 500_000, "1643", paid), payment("172", 500_000, "1643", paid.Add(time.Minute))},
			state: []string{"expectation order-1643 overpaid payment.factor_number matched=500000", "line 171 explained match",
				"line 172 explained duplicate", "match order-1643~171 payment.factor_number match difference=500000",
				"match order-1643~172 payment.factor_number duplicate difference=500000"},
			alerts:     []string{"paid_twice " + subjectOrder},
			overdue:    []string{"paid_twice " + subjectOrder},
			summaryHas: []string{"order-1643", "item 171", "item 172", "500000 IRT more"},
		},
		{
			name:       "an order never paid",
			exps:       order(500_000),
			items:      []events.StatementItem{payment("171", 500_000, "9999", paid)}, // another order's payment
			state:      []string{"expectation order-1643 unmatched matched=0", "line 171 unexplained"},
			overdue:    []string{"unpaid " + subjectOrder},
			summaryHas: []string{"order-1643", "factor_number 1643", "500000 IRT", "unpaid"},
		},
		{
			name:  "a payout meets its settlement by track id",
			exps:  []events.Expectation{expectation("payout-7", events.ExpectPayout, 2_000_000, events.Reference{TrackID: "T7"}, by)},
			items: []events.StatementItem{settlement("181", 2_000_000, "T7", events.StatePending, paid)},
			state: []string{"expectation payout-7 matched payout.track_id matched=2000000", "line 181 explained match",
				"match payout-7~181 payout.track_id match difference=0"},
		},
		{
			name:  "a payout whose settlement failed",
			exps:  []events.Expectation{expectation("payout-7", events.ExpectPayout, 2_000_000, events.Reference{TrackID: "T7"}, by)},
			items: []events.StatementItem{settlement("181", 2_000_000, "T7", events.StatePending, paid), settlement("181", 2_000_000, "T7", events.StateFailed, paid)},
			state: []string{"expectation payout-7 unmatched payout.track_id matched=0", "line 181 explained failed",
				"match payout-7~181 payout.track_id failed difference=-2000000"},
			alerts:     []string{"payout_missing " + subjectPayout},
			overdue:    []string{"payout_missing " + subjectPayout},
			summaryHas: []string{"payout-7", "track_id T7", "failed", "item 181"},
		},
		{
			name:       "a payout with no settlement",
			exps:       []events.Expectation{expectation("payout-7", events.ExpectPayout, 2_000_000, events.Reference{TrackID: "T7"}, by)},
			state:      []string{"expectation payout-7 unmatched matched=0"},
			overdue:    []string{"payout_missing " + subjectPayout},
			summaryHas: []string{"payout-7", "no settlement"},
		},
		{
			name: "a refund meets its line by the refunded payment's factor number",
			exps: []events.Expectation{expectation("refund-1", events.ExpectRefund, 100_000, events.Reference{FactorNumber: "1643"}, by)},
			items: []events.StatementItem{payment("171", 500_000, "1643", paid),
				refund("191", 100_000, "171", paid.Add(time.Hour))},
			state: []string{"expectation refund-1 matched refund.factor_number matched=100000", "line 171 unexplained",
				"line 191 explained match", "match refund-1~191 refund.factor_number match difference=0"},
		},
	}
	for _, tc := range tests {
		for _, order := range []string{"expectations first", "provider first", "one batch"} {
			t.Run(tc.name+", "+order, func(t *testing.T) {
				t.Parallel()
				f := setup(t, matching.Config{})
				switch order {
				case "expectations first":
					f.record(tc.exps, nil)
					f.record(nil, tc.items)
				case "provider first":
					f.record(nil, tc.items)
					f.record(tc.exps, nil)
				default:
					f.record(tc.exps, tc.items)
				}
				if diff := cmp.Diff(tc.state, f.state(), cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("state (-want +got)\n%s", diff)
				}
				if diff := cmp.Diff(tc.alerts, f.alerts(), cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("alerts on arrival (-want +got)\n%s", diff)
				}
				// The statement complete past the deadline and its grace: judged on the watermark's arrival.
				f.record(nil, nil, statementThrough(by.Add(matching.DefaultGrace)))
				if diff := cmp.Diff(tc.overdue, f.alerts(), cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("alerts once overdue (-want +got)\n%s", diff)
				}
				if len(tc.overdue) > 0 {
					a := strings.SplitN(tc.overdue[len(tc.overdue)-1], " ", 2)
					s := f.summary(a[0], a[1])
					for _, w := range tc.summaryHas {
						if !strings.Contains(s, w) {
							t.Errorf("summary %q does not say %q", s, w)
						}
					}
				}
			})
		}
	}
}

// An unpaid order is judged only against complete data: not while the statement lags behind its deadline
// plus the grace, however late the clock; not on a watermark whose vouched-for event has not been applied.
func TestUnpaidWaitsForTheStatementWatermark(t *testing.T) {
	t.Parallel()
	f := setup(t, matching.Config{Defaults: matching.Settings{Grace: 30 * time.Minute}})
	by := day.Add(2 * time.Hour)
	f.record([]events.Expectation{expectation("order-1643", events.ExpectPayment, 500_000, events.Reference{FactorNumber: "1643"}, by)}, nil)

	f.now = day.AddDate(0, 0, 30) // the clock is far past the deadline …
	f.record(nil, nil, statementThrough(by.Add(29*time.Minute)))
	f.due()
	if got := f.alerts(); len(got) != 0 {
		t.Fatalf("alerts while the statement is complete only to before the deadline plus grace: %v", got)
	}
	// A watermark vouching for an event not applied yet is not trusted.
	w := statementThrough(by.Add(time.Hour))
	w.LastEvent = "not-applied-yet"
	f.record(nil, nil, w)
	f.due()
	if got := f.alerts(); len(got) != 0 {
		t.Fatalf("alerts on a watermark whose last event is not applied: %v", got)
	}
	if _, err := f.pool.Exec(f.ctx, `INSERT INTO recon.processed_events (event_id) VALUES ('not-applied-yet')`); err != nil {
		t.Fatal(err)
	}
	f.due() // on the timer now: no batch arrives
	if diff := cmp.Diff([]string{"unpaid " + subjectOrder}, f.alerts()); diff != "" {
		t.Fatalf("alerts once the watermark is trusted (-want +got)\n%s", diff)
	}
	// The late payment resolves it.
	f.record(nil, []events.StatementItem{payment("171", 500_000, "1643", by.Add(3*time.Hour))})
	if got := f.alerts(); len(got) != 0 {
		t.Fatalf("alerts after the late payment: %v", got)
	}
	// An expectation arriving after its deadline has passed on complete data is unpaid at once.
	f.record([]events.Expectation{expectation("order-1650", events.ExpectPayment, 1000, events.Reference{FactorNumber: "1650"}, by)}, nil)
	if diff := cmp.Diff([]string{"unpaid vandar/acme/expectation/order-1650"}, f.alerts()); diff != "" {
		t.Fatalf("(-want +got)\n%s", diff)
	}
}

// A payout missing past its deadline resolves when the settlement turns up.
func TestMissingPayoutResolvesWhenItsSettlementArrives(t *testing.T) {
	t.Parallel()
	f := setup(t, matching.Config{})
	by := day.Add(2 * time.Hour)
	f.record([]events.Expectation{expectation("payout-7", events.ExpectPayout, 2_000_000, events.Reference{PaymentNumber: "4411"}, by)},
		nil, statementThrough(by.Add(2*time.Hour)))
	if diff := cmp.Diff([]string{"payout_missing " + subjectPayout}, f.alerts()); diff != "" {
		t.Fatalf("(-want +got)\n%s", diff)
	}
	s := settlement("181", 2_000_000, "T-other", events.StatePending, by.Add(3*time.Hour))
	s.Raw = json.RawMessage(`{"payment_number": 4411}`)
	f.record(nil, []events.StatementItem{s})
	if got := f.alerts(); len(got) != 0 {
		t.Fatalf("alerts after the settlement arrived: %v", got)
	}
	if got := f.state(); !slices.Contains(got, "match payout-7~181 payout.payment_number match difference=0") {
		t.Errorf("state: %v", got)
	}
}

// Cancelling an expectation resolves every alert about it; the line it explained is unexplained again and,
// after the grace, unexpected.
func TestCancellationResolvesAndUnexplains(t *testing.T) {
	t.Parallel()
	f := setup(t, matching.Config{})
	by := day.Add(2 * time.Hour)
	x := expectation("order-1643", events.ExpectPayment, 500_000, events.Reference{FactorNumber: "1643"}, by)
	f.record([]events.Expectation{x}, []events.StatementItem{payment("171", 500_000, "1643", day),
		payment("172", 400_000, "1643", day.Add(time.Minute))})
	if diff := cmp.Diff([]string{"paid_twice " + subjectOrder}, f.alerts()); diff != "" {
		t.Fatalf("(-want +got)\n%s", diff)
	}
	x.Status = events.ExpectationCancelled
	f.record([]events.Expectation{x}, nil)
	if got := f.alerts(); len(got) != 0 {
		t.Fatalf("alerts after the cancellation: %v", got)
	}
	want := []string{"expectation order-1643 cancelled matched=0", "line 171 unexplained", "line 172 unexplained"}
	if diff := cmp.Diff(want, f.state()); diff != "" {
		t.Errorf("state (-want +got)\n%s", diff)
	}
	f.now = f.now.Add(matching.DefaultUnexpectedGrace + time.Minute) // the later payment is effective a minute after it was seen
	f.due()
	want = []string{"unexpected " + subjectLine171, "unexpected vandar/acme/item/172"}
	if diff := cmp.Diff(want, f.alerts()); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	// Re-opened, it explains them again.
	x.Status = events.ExpectationOpen
	f.record([]events.Expectation{x}, nil)
	if diff := cmp.Diff([]string{"paid_twice " + subjectOrder}, f.alerts()); diff != "" {
		t.Errorf("after re-opening (-want +got)\n%s", diff)
	}
}

// Money nobody expected is alerted on the timer once the grace from when mizan saw it has passed — only for
// accounts and kinds the business publishes expectations of, only for lines with a reference, never for a
// kind turned off — and resolves when an expectation for it arrives.
func TestUnexpectedMoney(t *testing.T) {
	t.Parallel()
	cfg := matching.Config{Defaults: matching.Settings{UnexpectedGrace: 10 * time.Minute, Refund: matching.Rule{NoUnexpected: true}}}
	f := setup(t, cfg)
	noFactor := payment("170", 300_000, "", day) // a form payment: no reference
	f.record(nil, []events.StatementItem{payment("171", 500_000, "1643", day), noFactor,
		settlement("181", 1_000_000, "T1", events.StateSucceeded, day), refund("191", 1_000, "171", day)})
	f.now = day.Add(time.Hour)
	f.due()
	if got := f.alerts(); len(got) != 0 {
		t.Fatalf("alerts for an account that publishes no expectations: %v", got)
	}
	// The business starts publishing orders and refunds (not payouts).
	by := day.Add(time.Hour)
	f.record([]events.Expectation{
		expectation("order-1", events.ExpectPayment, 5, events.Reference{FactorNumber: "1"}, by),
		expectation("refund-9", events.ExpectRefund, 5, events.Reference{FactorNumber: "9"}, by)}, nil)
	f.due()
	// Seen at day 08:00, the grace is over: the referenced payment is unexpected; the form payment, the
	// settlement (no payout expectations) and the refund (turned off) are not.
	if diff := cmp.Diff([]string{"unexpected " + subjectLine171}, f.alerts()); diff != "" {
		t.Fatalf("(-want +got)\n%s", diff)
	}
	if s := f.summary("unexpected", subjectLine171); !strings.Contains(s, "item 171") || !strings.Contains(s, "500000 IRT") ||
		!strings.Contains(s, "factor_number 1643") {
		t.Errorf("summary: %s", s)
	}
	f.due() // judged once: the open alert is not raised again
	var n int
	if err := f.pool.QueryRow(f.ctx, `SELECT count(*) FROM recon.check_results WHERE check_name = 'unexpected'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("unexpected evaluations = %d, %v; want 1", n, err)
	}
	// A line seen now waits its grace.
	f.record(nil, []events.StatementItem{payment("173", 700, "1700", day)})
	f.due()
	if got := f.alerts(); len(got) != 1 {
		t.Errorf("a line just seen was alerted before its grace: %v", got)
	}
	// The order arrives late: resolved.
	f.record([]events.Expectation{expectation("order-1643", events.ExpectPayment, 500_000, events.Reference{FactorNumber: "1643"}, by)}, nil)
	if got := f.alerts(); len(got) != 0 {
		t.Errorf("alerts after the expectation arrived: %v", got)
	}
}

// since holds back history: a line effective before it is never unexpected, even when mizan first sees it
// after since (a backfill of an account the business has only just started publishing records for).
func TestNoLineEffectiveBeforeSinceIsUnexpected(t *testing.T) {
	t.Parallel()
	since := day.AddDate(0, 0, -1)
	f := setup(t, matching.Config{Defaults: matching.Settings{UnexpectedGrace: 10 * time.Minute, Since: since}})
	f.record([]events.Expectation{expectation("order-1", events.ExpectPayment, 5, events.Reference{FactorNumber: "1"},
		day.Add(time.Hour))}, nil)
	// Backfilled now: one payment from ten days before since, one from an hour after it.
	f.record(nil, []events.StatementItem{payment("171", 500_000, "1643", since.AddDate(0, 0, -10)),
		payment("172", 600_000, "1644", since.Add(time.Hour))})
	f.now = day.Add(time.Hour)
	f.due()
	if diff := cmp.Diff([]string{"unexpected vandar/acme/item/172"}, f.alerts()); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

// Importing the same CSV twice changes nothing the second time; an edited row replaces its expectation.
func TestCSVImportIsIdempotent(t *testing.T) {
	t.Parallel()
	f := setup(t, matching.Config{})
	f.record(nil, []events.StatementItem{payment("171", 500_000, "1643", day)})
	file := "expectation_id,kind,provider,account,factor_number,track_id,amount,currency,expected_by,status\n" +
		"order-1643,payment,vandar,acme,1643,,500000,IRT,2026-12-07T12:00:00Z,open\n" +
		"payout-7,payout,vandar,acme,,T7,2000000,IRT,2026-12-08T12:00:00Z,\n"
	imp := func(s string) matching.ImportStats {
		t.Helper()
		exps, err := matching.ReadCSV(strings.NewReader(s))
		if err != nil {
			t.Fatal(err)
		}
		st, err := f.m.Import(f.ctx, f.pool, exps, func() time.Time { return f.now })
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := imp(file); st.Rows != 2 || st.Changed != 2 {
		t.Fatalf("first import: %+v", st)
	}
	first := f.state()
	var updated time.Time
	if err := f.pool.QueryRow(f.ctx, `SELECT max(updated_at) FROM recon.expectations`).Scan(&updated); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(time.Hour)
	if st := imp(file); st.Rows != 2 || st.Changed != 0 {
		t.Fatalf("second import: %+v", st)
	}
	var again time.Time
	if err := f.pool.QueryRow(f.ctx, `SELECT max(updated_at) FROM recon.expectations`).Scan(&again); err != nil || !again.Equal(updated) {
		t.Errorf("the second import touched the rows: updated_at %s, then %s (%v)", updated, again, err)
	}
	if diff := cmp.Diff(first, f.state()); diff != "" {
		t.Errorf("state changed (-first +second)\n%s", diff)
	}
	if !slices.Contains(first, "expectation order-1643 matched payment.factor_number matched=500000") {
		t.Errorf("the import did not match with the known line: %v", first)
	}
	edited := strings.Replace(file, "500000,IRT", "450000,IRT", 1)
	if st := imp(edited); st.Changed != 1 {
		t.Errorf("edited import: %+v", st)
	}
	if diff := cmp.Diff([]string{"amount_mismatch " + subjectOrder}, f.alerts()); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

func TestCSVRefusesBadFilesWhole(t *testing.T) {
	t.Parallel()
	for name, file := range map[string]string{
		"an unknown column": "expectation_id,kind,provider,account,amount,currency,expected_by,colour\n",
		"a missing column":  "expectation_id,kind,provider,account,amount,currency\n",
		"a bad row": "expectation_id,kind,provider,account,factor_number,amount,currency,expected_by\n" +
			"o1,payment,vandar,acme,1,100,IRT,2026-12-07T12:00:00Z\n" +
			"o2,payment,vandar,acme,,100,IRT,2026-12-07T12:00:00Z\n", // a payment without a factor number
		"a repeated id": "expectation_id,kind,provider,account,factor_number,amount,currency,expected_by\n" +
			"o1,payment,vandar,acme,1,100,IRT,2026-12-07T12:00:00Z\n" +
			"o1,payment,vandar,acme,1,200,IRT,2026-12-07T12:00:00Z\n",
		"a short row": "expectation_id,kind,provider,account,factor_number,amount,currency,expected_by\n" +
			"o1,payment,vandar,acme,1,100,IRT\n",
		"an empty file": "",
	} {
		if exps, err := matching.ReadCSV(strings.NewReader(file)); err == nil {
			t.Errorf("%s: accepted %v", name, exps)
		} else if name == "a bad row" && !strings.Contains(err.Error(), "line 3") {
			t.Errorf("%s: the error does not name the line: %v", name, err)
		}
	}
}

// Matching is indexed lookups per arriving fact: with many open expectations, an arriving payment's lookup
// uses the reference index, never a scan.
func TestLookupsUseTheReferenceIndexes(t *testing.T) {
	t.Parallel()
	f := setup(t, matching.Config{})
	if _, err := f.pool.Exec(f.ctx, `
		INSERT INTO recon.expectations (provider, account, expectation_id, kind, reference, factor_number, amount,
			currency, expected_by, status, origin, first_seen_at, updated_at)
		SELECT 'vandar', 'acme', 'o' || g, 'payment', '{}', g::text, 1000, 'IRT', now(), 'open', 'csv', now(), now()
		FROM generate_series(1, 20000) g;
		ANALYZE recon.expectations`); err != nil {
		t.Fatal(err)
	}
	var plan []string
	err := pgx.BeginFunc(f.ctx, f.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(f.ctx, "EXPLAIN "+sqlOf(t, "expectations_by_refs"),
			[]string{"vandar"}, []string{"acme"}, []string{"payment"}, []string{"factor_number"}, []string{"42"},
			[]string{}, []string{}, []string{})
		if err != nil {
			return err
		}
		plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(plan, "\n")
	if strings.Contains(text, "Seq Scan on expectations") || !strings.Contains(text, "expectations_factor_number_idx") {
		t.Errorf("the lookup does not use the factor number index:\n%s", text)
	}
}

// A batch of payments lends its factor numbers to the refunds that named them before they arrived: each
// payment finds its refunds through the payment_item_id index, however many refund lines the history holds.
// make bench found the planner scanning every refund line against every payment of the batch.
func TestRefundsOfABatchsPaymentsAreFoundByIndex(t *testing.T) {
	t.Parallel()
	f := setup(t, matching.Config{})
	paymentLines(t, f, 60000)
	if _, err := f.pool.Exec(f.ctx, `
		-- A history of refunds, most already holding their payment's factor number.
		INSERT INTO recon.provider_lines (provider, account, item_id, kind, state, amount, fee, currency, effective_at,
			seen_at, factor_number, payment_item_id, event_id)
		SELECT 'vandar', 'acme' || (g * 3) % 50, 'r' || g, 'refund', 'counted', 1000, 0, 'IRT', now(), now(),
			CASE WHEN g % 6 = 0 THEN NULL ELSE g::text END, 'p' || g * 3, 'er' || g
		FROM generate_series(1, 17000) g;
		ANALYZE recon.provider_lines`); err != nil {
		t.Fatal(err)
	}
	batch := func(n int) (p, a, id []string) { // payments 3 to 3n, every third one refunded before it arrived
		for i := 1; i <= n; i++ {
			p, a, id = append(p, "vandar"), append(a, fmt.Sprintf("acme%d", i*3%50)), append(id, fmt.Sprintf("p%d", i*3))
		}
		return p, a, id
	}
	p, a, id := batch(1000)
	plan, fixed := planAndRun(t, f, "refund_factors_of_payments", p, a, id)
	if !regexp.MustCompile(`Index Cond: \(\(?payment_item_id\)? = `).MatchString(plan) {
		t.Errorf("the refunds are not looked up by payment_item_id:\n%s", plan)
	}
	// Nor are the batch's payments read by anything but their key: a make bench pass found them hash-joined
	// with every line holding a factor number, read through that index.
	readsByItemID(t, plan)
	if fixed != 166 { // refunds 6, 12, … 996 of payments 18, 36, … 2988 had none
		t.Errorf("%d refunds took their payment's factor number, want 166", fixed)
	}
}

// The other way round: a batch's refunds take their factor numbers from payments recorded before, each
// found by primary key, however many lines the account holds. make bench found the planner reading every
// line of the account for each refund.
func TestPaymentsOfABatchsRefundsAreFoundByKey(t *testing.T) {
	t.Parallel()
	f := setup(t, matching.Config{})
	// 50 accounts of payments, and a history of refunds most of which already hold their payment's factor
	// number; the batch is the last 98 refunds, recorded before they took it.
	paymentLines(t, f, 50000)
	if _, err := f.pool.Exec(f.ctx, `
		INSERT INTO recon.provider_lines (provider, account, item_id, kind, state, amount, fee, currency, effective_at,
			seen_at, factor_number, payment_item_id, event_id)
		SELECT 'vandar', 'acme' || g * 7 % 50, 'r' || g, 'refund', 'counted', 1000, 0, 'IRT', now(), now(),
			CASE WHEN g > 2000 THEN NULL ELSE (g * 7)::text END, 'p' || g * 7, 'er' || g
		FROM generate_series(1, 2098) g;
		ANALYZE recon.provider_lines`); err != nil {
		t.Fatal(err)
	}
	var p, a, id []string
	for g := 2001; g <= 2098; g++ {
		p, a, id = append(p, "vandar"), append(a, fmt.Sprintf("acme%d", g*7%50)), append(id, fmt.Sprintf("r%d", g))
	}
	plan, fixed := planAndRun(t, f, "refund_factors_of_refunds", p, a, id)
	readsByItemID(t, plan)
	if fixed != 98 {
		t.Errorf("%d refunds took their payment's factor number, want the batch's 98", fixed)
	}
}

// paymentLines records n payment lines over 50 accounts: payment pG in account acme<G mod 50>, with factor
// number G.
func paymentLines(t *testing.T, f *fixture, n int) {
	t.Helper()
	if _, err := f.pool.Exec(f.ctx, `
		INSERT INTO recon.provider_lines (provider, account, item_id, kind, state, amount, fee, currency, effective_at,
			seen_at, factor_number, event_id)
		SELECT 'vandar', 'acme' || g % 50, 'p' || g, 'payment', 'counted', 1000, 0, 'IRT', now(), now(), g::text, 'ep' || g
		FROM generate_series(1, $1::int) g`, n); err != nil {
		t.Fatal(err)
	}
}

// planAndRun explains the statement of file name with these arguments, then runs it, in one transaction: its
// plan as text, and how many rows it changed.
func planAndRun(t *testing.T, f *fixture, name string, args ...any) (plan string, changed int) {
	t.Helper()
	err := pgx.BeginFunc(f.ctx, f.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(f.ctx, "EXPLAIN "+sqlOf(t, name), args...)
		if err != nil {
			return err
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		plan = strings.Join(lines, "\n")
		tag, err := tx.Exec(f.ctx, sqlOf(t, name), args...)
		changed = int(tag.RowsAffected())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return plan, changed
}

// readsByItemID fails the test if the plan reads provider lines by anything but an item id — a sequential
// scan, or an index read without one, reads a whole account or every line of a kind.
func readsByItemID(t *testing.T, plan string) {
	t.Helper()
	for line := range strings.SplitSeq(plan, "\n") {
		if strings.Contains(line, "Index Cond:") && !strings.Contains(line, "item_id = ") ||
			strings.Contains(line, "Seq Scan on provider_lines") {
			t.Errorf("a read of provider lines without an item id: %s\n%s", strings.TrimSpace(line), plan)
			return
		}
	}
}

func sqlOf(t *testing.T, name string) string {
	t.Helper()
	b, err := matching.SQLFiles.ReadFile("sql/" + name + ".sql")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// statementLog is a pgx tracer that keeps every statement run.
type statementLog struct{ sqls []string }

func (s *statementLog) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	s.sqls = append(s.sqls, d.SQL)
	return ctx
}

func (s *statementLog) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// An account without expectations pays for recording its lines and nothing more: no lookup by reference, no
// match read. Its lines still wait for the expectation that arrives later, which finds and matches them.
func TestLinesOfAnAccountWithoutExpectationsAreOnlyRecorded(t *testing.T) {
	t.Parallel()
	f := setup(t, matching.Config{})
	_, url := pgtest.NewDB(t)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	log := &statementLog{}
	cfg.ConnConfig.Tracer = log
	cfg.MaxConns = 1
	if f.pool, err = pgxpool.NewWithConfig(f.ctx, cfg); err != nil {
		t.Fatal(err)
	}
	defer f.pool.Close()
	paid := day.Add(time.Hour)
	f.record(nil, []events.StatementItem{payment("171", 500_000, "1643", paid), payment("172", 300_000, "1650", paid)})
	for _, sql := range log.sqls {
		for _, lookup := range []string{"DISTINCT ON (provider, account, item_id)", // lines_by_refs
			"DISTINCT ON (provider, account, expectation_id)", // expectations_by_refs
			"FROM recon.matches"} {                            // matches_of
			if strings.Contains(sql, lookup) {
				t.Errorf("a batch of an account without expectations ran %.80q", sql)
			}
		}
	}
	if got, want := f.state(), []string{"line 171 unexplained", "line 172 unexplained"}; !slices.Equal(got, want) {
		t.Fatalf("after the lines: %q, want %q", got, want)
	}
	f.record([]events.Expectation{expectation("order-1643", events.ExpectPayment, 500_000, events.Reference{FactorNumber: "1643"},
		day.Add(6*time.Hour))}, nil)
	want := []string{"expectation order-1643 matched payment.factor_number matched=500000", "line 171 explained match",
		"line 172 unexplained", "match order-1643~171 payment.factor_number match difference=0"}
	if got := f.state(); !slices.Equal(got, want) {
		t.Fatalf("after the expectation: %q, want %q", got, want)
	}
	// With an expectation in the account, a line is matched on arrival again.
	log.sqls = nil
	f.record(nil, []events.StatementItem{payment("173", 500_000, "1643", paid.Add(time.Minute))})
	if got := f.state(); !slices.Contains(got, "line 173 explained duplicate") {
		t.Fatalf("a second payment of the order: %q, want line 173 a duplicate", got)
	}
}

// The check that spares accounts without expectations is itself a probe per account, never a scan of the
// expectations: it must stay cheap however many there are.
func TestTheAccountsWithExpectationsCheckProbesTheKey(t *testing.T) {
	t.Parallel()
	f := setup(t, matching.Config{})
	if _, err := f.pool.Exec(f.ctx, `
		INSERT INTO recon.expectations (provider, account, expectation_id, kind, reference, factor_number, amount,
			currency, expected_by, status, origin, first_seen_at, updated_at)
		SELECT 'vandar', 'acme' || g % 50, 'o' || g, 'payment', '{}', g::text, 1000, 'IRT', now(), 'open', 'csv', now(), now()
		FROM generate_series(1, 20000) g;
		ANALYZE recon.expectations`); err != nil {
		t.Fatal(err)
	}
	rows, err := f.pool.Query(f.ctx, "EXPLAIN "+sqlOf(t, "accounts_matched"), []string{"vandar", "vandar"}, []string{"acme7", "globex"})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(plan, "\n")
	if strings.Contains(text, "Seq Scan on expectations") || !strings.Contains(text, "expectations_pkey") {
		t.Errorf("the check does not probe the expectations' primary key:\n%s", text)
	}
}
