package bankstatement

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mizanhq/mizan/internal/events"
)

// CSVMapping says how a bank's spreadsheet export (CSV) is read: which column holds what, and how dates and
// numbers are written. A column is named by its header's text (with Header) or by its number, counting from 1.
type CSVMapping struct {
	// Delimiter separates the cells: ",", ";", "\t" or "|". Default ",".
	Delimiter string `yaml:"delimiter"`
	// Header says the first row (after SkipRows) names the columns. Default true.
	Header *bool `yaml:"header"`
	// SkipRows are rows before the header (or the first line) to skip: a bank's title, the account's name.
	SkipRows int `yaml:"skip_rows"`
	// FooterRows are rows at the end to skip: a totals row.
	FooterRows int `yaml:"footer_rows"`
	// Date is the booking date's column; required. DateFormat is "jalali" (1402/01/02, 1402-1-2, Persian
	// digits, a time after it ignored) or a Go layout of a Gregorian date ("2006-01-02", "02/01/2006").
	// Default jalali.
	Date       string `yaml:"date"`
	DateFormat string `yaml:"date_format"`
	// ValueDate is the value date's column, in DateFormat; optional.
	ValueDate string `yaml:"value_date"`
	// Amount is one signed column (negative: money out). Or Debit and Credit: two columns, money out and
	// money in, one of them empty or zero on each row.
	Amount string `yaml:"amount"`
	Debit  string `yaml:"debit"`
	Credit string `yaml:"credit"`
	// Balance is the running balance after each row; optional. With it, the statement's opening and closing
	// balances are known and every row is checked against the one before.
	Balance string `yaml:"balance"`
	// Description, Reference (the bank's tracking or document number), EndToEndID, Counterparty (a name) and
	// CounterpartyIBAN: optional columns.
	Description      string `yaml:"description"`
	Reference        string `yaml:"reference"`
	EndToEndID       string `yaml:"end_to_end_id"`
	Counterparty     string `yaml:"counterparty"`
	CounterpartyIBAN string `yaml:"counterparty_iban"`
	// DecimalSeparator and ThousandsSeparator are how amounts are written: each any of its characters.
	// Defaults "." and "," ; the Arabic separators (٫ decimal, ٬ thousands) are always read.
	DecimalSeparator   string `yaml:"decimal_separator"`
	ThousandsSeparator string `yaml:"thousands_separator"`
	// Currency is the file's currency. Default: the source's (IRR files are read into an IRT account).
	Currency string `yaml:"currency"`
	// Order is the rows' order: "ascending" (oldest first), "descending" (newest first, as many Iranian banks
	// export) or "auto" (the dates and the running balance decide). Default auto.
	Order string `yaml:"order"`
}

func (m *CSVMapping) check() error {
	switch m.Delimiter {
	case "", ",", ";", "\t", "|":
	default:
		return fmt.Errorf("field csv.delimiter: %q is not one of , ; | or a tab", m.Delimiter)
	}
	if m.Date == "" {
		return errors.New("field csv.date: the booking date's column is required")
	}
	switch {
	case m.Amount != "" && (m.Debit != "" || m.Credit != ""):
		return errors.New("field csv.amount: give either amount (one signed column) or debit and credit, not both")
	case m.Amount == "" && (m.Debit == "" || m.Credit == ""):
		return errors.New("field csv.amount: an amount column, or both debit and credit columns, are required")
	}
	if m.DateFormat != "" && m.DateFormat != dateFormatJalali {
		// A layout must write a day and read it back: year, month and day all in it.
		ref := time.Date(2026, 3, 25, 0, 0, 0, 0, time.UTC)
		if t, err := time.Parse(m.DateFormat, ref.Format(m.DateFormat)); err != nil || !t.Equal(ref) {
			return fmt.Errorf("field csv.date_format: %q is neither jalali nor a Go date layout such as 2006-01-02", m.DateFormat)
		}
	}
	switch m.Order {
	case "", "auto", "ascending", "descending":
	default:
		return fmt.Errorf("field csv.order: %q is not auto, ascending or descending", m.Order)
	}
	if m.SkipRows < 0 || m.FooterRows < 0 {
		return errors.New("field csv.skip_rows, csv.footer_rows: cannot be negative")
	}
	return nil
}

// csvRow is one row read: its cells and the line of the file it starts on.
type csvRow struct {
	cells []string
	line  int
}

// parseCSV reads one CSV export of one account's statement. Its id is the file's name without extension.
func parseCSV(file string, data []byte, m CSVMapping, iban, currency string) (statement, error) {
	st := statement{file: file, id: strings.TrimSuffix(file, path.Ext(file)), iban: iban,
		currency: cmpOr(m.Currency, currency)}
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	if !utf8.Valid(data) {
		return st, errorAt(0, "not UTF-8 text (export the spreadsheet as CSV UTF-8)")
	}
	r := csv.NewReader(bytes.NewReader(data))
	if m.Delimiter != "" {
		r.Comma, _ = utf8.DecodeRuneInString(m.Delimiter)
	}
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	var rows []csvRow
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return st, errorAt(pe.Line, "not well-formed CSV: %v", pe.Err)
			}
			return st, errorAt(0, "not well-formed CSV: %v", err)
		}
		line, _ := r.FieldPos(0)
		rows = append(rows, csvRow{cells: rec, line: line})
	}
	if m.SkipRows > len(rows) {
		return st, errorAt(0, "it has %d rows, fewer than the %d to skip", len(rows), m.SkipRows)
	}
	rows = rows[m.SkipRows:]
	cols := map[string]int{}
	if m.Header == nil || *m.Header {
		if len(rows) == 0 {
			return st, errorAt(0, "no header row")
		}
		for i, c := range rows[0].cells {
			cols[strings.TrimSpace(asciiDigits(c))] = i
		}
		rows = rows[1:]
	}
	if m.FooterRows > len(rows) {
		return st, errorAt(0, "it has %d rows, fewer than the %d footer rows to skip", len(rows), m.FooterRows)
	}
	rows = rows[:len(rows)-m.FooterRows]
	column := func(field, name string) (int, error) {
		if name == "" {
			return -1, nil
		}
		if i, ok := cols[strings.TrimSpace(asciiDigits(name))]; ok {
			return i, nil
		}
		if n, err := strconv.Atoi(name); err == nil && n >= 1 {
			return n - 1, nil
		}
		return -1, errorAt(0, "column %q of csv.%s is not in the header (it has: %s)", name, field, headerNames(cols))
	}
	idx := map[string]int{}
	for field, name := range map[string]string{"date": m.Date, "value_date": m.ValueDate, "amount": m.Amount,
		"debit": m.Debit, "credit": m.Credit, "balance": m.Balance, "description": m.Description,
		"reference": m.Reference, "end_to_end_id": m.EndToEndID, "counterparty": m.Counterparty,
		"counterparty_iban": m.CounterpartyIBAN} {
		i, err := column(field, name)
		if err != nil {
			return st, err
		}
		idx[field] = i
	}
	format := cmpOr(m.DateFormat, dateFormatJalali)
	nf := numberFormat{decimal: cmpOr(m.DecimalSeparator, ".") + "٫", thousands: cmpOr(m.ThousandsSeparator, ",") + "٬"}
	for _, row := range rows {
		cell := func(field string) string {
			i := idx[field]
			if i < 0 || i >= len(row.cells) {
				return ""
			}
			return strings.TrimSpace(row.cells[i])
		}
		if strings.TrimSpace(strings.Join(row.cells, "")) == "" {
			continue // an empty row
		}
		if idx["date"] >= len(row.cells) {
			return st, errorAt(row.line, "%d cells, no date column (%d)", len(row.cells), idx["date"]+1)
		}
		l := line{n: row.line, currency: st.currency, description: cell("description"),
			bankReference: asciiDigits(cell("reference")), endToEndID: asciiDigits(cell("end_to_end_id")),
			counterpartyName: cell("counterparty"), counterpartyIBAN: asciiDigits(cell("counterparty_iban"))}
		var err error
		if l.booking, err = parseDate(cell("date"), format); err != nil {
			return st, errorAt(row.line, "date: %v", err)
		}
		if v := cell("value_date"); v != "" {
			if l.value, err = parseDate(v, format); err != nil {
				return st, errorAt(row.line, "value date: %v", err)
			}
		}
		if m.Balance != "" && movesNothing(row, idx, m) {
			// A row that only carries a balance (مانده از قبل, the balance brought forward) moves no money:
			// the rows around it chain their balances without it.
			continue
		}
		if m.Amount != "" {
			var ok bool
			if l.amount, ok, err = nf.parseAmount(cell("amount")); err != nil || !ok {
				return st, errorAt(row.line, "amount: %v", orMissing(err))
			}
		} else {
			debit, dok, err := nf.parseAmount(cell("debit"))
			if err != nil {
				return st, errorAt(row.line, "debit: %v", err)
			}
			credit, cok, err := nf.parseAmount(cell("credit"))
			if err != nil {
				return st, errorAt(row.line, "credit: %v", err)
			}
			switch {
			case dok && !debit.IsZero() && cok && !credit.IsZero():
				return st, errorAt(row.line, "both a debit (%s) and a credit (%s)", debit, credit)
			case debit.IsNegative() || credit.IsNegative():
				return st, errorAt(row.line, "a negative debit or credit")
			case dok && !debit.IsZero():
				l.amount = debit.Neg()
			case cok && !credit.IsZero():
				l.amount = credit
			default:
				return st, errorAt(row.line, "neither a debit nor a credit")
			}
		}
		if m.Balance != "" {
			b, ok, err := nf.parseAmount(cell("balance"))
			if err != nil || !ok {
				return st, errorAt(row.line, "balance: %v", orMissing(err))
			}
			l.balance = &b
		}
		cells, _ := json.Marshal(row.cells)
		l.raw, _ = json.Marshal(map[string]json.RawMessage{"cells": cells})
		st.lines = append(st.lines, l)
	}
	if len(st.lines) == 0 {
		return st, errorAt(0, "no rows")
	}
	if err := orderRows(&st, m.Order, m.Balance != ""); err != nil {
		return st, err
	}
	for _, l := range st.lines {
		if st.from.IsZero() || l.booking.Before(st.from) {
			st.from = l.booking
		}
		if st.to.IsZero() || l.booking.After(st.to) {
			st.to = l.booking
		}
	}
	if first, last := st.lines[0], st.lines[len(st.lines)-1]; last.balance != nil {
		opening := first.balance.Sub(first.amount)
		st.opening, st.closing = &opening, last.balance
	}
	return st, st.check()
}

// orderRows puts a statement's rows oldest first, and checks each running balance against the one before.
func orderRows(st *statement, order string, balances bool) error {
	ls := st.lines
	ascending := func() bool {
		for i := 1; i < len(ls); i++ {
			if ls[i].booking.Before(ls[i-1].booking) {
				return false
			}
		}
		return true
	}
	descending := func() bool {
		for i := 1; i < len(ls); i++ {
			if ls[i].booking.After(ls[i-1].booking) {
				return false
			}
		}
		return true
	}
	// chained returns the first row whose balance is not the row before's plus its amount (0 if none).
	chained := func(rows []line) int {
		for i := 1; i < len(rows); i++ {
			if !rows[i].balance.Equal(rows[i-1].balance.Add(rows[i].amount)) {
				return i
			}
		}
		return 0
	}
	reversed := slices.Clone(ls)
	slices.Reverse(reversed)
	switch order {
	case "descending":
		st.lines = reversed
	case "ascending":
	default:
		switch {
		case balances && chained(ls) == 0 && ascending():
		case balances && chained(reversed) == 0 && descending():
			st.lines = reversed
		case !balances && ascending():
		case !balances && descending():
			st.lines = reversed
		case !balances:
			return errorAt(0, "the rows are in no date order; set csv.order")
		}
	}
	if balances {
		if i := chained(st.lines); i > 0 {
			prev, l := st.lines[i-1], st.lines[i]
			return errorAt(l.n, "the balance %s is not the balance of line %d (%s) plus this line's %s", l.balance,
				prev.n, prev.balance, l.amount)
		}
	}
	for i := 1; i < len(st.lines); i++ {
		if st.lines[i].booking.Before(st.lines[i-1].booking) {
			return errorAt(st.lines[i].n, "booked on %s, before the line above it (%s): the rows are not in order",
				st.lines[i].booking.Format(events.DateLayout), st.lines[i-1].booking.Format(events.DateLayout))
		}
	}
	return nil
}

// movesNothing says whether a row's amount cells (amount, or debit and credit) are all empty or zero.
func movesNothing(row csvRow, idx map[string]int, m CSVMapping) bool {
	fields := []string{"debit", "credit"}
	if m.Amount != "" {
		fields = []string{"amount"}
	}
	for _, f := range fields {
		i := idx[f]
		if i < 0 || i >= len(row.cells) {
			continue
		}
		v := strings.Trim(asciiDigits(row.cells[i]), " 0.,٫٬-")
		if v != "" {
			return false
		}
	}
	return true
}

func headerNames(cols map[string]int) string {
	names := make([]string, 0, len(cols))
	for n := range cols {
		names = append(names, strconv.Quote(n))
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

func orMissing(err error) error {
	if err == nil {
		return errors.New("empty")
	}
	return err
}
