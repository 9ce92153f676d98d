package yabandpay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
)

// wireRequest is the envelope every call POSTs to /Payments (providers/facts.md 1.4). Its fields are written
// in the documents' order; data's fields depend on the method.
type wireRequest struct {
	User   string `json:"user"`
	Sign   string `json:"sign"`
	Method string `json:"method"`
	Time   int64  `json:"time"` // unix seconds, as the documents and the PHP SDK send (time())
	Data   any    `json:"data"`
}

// wireEnvelope is every answer: {"status":true,"code":"200","data":{...},"message":""}. code is a string in
// most of the documents' examples and a number in one (facts.md 1.5); looseText reads both.
type wireEnvelope struct {
	Status  json.RawMessage `json:"status"`
	Code    looseText       `json:"code"`
	Data    json.RawMessage `json:"data"`
	Message looseText       `json:"message"`
}

// looseText is a scalar read as text whatever its JSON type: a string as its value, a number as its digits
// as sent (never through float64), anything else as its compact JSON. set is false for null or absence. It
// never fails, so that an odd code or message cannot hide the rest of an error answer.
type looseText struct {
	text string
	set  bool
}

func (t *looseText) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*t = looseText{}
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = looseText{text: s, set: true}
	default:
		var c bytes.Buffer
		if err := json.Compact(&c, b); err != nil {
			return err
		}
		*t = looseText{text: c.String(), set: true}
	}
	return nil
}

// maxDigits bounds the digits of a figure, far above any balance, so that a hostile "1" followed by a million
// zeros is refused before anything computes with it.
const maxDigits = 30

// parseAmount reads a figure: a JSON string holding a plain decimal ("9999788.98", "-3.5", "0") — the
// documented form — or the same digits as a JSON number. Exponents, thousands separators, spaces and empty
// strings are refused: a figure mizan cannot read exactly is an error, never a guess. The error quotes what was
// sent, through redact.
func parseAmount(raw json.RawMessage, redact func(string) string) (decimal.Decimal, error) {
	raw = bytes.TrimSpace(raw)
	text := string(raw)
	if len(raw) > 0 && raw[0] == '"' {
		if err := json.Unmarshal(raw, &text); err != nil {
			return decimal.Decimal{}, err
		}
	}
	if !decimalText(text) {
		return decimal.Decimal{}, fmt.Errorf("%s is not a decimal amount", quote(redact(text)))
	}
	d, err := decimal.NewFromString(text)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("%s: %w", quote(redact(text)), err)
	}
	return d, nil
}

// decimalText accepts an optional minus sign, 1 to maxDigits ASCII digits and an optional fraction of at
// least one digit.
func decimalText(s string) bool {
	s = strings.TrimPrefix(s, "-")
	whole, frac, hasFrac := strings.Cut(s, ".")
	if whole == "" || (hasFrac && frac == "") || len(whole)+len(frac) > maxDigits {
		return false
	}
	for _, part := range []string{whole, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return false
			}
		}
	}
	return true
}

// members splits a JSON object into its members. Anything else — an array (YabandPay's failures send
// "data": []), a string, null — is an error.
func members(raw json.RawMessage) (map[string]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, errors.New("data is not an object")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	return m, nil
}
