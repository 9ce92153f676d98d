package posting

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mizanhq/mizan/internal/events"
)

// The statement posting rule reads the raw item's references from events.ReadRaw, which scans the item once
// for posting and matching both. Before, it decoded the item into a map[string]any of its own: that reading
// is kept below, as the oracle, and the references the rule keeps must be exactly the ones it kept, for every
// raw item — the real ones of the fixtures (TestRawReferencesAsBefore) and whatever the fuzzer makes of them
// (FuzzRawReferences).

// addReferencesBefore is addReferences as it was until the raw item was read once for every reader.
func addReferencesBefore(meta map[string]any, it events.StatementItem) {
	raw := rawObjectBefore(it.Raw)
	for _, r := range rawReferences {
		for _, path := range r.paths {
			if v, ok := rawTextBefore(raw, path...); ok {
				meta[r.key] = v
				break
			}
		}
	}
	if it.TrackID != "" {
		if v, ok := reference(it.TrackID); ok {
			meta[RefTrackID] = v
		}
	}
	sides := [][]string{{"payer", "iban"}, {"receiver", "iban"}}
	if it.Direction == events.DirectionOut {
		sides[0], sides[1] = sides[1], sides[0]
	}
	for _, path := range sides {
		if v, ok := rawTextBefore(raw, path...); ok {
			meta[RefIBAN] = strings.ToUpper(v)
			break
		}
	}
	if c, ok := meta[RefCardNumber].(string); ok {
		meta[RefCardNumber] = MaskCard(c)
	}
}

func rawObjectBefore(raw json.RawMessage) map[string]any {
	if len(raw) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil {
		return nil
	}
	return m
}

func rawTextBefore(m map[string]any, path ...string) (string, bool) {
	var v any = m
	for _, p := range path {
		obj, ok := v.(map[string]any)
		if !ok {
			return "", false
		}
		v = obj[p]
	}
	switch x := v.(type) {
	case string:
		return reference(x)
	case json.Number:
		return reference(x.String())
	}
	return "", false
}

// rawItems returns real raw provider items and every JSON object in the providers' fixtures, each exactly
// as written there.
func rawItems(tb testing.TB) []json.RawMessage {
	tb.Helper()
	var files []string
	for _, pattern := range []string{"../events/testdata/*.json", "../sources/*/testdata/*.json",
		"../sources/*/testdata/*/*.json", "../sources/*/testdata/*/*/*.json"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			tb.Fatal(err)
		}
		files = append(files, m...)
	}
	var out []json.RawMessage
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		objects(b, &out)
	}
	if len(out) < 100 {
		tb.Fatalf("only %d raw items in %d fixture files", len(out), len(files))
	}
	return out
}

// objects appends every JSON object in v, at any depth, to out.
func objects(v json.RawMessage, out *[]json.RawMessage) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(v, &obj) == nil && obj != nil {
		*out = append(*out, v)
		for _, m := range obj {
			objects(m, out)
		}
		return
	}
	var arr []json.RawMessage
	if json.Unmarshal(v, &arr) == nil {
		for _, m := range arr {
			objects(m, out)
		}
	}
}

// trickyRawItems are what encoding/json reads in ways easy to get wrong: repeated names, names in another
// case or escaped, numbers, nulls, nested objects of the wrong kind, what follows the first value.
var trickyRawItems = []string{
	``, `null`, `[]`, `"x"`, `12`, `{}`, `{`, `{"factorNumber":"1"`, `{"factorNumber":"1"} trailing`,
	`{"factorNumber":"1"}{"factorNumber":"2"}`, `  {"ref_id" : 12.50e3 , "factorNumber":-0}  `,
	`{"factorNumber":"1","factorNumber":"2"}`, `{"factorNumber":"1","factorNumber":null}`,
	`{"FactorNumber":"1"}`, `{"factor\u004eumber":"7","factor_number":"8"}`, `{"factorNumber":"","factor_number":"8"}`,
	`{"factorNumber":{"a":1},"factor_number":[1,"2"]}`, `{"factorNumber":true,"factor_number":" 9 "}`,
	`{"card_number":"6037-6912 3456 7890","cardNumber":"1"}`, `{"cardNumber":"6037691234567890"}`,
	`{"payer":{"iban":"ir12"},"receiver":{"iban":"ir34"}}`, `{"payer":{"iban":"ir12","iban":null},"receiver":{"iban":"ir34"}}`,
	`{"payer":"ir12","receiver":{"IBAN":"ir34","iban":5}}`, `{"payer":{"iban":"ir\"12\\"},"payer":{}}`,
	`{"ref_id":"a\u0000b","tracking_code":"` + string(bytes.Repeat([]byte("9"), 65)) + `"}`,
	`{"ref_id":"\ud800","tracking_code":"\xff\xfe","track_id":"  T-1  ","payment_number":1e400}`,
	"{\"ref_\xffid\":\"1\",\"ref_id\":\"2\"}", `{"refund":{"source_transaction":1},"payment_number":"x"}`,
}

// The references kept are exactly what the map[string]any reading kept, for every fixture and tricky item,
// money in and out.
func TestRawReferencesAsBefore(t *testing.T) {
	t.Parallel()
	items := rawItems(t)
	for _, s := range trickyRawItems {
		items = append(items, json.RawMessage(s))
	}
	for _, raw := range items {
		for _, dir := range []string{events.DirectionIn, events.DirectionOut} {
			sameReferences(t, raw, dir, "TRK")
		}
	}
}

// FuzzRawReferences: whatever the raw item, the references kept are what the map[string]any reading kept.
func FuzzRawReferences(f *testing.F) {
	for _, raw := range rawItems(f) {
		f.Add([]byte(raw), false)
	}
	for _, s := range trickyRawItems {
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, raw []byte, out bool) {
		dir := events.DirectionIn
		if out {
			dir = events.DirectionOut
		}
		sameReferences(t, raw, dir, "")
	})
}

func sameReferences(t *testing.T, raw []byte, dir, trackID string) {
	t.Helper()
	it := events.StatementItem{Direction: dir, TrackID: trackID, Raw: raw}
	want, got := map[string]any{}, map[string]any{}
	addReferencesBefore(want, it)
	addReferences(got, it, events.ReadRaw(raw))
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("raw item %q, direction %s: references (-before +now):\n%s", raw, dir, d)
	}
}
