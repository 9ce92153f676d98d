package analysts_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	ptime "github.com/yaa110/go-persian-calendar"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/ledger"
	"github.com/mizanhq/mizan/internal/pgtest"
	"github.com/mizanhq/mizan/internal/sources/vandar"
)

// Every column of every view in analytics carries a comment: \d+ explains it, and a column added without
// one fails here.
func TestEveryViewColumnIsCommented(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewDB(t)
	ctx := t.Context()
	var missing []string
	var columns int
	err := asAnalyst(ctx, pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM information_schema.columns c
		                            JOIN information_schema.views v USING (table_schema, table_name)
		                            WHERE c.table_schema = 'analytics'`).Scan(&columns); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `
			SELECT c.relname || '.' || a.attname
			FROM pg_class c
			JOIN pg_namespace n ON n.oid = c.relnamespace
			JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
			WHERE n.nspname = 'analytics' AND c.relkind IN ('v', 'm')
			  AND coalesce(btrim(col_description(c.oid, a.attnum)), '') = ''
			ORDER BY 1`)
		if err != nil {
			return err
		}
		missing, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if columns < 200 {
		t.Fatalf("only %d view columns visible to %s: the query is not looking at the views", columns, analyst)
	}
	for _, m := range missing {
		t.Errorf("analytics.%s has no COMMENT ON COLUMN", m)
	}
}

// tbRow is one account's line of a trial balance.
type tbRow struct {
	opening, debits, credits, net, closing decimal.Decimal
	postings                               int64
}

func (r tbRow) String() string {
	return fmt.Sprintf("opening %s debits %s credits %s net %s closing %s (%d postings)", r.opening, r.debits, r.credits,
		r.net, r.closing, r.postings)
}

func (a tbRow) equal(b tbRow) bool {
	return a.opening.Equal(b.opening) && a.debits.Equal(b.debits) && a.credits.Equal(b.credits) && a.net.Equal(b.net) &&
		a.closing.Equal(b.closing) && a.postings == b.postings
}

// modelTrialBalance is the trial balance of [start, end) from the fixture's model: each entry counts whole,
// at the time its last posting was booked.
func (f *fixture) modelTrialBalance(start, end time.Time) map[string]tbRow {
	entryBooked := map[string]time.Time{}
	for _, bs := range f.bookings {
		for _, b := range bs {
			if b.at.After(entryBooked[b.key]) {
				entryBooked[b.key] = b.at
			}
		}
	}
	out := map[string]tbRow{}
	for code, bs := range f.bookings {
		var r tbRow
		before := false
		for _, b := range bs {
			eb := entryBooked[b.key]
			switch {
			case eb.Before(start):
				r.opening = r.opening.Add(b.amount)
			case eb.Before(end):
				r.postings++
				if b.amount.IsPositive() {
					r.debits = r.debits.Add(b.amount)
				} else {
					r.credits = r.credits.Sub(b.amount)
				}
			}
			if b.at.Before(end) {
				before = true
			}
		}
		r.net = r.debits.Sub(r.credits)
		r.closing = r.opening.Add(r.net)
		if before {
			out[code] = r
		}
	}
	return out
}

func trialBalance(t *testing.T, f *fixture, first, last string) (map[string]tbRow, map[string]string) {
	t.Helper()
	type row struct {
		account, typ, currency string
		r                      tbRow
	}
	rows := query(t, f, `SELECT account, type, currency, opening_balance::text, debits::text, credits::text, net::text,
	                            closing_balance::text, postings
	                     FROM analytics.trial_balance($1::date, $2::date)`,
		func(r pgx.CollectableRow) (row, error) {
			var x row
			var o, d, c, n, cl string
			err := r.Scan(&x.account, &x.typ, &x.currency, &o, &d, &c, &n, &cl, &x.r.postings)
			if err == nil {
				x.r.opening, x.r.debits, x.r.credits, x.r.net, x.r.closing = dec(t, o), dec(t, d), dec(t, c), dec(t, n), dec(t, cl)
			}
			return x, err
		}, first, last)
	out, currency := map[string]tbRow{}, map[string]string{}
	for _, r := range rows {
		out[r.account], currency[r.account] = r.r, r.currency
	}
	return out, currency
}

// The trial balance of every Jalali month the fixture covers, of the fiscal year to date and of single days:
// the model's figures account by account, zero per currency, and each period opens where the previous closed.
func TestTrialBalanceAndProfitAndLoss(t *testing.T) {
	t.Parallel()
	f := setup(t)
	type period struct{ label, first, last string }
	periods := query(t, f, `SELECT label, first_day::text, last_day::text FROM analytics.jalali_periods
	                        WHERE period = 'month' AND last_day >= $1::date AND first_day <= $2::date ORDER BY first_day`,
		func(r pgx.CollectableRow) (period, error) {
			var p period
			return p, r.Scan(&p.label, &p.first, &p.last)
		}, f.tehranDay(f.now.Add(-history)), f.tehranDay(f.now))
	if len(periods) < 3 {
		t.Fatalf("the fixture covers %d Jalali months; want at least 3", len(periods))
	}
	fy := query(t, f, `SELECT label, first_day::text, (now() AT TIME ZONE 'Asia/Tehran')::date::text FROM analytics.jalali_periods
	                   WHERE period = 'fiscal_year' AND is_current`,
		func(r pgx.CollectableRow) (period, error) {
			var p period
			return p, r.Scan(&p.label, &p.first, &p.last)
		})
	// The days around the late fact: its postings were booked at different times.
	var lateTimes []time.Time
	for _, bs := range f.bookings {
		for _, b := range bs {
			if b.key == f.lateKey {
				lateTimes = append(lateTimes, b.at)
			}
		}
	}
	slices.SortFunc(lateTimes, time.Time.Compare)
	var days []period
	for _, at := range []time.Time{lateTimes[0], lateTimes[len(lateTimes)-1], f.boundary, f.boundary.Add(-time.Microsecond)} {
		d := f.tehranDay(at)
		days = append(days, period{"day " + d, d, d})
	}
	all := append(append(periods, fy...), days...)

	var previous map[string]tbRow
	for i, p := range all {
		t.Run(p.label, func(t *testing.T) {
			got, currency := trialBalance(t, f, p.first, p.last)
			start, err := time.ParseInLocation(time.DateOnly, p.first, f.tehran)
			if err != nil {
				t.Fatal(err)
			}
			end, err := time.ParseInLocation(time.DateOnly, p.last, f.tehran)
			if err != nil {
				t.Fatal(err)
			}
			want := f.modelTrialBalance(start, f.tehranMidnight(end, 1))
			for code, w := range want {
				if g, ok := got[code]; !ok || !g.equal(w) {
					t.Errorf("%s:\n got %v\nwant %v", code, g, w)
				}
			}
			for code := range got {
				if _, ok := want[code]; !ok {
					t.Errorf("%s is in the trial balance, not in the model", code)
				}
			}
			sums := map[string][4]decimal.Decimal{}
			for code, r := range got {
				s := sums[currency[code]]
				s[0], s[1], s[2], s[3] = s[0].Add(r.opening), s[1].Add(r.net), s[2].Add(r.closing), s[3].Add(r.debits.Sub(r.credits))
				sums[currency[code]] = s
				if !r.closing.Sub(r.opening).Equal(r.net) {
					t.Errorf("%s: closing - opening = %s, net %s", code, r.closing.Sub(r.opening), r.net)
				}
			}
			for cur, s := range sums {
				if !s[0].IsZero() || !s[1].IsZero() || !s[2].IsZero() || !s[3].IsZero() {
					t.Errorf("%s does not balance: opening %s, net %s, closing %s, debits - credits %s", cur, s[0], s[1], s[2], s[3])
				}
			}
			if _, ok := sums[events.CurrencyToman]; !ok {
				t.Errorf("no accounts in tomans: %v", sums)
			}
			// Consecutive months: each opens where the one before closed.
			if i > 0 && i < len(periods) {
				for code, r := range got {
					if prev, ok := previous[code]; ok && !prev.closing.Equal(r.opening) {
						t.Errorf("%s opens %s at %s, the month before closed at %s", code, p.label, r.opening, prev.closing)
					}
				}
			}
			if i < len(periods) {
				previous = got
			}

			// The P&L is the trial balance's income and expense accounts that moved; profit = -net.
			type pl struct {
				account, typ  string
				net, profit   decimal.Decimal
				debits, creds decimal.Decimal
			}
			pls := query(t, f, `SELECT account, type, net::text, profit::text, debits::text, credits::text
			                    FROM analytics.profit_and_loss($1::date, $2::date)`,
				func(r pgx.CollectableRow) (pl, error) {
					var x pl
					var n, pr, d, c string
					err := r.Scan(&x.account, &x.typ, &n, &pr, &d, &c)
					if err == nil {
						x.net, x.profit, x.debits, x.creds = dec(t, n), dec(t, pr), dec(t, d), dec(t, c)
					}
					return x, err
				}, p.first, p.last)
			seen := map[string]bool{}
			for _, r := range pls {
				seen[r.account] = true
				w := want[r.account]
				if (r.typ != "income" && r.typ != "expense") || !r.net.Equal(w.net) || !r.profit.Equal(w.net.Neg()) ||
					!r.debits.Equal(w.debits) || !r.creds.Equal(w.credits) {
					t.Errorf("P&L %s (%s): net %s profit %s debits %s credits %s; the period's movements: %v", r.account, r.typ, r.net,
						r.profit, r.debits, r.creds, w)
				}
			}
			for code, w := range want {
				typ := f.accounts[code].Type
				if (typ == ledger.AccountIncome || typ == ledger.AccountExpense) && w.postings > 0 && !seen[code] {
					t.Errorf("P&L lacks %s, which moved: %v", code, w)
				}
			}
		})
	}
}

// An entry whose postings were booked on different days (a late fact: each posting at its own account's
// latest booking) counts whole on the day its last posting was booked, so that every trial balance balances
// — also for a period that ends between its postings, where counting each posting by its own booking time
// would put 500 into the period on one account and not on the other.
func TestTrialBalanceOfALateFactThatStraddlesADay(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewDB(t)
	ctx := t.Context()
	loc, err := vandar.Tehran()
	if err != nil {
		t.Fatal(err)
	}
	day := func(d int) time.Time { return time.Date(2026, 4, d, 12, 0, 0, 0, loc) }
	wallet := ledger.Account{Code: "assets:vandar:acme:wallet", Type: ledger.AccountAsset, Currency: "IRT"}
	cashIn := ledger.Account{Code: "equity:vandar:acme:cash_in", Type: ledger.AccountEquity, Currency: "IRT"}
	sales := ledger.Account{Code: "income:vandar:acme:sales:ipg", Type: ledger.AccountIncome, Currency: "IRT"}
	entry := func(key string, at time.Time, amount int64, counter ledger.Account) ledger.Entry {
		return ledger.Entry{IdempotencyKey: key, EffectiveAt: at, Postings: []ledger.Posting{
			{Account: wallet, Amount: decimal.NewFromInt(amount)}, {Account: counter, Amount: decimal.NewFromInt(-amount)}}}
	}
	for _, batch := range [][]ledger.Entry{
		{entry("cash-1", day(2), 1000, cashIn), entry("sale-10", day(10), 300, sales)},
		{entry("cash-5-late", day(5), 500, cashIn)}, // wallet posting booked on day 10, cash-in's on day 5
	} {
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { _, err := ledger.Apply(ctx, tx, batch); return err }); err != nil {
			t.Fatal(err)
		}
	}
	type row struct {
		account                         string
		opening, debits, credits, close string
	}
	for _, tt := range []struct {
		name, first, last string
		want              []row
	}{
		{"a period ending between the late fact's postings leaves it out whole", "2026-04-01", "2026-04-07", []row{
			{"assets:vandar:acme:wallet", "0", "1000", "0", "1000"},
			{"equity:vandar:acme:cash_in", "0", "0", "1000", "-1000"}}},
		{"the period of its last posting takes it whole", "2026-04-08", "2026-04-30", []row{
			{"assets:vandar:acme:wallet", "1000", "800", "0", "1800"},
			{"equity:vandar:acme:cash_in", "-1000", "0", "500", "-1500"},
			{"income:vandar:acme:sales:ipg", "0", "0", "300", "-300"}}},
		{"a day between them", "2026-04-05", "2026-04-05", []row{
			{"assets:vandar:acme:wallet", "1000", "0", "0", "1000"},
			{"equity:vandar:acme:cash_in", "-1000", "0", "0", "-1000"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []row
			err := asAnalyst(ctx, pool, func(tx pgx.Tx) error {
				rows, err := tx.Query(ctx, `SELECT account, opening_balance::text, debits::text, credits::text, closing_balance::text
				                            FROM analytics.trial_balance($1::date, $2::date) ORDER BY account`, tt.first, tt.last)
				if err != nil {
					return err
				}
				got, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
					var x row
					return x, r.Scan(&x.account, &x.opening, &x.debits, &x.credits, &x.close)
				})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("trial balance %s..%s\n got %v\nwant %v", tt.first, tt.last, got, tt.want)
			}
		})
	}
}

// Finding a payment by what a customer or a bank quotes: the order number and the bank reference find the
// one entry, through the index, and every gateway payment shows the references its raw item carried.
func TestFindAPaymentByReference(t *testing.T) {
	t.Parallel()
	f := setup(t)
	var planted events.StatementItem
	type refs struct{ factor, ref, tracking, card, payment, track, iban string }
	want := map[string]refs{} // by item id
	for _, it := range f.items {
		if !it.MovedWallet {
			continue
		}
		var raw struct {
			Factor   *string `json:"factorNumber"`
			Ref      *string `json:"ref_id"`
			Tracking *string `json:"tracking_code"`
			Card     *string `json:"card_number"`
			Payment  *int64  `json:"payment_number"`
			Track    *string `json:"track_id"`
			Payer    struct {
				IBAN *string `json:"iban"`
			} `json:"payer"`
			Receiver struct {
				IBAN *string `json:"iban"`
			} `json:"receiver"`
		}
		if err := json.Unmarshal(it.Raw, &raw); err != nil {
			t.Fatal(err)
		}
		s := func(p *string) string {
			if p == nil {
				return ""
			}
			return *p
		}
		r := refs{factor: s(raw.Factor), ref: s(raw.Ref), tracking: s(raw.Tracking), card: s(raw.Card), track: s(raw.Track),
			iban: s(raw.Payer.IBAN)}
		if it.Direction == events.DirectionOut {
			r.iban = s(raw.Receiver.IBAN)
		}
		if raw.Payment != nil {
			r.payment = fmt.Sprint(*raw.Payment)
		}
		want[it.ItemID] = r
		if r.factor == fmt.Sprint(plantedOrder) {
			planted = it
		}
	}
	if planted.ItemID == "" {
		t.Fatalf("fixture: no gateway payment with order %d", plantedOrder)
	}

	type row struct {
		item string
		r    refs
	}
	rows := query(t, f, `SELECT item_id, coalesce(factor_number, ''), coalesce(ref_id, ''), coalesce(tracking_code, ''),
	                            coalesce(card_number, ''), coalesce(payment_number, ''), coalesce(track_id, ''), coalesce(iban, '')
	                     FROM analytics.wallet_movements WHERE item_id IS NOT NULL`,
		func(r pgx.CollectableRow) (row, error) {
			var x row
			return x, r.Scan(&x.item, &x.r.factor, &x.r.ref, &x.r.tracking, &x.r.card, &x.r.payment, &x.r.track, &x.r.iban)
		})
	withRefs := 0
	for _, r := range rows {
		if r.r != want[r.item] {
			t.Errorf("item %s: references %+v, the raw item says %+v", r.item, r.r, want[r.item])
		}
		if r.r != (refs{}) {
			withRefs++
		}
	}
	if withRefs < 100 {
		t.Errorf("only %d wallet movements carry references", withRefs)
	}

	for _, q := range []string{
		`SELECT item_id FROM analytics.wallet_movements WHERE refs @> ARRAY['1643']`,
		`SELECT item_id FROM analytics.wallet_movements WHERE refs @> ARRAY['391066915244']`,
		`SELECT item_id FROM analytics.wallet_movements WHERE factor_number = '1643' AND provider_account = 'acme'`,
		`SELECT item_id FROM analytics.wallet_movements WHERE ref_id = '391066915244'`,
	} {
		got := query(t, f, q, pgx.RowTo[string])
		if len(got) != 1 || got[0] != planted.ItemID {
			t.Errorf("%s\n= %v, want [%s]", q, got, planted.ItemID)
		}
	}
	// The view's refs is the expression the index holds, so the lookup can be an index scan. (On a ledger of
	// this size the planner may rather read the few entries whole; docs/analysts.md shows the plan on 100,000.)
	err := f.asAnalyst(t, func(tx pgx.Tx) error {
		var def string
		if err := tx.QueryRow(f.ctx, `SELECT pg_get_viewdef('analytics.wallet_movements'::regclass)`).Scan(&def); err != nil {
			return err
		}
		if !strings.Contains(def, "ledger.entry_references(e.metadata) AS refs") {
			t.Errorf("analytics.wallet_movements.refs is not ledger.entry_references(e.metadata):\n%s", def)
		}
		if _, err := tx.Exec(f.ctx, `SET LOCAL enable_seqscan = off`); err != nil {
			return err
		}
		rows, err := tx.Query(f.ctx, `EXPLAIN SELECT id FROM ledger.entries e WHERE ledger.entry_references(e.metadata) @> ARRAY['391066915244']`)
		if err != nil {
			return err
		}
		plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if !strings.Contains(strings.Join(plan, "\n"), "entries_references_idx") {
			t.Errorf("the lookup does not use entries_references_idx:\n%s", strings.Join(plan, "\n"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Settlements carry the merchant's track id.
	tracks := query(t, f, `SELECT item_id || ' ' || coalesce(track_id, '') FROM analytics.settlements WHERE item_id IS NOT NULL`, pgx.RowTo[string])
	for _, s := range tracks {
		item, track, _ := strings.Cut(s, " ")
		if track != "trk-"+item {
			t.Errorf("settlement %s: track_id %q, want trk-%s", item, track, item)
		}
	}
	if len(tracks) == 0 {
		t.Error("no settlements")
	}
}

// Suspense: each line with where it came from, its age, and whether an adjustment cleared it; the lines of
// an account add up to its balance.
func TestSuspense(t *testing.T) {
	t.Parallel()
	f := setup(t)
	type row struct {
		account, kind, key, item, topic, bucket, clearedBy, author string
		change                                                     decimal.Decimal
		open, isAdjustment, figures                                bool
		entry                                                      int64
		age                                                        time.Duration
		effective                                                  time.Time
	}
	rows := query(t, f, `SELECT account, kind, idempotency_key, coalesce(item_id, ''), coalesce(topic, ''), age_bucket,
	                            coalesce(cleared_by, ''), coalesce(adjustment_author, ''), suspense_change::text, is_open,
	                            is_adjustment, reported_figures ? 'available', entry_id, extract(epoch FROM age)::bigint,
	                            effective_at
	                     FROM analytics.suspense ORDER BY booked_at, entry_id`,
		func(r pgx.CollectableRow) (row, error) {
			var x row
			var change string
			var figures *bool
			var age int64
			err := r.Scan(&x.account, &x.kind, &x.key, &x.item, &x.topic, &x.bucket, &x.clearedBy, &x.author, &change, &x.open,
				&x.isAdjustment, &figures, &x.entry, &age, &x.effective)
			x.change, x.figures, x.age = dec(t, change), figures != nil && *figures, time.Duration(age)*time.Second
			return x, err
		})
	var sawSnapshot, sawAdjustment, sawCorrection bool
	sums := map[string]decimal.Decimal{}
	for _, r := range rows {
		sums[r.account] = sums[r.account].Add(r.change)
		var wantBucket string
		switch {
		case r.age < 8*24*time.Hour:
			wantBucket = "0-7 days"
		case r.age < 31*24*time.Hour:
			wantBucket = "8-30 days"
		case r.age < 91*24*time.Hour:
			wantBucket = "31-90 days"
		default:
			wantBucket = "over 90 days"
		}
		if r.bucket != wantBucket {
			t.Errorf("%s: age %s in bucket %s, want %s", r.key, r.age, r.bucket, wantBucket)
		}
		switch {
		case r.key == f.ybSuspenseKey:
			sawSnapshot = true
			if r.kind != "yabandpay_snapshot" || r.open || r.clearedBy != "postgres" || !r.figures || r.topic != events.TopicBalance ||
				!r.change.Equal(decimal.RequireFromString("-250")) {
				t.Errorf("YabandPay's unexplained 250.00: %+v; want a cleared snapshot line with its figures and topic", r)
			}
		case r.entry == f.adjustment:
			sawAdjustment = true
			if r.kind != "adjustment" || r.open || !r.isAdjustment || r.author != "postgres" || !r.change.Equal(decimal.NewFromInt(250)) {
				t.Errorf("the adjustment's line: %+v", r)
			}
		case r.kind == events.KindCorrection:
			sawCorrection = true
			if !r.open || r.account != "liabilities:vandar:acme:suspense" || r.item == "" || r.topic != events.TopicStatement ||
				!r.change.Equal(decimal.NewFromInt(-correction)) {
				t.Errorf("acme's correction: %+v; want an open line naming its item and topic", r)
			}
		default:
			t.Errorf("unexpected suspense line %+v", r)
		}
	}
	if !sawSnapshot || !sawAdjustment || !sawCorrection {
		t.Errorf("suspense lines: snapshot %v, adjustment %v, correction %v", sawSnapshot, sawAdjustment, sawCorrection)
	}
	for code, sum := range sums {
		if b := f.balanceBefore(code, f.now.Add(time.Hour)); !sum.Equal(b) {
			t.Errorf("%s: lines sum to %s, the balance is %s", code, sum, b)
		}
	}
}

// The Jalali columns of the views are the Go library's dates of their day.
func TestViewsJalaliColumns(t *testing.T) {
	t.Parallel()
	f := setup(t)
	for _, view := range []string{"daily_balances", "daily_movements", "wallet_movements", "daily_fees", "check_results"} {
		type row struct {
			day, date         string
			year, month, quar int
		}
		rows := query(t, f, `SELECT DISTINCT day::text, jalali_date, jalali_year, jalali_month, jalali_quarter FROM analytics.`+view,
			func(r pgx.CollectableRow) (row, error) {
				var x row
				return x, r.Scan(&x.day, &x.date, &x.year, &x.month, &x.quar)
			})
		if len(rows) < 50 {
			t.Errorf("%s: %d days", view, len(rows))
		}
		for _, r := range rows {
			d, err := time.Parse(time.DateOnly, r.day)
			if err != nil {
				t.Fatal(err)
			}
			p := ptime.New(d.Add(12 * time.Hour))
			want := row{r.day, fmt.Sprintf("%04d/%02d/%02d", p.Year(), int(p.Month()), p.Day()), p.Year(), int(p.Month()), (int(p.Month()) + 2) / 3}
			if r != want {
				t.Errorf("%s: %+v, want %+v", view, r, want)
			}
		}
	}
}
