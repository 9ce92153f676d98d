package deploy

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/metrics"
	"github.com/mizanhq/mizan/internal/reconciler"
)

// exposed is every series the poller and the reconciler can expose — read from their registries, not from a
// list kept by hand — with the label names and values each shows once its known series exist. A metric
// whose series come only with data (the consumer lag) has a name and no labels here.
type exposed struct {
	names  map[string]bool
	labels map[string]map[string]map[string]bool // metric → label → values seen
}

func exposedSeries(t *testing.T) exposed {
	t.Helper()
	p := metrics.NewPoller(metrics.Build{Version: "v", Commit: "c", GoVersion: "go"})
	p.Feed("vandar-acme", "statement")
	p.Topic("mizan.statement.v1")
	// The reconciler's label values as cmd/reconciler gives them.
	r := metrics.NewReconciler(metrics.Build{Version: "v", Commit: "c", GoVersion: "go"},
		reconciler.KnownSeries(kafka.Config{}.Topic))
	e := exposed{names: map[string]bool{}, labels: map[string]map[string]map[string]bool{}}
	for _, reg := range []*metrics.Registry{p.Registry, r.Registry} {
		names, err := reg.Names()
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			e.names[n] = true
		}
		mfs, err := reg.Gatherer().Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			byLabel := map[string]map[string]bool{}
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if byLabel[l.GetName()] == nil {
						byLabel[l.GetName()] = map[string]bool{}
					}
					byLabel[l.GetName()][l.GetValue()] = true
				}
			}
			e.labels[mf.GetName()] = byLabel
		}
	}
	return e
}

// base is a series name without the suffix of a histogram's or a summary's parts.
func base(name string) string {
	for _, s := range []string{"_bucket", "_count", "_sum"} {
		name = strings.TrimSuffix(name, s)
	}
	return name
}

// exprProblems parses a PromQL expression with Prometheus' own parser and checks every selector in it against
// what the commands expose: the metric's name, the names of the labels it matches on and, where the
// metric's series exist from the start, the values an equality matcher (or a plain alternative of a regular
// expression) asks for. Labels that Prometheus adds at scrape time (job, instance) are not the commands' and
// are not checked. It returns the metric names used and what is wrong.
func exprProblems(expr string, e exposed) (used, problems []string) {
	ast, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, []string{err.Error()}
	}
	for _, sel := range parser.ExtractSelectors(ast) {
		name := ""
		for _, m := range sel {
			if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		if name == "" {
			problems = append(problems, fmt.Sprintf("a selector without a metric name: %v", sel))
			continue
		}
		if !e.names[name] && !e.names[base(name)] {
			problems = append(problems, name+" is not a series the poller or the reconciler registers")
			continue
		}
		used = append(used, base(name))
		known := e.labels[name]
		if known == nil {
			known = e.labels[base(name)]
		}
		for _, m := range sel {
			if m.Name == labels.MetricName || m.Name == "job" || m.Name == "instance" || m.Name == "le" || len(known) == 0 {
				continue
			}
			values, ok := known[m.Name]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s has no label %q (it has %v)", name, m.Name, slices.Sorted(maps.Keys(known))))
				continue
			}
			var asked []string
			switch m.Type {
			case labels.MatchEqual:
				asked = []string{m.Value}
			case labels.MatchRegexp:
				for _, alt := range strings.Split(m.Value, "|") {
					if regexp.QuoteMeta(alt) == alt {
						asked = append(asked, alt)
					}
				}
			}
			for _, v := range asked {
				if !values[v] {
					problems = append(problems, fmt.Sprintf("%s{%s} never takes the value %q (it takes %v)", name, m.Name, v,
						slices.Sorted(maps.Keys(values))))
				}
			}
		}
	}
	return used, problems
}

// checkExpr reports exprProblems as test errors and returns the metric names used.
func checkExpr(t *testing.T, where, expr string, e exposed) []string {
	t.Helper()
	used, problems := exprProblems(expr, e)
	for _, p := range problems {
		t.Errorf("%s: %s\n%s", where, p, expr)
	}
	return used
}

// ruleFile is Prometheus' rule file format (https://prometheus.io/docs/prometheus/latest/configuration/
// alerting_rules/), decoded strictly: an unknown or misspelt field is an error, as `promtool check rules`
// makes it.
type ruleFile struct {
	Groups []struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval"`
		Rules    []struct {
			Alert         string            `yaml:"alert"`
			Record        string            `yaml:"record"`
			Expr          string            `yaml:"expr"`
			For           string            `yaml:"for"`
			KeepFiringFor string            `yaml:"keep_firing_for"`
			Labels        map[string]string `yaml:"labels"`
			Annotations   map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// The alerting rules parse as Prometheus reads them, cover what an operator of mizan must hear about, and
// query only series the commands register. The file is checked with Prometheus' PromQL parser and a strict
// decoding of the rule-file format rather than with rulefmt, whose package pulls OpenTelemetry and the
// template engine's dependencies into the module for one test.
func TestPrometheusRules(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("prometheus", "mizan-rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("mizan-rules.yaml: %v", err)
	}
	e := exposedSeries(t)
	nameRE := regexp.MustCompile(`^Mizan[A-Z][A-Za-z]+$`)
	alerts := map[string]bool{}
	usedBy := map[string][]string{}
	groups := map[string]bool{}
	for _, g := range f.Groups {
		if g.Name == "" || groups[g.Name] || len(g.Rules) == 0 {
			t.Errorf("group %q: unnamed, repeated or empty", g.Name)
		}
		groups[g.Name] = true
		if g.Interval != "" {
			if _, err := model.ParseDuration(g.Interval); err != nil {
				t.Errorf("group %s: interval: %v", g.Name, err)
			}
		}
		for _, r := range g.Rules {
			where := g.Name + "/" + r.Alert
			if r.Record != "" || !nameRE.MatchString(r.Alert) || alerts[r.Alert] {
				t.Errorf("%s: every rule is an alert named Mizan…, once (record %q)", where, r.Record)
			}
			alerts[r.Alert] = true
			for _, d := range []string{r.For, r.KeepFiringFor} {
				if _, err := model.ParseDuration(d); d != "" && err != nil {
					t.Errorf("%s: %v", where, err)
				}
			}
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("%s: severity %q, want warning or critical", where, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: a summary and a description are needed", where)
			}
			for k, text := range r.Annotations {
				checkTemplate(t, where+" annotation "+k, text)
			}
			for _, m := range checkExpr(t, where, r.Expr, e) {
				usedBy[m] = append(usedBy[m], r.Alert)
			}
		}
	}
	// What the issue asked the rules to watch, each by the series that shows it.
	for what, metric := range map[string]string{
		"a stalled reconciler":   "mizan_reconciler_stalled",
		"consumer lag":           "mizan_reconciler_consumer_lag",
		"dead letters":           "mizan_reconciler_dead_letters_total",
		"stale sources":          "mizan_alerts_open",
		"poller staleness":       "mizan_poller_last_success_timestamp_seconds",
		"undelivered alerts":     "mizan_alerts_undelivered",
		"failed polls":           "mizan_poller_last_poll_failed",
		"Slack refusing alerts":  "mizan_slack_deliveries_total",
		"a reconciler not going": "mizan_reconciler_last_applied_timestamp_seconds",
	} {
		if len(usedBy[metric]) == 0 {
			t.Errorf("no rule watches %s (%s)", what, metric)
		}
	}
}

// checkTemplate parses an annotation as Prometheus does: a Go text/template with $labels and $value defined
// and Prometheus' functions (those the rules use) available.
func checkTemplate(t *testing.T, where, text string) {
	t.Helper()
	funcs := template.FuncMap{}
	for _, f := range []string{"humanize", "humanizeDuration", "humanizePercentage", "humanizeTimestamp", "title",
		"toUpper", "toLower", "query", "first", "label", "value", "reReplaceAll", "match", "args", "safeHtml"} {
		funcs[f] = func(...any) any { return nil }
	}
	header := "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$value := .Value}}"
	if _, err := template.New(where).Funcs(funcs).Parse(header + text); err != nil {
		t.Errorf("%s: %v", where, err)
	}
	for _, m := range regexp.MustCompile(`\$labels\.([a-z_]+)`).FindAllStringSubmatch(text, -1) {
		if m[1] == "" {
			t.Errorf("%s: %s", where, m[0])
		}
	}
}

// A selector naming a series no command registers, a label it does not have or a value it never takes is
// caught: the check above cannot pass by checking nothing.
func TestCheckExprCatchesWhatIsNotExposed(t *testing.T) {
	t.Parallel()
	e := exposedSeries(t)
	for _, bad := range []string{
		`mizan_poller_polls_total`,                                  // no such series
		`mizan_reconciler_consumer_lag{partition=~".+"} > 0 and up`, // up: Prometheus', not mizan's
		`mizan_slack_deliveries_total{result="failed"}`,             // no such label
		`mizan_slack_deliveries_total{outcome="rejected"}`,          // no such value
		`mizan_alerts_open{kind=~"stale|bank_statement_stale"}`,     // no such kind
		`sum(rate(mizan_reconciler_messages_total[5m])`,             // does not parse
	} {
		if _, problems := exprProblems(bad, e); len(problems) == 0 {
			t.Errorf("%s passed the check", bad)
		}
	}
	good := fmt.Sprintf(`histogram_quantile(0.95, sum by (le) (rate(%s_bucket{outcome="ok"}[5m])))`,
		"mizan_poller_poll_duration_seconds")
	if _, problems := exprProblems(good, e); len(problems) > 0 {
		t.Errorf("%s: %v", good, problems)
	}
}
