package vandar

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/numerals"
)

// Vandar's JSON is loose about types: the same field is an integer in one payload and a string in another
// (a settlement's `wallet` is "221500" where a statement's is 221500; a status comes as 0 or "0"), and any
// field may be null. These types accept every spelling of one value and nothing that could mean another
// (docs/providers.md, "Decoding policy"): numbers as JSON numbers or strings, Persian or Arabic-Indic digits
// in strings, a zero fraction ("1000.00", 1000.0), "" and PHP's empty array for null. They never go through
// float64: ids reach 165374316188 and amounts are money. An exponent (1.65e6) is refused: it is what a float
// serializer writes, and a float cannot be trusted to have kept every digit.

// jsonNum holds the text of a JSON number, or of a string holding one, with its digits in ASCII. set is
// false for null, absence, "" and [] (PHP's empty array).
type jsonNum struct {
	text string
	set  bool
}

func (n *jsonNum) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null" || phpEmpty(b):
		*n = jsonNum{}
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(asciiDigits(s))
		if s == "" {
			*n = jsonNum{} // "" is how some PHP endpoints say null
			return nil
		}
		*n = jsonNum{text: strings.TrimPrefix(s, "+"), set: true}
		return nil
	case len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9')):
		*n = jsonNum{text: string(b), set: true}
		return nil
	}
	return fmt.Errorf("want a number, got %s", quote(string(b)))
}

// phpEmpty says whether raw is an empty JSON array or object: PHP encodes an empty array as [] whatever it
// stood for (an empty object, a missing value), so where a scalar or an object is expected it means "none".
func phpEmpty(raw []byte) bool {
	s := string(bytes.Join(bytes.Fields(raw), nil))
	return s == "[]" || s == "{}"
}

// asciiDigits replaces Persian and Arabic-Indic digits by ASCII ones, and the Arabic decimal separator (U+066B)
// by a dot: in a Vandar field it can only be a decimal point. Iranian systems write either; the value is the same.
func asciiDigits(s string) string {
	return strings.ReplaceAll(numerals.ASCII(s), "\u066B", ".")
}

// maxDigits bounds every number read, well above any id or amount Vandar can send, so that a hostile
// "1" followed by a million zeros is refused before anything computes with it.
const maxDigits = 30

// integerText accepts an optional minus sign and 1 to maxDigits ASCII digits: no fraction, no exponent.
func integerText(s string) bool {
	digits := strings.TrimPrefix(s, "-")
	if digits == "" || len(digits) > maxDigits {
		return false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return false
		}
	}
	return true
}

// wholeText returns the integer a number's text spells, dropping a fraction of zeros ("1000.00" and the
// 1000.0 a float serializer writes are 1000); ok is false for anything else, a non-zero fraction included.
func wholeText(s string) (whole string, ok bool) {
	whole, frac, hasFrac := strings.Cut(s, ".")
	if !integerText(whole) {
		return "", false
	}
	if hasFrac && (frac == "" || len(frac) > maxDigits || strings.Trim(frac, "0") != "") {
		return "", false
	}
	return whole, true
}

// int64 reads a whole number.
func (n jsonNum) int64() (int64, error) {
	whole, ok := wholeText(n.text)
	if !ok {
		return 0, fmt.Errorf("%s is not an integer", quote(n.text))
	}
	v, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", quote(n.text), err)
	}
	return v, nil
}

// id reads a Vandar id: a positive integer, returned as its canonical decimal string (no sign, no leading
// zeros), whatever its size.
func (n jsonNum) id() (string, error) {
	whole, ok := wholeText(n.text)
	if !ok || strings.HasPrefix(whole, "-") {
		return "", fmt.Errorf("%s is not a positive integer", quote(n.text))
	}
	s := strings.TrimLeft(whole, "0")
	if s == "" {
		return "", fmt.Errorf("%s is not a positive integer", quote(n.text))
	}
	return s, nil
}

// tomans reads an amount of whole tomans. A decimal spelling of a whole number ("1000.00") is accepted; a
// fraction is refused, because the toman has no minor unit and a fraction means the field is not what the
// documents say (IPG amounts, for one, are rials).
func (n jsonNum) tomans() (decimal.Decimal, error) {
	whole, frac, hasFrac := strings.Cut(n.text, ".")
	if !integerText(whole) || hasFrac && (len(frac) > maxDigits || !integerText(frac) || frac[0] == '-') {
		return decimal.Decimal{}, fmt.Errorf("%s is not a number of tomans", quote(n.text))
	}
	if strings.Trim(frac, "0") != "" {
		return decimal.Decimal{}, fmt.Errorf("%s has a fraction of a toman", quote(n.text))
	}
	d, err := decimal.NewFromString(whole)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("%s: %w", quote(n.text), err)
	}
	return d, nil
}

// Unix times Vandar may send: seconds, or milliseconds where a JavaScript or Java serializer wrote them. The
// two ranges do not overlap — a time from 2000 to the year 5138 in seconds is below 1e11, and from 2000 on in
// milliseconds at least 9.46e11 — so the magnitude says which unit was meant. Anything below 2000 or in the
// gap between is no time a payment can have.
const (
	minEpochSeconds = 946684800 // 2000-01-01T00:00:00Z
	maxEpochSeconds = 1e11
	minEpochMillis  = minEpochSeconds * 1000
	maxEpochMillis  = 1e14
)

// epoch reads a Unix time in seconds or milliseconds (by magnitude, see above); a fraction of a second is
// kept. 0 is how an unset timestamp comes out of some serializers: it returns the zero time and no error.
func (n jsonNum) epoch() (time.Time, error) {
	whole, frac, _ := strings.Cut(n.text, ".")
	if !integerText(whole) || strings.HasPrefix(whole, "-") || frac != "" && (len(frac) > 9 || !integerText(frac)) {
		return time.Time{}, fmt.Errorf("%s is not a Unix time", quote(n.text))
	}
	v, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s is not a Unix time", quote(n.text))
	}
	var nanos int64
	if frac != "" {
		nanos, _ = strconv.ParseInt((frac + "000000000")[:9], 10, 64)
	}
	switch {
	case v == 0 && nanos == 0:
		return time.Time{}, nil
	case v >= minEpochSeconds && v < maxEpochSeconds:
		return time.Unix(v, nanos).UTC(), nil
	case v >= minEpochMillis && v < maxEpochMillis:
		return time.UnixMilli(v).Add(time.Duration(nanos / 1e3)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%s is neither Unix seconds nor milliseconds since 2000", quote(n.text))
}

// jsonText holds a JSON string, or a number's text (track ids and the like come either way). set is false
// for null, absence and PHP's empty array.
type jsonText struct {
	text string
	set  bool
}

func (t *jsonText) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null" || phpEmpty(b):
		*t = jsonText{}
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = jsonText{text: s, set: true}
		return nil
	case len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9')):
		*t = jsonText{text: string(b), set: true}
		return nil
	}
	return fmt.Errorf("want a string, got %s", quote(string(b)))
}

// jsonBool holds a JSON boolean, or its PHP spellings 1/0, "1"/"0", "true"/"false" in any case. set is false
// for null, absence, "" and PHP's empty array.
type jsonBool struct {
	val bool
	set bool
}

func (v *jsonBool) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if phpEmpty(b) {
		*v = jsonBool{}
		return nil
	}
	s := strings.TrimSpace(asciiDigits(strings.Trim(string(b), `"`)))
	if whole, ok := wholeText(s); ok && (whole == "0" || whole == "1") {
		s = whole // 1.0, as a float serializer writes it
	}
	switch strings.ToLower(s) {
	case "null", "":
		*v = jsonBool{}
	case "true", "1":
		*v = jsonBool{val: true, set: true}
	case "false", "0":
		*v = jsonBool{val: false, set: true}
	default:
		return fmt.Errorf("want a boolean, got %s", quote(string(b)))
	}
	return nil
}

// errNotObject is returned for an item or a data member that is not a JSON object.
var errNotObject = errors.New("not a JSON object")

// members splits a JSON object into its raw members. Decoding field by field is what lets an error name the
// field that is wrong. PHP's empty array ([]) is an empty object: PHP writes an empty associative array so.
func members(raw []byte) (map[string]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if phpEmpty(raw) {
		return map[string]json.RawMessage{}, nil
	}
	if len(raw) == 0 || raw[0] != '{' {
		return nil, errNotObject
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// optionalMembers is members for an optional object: null or absence is an empty object too.
func optionalMembers(raw []byte) (map[string]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return map[string]json.RawMessage{}, nil
	}
	return members(raw)
}

// member decodes the named member of m into v; an absent member leaves v as it is (unset).
func member(m map[string]json.RawMessage, name string, v json.Unmarshaler) error {
	raw, ok := m[name]
	if !ok {
		return nil
	}
	if err := v.UnmarshalJSON(raw); err != nil {
		return fmt.Errorf("field %s: %w", name, err)
	}
	return nil
}

// rawList splits a JSON list into its elements. Null, absence and an empty object are an empty list; an
// object whose every key is a whole number is a list too, in the order of its keys — PHP writes an array so
// once an element has been removed from it (array_filter keeps the keys: [0 => a, 2 => c] is {"0":a,"2":c}).
func rawList(raw json.RawMessage) ([]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null" || phpEmpty(raw):
		return nil, nil
	case raw[0] == '[':
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, err
		}
		return list, nil
	case raw[0] == '{':
		if list, ok, err := indexedObject(raw); err != nil || ok {
			return list, err
		}
	}
	return nil, errors.New("not a JSON array")
}

// indexedObject reads an object whose keys are all whole numbers as the list of its values in key order; ok
// is false when some key is not a number (the object is one thing, not a list).
func indexedObject(raw json.RawMessage) (list []json.RawMessage, ok bool, err error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, false, err
	}
	if len(m) == 0 {
		return nil, true, nil
	}
	keys := make([]int, 0, len(m))
	byKey := make(map[int]json.RawMessage, len(m))
	for k, v := range m {
		if len(k) > 9 || !integerText(k) || strings.HasPrefix(k, "-") {
			return nil, false, nil
		}
		i, _ := strconv.Atoi(k)
		if _, dup := byKey[i]; dup {
			return nil, false, nil // "01" and "1": not an array PHP wrote
		}
		keys = append(keys, i)
		byKey[i] = v
	}
	slices.Sort(keys)
	for _, k := range keys {
		list = append(list, byKey[k])
	}
	return list, true, nil
}

// itemRef reads what names an item in a quarantine: the first of the given members that is a string or a
// number, as sent. It never fails: an item that cannot be read at all is quarantined without a name.
func itemRef(raw json.RawMessage, names ...string) string {
	m, err := members(raw)
	if err != nil {
		return ""
	}
	for _, name := range names {
		var t jsonText
		if member(m, name, &t) == nil && t.set && strings.TrimSpace(t.text) != "" {
			ref := strings.TrimSpace(asciiDigits(t.text))
			if n := (jsonNum{text: ref, set: true}); name == "id" || strings.HasSuffix(name, "_id") {
				if id, err := n.id(); err == nil {
					return id
				}
			}
			if len(ref) > 128 {
				ref = ref[:128]
			}
			return strings.ToValidUTF8(ref, "")
		}
	}
	return ""
}

// looseText reads a member that carries no money and no identity mizan relies on (a description, a track
// id on a statement item): a string or a number as its text, anything else as unset. It never fails, so that
// free text cannot cost an item its place in the ledger.
type looseText struct {
	text string
	set  bool
}

func (t *looseText) UnmarshalJSON(b []byte) error {
	var j jsonText
	if j.UnmarshalJSON(b) == nil {
		*t = looseText(j)
	} else {
		*t = looseText{}
	}
	return nil
}

// idText is an identifier Vandar generates (a settlement's uuid, a batch id, an IBAN) as mizan keeps it:
// trimmed, its digits ASCII — one settlement written with Persian digits on one page is the same settlement.
// Identifiers the merchant chose (track_id) are kept exactly as sent.
func idText(s string) string { return strings.TrimSpace(asciiDigits(s)) }
