package bench

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Explainer collects what auto_explain says about every statement a pool runs, nested ones (the ledger's
// trigger functions' own statements) included, with EXPLAIN ANALYZE's row counts, timings and trigger times.
// It is for a short profiling pass: ANALYZE timing slows every statement down.
type Explainer struct {
	mu    sync.Mutex
	stats map[string]*ExplainedStatement
	err   error
}

// ExplainedStatement is one statement's auto_explain total, with the plan of its slowest execution.
type ExplainedStatement struct {
	SQL      string
	Calls    int
	Total    time.Duration
	Slowest  time.Duration
	Plan     string // the slowest execution's plan, as indented lines
	Triggers []ExplainedTrigger
	// JIT is how many executions compiled expressions with LLVM (jit_above_cost), and the time that took.
	JITCalls int
	JIT      time.Duration
}

// ExplainedTrigger is a trigger's time within a statement, summed over its executions. Foreign keys are
// triggers too (RI_ConstraintTrigger_…): their constraint names them.
type ExplainedTrigger struct {
	Name  string
	Calls int64
	Time  time.Duration
}

// NewExplainer returns an empty explainer.
func NewExplainer() *Explainer { return &Explainer{stats: map[string]*ExplainedStatement{}} }

// afterConnect turns auto_explain on for a connection, its output sent to the client as notices. It needs
// a role that may LOAD the module (a superuser, or the module in $libdir/plugins).
func (e *Explainer) afterConnect(ctx context.Context, conn *pgx.Conn) error {
	for _, stmt := range []string{
		"LOAD 'auto_explain'",
		// Not 0: the foreign keys' lookups (thousands a batch, microseconds each) would each be logged, and
		// the logging would dwarf them. Their time still counts in the statement's trigger times.
		"SET auto_explain.log_min_duration = '1ms'",
		"SET auto_explain.log_analyze = on",
		"SET auto_explain.log_buffers = on",
		"SET auto_explain.log_triggers = on",
		"SET auto_explain.log_nested_statements = on",
		"SET auto_explain.log_format = json",
		"SET auto_explain.log_level = notice",
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("auto_explain: %s: %w", stmt, err)
		}
	}
	return nil
}

var explainHeader = regexp.MustCompile(`(?s)^duration: ([0-9.]+) ms\s+plan:\s*(.*)$`)

func (e *Explainer) onNotice(_ *pgconn.PgConn, n *pgconn.Notice) {
	m := explainHeader.FindStringSubmatch(n.Message)
	if m == nil {
		return
	}
	ms, _ := strconv.ParseFloat(m[1], 64)
	var doc struct {
		QueryText string         `json:"Query Text"`
		Plan      map[string]any `json:"Plan"`
		JIT       *struct {
			Functions int `json:"Functions"`
			Timing    struct {
				Total float64 `json:"Total"`
			} `json:"Timing"`
		} `json:"JIT"`
		Triggers []struct {
			Name       string  `json:"Trigger Name"`
			Constraint string  `json:"Constraint Name"`
			Time       float64 `json:"Time"`
			Calls      int64   `json:"Calls"`
		} `json:"Triggers"`
	}
	if err := json.Unmarshal([]byte(m[2]), &doc); err != nil {
		e.mu.Lock()
		e.err = fmt.Errorf("auto_explain output: %w", err)
		e.mu.Unlock()
		return
	}
	label := Label(doc.QueryText)
	if strings.HasPrefix(label, "LOAD ") || strings.HasPrefix(label, "SET ") {
		return
	}
	d := time.Duration(ms * float64(time.Millisecond))
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.stats[label]
	if s == nil {
		s = &ExplainedStatement{SQL: label}
		e.stats[label] = s
	}
	s.Calls++
	s.Total += d
	if doc.JIT != nil && doc.JIT.Functions > 0 {
		s.JITCalls++
		s.JIT += time.Duration(doc.JIT.Timing.Total * float64(time.Millisecond))
	}
	if d > s.Slowest {
		s.Slowest = d
		var b strings.Builder
		renderPlan(&b, doc.Plan, 0)
		s.Plan = b.String()
	}
	for _, t := range doc.Triggers {
		name := t.Name
		if t.Constraint != "" {
			name = "FK " + t.Constraint
		}
		i := slices.IndexFunc(s.Triggers, func(x ExplainedTrigger) bool { return x.Name == name })
		if i < 0 {
			s.Triggers = append(s.Triggers, ExplainedTrigger{Name: name})
			i = len(s.Triggers) - 1
		}
		s.Triggers[i].Calls += t.Calls
		s.Triggers[i].Time += time.Duration(t.Time * float64(time.Millisecond))
	}
}

// Stats returns the statements, the most time first; a nested statement's time is also inside its caller's.
func (e *Explainer) Stats() ([]ExplainedStatement, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]ExplainedStatement, 0, len(e.stats))
	for _, s := range e.stats {
		x := *s
		slices.SortFunc(x.Triggers, func(a, b ExplainedTrigger) int { return cmp.Compare(b.Time, a.Time) })
		out = append(out, x)
	}
	slices.SortFunc(out, func(a, b ExplainedStatement) int { return cmp.Compare(b.Total, a.Total) })
	return out, e.err
}

// renderPlan writes a JSON plan node as one line per node: type, relation or index, actual time, rows, loops.
func renderPlan(b *strings.Builder, node map[string]any, depth int) {
	if node == nil {
		return
	}
	str := func(k string) string { s, _ := node[k].(string); return s }
	num := func(k string) float64 { f, _ := node[k].(float64); return f }
	line := str("Node Type")
	if s := str("Operation"); s != "" && line == "ModifyTable" {
		line = s
	}
	if s := str("Relation Name"); s != "" {
		line += " on " + s
	}
	if s := str("Index Name"); s != "" {
		line += " using " + s
	}
	if s := str("CTE Name"); s != "" {
		line += " (CTE " + s + ")"
	}
	if s := str("Subplan Name"); s != "" {
		line = s + ": " + line
	}
	fmt.Fprintf(b, "%s%s  (actual time=%.3f..%.3f rows=%.0f loops=%.0f)", strings.Repeat("  ", depth), line,
		num("Actual Startup Time"), num("Actual Total Time"), num("Actual Rows"), num("Actual Loops"))
	if hit, read := num("Shared Hit Blocks"), num("Shared Read Blocks"); hit+read > 0 {
		fmt.Fprintf(b, " buffers hit=%.0f read=%.0f", hit, read)
	}
	b.WriteByte('\n')
	kids, _ := node["Plans"].([]any)
	for _, k := range kids {
		if m, ok := k.(map[string]any); ok {
			renderPlan(b, m, depth+1)
		}
	}
}
