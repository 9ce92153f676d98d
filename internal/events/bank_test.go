package events

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func line() BankLine {
	return BankLine{Provider: "bankstatement", IBAN: "IR062960000000100324200001", Currency: CurrencyToman, LineID: "a1",
		BookingDate: "2026-03-05", BookedAt: time.Date(2026, 3, 4, 20, 30, 0, 0, time.UTC), Amount: decimal.NewFromInt(5000),
		StatementID: "st-1", File: "st-1.xml", Line: 12, Raw: json.RawMessage(`{}`)}
}

func TestABankLineIsTheSameFactWhateverFileStatesIt(t *testing.T) {
	t.Parallel()
	a, err := line().Event()
	if err != nil {
		t.Fatal(err)
	}
	again := line()
	again.StatementID, again.File, again.Line = "st-2", "st-2.csv", 3
	if b, _ := again.Event(); b.ID != a.ID {
		t.Error("the same line in another statement is another fact")
	}
	other := line()
	other.Amount = decimal.NewFromInt(5001)
	if b, _ := other.Event(); b.ID == a.ID {
		t.Error("another amount kept the id")
	}
	if a.Key != "bankstatement/IR062960000000100324200001" || a.Type != TypeBankLine {
		t.Errorf("key %q type %q", a.Key, a.Type)
	}
}

func TestBankFactsNameWhatIsWrong(t *testing.T) {
	t.Parallel()
	for want, change := range map[string]func(*BankLine){
		"not a normalized IBAN": func(l *BankLine) { l.IBAN = "ir06 2960" },
		"no currency":           func(l *BankLine) { l.Currency = "" },
		"moves nothing":         func(l *BankLine) { l.Amount = decimal.Zero },
		"is not a date":         func(l *BankLine) { l.BookingDate = "1404/12/14" },
	} {
		l := line()
		change(&l)
		if err := l.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", want, err)
		}
	}
	amount := decimal.NewFromInt(1)
	b := BankBalance{Provider: "bankstatement", IBAN: "IR062960000000100324200001", Currency: CurrencyToman, Kind: "middle",
		Date: "2026-03-05", At: time.Now(), Amount: &amount, From: "2026-03-05", To: "2026-03-05"}
	if err := b.Validate(); err == nil || !strings.Contains(err.Error(), "kind") {
		t.Errorf("kind: %v", err)
	}
	b.Kind, b.From = BankBalanceClosing, "2026-03-06"
	if err := b.Validate(); err == nil || !strings.Contains(err.Error(), "runs from") {
		t.Errorf("from after to: %v", err)
	}
	if NormalizeIBAN(" ir06 2960 0000 0010 0324 2000 01 ") != "IR062960000000100324200001" || !IsIBAN("ir06 2960 0000 0010 0324 2000 01") {
		t.Error("IBANs are normalized without spaces, upper case")
	}
}
