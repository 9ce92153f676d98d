package vandartest

import (
	"testing"
	"time"
)

func TestTimestampsAreJalaliTehranTime(t *testing.T) {
	t.Parallel()
	loc := loadTehran()
	for _, tc := range []struct {
		unix int64
		want string
	}{
		{1681400881, "19:18:01 - 1402/1/24"},  // the Nobitex sample (+03:30)
		{1711910570, "22:12:50 - 1403/1/12"},  // the vandarpy fixture
		{1653743817, "17:46:57 - 1401/3/7"},   // the documents' example time, in summer 2022 (+04:30)
		{1695000000, "04:50:00 - 1402/6/27"},  // September 2023: +03:30, no more daylight saving
		{1704054600, "00:00:00 - 1402/10/11"}, // Tehran midnight, still 2023 in UTC
	} {
		if got := stamp(time.Unix(tc.unix, 0), loc); got != tc.want {
			t.Errorf("stamp(%d) = %q, want %q", tc.unix, got, tc.want)
		}
	}
	if got := logDate(time.Unix(1653745848, 0), loc); got != "1401-03-07 18:20:48" {
		t.Errorf("logDate = %q", got)
	}
}

func TestParseJalaliDay(t *testing.T) {
	t.Parallel()
	loc := loadTehran()
	for s, ok := range map[string]bool{
		"14000102": true, "14031230": true, "14021230": false, "14001301": false, "14000100": false,
		"1400012": false, "140001022": false, "1400-1-2": false, "abcdefgh": false, "14000732": false,
		"14000631": true, "14000731": false,
	} {
		if _, got := parseJalaliDay(s, loc); got != ok {
			t.Errorf("parseJalaliDay(%q) ok = %v, want %v", s, got, ok)
		}
	}
}

func TestIBANsHaveValidCheckDigits(t *testing.T) {
	t.Parallel()
	b := newBusiness("acme", 1, 0, loadTehran())
	for _, a := range b.id.accounts {
		// ISO 13616: move the first four characters to the end, letters to numbers; the result mod 97 is 1.
		s := a.iban[4:] + "1827" + a.iban[2:4]
		rem := 0
		for _, c := range s {
			rem = (rem*10 + int(c-'0')) % 97
		}
		if len(a.iban) != 26 || rem != 1 {
			t.Errorf("IBAN %s is not valid", a.iban)
		}
	}
}
