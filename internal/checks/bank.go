package checks

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/numerals"
)

// The bank's checks: did the money a provider says it paid out reach the business's bank account, is every
// credit that looks like a payout explained by one, and does the bank's statement agree with the ledger.
const (
	CheckBankCreditMissing    = "bank_credit_missing"
	CheckBankCreditUnexpected = "bank_credit_unexpected"
	CheckBankAmountDiffers    = "bank_amount_differs"
	CheckBankBalance          = "bank_balance"
	CheckBankStatementStale   = "bank_statement_stale"
)

// Match rules: how a payout met its bank credit.
const (
	// BankRuleReference: the credit carries the payout's track id or payment number (as its end-to-end id,
	// a reference or a word of its description). Its amount may differ — that is an alert, not a non-match.
	BankRuleReference = "reference"
	// BankRuleAmount: the same amount, credited within the payout's window, and no reference either way.
	BankRuleAmount = "amount"
)

// BankConfig tunes the bank's checks.
type BankConfig struct {
	// WindowDays is how many business days after a payout was paid its credit may take to show on the bank
	// statement. Default 2. (MIZAN_BANK_WINDOW_DAYS)
	WindowDays int
	// Calendar says which days are business days. Default DefaultBankCalendar: Asia/Tehran, Friday off, Iran's
	// fixed public holidays. (MIZAN_BANK_TIME_ZONE, MIZAN_BANK_WEEKEND, MIZAN_BANK_HOLIDAYS_FILE)
	Calendar *BankCalendar
	// PayoutPattern marks a credit that looks like a provider's payout (matched against its description, its
	// references and the payer's name): one that no payout explains is an alert. Default DefaultPayoutPattern.
	// (MIZAN_BANK_PAYOUT_PATTERN)
	PayoutPattern *regexp.Regexp
	// StatementMaxAge is how long a followed bank account may go without a statement reaching further: past
	// it, a warning says its payouts cannot be confirmed. Default 96h. (MIZAN_BANK_STATEMENT_MAX_AGE)
	StatementMaxAge time.Duration
}

// DefaultPayoutPattern is what a provider's payout is usually called in a bank statement's description: a
// settlement (تسویه), a payout. A deployment names its providers in MIZAN_BANK_PAYOUT_PATTERN.
var DefaultPayoutPattern = regexp.MustCompile(`(?i)settlement|payout|تسويه|تسویه`)

// Defaults of BankConfig.
const (
	DefaultBankWindowDays      = 2
	DefaultBankStatementMaxAge = 96 * time.Hour
)

// WithDefaults returns c with every unset field set to its default.
func (c BankConfig) WithDefaults() BankConfig {
	c.WindowDays = cmp.Or(c.WindowDays, DefaultBankWindowDays)
	if c.Calendar == nil {
		c.Calendar = DefaultBankCalendar()
	}
	if c.PayoutPattern == nil {
		c.PayoutPattern = DefaultPayoutPattern
	}
	c.StatementMaxAge = cmp.Or(c.StatementMaxAge, DefaultBankStatementMaxAge)
	return c
}

// BankPayout is a payout a provider reported paid to a bank account whose statements mizan reads: its money
// waits in the payouts_unconfirmed account until the bank shows the credit.
type BankPayout struct {
	Key string // the idempotency key of the entry that reported it paid
	Payout
	PaymentNumber string
	PaidAt        time.Time // when the provider paid it, as well as it says (BankPayoutDays)
	// The days of its window, as BankCalendar.Day gives them: the credit is looked for from WindowFrom to
	// DueDay, both included, and is missing once the statement reaches past DueDay without it.
	PaidDay, WindowFrom, DueDay time.Time
}

// BankPayoutDays sets a payout's window: paid on the day of paidAt, due WindowDays business days later, looked
// for from the day it was requested (created; zero if unknown, then as many business days before it was paid
// as after) — the bank cannot credit money before it was asked to move.
func (c BankConfig) BankPayoutDays(p *BankPayout, created time.Time) {
	cal := c.Calendar
	p.PaidDay = cal.Day(p.PaidAt)
	p.DueDay = cal.AddBusinessDays(p.PaidDay, c.WindowDays)
	p.WindowFrom = cal.AddBusinessDays(p.PaidDay, -c.WindowDays)
	if !created.IsZero() {
		if d := cal.Day(created); d.Before(p.PaidDay) {
			p.WindowFrom = d
		} else {
			p.WindowFrom = p.PaidDay
		}
	}
}

// BankCredit is a line of a bank statement that nothing has explained yet: a candidate for a payout.
type BankCredit struct {
	IBAN, LineID string
	BookingDate  time.Time // as BankCalendar.Day gives it
	Amount       decimal.Decimal
	Currency     string
	// References the line carries, and its description: where a payout's track id or payment number is
	// looked for.
	EndToEndID, BankReference, EntryReference, Description string
}

// BankMatch is a payout met by its credit.
type BankMatch struct {
	Payout BankPayout
	Credit BankCredit
	Rule   string
}

// Difference is what the bank credited less what the provider said it paid.
func (m BankMatch) Difference() decimal.Decimal { return m.Credit.Amount.Sub(m.Payout.Amount) }

// MatchBankCredits pairs payouts with credits of the same bank account and currency, each at most once: first
// every payout whose reference (track id, payment number) a credit carries, whatever its amount or day; then
// by amount, the earliest credit booked within the payout's window. Payouts go in the order they were
// requested (then paid), first come first served, so the result does not depend on the order given — and an
// old payout the provider reports paid only now (its window is wide) does not take a recent payout's credit.
func MatchBankCredits(payouts []BankPayout, credits []BankCredit) []BankMatch {
	ps := slices.Clone(payouts)
	slices.SortFunc(ps, func(a, b BankPayout) int {
		return cmp.Or(a.WindowFrom.Compare(b.WindowFrom), a.PaidAt.Compare(b.PaidAt), strings.Compare(a.Key, b.Key))
	})
	cs := slices.Clone(credits)
	slices.SortFunc(cs, func(a, b BankCredit) int {
		return cmp.Or(a.BookingDate.Compare(b.BookingDate), strings.Compare(a.LineID, b.LineID))
	})
	taken := make([]bool, len(cs))
	matched := make([]bool, len(ps))
	var out []BankMatch
	for i, p := range ps {
		refs := payoutReferences(p)
		if len(refs) == 0 {
			continue
		}
		for j, c := range cs {
			if taken[j] || !c.Amount.IsPositive() || c.IBAN != p.IBAN || c.Currency != p.Currency || !carries(c, refs) {
				continue
			}
			taken[j], matched[i] = true, true
			out = append(out, BankMatch{Payout: p, Credit: c, Rule: BankRuleReference})
			break
		}
	}
	for i, p := range ps {
		if matched[i] {
			continue
		}
		for j, c := range cs { // in booking order: the first that fits is the earliest
			if taken[j] || c.IBAN != p.IBAN || c.Currency != p.Currency || !c.Amount.Equal(p.Amount) ||
				c.BookingDate.Before(p.WindowFrom) || c.BookingDate.After(p.DueDay) {
				continue
			}
			taken[j] = true
			out = append(out, BankMatch{Payout: p, Credit: c, Rule: BankRuleAmount})
			break
		}
	}
	return out
}

// minReferenceLen keeps a short reference ("12") from being found in every description.
const minReferenceLen = 4

func payoutReferences(p BankPayout) []string {
	var refs []string
	for _, r := range []string{p.TrackID, p.PaymentNumber} {
		if r = numerals.ASCII(strings.TrimSpace(r)); len(r) >= minReferenceLen {
			refs = append(refs, r)
		}
	}
	return refs
}

// carries says whether a credit names one of refs: as one of its references, or as a word of its description
// (not inside a longer word or number).
func carries(c BankCredit, refs []string) bool {
	desc := numerals.ASCII(c.Description)
	for _, r := range refs {
		for _, v := range []string{c.EndToEndID, c.BankReference, c.EntryReference} {
			if strings.EqualFold(numerals.ASCII(strings.TrimSpace(v)), r) {
				return true
			}
		}
		for i := 0; ; {
			k := strings.Index(strings.ToLower(desc[i:]), strings.ToLower(r))
			if k < 0 {
				break
			}
			start, end := i+k, i+k+len(r)
			if !wordByte(desc, start-1) && !wordByte(desc, end) {
				return true
			}
			i = start + 1
		}
	}
	return false
}

// wordByte says whether s[i] continues a word or number (an ASCII letter or digit); false outside s.
func wordByte(s string, i int) bool {
	if i < 0 || i >= len(s) {
		return false
	}
	b := s[i]
	return b < 0x80 && (unicode.IsLetter(rune(b)) || unicode.IsDigit(rune(b)))
}

// BankSubject names a bank account; BankLineSubject a line of its statements.
func BankSubject(iban string) string { return "bank/" + iban }

// BankLineSubject names a line of a bank account's statements.
func BankLineSubject(iban, lineID string) string { return BankSubject(iban) + "/line/" + lineID }

func payoutWhat(p Payout) string {
	switch {
	case p.BatchID != "":
		return fmt.Sprintf("batch %s item %s", p.BatchID, p.SettlementID)
	case p.SettlementID != "":
		return "settlement " + p.SettlementID
	}
	return "payout of item " + p.TransactionID
}

func payoutDetails(p BankPayout) map[string]any {
	return map[string]any{"iban": p.IBAN, "amount": p.Amount.String(), "currency": p.Currency,
		"transaction_id": p.TransactionID, "settlement_id": p.SettlementID, "batch_id": p.BatchID,
		"track_id": p.TrackID, "payment_number": p.PaymentNumber, "paid_at": p.PaidAt,
		"paid_day": p.PaidDay.Format(time.DateOnly), "window_from": p.WindowFrom.Format(time.DateOnly),
		"due_day": p.DueDay.Format(time.DateOnly), "payout_key": p.Key}
}

func missingKey(p BankPayout) string { return CheckBankCreditMissing + ":" + PayoutSubject(p.Payout) }

func unexpectedKey(iban, lineID string) string {
	return CheckBankCreditUnexpected + ":" + BankLineSubject(iban, lineID)
}

// BankCreditMissing judges a payout no credit has met, against how far the bank account's statements reach
// (coveredFrom to coveredThrough, the days of the earliest and the latest statement; zero while none has come):
// missing once they reach past its due day — a critical alert naming the settlement, the IBAN and the amount;
// UNKNOWN (no alert) while the statements have not reached it, or begin after the day it was paid (its credit
// may be in what they do not show). The wall clock plays no part: a bank statement that is late makes no
// payout missing, and its lateness has its own check (BankStatementStale).
func BankCreditMissing(p BankPayout, coveredFrom, coveredThrough time.Time) Result {
	r := Result{Check: CheckBankCreditMissing, Subject: PayoutSubject(p.Payout), WindowStart: p.WindowFrom,
		WindowEnd: p.DueDay, Watermark: coveredThrough, Expected: dec(p.Amount), Details: payoutDetails(p)}
	if !coveredThrough.IsZero() {
		r.Details["statements_from"] = coveredFrom.Format(time.DateOnly)
		r.Details["statements_through"] = coveredThrough.Format(time.DateOnly)
	}
	if coveredThrough.IsZero() || coveredThrough.Before(p.DueDay) || coveredFrom.After(p.PaidDay) {
		r.Outcome = Unknown
		return r
	}
	r.Outcome = Mismatch
	r.Severity = SeverityCritical
	r.DedupKey = missingKey(p)
	r.Actual = dec(decimal.Zero)
	r.Difference = dec(p.Amount.Neg())
	r.Summary = fmt.Sprintf("%s %s: %s (track %s) of %s %s was reported paid to %s on %s, and the bank's statements, "+
		"complete through %s, show no credit for it: due by %s",
		p.Provider, p.Account, payoutWhat(p.Payout), cmpOr(p.TrackID, "none"), p.Amount, p.Currency, p.IBAN,
		p.PaidDay.Format(time.DateOnly), coveredThrough.Format(time.DateOnly), p.DueDay.Format(time.DateOnly))
	return r
}

// BankCreditArrived is what a match resolves: the payout is no longer missing, the credit no longer
// unexplained. Each is an OK of its alert's key.
func BankCreditArrived(m BankMatch) []Result {
	p, c := m.Payout, m.Credit
	details := payoutDetails(p)
	details["line_id"], details["booking_date"], details["rule"] = c.LineID, c.BookingDate.Format(time.DateOnly), m.Rule
	details["credited"] = c.Amount.String()
	return []Result{
		{Check: CheckBankCreditMissing, Subject: PayoutSubject(p.Payout), WindowStart: p.WindowFrom,
			WindowEnd: p.DueDay, Expected: dec(p.Amount), Actual: dec(c.Amount), Difference: dec(m.Difference()),
			Outcome: OK, DedupKey: missingKey(p), Details: details},
		{Check: CheckBankCreditUnexpected, Subject: BankLineSubject(c.IBAN, c.LineID), WindowEnd: c.BookingDate,
			Actual: dec(c.Amount), Outcome: OK, DedupKey: unexpectedKey(c.IBAN, c.LineID), Details: details},
	}
}

// BankAmountDiffers is the alert of a payout whose credit, found by its reference, is of another amount than
// the provider said it paid. It is critical and sticky: money is missing (or extra) until a person decides.
func BankAmountDiffers(m BankMatch) Result {
	p, c := m.Payout, m.Credit
	details := payoutDetails(p)
	details["line_id"], details["booking_date"], details["rule"] = c.LineID, c.BookingDate.Format(time.DateOnly), m.Rule
	r := Result{Check: CheckBankAmountDiffers, Subject: PayoutSubject(p.Payout), WindowStart: p.PaidDay,
		WindowEnd: c.BookingDate, Expected: dec(p.Amount), Actual: dec(c.Amount), Difference: dec(m.Difference()),
		Details: details}
	if m.Difference().IsZero() {
		r.Outcome = OK
		return r
	}
	r.Outcome = Mismatch
	r.Severity = SeverityCritical
	r.Sticky = true
	r.DedupKey = CheckBankAmountDiffers + ":" + r.Subject
	r.Summary = fmt.Sprintf("%s %s: %s (track %s) was reported paid to %s as %s %s; the bank credited %s %s on %s "+
		"(line %s): a difference of %s %s",
		p.Provider, p.Account, payoutWhat(p.Payout), cmpOr(p.TrackID, "none"), p.IBAN, p.Amount, p.Currency,
		c.Amount, c.Currency, c.BookingDate.Format(time.DateOnly), c.LineID, m.Difference(), p.Currency)
	return r
}

// BankCreditUnexpected is the alert of a credit that looks like a provider's payout (BankConfig.PayoutPattern)
// and that no payout explains, once every payout reported up to its day has been applied (judged by the
// caller): money arrived that no provider says it sent — or a payout reported to another account.
func BankCreditUnexpected(c BankCredit) Result {
	return Result{Check: CheckBankCreditUnexpected, Subject: BankLineSubject(c.IBAN, c.LineID),
		WindowEnd: c.BookingDate, Actual: dec(c.Amount), Outcome: Mismatch, Severity: SeverityWarning,
		DedupKey: unexpectedKey(c.IBAN, c.LineID),
		Details: map[string]any{"iban": c.IBAN, "line_id": c.LineID, "booking_date": c.BookingDate.Format(time.DateOnly),
			"amount": c.Amount.String(), "currency": c.Currency, "description": c.Description,
			"end_to_end_id": c.EndToEndID, "bank_reference": c.BankReference},
		Summary: fmt.Sprintf("bank account %s: a credit of %s %s on %s looks like a payout (%q) but no provider reported "+
			"a payout it could be", c.IBAN, c.Amount, c.Currency, c.BookingDate.Format(time.DateOnly),
			truncateText(c.Description, 80)),
	}
}

// BankBalance compares a balance a bank statement states (opening or closing, of day) with the ledger's bank
// account at the same moment. A difference is critical: a line is missing (a statement not read, a gap
// between two), or the ledger holds one the bank does not.
func BankBalance(iban, kind, day, statementID, currency string, reported, ledger decimal.Decimal) Result {
	diff := ledger.Sub(reported)
	r := Result{Check: CheckBankBalance, Subject: BankSubject(iban), Expected: dec(reported), Actual: dec(ledger),
		Difference: dec(diff), DedupKey: CheckBankBalance + ":" + BankSubject(iban),
		Details: map[string]any{"iban": iban, "kind": kind, "date": day, "statement_id": statementID,
			"currency": currency}}
	if diff.IsZero() {
		r.Outcome = OK
		return r
	}
	r.Outcome = Mismatch
	r.Severity = SeverityCritical
	r.Explains = diff
	r.Summary = fmt.Sprintf("bank account %s: statement %s states a %s balance of %s %s on %s; the ledger's bank account "+
		"holds %s: a difference of %s %s", iban, cmpOr(statementID, "(no id)"), kind, reported, currency, day, ledger,
		diff, currency)
	return r
}

// BankStatementStale warns when a followed bank account's statements have not reached further for too long:
// until they do, none of its payouts can be confirmed or found missing.
func BankStatementStale(iban string, coveredThrough, dayStart, now time.Time, maxAge time.Duration) Result {
	// The statement of a day is complete at the day's end: its age counts from then.
	age := now.Sub(dayStart.AddDate(0, 0, 1))
	r := Result{Check: CheckBankStatementStale, Subject: BankSubject(iban), Watermark: coveredThrough,
		DedupKey: CheckBankStatementStale + ":" + BankSubject(iban),
		Details: map[string]any{"iban": iban, "statements_through": coveredThrough.Format(time.DateOnly),
			"age_seconds": int64(age.Seconds()), "max_age_seconds": int64(maxAge.Seconds())}}
	if age <= maxAge {
		r.Outcome = OK
		return r
	}
	r.Outcome = Unknown
	r.Severity = SeverityWarning
	r.Summary = fmt.Sprintf("bank account %s: no statement reaches past %s (%s ago, allowed %s): its payouts can "+
		"be neither confirmed nor found missing", iban, coveredThrough.Format(time.DateOnly), age.Round(time.Hour), maxAge)
	return r
}

func truncateText(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
