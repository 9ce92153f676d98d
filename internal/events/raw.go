package events

import (
	"bytes"
	"encoding/json"
)

// RawFields is a provider's raw item (StatementItem.Raw) read once: the members of its top level, in order, for
// the readers that look for references in it — the statement posting rule and matching. A raw item is about
// 1.8 kB; decoding it once per reader was a quarter of the reconciler's CPU (docs/performance.md).
//
// It reads the item exactly as encoding/json does, in the two ways those readers have always read it:
//   - Text, as a json.Decoder decoding into a map[string]any: the item's first JSON value (what follows it
//     is not looked at), names compared exactly, the last of a repeated name wins, a number as written;
//   - Whole and Members, as json.Unmarshal into a struct: the whole item must be one valid JSON value, and
//     a reader that compares names as Unmarshal does (ignoring case: RawMember.NamedFold) takes the last.
//
// The zero RawFields is an item without members (not an object, or not JSON).
type RawFields struct {
	members []RawMember
	whole   bool
}

// RawMember is one member of a JSON object: its name, unquoted, and its value as written.
type RawMember struct {
	name  []byte
	value json.RawMessage
}

// ReadRaw reads a raw item's top level. It never fails: an item that is not a JSON object has no members.
func ReadRaw(raw []byte) RawFields {
	if len(raw) == 0 {
		return RawFields{}
	}
	if json.Valid(raw) {
		return RawFields{members: members(raw), whole: true}
	}
	// Not one valid value: a json.Decoder still reads its first value if that one is valid.
	var first json.RawMessage
	if json.NewDecoder(bytes.NewReader(raw)).Decode(&first) != nil {
		return RawFields{}
	}
	return RawFields{members: members(first)}
}

// Whole reports whether the raw item is exactly one valid JSON value, as json.Unmarshal requires.
func (f RawFields) Whole() bool { return f.whole }

// Members returns the members of the item's first JSON value, in the order written, if it is an object; nil
// otherwise.
func (f RawFields) Members() []RawMember { return f.members }

// Text follows path through nested objects by exact names (the last member of a repeated name) to a string,
// returned unquoted, or a number, returned as written; ok is false for anything else or a missing member.
func (f RawFields) Text(path ...string) (string, bool) {
	ms := f.members
	var v json.RawMessage
	for i, name := range path {
		v = nil
		for _, m := range ms {
			if string(m.name) == name {
				v = m.value
			}
		}
		if v == nil {
			return "", false
		}
		if i < len(path)-1 {
			ms = members(v)
		}
	}
	if len(v) == 0 {
		return "", false
	}
	switch c := v[0]; {
	case c == '"':
		var s string
		if json.Unmarshal(v, &s) != nil {
			return "", false
		}
		return s, true
	case c == '-' || (c >= '0' && c <= '9'):
		return string(v), true
	}
	return "", false
}

// NamedFold reports whether the member's name is name ignoring case, as json.Unmarshal matches a member to a
// struct field.
func (m RawMember) NamedFold(name string) bool { return bytes.EqualFold(m.name, []byte(name)) }

// Value returns the member's value as written.
func (m RawMember) Value() json.RawMessage { return m.value }

// Object returns the members of the member's value if it is an object; nil otherwise.
func (m RawMember) Object() []RawMember { return members(m.value) }

// members lists the members of v, one valid JSON value (whitespace around it allowed), if it is an object.
// Only ever called on valid JSON: the scan relies on it.
func members(v []byte) []RawMember {
	i := skipSpace(v, 0)
	if i >= len(v) || v[i] != '{' {
		return nil
	}
	var out []RawMember
	i = skipSpace(v, i+1)
	for v[i] != '}' {
		end := stringEnd(v, i)
		name := v[i:end]
		i = skipSpace(v, end)
		i = skipSpace(v, i+1) // the ':'
		vend := valueEnd(v, i)
		out = append(out, RawMember{name: unquoteName(name), value: v[i:vend]})
		i = skipSpace(v, vend)
		if v[i] == ',' {
			i = skipSpace(v, i+1)
		}
	}
	return out
}

// unquoteName returns a member's name without its quotes, unescaped as encoding/json unescapes it.
func unquoteName(q []byte) []byte {
	plain := true
	for _, c := range q[1 : len(q)-1] {
		if c == '\\' || c >= 0x80 {
			plain = false
			break
		}
	}
	if plain {
		return q[1 : len(q)-1]
	}
	var s string
	if json.Unmarshal(q, &s) != nil {
		return nil // never: q is a valid JSON string
	}
	return []byte(s)
}

func skipSpace(v []byte, i int) int {
	for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == '\n' || v[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just after the JSON string that starts at v[i].
func stringEnd(v []byte, i int) int {
	for j := i + 1; ; j++ {
		switch v[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
}

// valueEnd returns the index just after the JSON value that starts at v[i].
func valueEnd(v []byte, i int) int {
	switch v[i] {
	case '"':
		return stringEnd(v, i)
	case '{', '[':
		depth := 0
		for j := i; ; j++ {
			switch v[j] {
			case '"':
				j = stringEnd(v, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
	}
	j := i
	for j < len(v) && v[j] != ',' && v[j] != '}' && v[j] != ']' && v[j] != ' ' && v[j] != '\t' &&
		v[j] != '\n' && v[j] != '\r' {
		j++
	}
	return j
}
