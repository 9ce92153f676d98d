package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/ledger"
	"github.com/mizanhq/mizan/internal/pgtest"
)

// The parts of Grafana's dashboard model the tests read. Decoding is lenient on purpose — Grafana's model
// has hundreds of fields — so the checks below say what must be there.
type dashboard struct {
	Title         string  `json:"title"`
	UID           string  `json:"uid"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string      `json:"name"`
			Type       string      `json:"type"`
			Query      any         `json:"query"`
			Datasource *datasource `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID         int                      `json:"id"`
	Type       string                   `json:"type"`
	Title      string                   `json:"title"`
	Datasource *datasource              `json:"datasource"`
	GridPos    struct{ H, W, X, Y int } `json:"gridPos"`
	Targets    []struct {
		RefID      string      `json:"refId"`
		Datasource *datasource `json:"datasource"`
		Expr       string      `json:"expr"`
		RawSQL     string      `json:"rawSql"`
		Format     string      `json:"format"`
	} `json:"targets"`
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("grafana", "mizan-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("mizan-dashboard.json: %v", err)
	}
	return d
}

func TestGrafanaDashboard(t *testing.T) {
	t.Parallel()
	d := readDashboard(t)
	if d.Title == "" || d.UID == "" || d.SchemaVersion < 30 || len(d.Panels) == 0 {
		t.Fatalf("title %q, uid %q, schemaVersion %d, %d panels", d.Title, d.UID, d.SchemaVersion, len(d.Panels))
	}
	// Data sources are chosen on import through variables, never hard-coded uids.
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		if v.Type == "datasource" {
			vars["${"+v.Name+"}"] = v.Query.(string)
		}
	}
	// The series mizan exposes, read from the commands' registries: the dashboard plots every mizan_ one, and
	// nothing else of mizan's.
	e := exposedSeries(t)
	var dashboardMetrics []string
	for name := range e.names {
		if strings.HasPrefix(name, "mizan_") {
			dashboardMetrics = append(dashboardMetrics, name)
		}
	}
	ids := map[int]bool{}
	type cell struct{ x, y int }
	taken := map[cell]string{}
	exprs := ""
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside the 24 columns", p.Title, g)
		}
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if other, ok := taken[cell{x, y}]; ok {
					t.Errorf("panels %q and %q overlap", other, p.Title)
					goto next
				}
				taken[cell{x, y}] = p.Title
			}
		}
	next:
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || vars[p.Datasource.UID] != p.Datasource.Type {
			t.Errorf("panel %q: data source %+v is not one of the dashboard's data source variables %v", p.Title, p.Datasource, vars)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			if q.RefID == "" || q.Datasource == nil || *q.Datasource != *p.Datasource {
				t.Errorf("panel %q: query %q has no refId or another data source", p.Title, q.RefID)
			}
			switch p.Datasource.Type {
			case "prometheus":
				if q.Expr == "" || !balanced(q.Expr) {
					t.Errorf("panel %q: PromQL %q is empty or unbalanced", p.Title, q.Expr)
				}
				for _, m := range regexp.MustCompile(`mizan_[a-z_]+`).FindAllString(q.Expr, -1) {
					if !slices.Contains(dashboardMetrics, base(m)) {
						t.Errorf("panel %q plots %s, which mizan does not expose", p.Title, m)
					}
				}
				// Prometheus' parser, with Grafana's interval variables as Grafana expands them.
				expr := strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h").Replace(q.Expr)
				checkExpr(t, "panel "+p.Title, expr, e)
				exprs += q.Expr + "\n"
			case "grafana-postgresql-datasource":
				if q.RawSQL == "" {
					t.Errorf("panel %q: no SQL", p.Title)
				}
			}
		}
	}
	if len(dashboardMetrics) < 20 {
		t.Fatalf("only %d series from the registries: %v", len(dashboardMetrics), dashboardMetrics)
	}
	for _, m := range dashboardMetrics {
		if !regexp.MustCompile(`\b` + m + `(_bucket|_count|_sum)?\b`).MatchString(exprs) {
			t.Errorf("no panel plots %s", m)
		}
	}
	sql := balancePanelSQL(t, d)
	for _, want := range []string{"recon.balance_observations", "ledger.balance_at(", "':wallet'", "$__timeFilter("} {
		if !strings.Contains(sql, want) {
			t.Errorf("the balance panel's SQL lacks %s:\n%s", want, sql)
		}
	}
}

// balancePanelSQL is the SQL of the panel plotting each wallet's ledger balance against the provider's.
func balancePanelSQL(t *testing.T, d dashboard) string {
	t.Helper()
	for _, p := range d.Panels {
		if strings.Contains(p.Title, "ledger vs provider") && len(p.Targets) == 1 {
			return p.Targets[0].RawSQL
		}
	}
	t.Fatal("no panel titled … ledger vs provider")
	return ""
}

func balanced(s string) bool {
	var stack []rune
	pairs := map[rune]rune{')': '(', ']': '[', '}': '{'}
	inString := false
	for _, r := range s {
		switch {
		case r == '"':
			inString = !inString
		case inString:
		case r == '(' || r == '[' || r == '{':
			stack = append(stack, r)
		case pairs[r] != 0:
			if len(stack) == 0 || stack[len(stack)-1] != pairs[r] {
				return false
			}
			stack = stack[:len(stack)-1]
		}
	}
	return len(stack) == 0 && !inString
}

// grafanaSQL expands the Grafana macros and variables the dashboard's SQL uses, as Grafana's PostgreSQL data
// source does, and fails on any it does not know.
func grafanaSQL(t *testing.T, sql string, from, to time.Time, business ...string) string {
	t.Helper()
	sql = regexp.MustCompile(`\$__timeFilter\(([^)]+)\)`).ReplaceAllString(sql,
		fmt.Sprintf("$1 BETWEEN '%s' AND '%s'", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339)))
	quoted := make([]string, len(business))
	for i, b := range business {
		quoted[i] = "'" + b + "'"
	}
	sql = strings.ReplaceAll(sql, "$business", strings.Join(quoted, ","))
	if strings.Contains(sql, "$") {
		t.Fatalf("SQL with a macro the test does not expand:\n%s", sql)
	}
	return sql
}

// TestGrafanaSQLAgainstTheSchema runs every SQL query of the dashboard against a migrated database holding a
// wallet whose ledger and provider balances agree at one observation and differ at the next.
func TestGrafanaSQLAgainstTheSchema(t *testing.T) {
	t.Parallel()
	d := readDashboard(t)
	pool, _ := pgtest.NewDB(t)
	ctx := context.Background()

	t0 := time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC)
	wallet := ledger.Account{Code: "assets:vandar:acme:wallet", Type: ledger.AccountAsset, Currency: "IRT"}
	entry := func(key string, at time.Time, amount int64, counter ledger.Account) ledger.Entry {
		return ledger.Entry{IdempotencyKey: key, EffectiveAt: at, Description: key, Postings: []ledger.Posting{
			{Account: wallet, Amount: decimal.NewFromInt(amount)},
			{Account: counter, Amount: decimal.NewFromInt(-amount)},
		}}
	}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := ledger.Apply(ctx, tx, []ledger.Entry{
			entry("vandar:acme:opening:IRT", t0, 1000,
				ledger.Account{Code: "equity:vandar:acme:opening_balance", Type: ledger.AccountEquity, Currency: "IRT"}),
			entry("vandar:acme:statement:1", t0.Add(2*time.Hour), 500,
				ledger.Account{Code: "income:vandar:acme:sales:ipg", Type: ledger.AccountIncome, Currency: "IRT"}),
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []struct {
		id, provider, account string
		amount                int64
		at                    time.Time
	}{
		{"o1", "vandar", "acme", 1000, t0.Add(time.Hour)},     // agrees: 1000
		{"o2", "vandar", "acme", 1600, t0.Add(3 * time.Hour)}, // ledger 1500: 100 missing
		{"o3", "vandar", "other", 7, t0.Add(time.Hour)},       // not selected
		{"o4", "yabandpay", "036870", 9, t0.Add(time.Hour)},   // not a Vandar wallet
		{"o5", "vandar", "acme", 1, t0.Add(-48 * time.Hour)},  // outside the time range
	} {
		if _, err := pool.Exec(ctx, `INSERT INTO recon.balance_observations (event_id, provider, account, currency, amount, observed_at)
			VALUES ($1, $2, $3, 'IRT', $4, $5)`, o.id, o.provider, o.account, o.amount, o.at); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `INSERT INTO recon.alerts (kind, severity, subject, dedup_key, summary)
		VALUES ('balance', 'critical', 'vandar/acme/wallet', 'balance:vandar/acme', 'wallet differs by 100')`); err != nil {
		t.Fatal(err)
	}

	from, to := t0.Add(-time.Hour), t0.Add(24*time.Hour)
	query := func(sql string) []string {
		t.Helper()
		rows, err := pool.Query(ctx, grafanaSQL(t, sql, from, to, "acme"))
		if err != nil {
			t.Fatalf("%v\n%s", err, sql)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			var cells []string
			for _, v := range vals {
				switch v := v.(type) {
				case time.Time:
					cells = append(cells, v.UTC().Format("15:04"))
				case pgtype.Numeric:
					n, err := v.Value()
					if err != nil {
						t.Fatal(err)
					}
					cells = append(cells, fmt.Sprint(n))
				default:
					cells = append(cells, fmt.Sprint(v))
				}
			}
			out = append(out, strings.Join(cells, " "))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}

	got := map[string][]string{}
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			if q.RawSQL != "" {
				got[p.Title] = query(q.RawSQL)
			}
		}
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" && v.Datasource != nil && v.Datasource.Type == "grafana-postgresql-datasource" {
			got["variable "+v.Name] = query(v.Query.(string))
		}
	}
	want := map[string][]string{
		"Wallet balance: ledger vs provider": {"09:00 acme IRT 1000 1000", "11:00 acme IRT 1600 1500"},
		"Provider − ledger":                  {"09:00 acme IRT 0", "11:00 acme IRT 100"},
		"variable business":                  {"acme", "other"},
	}
	for title, rows := range want {
		if !slices.Equal(got[title], rows) {
			t.Errorf("%s: rows %q, want %q", title, got[title], rows)
		}
	}
	if rows := got["Alerts open now"]; len(rows) != 1 || !strings.Contains(rows[0], "wallet differs by 100") {
		t.Errorf("open alerts: %q", rows)
	}
	if len(got) != 4 {
		t.Errorf("ran %d SQL queries (%v); the test expects 4: add the new one to want", len(got), slices.Sorted(maps.Keys(got)))
	}
}
