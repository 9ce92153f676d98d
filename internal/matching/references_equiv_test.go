package matching

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mizanhq/mizan/internal/events"
)

// Matching reads a statement item's references from events.ReadRaw, which scans the raw item once for
// posting and matching both. Before, it unmarshalled the item into a struct of its own: that reading is kept
// below, as the oracle, and References must give exactly what it gave, for every raw item — the real ones of
// the fixtures (TestReferencesAsBefore) and whatever the fuzzer makes of them (FuzzReferences).

// referencesBefore is References as it was until the raw item was read once for every reader.
func referencesBefore(it events.StatementItem) events.Reference {
	r := events.Reference{TrackID: strings.TrimSpace(it.TrackID)}
	var raw struct {
		FactorNumber  json.RawMessage `json:"factorNumber"`
		PaymentNumber json.RawMessage `json:"payment_number"`
		Refund        *struct {
			SourceTransaction json.RawMessage `json:"source_transaction"`
		} `json:"refund"`
	}
	if json.Unmarshal(it.Raw, &raw) != nil {
		return r
	}
	r.FactorNumber = scalar(raw.FactorNumber)
	r.PaymentNumber = scalar(raw.PaymentNumber)
	if raw.Refund != nil && it.Kind == events.KindRefund {
		r.PaymentItemID = scalar(raw.Refund.SourceTransaction)
	}
	return r
}

// rawItems returns real raw provider items and every JSON object in the providers' fixtures, each exactly
// as written there.
func rawItems(tb testing.TB) []json.RawMessage {
	tb.Helper()
	var files []string
	for _, pattern := range []string{"../events/testdata/*.json", "../sources/*/testdata/*.json",
		"../sources/*/testdata/*/*.json", "../sources/*/testdata/*/*/*.json"} {
		m, err := filepath.Glob(pattern)
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

// trickyRawItems are what encoding/json reads in ways easy to get wrong: repeated names, names in another
// case or escaped, numbers, nulls, nested objects of the wrong kind, what follows the first value.
var trickyRawItems = []string{
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

// trickyRefunds are the ways json.Unmarshal reads a struct that are easy to get wrong: names ignoring case,
// repeated objects merged, a null forgetting, a refund of the wrong kind refusing the whole item.
var trickyRefunds = []string{
	`{"refund":{"source_transaction":1}}`, `{"REFUND":{"Source_Transaction":"2"}}`,
	`{"refund":{"source_transaction":1},"refund":{}}`, `{"refund":{"source_transaction":1},"refund":null}`,
	`{"refund":{"source_transaction":1},"refund":null,"refund":{}}`, `{"refund":1,"refund":{"source_transaction":1}}`,
	`{"refund":[],"factorNumber":"3"}`, `{"refund":"x"}`, `{"refund":true}`, `{"refund":{"source_transaction":{}}}`,
	`{"refund":{"source_transaction":" 4 ","source_transaction":5}}`, `{"factorNumber":"1","FACTORNUMBER":"2"}`,
	`{"factorNumber":"1","factornumber":null}`, `{"payment_number":1.5e2,"Payment_Number":"x"}`,
	"{\"\u017fource\":1,\"refund\":{\"\u017fource_tran\u017faction\":6}}", "{\"refund\":{\"\u212a\":1}}",
	"{\"factorNumber\":\"\xff\"}",
}

// References gives exactly what the struct reading gave, for every fixture and tricky item, of a refund and
// of a payment.
func TestReferencesAsBefore(t *testing.T) {
	t.Parallel()
	items := rawItems(t)
	for _, s := range append(trickyRawItems, trickyRefunds...) {
		items = append(items, json.RawMessage(s))
	}
	for _, raw := range items {
		for _, kind := range []string{events.KindRefund, events.KindPayment} {
			sameReferences(t, raw, kind, " TRK ")
		}
	}
}

// FuzzReferences: whatever the raw item, References gives what the struct reading gave.
func FuzzReferences(f *testing.F) {
	for _, raw := range rawItems(f) {
		f.Add([]byte(raw), true)
	}
	for _, s := range append(trickyRawItems, trickyRefunds...) {
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, raw []byte, refund bool) {
		kind := events.KindPayment
		if refund {
			kind = events.KindRefund
		}
		sameReferences(t, raw, kind, "")
	})
}

func sameReferences(t *testing.T, raw []byte, kind, trackID string) {
	t.Helper()
	it := events.StatementItem{Kind: kind, TrackID: trackID, Raw: raw}
	if want, got := referencesBefore(it), References(it, events.ReadRaw(raw)); got != want {
		t.Fatalf("raw item %q, kind %s: references %+v, before %+v", raw, kind, got, want)
	}
}
