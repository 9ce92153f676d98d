package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/mizanhq/mizan/internal/cli/clitest"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka/kafkatest"
	"github.com/mizanhq/mizan/internal/pgtest"
	"github.com/mizanhq/mizan/internal/reconciler"
)

// exitCode is the status main exits with for err.
func exitCode(err error) int {
	var coded interface{ ExitCode() int }
	if errors.As(err, &coded) {
		return coded.ExitCode()
	}
	if err != nil {
		return 1
	}
	return 0
}

// The exit codes an operator's job sees: alerts Slack would not take (4), dead letters that still fail to
// replay (6), a database the binary was not built for (3).
func TestTheCommandsExitWithTheDocumentedCodes(t *testing.T) {
	t.Parallel()
	_, dbURL := pgtest.NewDB(t)
	kcfg := kafkatest.Config(t)
	// A transport of its own: kafka-go's shared default one caches the cluster's metadata for seconds, and on a
	// real broker a topic created since (this test's) is then "unknown" to it.
	transport := &kafkago.Transport{}
	defer transport.CloseIdleConnections()
	w := &kafkago.Writer{Addr: kafkago.TCP(kcfg.Brokers...), Topic: kcfg.Topic(events.TopicStatement),
		BatchTimeout: 5 * time.Millisecond, RequiredAcks: kafkago.RequireAll, Transport: transport}
	if err := w.WriteMessages(context.Background(), kafkago.Message{Key: []byte("vandar/acme"), Value: []byte(`{"not":"an event"}`)}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "invalid_payload", http.StatusBadRequest) // refused for good
	}))
	t.Cleanup(slack.Close)
	env := map[string]string{
		"DATABASE_URL": dbURL, "KAFKA_BROKERS": strings.Join(kcfg.Brokers, ","), "MIZAN_TOPIC_PREFIX": kcfg.TopicPrefix,
		"MIZAN_CONSUMER_GROUP": kafkatest.Group(t), "SLACK_WEBHOOK_URL": slack.URL, "MIZAN_HTTP_ADDR": "off",
		"MIZAN_APPLY_WORKERS": "3", "KAFKA_SESSION_TIMEOUT": "6s",
		"MIZAN_SIGNING_KEYS": "k1:" + strings.Repeat("s", 32),
	}
	getenv := func(k string) string { return env[k] }
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, logs strings.Builder

	err := run(ctx, []string{"run", "--until-idle"}, getenv, &out, &logs)
	if exitCode(err) != reconciler.ExitUndelivered || !strings.Contains(out.String(), "1 dead letters") ||
		!strings.Contains(out.String(), "1 not yet delivered to Slack") {
		t.Fatalf("run: %v (exit %d)\n%s", err, exitCode(err), out.String())
	}

	out.Reset()
	if err := run(ctx, []string{"dlq", "list", "--since", "1h"}, getenv, &out, &logs); err != nil ||
		!strings.Contains(out.String(), "malformed") || !strings.Contains(out.String(), "1 dead letters") {
		t.Fatalf("dlq list: %v\n%s", err, out.String())
	}
	out.Reset()
	err = run(ctx, []string{"dlq", "replay"}, getenv, &out, &logs)
	if exitCode(err) != reconciler.ExitDeadLetters || !strings.Contains(out.String(), "still fails") {
		t.Fatalf("dlq replay: %v (exit %d)\n%s", err, exitCode(err), out.String())
	}
	if err := run(ctx, []string{"dlq", "replay", "--id", "x"}, getenv, &out, &logs); err == nil || exitCode(err) != 1 {
		t.Fatalf("dlq replay --id x: %v", err)
	}

	env["DATABASE_URL"] = pgtest.NewEmptyDB(t)
	out.Reset()
	err = run(ctx, []string{"run", "--until-idle"}, getenv, &out, &logs)
	if exitCode(err) != reconciler.ExitEnvironment || !strings.Contains(err.Error(), "the database is at 0") {
		t.Fatalf("run on an unmigrated database: %v (exit %d)", err, exitCode(err))
	}
}

func TestSinceIsATimeOrADurationBack(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"":                     {},
		"24h":                  now.Add(-24 * time.Hour),
		"2026-12-01T00:00:00Z": time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
	} {
		if got, err := parseSince(in, now); err != nil || !got.Equal(want) {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	if _, err := parseSince("yesterday", now); err == nil {
		t.Error("yesterday was accepted")
	}
}

// PostgreSQL away when a long-running reconciler starts (a failover, a cluster still starting) is no reason to
// exit: Kubernetes would restart it in a loop. It stays up, not ready, saying why; a Ctrl-C then is a clean
// stop. An --until-idle run, a batch job, exits 1.
func TestALongRunWaitsForPostgreSQLInsteadOfExiting(t *testing.T) {
	t.Parallel()
	kcfg := kafkatest.Config(t)
	addr := clitest.FreeAddr(t)
	env := map[string]string{
		"DATABASE_URL":  "postgres://mizan@" + clitest.FreeAddr(t) + "/mizan?sslmode=disable&connect_timeout=2",
		"KAFKA_BROKERS": strings.Join(kcfg.Brokers, ","), "MIZAN_TOPIC_PREFIX": kcfg.TopicPrefix,
		"MIZAN_CONSUMER_GROUP": kafkatest.Group(t), "MIZAN_HTTP_ADDR": addr,
		"MIZAN_SIGNING_KEYS": "k1:" + strings.Repeat("s", 32),
	}
	getenv := func(k string) string { return env[k] }
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	var out, logs syncBuilder
	go func() { done <- run(ctx, []string{"run"}, getenv, &out, &logs) }()
	status, body := clitest.FirstAnswer(t, "http://"+addr+"/readyz", done)
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "postgres") {
		t.Fatalf("/readyz with PostgreSQL away: %d %q", status, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("stopped while waiting for PostgreSQL: %v\n%s", err, logs.String())
	}

	short, stop := context.WithTimeout(t.Context(), time.Minute)
	defer stop()
	env["MIZAN_HTTP_ADDR"] = "off"
	if err := run(short, []string{"run", "--until-idle"}, getenv, &out, &logs); exitCode(err) != 1 ||
		!strings.Contains(err.Error(), "connect to PostgreSQL (DATABASE_URL)") {
		t.Fatalf("--until-idle with PostgreSQL away: %v (exit %d)", err, exitCode(err))
	}
}

// syncBuilder is a strings.Builder a command running in another goroutine may write to.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
