package vandartest

import (
	"fmt"
	"strconv"
	"time"
	_ "time/tzdata" // Asia/Tehran must not depend on the host's tz database: Iran dropped DST in 2022.

	ptime "github.com/yaa110/go-persian-calendar"
)

// loadTehran returns Asia/Tehran from the embedded tz database (+04:30 in summer until 2022-09-21, +03:30
// since). The fixed-zone fallback cannot happen with time/tzdata linked in; it is there so the simulator
// never runs in UTC by accident.
func loadTehran() *time.Location {
	loc, err := time.LoadLocation("Asia/Tehran")
	if err != nil {
		return time.FixedZone("+0330", 12600)
	}
	return loc
}

// stamp formats t as the statement's timestamps do: "17:46:57 - 1401/3/7", Tehran time, the Jalali date
// without zero padding. The documents only show two-digit hours; the simulator pads the clock part
// ("09:05:03"), which the parsers seen in public integrations (%H:%M:%S) accept either way.
func stamp(t time.Time, loc *time.Location) string {
	p := ptime.New(t.In(loc))
	return fmt.Sprintf("%02d:%02d:%02d - %d/%d/%d", p.Hour(), p.Minute(), p.Second(), p.Year(), int(p.Month()), p.Day())
}

// logDate formats t as a payment log's log_date: "1401-03-07 18:20:48".
func logDate(t time.Time, loc *time.Location) string {
	p := ptime.New(t.In(loc))
	return fmt.Sprintf("%04d-%02d-%02d %02d:%02d:%02d", p.Year(), int(p.Month()), p.Day(), p.Hour(), p.Minute(), p.Second())
}

// predictionTime formats a settlement's predicted time as the settlement store response does:
// "1400/08/08 16:00:00".
func predictionTime(t time.Time, loc *time.Location) string {
	p := ptime.New(t.In(loc))
	return fmt.Sprintf("%04d/%02d/%02d %02d:%02d:%02d", p.Year(), int(p.Month()), p.Day(), p.Hour(), p.Minute(), p.Second())
}

// jalaliDay is t's Tehran date as the number yyyymmdd, the form fromDate and toDate use.
func jalaliDay(t time.Time, loc *time.Location) int {
	p := ptime.New(t.In(loc))
	return p.Year()*10000 + int(p.Month())*100 + p.Day()
}

// parseJalaliDay checks a fromDate/toDate value: eight digits naming a real Jalali date ("14000102").
func parseJalaliDay(s string, loc *time.Location) (int, bool) {
	if len(s) != 8 {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, false
	}
	y, m, d := n/10000, n/100%100, n%100
	if y < 1200 || m < 1 || m > 12 || d < 1 || d > 31 {
		return 0, false
	}
	// ptime normalizes an impossible day (1401/12/30 in a common year) into the next month: a date that
	// does not come back unchanged does not exist.
	p := ptime.Date(y, ptime.Month(m), d, 12, 0, 0, 0, loc)
	if p.Year() != y || int(p.Month()) != m || p.Day() != d {
		return 0, false
	}
	return n, true
}

// tehranMidnight is the start of t's day in Tehran.
func tehranMidnight(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
}
