package alerts_test

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mizanhq/mizan/internal/alerts"
	"github.com/mizanhq/mizan/internal/alerts/slacktest"
	"github.com/mizanhq/mizan/internal/pgtest"
)

// An acknowledgement reaches Slack once, as a message of its own after the alert's (an incoming webhook
// cannot reply in a thread), naming the alert, who acknowledged it and their note — also when Slack fails
// the first time.
func TestAnAcknowledgementIsAnnouncedOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := pgtest.NewDB(t)
	sink := slacktest.New(nil)
	defer sink.Close()
	var logs bytes.Buffer
	d := dispatcher(pool, sink.URL, &logs)
	ack := func(key, note string) (id int64, who string) {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT id, session_user::text FROM recon.alerts WHERE dedup_key = $1`, key).Scan(&id, &who); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `SELECT recon.acknowledge_alert($1, $2)`, id, note); err != nil {
			t.Fatal(err)
		}
		return id, who
	}
	texts := func() []string {
		var out []string
		for _, m := range sink.Messages() {
			out = append(out, m.Text)
		}
		return out
	}

	// Acknowledged before Slack has heard of the alert: the alert's message goes first, then the acknowledgement.
	record(t, pool, mismatch("early"))
	early, who := ack("early", "seen it in the dashboard")
	if undelivered, err := d.Deliver(ctx); err != nil || undelivered != 0 {
		t.Fatalf("undelivered %d, err %v", undelivered, err)
	}
	if got := texts(); len(got) != 2 || !strings.Contains(got[0], "on early") || !strings.HasPrefix(got[1], "[ACKNOWLEDGED]") {
		t.Fatalf("messages %q; want the alert, then its acknowledgement", got)
	}

	// Slack fails the acknowledgement of an announced alert (500, every try): it stays in the outbox, with
	// an error that does not quote the webhook, and goes out once on the next round.
	record(t, pool, mismatch("later"))
	if _, err := d.Deliver(ctx); err != nil {
		t.Fatal(err)
	}
	later, _ := ack("later", "Vandar ticket 8812 opened")
	sink.Fail(slacktest.Fault{Status: 500}, slacktest.Fault{Status: 500}, slacktest.Fault{Status: 500})
	if undelivered, err := d.Deliver(ctx); err != nil || undelivered != 1 {
		t.Fatalf("while Slack fails: undelivered %d, err %v; want the acknowledgement undelivered", undelivered, err)
	}
	var attempts int
	var lastErr *string
	if err := pool.QueryRow(ctx, `SELECT delivery_attempts, last_delivery_error FROM recon.alert_acknowledgements WHERE alert_id = $1`,
		later).Scan(&attempts, &lastErr); err != nil || attempts != 1 || lastErr == nil || strings.Contains(*lastErr, "T000/B000") {
		t.Errorf("after a failed delivery: attempts %d, error %v (%v); want 1, and an error without the webhook URL", attempts, lastErr, err)
	}
	for range 2 {
		if undelivered, err := d.Deliver(ctx); err != nil || undelivered != 0 {
			t.Fatalf("undelivered %d, err %v", undelivered, err)
		}
	}

	var acks []slacktest.Message
	for _, m := range sink.Messages() {
		if strings.HasPrefix(m.Text, "[ACKNOWLEDGED]") {
			acks = append(acks, m)
		}
	}
	if len(sink.Messages()) != 4 || len(acks) != 2 {
		t.Fatalf("messages %q; want two alerts and one acknowledgement of each", texts())
	}
	blocks := string(acks[1].Blocks)
	id := strconv.FormatInt(later, 10)
	for _, want := range []string{"Acknowledged", who, "Vandar ticket 8812 opened", "vandar/acme/wallet/IRT", "drift of 42 IRT on later",
		"Alert #" + id, "analytics.open_alerts WHERE id = " + id} {
		if !strings.Contains(blocks, want) {
			t.Errorf("the acknowledgement message lacks %q:\n%s", want, blocks)
		}
	}
	var unsent int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM recon.alert_acknowledgements WHERE sent_at IS NULL AND alert_id IN ($1, $2)`,
		early, later).Scan(&unsent); err != nil || unsent != 0 {
		t.Errorf("%d acknowledgements not marked sent, %v", unsent, err)
	}
}

func TestAcknowledgementMessage(t *testing.T) {
	t.Parallel()
	m := alerts.AcknowledgementMessage(7, "balance_mismatch", "critical", "vandar/acme/wallet", "Vandar reports 48000 more",
		time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), "sara", "line one\nline two", time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC))
	raw, _ := m.Blocks.MarshalJSON()
	for _, want := range []string{"*sara* acknowledged the CRITICAL alert on `vandar/acme/wallet`", `\u003e line one\n\u003e line two`,
		"Alert #7 · acknowledged 2026-10-01T08:00:00Z"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("blocks lack %q: %s", want, raw)
		}
	}
	if !strings.HasPrefix(m.Text, "[ACKNOWLEDGED] balance_mismatch: Vandar reports 48000 more — sara: line one") {
		t.Errorf("fallback text %q", m.Text)
	}
}
