// Package analysts holds the tests of mizan's analyst surface — the `analytics` views, the read-only role
// mizan_analyst and the queries of docs/analysts.md — and the one helper they share: reading the SQL blocks
// out of that document, so that every query an analyst is shown is run, as that role, against a populated
// ledger.
//
// The surface itself is SQL, in migrations/00020_entry_sources.sql, 00021_analytics_views.sql,
// 00022_analyst_role.sql and 00090–00096 (month-end: the Jalali calendar, references, trial balance and P&L,
// suspense, adjustments and acknowledgements by mizan_accountant).
package analysts

import (
	"bufio"
	"bytes"
	"strings"
)

// Block is one fenced code block of a Markdown document.
type Block struct {
	Line    int    // 1-based line of the opening fence
	Heading string // text of the nearest heading above it, without the #s
	Text    string // the block's content, without the fences
	// Info is the rest of the info string after the language, e.g. "accountant" for ```sql accountant: the
	// blocks an accountant runs (docs/analysts.md), which the tests run as mizan_accountant.
	Info string
}

// Blocks returns the fenced code blocks of md whose info string is lang (```sql), in document order. A block
// left open at the end of the document is returned as far as it goes; the tests then fail on its SQL rather
// than silently skipping it.
func Blocks(md []byte, lang string) []Block {
	var (
		out     []Block
		heading string
		cur     *Block
		body    strings.Builder
		fence   string
	)
	sc := bufio.NewScanner(bytes.NewReader(md))
	sc.Buffer(make([]byte, 0, 64*1024), len(md)+1)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if fence != "" { // inside a block
			if strings.HasPrefix(trimmed, fence) && strings.Trim(trimmed, "`~") == "" {
				if cur != nil {
					cur.Text = body.String()
					out = append(out, *cur)
				}
				cur, fence = nil, ""
				body.Reset()
				continue
			}
			if cur != nil {
				body.WriteString(line)
				body.WriteByte('\n')
			}
			continue
		}
		if f, info, rest, ok := openFence(trimmed); ok {
			fence = f
			if info == lang {
				cur = &Block{Line: n, Heading: heading, Info: rest}
			}
			continue
		}
		if strings.HasPrefix(trimmed, "#") {
			heading = strings.TrimSpace(strings.TrimLeft(trimmed, "#"))
		}
	}
	if cur != nil {
		cur.Text = body.String()
		out = append(out, *cur)
	}
	return out
}

// openFence reports whether line opens a fenced block (three or more backticks or tildes) and returns the
// fence, the first word of its info string and the rest of it.
func openFence(line string) (fence, info, rest string, ok bool) {
	for _, c := range []string{"`", "~"} {
		n := len(line) - len(strings.TrimLeft(line, c))
		if n >= 3 {
			fields := strings.Fields(line[n:])
			if len(fields) > 0 {
				info, rest = fields[0], strings.Join(fields[1:], " ")
			}
			return strings.Repeat(c, n), info, rest, true
		}
	}
	return "", "", "", false
}
