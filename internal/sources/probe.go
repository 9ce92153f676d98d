package sources

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Shape renders a JSON answer's shape for a person: members with their kinds, lists with their length and
// what they hold, two levels deep — `{status: number, has_more: bool, data: [100 × {…}]}`. It is what a
// probe prints for each endpoint, so that a shape the documents did not show stands out.
func Shape(body []byte) string {
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return fmt.Sprintf("not JSON (%d bytes)", len(body))
	}
	return shapeOf(v, 0)
}

func shapeOf(v any, depth int) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		if len(v) == 0 {
			return "[]"
		}
		if depth >= 2 {
			return fmt.Sprintf("[%d × …]", len(v))
		}
		kinds := map[string]bool{}
		for _, x := range v {
			kinds[shapeOf(x, 3)] = true
		}
		return fmt.Sprintf("[%d × %s]", len(v), strings.Join(slices.Sorted(mapKeys(kinds)), " | "))
	case map[string]any:
		if depth >= 3 {
			return "{…}"
		}
		keys := slices.Sorted(mapKeys(v))
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, k+": "+shapeOf(v[k], depth+1))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return "?"
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// Redact returns a JSON answer with the values of the named members replaced, at any depth: a string by the
// replacement given for its name, a number by 0. Members, order aside, and kinds are kept, so that a redacted
// answer still decodes as the original did: it is what `poller probe --record` writes as a test fixture,
// with no secret and no personal data (names, IBANs, card numbers, phone numbers, descriptions).
func Redact(body []byte, replace map[string]string) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("redact: not JSON: %w", err)
	}
	var walk func(v any) any
	walk = func(v any) any {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				r, ok := replace[k]
				switch {
				case !ok:
					v[k] = walk(x)
				case isString(x):
					v[k] = r
				case isNumber(x):
					v[k] = json.Number("0")
				default:
					v[k] = walk(x)
				}
			}
		case []any:
			for i, x := range v {
				v[i] = walk(x)
			}
		}
		return v
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(walk(v)); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func isString(v any) bool { _, ok := v.(string); return ok }
func isNumber(v any) bool { _, ok := v.(json.Number); return ok }

// DirRecorder writes what a probe records into a directory, creating it if needed.
type DirRecorder string

// Record writes body to the file called name in the directory.
func (d DirRecorder) Record(name string, body []byte) error {
	if name != filepath.Base(name) || strings.HasPrefix(name, ".") {
		return fmt.Errorf("record %q: not a plain file name", name)
	}
	if err := os.MkdirAll(string(d), 0o755); err != nil {
		return fmt.Errorf("record %s: %w", name, err)
	}
	return os.WriteFile(filepath.Join(string(d), name), body, 0o644)
}
