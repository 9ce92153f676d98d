package reconciler_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/metrics"
	"github.com/mizanhq/mizan/internal/reconciler"
)

// Every check name the code can produce — an exported string constant named Check… in internal/checks and
// internal/apply, or Alert… in internal/matching — is in CheckNames, so its series start at zero.
func TestCheckNamesListsEveryCheck(t *testing.T) {
	t.Parallel()
	found := 0
	for dir, prefix := range map[string]string{"checks": "Check", "apply": "Check", "matching": "Alert"} {
		files, _ := filepath.Glob(filepath.Join("..", dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range af.Decls {
				gd, ok := d.(*ast.GenDecl)
				if !ok || gd.Tok != token.CONST {
					continue
				}
				for _, spec := range gd.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, name := range vs.Names {
						if !strings.HasPrefix(name.Name, prefix) || !name.IsExported() || i >= len(vs.Values) {
							continue
						}
						lit, ok := vs.Values[i].(*ast.BasicLit)
						if !ok || lit.Kind != token.STRING {
							continue
						}
						v, _ := strconv.Unquote(lit.Value)
						found++
						if !slices.Contains(reconciler.CheckNames, v) {
							t.Errorf("%s.%s = %q is not in CheckNames (internal/reconciler/metrics.go)", dir, name.Name, v)
						}
					}
				}
			}
		}
	}
	if found < 15 {
		t.Fatalf("found only %d check names: the scan is broken", found)
	}
}

// The reconciler's /metrics names its topics in full and starts dead letters, check outcomes and alerts at zero.
func TestKnownSeriesStartAtZero(t *testing.T) {
	t.Parallel()
	reg := metrics.NewReconciler(metrics.Build{}, reconciler.KnownSeries(kafka.Config{TopicPrefix: "prod."}.Topic))
	rec := httptest.NewRecorder()
	reg.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	out := string(b)
	for _, want := range []string{
		`mizan_reconciler_dead_letters_total{topic="prod.mizan.statement.v1"} 0`,
		`mizan_check_outcomes_total{check="bank_balance",outcome="MISMATCH"} 0`,
		`mizan_check_outcomes_total{check="unpaid",outcome="OK"} 0`,
		`mizan_alerts_open{kind="dead_letter",severity="critical"} 0`,
		`mizan_build_info{`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(out, "mizan_poller_") {
		t.Error("the reconciler exposes poller series")
	}
}
