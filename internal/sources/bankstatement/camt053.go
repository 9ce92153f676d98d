package bankstatement

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
)

// ISO 20022 camt.053 (BankToCustomerStatement): Document/BkToCstmrStmt/Stmt, one per account and period. The
// element names read here are the same in every version from camt.053.001.02 to .001.13; where versions differ
// (an entry's status as text or as <Cd>, a transaction's amount in <Amt> or in <AmtDtls><TxAmt>, a party's
// name in <Dbtr><Nm> or <Dbtr><Pty><Nm>) both are read. Elements are matched by local name, whatever the
// namespace (the version).

type camtDocument struct {
	Statements []camtStatement `xml:"BkToCstmrStmt>Stmt"`
	Reports    []struct{}      `xml:"BkToCstmrAcctRpt>Rpt"` // camt.052: an intraday report, not a statement
}

type camtStatement struct {
	ID     string `xml:"Id"`
	Period *struct {
		From string `xml:"FrDtTm"`
		To   string `xml:"ToDtTm"`
	} `xml:"FrToDt"`
	IBAN     string        `xml:"Acct>Id>IBAN"`
	Other    string        `xml:"Acct>Id>Othr>Id"`
	Currency string        `xml:"Acct>Ccy"`
	Balances []camtBalance `xml:"Bal"`
	Entries  []camtEntry   `xml:"Ntry"`
}

type camtBalance struct {
	Code      string     `xml:"Tp>CdOrPrtry>Cd"`
	Amount    camtAmount `xml:"Amt"`
	Indicator string     `xml:"CdtDbtInd"`
	Date      camtDate   `xml:"Dt"`
}

type camtAmount struct {
	Currency string `xml:"Ccy,attr"`
	Value    string `xml:",chardata"`
}

type camtDate struct {
	Date     string `xml:"Dt"`
	DateTime string `xml:"DtTm"`
}

type camtEntry struct {
	Ref            string       `xml:"NtryRef"`
	Amount         camtAmount   `xml:"Amt"`
	Indicator      string       `xml:"CdtDbtInd"`
	Status         camtStatus   `xml:"Sts"`
	Booking        camtDate     `xml:"BookgDt"`
	Value          camtDate     `xml:"ValDt"`
	ServicerRef    string       `xml:"AcctSvcrRef"`
	Details        []camtTxList `xml:"NtryDtls"`
	AdditionalInfo string       `xml:"AddtlNtryInf"`
	Inner          string       `xml:",innerxml"`
}

type camtStatus struct {
	Text        string `xml:",chardata"`
	Code        string `xml:"Cd"`
	Proprietary string `xml:"Prtry"`
}

func (s camtStatus) code() string {
	for _, v := range []string{s.Code, s.Proprietary, s.Text} {
		if v = strings.TrimSpace(v); v != "" {
			return strings.ToUpper(v)
		}
	}
	return ""
}

type camtTxList struct {
	Transactions []camtTx `xml:"TxDtls"`
}

type camtTx struct {
	EndToEndID     string      `xml:"Refs>EndToEndId"`
	ServicerRef    string      `xml:"Refs>AcctSvcrRef"`
	Amount         *camtAmount `xml:"Amt"`
	TxAmount       *camtAmount `xml:"AmtDtls>TxAmt>Amt"`
	Indicator      string      `xml:"CdtDbtInd"`
	DebtorName     string      `xml:"RltdPties>Dbtr>Nm"`
	DebtorPartyNm  string      `xml:"RltdPties>Dbtr>Pty>Nm"`
	DebtorIBAN     string      `xml:"RltdPties>DbtrAcct>Id>IBAN"`
	CreditorName   string      `xml:"RltdPties>Cdtr>Nm"`
	CreditorPtyNm  string      `xml:"RltdPties>Cdtr>Pty>Nm"`
	CreditorIBAN   string      `xml:"RltdPties>CdtrAcct>Id>IBAN"`
	Unstructured   []string    `xml:"RmtInf>Ustrd"`
	AdditionalInfo string      `xml:"AddtlTxInf"`
}

// maxRawXML bounds the XML kept as a line's raw item.
const maxRawXML = 8 << 10

// parseCAMT053 reads the statements of a camt.053 file. Only the statements of iban are returned; a file with
// none of them is refused, naming the accounts it has.
func parseCAMT053(file string, data []byte, iban string) ([]statement, error) {
	var doc camtDocument
	if err := xml.Unmarshal(data, &doc); err != nil {
		var syn *xml.SyntaxError
		if errors.As(err, &syn) {
			return nil, errorAt(syn.Line, "not well-formed XML: %s", syn.Msg)
		}
		return nil, errorAt(0, "not a camt.053 document: %v", err)
	}
	if len(doc.Statements) == 0 {
		if len(doc.Reports) > 0 {
			return nil, errorAt(0, "a camt.052 account report, not a camt.053 statement")
		}
		return nil, errorAt(0, "no camt.053 statement in it (Document/BkToCstmrStmt/Stmt)")
	}
	pos, err := camtPositions(data)
	if err != nil {
		return nil, err
	}
	if len(pos.entries) != countEntries(doc) || len(pos.balances) != countBalances(doc) {
		return nil, errorAt(0, "entries or balances outside Document/BkToCstmrStmt/Stmt")
	}
	var out []statement
	var others []string
	k, kb := 0, 0 // the entry's and the balance's index in the document, across statements
	for _, s := range doc.Statements {
		entries := pos.entries[k : k+len(s.Entries)]
		balances := pos.balances[kb : kb+len(s.Balances)]
		k, kb = k+len(s.Entries), kb+len(s.Balances)
		acct := events.NormalizeIBAN(s.IBAN)
		if acct == "" {
			acct = strings.TrimSpace(s.Other)
		}
		if acct != iban {
			others = append(others, acct)
			continue
		}
		st, err := camtStatementOf(file, s, entries, balances)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	if len(out) == 0 {
		return nil, errorAt(0, "its statements are of %s, not of %s", strings.Join(others, ", "), iban)
	}
	return out, nil
}

func countEntries(doc camtDocument) (n int) {
	for _, s := range doc.Statements {
		n += len(s.Entries)
	}
	return n
}

func countBalances(doc camtDocument) (n int) {
	for _, s := range doc.Statements {
		n += len(s.Balances)
	}
	return n
}

// entryPos is where an entry and its transactions start in the file.
type entryPos struct {
	line int
	txs  []int
}

// positions are where the balances and entries start in the file, in document order.
type positions struct {
	entries  []entryPos
	balances []int
}

// camtPositions finds the line of every <Bal> and <Ntry>, and of each <TxDtls> in an entry, in document
// order: what a person is pointed to when one is refused.
func camtPositions(data []byte) (positions, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	var out positions
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			var syn *xml.SyntaxError
			if errors.As(err, &syn) {
				return out, errorAt(syn.Line, "not well-formed XML: %s", syn.Msg)
			}
			return out, errorAt(0, "not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			line, _ := dec.InputPos()
			switch se.Name.Local {
			case "Bal":
				out.balances = append(out.balances, line)
			case "Ntry":
				out.entries = append(out.entries, entryPos{line: line})
			case "TxDtls":
				if n := len(out.entries); n > 0 {
					out.entries[n-1].txs = append(out.entries[n-1].txs, line)
				}
			}
		}
	}
}

func camtStatementOf(file string, s camtStatement, pos []entryPos, balPos []int) (statement, error) {
	st := statement{file: file, id: strings.TrimSpace(s.ID), iban: events.NormalizeIBAN(s.IBAN),
		currency: strings.TrimSpace(s.Currency)}
	var err error
	for i, b := range s.Balances {
		switch code := strings.ToUpper(strings.TrimSpace(b.Code)); code {
		case "OPBD", "PRCD":
			if st.opening != nil {
				continue
			}
			var day time.Time
			if st.opening, day, err = camtBalanceOf(b, &st, balPos[i]); err != nil {
				return st, err
			}
			if code == "PRCD" { // the previous statement's closing balance: this one starts the next day
				day = day.AddDate(0, 0, 1)
			}
			if s.Period == nil {
				st.from = day
			}
		case "CLBD":
			if st.closing != nil {
				continue
			}
			var day time.Time
			if st.closing, day, err = camtBalanceOf(b, &st, balPos[i]); err != nil {
				return st, err
			}
			if s.Period == nil {
				st.to = day
			}
		}
	}
	if s.Period != nil {
		if st.from, err = camtDay(s.Period.From); err != nil {
			return st, errorAt(0, "FrToDt/FrDtTm: %v", err)
		}
		if st.to, err = camtDay(s.Period.To); err != nil {
			return st, errorAt(0, "FrToDt/ToDtTm: %v", err)
		}
		// A period that ends at midnight ends with the day before it.
		if to := strings.TrimSpace(s.Period.To); len(to) >= 19 && to[10:19] == "T00:00:00" && st.to.After(st.from) {
			st.to = st.to.AddDate(0, 0, -1)
		}
	}
	for i, e := range s.Entries {
		ls, err := camtLinesOf(e, pos[i], st.currency)
		if err != nil {
			return st, err
		}
		st.lines = append(st.lines, ls...)
	}
	if st.currency == "" && len(st.lines) > 0 {
		st.currency = st.lines[0].currency
	}
	if st.from.IsZero() || st.to.IsZero() {
		for _, l := range st.lines {
			if st.from.IsZero() || l.booking.Before(st.from) {
				st.from = l.booking
			}
			if st.to.IsZero() || l.booking.After(st.to) {
				st.to = l.booking
			}
		}
	}
	return st, st.check()
}

// camtBalanceOf reads a balance, which starts on line n: its signed amount and its day.
func camtBalanceOf(b camtBalance, st *statement, n int) (*decimal.Decimal, time.Time, error) {
	what := "balance " + strings.TrimSpace(b.Code)
	d, err := camtSigned(b.Amount, b.Indicator)
	if err != nil {
		return nil, time.Time{}, errorAt(n, "%s: %v", what, err)
	}
	if st.currency == "" {
		st.currency = strings.TrimSpace(b.Amount.Currency)
	}
	if c := strings.TrimSpace(b.Amount.Currency); c != "" && c != st.currency {
		return nil, time.Time{}, errorAt(n, "%s is in %s, the account in %s", what, c, st.currency)
	}
	day, err := camtDateOf(b.Date)
	if err != nil {
		return nil, time.Time{}, errorAt(n, "%s: %v", what, err)
	}
	return &d, day, nil
}

// camtSigned reads an amount (never signed in camt.053) and its credit/debit indicator.
func camtSigned(a camtAmount, indicator string) (decimal.Decimal, error) {
	v := strings.TrimSpace(a.Value)
	if !plainDecimal.MatchString(v) {
		return decimal.Zero, fmt.Errorf("amount %q is not a decimal amount", a.Value)
	}
	d, err := decimal.NewFromString(v)
	if err != nil {
		return decimal.Zero, fmt.Errorf("amount %q is not a decimal amount", a.Value)
	}
	switch strings.ToUpper(strings.TrimSpace(indicator)) {
	case "CRDT":
		return d, nil
	case "DBIT":
		return d.Neg(), nil
	}
	return decimal.Zero, fmt.Errorf("credit/debit indicator %q is neither CRDT nor DBIT", indicator)
}

func camtDateOf(d camtDate) (time.Time, error) {
	if s := strings.TrimSpace(d.Date); s != "" {
		return camtDay(s)
	}
	if s := strings.TrimSpace(d.DateTime); s != "" {
		return camtDay(s)
	}
	return time.Time{}, errors.New("no date")
}

// camtDay reads an ISODate (2026-03-05) or the day of an ISODateTime (2026-03-05T23:59:59, with or without a
// zone: the day as the bank wrote it).
func camtDay(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if len(s) < 10 {
		return time.Time{}, fmt.Errorf("%q is not a date", s)
	}
	t, err := time.Parse(time.DateOnly, s[:10])
	if err != nil || (len(s) > 10 && s[10] != 'T' && s[10] != '+' && s[10] != 'Z' && s[10] != '-') {
		return time.Time{}, fmt.Errorf("%q is not a date", s)
	}
	return t, nil
}

// camtLinesOf reads an entry's lines: one for the entry, or — for a batch booked as one entry whose
// transactions each carry their amount (NtryDtls with several TxDtls) — one per transaction, so that each
// payout in it can meet its credit. Entries not booked (PDNG, INFO) have not moved the account and are left
// out.
func camtLinesOf(e camtEntry, pos entryPos, currency string) ([]line, error) {
	switch st := e.Status.code(); st {
	case "", "BOOK":
	case "PDNG", "INFO", "FUTR":
		return nil, nil
	default:
		return nil, errorAt(pos.line, "entry status %q is not BOOK, PDNG or INFO", st)
	}
	amount, err := camtSigned(e.Amount, e.Indicator)
	if err != nil {
		return nil, errorAt(pos.line, "%v", err)
	}
	cur := strings.TrimSpace(e.Amount.Currency)
	if cur == "" {
		cur = currency
	}
	booking, err := camtDateOf(e.Booking)
	if err != nil {
		return nil, errorAt(pos.line, "booking date (BookgDt): %v", err)
	}
	var value time.Time
	if e.Value.Date != "" || e.Value.DateTime != "" {
		if value, err = camtDateOf(e.Value); err != nil {
			return nil, errorAt(pos.line, "value date (ValDt): %v", err)
		}
	}
	rawXML := "<Ntry>" + e.Inner + "</Ntry>"
	if len(rawXML) > maxRawXML {
		rawXML = rawXML[:maxRawXML]
	}
	raw, _ := json.Marshal(map[string]string{"xml": rawXML})
	base := line{n: pos.line, booking: booking, value: value, amount: amount, currency: cur,
		bankReference: strings.TrimSpace(e.ServicerRef), entryReference: strings.TrimSpace(e.Ref),
		description: strings.TrimSpace(e.AdditionalInfo), raw: raw}
	var txs []camtTx
	for _, d := range e.Details {
		txs = append(txs, d.Transactions...)
	}
	if len(txs) == 0 {
		return []line{base}, nil
	}
	withAmounts := true
	for _, tx := range txs {
		if tx.Amount == nil && tx.TxAmount == nil {
			withAmounts = false
		}
	}
	if len(txs) == 1 || !withAmounts {
		// One transaction, or a batch whose parts carry no amount: one line, with the first transaction's
		// references.
		l := base
		camtTxInto(&l, txs[0], amount.IsPositive())
		return []line{l}, nil
	}
	var out []line
	sum := decimal.Zero
	for i, tx := range txs {
		l := base
		if i < len(pos.txs) {
			l.n = pos.txs[i]
		}
		a := tx.Amount
		if a == nil {
			a = tx.TxAmount
		}
		ind := tx.Indicator
		if ind == "" {
			ind = e.Indicator
		}
		if l.amount, err = camtSigned(*a, ind); err != nil {
			return nil, errorAt(l.n, "transaction %d of the entry: %v", i+1, err)
		}
		if c := strings.TrimSpace(a.Currency); c != "" && c != cur {
			return nil, errorAt(l.n, "transaction %d is in %s, its entry in %s", i+1, c, cur)
		}
		camtTxInto(&l, tx, l.amount.IsPositive())
		sum = sum.Add(l.amount)
		out = append(out, l)
	}
	if !sum.Equal(amount) {
		return nil, errorAt(pos.line, "the entry's %d transactions add up to %s, the entry says %s", len(txs), sum, amount)
	}
	return out, nil
}

// camtTxInto copies a transaction's references into its line: the payer is the other party of a credit, the
// payee of a debit.
func camtTxInto(l *line, tx camtTx, credit bool) {
	l.endToEndID = strings.TrimSpace(tx.EndToEndID)
	if l.endToEndID == "NOTPROVIDED" { // the standard's placeholder
		l.endToEndID = ""
	}
	if r := strings.TrimSpace(tx.ServicerRef); r != "" {
		l.bankReference = r
	}
	if u := strings.TrimSpace(strings.Join(tx.Unstructured, " ")); u != "" {
		l.description = u
	} else if a := strings.TrimSpace(tx.AdditionalInfo); a != "" {
		l.description = a
	}
	if credit {
		l.counterpartyName = strings.TrimSpace(cmpOr(tx.DebtorName, tx.DebtorPartyNm))
		l.counterpartyIBAN = tx.DebtorIBAN
	} else {
		l.counterpartyName = strings.TrimSpace(cmpOr(tx.CreditorName, tx.CreditorPtyNm))
		l.counterpartyIBAN = tx.CreditorIBAN
	}
}

func cmpOr(a, b string) string {
	if strings.TrimSpace(a) != "" {
		return a
	}
	return b
}
