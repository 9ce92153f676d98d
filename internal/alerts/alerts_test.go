package alerts_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/alerts"
	"github.com/mizanhq/mizan/internal/alerts/slacktest"
	"github.com/mizanhq/mizan/internal/checks"
	"github.com/mizanhq/mizan/internal/pgtest"
)

func mismatch(key string) checks.Result {
	diff := decimal.NewFromInt(42)
	return checks.Result{Check: checks.CheckBalance, Subject: "vandar/acme/wallet/IRT", Outcome: checks.Mismatch,
		DedupKey: key, Severity: checks.SeverityCritical, Summary: "drift of 42 IRT on " + key, Difference: &diff}
}

func record(t *testing.T, pool *pgxpool.Pool, rs ...checks.Result) int {
	t.Helper()
	var opened int
	err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		var err error
		opened, err = alerts.Record(context.Background(), tx, rs)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return opened
}

func dispatcher(pool *pgxpool.Pool, url string, logs *bytes.Buffer) *alerts.Dispatcher {
	return alerts.NewDispatcher(alerts.DispatcherConfig{WebhookURL: url, PerSecond: 1000, Attempts: 3,
		Sleep: func(context.Context, time.Duration) error { return nil }}, pool, slog.New(slog.NewTextHandler(logs, nil)))
}

func TestTheSameMismatchIsOneAlertUntilItResolves(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewDB(t)
	if n := record(t, pool, mismatch("k1")); n != 1 {
		t.Fatalf("opened %d", n)
	}
	if n := record(t, pool, mismatch("k1"), mismatch("k1")); n != 0 {
		t.Fatalf("the same mismatch opened %d more", n)
	}
	record(t, pool, checks.Result{Check: checks.CheckBalance, Subject: "vandar/acme/wallet/IRT", Outcome: checks.OK, DedupKey: "k1"})
	if n := record(t, pool, mismatch("k1")); n != 1 {
		t.Fatal("a mismatch after the resolution is a new alert")
	}
	var results int
	pool.QueryRow(context.Background(), `SELECT count(*) FROM recon.check_results`).Scan(&results)
	if results != 5 {
		t.Fatalf("%d check results, want every evaluation recorded (5)", results)
	}
}

func TestRejectedMessagesStayUndeliveredAndTheURLNeverLeaks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := pgtest.NewDB(t)
	sink := slacktest.New(nil)
	defer sink.Close()
	record(t, pool, mismatch("a"), mismatch("b"))
	sink.Fail(slacktest.Fault{Status: 404}) // channel_not_found for the first
	var logs bytes.Buffer
	d := dispatcher(pool, sink.URL, &logs)
	undelivered, err := d.Deliver(ctx)
	if err != nil || undelivered != 1 {
		t.Fatalf("undelivered %d, err %v", undelivered, err)
	}
	if !strings.Contains(logs.String(), "channel_not_found") {
		t.Errorf("Slack's reason is not logged: %s", logs.String())
	}
	if strings.Contains(logs.String(), "T000/B000") {
		t.Error("the webhook URL appears in the logs")
	}
	// The rejected one is not lost: the next round delivers it, after the other.
	if undelivered, _ := d.Deliver(ctx); undelivered != 0 {
		t.Fatalf("still %d undelivered", undelivered)
	}
	msgs := sink.Messages()
	if len(msgs) != 2 || !strings.Contains(msgs[0].Text, "on b") || !strings.Contains(msgs[1].Text, "on a") {
		t.Fatalf("messages %+v", msgs)
	}
	// Nothing is sent twice.
	d.Deliver(ctx)
	if len(sink.Messages()) != 2 {
		t.Fatal("sent again")
	}
	// A dead webhook: the error names no URL.
	sink.Close()
	record(t, pool, mismatch("c"))
	logs.Reset()
	if undelivered, _ := d.Deliver(ctx); undelivered != 1 {
		t.Fatal("a dead webhook delivered")
	}
	if strings.Contains(logs.String(), "T000/B000") || strings.Contains(logs.String(), "services/") {
		t.Errorf("the webhook URL leaks into the logs: %s", logs.String())
	}
}

func TestMessageSaysWhatWhereHowMuchSinceAndTheSQL(t *testing.T) {
	t.Parallel()
	m := alerts.Message("balance", "critical", "vandar/acme/wallet/IRT", "drift", map[string]any{"difference": "42"},
		time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), nil, false)
	if m.Text == "" || m.Blocks == nil || len(m.Blocks.BlockSet) < 4 {
		t.Fatalf("%+v", m)
	}
	raw, _ := m.Blocks.MarshalJSON()
	for _, want := range []string{"*What*", "*Where*", "*How much*\\n42", "*Since*\\n2026-10-01", "recon.check_results"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("blocks lack %q", want)
		}
	}
}

// The dispatcher lock lives as long as the session that took it. When PostgreSQL restarts (or fails over)
// in the middle of a delivery round, the lock goes with the session, and another replica may take it and
// read the same outbox; the first must then stop instead of sending the rest of the list it read before —
// which made the fault suite's Slack receive alerts twice with three reconcilers and PostgreSQL restarts.
// Here the first dispatcher is held in its retry wait (Slack answered 500) while its session is ended, the
// second delivers everything, and the first, let go, sends nothing more.
func TestADispatcherThatLostItsLockSendsNothingMore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := pgtest.NewDB(t)
	sink := slacktest.New(nil)
	defer sink.Close()
	record(t, pool, mismatch("a"), mismatch("b"), mismatch("c"))
	sink.Fail(slacktest.Fault{Status: 500}) // the first message: retried after a wait the test holds

	waiting, release := make(chan struct{}), make(chan struct{})
	var logsA bytes.Buffer
	a := alerts.NewDispatcher(alerts.DispatcherConfig{WebhookURL: sink.URL, PerSecond: 1000, Attempts: 3,
		Sleep: func(ctx context.Context, _ time.Duration) error {
			close(waiting)
			<-release
			return nil
		}}, pool, slog.New(slog.NewTextHandler(&logsA, nil)))
	type result struct {
		undelivered int
		err         error
	}
	done := make(chan result, 1)
	go func() {
		n, err := a.Deliver(ctx)
		done <- result{n, err}
	}()
	<-waiting
	// A restart, as far as the lock is concerned: the session holding it ends (waiting until it has).
	var ended bool
	if err := pool.QueryRow(ctx, `SELECT pg_terminate_backend(pid, 60000) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).
		Scan(&ended); err != nil || !ended {
		t.Fatalf("end the lock holder's session: %v %v", ended, err)
	}
	var logsB bytes.Buffer
	if n, err := dispatcher(pool, sink.URL, &logsB).Deliver(ctx); err != nil || n != 0 {
		t.Fatalf("the second dispatcher: undelivered %d, err %v\n%s", n, err, logsB.String())
	}
	close(release)
	r := <-done
	if r.err == nil || !strings.Contains(r.err.Error(), "lock was lost") {
		t.Fatalf("the first dispatcher's round: undelivered %d, err %v, want it stopped on the lost lock\n%s",
			r.undelivered, r.err, logsA.String())
	}
	count := map[string]int{}
	for _, m := range sink.Messages() {
		for _, k := range []string{"a", "b", "c"} {
			if strings.Contains(m.Text, "drift of 42 IRT on "+k) {
				count[k]++
			}
		}
	}
	if len(sink.Messages()) != 3 || count["a"] != 1 || count["b"] != 1 || count["c"] != 1 {
		t.Fatalf("Slack received %d messages (%v); want each alert exactly once", len(sink.Messages()), count)
	}
}
