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
