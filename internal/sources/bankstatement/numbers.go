package bankstatement

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	ptime "github.com/yaa110/go-persian-calendar"

	"github.com/mizanhq/mizan/internal/numerals"
)

// Iranian banks export spreadsheets in Persian: Persian or Arabic-Indic digits, the Arabic thousands separator
// (٬) or a comma, the Arabic decimal separator (٫) or a slash, Jalali dates. Reading a number or a date is
// strict about what it means and tolerant about how it is written: every spelling of one value is read, and
// nothing that could mean another.

// asciiDigits writes Persian and Arabic-Indic digits as ASCII ones, and drops the invisible marks (left-to-right
// and right-to-left marks, zero-width joiners) spreadsheets leave around numbers.
func asciiDigits(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\u200e' || r == '\u200f' || r == '\u200c' || r == '\u200d' || r == '\u202a' || r == '\u202b' ||
			r == '\u202c' || r == '\ufeff':
			return -1
		case r == '−' || r == '–': // minus sign, en dash
			return '-'
		}
		return r
	}, numerals.ASCII(s))
}

// plainDecimal is a decimal as a statement may write it once its separators are normalized: digits, at most
// one point. No exponent: a float serializer's text cannot be trusted to have kept every digit.
var plainDecimal = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

// numberFormat says how a file writes its numbers.
type numberFormat struct {
	decimal   string // the decimal separator(s), e.g. "." or "/٫"
	thousands string // thousands separators, stripped
}

// parseAmount reads an amount: optionally signed (a leading or trailing minus, or parentheses), with the
// format's separators. An empty cell is (zero, false).
func (f numberFormat) parseAmount(s string) (decimal.Decimal, bool, error) {
	orig := s
	s = strings.TrimSpace(asciiDigits(s))
	if s == "" {
		return decimal.Zero, false, nil
	}
	neg := false
	switch {
	case strings.HasPrefix(s, "(") && strings.HasSuffix(s, ")"):
		neg, s = true, strings.TrimSpace(s[1:len(s)-1])
	case strings.HasPrefix(s, "-"):
		neg, s = true, strings.TrimSpace(s[1:])
	case strings.HasSuffix(s, "-"):
		neg, s = true, strings.TrimSpace(s[:len(s)-1])
	case strings.HasPrefix(s, "+"):
		s = strings.TrimSpace(s[1:])
	}
	for _, sep := range f.thousands {
		s = strings.ReplaceAll(s, string(sep), "")
	}
	for _, sep := range f.decimal {
		s = strings.ReplaceAll(s, string(sep), ".")
	}
	if !plainDecimal.MatchString(s) {
		return decimal.Zero, false, fmt.Errorf("%q is not an amount", orig)
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Zero, false, fmt.Errorf("%q is not an amount", orig)
	}
	if neg {
		d = d.Neg()
	}
	return d, true, nil
}

// dateFormatJalali is the date format of a Jalali date: year, month and day separated by / or -.
const dateFormatJalali = "jalali"

// jalaliDate reads 1402/01/02 (or 1402-1-2, in any digits, with a time after it, which is ignored).
var jalaliDate = regexp.MustCompile(`^([0-9]{4})[/-]([0-9]{1,2})[/-]([0-9]{1,2})(?:[ T].*)?$`)

// parseDate reads a calendar day in format: "jalali", or a Go layout such as "2006-01-02" (Gregorian; a time
// after the date, past a space the layout does not have, is ignored). The day is returned as midnight UTC.
func parseDate(s, format string) (time.Time, error) {
	orig := s
	s = strings.TrimSpace(asciiDigits(s))
	if format == dateFormatJalali {
		m := jalaliDate.FindStringSubmatch(s)
		if m == nil {
			return time.Time{}, fmt.Errorf("%q is not a Jalali date (1402/01/02)", orig)
		}
		y, _ := strconv.Atoi(m[1])
		mo, _ := strconv.Atoi(m[2])
		d, _ := strconv.Atoi(m[3])
		if y < 1300 || y > 1500 || mo < 1 || mo > 12 || d < 1 || d > 31 || (mo > 6 && d > 30) {
			return time.Time{}, fmt.Errorf("%q is not a Jalali date", orig)
		}
		p := ptime.Date(y, ptime.Month(mo), d, 12, 0, 0, 0, time.UTC)
		if p.Year() != y || int(p.Month()) != mo || p.Day() != d { // 30 Esfand of a common year
			return time.Time{}, fmt.Errorf("%q is not a day of the Jalali calendar", orig)
		}
		g := p.Time()
		return time.Date(g.Year(), g.Month(), g.Day(), 0, 0, 0, 0, time.UTC), nil
	}
	if !strings.Contains(format, " ") {
		s, _, _ = strings.Cut(s, " ") // "2026-03-05 14:20": the day is what counts
	}
	t, err := time.Parse(format, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date in the format %s", orig, format)
	}
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), nil
}
