package reconciler_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/metrics"
	"github.com/mizanhq/mizan/internal/reconciler"
)

// injectFault makes every insert into recon.processed_events fail with SQLSTATE code while the returned
// switch is on: an infrastructure failure (40001 serialization failure) the test controls, with PostgreSQL
// itself up, so that what the reconciler records outside the failing batch can be seen.
func (b *bundle) injectFault(code string) (off func()) {
	b.t.Helper()
	b.exec(`CREATE TABLE public.fault (active boolean NOT NULL)`)
	b.exec(`INSERT INTO public.fault VALUES (true)`)
	b.exec(fmt.Sprintf(`CREATE FUNCTION public.fail_inserts() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF (SELECT active FROM public.fault) THEN
				RAISE EXCEPTION 'injected failure' USING ERRCODE = '%s';
			END IF;
			RETURN NULL;
		END $$`, code))
	b.exec(`CREATE TRIGGER fault BEFORE INSERT ON recon.processed_events FOR EACH STATEMENT EXECUTE FUNCTION public.fail_inserts()`)
	return func() { b.exec(`UPDATE public.fault SET active = false`) }
}

// An infrastructure failure is retried with backoff; past StallAfter the process is not ready and a stalled
// alert — recorded in a transaction of its own, since the batch cannot commit — reaches Slack, while the lag
// gauge keeps moving. When the failure clears, everything applies and the alert resolves.
func TestAnInfrastructureFailureIsRetriedAndItsStallReachesSlack(t *testing.T) {
	t.Parallel()
	b := setup(t)
	off := b.injectFault("40001")
	b.publish(event(t, item("1", 1_000, 0, 1_000)), event(t, item("2", 500, 0, 1_500)))
	reg := metrics.NewReconciler(metrics.Build{}, metrics.Known{})
	// StallAfter of a nanosecond: the first failure is a stall, so nothing here waits on the wall clock.
	r, _ := b.reconciler(reconciler.Config{Metrics: reg, StallAfter: time.Nanosecond, RetryMax: 50 * time.Millisecond,
		LagEvery: 20 * time.Millisecond, DeliverEvery: 20 * time.Millisecond}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, false) }()

	eventually(t, "a stalled alert delivered to Slack", func() bool {
		got := b.alerts("stalled")
		return len(got) == 1 && got[0].Sent && !got[0].Resolved
	})
	msgs := b.slack.Messages()
	if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "stalled") || !strings.Contains(msgs[0].Text, "infrastructure") {
		t.Fatalf("Slack: %+v", msgs)
	}
	if err := r.Ready(ctx); err == nil || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("ready while stalled: %v", err)
	}
	eventually(t, "the lag gauge shows the 2 messages waiting while the batch is retried", func() bool {
		return strings.Contains(scrape(t, reg), "mizan_reconciler_stalled 1") && lagGauge(t, reg) == 2
	})
	if n := b.count(`SELECT count(*) FROM ledger.entries`); n != 0 {
		t.Fatalf("%d entries while failing", n)
	}

	off()
	eventually(t, "applied, the alert resolved and ready again", func() bool {
		got := b.alerts("stalled")
		return b.count(`SELECT count(*) FROM ledger.entries`) == 2 && len(got) == 1 && got[0].Resolved &&
			r.Ready(ctx) == nil && lagGauge(t, reg) == 0
	})
	if v := value(t, reg.ApplyFailures.WithLabelValues("infrastructure")); v < 1 {
		t.Fatalf("%v infrastructure failures counted", v)
	}
	if v := value(t, reg.ApplyFailures.WithLabelValues("message")); v != 0 {
		t.Fatalf("an infrastructure failure was taken for the messages' fault %v times", v)
	}
	if !strings.Contains(scrape(t, reg), "mizan_reconciler_last_applied_timestamp_seconds{") {
		t.Fatal("no last-applied timestamp")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d := b.deadLetters(); len(d) != 0 {
		t.Fatalf("dead letters: %+v", d)
	}
}

// An --until-idle run gives up on a stall past StallAfter with its own exit code.
func TestAnUntilIdleRunStalledPastItsBoundExitsWithItsCode(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.injectFault("08006") // connection failure
	b.publish(event(t, item("1", 1_000, 0, 1_000)))
	r, c := b.reconciler(reconciler.Config{StallAfter: time.Nanosecond}, nil)
	err := untilIdle(t, r)
	var stalled *reconciler.StalledError
	if !errors.As(err, &stalled) || stalled.ExitCode() != reconciler.ExitStalled {
		t.Fatalf("run: %v", err)
	}
	if l := lag(t, c); l != 1 {
		t.Fatalf("lag %d", l)
	}
	if got := b.alerts("stalled"); len(got) != 1 || !got[0].Sent {
		t.Fatalf("stalled alerts: %+v", got)
	}
}

// `reconciler run --until-idle` exited 0 when alerts could not be delivered; now it fails with its own code.
func TestUndeliveredAlertsEndAnUntilIdleRunWithTheirExitCode(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.slack.Close() // Slack is unreachable
	b.publishRaw("vandar/acme", []byte(`{"specversion":"1.0","id":`))
	r, c := b.reconciler(reconciler.Config{}, nil)
	err := untilIdle(t, r)
	var undelivered *reconciler.UndeliveredError
	if !errors.As(err, &undelivered) || undelivered.Undelivered != 1 || undelivered.ExitCode() != reconciler.ExitUndelivered {
		t.Fatalf("run: %v", err)
	}
	if l := lag(t, c); l != 0 {
		t.Fatalf("lag %d: the messages were applied, only Slack is missing", l)
	}
	if got := b.alerts("dead_letter"); len(got) != 1 || got[0].Sent {
		t.Fatalf("alerts: %+v", got)
	}
}

// A dead-letter topic that refuses the copies never holds up consumption: the letters are rows, and the copies
// go out later.
func TestADeadLetterTopicThatRefusesNeverHoldsUpConsumption(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.publishRaw("vandar/acme", []byte(`not json`))
	b.publish(event(t, item("1", 1_000, 0, 1_000)))
	reg := metrics.NewReconciler(metrics.Build{}, metrics.Known{})
	failing := &flakyPublisher{Publisher: b.pub}
	failing.fail.Store(true)
	r, c := b.reconcilerWith(reconciler.Config{Metrics: reg}, failing)
	if err := untilIdle(t, r); err != nil {
		t.Fatal(err)
	}
	if l := lag(t, c); l != 0 || b.count(`SELECT count(*) FROM ledger.entries`) != 1 {
		t.Fatalf("lag %d", l)
	}
	d := b.deadLetters()
	if len(d) != 1 || d[0].Published || value(t, reg.DeadLetterPublishFailures) < 1 {
		t.Fatalf("dead letters %+v, publish failures %v", d, value(t, reg.DeadLetterPublishFailures))
	}
	// The gauges were last refreshed by the run's final checks, before its alerts went to Slack: the dead
	// letter's alert open, and not delivered yet.
	out := scrape(t, reg)
	for _, want := range []string{`mizan_alerts_open{kind="dead_letter",severity="critical"} 1`, "mizan_alerts_undelivered 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("the scrape lacks %s", want)
		}
	}
	// The next run copies what the last could not.
	failing.fail.Store(false)
	c.Close()
	r, _ = b.reconcilerWith(reconciler.Config{}, failing)
	if err := untilIdle(t, r); err != nil {
		t.Fatal(err)
	}
	if cp := b.dlqCopies(1); cp[0].Reason == "" || cp[0].ReasonCode != reconciler.CodeMalformed {
		t.Fatalf("copy %+v", cp[0])
	}
	if d := b.deadLetters(); !d[0].Published {
		t.Fatal("not marked published")
	}
}

type flakyPublisher struct {
	*kafka.Publisher
	fail atomic.Bool
}

func (p *flakyPublisher) Publish(ctx context.Context, topic string, evs []events.Event) error {
	if p.fail.Load() {
		return errors.New("broker refuses (test)")
	}
	return p.Publisher.Publish(ctx, topic, evs)
}

// reconcilerWith is reconciler with a dead-letter publisher of the test's.
func (b *bundle) reconcilerWith(cfg reconciler.Config, pub reconciler.Publisher) (*reconciler.Reconciler, *kafka.Consumer) {
	b.t.Helper()
	_, c := b.reconciler(cfg, nil)
	cfg.Group = "g-" + strings.ReplaceAll(b.t.Name(), "/", "-")
	cfg.IdleAfter = 300 * time.Millisecond
	return reconciler.New(cfg, b.pool, c, pub, b.log), c
}

func scrape(t *testing.T, reg *metrics.Reconciler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	reg.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	return string(body)
}

// lagGauge sums the consumer lag gauge over partitions.
func lagGauge(t *testing.T, reg *metrics.Reconciler) float64 {
	t.Helper()
	var sum float64
	for _, line := range bytes.Split([]byte(scrape(t, reg)), []byte("\n")) {
		if !bytes.HasPrefix(line, []byte("mizan_reconciler_consumer_lag{")) {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(string(line[bytes.LastIndexByte(line, ' ')+1:]), &v); err == nil {
			sum += v
		}
	}
	return sum
}

// SoftStop bounds only the finishing of a batch once shutdown is asked for, never the retries before it: a
// PostgreSQL outage longer than SoftStop is retried until it clears, and then the batch applies. (An earlier
// reconciler bounded every retry of a batch by SoftStop, so after it every attempt failed at once with a
// context deadline, forever.) Once shutdown is asked for, a batch still failing is given up within SoftStop,
// its offsets not committed.
func TestRetriesOutliveSoftStopWhichOnlyBoundsShutdown(t *testing.T) {
	t.Parallel()
	b := setup(t)
	off := b.injectFault("57P01") // admin shutdown: a failover
	b.publish(event(t, item("1", 1_000, 0, 1_000)), event(t, item("2", 500, 0, 1_500)))
	reg := metrics.NewReconciler(metrics.Build{}, metrics.Known{})
	// A SoftStop of a nanosecond: had it bounded the retries, every attempt after the first would fail on a
	// context deadline, whatever the test waits for.
	r, c := b.reconciler(reconciler.Config{Metrics: reg, SoftStop: time.Nanosecond, RetryMax: 20 * time.Millisecond}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, false) }()
	eventually(t, "several attempts failing on the outage", func() bool {
		return value(t, reg.ApplyFailures.WithLabelValues("infrastructure")) >= 4
	})
	off()
	eventually(t, "applied once the outage is over", func() bool {
		return b.count(`SELECT count(*) FROM ledger.entries WHERE idempotency_key LIKE 'vandar:acme:statement:%'`) == 2 &&
			lag(t, c) == 0
	})
	if strings.Contains(b.logs.String(), "context deadline exceeded") {
		t.Fatal("an attempt failed on a context deadline: SoftStop bounded a retry")
	}

	// Shutdown while a batch fails: Run gives it up and returns; the batch's offsets stay uncommitted.
	failed := value(t, reg.ApplyFailures.WithLabelValues("infrastructure"))
	b.exec(`UPDATE public.fault SET active = true`)
	b.publish(event(t, item("3", 100, 0, 1_600)))
	eventually(t, "the next batch failing", func() bool {
		return value(t, reg.ApplyFailures.WithLabelValues("infrastructure")) > failed
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if l := lag(t, c); l != 1 {
		t.Fatalf("lag %d after shutdown, want the failing message still to read", l)
	}
}
