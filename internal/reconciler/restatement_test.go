package reconciler_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/metrics"
	"github.com/mizanhq/mizan/internal/reconciler"
)

// A settlement leaves the wallet when it is requested, so its pending and its succeeded report both move the
// wallet and both name one ledger entry. After an outage they arrive in one batch; the ledger used to answer
// "idempotency key reused with different content" and the batch was retried for ever.
func TestPendingAndSucceededVersionsOfOneItemInOneBatchPostOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	opening := item("1", 10_000, 0, 10_000)
	pending := item("2", 3_000, 50, 6_950)
	pending.Kind, pending.Channel, pending.Direction = events.KindSettlement, "settlement", events.DirectionOut
	pending.State, pending.StatusCode = events.StatePending, 0
	succeeded := pending
	succeeded.State, succeeded.StatusCode = events.StateSucceeded, 1
	after := item("3", 1_000, 0, 7_950)
	b.publish(event(t, opening), event(t, pending), event(t, succeeded), event(t, after))

	r, c := b.reconciler(reconciler.Config{}, nil)
	if err := untilIdle(t, r); err != nil {
		t.Fatal(err)
	}
	if n := b.count(`SELECT count(*) FROM ledger.entries WHERE idempotency_key = 'vandar:acme:statement:2'`); n != 1 {
		t.Fatalf("%d entries for item 2, want 1", n)
	}
	if got := b.deadLetters(); len(got) != 0 {
		t.Fatalf("dead letters: %+v", got)
	}
	// The succeeded report was checked as a restatement of the pending one: same amount, fee and direction.
	if n := b.count(`SELECT count(*) FROM recon.check_results WHERE check_name = 'changed_item'
		AND subject = 'vandar/acme/item/2' AND outcome = 'OK'`); n != 1 {
		t.Fatalf("%d OK changed_item evaluations of item 2, want 1", n)
	}
	if n := b.count(`SELECT count(*) FROM recon.alerts`); n != 0 {
		t.Fatalf("%d alerts, want none", n)
	}
	if n := b.count(`SELECT count(*) FROM recon.processed_events`); n != 4 {
		t.Fatalf("%d events applied, want 4", n)
	}
	if l := lag(t, c); l != 0 {
		t.Fatalf("lag %d after the run", l)
	}
	var wallet decimal.Decimal
	if err := b.pool.QueryRow(t.Context(), `SELECT balance FROM ledger.balances WHERE account = 'assets:vandar:acme:wallet'`).
		Scan(&wallet); err != nil {
		t.Fatal(err)
	}
	if !wallet.Equal(decimal.NewFromInt(7_950)) {
		t.Fatalf("wallet %s, want 7950", wallet)
	}
}

// A corrected fee in the same batch as the first report is a changed item, as it would be a batch later.
func TestAFeeCorrectionInOneBatchIsAChangedItemAlert(t *testing.T) {
	t.Parallel()
	b := setup(t)
	first := item("2", 5_000, 100, 4_900)
	corrected := item("2", 5_000, 150, 4_850)
	corrected.StatusCode = 2 // another state: another event id
	b.publish(event(t, first), event(t, corrected))
	r, _ := b.reconciler(reconciler.Config{}, nil)
	if err := untilIdle(t, r); err != nil {
		t.Fatal(err)
	}
	if n := b.count(`SELECT count(*) FROM ledger.entries WHERE idempotency_key = 'vandar:acme:statement:2'
		AND metadata->>'fee' = '100'`); n != 1 {
		t.Fatal("item 2 is not posted once, with the fee first reported")
	}
	got := b.alerts("changed_item")
	if len(got) != 1 || got[0].DedupKey != "changed_item:vandar/acme/item/2" || got[0].Resolved {
		t.Fatalf("changed_item alerts: %+v", got)
	}
	if d := b.deadLetters(); len(d) != 0 {
		t.Fatalf("dead letters: %+v", d)
	}
}

// Messages the database refuses on their own account — an item id longer than a key may be, a NUL byte in a
// text field — are isolated and dead-lettered; the messages around them apply, in order, and no bad message is
// tried more than a few times.
func TestAnItemIDOver1KBAndANULByteAreDeadLetteredAndTheRestApplies(t *testing.T) {
	t.Parallel()
	b := setup(t)
	long := item(strings.Repeat("9", 1500), 100, 0, 1_100)
	nul := item("5", 200, 0, 1_300)
	nul.Channel = "ipg\x00"
	b.publish(event(t, item("1", 1_000, 0, 1_000)), event(t, long), event(t, item("2", 100, 0, 1_100)), event(t, nul),
		event(t, item("3", 200, 0, 1_300)))
	reg := metrics.NewReconciler(metrics.Build{}, metrics.Known{})
	r, c := b.reconciler(reconciler.Config{Metrics: reg}, nil)
	if err := untilIdle(t, r); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"1", "2", "3"} {
		if n := b.count(`SELECT count(*) FROM ledger.entries WHERE idempotency_key = $1`, "vandar:acme:statement:"+id); n != 1 {
			t.Errorf("item %s: %d entries, want 1", id, n)
		}
	}
	if n := b.count(`SELECT count(*) FROM recon.check_results WHERE check_name = 'running_balance' AND outcome <> 'OK'`); n != 0 {
		t.Errorf("%d running-balance breaks among the items that applied", n)
	}
	letters := b.deadLetters()
	if len(letters) != 2 {
		t.Fatalf("%d dead letters, want 2: %+v", len(letters), letters)
	}
	for _, d := range letters {
		if d.ReasonCode != reconciler.CodeRefused || d.Truncated || d.Size != len(d.Original) {
			t.Errorf("dead letter %+v", d)
		}
	}
	if !strings.Contains(letters[0].Reason, "bytes long") || !strings.Contains(letters[1].Reason, "NUL") {
		t.Errorf("reasons: %q, %q", letters[0].Reason, letters[1].Reason)
	}
	// Bisecting 5 messages with 2 at fault: the whole batch, then halves, down to the two alone.
	if n := value(t, reg.ApplyFailures.WithLabelValues("message")); n < 2 || n > 8 {
		t.Errorf("%v message-class failures, want a bisect's few", n)
	}
	if n := value(t, reg.ApplyFailures.WithLabelValues("infrastructure")); n != 0 {
		t.Errorf("%v infrastructure failures: a message fault was retried", n)
	}
	// One alert for the source and reason, delivered to Slack with where the message sits.
	got := b.alerts("dead_letter")
	if len(got) != 1 || got[0].DedupKey != "dead_letter:vandar/acme:refused" || !got[0].Sent {
		t.Fatalf("dead_letter alerts: %+v", got)
	}
	msgs := b.slack.Messages()
	if len(msgs) != 1 || !strings.Contains(msgs[0].Text, b.kafka.Topic(events.TopicStatement)+" partition ") ||
		!strings.Contains(msgs[0].Text, "offset 1") {
		t.Fatalf("Slack: %+v", msgs)
	}
	copies := b.dlqCopies(2)
	for _, cp := range copies {
		if cp.Truncated || cp.ID == 0 || cp.ReasonCode != reconciler.CodeRefused {
			t.Errorf("copy %+v", cp)
		}
	}
	if l := lag(t, c); l != 0 {
		t.Fatalf("lag %d", l)
	}
	eventually(t, "dead letters marked published", func() bool {
		return b.count(`SELECT count(*) FROM recon.dead_letters WHERE published_at IS NULL`) == 0
	})
}

// A poison message of about 950 KB used to make a dead letter (base64 inside an envelope) over the producer's
// 1 MiB limit: the publish failed and the batch was retried for ever. Now the table keeps it whole and the
// topic's copy is cut to fit, saying so.
func TestAMessageOf950KBIsKeptWholeAndItsCopyFitsTheTopic(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var big bytes.Buffer
	fmt.Fprintf(&big, `{"specversion":"1.0","id":"huge-1","source":"/elsewhere","type":"io.mizan.something.v1","time":"2026-09-01T08:00:00Z","data":{"padding":"`)
	big.WriteString(strings.Repeat("x", 950_000))
	big.WriteString(`"}}`)
	b.publishRaw("vandar/acme", big.Bytes())
	b.publish(event(t, item("1", 1_000, 0, 1_000)))

	r, c := b.reconciler(reconciler.Config{}, nil)
	if err := untilIdle(t, r); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(big.Bytes())
	letters := b.deadLetters()
	if len(letters) != 1 {
		t.Fatalf("%d dead letters, want 1", len(letters))
	}
	d := letters[0]
	if d.ReasonCode != reconciler.CodeUnknownType || d.Size != big.Len() || d.Truncated || !bytes.Equal(d.Original, big.Bytes()) ||
		d.SHA256 != hex.EncodeToString(sum[:]) || !d.Published {
		t.Fatalf("dead letter: code %s size %d truncated %v sha %s published %v", d.ReasonCode, d.Size, d.Truncated, d.SHA256, d.Published)
	}
	cp := b.dlqCopies(1)[0]
	if !cp.Truncated || len(cp.Value) != reconciler.MaxCopiedValue || cp.Size != big.Len() || cp.SHA256 != d.SHA256 ||
		!bytes.HasPrefix(big.Bytes(), cp.Value) || !strings.Contains(cp.Reason, "first 524288 of") || cp.ID != d.ID {
		t.Fatalf("copy: truncated %v, %d bytes, size %d, sha %s, reason %q", cp.Truncated, len(cp.Value), cp.Size, cp.SHA256, cp.Reason)
	}
	if n := b.count(`SELECT count(*) FROM ledger.entries`); n != 1 {
		t.Fatalf("%d entries", n)
	}
	if l := lag(t, c); l != 0 {
		t.Fatalf("lag %d", l)
	}
}
