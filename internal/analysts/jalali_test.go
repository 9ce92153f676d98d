package analysts_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	ptime "github.com/yaa110/go-persian-calendar"

	"github.com/mizanhq/mizan/internal/pgtest"
	"github.com/mizanhq/mizan/internal/sources/vandar"
)

// jalaliRange is every day the SQL conversion is checked on: Jalali 1300/01/01 (1921-03-21) to the end of
// 1500 — two centuries, about 73,000 days, 48 leap years, every Nowruz and every Esfand 29/30 among them.
var (
	jalaliFirst = time.Date(1921, 3, 21, 0, 0, 0, 0, time.UTC)
	jalaliLast  = time.Date(2122, 3, 20, 0, 0, 0, 0, time.UTC)
)

// The SQL calendar (migrations/00091_jalali_calendar.sql) gives every day the Jalali date, year, month, day
// and quarter that github.com/yaa110/go-persian-calendar — the library mizan's Go code uses — gives it, and
// from_jalali turns each back into the same day.
func TestJalaliConversionInSQLEqualsGo(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewDB(t)
	ctx := t.Context()

	type day struct {
		day                       time.Time
		date                      string
		year, month, dom, q, doy  int
		leap                      bool
		back, newYear, monthStart time.Time
	}
	var days []day
	err := asAnalyst(ctx, pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			SELECT d::date, analytics.jalali_date(d::date), analytics.jalali_year(d::date), analytics.jalali_month(d::date),
			       analytics.jalali_day(d::date), analytics.jalali_quarter(d::date), analytics.jalali_day_of_year(d::date),
			       analytics.jalali_is_leap(analytics.jalali_year(d::date)),
			       analytics.from_jalali(analytics.jalali_year(d::date), analytics.jalali_month(d::date), analytics.jalali_day(d::date)),
			       analytics.jalali_new_year(analytics.jalali_year(d::date)),
			       analytics.jalali_month_start(analytics.jalali_year(d::date), analytics.jalali_month(d::date))
			FROM generate_series($1::date, $2::date, interval '1 day') d`, jalaliFirst, jalaliLast)
		if err != nil {
			return err
		}
		days, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (day, error) {
			var x day
			return x, r.Scan(&x.day, &x.date, &x.year, &x.month, &x.dom, &x.q, &x.doy, &x.leap, &x.back, &x.newYear, &x.monthStart)
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := int(jalaliLast.Sub(jalaliFirst).Hours()/24) + 1; len(days) != want {
		t.Fatalf("%d days converted, want %d", len(days), want)
	}
	bad := 0
	leapYears := map[int]bool{}
	for _, d := range days {
		// A date at noon: ptime converts the calendar day, whatever the zone.
		p := ptime.New(time.Date(d.day.Year(), d.day.Month(), d.day.Day(), 12, 0, 0, 0, time.UTC))
		want := fmt.Sprintf("%04d/%02d/%02d", p.Year(), int(p.Month()), p.Day())
		nowruz := ptime.Date(p.Year(), ptime.Farvardin, 1, 12, 0, 0, 0, time.UTC).Time()
		first := ptime.Date(p.Year(), p.Month(), 1, 12, 0, 0, 0, time.UTC).Time()
		got := []any{d.date, d.year, d.month, d.dom, d.q, d.doy, d.leap, d.back.Format(time.DateOnly),
			d.newYear.Format(time.DateOnly), d.monthStart.Format(time.DateOnly)}
		exp := []any{want, p.Year(), int(p.Month()), p.Day(), (int(p.Month()) + 2) / 3, p.YearDay(), p.IsLeap(),
			d.day.Format(time.DateOnly), nowruz.Format(time.DateOnly), first.Format(time.DateOnly)}
		if fmt.Sprint(got) != fmt.Sprint(exp) {
			bad++
			if bad <= 10 {
				t.Errorf("%s: SQL gives %v, Go (ptime) %v\n(date, year, month, day, quarter, day of year, leap, from_jalali, new year, month start)",
					d.day.Format(time.DateOnly), got, exp)
			}
		}
		if d.leap {
			leapYears[d.year] = true
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d days differ", bad, len(days))
	}
	// The range holds the leap years the rule says, and their extra day exists.
	for _, y := range []int{1399, 1403, 1408} {
		if !leapYears[y] {
			t.Errorf("%d should be a leap year", y)
		}
	}
	for _, y := range []int{1400, 1401, 1402, 1404, 1405} {
		if leapYears[y] {
			t.Errorf("%d should not be a leap year", y)
		}
	}
}

func TestFromJalaliRefusesDatesThatDoNotExist(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewDB(t)
	ctx := t.Context()
	for _, tt := range []struct {
		y, m, d int
		ok      bool
	}{
		{1403, 12, 30, true}, {1404, 12, 30, false}, {1404, 12, 29, true}, {1405, 7, 31, false}, {1405, 6, 31, true},
		{1405, 13, 1, false}, {1405, 0, 1, false}, {1405, 1, 0, false},
	} {
		var got time.Time
		err := asAnalyst(ctx, pool, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT analytics.from_jalali($1, $2, $3)`, tt.y, tt.m, tt.d).Scan(&got)
		})
		if (err == nil) != tt.ok {
			t.Errorf("from_jalali(%d, %d, %d) = %s, %v; want ok %v", tt.y, tt.m, tt.d, got.Format(time.DateOnly), err, tt.ok)
		}
	}
}

// A moment's Jalali date is its Tehran calendar day's, on either side of Tehran midnight at Nowruz — in
// years when Iran moved its clocks at Nowruz (+03:30 to +04:30, until 2022) and after — and Go agrees.
func TestJalaliDateOfAMomentInTehran(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewDB(t)
	ctx := t.Context()
	tehran, err := vandar.Tehran()
	if err != nil {
		t.Fatal(err)
	}
	var moments []time.Time
	for _, y := range []int{1398, 1399, 1400, 1401, 1402, 1403, 1404, 1405, 1406, 1408} {
		// The first instant of 1 Farvardin in Tehran, whatever the offset: the end of the previous day.
		nowruz := ptime.Date(y, ptime.Farvardin, 1, 12, 0, 0, 0, tehran).Time()
		start := time.Date(nowruz.Year(), nowruz.Month(), nowruz.Day(), 0, 0, 0, 0, tehran)
		for start.In(tehran).Day() != nowruz.Day() { // a midnight the clocks skipped: 01:00 is the day's start
			start = start.Add(time.Minute)
		}
		for _, d := range []time.Duration{-time.Hour, -time.Microsecond, 0, time.Microsecond, 5 * time.Hour, 24*time.Hour - time.Microsecond} {
			moments = append(moments, start.Add(d))
		}
	}
	var got []string
	err = asAnalyst(ctx, pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT analytics.jalali_date((m AT TIME ZONE 'Asia/Tehran')::date)
		                            FROM unnest($1::timestamptz[]) WITH ORDINALITY u(m, i) ORDER BY i`, moments)
		if err != nil {
			return err
		}
		got, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range moments {
		p := ptime.New(m.In(tehran))
		if want := fmt.Sprintf("%04d/%02d/%02d", p.Year(), int(p.Month()), p.Day()); got[i] != want {
			t.Errorf("%s (Tehran %s): SQL %s, Go %s", m.UTC().Format(time.RFC3339Nano), m.In(tehran).Format("2006-01-02 15:04:05.999999 -07:00"), got[i], want)
		}
	}
}

// analytics.jalali_periods: months tile each fiscal year without gap or overlap, quarters are three months,
// a fiscal year is Nowruz to the day before the next, and each period's instants are Tehran's midnights.
func TestJalaliPeriods(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewDB(t)
	ctx := t.Context()
	var problems []string
	err := asAnalyst(ctx, pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			WITH p AS (SELECT * FROM analytics.jalali_periods)
			SELECT format('%s %s: %s', period, label, problem) FROM (
			    SELECT period, label, 'does not start on its first Jalali day' AS problem FROM p
			    WHERE analytics.jalali_day(first_day) <> 1
			       OR (period = 'month' AND analytics.jalali_month(first_day) <> number)
			       OR (period = 'quarter' AND analytics.jalali_month(first_day) <> 3 * number - 2)
			       OR (period = 'fiscal_year' AND first_day <> analytics.jalali_new_year(jalali_year))
			    UNION ALL
			    SELECT period, label, 'does not end on the day before the next period starts' FROM p
			    WHERE analytics.jalali_day(last_day + 1) <> 1
			       OR (period = 'fiscal_year' AND analytics.jalali_year(last_day + 1) <> jalali_year + 1)
			    UNION ALL
			    SELECT period, label, 'has the wrong number of days' FROM p
			    WHERE days <> last_day - first_day + 1
			       OR (period = 'month' AND days <> CASE WHEN number <= 6 THEN 31 WHEN number <= 11 THEN 30
			                                             WHEN analytics.jalali_is_leap(jalali_year) THEN 30 ELSE 29 END)
			       OR (period = 'fiscal_year' AND days <> CASE WHEN analytics.jalali_is_leap(jalali_year) THEN 366 ELSE 365 END)
			    UNION ALL
			    SELECT period, label, 'instants are not Tehran midnights' FROM p
			    WHERE (starts_at AT TIME ZONE 'Asia/Tehran')::date <> first_day
			       OR ((starts_at - interval '1 microsecond') AT TIME ZONE 'Asia/Tehran')::date <> first_day - 1
			       OR (ends_at AT TIME ZONE 'Asia/Tehran')::date <> last_day + 1
			       OR ((ends_at - interval '1 microsecond') AT TIME ZONE 'Asia/Tehran')::date <> last_day
			    UNION ALL
			    SELECT 'month', y::text, 'months do not tile the fiscal year' FROM (
			        SELECT jalali_year AS y, sum(days) AS days, min(first_day) AS f, max(last_day) AS l
			        FROM p WHERE period = 'month' GROUP BY jalali_year) m
			    JOIN p ON p.period = 'fiscal_year' AND p.jalali_year = m.y
			    WHERE m.days <> p.days OR m.f <> p.first_day OR m.l <> p.last_day
			    UNION ALL
			    SELECT 'current', count(*)::text, 'periods contain today, want 3' FROM p WHERE is_current HAVING count(*) <> 3
			) x ORDER BY 1 LIMIT 20`)
		if err != nil {
			return err
		}
		problems, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
	var n int
	if err := asAnalyst(ctx, pool, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM analytics.jalali_periods WHERE label IN ('1405/01', '1405/Q1', '1405')
		                           AND first_day = date '2026-03-21'`).Scan(&n)
	}); err != nil || n != 3 {
		t.Errorf("Farvardin, Q1 and FY 1405 starting 2026-03-21: %d rows, %v", n, err)
	}
}
