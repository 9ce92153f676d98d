package checks

import (
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func date(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestBusinessDaysSkipFridaysAndIransFixedHolidays(t *testing.T) {
	t.Parallel()
	cal := DefaultBankCalendar()
	for _, tt := range []struct {
		from string
		n    int
		want string
	}{
		{"2026-03-04", 2, "2026-03-07"},  // Wednesday + 2: Thursday, (Friday), Saturday
		{"2026-03-06", 1, "2026-03-07"},  // paid on a Friday: Saturday is the first business day after it
		{"2026-03-18", 2, "2026-03-25"},  // Nowruz 1405: Esfand 29 (Fri 3/20), Farvardin 1–4 (3/21–24) are off
		{"2026-03-31", 2, "2026-04-05"},  // Farvardin 12 and 13 (4/1, 4/2), then Friday 4/3
		{"2026-03-07", -2, "2026-03-04"}, // and backwards
		{"2026-03-07", 0, "2026-03-07"},
	} {
		if got := cal.AddBusinessDays(date(tt.from), tt.n).Format(time.DateOnly); got != tt.want {
			t.Errorf("%s %+d business days = %s, want %s", tt.from, tt.n, got, tt.want)
		}
	}
	// Days are the bank's: 23:00 UTC on a Thursday is already Friday in Tehran.
	if got := cal.Day(time.Date(2026, 3, 5, 23, 0, 0, 0, time.UTC)); !got.Equal(date("2026-03-06")) || cal.Off(got) != "Friday" {
		t.Errorf("day %s (%s)", got, cal.Off(got))
	}
}

func TestAHolidaysFileIsReadLineByLine(t *testing.T) {
	t.Parallel()
	cal := DefaultBankCalendar()
	cal.Weekend = nil // two of the days are Fridays
	err := cal.ReadHolidays(strings.NewReader("# lunar holidays of 1405\n2026-06-25 Tasua\n1405/04/05 Ashura\n\n08/01 a bank's anniversary\n"))
	if err != nil {
		t.Fatal(err)
	}
	for day, want := range map[string]string{"2026-06-25": "Tasua", "2026-06-26": "Ashura", "2026-10-23": "a bank's anniversary",
		"2027-10-23": "a bank's anniversary", "2026-06-27": ""} {
		if got := cal.Off(date(day)); got != want {
			t.Errorf("%s off for %q, want %q", day, got, want)
		}
	}
	for _, bad := range []string{"2026-02-30", "1405/13/01", "12/31", "tomorrow", "1405/12/30"} {
		if err := DefaultBankCalendar().ReadHolidays(strings.NewReader("2026-01-01\n" + bad + " x\n")); err == nil ||
			!strings.Contains(err.Error(), "line 2") {
			t.Errorf("%q: %v, want an error naming line 2", bad, err)
		}
	}
}

func payout(key, track string, amount int64, paid string) BankPayout {
	p := BankPayout{Key: key, PaidAt: date(paid).Add(8 * time.Hour)}
	p.Provider, p.Account, p.IBAN, p.TrackID, p.Currency = "vandar", "acme", "IR01", track, "IRT"
	p.Amount = decimal.NewFromInt(amount)
	BankConfig{}.WithDefaults().BankPayoutDays(&p, time.Time{})
	return p
}

func creditOf(id string, amount int64, booked, desc string) BankCredit {
	return BankCredit{IBAN: "IR01", LineID: id, BookingDate: date(booked), Amount: decimal.NewFromInt(amount),
		Currency: "IRT", Description: desc}
}

func matchesOf(ms []BankMatch) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		out[m.Payout.Key] = m.Credit.LineID + " by " + m.Rule
	}
	return out
}

func TestCreditsAreMatchedByReferenceFirstThenByAmountFirstComeFirstServed(t *testing.T) {
	t.Parallel()
	payouts := []BankPayout{
		payout("p1", "trk-111", 100_000, "2026-03-04"),
		payout("p2", "trk-222", 100_000, "2026-03-04"),
		payout("p3", "", 100_000, "2026-03-08"),
		payout("p4", "", 55_000, "2026-03-04"),
		payout("p5", "", 70_000, "2026-03-04"),
	}
	credits := []BankCredit{
		creditOf("c1", 100_000, "2026-03-04", "PAYA trk-2220"),        // not trk-222: a longer word
		creditOf("c2", 99_000, "2026-03-05", "settlement TRK-222 ok"), // p2 by reference, another amount
		creditOf("c3", 100_000, "2026-03-09", "PAYA"),                 // the first in p3's window
		creditOf("c4", 55_000, "2026-03-20", "PAYA"),                  // outside p4's window
		creditOf("c5", -70_000, "2026-03-04", "a debit"),              // money out never meets a payout
	}
	credits[0].EndToEndID = "trk-111" // p1 by its end-to-end id
	want := map[string]string{"p1": "c1 by reference", "p2": "c2 by reference", "p3": "c3 by amount"}
	got := matchesOf(MatchBankCredits(payouts, credits))
	if len(got) != len(want) {
		t.Fatalf("matches %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s, want %s", k, got[k], v)
		}
	}
	// The order they are given in changes nothing.
	rev := func(ps []BankPayout) []BankPayout {
		out := make([]BankPayout, len(ps))
		for i := range ps {
			out[len(ps)-1-i] = ps[i]
		}
		return out
	}
	if again := matchesOf(MatchBankCredits(rev(payouts), credits)); len(again) != 3 || again["p3"] != got["p3"] {
		t.Errorf("reversed: %v", again)
	}
	// An old payout reported paid only today has a wide window; it takes the old credit, not the new one that
	// is the recent payout's.
	old, recent := payout("old", "", 50_000, "2026-03-25"), payout("recent", "", 50_000, "2026-03-24")
	old.WindowFrom = date("2026-03-01")
	ms := matchesOf(MatchBankCredits([]BankPayout{recent, old}, []BankCredit{creditOf("c-recent", 50_000, "2026-03-24", ""),
		creditOf("c-old", 50_000, "2026-03-01", "")}))
	if ms["old"] != "c-old by amount" || ms["recent"] != "c-recent by amount" {
		t.Errorf("%v", ms)
	}
	// A reference is a whole word: trk-222 is not in trk-2220, nor in xtrk-222.
	for _, desc := range []string{"PAYA trk-2220", "xtrk-222", "trk-22"} {
		if carries(creditOf("c", 1, "2026-03-04", desc), []string{"trk-222"}) {
			t.Errorf("trk-222 found in %q", desc)
		}
	}
	if !carries(creditOf("c", 1, "2026-03-04", "(trk-222)"), []string{"trk-222"}) {
		t.Error("trk-222 not found in (trk-222)")
	}
}

func TestAReferenceIsFoundInPersianDigits(t *testing.T) {
	t.Parallel()
	p := payout("p", "", 5_000, "2026-03-04")
	p.PaymentNumber = "98765"
	ms := MatchBankCredits([]BankPayout{p}, []BankCredit{creditOf("c", 5_000, "2026-04-30", "واریز شناسه ۹۸۷۶۵")})
	if len(ms) != 1 || ms[0].Rule != BankRuleReference {
		t.Fatalf("%+v", ms)
	}
}

func TestAMissingCreditIsJudgedByTheStatementsNotTheClock(t *testing.T) {
	t.Parallel()
	p := payout("p", "trk", 100_000, "2026-03-04") // due 2026-03-07, window from 2026-03-02
	if p.DueDay != date("2026-03-07") || p.WindowFrom != date("2026-03-02") {
		t.Fatalf("window %s to %s", p.WindowFrom, p.DueDay)
	}
	for _, tt := range []struct {
		from, through string
		want          Outcome
	}{
		{"", "", Unknown},                      // no statement yet
		{"2026-03-01", "2026-03-06", Unknown},  // not past the due day
		{"2026-03-05", "2026-03-30", Unknown},  // the statements begin after the day it was paid
		{"2026-03-04", "2026-03-30", Mismatch}, // on that day: its window's first days hold no credit anyway
		{"2026-03-01", "2026-03-07", Mismatch},
	} {
		var from, through time.Time
		if tt.from != "" {
			from, through = date(tt.from), date(tt.through)
		}
		r := BankCreditMissing(p, from, through)
		if r.Outcome != tt.want || (r.Outcome == Mismatch) != (r.DedupKey != "") {
			t.Errorf("statements %s to %s: %s %q", tt.from, tt.through, r.Outcome, r.DedupKey)
		}
	}
}
