package bankstatement

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mizanhq/mizan/internal/events"
)

const iban = "IR062960000000100324200001"

var tehran, _ = time.LoadLocation("Asia/Tehran")

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// row is what a test compares of a line: day, amount in tomans, references, counterparty, file line.
type row struct {
	Day, Value, Amount, E2E, Ref, Desc, Party, PartyIBAN string
	Line                                                 int
}

func rowsOf(ls []events.BankLine) []row {
	var out []row
	for _, l := range ls {
		out = append(out, row{Day: l.BookingDate, Value: l.ValueDate, Amount: l.Amount.String(), E2E: l.EndToEndID,
			Ref: l.BankReference, Desc: l.Description, Party: l.CounterpartyName, PartyIBAN: l.CounterpartyIBAN, Line: l.Line})
	}
	return out
}

func factsOf(t *testing.T, sts []statement) ([]events.BankLine, []events.BankBalance) {
	t.Helper()
	var lines []events.BankLine
	var bals []events.BankBalance
	for _, st := range sts {
		ls, bs, err := st.facts(Name, converter{ledger: events.CurrencyToman}, tehran)
		if err != nil {
			t.Fatal(err)
		}
		lines, bals = append(lines, ls...), append(bals, bs...)
	}
	return lines, bals
}

func TestACamt053StatementIsReadEntryByEntryWithItsBatchSplit(t *testing.T) {
	t.Parallel()
	sts, err := parseCAMT053("camt053.xml", fixture(t, "camt053.xml"), iban)
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 1 || sts[0].id != "STMT-0100324200001-20260305" {
		t.Fatalf("statements %+v", sts)
	}
	lines, bals := factsOf(t, sts)
	// In tomans (the file is in rials); the pending entry is left out; the batch is one line per transaction.
	want := []row{
		{Day: "2026-03-04", Value: "2026-03-04", Amount: "200000", E2E: "trk-a1", Ref: "140312130001",
			Desc: "واریز پایا تسویه وندار trk-a1", Party: "وندار", PartyIBAN: "IR150170000000212345678001", Line: 76},
		{Day: "2026-03-04", Value: "2026-03-04", Amount: "-720", Ref: "140312130002", Desc: "کارمزد خدمات بانکی", Line: 118},
		{Day: "2026-03-05", Value: "2026-03-05", Amount: "200000", E2E: "trk-b1", Ref: "140312140001-1",
			Desc: "تسویه گروهی وندار", Party: "وندار", Line: 164},
		{Day: "2026-03-05", Value: "2026-03-05", Amount: "350000", E2E: "trk-b2", Ref: "140312140001-2",
			Desc: "تسویه گروهی وندار", Party: "وندار", Line: 183},
		{Day: "2026-03-05", Value: "2026-03-06", Amount: "-3000000", E2E: "SAL-1404-12", Ref: "140312140002",
			Desc: "حقوق اسفند", Party: "مریم احمدی", PartyIBAN: "IR120120000000003987654321", Line: 205},
	}
	if diff := cmp.Diff(want, rowsOf(lines)); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	if len(bals) != 2 || bals[0].Kind != events.BankBalanceOpening || bals[0].Amount.String() != "25000000" ||
		bals[0].Date != "2026-03-04" || bals[1].Kind != events.BankBalanceClosing || bals[1].Amount.String() != "22749280" ||
		bals[1].Date != "2026-03-05" || bals[1].From != "2026-03-04" || bals[1].To != "2026-03-05" {
		t.Errorf("balances %+v", bals)
	}
	// A day starts at midnight in Tehran: the closing balance is of the start of the next day.
	if !bals[1].At.Equal(time.Date(2026, 3, 5, 20, 30, 0, 0, time.UTC)) || !lines[0].BookedAt.Equal(time.Date(2026, 3, 3, 20, 30, 0, 0, time.UTC)) {
		t.Errorf("closing at %s, first line booked at %s", bals[1].At, lines[0].BookedAt)
	}
}

func TestACamt053OfVersion8IsReadTheSame(t *testing.T) {
	t.Parallel()
	sts, err := parseCAMT053("camt053_v08.xml", fixture(t, "camt053_v08.xml"), iban)
	if err != nil {
		t.Fatal(err)
	}
	lines, bals := factsOf(t, sts)
	want := []row{{Day: "2026-03-06", Value: "2026-03-06", Amount: "100000", Ref: "140312150001",
		Desc: "پرداخت فاکتور ۱۶۴۳", Party: "زهرا کریمی", Line: 41}}
	if diff := cmp.Diff(want, rowsOf(lines)); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	// PRCD is the previous statement's closing balance: this one opens the day after it.
	if len(bals) != 2 || bals[0].Date != "2026-03-06" || bals[0].Amount.String() != "22749280" || bals[1].Date != "2026-03-06" {
		t.Errorf("balances %+v", bals)
	}
}

func TestACSVExportWithJalaliDatesAndPersianDigitsIsRead(t *testing.T) {
	t.Parallel()
	m := CSVMapping{SkipRows: 1, Date: "تاریخ", Debit: "برداشت", Credit: "واریز", Balance: "مانده", Description: "شرح",
		Reference: "شماره پیگیری", Currency: "IRR"}
	if err := m.check(); err != nil {
		t.Fatal(err)
	}
	st, err := parseCSV("melli-1404-12-14.csv", fixture(t, "melli.csv"), m, iban, events.CurrencyToman)
	if err != nil {
		t.Fatal(err)
	}
	lines, bals := factsOf(t, []statement{st})
	// Newest first in the file, oldest first as read.
	want := []row{
		{Day: "2026-03-04", Amount: "200000", Ref: "98763", Desc: "واریز پایا تسویه وندار trk-c1", Line: 6},
		{Day: "2026-03-04", Amount: "-720", Desc: "کارمزد", Line: 5},
		{Day: "2026-03-05", Amount: "350000", Ref: "98764", Desc: "واریز پایا", Line: 4},
		{Day: "2026-03-05", Amount: "-150000", Ref: "98765", Desc: "خرید کالا", Line: 3},
	}
	if diff := cmp.Diff(want, rowsOf(lines)); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	if st.id != "melli-1404-12-14" || len(bals) != 2 || bals[0].Amount.String() != "1000000" || bals[1].Amount.String() != "1399280" ||
		bals[1].From != "2026-03-04" || bals[1].To != "2026-03-05" {
		t.Errorf("statement %s, balances %+v", st.id, bals)
	}
	if lines[3].RunningBalance == nil || lines[3].RunningBalance.String() != "1399280" {
		t.Errorf("running balance %v", lines[3].RunningBalance)
	}
	// A row that only carries the balance brought forward moves nothing and is no line.
	forward := string(fixture(t, "melli.csv")) + "\n,۱۴۰۴/۱۲/۱۳,مانده از قبل,,,,\"۱۰٬۰۰۰٬۰۰۰\"\n"
	st2, err := parseCSV("x.csv", []byte(forward), m, iban, events.CurrencyToman)
	if err != nil || len(st2.lines) != 4 || st2.opening.String() != "10000000" {
		t.Errorf("with the balance brought forward: %d lines, opening %v, %v", len(st2.lines), st2.opening, err)
	}
}

func TestALineIsTheSameLineInEveryStatementThatStatesIt(t *testing.T) {
	t.Parallel()
	a, _ := parseCAMT053("a.xml", fixture(t, "camt053.xml"), iban)
	b, _ := parseCAMT053("b.xml", []byte(strings.ReplaceAll(string(fixture(t, "camt053.xml")),
		"STMT-0100324200001-20260305", "ANOTHER-STATEMENT")), iban)
	la, _ := factsOf(t, a)
	lb, _ := factsOf(t, b)
	for i := range la {
		if la[i].LineID != lb[i].LineID {
			t.Errorf("line %d: %s in one statement, %s in the other", i, la[i].LineID, lb[i].LineID)
		}
	}
	// Two identical lines of one day are two lines.
	m := CSVMapping{Date: "d", Amount: "a", DateFormat: "2006-01-02"}
	st, err := parseCSV("x.csv", []byte("d,a\n2026-03-05,-1000\n2026-03-05,-1000\n"), m, iban, "IRR")
	if err != nil {
		t.Fatal(err)
	}
	ls, _, err := st.facts(Name, converter{ledger: "IRR"}, tehran)
	if err != nil || len(ls) != 2 || ls[0].LineID == ls[1].LineID {
		t.Errorf("two equal card payments: %+v %v", ls, err)
	}
}

func TestAMalformedFileIsRefusedWholeNamingTheLine(t *testing.T) {
	t.Parallel()
	camt := string(fixture(t, "camt053.xml"))
	csvFile := string(fixture(t, "melli.csv"))
	mapping := CSVMapping{SkipRows: 1, Date: "تاریخ", Debit: "برداشت", Credit: "واریز", Balance: "مانده",
		Description: "شرح", Currency: "IRR"}
	tests := []struct {
		name, file, data string
		want             string
	}{
		{"XML cut short", "a.xml", camt[:len(camt)/2], "line 1"},
		{"XML that is not a statement", "a.xml", `<Document><BkToCstmrAcctRpt><Rpt/></BkToCstmrAcctRpt></Document>`, "camt.052"},
		{"an amount with a thousands separator", "a.xml", strings.Replace(camt, ">7200.00<", ">7,200.00<", 1), `line 118: amount "7,200.00"`},
		{"an indicator that is neither", "a.xml", strings.Replace(camt, "<CdtDbtInd>DBIT</CdtDbtInd>", "<CdtDbtInd>DEBIT</CdtDbtInd>", 1), "line 118"},
		{"another account's statement", "a.xml", strings.Replace(camt, "IR062960000000100324200001", "IR550120000000009876543210", 1),
			"of IR550120000000009876543210, not of " + iban},
		{"an unbalanced closing balance", "a.xml", strings.Replace(camt, ">227492800.00<", ">227500000.00<", 1), "unbalanced"},
		{"a batch that does not add up", "a.xml", strings.Replace(camt, ">3500000.00<", ">3400000.00<", 1), "line 137: the entry's 2 transactions add up to"},
		{"a rial amount that is no whole toman", "a.xml", strings.Replace(strings.Replace(camt, ">7200.00<", ">7205.00<", 1),
			">2000000.00</Amt>\n        <CdtDbtInd>CRDT", ">2000005.00</Amt>\n        <CdtDbtInd>CRDT", 1),
			"line 76: 2000005 rials is not a whole number of tomans"},
		{"a line outside the statement's days", "a.xml", strings.Replace(camt, "<Dt>2026-03-05</Dt>\n        </BookgDt>\n        <ValDt>\n          <Dt>2026-03-06",
			"<Dt>2026-03-07</Dt>\n        </BookgDt>\n        <ValDt>\n          <Dt>2026-03-06", 1), "line 205: booked on 2026-03-07"},
		{"a CSV amount that is not a number", "a.csv", strings.Replace(csvFile, "۷٬۲۰۰", "۷٬۲۰x", 1), "line 5: debit:"},
		{"a CSV row with both a debit and a credit", "a.csv", strings.Replace(csvFile, `"۷٬۲۰۰",`, `"۷٬۲۰۰","۱",`, 1), "line 5"},
		{"a CSV running balance that breaks", "a.csv", strings.Replace(csvFile, "۱۱٬۹۹۲٬۸۰۰", "۱۱٬۹۹۲٬۹۰۰", 1), "line 4: the balance"},
		{"a CSV date that is not a day", "a.csv", strings.Replace(csvFile, "۱۴۰۴/۱۲/۱۳", "۱۴۰۴/۱۳/۱۳", 1), "line 5: date"},
		{"a CSV without the mapped column", "a.csv", strings.Replace(csvFile, "مانده", "مانده حساب", 1), `column "مانده"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var err error
			var sts []statement
			if strings.HasSuffix(tt.file, ".xml") {
				sts, err = parseCAMT053(tt.file, []byte(tt.data), iban)
			} else {
				var st statement
				st, err = parseCSV(tt.file, []byte(tt.data), mapping, iban, events.CurrencyToman)
				sts = []statement{st}
			}
			if err == nil {
				for _, st := range sts {
					if _, _, err = st.facts(Name, converter{ledger: events.CurrencyToman}, tehran); err != nil {
						break
					}
				}
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one saying %q", err, tt.want)
			}
		})
	}
}

func TestAmountsAndDatesAreReadInEverySpelling(t *testing.T) {
	t.Parallel()
	nf := numberFormat{decimal: ".٫", thousands: ",٬"}
	for in, want := range map[string]string{"1,250,000": "1250000", "۱٬۲۵۰٬۰۰۰": "1250000", "-500": "-500", "500-": "-500",
		"(500)": "-500", "۱۲٫۵": "12.5", "\u200e۱۲۳\u200f": "123", "+7": "7", "−20": "-20"} {
		d, ok, err := nf.parseAmount(in)
		if err != nil || !ok || d.String() != want {
			t.Errorf("%q = %s %v %v, want %s", in, d, ok, err, want)
		}
	}
	for _, bad := range []string{"1e6", "12x", "1.2.3", "--5", "."} {
		if _, _, err := nf.parseAmount(bad); err == nil {
			t.Errorf("%q read as an amount", bad)
		}
	}
	for in, want := range map[string]string{"1404/12/13": "2026-03-04", "۱۴۰۴/۱۲/۱۳": "2026-03-04", "1404-1-1": "2025-03-21",
		"1405/01/01 08:30": "2026-03-21", "1403/12/30": "2025-03-20"} {
		d, err := parseDate(in, dateFormatJalali)
		if err != nil || d.Format(time.DateOnly) != want {
			t.Errorf("%q = %s %v, want %s", in, d, err, want)
		}
	}
	for _, bad := range []string{"1404/12/30", "1404/13/01", "2026/03/04", "13/12/1404"} { // 1404 is no leap year
		if _, err := parseDate(bad, dateFormatJalali); err == nil {
			t.Errorf("%q read as a Jalali date", bad)
		}
	}
	if d, err := parseDate("05/03/2026 14:00", "02/01/2006"); err != nil || d.Format(time.DateOnly) != "2026-03-05" {
		t.Errorf("a Gregorian date: %s %v", d, err)
	}
}
