package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// scrape returns the text exposition of reg, as Prometheus would read it.
func scrape(t *testing.T, reg *Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	reg.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	b, err := io.ReadAll(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// touch updates every metric of reg once.
func touch(reg *Registry) {
	reg.PollDuration.WithLabelValues("vandar-acme", "statement", PollOK).Observe(1.5)
	reg.ItemsFetched.WithLabelValues("vandar-acme", "statement").Add(40)
	reg.EventsPublished.WithLabelValues("mizan.statement.v1").Add(41)
	reg.SetConsumerLag(map[string]map[int]int64{"mizan.statement.v1": {0: 3, 1: 0}})
	reg.BatchSize.Observe(41)
	reg.Messages.WithLabelValues("mizan.statement.v1", MessageApplied).Add(40)
	reg.DeadLetters.WithLabelValues("mizan.statement.v1").Inc()
	reg.EntriesPosted.Add(38)
	reg.CheckOutcomes.WithLabelValues("running_balance", "OK").Inc()
	reg.SetAlertsOpen([]AlertCount{{Kind: "balance", Severity: "critical", Open: 2}})
	reg.SlackDeliveries.WithLabelValues(SlackSent).Inc()
}

// Every metric mizan documents is exposed under its documented name, with its labels, beside the Go runtime
// and process collectors.
func TestExpositionHasEveryMetric(t *testing.T) {
	t.Parallel()
	reg := New()
	touch(reg)
	out := scrape(t, reg)
	for _, want := range []string{
		`# TYPE mizan_poller_poll_duration_seconds histogram`,
		`mizan_poller_poll_duration_seconds_bucket{feed="statement",outcome="ok",source="vandar-acme",le="2.5"} 1`,
		`mizan_poller_items_fetched_total{feed="statement",source="vandar-acme"} 40`,
		`mizan_poller_events_published_total{topic="mizan.statement.v1"} 41`,
		`# TYPE mizan_reconciler_consumer_lag gauge`,
		`mizan_reconciler_consumer_lag{partition="0",topic="mizan.statement.v1"} 3`,
		`mizan_reconciler_consumer_lag{partition="1",topic="mizan.statement.v1"} 0`,
		`# TYPE mizan_reconciler_batch_size histogram`,
		`mizan_reconciler_batch_size_sum 41`,
		`mizan_reconciler_messages_total{outcome="applied",topic="mizan.statement.v1"} 40`,
		`mizan_reconciler_dead_letters_total{topic="mizan.statement.v1"} 1`,
		`mizan_ledger_entries_posted_total 38`,
		`mizan_check_outcomes_total{check="running_balance",outcome="OK"} 1`,
		`# TYPE mizan_alerts_open gauge`,
		`mizan_alerts_open{kind="balance",severity="critical"} 2`,
		`mizan_slack_deliveries_total{outcome="sent"} 1`,
		// Known outcomes exist at zero before they first happen.
		`mizan_slack_deliveries_total{outcome="failed"} 0`,
		`go_goroutines `,
		`process_start_time_seconds `,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("exposition lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("exposition:\n%s", out)
	}
}

// Each Registry is its own: nothing registers on the client library's global registry, and two registries in
// one process (two tests, say) count apart.
func TestRegistriesAreIndependent(t *testing.T) {
	t.Parallel()
	a, b := New(), New()
	a.EntriesPosted.Add(5)
	if out := scrape(t, b); !strings.Contains(out, "mizan_ledger_entries_posted_total 0") {
		t.Fatalf("b sees a's count:\n%s", out)
	}
}

// A lag snapshot replaces the previous one: a partition no longer reported disappears instead of showing its
// last value for ever.
func TestSetConsumerLagReplacesTheSnapshot(t *testing.T) {
	t.Parallel()
	reg := New()
	reg.SetConsumerLag(map[string]map[int]int64{"a": {0: 5, 1: 7}, "b": {0: 1}})
	reg.SetConsumerLag(map[string]map[int]int64{"a": {0: 2}})
	out := scrape(t, reg)
	if !strings.Contains(out, `mizan_reconciler_consumer_lag{partition="0",topic="a"} 2`) {
		t.Errorf("the current lag is missing:\n%s", out)
	}
	for _, gone := range []string{`partition="1",topic="a"`, `topic="b"`} {
		if strings.Contains(out, gone) {
			t.Errorf("stale series %s still exposed:\n%s", gone, out)
		}
	}

	reg.SetAlertsOpen([]AlertCount{{"balance", "critical", 1}, {"staleness", "warning", 3}})
	reg.SetAlertsOpen([]AlertCount{{"staleness", "warning", 0}})
	out = scrape(t, reg)
	if strings.Contains(out, `kind="balance"`) || !strings.Contains(out, `mizan_alerts_open{kind="staleness",severity="warning"} 0`) {
		t.Errorf("alerts snapshot not replaced:\n%s", out)
	}
}

// A collector of the caller's joins the scrape; registering one twice is an error, not a panic.
func TestRegisterAddsACollector(t *testing.T) {
	t.Parallel()
	reg := New()
	extra := prometheus.NewCounter(prometheus.CounterOpts{Name: "extra_total", Help: "A test counter."})
	extra.Add(3)
	if err := reg.Register(extra); err != nil {
		t.Fatal(err)
	}
	if out := scrape(t, reg); !strings.Contains(out, "extra_total 3") {
		t.Fatalf("the added collector is not scraped:\n%s", out)
	}
	if err := reg.Register(extra); err == nil {
		t.Fatal("registering a collector twice worked")
	}
}
