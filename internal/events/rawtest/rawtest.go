// Package rawtest holds the raw provider items the equivalence tests of the raw-item readers share (the
// posting rule's references, matching's): every JSON object of the providers' fixtures and the simulator's
// real items, and inputs encoding/json reads in ways easy to get wrong.
package rawtest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/mizanhq/mizan/internal/events"
)

// Items returns real raw provider items and every JSON object in the providers' fixtures, each exactly as
// written there.
func Items(tb testing.TB) []json.RawMessage {
	tb.Helper()
	_, here, _, _ := runtime.Caller(0)
	internal := filepath.Join(filepath.Dir(here), "..", "..") // this file is internal/events/rawtest/rawtest.go
	var files []string
	for _, pattern := range []string{"events/testdata/*.json", "sources/*/testdata/*.json",
		"sources/*/testdata/*/*.json", "sources/*/testdata/*/*/*.json"} {
		m, err := filepath.Glob(filepath.Join(internal, pattern))
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

// Tricky are what encoding/json reads in ways easy to get wrong: repeated names, names in another
// case or escaped, numbers, nulls, nested objects of the wrong kind, what follows the first value.
var Tricky = []string{
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

// StatementEvent is a statement item as the poller publishes it, read from the Vandar simulator: the
// CloudEvent's 2.5 kB and the item it decodes to, whose raw item is 1.8 kB. The benchmarks of the hot paths
// share it.
func StatementEvent(tb testing.TB) ([]byte, events.StatementItem) {
	tb.Helper()
	_, here, _, _ := runtime.Caller(0)
	raw, err := os.ReadFile(filepath.Join(filepath.Dir(here), "..", "testdata", "statement_item.json"))
	if err != nil {
		tb.Fatal(err)
	}
	ev, err := events.Decode(raw)
	if err != nil {
		tb.Fatal(err)
	}
	item, err := events.DecodeData[events.StatementItem](ev)
	if err != nil {
		tb.Fatal(err)
	}
	return raw, item
}
