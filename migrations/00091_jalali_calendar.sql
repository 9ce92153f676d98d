-- The Jalali (Solar Hijri) calendar in SQL, for analysts: Iranian businesses close their books by Jalali
-- month, and the Iranian fiscal year runs from 1 Farvardin (Nowruz) to the last day of Esfand — the Jalali
-- year itself. Vandar's own dates are Jalali (providers/README.md).
--
-- The calendar: months 1–6 (Farvardin … Shahrivar) have 31 days, 7–11 (Mehr … Bahman) 30, Esfand 29, or 30
-- in a leap year. Leap years follow the 33-year arithmetic rule: year y is leap when (25·y + 11) mod 33 < 8 —
-- the rule of github.com/yaa110/go-persian-calendar (ptime), which mizan's Go code uses, so that SQL and Go
-- agree on every date (internal/analysts tests them against each other day by day). That rule and the
-- astronomical calendar Iran officially keeps give the same Nowruz for every year from 1200 to 1600 AP
-- (providers/facts.md §3.1: the two Go libraries, one arithmetic and one astronomical, agree there).
--
-- All functions take and give calendar dates (date), not instants: a Jalali date is a Tehran calendar day, as
-- every `day` column of the analytics views is. Turn an instant into one with (ts AT TIME ZONE 'Asia/Tehran')::date.
-- They are IMMUTABLE SQL expressions, so PostgreSQL inlines them into the queries that use them — which is
-- why none is declared STRICT: PostgreSQL does not inline a STRICT function whose body holds a CASE, and a
-- call that is not inlined costs a hundred times more. A NULL argument gives NULL all the same.

-- +goose Up
CREATE FUNCTION analytics.jalali_is_leap(year int) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (25 * year + 11) % 33 < 8;

COMMENT ON FUNCTION analytics.jalali_is_leap(int) IS
    'Whether a Jalali year is a leap year (Esfand has 30 days): (25·year + 11) mod 33 < 8. Years 1 and later.';

-- Nowruz of `year` is counted from Nowruz 1405 (2026-03-21): 365 days a year plus one per leap year in
-- between. (8·n + 29) / 33 is the number of leap years among years 1 … n under the rule above, so the days
-- from Nowruz 1 to Nowruz `year` are 365·(year − 1) + (8·(year − 1) + 29) / 33 = (12053·year + 21) / 33 − 365:
-- written so that `year` appears once, which lets PostgreSQL inline the function into its callers.
CREATE FUNCTION analytics.jalali_new_year(year int) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN date '2026-03-21' + (12053 * year + 21) / 33 - (12053 * 1405 + 21) / 33;

COMMENT ON FUNCTION analytics.jalali_new_year(int) IS
    'The Gregorian date of 1 Farvardin (Nowruz) of a Jalali year: the first day of its fiscal year.';

-- Nowruz falls in March, so the Jalali year is the Gregorian year − 621 from Nowruz on, and − 622 before it.
CREATE FUNCTION analytics.jalali_year(day date) RETURNS int
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN extract(year FROM day)::int - 621
           - CASE WHEN day < analytics.jalali_new_year(extract(year FROM day)::int - 621) THEN 1 ELSE 0 END;

COMMENT ON FUNCTION analytics.jalali_year(date) IS
    'The Jalali year of a day; also the Iranian fiscal year it belongs to (fiscal years start on 1 Farvardin).';

CREATE FUNCTION analytics.jalali_day_of_year(day date) RETURNS int
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN day - analytics.jalali_new_year(analytics.jalali_year(day)) + 1;

COMMENT ON FUNCTION analytics.jalali_day_of_year(date) IS 'Day of the Jalali year, 1 (1 Farvardin) to 365 or 366.';

-- Month and quarter are looked up by the day of the year (the arrays are constants, built once when a query
-- is planned), so that the day of the year is computed once per call.
CREATE FUNCTION analytics.jalali_month(day date) RETURNS int
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (array_fill(1, '{31}') || array_fill(2, '{31}') || array_fill(3, '{31}') || array_fill(4, '{31}')
            || array_fill(5, '{31}') || array_fill(6, '{31}') || array_fill(7, '{30}') || array_fill(8, '{30}')
            || array_fill(9, '{30}') || array_fill(10, '{30}') || array_fill(11, '{30}')
            || array_fill(12, '{30}'))[analytics.jalali_day_of_year(day)];

COMMENT ON FUNCTION analytics.jalali_month(date) IS 'Jalali month of a day: 1 Farvardin … 12 Esfand.';

CREATE FUNCTION analytics.jalali_quarter(day date) RETURNS int
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (array_fill(1, '{93}') || array_fill(2, '{93}') || array_fill(3, '{90}')
            || array_fill(4, '{90}'))[analytics.jalali_day_of_year(day)];

COMMENT ON FUNCTION analytics.jalali_quarter(date) IS
    'Quarter of the Jalali (fiscal) year: 1 = Farvardin–Khordad, 2 = Tir–Shahrivar, 3 = Mehr–Azar, 4 = Dey–Esfand.';

-- The day of the month: the day of the year less the days of the months before it.
CREATE FUNCTION analytics.jalali_day(day date) RETURNS int
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN analytics.jalali_day_of_year(day)
           - ('{0,31,62,93,124,155,186,216,246,276,306,336}'::int[])[analytics.jalali_month(day)];

COMMENT ON FUNCTION analytics.jalali_day(date) IS 'Day of the Jalali month, 1 to 31.';

-- Zero-padded, so that the text sorts as the dates do: '1405/01/09' < '1405/01/10'.
CREATE FUNCTION analytics.jalali_date(day date) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN analytics.jalali_year(day)::text || '/' || lpad(analytics.jalali_month(day)::text, 2, '0') || '/'
           || lpad(analytics.jalali_day(day)::text, 2, '0');

COMMENT ON FUNCTION analytics.jalali_date(date) IS
    'A day as a Jalali date, ''YYYY/MM/DD'' zero-padded (sorts as the dates do), e.g. ''1405/01/01'' for 2026-03-21.';

-- The first day of Jalali month `month` of `year` is Nowruz plus the months before it: 31 days each up to
-- Mehr (month 7 starts on day 187), 30 days each after. Month 13 is the next year's Farvardin, so that
-- "the day before month m + 1 starts" is the last day of month m for Esfand too.
CREATE FUNCTION analytics.jalali_month_start(year int, month int) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN month = 13 THEN analytics.jalali_new_year(year + 1)
                ELSE analytics.jalali_new_year(year)
                     + CASE WHEN month <= 7 THEN (month - 1) * 31 ELSE 186 + (month - 7) * 30 END END;

COMMENT ON FUNCTION analytics.jalali_month_start(int, int) IS
    'The Gregorian date of the first day of a Jalali month (month 1–12; 13 gives Nowruz of the next year).';

-- +goose StatementBegin
CREATE FUNCTION analytics.from_jalali(year int, month int, day int) RETURNS date
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS
$$
DECLARE
    days int := CASE WHEN month <= 6 THEN 31 WHEN month <= 11 THEN 30
                     WHEN analytics.jalali_is_leap(year) THEN 30 ELSE 29 END;
BEGIN
    IF year < 1 OR month NOT BETWEEN 1 AND 12 OR day NOT BETWEEN 1 AND days THEN
        RAISE EXCEPTION 'analytics.from_jalali: %/%/% is not a Jalali date', year, month, day
            USING ERRCODE = 'invalid_datetime_format',
                HINT = format('Months are 1–12; month %s of %s has %s days.', month, year, days);
    END IF;
    RETURN analytics.jalali_month_start(year, month) + day - 1;
END
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION analytics.from_jalali(int, int, int) IS
    'The Gregorian date of a Jalali date, e.g. analytics.from_jalali(1405, 1, 1) = 2026-03-21. Raises for a '
    'date that does not exist (1404/12/30: 1404 is not a leap year).';

-- Every Jalali month, quarter and fiscal year from 1350 (1971) to 1500 (2122), with its first and last day
-- and the instants it runs between in Tehran: the periods month-end, quarter and fiscal-year reports join on
-- or pass to analytics.trial_balance and analytics.profit_and_loss.
CREATE VIEW analytics.jalali_periods AS
WITH periods AS (
    SELECT 'month' AS period, y AS jalali_year, m AS number,
           y::text || '/' || lpad(m::text, 2, '0') AS label,
           (ARRAY['Farvardin', 'Ordibehesht', 'Khordad', 'Tir', 'Mordad', 'Shahrivar', 'Mehr', 'Aban', 'Azar',
                  'Dey', 'Bahman', 'Esfand'])[m] AS name,
           analytics.jalali_month_start(y, m) AS first_day,
           analytics.jalali_month_start(y, m + 1) - 1 AS last_day
    FROM generate_series(1350, 1500) y, generate_series(1, 12) m
    UNION ALL
    SELECT 'quarter', y, q, y::text || '/Q' || q, 'Q' || q || ' ' || y,
           analytics.jalali_month_start(y, 3 * q - 2), analytics.jalali_month_start(y, 3 * q + 1) - 1
    FROM generate_series(1350, 1500) y, generate_series(1, 4) q
    UNION ALL
    SELECT 'fiscal_year', y, 1, y::text, 'FY ' || y,
           analytics.jalali_new_year(y), analytics.jalali_new_year(y + 1) - 1
    FROM generate_series(1350, 1500) y
)
SELECT p.period, p.jalali_year, p.number, p.label, p.name, p.first_day, p.last_day,
       p.last_day - p.first_day + 1                                 AS days,
       p.first_day::timestamp AT TIME ZONE 'Asia/Tehran'            AS starts_at,
       (p.last_day + 1)::timestamp AT TIME ZONE 'Asia/Tehran'       AS ends_at,
       (p.last_day + 1)::timestamp AT TIME ZONE 'Asia/Tehran' <= now() AS closed,
       (now() AT TIME ZONE 'Asia/Tehran')::date BETWEEN p.first_day AND p.last_day AS is_current
FROM periods p;

COMMENT ON VIEW analytics.jalali_periods IS
    'Every Jalali month, quarter and fiscal year (1 Farvardin to the end of Esfand) from 1350 to 1500: its first '
    'and last Tehran day and the instants it runs between. Join a day column on first_day/last_day, or pass '
    'them to analytics.trial_balance and analytics.profit_and_loss.';
COMMENT ON COLUMN analytics.jalali_periods.period IS 'month, quarter or fiscal_year.';
COMMENT ON COLUMN analytics.jalali_periods.jalali_year IS 'The Jalali year, which is the Iranian fiscal year.';
COMMENT ON COLUMN analytics.jalali_periods.number IS 'The month (1 Farvardin … 12 Esfand) or the quarter (1–4); 1 for a fiscal year.';
COMMENT ON COLUMN analytics.jalali_periods.label IS '''1405/01'' (month), ''1405/Q1'' (quarter), ''1405'' (fiscal year): sorts in time order within a period kind.';
COMMENT ON COLUMN analytics.jalali_periods.name IS 'The month''s name (Farvardin …), ''Q1 1405'', or ''FY 1405''.';
COMMENT ON COLUMN analytics.jalali_periods.first_day IS 'The period''s first Tehran calendar day (Gregorian date).';
COMMENT ON COLUMN analytics.jalali_periods.last_day IS 'The period''s last Tehran calendar day (Gregorian date), inclusive.';
COMMENT ON COLUMN analytics.jalali_periods.days IS 'How many days the period has.';
COMMENT ON COLUMN analytics.jalali_periods.starts_at IS 'Tehran midnight starting first_day.';
COMMENT ON COLUMN analytics.jalali_periods.ends_at IS 'Tehran midnight ending last_day: the period is [starts_at, ends_at).';
COMMENT ON COLUMN analytics.jalali_periods.closed IS 'The period is over: its figures by booking time no longer change.';
COMMENT ON COLUMN analytics.jalali_periods.is_current IS 'Today (in Tehran) falls in the period.';

-- +goose Down
DROP VIEW analytics.jalali_periods;
DROP FUNCTION analytics.from_jalali(int, int, int);
DROP FUNCTION analytics.jalali_month_start(int, int);
DROP FUNCTION analytics.jalali_date(date);
DROP FUNCTION analytics.jalali_quarter(date);
DROP FUNCTION analytics.jalali_day(date);
DROP FUNCTION analytics.jalali_month(date);
DROP FUNCTION analytics.jalali_day_of_year(date);
DROP FUNCTION analytics.jalali_year(date);
DROP FUNCTION analytics.jalali_new_year(int);
DROP FUNCTION analytics.jalali_is_leap(int);
