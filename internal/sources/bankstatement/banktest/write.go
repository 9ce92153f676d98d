package banktest

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"

	ptime "github.com/yaa110/go-persian-calendar"

	"github.com/mizanhq/mizan/internal/numerals"
)

// CAMT053 writes statements as one ISO 20022 camt.053.001.02 document (BkToCstmrStmt, a Stmt each): balances
// OPBD and CLBD, entries with status BOOK, booking and value dates, the bank's reference, and their
// transactions' details — a batch line as one entry with several TxDtls, each with its own amount.
func CAMT053(sts ...Statement) []byte {
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	created := time.Now().UTC()
	if len(sts) > 0 {
		created = cmp.Or(sts[0].Created, sts[0].To.AddDate(0, 0, 1)).UTC()
	}
	w("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
	w("<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n")
	w("  <BkToCstmrStmt>\n    <GrpHdr>\n      <MsgId>MSG-%s</MsgId>\n      <CreDtTm>%s</CreDtTm>\n    </GrpHdr>\n",
		created.Format("20060102150405"), created.Format("2006-01-02T15:04:05"))
	for _, st := range sts {
		cur := cmp.Or(st.Currency, "IRR")
		w("    <Stmt>\n      <Id>%s</Id>\n      <ElctrncSeqNb>%s</ElctrncSeqNb>\n", esc(st.ID), st.To.Format("20060102"))
		w("      <CreDtTm>%s</CreDtTm>\n", created.Format("2006-01-02T15:04:05"))
		w("      <FrToDt>\n        <FrDtTm>%sT00:00:00</FrDtTm>\n        <ToDtTm>%sT23:59:59</ToDtTm>\n      </FrToDt>\n",
			day(st.From), day(st.To))
		w("      <Acct>\n        <Id>\n          <IBAN>%s</IBAN>\n        </Id>\n        <Ccy>%s</Ccy>\n      </Acct>\n", esc(st.IBAN), cur)
		bal := func(code string, amount int64, d time.Time) {
			w("      <Bal>\n        <Tp>\n          <CdOrPrtry>\n            <Cd>%s</Cd>\n          </CdOrPrtry>\n        </Tp>\n", code)
			w("        <Amt Ccy=\"%s\">%s</Amt>\n        <CdtDbtInd>%s</CdtDbtInd>\n        <Dt>\n          <Dt>%s</Dt>\n        </Dt>\n      </Bal>\n",
				cur, amt(amount), ind(amount), day(d))
		}
		bal("OPBD", st.Opening, st.From)
		bal("CLBD", st.Closing(), st.To)
		for i, l := range st.Lines {
			a := l.Amount()
			w("      <Ntry>\n        <NtryRef>%d</NtryRef>\n        <Amt Ccy=\"%s\">%s</Amt>\n        <CdtDbtInd>%s</CdtDbtInd>\n",
				i+1, cur, amt(a), ind(a))
			w("        <Sts>BOOK</Sts>\n        <BookgDt>\n          <Dt>%s</Dt>\n        </BookgDt>\n", day(l.Booking))
			w("        <ValDt>\n          <Dt>%s</Dt>\n        </ValDt>\n", day(cmp.Or(l.Value, l.Booking)))
			if l.Reference != "" {
				w("        <AcctSvcrRef>%s</AcctSvcrRef>\n", esc(l.Reference))
			}
			w("        <BkTxCd>\n          <Prtry>\n            <Cd>%s</Cd>\n          </Prtry>\n        </BkTxCd>\n", txCode(a))
			txs := l.Batch
			if len(txs) == 0 {
				txs = []Tx{{Signed: l.Signed, EndToEndID: l.EndToEndID, Description: l.Description,
					CounterpartyIBAN: l.CounterpartyIBAN, CounterpartyName: l.CounterpartyName}}
			}
			w("        <NtryDtls>\n")
			if len(l.Batch) > 0 {
				w("          <Btch>\n            <NbOfTxs>%d</NbOfTxs>\n          </Btch>\n", len(txs))
			}
			for _, tx := range txs {
				w("          <TxDtls>\n            <Refs>\n")
				if tx.Reference != "" {
					w("              <AcctSvcrRef>%s</AcctSvcrRef>\n", esc(tx.Reference))
				}
				w("              <EndToEndId>%s</EndToEndId>\n            </Refs>\n", esc(cmp.Or(tx.EndToEndID, "NOTPROVIDED")))
				if len(l.Batch) > 0 {
					w("            <AmtDtls>\n              <TxAmt>\n                <Amt Ccy=\"%s\">%s</Amt>\n              </TxAmt>\n            </AmtDtls>\n",
						cur, amt(tx.Signed))
				}
				if tx.CounterpartyName != "" || tx.CounterpartyIBAN != "" {
					party, acct := "Dbtr", "DbtrAcct"
					if tx.Signed < 0 {
						party, acct = "Cdtr", "CdtrAcct"
					}
					w("            <RltdPties>\n              <%s>\n                <Nm>%s</Nm>\n              </%s>\n", party, esc(tx.CounterpartyName), party)
					if tx.CounterpartyIBAN != "" {
						w("              <%s>\n                <Id>\n                  <IBAN>%s</IBAN>\n                </Id>\n              </%s>\n",
							acct, esc(tx.CounterpartyIBAN), acct)
					}
					w("            </RltdPties>\n")
				}
				if tx.Description != "" {
					w("            <RmtInf>\n              <Ustrd>%s</Ustrd>\n            </RmtInf>\n", esc(tx.Description))
				}
				w("          </TxDtls>\n")
			}
			w("        </NtryDtls>\n")
			if len(l.Batch) > 0 && l.Description != "" {
				w("        <AddtlNtryInf>%s</AddtlNtryInf>\n", esc(l.Description))
			}
			w("      </Ntry>\n")
		}
		w("    </Stmt>\n")
	}
	w("  </BkToCstmrStmt>\n</Document>\n")
	return b.Bytes()
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func day(t time.Time) string { return t.Format(time.DateOnly) }

func amt(a int64) string {
	if a < 0 {
		a = -a
	}
	return strconv.FormatInt(a, 10) + ".00"
}

func ind(a int64) string {
	if a < 0 {
		return "DBIT"
	}
	return "CRDT"
}

func txCode(a int64) string {
	if a < 0 {
		return "PMNT/ICDT"
	}
	return "PMNT/RCDT"
}

// CSVOptions say how CSV writes an export: the way Iranian banks' internet banking does by default (every
// option true), or plainer.
type CSVOptions struct {
	Jalali        bool // dates as 1405/01/15, else 2026-04-04
	PersianDigits bool // ۰۱۲۳… in numbers and dates
	DebitCredit   bool // a debit and a credit column, else one signed amount column
	Balance       bool // a running balance column
	Descending    bool // newest first
	Thousands     bool // 1,250,000 (٬ with Persian digits)
	Delimiter     rune // default ','
}

// Iranian is how most Iranian banks export: Jalali dates, Persian digits, debit and credit, a balance, newest
// first, thousands separated.
var Iranian = CSVOptions{Jalali: true, PersianDigits: true, DebitCredit: true, Balance: true, Descending: true, Thousands: true}

// Column headers CSV writes: a mapping names them (bankstatement.CSVMapping).
const (
	HeaderRow         = "ردیف"
	HeaderDate        = "تاریخ"
	HeaderDescription = "شرح"
	HeaderReference   = "شماره پیگیری"
	HeaderDebit       = "برداشت"
	HeaderCredit      = "واریز"
	HeaderAmount      = "مبلغ"
	HeaderBalance     = "مانده"
	HeaderPayer       = "نام واریز کننده"
	HeaderTitle       = "صورتحساب سپرده" // the title row above the header
)

// CSV writes a statement as a bank's CSV export, after one title row (skip_rows: 1): row number, date,
// description, reference, then debit and credit (or amount), balance and the payer's name. A batch line is
// written as its transactions, one row each.
func CSV(st Statement, o CSVOptions) []byte {
	type row struct {
		date                  time.Time
		amount, balance       int64
		desc, ref, payer, e2e string
	}
	var rows []row
	bal := st.Opening
	for _, l := range st.Lines {
		txs := l.Batch
		if len(txs) == 0 {
			txs = []Tx{{Signed: l.Signed, EndToEndID: l.EndToEndID, Reference: l.Reference, Description: l.Description,
				CounterpartyName: l.CounterpartyName}}
		}
		for _, tx := range txs {
			bal += tx.Signed
			desc := tx.Description
			if tx.EndToEndID != "" && !strings.Contains(desc, tx.EndToEndID) {
				desc += " " + tx.EndToEndID
			}
			rows = append(rows, row{date: l.Booking, amount: tx.Signed, balance: bal, desc: desc,
				ref: cmp.Or(tx.Reference, l.Reference), payer: tx.CounterpartyName})
		}
	}
	if o.Descending {
		for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
			rows[i], rows[j] = rows[j], rows[i]
		}
	}
	num := func(n int64) string {
		s := strconv.FormatInt(n, 10)
		if o.Thousands {
			s = thousands(s, o.PersianDigits)
		}
		if o.PersianDigits {
			s = numerals.Persian(s)
		}
		return s
	}
	date := func(t time.Time) string {
		s := t.Format(time.DateOnly)
		if o.Jalali {
			p := ptime.New(time.Date(t.Year(), t.Month(), t.Day(), 12, 0, 0, 0, time.UTC))
			s = fmt.Sprintf("%04d/%02d/%02d", p.Year(), int(p.Month()), p.Day())
		}
		if o.PersianDigits {
			s = numerals.Persian(s)
		}
		return s
	}
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	cw.Comma = cmp.Or(o.Delimiter, ',')
	_ = cw.Write([]string{HeaderTitle + " " + st.IBAN})
	header := []string{HeaderRow, HeaderDate, HeaderDescription, HeaderReference}
	if o.DebitCredit {
		header = append(header, HeaderDebit, HeaderCredit)
	} else {
		header = append(header, HeaderAmount)
	}
	if o.Balance {
		header = append(header, HeaderBalance)
	}
	_ = cw.Write(append(header, HeaderPayer))
	for i, r := range rows {
		rec := []string{num(int64(i + 1)), date(r.date), r.desc, r.ref}
		switch {
		case !o.DebitCredit:
			rec = append(rec, num(r.amount))
		case r.amount < 0:
			rec = append(rec, num(-r.amount), "")
		default:
			rec = append(rec, "", num(r.amount))
		}
		if o.Balance {
			rec = append(rec, num(r.balance))
		}
		_ = cw.Write(append(rec, r.payer))
	}
	cw.Flush()
	return b.Bytes()
}

func thousands(s string, arabic bool) string {
	sep := ","
	if arabic {
		sep = "٬"
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var parts []string
	for len(s) > 3 {
		parts = append([]string{s[len(s)-3:]}, parts...)
		s = s[:len(s)-3]
	}
	parts = append([]string{s}, parts...)
	out := strings.Join(parts, sep)
	if neg {
		out = "-" + out
	}
	return out
}
