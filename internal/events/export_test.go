package events

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// DecodeWithEncodingJSON is Decode as it was written on encoding/json until issue 20: the oracle the
// decoder of today (the encoding/json v1 API on the v2 implementation) is held to by FuzzDecodeAsEncodingJSON.
func DecodeWithEncodingJSON(b []byte) (Event, error) {
	var env envelope
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&env); err != nil {
		return Event{}, fmt.Errorf("%w: not a JSON envelope: %v", ErrMalformed, err)
	}
	return env.check()
}

// DecodeDataWithEncodingJSON is DecodeData on encoding/json, the oracle of the payloads.
func DecodeDataWithEncodingJSON[T any](e Event) (T, error) {
	var v T
	if err := json.Unmarshal(e.Data, &v); err != nil {
		return v, fmt.Errorf("%w: event %s (%s) data: %v", ErrMalformed, e.ID, e.Type, err)
	}
	return v, nil
}
