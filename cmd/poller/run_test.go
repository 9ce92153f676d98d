package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/mizanhq/mizan/internal/cli/clitest"
	"github.com/mizanhq/mizan/internal/kafka/kafkatest"
	"github.com/mizanhq/mizan/internal/pgtest"
)

// `poller once` with MIZAN_PUSHGATEWAY_URL pushes its metrics when it ends — to an httptest server standing
// in for the Pushgateway — as job mizan-poller and instance SOURCE/FEED, with the polled feed's last success
// set and its topic named in full. The password in the URL goes as basic auth and never into the logs.
func TestOncePushesItsMetricsToThePushgateway(t *testing.T) {
	t.Parallel()
	_, dbURL := pgtest.NewDB(t)
	kcfg := kafkatest.Config(t)

	var mu sync.Mutex
	var path, auth string
	pushed := map[string]float64{} // name{label=value,…} → value
	gateway := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		mu.Lock()
		defer mu.Unlock()
		path, auth = r.Method+" "+r.URL.Path, u+":"+p
		dec := expfmt.NewDecoder(r.Body, expfmt.ResponseFormat(r.Header))
		for {
			var mf dto.MetricFamily
			if err := dec.Decode(&mf); err != nil {
				break
			}
			for _, m := range mf.GetMetric() {
				var labels []string
				for _, l := range m.GetLabel() {
					labels = append(labels, l.GetName()+"="+l.GetValue())
				}
				key := mf.GetName() + "{" + strings.Join(labels, ",") + "}"
				switch {
				case m.Gauge != nil:
					pushed[key] = m.GetGauge().GetValue()
				case m.Counter != nil:
					pushed[key] = m.GetCounter().GetValue()
				}
			}
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(gateway.Close)

	dir := t.TempDir()
	statements := filepath.Join(dir, "statements")
	if err := os.Mkdir(statements, 0o755); err != nil {
		t.Fatal(err)
	}
	sourcesFile := filepath.Join(dir, "sources.yaml")
	if err := os.WriteFile(sourcesFile, []byte(`sources:
  - name: bank-main
    provider: bankstatement
    iban: IR062960000000100324200001
    dir: `+statements+`
    feeds: { statements: "@every 15m" }
`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"DATABASE_URL": dbURL, "KAFKA_BROKERS": strings.Join(kcfg.Brokers, ","), "MIZAN_TOPIC_PREFIX": kcfg.TopicPrefix,
		"MIZAN_SOURCES": sourcesFile, "MIZAN_SECRET_KEY": strings.Repeat("k", 32),
		"MIZAN_SIGNING_KEYS":    "k1:" + strings.Repeat("s", 32),
		"MIZAN_PUSHGATEWAY_URL": strings.Replace(gateway.URL, "http://", "http://ops:pushs3cret@", 1),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, logs strings.Builder
	if err := run(ctx, []string{"once", "--source", "bank-main"}, func(k string) string { return env[k] }, &out, &logs); err != nil {
		t.Fatalf("once: %v\n%s", err, logs.String())
	}
	mu.Lock()
	defer mu.Unlock()
	// The client base64-encodes a grouping value holding a slash (the path segment gets "@base64").
	if path != "PUT /metrics/job/mizan-poller/instance@base64/YmFuay1tYWluL2FsbA" || auth != "ops:pushs3cret" {
		t.Errorf("pushed to %q with auth %q", path, auth)
	}
	if v := pushed["mizan_poller_last_success_timestamp_seconds{feed=statements,source=bank-main}"]; v < float64(time.Now().Add(-time.Hour).Unix()) {
		t.Errorf("pushed last success %v, want the run's time", v)
	}
	if v, ok := pushed["mizan_poller_last_poll_failed{feed=statements,source=bank-main}"]; !ok || v != 0 {
		t.Errorf("pushed last_poll_failed %v (present %v), want 0", v, ok)
	}
	if _, ok := pushed["mizan_poller_events_published_total{topic="+kcfg.TopicPrefix+"mizan.bank.v1}"]; !ok {
		t.Errorf("the push does not name the topic in full: %v", pushed)
	}
	for key := range pushed {
		if strings.HasPrefix(key, "mizan_reconciler_") || strings.HasPrefix(key, "mizan_slack_") {
			t.Errorf("the poller pushed %s", key)
		}
	}
	if strings.Contains(logs.String(), "pushs3cret") {
		t.Errorf("the password reached the logs:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "metrics pushed to the Pushgateway") {
		t.Errorf("the push is not logged:\n%s", logs.String())
	}
}

// `poller run` (a Deployment) started while PostgreSQL is away waits for it, not ready and saying why, instead
// of exiting into a restart loop; `poller once` (a CronJob's run, which the Job retries) exits 1.
func TestRunWaitsForPostgreSQLInsteadOfExiting(t *testing.T) {
	t.Parallel()
	kcfg := kafkatest.Config(t)
	dir := t.TempDir()
	sourcesFile := filepath.Join(dir, "sources.yaml")
	if err := os.WriteFile(sourcesFile, []byte(`sources:
  - name: bank-main
    provider: bankstatement
    iban: IR062960000000100324200001
    dir: `+dir+`
    feeds: { statements: "@every 15m" }
`), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := clitest.FreeAddr(t)
	env := map[string]string{
		"DATABASE_URL":  "postgres://mizan@" + clitest.FreeAddr(t) + "/mizan?sslmode=disable&connect_timeout=2",
		"KAFKA_BROKERS": strings.Join(kcfg.Brokers, ","), "MIZAN_TOPIC_PREFIX": kcfg.TopicPrefix,
		"MIZAN_SOURCES": sourcesFile, "MIZAN_SECRET_KEY": strings.Repeat("k", 32),
		"MIZAN_SIGNING_KEYS": "k1:" + strings.Repeat("s", 32), "MIZAN_HTTP_ADDR": addr,
	}
	getenv := func(k string) string { return env[k] }
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"run"}, getenv, io.Discard, io.Discard) }()
	status, body := clitest.FirstAnswer(t, "http://"+addr+"/readyz", done)
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "postgres") {
		t.Fatalf("/readyz with PostgreSQL away: %d %q", status, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("stopped while waiting for PostgreSQL: %v", err)
	}

	env["MIZAN_HTTP_ADDR"] = "off"
	err := run(t.Context(), []string{"once"}, getenv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "connect to PostgreSQL (DATABASE_URL)") {
		t.Fatalf("poller once with PostgreSQL away: %v", err)
	}
}
