// Package banktest simulates a bank's side of internal/sources/bankstatement, for tests and the local
// pipeline: the statements of one account, generated from the payouts a provider made to it, written as
// ISO 20022 camt.053 or as an Iranian bank's CSV export (Jalali dates, Persian digits, debit and credit
// columns, a running balance, newest first).
//
// It stands alone: it shares no code with the reader, so a misreading of the format in one is not mirrored
// in the other. Amounts are whole rials, as Iranian banks state them (a toman is ten rials).
package banktest

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
	_ "time/tzdata" // Asia/Tehran without the host's tz database
)

// Statement is one statement of one account.
type Statement struct {
	ID       string
	IBAN     string
	Currency string    // IRR unless set
	From, To time.Time // the first and last day it covers (their dates are what count)
	Opening  int64     // the balance before From's lines, in whole units of Currency
	Lines    []Line    // in booking order
	Created  time.Time // when the bank produced it (GrpHdr/CreDtTm); From if zero
}

// Closing is the balance after the statement's lines.
func (s Statement) Closing() int64 {
	b := s.Opening
	for _, l := range s.Lines {
		b += l.Amount()
	}
	return b
}

// Line is one entry of a statement: one transaction, or a batch of them booked as one (Batch).
type Line struct {
	Booking, Value time.Time // days; Value zero: the booking day
	// Signed is the amount of a line that is not a batch: positive money in, negative money out.
	Signed           int64
	EndToEndID       string
	Reference        string // the bank's reference (AcctSvcrRef; a tracking number)
	Description      string
	CounterpartyIBAN string
	CounterpartyName string
	// Batch, if set, makes the line one entry booked for several transactions (a Paya batch): its amount is
	// theirs together, and each keeps its own references.
	Batch []Tx
}

// Amount is what the line moves the account by.
func (l Line) Amount() int64 {
	if len(l.Batch) == 0 {
		return l.Signed
	}
	var sum int64
	for _, t := range l.Batch {
		sum += t.Signed
	}
	return sum
}

// Tx is one transaction of a batch-booked line.
type Tx struct {
	Signed           int64
	EndToEndID       string
	Reference        string
	Description      string
	CounterpartyIBAN string
	CounterpartyName string
}

// Payout is money a provider paid to the account: what the bank shows as a credit.
type Payout struct {
	TrackID string
	Amount  int64     // tomans, as the provider states it
	PaidAt  time.Time // when the provider paid it: the credit is booked that day in Tehran (or the next business day)
	Payer   string    // the provider's name on the credit, e.g. "وندار"
}

// Options describe the statement Generate writes.
type Options struct {
	IBAN     string
	From, To time.Time // days, in Tehran
	Opening  int64     // rials
	Payouts  []Payout
	// Missing are track ids of payouts whose credit never arrives (a planted discrepancy).
	Missing []string
	// Seed makes the other lines (bank charges, transfers, rent) the same from run to run.
	Seed uint64
	// OtherPerDay is about how many lines a day are not payouts. Default 1.
	OtherPerDay int
	// ReferenceEvery: every n-th payout's credit carries its track id (as end-to-end id and in the
	// description); the others only the amount. Default 2; 1: all of them.
	ReferenceEvery int
	// BatchEvery: payouts credited the same day are booked as one batch entry every n-th day. 0: never.
	BatchEvery int
}

// Tehran is the bank's zone (one *time.Location, so that days compare equal as map keys).
var Tehran = sync.OnceValue(func() *time.Location {
	loc, err := time.LoadLocation("Asia/Tehran")
	if err != nil {
		return time.FixedZone("+0330", 12600)
	}
	return loc
})

// Day is t's day in Tehran, at midnight Tehran.
func Day(t time.Time) time.Time {
	loc := Tehran()
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// Generate writes one statement of the account from From to To: a credit (in rials) for each payout paid in
// those days — on its day, or the next day but Friday for one in four — except the missing ones, and a few
// other lines a day.
func Generate(o Options) Statement {
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x62616e6b))
	from, to := Day(o.From), Day(o.To)
	st := Statement{ID: fmt.Sprintf("STMT-%s-%s", o.IBAN[len(o.IBAN)-6:], to.Format("20060102")), IBAN: o.IBAN,
		Currency: "IRR", From: from, To: to, Opening: o.Opening}
	every := cmp.Or(o.ReferenceEvery, 2)
	byDay := map[time.Time][]Tx{}
	payouts := slices.Clone(o.Payouts)
	slices.SortFunc(payouts, func(a, b Payout) int { return cmp.Or(a.PaidAt.Compare(b.PaidAt), cmp.Compare(a.TrackID, b.TrackID)) })
	for i, p := range payouts {
		if slices.Contains(o.Missing, p.TrackID) {
			continue
		}
		day := Day(p.PaidAt)
		if i%4 == 3 {
			day = day.AddDate(0, 0, 1)
			if day.Weekday() == time.Friday {
				day = day.AddDate(0, 0, 1)
			}
		}
		if day.Before(from) || day.After(to) {
			continue
		}
		payer := cmp.Or(p.Payer, "پرداخت‌یار")
		tx := Tx{Signed: p.Amount * 10, Reference: digits(rng, 12), CounterpartyName: payer,
			CounterpartyIBAN: "IR150170000000" + digits(rng, 12), Description: "واریز پایا تسویه " + payer}
		if i%every == 0 {
			tx.EndToEndID = p.TrackID
			tx.Description += " " + p.TrackID
		}
		byDay[day] = append(byDay[day], tx)
	}
	for day, n := from, 0; !day.After(to); day, n = day.AddDate(0, 0, 1), n+1 {
		txs := byDay[day]
		if o.BatchEvery > 0 && n%o.BatchEvery == 0 && len(txs) > 1 {
			st.Lines = append(st.Lines, Line{Booking: day, Reference: digits(rng, 12), Description: "واریز گروهی پایا",
				Batch: txs})
		} else {
			for _, tx := range txs {
				st.Lines = append(st.Lines, Line{Booking: day, Signed: tx.Signed, EndToEndID: tx.EndToEndID,
					Reference: tx.Reference, Description: tx.Description, CounterpartyIBAN: tx.CounterpartyIBAN,
					CounterpartyName: tx.CounterpartyName})
			}
		}
		if day.Weekday() == time.Friday {
			continue // the bank books nothing else on its day off
		}
		for range cmp.Or(o.OtherPerDay, 1) {
			st.Lines = append(st.Lines, other(rng, day))
		}
	}
	return st
}

// other is a line that is no provider's payout: a bank charge, rent received, a transfer out.
func other(rng *rand.Rand, day time.Time) Line {
	switch rng.IntN(3) {
	case 0:
		return Line{Booking: day, Signed: -(rng.Int64N(20) + 1) * 1_000, Reference: digits(rng, 12), Description: "کارمزد خدمات بانکی"}
	case 1:
		return Line{Booking: day, Signed: (rng.Int64N(50) + 10) * 1_000_000, Reference: digits(rng, 12),
			Description: "واریز اجاره بها", CounterpartyName: "علی رضایی", CounterpartyIBAN: "IR350560000000" + digits(rng, 12)}
	}
	return Line{Booking: day, Signed: -(rng.Int64N(30) + 5) * 1_000_000, Reference: digits(rng, 12),
		Description: "انتقال ساتنا حقوق کارکنان", CounterpartyName: "شرکت خدمات", CounterpartyIBAN: "IR120120000000" + digits(rng, 12)}
}

func digits(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + rng.IntN(10))
	}
	return string(b)
}
