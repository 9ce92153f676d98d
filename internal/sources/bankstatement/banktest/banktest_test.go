package banktest

import (
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

func TestAGeneratedStatementCreditsEveryPayoutButTheMissingOnes(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, Tehran())
	var payouts []Payout
	for i := range 8 {
		payouts = append(payouts, Payout{TrackID: "trk-" + string(rune('a'+i)), Amount: 10_000 * int64(i+1),
			PaidAt: from.Add(time.Duration(i)*18*time.Hour + 10*time.Hour)})
	}
	st := Generate(Options{IBAN: "IR062960000000100324200001", From: from, To: from.AddDate(0, 0, 9), Opening: 1_000_000,
		Payouts: payouts, Missing: []string{"trk-c"}, Seed: 1, BatchEvery: 2})
	credited := map[int64]bool{}
	for _, l := range st.Lines {
		txs := l.Batch
		if len(txs) == 0 {
			txs = []Tx{{Signed: l.Signed}}
		}
		for _, tx := range txs {
			credited[tx.Signed] = true
		}
		if l.Booking.Before(st.From) || l.Booking.After(st.To) {
			t.Errorf("a line booked on %s, outside the statement", l.Booking)
		}
	}
	for i, p := range payouts {
		if got, want := credited[p.Amount*10], p.TrackID != "trk-c"; got != want {
			t.Errorf("payout %d (%s) credited %v, want %v", i, p.TrackID, got, want)
		}
	}
	var sum int64
	for _, l := range st.Lines {
		sum += l.Amount()
	}
	if st.Closing() != st.Opening+sum {
		t.Errorf("closing %d, opening %d and lines %d", st.Closing(), st.Opening, sum)
	}
	// camt.053 is well-formed XML with a Stmt; the CSV has the title, the header and a row a transaction.
	var doc struct {
		Stmts []struct {
			Entries []struct{} `xml:"Ntry"`
		} `xml:"BkToCstmrStmt>Stmt"`
	}
	if err := xml.Unmarshal(CAMT053(st), &doc); err != nil || len(doc.Stmts) != 1 || len(doc.Stmts[0].Entries) != len(st.Lines) {
		t.Errorf("camt.053: %v, %+v", err, doc)
	}
	r := csv.NewReader(bytes.NewReader(CSV(st, Iranian)))
	r.FieldsPerRecord = -1 // the title row has one
	rows, err := r.ReadAll()
	txs := 0
	for _, l := range st.Lines {
		txs += max(1, len(l.Batch))
	}
	if err == nil && len(rows) != txs+2 {
		t.Errorf("%d CSV rows for %d transactions", len(rows), txs)
	}
	if err != nil || !strings.Contains(rows[2][1], "۱۴۰۴/") || rows[1][5] != HeaderCredit {
		t.Errorf("CSV: %v, %q", err, rows[:min(3, len(rows))])
	}
}
