package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// TopicBank carries what a bank says about one of the business's bank accounts: the lines of its statements
// and the balances they state. Its facts are keyed by Key(provider, IBAN): one bank account's statements land
// on one partition, in the order they were read.
const TopicBank = "mizan.bank.v1"

// CloudEvents types of the bank's facts.
const (
	TypeBankLine    = "io.mizan.bank.line.v1"
	TypeBankBalance = "io.mizan.bank.balance.v1"
)

// Kinds of a statement balance.
const (
	// BankBalanceOpening is the balance before the statement's first day's lines (camt.053 OPBD).
	BankBalanceOpening = "opening"
	// BankBalanceClosing is the balance after the statement's last day's lines (camt.053 CLBD). A closing fact
	// also says how far the statement reaches (To): every line the bank booked up to then is in it.
	BankBalanceClosing = "closing"
)

// DateLayout is how a bank's calendar day is written in the bank facts: "2026-12-01".
const DateLayout = time.DateOnly

// ibanRE is the shape of an IBAN once normalized (NormalizeIBAN): a country code, two check digits and up to 30
// letters and digits.
var ibanRE = regexp.MustCompile(`^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$`)

// NormalizeIBAN writes an IBAN the one way mizan compares and stores it: upper case, without the spaces of
// its printed form.
func NormalizeIBAN(s string) string {
	return strings.ToUpper(strings.Join(strings.Fields(s), ""))
}

// IsIBAN reports whether s, normalized, has the shape of an IBAN (the check digits are the bank's concern).
func IsIBAN(s string) bool { return ibanRE.MatchString(NormalizeIBAN(s)) }

// BankLine is one line of a bank statement of one of the business's bank accounts: money the bank booked in
// or out of it.
//
// LineID is the provider's deterministic id of the line, derived from what the line is — never from which
// file or which statement it came in — so that a file dropped twice, or a later statement that repeats lines
// of an earlier one, states the same lines again and posts nothing twice.
type BankLine struct {
	Provider string `json:"provider"` // the source's provider: with IBAN, the events' key
	IBAN     string `json:"iban"`     // the bank account the statement is of, normalized
	Currency string `json:"currency"`
	LineID   string `json:"line_id"`
	// BookingDate is the bank's calendar day the line was booked on (DateLayout); BookedAt is that day's start
	// in the bank's time zone: when the line moves the ledger's bank account.
	BookingDate string    `json:"booking_date"`
	BookedAt    time.Time `json:"booked_at"`
	ValueDate   string    `json:"value_date,omitempty"` // the day the money counts from, where given
	// Amount is signed: positive for money in (a credit to the account), negative for money out.
	Amount decimal.Decimal `json:"amount"`
	// The line's references, where the bank gives them.
	EndToEndID       string `json:"end_to_end_id,omitempty"`   // the payer's id, carried end to end (camt EndToEndId)
	BankReference    string `json:"bank_reference,omitempty"`  // the bank's own reference (camt AcctSvcrRef; a tracking number)
	EntryReference   string `json:"entry_reference,omitempty"` // the entry's reference in the statement (camt NtryRef)
	Description      string `json:"description,omitempty"`     // the remittance text (camt Ustrd; a CSV's description)
	CounterpartyIBAN string `json:"counterparty_iban,omitempty"`
	CounterpartyName string `json:"counterparty_name,omitempty"`
	// RunningBalance is the account's balance after the line, where the statement prints one.
	RunningBalance *decimal.Decimal `json:"running_balance,omitempty"`
	// Where the line was read: the statement's id, the file's name and the line's number in it (a CSV row,
	// the XML line of a camt.053 entry). They locate the line for a person; they are not part of what it is.
	StatementID string          `json:"statement_id,omitempty"`
	File        string          `json:"file,omitempty"`
	Line        int             `json:"line,omitempty"`
	Raw         json.RawMessage `json:"raw"`
}

// Validate refuses a line that cannot be applied: what is missing or malformed is named.
func (l BankLine) Validate() error {
	switch {
	case l.Provider == "" || l.LineID == "":
		return errors.New("bank line without provider or line id")
	case !ibanRE.MatchString(l.IBAN):
		return fmt.Errorf("bank line %s: %q is not a normalized IBAN", l.LineID, l.IBAN)
	case l.Currency == "":
		return fmt.Errorf("bank line %s has no currency", l.LineID)
	case l.BookedAt.IsZero():
		return fmt.Errorf("bank line %s has no booking time", l.LineID)
	case l.Amount.IsZero():
		return fmt.Errorf("bank line %s moves nothing", l.LineID)
	}
	if _, err := time.Parse(DateLayout, l.BookingDate); err != nil {
		return fmt.Errorf("bank line %s: booking date %q is not a date", l.LineID, l.BookingDate)
	}
	if l.ValueDate != "" {
		if _, err := time.Parse(DateLayout, l.ValueDate); err != nil {
			return fmt.Errorf("bank line %s: value date %q is not a date", l.LineID, l.ValueDate)
		}
	}
	return nil
}

// Event wraps the line. The same line stated again — in the same file dropped twice, or in a statement that
// overlaps an earlier one — is the same fact: its id is the line's, whatever file it came in.
func (l BankLine) Event() (Event, error) {
	id := NewID(l.Provider, l.IBAN, "bank", "line", l.LineID, l.Amount.String(), l.Currency)
	return newEvent(TypeBankLine, "/"+l.Provider+"/"+l.IBAN+"/bank", l.LineID, Key(l.Provider, l.IBAN), id,
		l.BookedAt, l)
}

// BankBalance is a balance a bank statement states for the account: the opening balance before its first
// day's lines, or the closing balance after its last day's. A statement's opening fact comes before its
// lines and its closing fact after them, on the same partition, so that each is applied with exactly the
// lines before it.
type BankBalance struct {
	Provider    string `json:"provider"`
	IBAN        string `json:"iban"`
	Currency    string `json:"currency"`
	StatementID string `json:"statement_id,omitempty"`
	Kind        string `json:"kind"` // BankBalanceOpening or BankBalanceClosing
	// Date is the day the balance is of (DateLayout): an opening balance is the account before that day's
	// lines, a closing balance after them. At is the instant that means — the start of Date for an opening
	// balance, the start of the next day for a closing one — in the bank's time zone.
	Date string    `json:"date"`
	At   time.Time `json:"at"`
	// Amount is the balance, signed (an overdraft is negative); nil where the statement states none (a CSV
	// export without a balance column): a closing fact then only says how far the statement reaches.
	Amount *decimal.Decimal `json:"amount,omitempty"`
	// From and To are the first and last day the statement covers (DateLayout).
	From  string          `json:"from"`
	To    string          `json:"to"`
	Lines int             `json:"lines"` // how many lines the statement has
	File  string          `json:"file,omitempty"`
	Raw   json.RawMessage `json:"raw"`
}

// Validate refuses a balance that cannot be applied.
func (b BankBalance) Validate() error {
	switch {
	case b.Provider == "":
		return errors.New("bank balance without provider")
	case !ibanRE.MatchString(b.IBAN):
		return fmt.Errorf("bank balance: %q is not a normalized IBAN", b.IBAN)
	case b.Currency == "":
		return fmt.Errorf("bank balance of %s has no currency", b.IBAN)
	case b.Kind != BankBalanceOpening && b.Kind != BankBalanceClosing:
		return fmt.Errorf("bank balance of %s: kind %q is neither %s nor %s", b.IBAN, b.Kind, BankBalanceOpening,
			BankBalanceClosing)
	case b.At.IsZero():
		return fmt.Errorf("bank balance of %s has no time", b.IBAN)
	}
	for _, d := range []struct{ name, v string }{{"date", b.Date}, {"from", b.From}, {"to", b.To}} {
		if _, err := time.Parse(DateLayout, d.v); err != nil {
			return fmt.Errorf("bank balance of %s: %s %q is not a date", b.IBAN, d.name, d.v)
		}
	}
	if b.From > b.To {
		return fmt.Errorf("bank balance of %s: the statement runs from %s to %s", b.IBAN, b.From, b.To)
	}
	return nil
}

// Event wraps the balance. A later statement that states the same balance of the same day is the same fact.
// Its time is the start of Date — a closing balance's At, the next day, may still be ahead of the clock.
func (b BankBalance) Event() (Event, error) {
	amount := "none"
	if b.Amount != nil {
		amount = b.Amount.String()
	}
	id := NewID(b.Provider, b.IBAN, "bank", "balance", b.Kind, b.Date, amount, b.Currency, b.From, b.To)
	t := b.At
	if b.Kind == BankBalanceClosing {
		t = b.At.AddDate(0, 0, -1)
	}
	return newEvent(TypeBankBalance, "/"+b.Provider+"/"+b.IBAN+"/bank", b.Kind+"/"+b.Date, Key(b.Provider, b.IBAN),
		id, t, b)
}
