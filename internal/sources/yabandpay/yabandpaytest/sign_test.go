package yabandpaytest

import (
	"encoding/json"
	"strings"
	"testing"
)

// The simulator's signer is its own; it must agree with the vectors of providers/facts.md 1.3 as the
// client's does.
func TestSignVectors(t *testing.T) {
	t.Parallel()
	for _, v := range []struct {
		body string
		want string
	}{
		{`{"user":"036870","method":"v3.MerchantBalance","time":1708422208,"data":{"command":"getBalance",` +
			`"nonce_string":"tw5be5b7sry5prm96s","currency":"EUR"}}`,
			"3efed58b26047e7d701aeed561615a75116e3105d97587b422800930bb35146d"},
		{`{"user":"016683","sign":"ignored","method":"v3.QueryOrder","time":"1728566835",` +
			`"data":{"trade_id":"2eb629a8-96ad-d495-38f2-41f5bebf31cd"}}`,
			"a8f60f1d3052b53612366f55dedc80d95b4bc95cb4a9701c4e6e9bb70f56290a"},
	} {
		params, err := flatten(decode(t, v.body))
		if err != nil {
			t.Fatal(err)
		}
		if got := sign(params, "test_secret_key"); got != v.want {
			t.Errorf("%s: sign %s, want %s", v.body, got, v.want)
		}
	}
}

func decode(t *testing.T, body string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFlatten(t *testing.T) {
	t.Parallel()
	params, err := flatten(decode(t, `{"user":"u","method":"m","time":1708422208,"extra":"","data":`+
		`{"amount":100.010,"big":12345678901234567890123,"neg":-0.5,"empty":""}}`))
	if err != nil {
		t.Fatal(err)
	}
	// Numbers are signed as the digits sent, not as a float would print them.
	want := map[string]string{"user": "u", "method": "m", "time": "1708422208", "extra": "", "amount": "100.010",
		"big": "12345678901234567890123", "neg": "-0.5", "empty": ""}
	if len(params) != len(want) {
		t.Errorf("params %v, want %v", params, want)
	}
	for k, v := range want {
		if params[k] != v {
			t.Errorf("%s = %q, want %q", k, params[k], v)
		}
	}
	for _, body := range []string{
		`{"user":"u","data":{"user":"v"}}`,           // data repeats the envelope
		`{"user":"u","data":{"x":true}}`,             // a boolean
		`{"user":"u","data":{"x":null}}`,             // null
		`{"user":"u","data":{"x":{"y":"1"}}}`,        // a nested object
		`{"user":"u","data":{"x":["1"]}}`,            // an array
		`{"user":["u"],"data":{}}`,                   // an envelope member that is not a scalar
		`{"user":"u","data":"command=getBalance"}`,   // data that is not an object
		`{"user":"u"}`,                               // no data
		`{"user":"u","data":{"sign":"abc"}}`,         // a sign inside data
		`{"user":"u","data":{"data":"nested name"}}`, // data inside data
	} {
		if _, err := flatten(decode(t, body)); err == nil {
			t.Errorf("%s: flattened, want an error", body)
		}
	}
}
