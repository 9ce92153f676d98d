package bankstatement

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
)

// statement is one statement of one bank account as a file states it, whatever its format.
type statement struct {
	file     string
	id       string
	iban     string
	currency string    // the file's currency (IRR for an Iranian bank)
	from, to time.Time // the days it covers (midnight UTC)
	opening  *decimal.Decimal
	closing  *decimal.Decimal
	lines    []line
}

// line is one line of a statement: money the bank booked in or out.
type line struct {
	n                int       // its line in the file: a CSV row, the XML line of a camt.053 entry
	booking, value   time.Time // days; value may be zero
	amount           decimal.Decimal
	currency         string
	endToEndID       string
	bankReference    string
	entryReference   string
	description      string
	counterpartyIBAN string
	counterpartyName string
	balance          *decimal.Decimal // the running balance after it, where the file prints one
	raw              json.RawMessage
}

// fileError is what is wrong with a file, and where: a file with one is refused whole.
type fileError struct {
	line int // 0: the file as a whole
	msg  string
}

func (e *fileError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("line %d: %s", e.line, e.msg)
	}
	return e.msg
}

func errorAt(n int, format string, args ...any) *fileError {
	return &fileError{line: n, msg: fmt.Sprintf(format, args...)}
}

// check refuses a statement that contradicts itself: a line outside the days it says it covers, or lines that
// do not take its opening balance to its closing one.
func (st *statement) check() error {
	if st.from.IsZero() || st.to.IsZero() {
		return errorAt(0, "the statement says nothing of the days it covers (no period, no balance dates, no lines)")
	}
	if st.to.Before(st.from) {
		return errorAt(0, "the statement runs from %s to %s", st.from.Format(events.DateLayout), st.to.Format(events.DateLayout))
	}
	sum := decimal.Zero
	for _, l := range st.lines {
		if l.amount.IsZero() {
			return errorAt(l.n, "an amount of zero")
		}
		if l.booking.Before(st.from) || l.booking.After(st.to) {
			return errorAt(l.n, "booked on %s, outside the statement's %s to %s", l.booking.Format(events.DateLayout),
				st.from.Format(events.DateLayout), st.to.Format(events.DateLayout))
		}
		if l.currency != st.currency {
			return errorAt(l.n, "an amount in %s in a statement in %s", l.currency, st.currency)
		}
		sum = sum.Add(l.amount)
	}
	if st.opening != nil && st.closing != nil && !st.opening.Add(sum).Equal(*st.closing) {
		return errorAt(0, "unbalanced: the opening balance %s and the lines (%s) make %s, the closing balance says %s",
			st.opening, sum, st.opening.Add(sum), st.closing)
	}
	return nil
}

// converter turns a file's amounts into the ledger's currency.
type converter struct {
	ledger string // the currency the ledger keeps the account in
}

// convert turns an amount in the file's currency into the ledger's. Rials become tomans (IRT, mizan's unit for
// Iran: 1 toman = 10 rials) only when exact: a rial amount that is no whole number of tomans is refused, never
// rounded.
func (c converter) convert(d decimal.Decimal, currency string) (decimal.Decimal, error) {
	switch {
	case currency == c.ledger:
		if c.ledger == events.CurrencyToman && !d.IsInteger() {
			return d, fmt.Errorf("%s tomans is not a whole number of tomans", d)
		}
		return d, nil
	case currency == "IRR" && c.ledger == events.CurrencyToman:
		t := d.Div(decimal.NewFromInt(10))
		if !t.IsInteger() {
			return d, fmt.Errorf("%s rials is not a whole number of tomans (set currency: IRR to keep the account in rials)", d)
		}
		return t, nil
	}
	return d, fmt.Errorf("an amount in %s; the source keeps the account in %s", currency, c.ledger)
}

// facts turns a statement into the bank's facts: its lines, and its balances — the opening one (where the file
// states it), to be applied before the lines, and the closing one (always: it also says how far the statement
// reaches), after them. zone is the bank's time zone: which instant a day starts at.
func (st *statement) facts(provider string, conv converter, zone *time.Location) ([]events.BankLine, []events.BankBalance, error) {
	start := func(day time.Time) time.Time {
		return time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, zone)
	}
	from, to := st.from.Format(events.DateLayout), st.to.Format(events.DateLayout)
	balance := func(kind string, day time.Time, amount *decimal.Decimal) (events.BankBalance, error) {
		b := events.BankBalance{Provider: provider, IBAN: st.iban, Currency: conv.ledger, StatementID: st.id, Kind: kind,
			Date: day.Format(events.DateLayout), At: start(day), From: from, To: to, Lines: len(st.lines), File: st.file,
			Raw: json.RawMessage(`{}`)}
		if kind == events.BankBalanceClosing {
			b.At = start(day.AddDate(0, 0, 1))
		}
		if amount != nil {
			v, err := conv.convert(*amount, st.currency)
			if err != nil {
				return b, errorAt(0, "the %s balance: %v", kind, err)
			}
			b.Amount = &v
			b.Raw, _ = json.Marshal(map[string]string{"amount": amount.String(), "currency": st.currency})
		}
		return b, nil
	}
	opening, err := balance(events.BankBalanceOpening, st.from, st.opening)
	if err != nil {
		return nil, nil, err
	}
	closing, err := balance(events.BankBalanceClosing, st.to, st.closing)
	if err != nil {
		return nil, nil, err
	}
	var lines []events.BankLine
	seen := map[string]int{} // how many identical lines came before: the k-th of two equal lines is another line
	for _, l := range st.lines {
		amount, err := conv.convert(l.amount, l.currency)
		if err != nil {
			return nil, nil, errorAt(l.n, "%v", err)
		}
		bl := events.BankLine{Provider: provider, IBAN: st.iban, Currency: conv.ledger,
			BookingDate: l.booking.Format(events.DateLayout), BookedAt: start(l.booking), Amount: amount,
			EndToEndID: l.endToEndID, BankReference: l.bankReference, EntryReference: l.entryReference,
			Description: l.description, CounterpartyIBAN: events.NormalizeIBAN(l.counterpartyIBAN),
			CounterpartyName: l.counterpartyName, StatementID: st.id, File: st.file, Line: l.n, Raw: l.raw}
		if !l.value.IsZero() {
			bl.ValueDate = l.value.Format(events.DateLayout)
		}
		if l.balance != nil {
			v, err := conv.convert(*l.balance, l.currency)
			if err != nil {
				return nil, nil, errorAt(l.n, "the balance: %v", err)
			}
			bl.RunningBalance = &v
		}
		identity := lineIdentity(bl)
		bl.LineID = lineID(identity, seen[identity])
		seen[identity]++
		lines = append(lines, bl)
	}
	balances := []events.BankBalance{opening, closing}
	if opening.Amount == nil { // an opening balance says nothing the closing one does not
		balances = balances[1:]
	}
	return lines, balances, nil
}

// lineIdentity is what a line is — never which file, statement or position it came in, nor the running
// balance (an export may order a day's lines differently): the same line stated by a later statement that
// overlaps an earlier one has the same identity. The entry reference (camt.053 NtryRef) is left out too: many
// banks number the entries of each statement afresh.
func lineIdentity(l events.BankLine) string {
	return strings.Join([]string{l.IBAN, l.BookingDate, l.ValueDate, l.Amount.String(), l.Currency,
		l.EndToEndID, l.BankReference, l.Description, l.CounterpartyIBAN, l.CounterpartyName}, "\x1f")
}

// lineID is the k-th line of an identity's id: two equal lines of one day (two identical card payments) are
// two lines, numbered in the order the statement lists them — which a later statement repeats.
func lineID(identity string, k int) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s\x1f%d", identity, k)))
	return hex.EncodeToString(sum[:12])
}
