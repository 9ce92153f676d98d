package trust_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/trust"
)

const bankIBAN = "IR062960000000100324200001"

func bankLine() events.BankLine {
	day := time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC)
	return events.BankLine{Provider: "bankstatement", IBAN: bankIBAN, Currency: events.CurrencyToman, LineID: "l-1",
		BookingDate: day.Format(events.DateLayout), BookedAt: day, Amount: dec("250000"), Raw: json.RawMessage(`{}`)}
}

// The closing balance of today: its At, the start of tomorrow, is ahead of the clock, and that is fine.
func closingToday() events.BankBalance {
	today := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	amount := dec("1000000")
	return events.BankBalance{Provider: "bankstatement", IBAN: bankIBAN, Currency: events.CurrencyToman,
		Kind: events.BankBalanceClosing, Date: "2026-11-20", At: today.AddDate(0, 0, 1), Amount: &amount,
		From: "2026-11-20", To: "2026-11-20", Raw: json.RawMessage(`{}`)}
}

func TestBankFactsAreProviderFacts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	decode := func(ev events.Event) any {
		if ev.Type == events.TypeBankLine {
			f, _ := events.DecodeData[events.BankLine](ev)
			return f
		}
		f, _ := events.DecodeData[events.BankBalance](ev)
		return f
	}
	admit := func(f fact, signed bool) error {
		ev, err := f.Event()
		if err != nil {
			t.Fatal(err)
		}
		if signed {
			if ev, err = ev.Sign(b.newKey); err != nil {
				t.Fatal(err)
			}
		}
		return b.gate.Admit(b.ctx, ev, decode(ev))
	}
	// Not a source anybody configured: refused until a poller registers it.
	if err := admit(bankLine(), true); !errors.Is(err, trust.ErrUnknownSource) {
		t.Fatalf("a bank line of an unregistered account: %v", err)
	}
	if _, err := b.owner.Exec(b.ctx, `INSERT INTO recon.sources (provider, account, source) VALUES ('bankstatement', $1, 'bank')`,
		bankIBAN); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]fact{"a line": bankLine(), "today's closing balance": closingToday()} {
		if err := admit(f, true); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if err := admit(f, false); !errors.Is(err, events.ErrUnsigned) {
			t.Errorf("%s unsigned: %v, want ErrUnsigned", name, err)
		}
	}
	fraction := bankLine()
	fraction.Amount = dec("250000.5")
	tomorrow := bankLine()
	tomorrow.BookedAt = tomorrow.BookedAt.AddDate(0, 0, 2)
	future := closingToday()
	future.At = future.At.AddDate(0, 0, 1)
	for name, tt := range map[string]struct {
		f    fact
		want error
	}{
		"a fraction of a toman":        {fraction, trust.ErrAmount},
		"a line booked tomorrow":       {tomorrow, trust.ErrTime},
		"the closing balance tomorrow": {future, trust.ErrTime},
	} {
		if err := admit(tt.f, true); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", name, err, tt.want)
		}
	}
}
