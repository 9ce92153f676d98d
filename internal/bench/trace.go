package bench

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Tracer times every statement a pool sends, as the client sees it (round trip, server time and reading the
// result), summed per statement. A pipelined batch (pgx.Batch, as ledger.Apply sends its reads) counts as one
// statement named after its queries. It costs two clock reads per statement.
type Tracer struct {
	mu    sync.Mutex
	stats map[string]*StatementStat
}

// StatementStat is one statement's total.
type StatementStat struct {
	SQL   string // the first characters of the statement, comments dropped, whitespace collapsed
	Calls int
	Total time.Duration
}

// NewTracer returns an empty tracer.
func NewTracer() *Tracer { return &Tracer{stats: map[string]*StatementStat{}} }

type traceKey struct{}

type traceStart struct {
	sql   string
	begin time.Time
}

// TraceQueryStart implements pgx.QueryTracer.
func (t *Tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, traceKey{}, traceStart{d.SQL, time.Now()})
}

// TraceQueryEnd implements pgx.QueryTracer.
func (t *Tracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) {
	if s, ok := ctx.Value(traceKey{}).(traceStart); ok {
		t.add(Label(s.sql), time.Since(s.begin))
	}
}

// TraceBatchStart implements pgx.BatchTracer.
func (t *Tracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	var names []string
	for _, q := range d.Batch.QueuedQueries {
		names = append(names, firstWords(Label(q.SQL), 3))
	}
	return context.WithValue(ctx, traceKey{}, traceStart{"pipelined batch: " + strings.Join(names, " | "), time.Now()})
}

// TraceBatchQuery implements pgx.BatchTracer.
func (t *Tracer) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

// TraceBatchEnd implements pgx.BatchTracer.
func (t *Tracer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchEndData) {
	if s, ok := ctx.Value(traceKey{}).(traceStart); ok {
		t.add(s.sql, time.Since(s.begin))
	}
}

func (t *Tracer) add(sql string, d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.stats[sql]
	if s == nil {
		s = &StatementStat{SQL: sql}
		t.stats[sql] = s
	}
	s.Calls++
	s.Total += d
}

// Reset forgets everything traced so far.
func (t *Tracer) Reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stats = map[string]*StatementStat{}
}

// Stats returns the statements, the most time first.
func (t *Tracer) Stats() []StatementStat {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]StatementStat, 0, len(t.stats))
	for _, s := range t.stats {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b StatementStat) int { return cmp.Compare(b.Total, a.Total) })
	return out
}

// Label names a statement: comments dropped, whitespace collapsed, at most 90 characters.
func Label(sql string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(sql, "\n") {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		for _, f := range strings.Fields(line) {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(f)
		}
		if b.Len() > 90 {
			break
		}
	}
	s := b.String()
	if len(s) > 90 {
		s = s[:87] + "..."
	}
	return s
}

func firstWords(s string, n int) string {
	f := strings.Fields(s)
	return strings.Join(f[:min(n, len(f))], " ")
}
