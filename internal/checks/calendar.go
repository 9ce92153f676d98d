package checks

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // the bank's zone must not depend on the host's tz database

	ptime "github.com/yaa110/go-persian-calendar"
)

// BankCalendar says which days a bank works: the days a payout's credit is counted in. Days are calendar
// days (Day), in the bank's time zone.
type BankCalendar struct {
	// Zone is the bank's time zone: which day an instant falls on. Default Asia/Tehran.
	Zone *time.Location
	// Weekend are the days of the week the bank does not work. Default Friday.
	Weekend map[time.Weekday]bool
	// Holidays are single days off (Gregorian), by name: the lunar holidays of a year, a bank's own closure.
	Holidays map[time.Time]string
	// Recurring are days off every year, by Jalali month and day. Default IranFixedHolidays.
	Recurring map[JalaliDay]string
}

// JalaliDay is a day of the Jalali year: month 1–12, day 1–31.
type JalaliDay struct{ Month, Day int }

// IranFixedHolidays are Iran's public holidays that fall on the same Jalali day every year. The lunar ones
// (Tasua, Ashura, Eid al-Fitr, …) move by about eleven days a year and are given per year in the holidays
// file (MIZAN_BANK_HOLIDAYS_FILE).
var IranFixedHolidays = map[JalaliDay]string{
	{1, 1}: "Nowruz", {1, 2}: "Nowruz", {1, 3}: "Nowruz", {1, 4}: "Nowruz",
	{1, 12}: "Islamic Republic Day", {1, 13}: "Sizdah Bedar",
	{3, 14}: "death of Khomeini", {3, 15}: "15 Khordad uprising",
	{11, 22}: "Revolution Day", {12, 29}: "oil nationalization day",
}

// DefaultBankCalendar is Iran's: Asia/Tehran, Friday off, the fixed public holidays.
func DefaultBankCalendar() *BankCalendar {
	zone, err := time.LoadLocation("Asia/Tehran")
	if err != nil { // cannot happen with time/tzdata linked in
		zone = time.FixedZone("+0330", 12600)
	}
	rec := make(map[JalaliDay]string, len(IranFixedHolidays))
	for d, name := range IranFixedHolidays {
		rec[d] = name
	}
	return &BankCalendar{Zone: zone, Weekend: map[time.Weekday]bool{time.Friday: true}, Holidays: map[time.Time]string{},
		Recurring: rec}
}

// Day is the calendar day an instant falls on in the bank's zone, as midnight UTC: days compare and subtract
// as dates, whatever the zone.
func (c *BankCalendar) Day(t time.Time) time.Time {
	y, m, d := t.In(c.Zone).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Start is the instant a day (as Day gives it) begins in the bank's zone.
func (c *BankCalendar) Start(day time.Time) time.Time {
	return time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, c.Zone)
}

// Off names why a day (as Day gives it) is not a business day, or "" if it is one.
func (c *BankCalendar) Off(day time.Time) string {
	if c.Weekend[day.Weekday()] {
		return day.Weekday().String()
	}
	if name, ok := c.Holidays[day]; ok {
		return name
	}
	p := ptime.New(day)
	if name, ok := c.Recurring[JalaliDay{int(p.Month()), p.Day()}]; ok {
		return name
	}
	return ""
}

// AddBusinessDays is the n-th business day after day (n > 0), or before it (n < 0); day itself for n = 0.
func (c *BankCalendar) AddBusinessDays(day time.Time, n int) time.Time {
	step := 1
	if n < 0 {
		step, n = -1, -n
	}
	for n > 0 {
		day = day.AddDate(0, 0, step)
		if c.Off(day) == "" {
			n--
		}
	}
	return day
}

// ReadHolidays adds the days a holidays file lists to the calendar. One day a line, then an optional name;
// `#` starts a comment:
//
//	2026-06-26 Ashura          a Gregorian date
//	1405/04/05 Ashura          a Jalali date (a year before 1700)
//	01/12 Islamic Republic Day every year on this Jalali month and day
//
// A line it cannot read is an error naming its number.
func (c *BankCalendar) ReadHolidays(r io.Reader) error {
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		name := strings.Join(fields[1:], " ")
		if name == "" {
			name = "holiday"
		}
		if err := c.addHoliday(fields[0], name); err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
	}
	return sc.Err()
}

func (c *BankCalendar) addHoliday(s, name string) error {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		c.Holidays[t] = name
		return nil
	}
	parts := strings.Split(s, "/")
	nums := make([]int, len(parts))
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil {
			return fmt.Errorf("%q is not a date (2026-06-26, 1405/04/05 or 04/05)", s)
		}
		nums[i] = v
	}
	switch {
	case len(nums) == 2 && validJalali(1403, nums[0], nums[1]):
		c.Recurring[JalaliDay{nums[0], nums[1]}] = name
	case len(nums) == 3 && nums[0] >= 1200 && nums[0] < 1700 && validJalali(nums[0], nums[1], nums[2]):
		g := ptime.Date(nums[0], ptime.Month(nums[1]), nums[2], 12, 0, 0, 0, time.UTC).Time()
		c.Holidays[time.Date(g.Year(), g.Month(), g.Day(), 0, 0, 0, 0, time.UTC)] = name
	default:
		return fmt.Errorf("%q is not a date (2026-06-26, 1405/04/05 or 04/05)", s)
	}
	return nil
}

// validJalali says whether month/day is a day of Jalali year y (1403 is a leap year: Esfand has 30 days).
func validJalali(y, m, d int) bool {
	if m < 1 || m > 12 || d < 1 {
		return false
	}
	switch {
	case m <= 6:
		return d <= 31
	case m <= 11:
		return d <= 30
	}
	p := ptime.Date(y, ptime.Esfand, 30, 12, 0, 0, 0, time.UTC)
	if p.Day() == 30 && p.Month() == ptime.Esfand { // a leap year keeps Esfand 30
		return d <= 30
	}
	return d <= 29
}
