package events

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func item() StatementItem {
	w := decimal.NewFromInt(990)
	t := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	return StatementItem{Provider: ProviderVandar, Account: "acme", ItemID: "165374316188", StatusCode: 1,
		Kind: KindPayment, State: StateSucceeded, Direction: DirectionIn, Channel: "ipg",
		Amount: decimal.NewFromInt(1000), Fee: decimal.NewFromInt(10), Currency: CurrencyToman, MovedWallet: true,
		WalletAfter: &w, CreatedAt: t, EffectiveAt: t, Raw: json.RawMessage(`{"id":165374316188}`)}
}

func TestTheSameFactAlwaysGetsTheSameIDAndANewStateANewOne(t *testing.T) {
	t.Parallel()
	a, err := item().Event()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := item().Event()
	if a.ID != b.ID {
		t.Fatal("the same item got two ids")
	}
	changes := map[string]func(*StatementItem){
		"status": func(s *StatementItem) { s.StatusCode, s.State = 3, StatePending },
		"amount": func(s *StatementItem) { s.Amount = decimal.NewFromInt(1001) },
		"fee":    func(s *StatementItem) { s.Fee = decimal.NewFromInt(11) },
		"side":   func(s *StatementItem) { s.Direction = DirectionOut },
		"wallet": func(s *StatementItem) { w := decimal.NewFromInt(1); s.WalletAfter = &w },
	}
	for name, change := range changes {
		s := item()
		change(&s)
		ev, _ := s.Event()
		if ev.ID == a.ID {
			t.Errorf("a changed %s kept the id", name)
		}
	}
	// The raw bytes are what the provider said, not what the fact is: reformatting them is the same fact.
	s := item()
	s.Raw = json.RawMessage(`{ "id": 165374316188 }`)
	if ev, _ := s.Event(); ev.ID != a.ID {
		t.Error("reformatted raw JSON changed the id")
	}
	if a.Key != "vandar/acme" {
		t.Errorf("key = %q", a.Key)
	}
}

func TestEnvelopeRoundTripsAndAmountsAreDecimalStrings(t *testing.T) {
	t.Parallel()
	ev, _ := item().Event()
	b, err := ev.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"specversion":"1.0"`, `"datacontenttype":"application/json"`, `"amount":"1000"`,
		`"currency":"IRT"`, `"type":"io.mizan.statement.item.v1"`, `"partitionkey":"vandar/acme"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("envelope lacks %s: %s", want, b)
		}
	}
	back, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeData[StatementItem](back)
	if err != nil {
		t.Fatal(err)
	}
	if back.ID != ev.ID || back.Key != ev.Key || !got.Amount.Equal(decimal.NewFromInt(1000)) || got.WalletAfter.String() != "990" {
		t.Fatalf("round trip changed the event: %+v %+v", back, got)
	}
}

func TestDecodeNamesWhatIsWrong(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{
		`{"specversion":"1.0","id":`: "not a JSON envelope",
		`{"specversion":"0.3","id":"x","type":"t","source":"s","time":"2026-01-01T00:00:00Z","data":{}}`:                              "specversion",
		`{"specversion":"1.0","type":"t","source":"s","time":"2026-01-01T00:00:00Z","data":{}}`:                                       "no id",
		`{"specversion":"1.0","id":"x","source":"s","time":"2026-01-01T00:00:00Z","data":{}}`:                                         "no type",
		`{"specversion":"1.0","id":"x","type":"t","time":"2026-01-01T00:00:00Z","data":{}}`:                                           "no source",
		`{"specversion":"1.0","id":"x","type":"t","source":"s","data":{}}`:                                                            "no time",
		`{"specversion":"1.0","id":"x","type":"t","source":"s","time":"2026-01-01T00:00:00Z"}`:                                        "no data",
		`{"specversion":"1.0","id":"x","type":"t","source":"s","time":"2026-01-01T00:00:00Z","datacontenttype":"text/xml","data":{}}`: "datacontenttype",
	} {
		_, err := Decode([]byte(body))
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), want) {
			t.Errorf("Decode(%s) = %v, want ErrMalformed mentioning %q", body, err, want)
		}
	}
}
