package events_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/mizanhq/mizan/internal/events"
)

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
	}
	out := make([][]byte, len(shapes))
	for k, s := range shapes {
		out[k] = []byte(s)
	}
	return append(out, json.RawMessage(`{"specversion":"1.0","id":"a","source":"/s","time":"2026-01-01T00:00:00Z","type":"t","data":{"raw":{"a":1}}}`))
}

// FuzzDecodeDataAsEncodingJSON puts arbitrary bytes where an envelope's data goes, so the fuzzer works on
// the payloads: the comparison of FuzzDecodeAsEncodingJSON, reaching deeper into the facts.
func FuzzDecodeDataAsEncodingJSON(f *testing.F) {
	for _, ev := range seedEvents(f) {
		f.Add([]byte(ev.Data))
	}
	f.Add([]byte(`{"amount":"1e-7","fee":"-0","wallet_after":null,"created_at":"2026-01-01T00:00:00+03:30"}`))
	f.Add([]byte(`{"Figures":{"available":"12.00","reserve":"0.1"},"observed_AT":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"counts":{"done":1},"amounts":{"done":"5000"},"items":[{"id":"1","amount":"5000"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		env := `{"specversion":"1.0","id":"a","source":"/s","time":"2026-01-01T00:00:00Z","type":"t","data":` +
			string(data) + `}`
		sameDecode(t, []byte(env))
	})
}
