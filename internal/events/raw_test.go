package events_test

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/mizanhq/mizan/internal/events"
)

// ReadRaw validates a raw item as json.Valid does and lists the members of its first value as a json.Decoder
// reads them: FuzzReadRaw holds it to both, on the real raw items of the Vandar simulator and on what the
// fuzzer makes of them. (What the posting rule and matching read from it is held to their readings before
// ReadRaw by posting.FuzzRawReferences and matching.FuzzReferences.)
func FuzzReadRaw(f *testing.F) {
	b, err := os.ReadFile("testdata/raw_statement_items.json")
	if err != nil {
		f.Fatal(err)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(b, &items); err != nil {
		f.Fatal(err)
	}
	for _, raw := range items {
		f.Add([]byte(raw))
	}
	for _, s := range []string{``, ` `, `{}`, `{} x`, `[{"a":1}]`, `{"a":[1,{"b":"\u00e9"}],"a":null}`, `{"a":01}`,
		`{"a":1.}`, `{"a":-}`, `{"a":1e+}`, `{"a":"\x01"}`, `{"a":"\q"}`, `{"a":"\u12G4"}`, `{"\u0041":tru}`,
		`{"a" 1}`, `{"a":1,}`, `[1,]`, `{"a":1}}`, "{\"\xff\":\"\xfe\"}", "{\"a\":\"\x01\"}", `"\u`, `-0.0e-0`,
		strings.Repeat(`{"a":`, 10_000) + `1` + strings.Repeat(`}`, 10_000),
		strings.Repeat(`[`, 10_001) + strings.Repeat(`]`, 10_001)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got := events.ReadRaw(raw)
		if got.Whole() != json.Valid(raw) {
			t.Fatalf("%q: whole %v, json.Valid %v", raw, got.Whole(), json.Valid(raw))
		}
		want := decoderMembers(raw)
		if len(got.Members()) != len(want) {
			t.Fatalf("%q: %d members, json.Decoder reads %d", raw, len(got.Members()), len(want))
		}
		for i, m := range got.Members() {
			if m.Name() != want[i].name || !bytes.Equal(m.Value(), want[i].value) {
				t.Fatalf("%q: member %d is %s, json.Decoder reads %q: %s", raw, i, m.Value(), want[i].name, want[i].value)
			}
		}
		last := map[string]json.RawMessage{} // a repeated name: the last wins
		for _, w := range want {
			last[w.name] = w.value
		}
		for name, value := range last {
			var s string
			var n json.Number
			v, ok := got.Text(name)
			switch {
			case json.Unmarshal(value, &s) == nil && value[0] == '"':
				if !ok || v != s {
					t.Fatalf("%q: Text(%q) = %q, %v; want the string %q", raw, name, v, ok, s)
				}
			case json.Unmarshal(value, &n) == nil && value[0] != 'n':
				if !ok || v != string(value) {
					t.Fatalf("%q: Text(%q) = %q, %v; want the number as written %s", raw, name, v, ok, value)
				}
			case ok:
				t.Fatalf("%q: Text(%q) = %q of %s, neither a string nor a number", raw, name, v, value)
			}
		}
	})
}

type member struct {
	name  string
	value json.RawMessage
}

// decoderMembers is the oracle: the members of raw's first value, if it is an object, as a json.Decoder
// reads them.
func decoderMembers(raw []byte) []member {
	var first json.RawMessage
	if json.NewDecoder(bytes.NewReader(raw)).Decode(&first) != nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(first))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	var out []member
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			panic(err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			panic(err)
		}
		out = append(out, member{t.(string), v})
	}
	return out
}
