package metrics

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/kafka/kafkatest"
	"github.com/mizanhq/mizan/internal/pgtest"
)

// testCtx bounds a test's waits so that a broken test fails instead of hanging; it asserts nothing about time.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// get requests path from h and returns the status and body.
func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if cc := rec.Header().Get("Cache-Control"); path != "/metrics" && cc != "no-store" {
		t.Errorf("%s: Cache-Control %q", path, cc)
	}
	return rec.Code, rec.Body.String()
}

func TestHealthzIsOKWhateverReadinessSays(t *testing.T) {
	t.Parallel()
	h := Handler(NewPoller(Build{}).Registry, func(context.Context) error { return errors.New("database down") }, nil)
	if code, body := get(t, h, "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
}

func TestReadyzAnswersOKOrTheReason(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	var failing error
	h := Handler(NewPoller(Build{}).Registry, func(context.Context) error { return failing }, log)

	if code, body := get(t, h, "/readyz"); code != http.StatusOK || body != "ok\n" {
		t.Fatalf("ready: %d %q", code, body)
	}
	failing = errors.New("postgres: connection refused")
	for range 3 {
		code, body := get(t, h, "/readyz")
		if code != http.StatusServiceUnavailable || body != "not ready: postgres: connection refused\n" {
			t.Fatalf("not ready: %d %q", code, body)
		}
	}
	failing = nil
	if code, _ := get(t, h, "/readyz"); code != http.StatusOK {
		t.Fatalf("ready again: %d", code)
	}
	// One line per change, not one per probe.
	if n := strings.Count(logs.String(), `msg="not ready"`); n != 1 {
		t.Errorf("logged not ready %d times for one change:\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), "msg=ready"); n != 2 {
		t.Errorf("logged ready %d times for two changes:\n%s", n, logs.String())
	}
}

func TestReadyzWithoutACheckIsReady(t *testing.T) {
	t.Parallel()
	if code, _ := get(t, Handler(NewPoller(Build{}).Registry, nil, nil), "/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz with no check: %d", code)
	}
}

// A check that hangs, even one that ignores its context, makes /readyz answer 503 when the timeout passes
// instead of holding the probe.
func TestReadyzGivesUpOnAHangingCheck(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	h := &readyHandler{
		ready:   func(context.Context) error { <-release; return nil }, // ignores its context
		timeout: time.Millisecond,
		log:     slog.New(slog.DiscardHandler),
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "did not finish") {
		t.Fatalf("%d %q", rec.Code, rec.Body)
	}
}

// Ready passes only when every check does, reports every failure, and runs the checks at the same time (so
// that one slow dependency does not use up the others' time).
func TestReadyCombinesChecks(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	ok := func(context.Context) error { return nil }
	if err := Ready()(ctx); err != nil {
		t.Fatalf("no checks: %v", err)
	}
	if err := Ready(ok, ok)(ctx); err != nil {
		t.Fatalf("all pass: %v", err)
	}
	errPG, errKafka := errors.New("postgres: down"), errors.New("kafka: down")
	err := Ready(func(context.Context) error { return errPG }, ok, func(context.Context) error { return errKafka })(ctx)
	if !errors.Is(err, errPG) || !errors.Is(err, errKafka) || err.Error() != "postgres: down\nkafka: down" {
		t.Fatalf("got %q, want both failures in order", err)
	}

	// Each check waits for the other to have started: only concurrent checks finish.
	aStarted, bStarted := make(chan struct{}), make(chan struct{})
	wait := func(mine, other chan struct{}) func(context.Context) error {
		return func(ctx context.Context) error {
			close(mine)
			select {
			case <-other:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	if err := Ready(wait(aStarted, bStarted), wait(bStarted, aStarted))(ctx); err != nil {
		t.Fatalf("checks did not run concurrently: %v", err)
	}
}

// Serve serves until its context is done, then shuts down and returns nil.
func TestServeStopsGracefully(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(testCtx(t))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reg := NewReconciler(Build{}, Known{})
	reg.EntriesPosted.Inc()
	served := make(chan error, 1)
	go func() { served <- ServeListener(ctx, ln, reg.Registry, nil, nil) }()

	base := "http://" + ln.Addr().String()
	for path, want := range map[string]string{"/healthz": "ok\n", "/readyz": "ok\n", "/metrics": "mizan_ledger_entries_posted_total 1"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Fatalf("%s: %d %q", path, resp.StatusCode, body)
		}
	}
	if resp, err := http.Post(base+"/healthz", "text/plain", nil); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /healthz: %v %v", resp, err)
	}

	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve after cancel: %v", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}

func TestServeReportsAnAddressItCannotUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = Serve(testCtx(t), ln.Addr().String(), NewPoller(Build{}).Registry, nil, nil)
	if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Fatalf("got %v, want an error naming the address in use", err)
	}
}

// PostgresCheck passes against a live database and fails, without the password, against one it cannot reach.
func TestPostgresCheck(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	pool, err := pgxpool.New(ctx, pgtest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := PostgresCheck(pool)(ctx); err != nil {
		t.Fatalf("live database: %v", err)
	}

	const password = "pg-pw-never-shown-77"
	dead, err := pgxpool.New(ctx, "postgres://mizan:"+password+"@127.0.0.1:1/mizan?sslmode=disable&connect_timeout=5")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dead.Close)
	code, body := get(t, Handler(NewPoller(Build{}).Registry, Ready(PostgresCheck(pool), PostgresCheck(dead)), nil), "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "postgres: ") {
		t.Fatalf("unreachable database: %d %q", code, body)
	}
	if strings.Contains(body, password) {
		t.Fatalf("the reason shows the password: %q", body)
	}
	t.Logf("as expected: %s", body)
}

// KafkaCheck passes against a live broker with its topics, and fails, naming the cause and never the
// password, when a topic is missing or the credentials are refused.
func TestKafkaCheck(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	cfg := kafkatest.Config(t)
	if err := KafkaCheck(cfg)(ctx); err != nil {
		t.Fatalf("brokers only: %v", err)
	}
	if err := KafkaCheck(cfg, events.AllTopics...)(ctx); err != nil {
		t.Fatalf("existing topics: %v", err)
	}
	err := KafkaCheck(cfg, events.TopicStatement, "no.such.topic")(ctx)
	if err == nil || !strings.HasPrefix(err.Error(), "kafka") || !strings.Contains(err.Error(), "no.such.topic") {
		t.Fatalf("missing topic: %v", err)
	}

	const password = "kafka-pw-never-shown-42"
	bad := cfg
	bad.Security = kafka.Security{SASL: kafka.SASL{Mechanism: kafka.SASLScramSHA256, Username: "mizan", Password: password}}
	code, body := get(t, Handler(NewPoller(Build{}).Registry, Ready(KafkaCheck(bad)), nil), "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "not ready: kafka") {
		t.Fatalf("refused credentials: %d %q", code, body)
	}
	if strings.Contains(body, password) {
		t.Fatalf("the reason shows the password: %q", body)
	}
	t.Logf("as expected: %s", body)
}
