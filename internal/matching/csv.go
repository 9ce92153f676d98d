package matching

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mizanhq/mizan/internal/alerts"
	"github.com/mizanhq/mizan/internal/events"
)

// CSVColumns are the columns of an expectations file: one per field of the contract, the reference's keys
// each a column of their own. The header names them, in any order; reference columns may be left out, and
// status defaults to open.
var CSVColumns = []string{"expectation_id", "kind", "provider", "account", RefFactorNumber, RefTrackID,
	RefPaymentNumber, RefPaymentItemID, "amount", "currency", "expected_by", "status"}

var requiredColumns = []string{"expectation_id", "kind", "provider", "account", "amount", "currency", "expected_by"}

// maxCSVErrors is how many bad rows an import names before it stops reading.
const maxCSVErrors = 20

// ReadCSV reads an expectations file. Every row is validated against the schema as an event's data would be
// (it is decoded through the same events.Expectation); any bad row refuses the whole file, naming each bad
// line, so a file is never half-imported because of its own content.
func ReadCSV(r io.Reader) ([]events.Expectation, error) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("expectations file: empty (a header row is needed: " + strings.Join(CSVColumns, ",") + ")")
	}
	if err != nil {
		return nil, fmt.Errorf("expectations file: header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))) // a spreadsheet's byte-order mark
		if !slices.Contains(CSVColumns, h) {
			return nil, fmt.Errorf("expectations file: unknown column %q (the columns are %s)", h, strings.Join(CSVColumns, ", "))
		}
		if _, dup := col[h]; dup {
			return nil, fmt.Errorf("expectations file: column %q twice", h)
		}
		col[h] = i
	}
	for _, c := range requiredColumns {
		if _, ok := col[c]; !ok {
			return nil, fmt.Errorf("expectations file: no column %q", c)
		}
	}
	var out []events.Expectation
	var bad []string
	firstLine := map[[3]string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
				bad = append(bad, fmt.Sprintf("line %d: %d fields, the header has %d", line, len(rec), len(header)))
			} else {
				return nil, fmt.Errorf("expectations file: %w", err)
			}
		} else if x, err := fromRecord(rec, col); err != nil {
			bad = append(bad, fmt.Sprintf("line %d: %v", line, err))
		} else {
			k := [3]string{x.Provider, x.Account, x.ExpectationID}
			if first, ok := firstLine[k]; ok {
				bad = append(bad, fmt.Sprintf("line %d: expectation %s of %s/%s is already on line %d", line,
					x.ExpectationID, x.Provider, x.Account, first))
			} else {
				firstLine[k] = line
				out = append(out, x)
			}
		}
		if len(bad) == maxCSVErrors {
			bad = append(bad, "(stopped reading)")
			break
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("expectations file: %d bad rows, nothing imported:\n  %s", len(bad), strings.Join(bad, "\n  "))
	}
	return out, nil
}

// fromRecord builds a row's expectation as the JSON a producer would send, and decodes it through the schema.
func fromRecord(rec []string, col map[string]int) (events.Expectation, error) {
	get := func(name string) (string, bool) {
		i, ok := col[name]
		if !ok {
			return "", false
		}
		return strings.TrimSpace(rec[i]), true
	}
	data := map[string]any{}
	ref := map[string]string{}
	for _, name := range CSVColumns {
		v, ok := get(name)
		if !ok || v == "" {
			continue
		}
		switch name {
		case RefFactorNumber, RefTrackID, RefPaymentNumber, RefPaymentItemID:
			ref[name] = v
		default:
			data[name] = v
		}
	}
	data["reference"] = ref
	if _, ok := data["status"]; !ok {
		data["status"] = events.ExpectationOpen
	}
	b, err := json.Marshal(data)
	if err != nil {
		return events.Expectation{}, err
	}
	var x events.Expectation
	if err := json.Unmarshal(b, &x); err != nil {
		return x, err
	}
	return x, nil
}

// ImportStats is what an import did.
type ImportStats struct {
	Rows    int // rows in the file
	Changed int // expectations new or changed by it; a second import of the same file changes none
	Opened  int // alerts opened
}

// importChunk is how many expectations one import transaction records.
const importChunk = 2000

// Import records expectations read from a file (ReadCSV), in transactions of a few thousand, matching each
// with the lines already known and recording the alerts that opens or resolves — what a reconciler does with
// the same expectations on Kafka. It is idempotent by expectation id: importing the same file again changes
// nothing; an edited row replaces the expectation.
func (m *Matcher) Import(ctx context.Context, db interface {
	Begin(context.Context) (pgx.Tx, error)
}, exps []events.Expectation, now func() time.Time) (ImportStats, error) {
	st := ImportStats{Rows: len(exps)}
	for chunk := range slices.Chunk(exps, importChunk) {
		stated := make([]Stated, len(chunk))
		for i, x := range chunk {
			stated[i] = Stated{Expectation: x, Origin: OriginCSV}
		}
		err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
			results, changed, err := m.record(ctx, tx, stated, nil, nil, now())
			if err != nil {
				return err
			}
			opened, err := alerts.Record(ctx, tx, results)
			st.Changed += changed
			st.Opened += opened
			return err
		})
		if err != nil {
			return st, fmt.Errorf("import expectations: %w", err)
		}
	}
	return st, nil
}
