package vandar

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	// The binary carries its own zone data, so a container without /usr/share/zoneinfo still knows Tehran.
	// (time.LoadLocation prefers the host's copy when there is one; loadTehran checks that copy is current.)
	_ "time/tzdata"

	ptime "github.com/yaa110/go-persian-calendar"
)

// Vandar writes every timestamp as Asia/Tehran wall-clock time in the Solar Hijri (Jalali) calendar:
// "17:46:57 - 1401/3/7" on statement items, "1401-03-07 18:20:48" in their logs, and takes dates as
// "14000102" in queries. Tehran observed daylight saving time (+04:30 from 1 Farvardin to 30 Shahrivar)
// until 2022-09-21 and has kept +03:30 all year since, so the offset of a timestamp depends on its date:
// only the IANA zone gets both sides right, never a fixed offset.

// Jalali years this package accepts. Both Go Jalali libraries mizan considered agree on every Nowruz in this
// range (providers/facts.md 3.1); a Vandar timestamp outside it is garbage, not history.
const (
	minJalaliYear = 1200
	maxJalaliYear = 1600
)

// tehranZone loads Asia/Tehran once. It is package state only in the sense of a cache: the zone data is
// immutable and the result is the same on every call.
var tehranZone = sync.OnceValues(loadTehran)

// loadTehran loads the zone and proves it knows Iran's 2022 abolition of daylight saving time. A host whose
// tzdata predates 2022b would shift every summer timestamp from 2023 on by an hour; that is refused loudly
// (fix: update the host's tzdata, or point ZONEINFO at a current copy) rather than silently mis-dated.
func loadTehran() (*time.Location, error) {
	loc, err := time.LoadLocation("Asia/Tehran")
	if err != nil {
		return nil, fmt.Errorf("load time zone Asia/Tehran: %w", err)
	}
	checks := []struct {
		at     time.Time
		offset int
	}{
		{time.Date(2021, 12, 1, 12, 0, 0, 0, time.UTC), 12600}, // +03:30, standard time
		{time.Date(2022, 6, 1, 12, 0, 0, 0, time.UTC), 16200},  // +04:30, the last summer of DST
		{time.Date(2023, 6, 1, 12, 0, 0, 0, time.UTC), 12600},  // +03:30, no DST since 2022-09-21
	}
	for _, c := range checks {
		if _, off := c.at.In(loc).Zone(); off != c.offset {
			return nil, fmt.Errorf("time zone Asia/Tehran on this host is stale: offset %ds at %s, want %ds "+
				"(update tzdata or set ZONEINFO to a current zoneinfo)", off, c.at.Format(time.DateOnly), c.offset)
		}
	}
	return loc, nil
}

// Tehran returns the Asia/Tehran location, checked to know the end of Iran's daylight saving time.
func Tehran() (*time.Location, error) { return tehranZone() }

// ParseTime reads a statement timestamp such as "17:46:57 - 1401/3/7": a 24-hour clock, " - ", then a Jalali
// date whose month and day Vandar does not zero-pad (padded ones are accepted too), in Tehran local time.
//
// A clock reading that is ambiguous (the hour repeated when DST ended, 23:00–23:59 on 1401/6/30 and earlier
// years' equivalents) or that never happened (the hour skipped when DST began) resolves as time.Date resolves
// it; the string carries nothing that could do better. Statement items prefer effective_time_stamp where
// Vandar gives one.
func ParseTime(s string) (time.Time, error) {
	clock, date, ok := strings.Cut(s, " - ")
	if !ok {
		return time.Time{}, fmt.Errorf("parse Vandar time %s: want \"HH:MM:SS - YYYY/M/D\"", quote(s))
	}
	t, err := parseJalali(date, "/", clock)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse Vandar time %s: %w", quote(s), err)
	}
	return t, nil
}

// ParseLogDate reads the timestamp of a statement item's log entry, such as "1401-03-07 18:20:48": a Jalali
// date with dashes, a space and a 24-hour clock, in Tehran local time.
func ParseLogDate(s string) (time.Time, error) {
	date, clock, ok := strings.Cut(s, " ")
	if !ok {
		return time.Time{}, fmt.Errorf("parse Vandar log date %s: want \"YYYY-MM-DD HH:MM:SS\"", quote(s))
	}
	t, err := parseJalali(date, "-", clock)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse Vandar log date %s: %w", quote(s), err)
	}
	return t, nil
}

// FormatTime writes t the way Vandar writes statement timestamps: Tehran wall clock, zero-padded, then the
// Jalali date without padding, e.g. "17:46:57 - 1401/3/7". Sub-second precision is dropped, as Vandar does.
func FormatTime(t time.Time) (string, error) {
	loc, err := tehranZone()
	if err != nil {
		return "", err
	}
	p := ptime.New(t.In(loc))
	if p.IsZero() {
		return "", fmt.Errorf("format Vandar time: %s is before the Jalali calendar's range", t.Format(time.RFC3339))
	}
	return fmt.Sprintf("%02d:%02d:%02d - %d/%d/%d", p.Hour(), p.Minute(), p.Second(), p.Year(), int(p.Month()),
		p.Day()), nil
}

// JalaliDate returns the Tehran calendar day of t as Vandar's query format yyyymmdd, e.g. "14000202" for
// 2021-04-22. If the zone data cannot be trusted (see Tehran) it uses +03:30, which is Tehran's offset for
// every instant since 2022-09-21; New refuses to build a Client in that case anyway.
func JalaliDate(t time.Time) string {
	loc, err := tehranZone()
	if err != nil {
		loc = time.FixedZone("+0330", 12600)
	}
	p := ptime.New(t.In(loc))
	return fmt.Sprintf("%04d%02d%02d", p.Year(), int(p.Month()), p.Day())
}

// parseJalali builds the instant from a Jalali date (parts separated by sep) and a HH:MM:SS clock. Every
// field is range-checked before the calendar sees it, because ptime normalizes overflow (month 13 becomes
// next year's Farvardin) instead of refusing it.
func parseJalali(date, sep, clock string) (time.Time, error) {
	cp := strings.Split(clock, ":")
	if len(cp) != 3 {
		return time.Time{}, fmt.Errorf("clock %s: want HH:MM:SS", quote(clock))
	}
	year, month, day, err := readYMD(date, sep, maxJalaliYear)
	if err != nil {
		return time.Time{}, err
	}
	hour, err := field("hour", cp[0], 1, 2, 0, 23)
	if err != nil {
		return time.Time{}, err
	}
	minute, err := field("minute", cp[1], 1, 2, 0, 59)
	if err != nil {
		return time.Time{}, err
	}
	second, err := field("second", cp[2], 1, 2, 0, 59)
	if err != nil {
		return time.Time{}, err
	}
	if n := monthLength(year, month); day > n {
		return time.Time{}, fmt.Errorf("day %d does not exist: month %d of %d has %d days", day, month, year, n)
	}
	loc, err := tehranZone()
	if err != nil {
		return time.Time{}, err
	}
	p := ptime.Date(year, ptime.Month(month), day, hour, minute, second, 0, loc)
	// Belt and braces: the library must land on exactly the day asked for.
	if y, m, d := p.Date(); y != year || int(m) != month || d != day {
		return time.Time{}, fmt.Errorf("date %d/%d/%d does not exist in the Jalali calendar", year, month, day)
	}
	return p.Time(), nil
}

// readYMD splits a year-month-day date on sep and range-checks each part (the day only against 31: the
// month's real length depends on the calendar, which the caller knows).
func readYMD(date, sep string, maxYear int) (year, month, day int, err error) {
	dp := strings.Split(date, sep)
	if len(dp) != 3 {
		return 0, 0, 0, fmt.Errorf("date %s: want year%smonth%sday", quote(date), sep, sep)
	}
	if year, err = field("year", dp[0], 4, 4, minJalaliYear, maxYear); err != nil {
		return 0, 0, 0, err
	}
	if month, err = field("month", dp[1], 1, 2, 1, 12); err != nil {
		return 0, 0, 0, err
	}
	if day, err = field("day", dp[2], 1, 2, 1, 31); err != nil {
		return 0, 0, 0, err
	}
	return year, month, day, nil
}

// monthLength is the Jalali rule: six months of 31 days, five of 30, and Esfand with 29, or 30 in a leap year.
func monthLength(year, month int) int {
	switch {
	case month <= 6:
		return 31
	case month <= 11:
		return 30
	case ptime.Date(year, ptime.Esfand, 1, 12, 0, 0, 0, time.UTC).IsLeap():
		return 30
	default:
		return 29
	}
}

// field reads one ASCII-digit field of minDigits to maxDigits digits and checks its range. strconv.Atoi alone
// would also accept signs ("+7") and, being Unicode-blind here, nothing else — the digit check is the point.
func field(name, s string, minDigits, maxDigits, lo, hi int) (int, error) {
	if len(s) < minDigits || len(s) > maxDigits {
		return 0, fmt.Errorf("%s %s: want %d to %d digits", name, quote(s), minDigits, maxDigits)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%s %s: not a number", name, quote(s))
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", name, quote(s), err)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%s %d out of range %d–%d", name, n, lo, hi)
	}
	return n, nil
}

// quote renders untrusted input for an error message: quoted, and cut short so that a garbage megabyte does
// not become a megabyte-long error.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		return strconv.Quote(strings.ToValidUTF8(s[:max], "")) + "…"
	}
	return strconv.Quote(s)
}

// ReadTime reads a timestamp in any form Vandar writes or is expected to write (docs/providers.md, "Times"):
//   - the statement's "17:46:57 - 1401/3/7": a clock, " - ", a Jalali date; the clock may lack its seconds
//     ("17:46 - 1401/3/7") and the two may come the other way round;
//   - a date and a clock separated by a space, Jalali or Gregorian, with '/' or '-' ("1400/08/08 16:00:00",
//     "2020-01-01 01:01:01", the logs' "1401-03-07 18:20:48");
//   - ISO 8601: "2024-03-31T10:00:00Z", "2024-03-31T13:30:00+03:30", Laravel's "2024-03-31T10:00:00.000000Z".
//
// The year tells the calendars apart: a Jalali year is at most 1600 and a Gregorian one at least 1900. Persian
// and Arabic-Indic digits read as ASCII ones. A time without a zone is Tehran wall-clock time (see ParseTime
// on the hours DST made ambiguous); one with a zone is that instant.
func ReadTime(s string) (time.Time, error) {
	t, err := readTime(strings.TrimSpace(asciiDigits(s)))
	if err != nil {
		return time.Time{}, fmt.Errorf("read Vandar time %s: %w", quote(s), err)
	}
	return t, nil
}

func readTime(s string) (time.Time, error) {
	if a, b, ok := strings.Cut(s, " - "); ok {
		a, b = strings.TrimSpace(a), strings.TrimSpace(b)
		if strings.Contains(a, ":") {
			return readDateClock(b, a)
		}
		return readDateClock(a, b)
	}
	if date, clock, ok := strings.Cut(s, "T"); ok && !strings.Contains(date, " ") {
		return readDateClock(date, clock)
	}
	if date, clock, ok := strings.Cut(s, " "); ok {
		return readDateClock(date, strings.TrimSpace(clock))
	}
	return time.Time{}, errors.New(`want a date and a clock, e.g. "17:46:57 - 1401/3/7", "2020-01-01 01:01:01" or ISO 8601`)
}

// readDateClock builds the instant from a date (Jalali or Gregorian by its year; parts separated by '/' or
// '-') and a clock H:M or H:M:S with an optional fraction and an optional zone (Z, ±hh:mm, ±hhmm, ±hh). Every
// field is range-checked: neither calendar library refuses an overflow, they roll it into the next month.
func readDateClock(date, clock string) (time.Time, error) {
	clock, loc, err := splitZone(clock)
	if err != nil {
		return time.Time{}, err
	}
	if loc == nil {
		if loc, err = tehranZone(); err != nil {
			return time.Time{}, err
		}
	}
	sep := "/"
	if !strings.Contains(date, "/") {
		sep = "-"
	}
	// Years past the Jalali range are Gregorian: the switch below tells them apart.
	year, month, day, err := readYMD(date, sep, 2999)
	if err != nil {
		return time.Time{}, err
	}
	h, mi, sec, ns, err := readClock(clock)
	if err != nil {
		return time.Time{}, err
	}
	switch {
	case year <= maxJalaliYear:
		if n := monthLength(year, month); day > n {
			return time.Time{}, fmt.Errorf("day %d does not exist: month %d of %d has %d days", day, month, year, n)
		}
		return ptime.Date(year, ptime.Month(month), day, h, mi, sec, ns, loc).Time(), nil
	case year < 1900:
		return time.Time{}, fmt.Errorf("year %d is neither a Jalali year (to %d) nor a Gregorian one (from 1900)",
			year, maxJalaliYear)
	}
	t := time.Date(year, time.Month(month), day, h, mi, sec, ns, loc)
	if t.Day() != day {
		return time.Time{}, fmt.Errorf("date %s does not exist", quote(date))
	}
	return t, nil
}

// splitZone takes a trailing zone off a clock: Z, or an offset ±hh:mm, ±hhmm or ±hh. loc is nil when there is
// none.
func splitZone(clock string) (rest string, loc *time.Location, err error) {
	if c, ok := strings.CutSuffix(clock, "Z"); ok {
		return c, time.UTC, nil
	}
	i := strings.LastIndexAny(clock, "+-")
	if i < 0 {
		return clock, nil, nil
	}
	off := strings.ReplaceAll(clock[i+1:], ":", "")
	if len(off) == 2 {
		off += "00"
	}
	if len(off) != 4 {
		return "", nil, fmt.Errorf("zone %s: want Z or ±hh:mm", quote(clock[i:]))
	}
	hh, err := field("zone hours", off[:2], 2, 2, 0, 14)
	if err != nil {
		return "", nil, err
	}
	mm, err := field("zone minutes", off[2:], 2, 2, 0, 59)
	if err != nil {
		return "", nil, err
	}
	secs := hh*3600 + mm*60
	if clock[i] == '-' {
		secs = -secs
	}
	return clock[:i], time.FixedZone(clock[i:], secs), nil
}

// readClock reads H:M or H:M:S, the seconds with an optional fraction of up to nine digits.
func readClock(clock string) (h, mi, sec, ns int, err error) {
	cp := strings.Split(clock, ":")
	if len(cp) != 2 && len(cp) != 3 {
		return 0, 0, 0, 0, fmt.Errorf("clock %s: want HH:MM or HH:MM:SS", quote(clock))
	}
	if h, err = field("hour", cp[0], 1, 2, 0, 23); err != nil {
		return 0, 0, 0, 0, err
	}
	if mi, err = field("minute", cp[1], 1, 2, 0, 59); err != nil {
		return 0, 0, 0, 0, err
	}
	if len(cp) == 3 {
		whole, frac, hasFrac := strings.Cut(cp[2], ".")
		if sec, err = field("second", whole, 1, 2, 0, 59); err != nil {
			return 0, 0, 0, 0, err
		}
		if hasFrac {
			if ns, err = field("fraction of a second", frac, 1, 9, 0, 999999999); err != nil {
				return 0, 0, 0, 0, err
			}
			ns *= int(math.Pow10(9 - len(frac)))
		}
	}
	return h, mi, sec, ns, nil
}

// readWhen reads a time that may come as a Unix time (seconds or milliseconds, by magnitude: jsonNum.epoch)
// or as text ReadTime knows. An unset time (0) is the zero time.
func readWhen(s string) (time.Time, error) {
	if n := strings.TrimSpace(asciiDigits(s)); n != "" && !strings.ContainsAny(n, ":/- T") {
		return jsonNum{text: n, set: true}.epoch()
	}
	return ReadTime(s)
}
