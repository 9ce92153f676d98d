package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
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

var build = Build{Version: "v1.2.3", Commit: "abc123", GoVersion: "go1.26.8"}

func known() Known {
	return Known{Topics: []string{"p.mizan.statement.v1"}, Checks: []string{"balance", "staleness"},
		CheckOutcomes: []string{"OK", "MISMATCH", "UNKNOWN"}, AlertKinds: []string{"balance", "stalled"},
		Severities: []string{"warning", "critical"}}
}

func contains(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("exposition lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("exposition:\n%s", out)
	}
}

// The poller's registry has its own series, the build info and the collectors — and none of the
// reconciler's, nor Slack's. Every series of a declared feed and topic is there at zero before anything
// happens.
func TestPollerExposesOnlyItsOwnSeriesFromTheStart(t *testing.T) {
	t.Parallel()
	p := NewPoller(build)
	p.Feed("vandar-acme", "statement")
	p.Topic("p.mizan.statement.v1")
	out := scrape(t, p.Registry)
	contains(t, out,
		`mizan_build_info{commit="abc123",goversion="go1.26.8",version="v1.2.3"} 1`,
		`mizan_poller_poll_duration_seconds_count{feed="statement",outcome="error",source="vandar-acme"} 0`,
		`mizan_poller_poll_duration_seconds_count{feed="statement",outcome="ok",source="vandar-acme"} 0`,
		`mizan_poller_poll_duration_seconds_count{feed="statement",outcome="skipped",source="vandar-acme"} 0`,
		`mizan_poller_items_fetched_total{feed="statement",source="vandar-acme"} 0`,
		`mizan_poller_pages_fetched_total{feed="statement",source="vandar-acme"} 0`,
		`mizan_poller_events_published_total{topic="p.mizan.statement.v1"} 0`,
		`mizan_poller_last_success_timestamp_seconds{feed="statement",source="vandar-acme"} 0`,
		`mizan_poller_last_poll_failed{feed="statement",source="vandar-acme"} 0`,
		`mizan_poller_poll_in_progress{feed="statement",source="vandar-acme"} 0`,
		`mizan_poller_poll_reached_timestamp_seconds{feed="statement",source="vandar-acme"} 0`,
		`go_goroutines `, `process_start_time_seconds `,
	)
	for _, other := range []string{"mizan_reconciler_", "mizan_slack_", "mizan_alerts_", "mizan_check_", "mizan_ledger_"} {
		if strings.Contains(out, other) {
			t.Errorf("the poller exposes %s* series", other)
		}
	}
}

// The reconciler's registry: every known topic, outcome, check, alert kind and Slack outcome at zero from
// the start (dead letters and check outcomes included, which used to appear only after their first event),
// and none of the poller's series.
func TestReconcilerExposesOnlyItsOwnSeriesFromTheStart(t *testing.T) {
	t.Parallel()
	r := NewReconciler(build, known())
	out := scrape(t, r.Registry)
	contains(t, out,
		`mizan_build_info{commit="abc123",goversion="go1.26.8",version="v1.2.3"} 1`,
		`mizan_reconciler_dead_letters_total{topic="p.mizan.statement.v1"} 0`,
		`mizan_reconciler_messages_total{outcome="applied",topic="p.mizan.statement.v1"} 0`,
		`mizan_reconciler_messages_total{outcome="dead_letter",topic="p.mizan.statement.v1"} 0`,
		`mizan_reconciler_messages_total{outcome="duplicate",topic="p.mizan.statement.v1"} 0`,
		`mizan_reconciler_dead_letter_publish_failures_total 0`,
		`mizan_reconciler_apply_failures_total{class="environment"} 0`,
		`mizan_reconciler_stalled 0`,
		`mizan_reconciler_batch_size_count 0`,
		`mizan_ledger_entries_posted_total 0`,
		`mizan_check_outcomes_total{check="balance",outcome="MISMATCH"} 0`,
		`mizan_check_outcomes_total{check="staleness",outcome="UNKNOWN"} 0`,
		`mizan_alerts_open{kind="stalled",severity="critical"} 0`,
		`mizan_alerts_undelivered 0`,
		`mizan_slack_deliveries_total{outcome="failed"} 0`,
		`mizan_slack_deliveries_total{outcome="retried"} 0`,
		`mizan_slack_deliveries_total{outcome="sent"} 0`,
	)
	if strings.Contains(out, "mizan_poller_") {
		t.Error("the reconciler exposes the poller's series")
	}
}

// Updated series show their values under their documented names and labels.
func TestExpositionOfUpdates(t *testing.T) {
	t.Parallel()
	p := NewPoller(build)
	p.PollDuration.WithLabelValues("vandar-acme", "statement", PollOK).Observe(1.5)
	p.ItemsFetched.WithLabelValues("vandar-acme", "statement").Add(40)
	p.EventsPublished.WithLabelValues("mizan.statement.v1").Add(41)
	p.LastSuccess.WithLabelValues("vandar-acme", "statement").Set(1.7e9)
	contains(t, scrape(t, p.Registry),
		`mizan_poller_poll_duration_seconds_bucket{feed="statement",outcome="ok",source="vandar-acme",le="2.5"} 1`,
		`mizan_poller_items_fetched_total{feed="statement",source="vandar-acme"} 40`,
		`mizan_poller_events_published_total{topic="mizan.statement.v1"} 41`,
		`mizan_poller_last_success_timestamp_seconds{feed="statement",source="vandar-acme"} 1.7e+09`,
	)

	r := NewReconciler(build, known())
	r.SetConsumerLag(map[string]map[int]int64{"mizan.statement.v1": {0: 3, 1: 0}})
	r.BatchSize.Observe(41)
	r.Messages.WithLabelValues("mizan.statement.v1", MessageApplied).Add(40)
	r.DeadLetters.WithLabelValues("mizan.statement.v1").Inc()
	r.EntriesPosted.Add(38)
	r.CheckOutcomes.WithLabelValues("running_balance", "OK").Inc()
	r.SetAlerts([]AlertCount{{Kind: "balance", Severity: "critical", Open: 2}}, 3)
	r.SlackDeliveries.WithLabelValues(SlackSent).Inc()
	contains(t, scrape(t, r.Registry),
		`mizan_reconciler_consumer_lag{partition="0",topic="mizan.statement.v1"} 3`,
		`mizan_reconciler_consumer_lag{partition="1",topic="mizan.statement.v1"} 0`,
		`mizan_reconciler_batch_size_sum 41`,
		`mizan_reconciler_messages_total{outcome="applied",topic="mizan.statement.v1"} 40`,
		`mizan_reconciler_dead_letters_total{topic="mizan.statement.v1"} 1`,
		`mizan_ledger_entries_posted_total 38`,
		`mizan_check_outcomes_total{check="running_balance",outcome="OK"} 1`,
		`mizan_alerts_open{kind="balance",severity="critical"} 2`,
		`mizan_alerts_undelivered 3`,
		`mizan_slack_deliveries_total{outcome="sent"} 1`,
	)
}

// Names lists every series a registry can expose, the ones with no sample yet included, and nothing of the
// other command's.
func TestNames(t *testing.T) {
	t.Parallel()
	pn, err := NewPoller(build).Names()
	if err != nil {
		t.Fatal(err)
	}
	rn, err := NewReconciler(build, Known{}).Names()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"mizan_build_info", "mizan_poller_poll_duration_seconds", "mizan_poller_last_success_timestamp_seconds", "process_start_time_seconds"} {
		if !slices.Contains(pn, want) {
			t.Errorf("poller names lack %s: %v", want, pn)
		}
	}
	// The lag has no series until measured, and is still listed.
	for _, want := range []string{"mizan_build_info", "mizan_reconciler_consumer_lag", "mizan_reconciler_last_applied_timestamp_seconds", "mizan_slack_deliveries_total"} {
		if !slices.Contains(rn, want) {
			t.Errorf("reconciler names lack %s: %v", want, rn)
		}
	}
	if slices.Contains(pn, "mizan_slack_deliveries_total") || slices.Contains(rn, "mizan_poller_items_fetched_total") {
		t.Error("a registry names the other command's series")
	}
}

// Each Registry is its own: nothing registers on the client library's global registry, and two registries in
// one process (two tests, say) count apart.
func TestRegistriesAreIndependent(t *testing.T) {
	t.Parallel()
	a, b := NewReconciler(build, Known{}), NewReconciler(build, Known{})
	a.EntriesPosted.Add(5)
	if out := scrape(t, b.Registry); !strings.Contains(out, "mizan_ledger_entries_posted_total 0") {
		t.Fatalf("b sees a's count:\n%s", out)
	}
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "mizan_") {
			t.Errorf("%s is on the default registry", mf.GetName())
		}
	}
}

// A lag snapshot replaces the previous one: a partition no longer reported disappears instead of showing its
// last value for ever. An alert kind known from the start goes back to 0; another disappears.
func TestSnapshotsReplaceThePreviousOne(t *testing.T) {
	t.Parallel()
	reg := NewReconciler(build, known())
	reg.SetConsumerLag(map[string]map[int]int64{"a": {0: 5, 1: 7}, "b": {0: 1}})
	reg.SetConsumerLag(map[string]map[int]int64{"a": {0: 2}})
	out := scrape(t, reg.Registry)
	if !strings.Contains(out, `mizan_reconciler_consumer_lag{partition="0",topic="a"} 2`) {
		t.Errorf("the current lag is missing:\n%s", out)
	}
	for _, gone := range []string{`partition="1",topic="a"`, `topic="b"`} {
		if strings.Contains(out, gone) {
			t.Errorf("stale series %s still exposed:\n%s", gone, out)
		}
	}

	reg.SetAlerts([]AlertCount{{"balance", "critical", 1}, {"mystery", "warning", 3}}, 0)
	reg.SetAlerts([]AlertCount{{"stalled", "warning", 4}}, 0)
	out = scrape(t, reg.Registry)
	contains(t, out, `mizan_alerts_open{kind="balance",severity="critical"} 0`, `mizan_alerts_open{kind="stalled",severity="warning"} 4`)
	if strings.Contains(out, `kind="mystery"`) {
		t.Errorf("an unknown kind no longer open is still exposed:\n%s", out)
	}
}

// A collector of the caller's joins the scrape; registering one twice is an error, not a panic.
func TestRegisterAddsACollector(t *testing.T) {
	t.Parallel()
	reg := NewPoller(build)
	extra := prometheus.NewCounter(prometheus.CounterOpts{Name: "extra_total", Help: "A test counter."})
	extra.Add(3)
	if err := reg.Register(extra); err != nil {
		t.Fatal(err)
	}
	if out := scrape(t, reg.Registry); !strings.Contains(out, "extra_total 3") {
		t.Fatalf("the added collector is not scraped:\n%s", out)
	}
	if err := reg.Register(extra); err == nil {
		t.Fatal("registering a collector twice worked")
	}
}
