package posting

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/events/rawtest"
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

// The references kept are exactly what the map[string]any reading kept, for every fixture and tricky item,
// money in and out.
func TestRawReferencesAsBefore(t *testing.T) {
	t.Parallel()
	items := rawtest.Items(t)
	for _, s := range rawtest.Tricky {
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
	for _, raw := range rawtest.Items(f) {
		f.Add([]byte(raw), false)
	}
	for _, s := range rawtest.Tricky {
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
