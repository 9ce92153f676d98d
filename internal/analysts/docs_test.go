package analysts_test

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/mizanhq/mizan/internal/analysts"
)

const docPath = "../../docs/analysts.md"

func readDoc(t *testing.T) []byte {
	t.Helper()
	md, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	return md
}

// Every sql block of docs/analysts.md runs as mizan_analyst against the populated ledger, succeeds and
// returns rows. Each runs twice in one transaction (so now() is the same), under two session time zones 26
// hours apart — always on different calendar dates — and must give the same result: the document's answers
// may not depend on the zone of whoever asks.
func TestDocumentQueriesRunAsAnalyst(t *testing.T) {
	t.Parallel()
	f := setup(t)
	blocks := analysts.Blocks(readDoc(t), "sql")

	questions := map[string]int{}
	for _, b := range blocks {
		if m := regexp.MustCompile(`^(\d+)\. `).FindStringSubmatch(b.Heading); m != nil {
			questions[m[1]]++
		}
	}
	headings := regexp.MustCompile(`(?m)^### (\d+)\. `).FindAllStringSubmatch(string(readDoc(t)), -1)
	if len(headings) < 17 {
		t.Errorf("%s: %d numbered questions, want at least 17", docPath, len(headings))
	}
	for i := 1; i <= len(headings); i++ {
		if questions[fmt.Sprint(i)] == 0 {
			t.Errorf("%s: question %d has no sql block", docPath, i)
		}
	}

	for _, b := range blocks {
		if isAccountants(b) {
			continue // TestDocumentQueriesRunAsAccountant
		}
		t.Run(fmt.Sprintf("line %d (%s)", b.Line, b.Heading), func(t *testing.T) {
			t.Parallel()
			var results [2][][][]byte
			err := f.asAnalyst(t, func(tx pgx.Tx) error {
				for i, zone := range []string{"Etc/GMT+12", "Pacific/Kiritimati"} { // UTC-12 and UTC+14
					if _, err := tx.Exec(f.ctx, "SET LOCAL TIME ZONE '"+zone+"'"); err != nil {
						return err
					}
					rows, err := tx.Query(f.ctx, b.Text)
					if err != nil {
						return err
					}
					for rows.Next() {
						var row [][]byte
						for _, v := range rows.RawValues() { // binary timestamptz: an instant, whatever the zone
							row = append(row, bytes.Clone(v))
						}
						results[i] = append(results[i], row)
					}
					if err := rows.Err(); err != nil {
						return fmt.Errorf("in time zone %s: %w", zone, err)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatalf("%s:%d: %v\n%s", docPath, b.Line, err, b.Text)
			}
			if len(results[0]) == 0 {
				t.Errorf("%s:%d: no rows\n%s", docPath, b.Line, b.Text)
			}
			if fmt.Sprint(results[0]) != fmt.Sprint(results[1]) {
				t.Errorf("%s:%d: the result depends on the session's time zone\n%s", docPath, b.Line, b.Text)
			}
		})
	}
}

// isAccountants reports whether a block is one an accountant runs (```sql accountant): it writes, through
// the accountant's functions.
func isAccountants(b analysts.Block) bool {
	f := strings.Fields(b.Info)
	return len(f) > 0 && f[0] == "accountant"
}

// Every ```sql accountant block of docs/analysts.md runs as mizan_accountant against the populated ledger —
// once, in a transaction rolled back afterwards (they post and acknowledge: run twice, the second would be
// refused, as it should) — succeeds and returns rows.
func TestDocumentQueriesRunAsAccountant(t *testing.T) {
	t.Parallel()
	f := setup(t)
	var n int
	for _, b := range analysts.Blocks(readDoc(t), "sql") {
		if !isAccountants(b) {
			continue
		}
		n++
		t.Run(fmt.Sprintf("line %d (%s)", b.Line, b.Heading), func(t *testing.T) {
			t.Parallel()
			err := asRole(f.ctx, f.pool, accountant, func(tx pgx.Tx) error {
				rows, err := tx.Query(f.ctx, b.Text)
				if err != nil {
					return err
				}
				got := 0
				for rows.Next() {
					got++
				}
				if err := rows.Err(); err != nil {
					return err
				}
				if got == 0 {
					t.Errorf("%s:%d: no rows\n%s", docPath, b.Line, b.Text)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("%s:%d: %v\n%s", docPath, b.Line, err, b.Text)
			}
		})
	}
	if n < 3 {
		t.Errorf("%s: %d accountant blocks; want the adjustment, its reversal and an acknowledgement", docPath, n)
	}
}

// The document describes every view of the analytics schema and every column of each, in the view's own
// section, and every view carries a comment: a view added or changed without its documentation fails here.
func TestDocumentDescribesEveryView(t *testing.T) {
	t.Parallel()
	f := setup(t)
	doc := string(readDoc(t))

	type column struct{ view, name string }
	cols := query(t, f, `SELECT c.table_name, c.column_name FROM information_schema.columns c
	                     JOIN information_schema.views v USING (table_schema, table_name)
	                     WHERE c.table_schema = 'analytics' ORDER BY c.table_name, c.ordinal_position`,
		func(r pgx.CollectableRow) (column, error) {
			var c column
			return c, r.Scan(&c.view, &c.name)
		})
	if len(cols) == 0 {
		t.Fatal("no analytics views visible to mizan_analyst")
	}
	for _, c := range cols {
		section, ok := docSection(doc, "### analytics."+c.view)
		if !ok {
			t.Errorf("%s: no section for view analytics.%s", docPath, c.view)
			continue
		}
		if !strings.Contains(section, "`"+c.name+"`") {
			t.Errorf("%s: analytics.%s: column %s is not described", docPath, c.view, c.name)
		}
	}

	uncommented := query(t, f, `SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	                            WHERE n.nspname = 'analytics' AND c.relkind = 'v'
	                              AND obj_description(c.oid, 'pg_class') IS NULL`, pgx.RowTo[string])
	if len(uncommented) > 0 {
		t.Errorf("views without COMMENT ON VIEW: %v", uncommented)
	}

	sources := query(t, f, `SELECT column_name::text FROM information_schema.columns
	                        WHERE table_schema = 'ledger' AND table_name = 'entry_sources' AND column_name <> 'entry_id'`,
		pgx.RowTo[string])
	for _, c := range sources {
		if !strings.Contains(doc, "`"+c+"`") {
			t.Errorf("%s: ledger.entry_sources.%s is not described", docPath, c)
		}
	}
}

// docSection returns the text from a heading line to the next heading of the same or a higher level.
func docSection(doc, heading string) (string, bool) {
	i := strings.Index(doc, "\n"+heading+"\n")
	if i < 0 {
		return "", false
	}
	rest := doc[i+1+len(heading)+1:]
	if j := strings.Index(rest, "\n## "); j >= 0 {
		rest = rest[:j]
	}
	if j := strings.Index(rest, "\n### "); j >= 0 {
		rest = rest[:j]
	}
	return rest, true
}
