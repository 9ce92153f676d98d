package vandar

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// Vandar's JSON is loose about types: the same field is an integer in one payload and a string in another
// (a settlement's `wallet` is "221500" where a statement's is 221500; a status comes as 0 or "0"), and any
// field may be null. These types accept each documented spelling and nothing else, and never go through
// float64: ids reach 165374316188 and amounts are money.

// jsonNum holds the text of a JSON number, or of a string holding one. set is false for null or absence.
type jsonNum struct {
	text string
	set  bool
}

func (n *jsonNum) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*n = jsonNum{}
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			*n = jsonNum{} // "" is how some PHP endpoints say null
			return nil
		}
		*n = jsonNum{text: s, set: true}
		return nil
	case len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9')):
		*n = jsonNum{text: string(b), set: true}
		return nil
	}
	return fmt.Errorf("want a number, got %s", quote(string(b)))
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

// int64 reads a whole number.
func (n jsonNum) int64() (int64, error) {
	if !integerText(n.text) {
		return 0, fmt.Errorf("%s is not an integer", quote(n.text))
	}
	v, err := strconv.ParseInt(n.text, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", quote(n.text), err)
	}
	return v, nil
}

// id reads a Vandar id: a positive integer, returned as its canonical decimal string (no sign, no leading
// zeros), whatever its size.
func (n jsonNum) id() (string, error) {
	if !integerText(n.text) || strings.HasPrefix(n.text, "-") {
		return "", fmt.Errorf("%s is not a positive integer", quote(n.text))
	}
	s := strings.TrimLeft(n.text, "0")
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

// jsonText holds a JSON string, or a number's text (track ids and the like come either way). set is false
// for null or absence.
type jsonText struct {
	text string
	set  bool
}

func (t *jsonText) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
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

// jsonBool holds a JSON boolean, or its PHP spellings 1/0, "1"/"0", "true"/"false". set is false for null
// or absence.
type jsonBool struct {
	val bool
	set bool
}

func (v *jsonBool) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(bytes.TrimSpace(b)), `"`)
	switch s {
	case "null":
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
// field that is wrong.
func members(raw []byte) (map[string]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, errNotObject
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return m, nil
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
