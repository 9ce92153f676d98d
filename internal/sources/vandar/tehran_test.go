package vandar

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		want     time.Time // UTC
	}{
		// providers/facts.md 2.4: effective_time_stamp and its Jalali text from public samples, +03:30.
		{"a 2023 sample is +03:30", "19:18:01 - 1402/1/24", time.Unix(1681400881, 0)},
		{"a 2024 sample is +03:30", "22:12:50 - 1403/1/12", time.Unix(1711910570, 0)},
		// Vandar's document's own example, summer 1401: daylight saving time, +04:30.
		{"summer 1401 is +04:30", "17:46:57 - 1401/3/7", time.Date(2022, 5, 28, 13, 16, 57, 0, time.UTC)},
		{"zero-padded date reads the same", "17:46:57 - 1401/03/07", time.Date(2022, 5, 28, 13, 16, 57, 0, time.UTC)},
		{"unpadded clock", "7:6:5 - 1401/3/7", time.Date(2022, 5, 28, 2, 36, 5, 0, time.UTC)},
		{"last day of DST, noon", "12:00:00 - 1401/6/30", time.Date(2022, 9, 21, 7, 30, 0, 0, time.UTC)},
		{"first day after DST, noon", "12:00:00 - 1401/7/1", time.Date(2022, 9, 23, 8, 30, 0, 0, time.UTC)},
		{"summer 1402 stays +03:30", "12:00:00 - 1402/3/7", time.Date(2023, 5, 28, 8, 30, 0, 0, time.UTC)},
		// Nowruz (providers/facts.md 3.1): 1403 → 2024-03-20, 1404 → 2025-03-21, 1405 → 2026-03-21.
		{"Nowruz 1403", "00:00:00 - 1403/1/1", time.Date(2024, 3, 19, 20, 30, 0, 0, time.UTC)},
		{"Nowruz 1404", "00:00:00 - 1404/1/1", time.Date(2025, 3, 20, 20, 30, 0, 0, time.UTC)},
		{"Nowruz 1405", "00:00:00 - 1405/1/1", time.Date(2026, 3, 20, 20, 30, 0, 0, time.UTC)},
		{"Esfand 30 of leap year 1403", "12:00:00 - 1403/12/30", time.Date(2025, 3, 20, 8, 30, 0, 0, time.UTC)},
		{"Nowruz 1401 itself was standard time (DST began at midnight)", "12:00:00 - 1401/1/1", time.Date(2022, 3, 21, 8, 30, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseTime(tc.in)
			if err != nil {
				t.Fatalf("ParseTime(%q): %v", tc.in, err)
			}
			if !got.Equal(tc.want) {
				t.Errorf("ParseTime(%q) = %s, want %s", tc.in, got.UTC(), tc.want.UTC())
			}
		})
	}
}

func TestParseTimeRefusesMalformedInput(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"",
		"17:46:57",
		"1401/3/7",
		"17:46:57-1401/3/7",
		"17:46:57 -  1401/3/7",
		" 17:46:57 - 1401/3/7",
		"17:46:57 - 1401/3/7 ",
		"17:46:57 - 1401/13/7",  // month 13
		"17:46:57 - 1401/0/7",   // month 0
		"17:46:57 - 1401/3/32",  // day 32
		"17:46:57 - 1401/3/0",   // day 0
		"17:46:57 - 1401/7/31",  // Mehr has 30 days
		"17:46:57 - 1402/12/30", // 1402 is not leap: Esfand has 29 days
		"25:46:57 - 1401/3/7",   // hour 25
		"24:00:00 - 1401/3/7",   // hour 24
		"17:60:57 - 1401/3/7",
		"17:46:60 - 1401/3/7",
		"17:46:5x - 1401/3/7",
		"17:46:+5 - 1401/3/7",
		"17:46:57 - 1401/3/-7",
		"17:46:57 - 401/3/7",    // three-digit year
		"17:46:57 - 01401/3/7",  // five-digit year
		"17:46:57 - 0900/3/7",   // outside the supported years
		"17:46:57 - 1401/003/7", // three-digit month
		"17:46:57 - ۱۴۰۱/۳/۷",   // Persian digits
		"17:46 - 1401/3/7",
		"17:46:57:00 - 1401/3/7",
		"17:46:57 - 1401/3/7/1",
		"17:46:57 - 1401-03-07",
	} {
		got, err := ParseTime(in)
		if err == nil {
			t.Errorf("ParseTime(%q) = %s, want an error", in, got)
			continue
		}
		if !strings.Contains(err.Error(), strconv.Quote(in)) {
			t.Errorf("ParseTime(%q) error %q does not name the input", in, err)
		}
	}
}

func TestParseLogDate(t *testing.T) {
	t.Parallel()
	got, err := ParseLogDate("1401-03-07 18:20:48")
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2022, 5, 28, 13, 50, 48, 0, time.UTC); !got.Equal(want) {
		t.Errorf("ParseLogDate = %s, want %s", got.UTC(), want)
	}
	for _, in := range []string{"", "1401-03-07", "1401-03-07T18:20:48", "1401/03/07 18:20:48", "1401-13-07 18:20:48",
		"1401-03-07 18:20"} {
		if _, err := ParseLogDate(in); err == nil || !strings.Contains(err.Error(), strconv.Quote(in)) {
			t.Errorf("ParseLogDate(%q) error = %v, want one naming the input", in, err)
		}
	}
}

func TestJalaliDate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(2021, 4, 22, 12, 0, 0, 0, time.UTC), "14000202"}, // providers/facts.md 3.1
		// The day turns at Tehran's midnight, not UTC's: +03:30 since 2022-09-21 …
		{time.Date(2023, 4, 13, 20, 29, 59, 0, time.UTC), "14020124"},
		{time.Date(2023, 4, 13, 20, 30, 0, 0, time.UTC), "14020125"},
		// … +04:30 in the summer before.
		{time.Date(2022, 5, 28, 19, 29, 59, 0, time.UTC), "14010307"},
		{time.Date(2022, 5, 28, 19, 30, 0, 0, time.UTC), "14010308"},
		{time.Date(2025, 3, 20, 20, 30, 0, 0, time.UTC), "14040101"},
	} {
		if got := JalaliDate(tc.in); got != tc.want {
			t.Errorf("JalaliDate(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// Every instant formats to text that parses back to it — except in the hour Tehran's clocks repeated when
// DST ended, where the text cannot say which of the two instants it was, and must at least read back to
// the same text.
func TestFormatTimeRoundTrip(t *testing.T) {
	t.Parallel()
	start := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	ambiguous := 0
	for at := start; at.Before(end); at = at.Add(7*time.Hour + 13*time.Minute + 17*time.Second) {
		s, err := FormatTime(at)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseTime(s)
		if err != nil {
			t.Fatalf("ParseTime(FormatTime(%s) = %q): %v", at, s, err)
		}
		if back.Equal(at) {
			continue
		}
		again, _ := FormatTime(back)
		if again != s || back.Sub(at).Abs() != time.Hour {
			t.Errorf("%s formats as %q, which parses to %s (%q)", at.UTC(), s, back.UTC(), again)
		}
		ambiguous++
	}
	// Also the DST-end hour itself, explicitly: 23:30 on 1401/6/30 happened twice.
	first := time.Date(2022, 9, 21, 19, 0, 0, 0, time.UTC) // 23:30 at +04:30
	s1, _ := FormatTime(first)
	s2, _ := FormatTime(first.Add(time.Hour)) // 23:30 at +03:30
	if s1 != s2 || s1 != "23:30:00 - 1401/6/30" {
		t.Errorf("the repeated hour formats as %q and %q, want both 23:30:00 - 1401/6/30", s1, s2)
	}
	t.Logf("%d sampled instants fell in a repeated hour", ambiguous)
}

// FuzzParseTime: ParseTime never panics, and whatever it accepts formats back to text that parses to the same
// instant — the same text, once padding is normalized, unless the clock reading never existed (the hour
// skipped when DST began).
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"17:46:57 - 1401/3/7", "19:18:01 - 1402/1/24", "00:30:00 - 1401/1/2",
		"23:30:00 - 1401/6/30", "00:00:00 - 1403/12/30", "9:5:1 - 1400/02/02", "17:46:57 - 1402/12/30", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		at, err := ParseTime(s)
		if err != nil {
			return
		}
		out, err := FormatTime(at)
		if err != nil {
			t.Fatalf("FormatTime(ParseTime(%q)): %v", s, err)
		}
		back, err := ParseTime(out)
		if err != nil || !back.Equal(at) {
			t.Fatalf("%q → %s → %q → %s, %v", s, at, out, back, err)
		}
		clock, date, _ := strings.Cut(s, " - ")
		var h, mi, sec, y, mo, d int
		fmt.Sscanf(clock, "%d:%d:%d", &h, &mi, &sec)
		fmt.Sscanf(strings.ReplaceAll(date, "/", " "), "%d %d %d", &y, &mo, &d)
		canonical := fmt.Sprintf("%02d:%02d:%02d - %d/%d/%d", h, mi, sec, y, mo, d)
		loc, _ := Tehran()
		if out != canonical && at.In(loc).Hour() == h {
			t.Fatalf("%q formats back as %q, want %q", s, out, canonical)
		}
	})
}
