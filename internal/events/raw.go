package events

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
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
	s := rawScanner{v: raw}
	i := skipSpace(raw, 0)
	if i < len(raw) && raw[i] == '{' {
		s.members = make([]RawMember, 0, min(64, max(8, len(raw)/32)))
	}
	end, ok := s.value(i)
	if !ok {
		return RawFields{} // not even the first value is valid: json.Decoder refuses it too
	}
	// What follows the first value: json.Unmarshal allows only whitespace, json.Decoder does not look.
	return RawFields{members: s.members, whole: skipSpace(raw, end) == len(raw)}
}

// maxDepth is encoding/json's limit of nested objects and arrays: an item nested deeper is not valid JSON.
const maxDepth = 10000

// rawScanner validates one JSON value exactly as encoding/json's scanner does (json.Valid) and, on the way,
// lists the members of the top-level object.
type rawScanner struct {
	v       []byte
	depth   int
	members []RawMember // of the top-level object (depth 1)
}

// value scans the value at v[i] and returns the index just after it, and whether it is valid.
func (s *rawScanner) value(i int) (int, bool) {
	v := s.v
	if i >= len(v) {
		return i, false
	}
	switch c := v[i]; {
	case c == '{':
		return s.object(i)
	case c == '[':
		return s.array(i)
	case c == '"':
		return stringEndValid(v, i)
	case c == '-' || (c >= '0' && c <= '9'):
		return numberEnd(v, i)
	case c == 't':
		return literalEnd(v, i, "true")
	case c == 'f':
		return literalEnd(v, i, "false")
	case c == 'n':
		return literalEnd(v, i, "null")
	}
	return i, false
}

func (s *rawScanner) object(i int) (int, bool) {
	v := s.v
	if s.depth++; s.depth > maxDepth {
		return i, false
	}
	defer func() { s.depth-- }()
	top := s.depth == 1
	i = skipSpace(v, i+1)
	if i < len(v) && v[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(v) || v[i] != '"' {
			return i, false
		}
		end, ok := stringEndValid(v, i)
		if !ok {
			return end, false
		}
		name := v[i:end]
		i = skipSpace(v, end)
		if i >= len(v) || v[i] != ':' {
			return i, false
		}
		i = skipSpace(v, i+1)
		start := i
		if i, ok = s.value(i); !ok {
			return i, false
		}
		if top {
			s.members = append(s.members, RawMember{name: unquoteName(name), value: v[start:i]})
		}
		i = skipSpace(v, i)
		if i >= len(v) {
			return i, false
		}
		switch v[i] {
		case ',':
			i = skipSpace(v, i+1)
		case '}':
			return i + 1, true
		default:
			return i, false
		}
	}
}

func (s *rawScanner) array(i int) (int, bool) {
	v := s.v
	if s.depth++; s.depth > maxDepth {
		return i, false
	}
	defer func() { s.depth-- }()
	i = skipSpace(v, i+1)
	if i < len(v) && v[i] == ']' {
		return i + 1, true
	}
	for {
		var ok bool
		if i, ok = s.value(i); !ok {
			return i, false
		}
		i = skipSpace(v, i)
		if i >= len(v) {
			return i, false
		}
		switch v[i] {
		case ',':
			i = skipSpace(v, i+1)
		case ']':
			return i + 1, true
		default:
			return i, false
		}
	}
}

// stringEndValid returns the index just after the JSON string that starts at v[i], and whether it is valid:
// no control character, every escape one of JSON's. Bytes that are not UTF-8 are valid, as to encoding/json.
func stringEndValid(v []byte, i int) (int, bool) {
	for j := i + 1; j < len(v); j++ {
		switch c := v[j]; {
		case c == '"':
			return j + 1, true
		case c < 0x20:
			return j, false
		case c == '\\':
			j++
			if j >= len(v) {
				return j, false
			}
			switch v[j] {
			case 'b', 'f', 'n', 'r', 't', '\\', '/', '"':
			case 'u':
				if j+4 >= len(v) {
					return len(v), false
				}
				for _, h := range v[j+1 : j+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return j, false
					}
				}
				j += 4
			default:
				return j, false
			}
		}
	}
	return len(v), false
}

// numberEnd returns the index just after the JSON number that starts at v[i], and whether it is one:
// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func numberEnd(v []byte, i int) (int, bool) {
	digits := func(j int) int {
		for j < len(v) && v[j] >= '0' && v[j] <= '9' {
			j++
		}
		return j
	}
	if v[i] == '-' {
		i++
	}
	switch {
	case i < len(v) && v[i] == '0':
		i++
	case i < len(v) && v[i] >= '1' && v[i] <= '9':
		i = digits(i + 1)
	default:
		return i, false
	}
	if i < len(v) && v[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(v) && (v[i] == 'e' || v[i] == 'E') {
		i++
		if i < len(v) && (v[i] == '+' || v[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func literalEnd(v []byte, i int, lit string) (int, bool) {
	if len(v)-i < len(lit) || string(v[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
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
		if inner := v[1 : len(v)-1]; plain(inner) {
			return string(inner), true
		}
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

// Name returns the member's name, unquoted.
func (m RawMember) Name() string { return string(m.name) }

// NamedFold reports whether the member's name is name ignoring case, as json.Unmarshal matches a member to a
// struct field.
func (m RawMember) NamedFold(name string) bool { return bytes.EqualFold(m.name, []byte(name)) }

// Value returns the member's value as written.
func (m RawMember) Value() json.RawMessage { return m.value }

// Object returns the members of the member's value if it is an object; nil otherwise.
func (m RawMember) Object() []RawMember { return members(m.value) }

// members lists the members of v, one value ReadRaw found valid, if it is an object.
func members(v []byte) []RawMember {
	i := skipSpace(v, 0)
	if i >= len(v) || v[i] != '{' {
		return nil
	}
	s := rawScanner{v: v}
	s.object(i)
	return s.members
}

// unquoteName returns a member's name without its quotes, unescaped as encoding/json unescapes it.
func unquoteName(q []byte) []byte {
	if inner := q[1 : len(q)-1]; plain(inner) {
		return inner
	}
	var s string
	if json.Unmarshal(q, &s) != nil {
		return nil // never: q is a valid JSON string
	}
	return []byte(s)
}

// plain reports whether the inside of a valid JSON string is its value as it is: no escape, valid UTF-8
// (encoding/json replaces what is not with U+FFFD).
func plain(inner []byte) bool {
	return bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner)
}

func skipSpace(v []byte, i int) int {
	for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == '\n' || v[i] == '\r') {
		i++
	}
	return i
}
