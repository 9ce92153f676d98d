package reconciler_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/reconciler"
	"github.com/mizanhq/mizan/internal/trust"
)

// Dead letters are re-driven after a fix through the same decode, trust gate and apply path, one transaction
// each; a second replay changes nothing; a letter kept only in part cannot be replayed and says so.
func TestDeadLettersReplayAfterAFixIdempotently(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// The trust gate refuses acme's item 2 until it is "fixed" (say, its source is added to the sources file).
	var fixed atomic.Bool
	gate := gateFunc(func(_ context.Context, ev events.Event, fact any) error {
		if it, ok := fact.(events.StatementItem); ok && it.ItemID == "2" && !fixed.Load() {
			return &trust.Refusal{EventID: ev.ID, Type: ev.Type, Err: trust.ErrUnknownSource}
		}
		return nil
	})
	b.publish(event(t, item("1", 1_000, 0, 1_000)), event(t, item("2", 500, 0, 1_500)), event(t, item("3", 100, 0, 1_600)))
	r, _ := b.reconciler(reconciler.Config{Trust: gate}, nil)
	if err := untilIdle(t, r); err != nil {
		t.Fatal(err)
	}
	letters := b.deadLetters()
	if len(letters) != 1 || letters[0].ReasonCode != reconciler.CodeUntrusted || !strings.Contains(letters[0].Reason, "unknown source") {
		t.Fatalf("dead letters: %+v", letters)
	}
	if got := b.alerts("dead_letter"); len(got) != 1 || got[0].DedupKey != "dead_letter:"+b.kafka.Topic(events.TopicStatement)+":untrusted" {
		t.Fatalf("alerts: %+v", got)
	}
	var list strings.Builder
	if n, err := reconciler.ListDeadLetters(context.Background(), b.pool, time.Time{}, &list); err != nil || n != 1 ||
		!strings.Contains(list.String(), "untrusted") {
		t.Fatalf("list: %d %v\n%s", n, err, list.String())
	}
	if n, _ := reconciler.ListDeadLetters(context.Background(), b.pool, time.Now().Add(time.Hour), &strings.Builder{}); n != 0 {
		t.Fatalf("--since an hour ahead listed %d", n)
	}

	// Before the fix, a replay still fails and says why.
	replayer := reconciler.New(reconciler.Config{Trust: gate, Now: func() time.Time { return t0.Add(time.Hour) }}, b.pool, nil, nil, b.log)
	var out strings.Builder
	res, err := replayer.Replay(context.Background(), nil, time.Time{}, &out)
	var still *reconciler.ReplayError
	if !errors.As(err, &still) || still.ExitCode() != reconciler.ExitDeadLetters || res.Failed != 1 ||
		!strings.Contains(out.String(), "still fails") {
		t.Fatalf("replay before the fix: %+v %v\n%s", res, err, out.String())
	}

	fixed.Store(true)
	out.Reset()
	res, err = replayer.Replay(context.Background(), nil, time.Time{}, &out)
	if err != nil || res.Applied != 1 || !strings.Contains(out.String(), "applied") {
		t.Fatalf("replay after the fix: %+v %v\n%s", res, err, out.String())
	}
	if n := b.count(`SELECT count(*) FROM ledger.entries WHERE idempotency_key = 'vandar:acme:statement:2'`); n != 1 {
		t.Fatalf("item 2: %d entries", n)
	}
	if got := b.alerts("dead_letter"); len(got) != 1 || !got[0].Resolved {
		t.Fatalf("the alert of a letter replayed: %+v", got)
	}
	// Again, by id: nothing new.
	out.Reset()
	res, err = replayer.Replay(context.Background(), []int64{letters[0].ID}, time.Time{}, &out)
	if err != nil || res.Duplicates != 1 || res.Applied != 0 || !strings.Contains(out.String(), "already applied") {
		t.Fatalf("second replay: %+v %v\n%s", res, err, out.String())
	}
	if n := b.count(`SELECT count(*) FROM ledger.entries`); n != 3 {
		t.Fatalf("%d entries", n)
	}

	// A letter whose original was larger than the table keeps cannot be replayed.
	var id int64
	if err := b.pool.QueryRow(context.Background(), `INSERT INTO recon.dead_letters (topic, partition, "offset", reason_code,
		reason, error_class, size, sha256, original, truncated, refused_by)
		VALUES ('t', 0, 99, 'malformed', 'too big', 'message', 5000000, repeat('a', 64), '\x7b', true, 'g') RETURNING id`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	res, err = replayer.Replay(context.Background(), []int64{id}, time.Time{}, &out)
	if !errors.As(err, &still) || res.NotReplayable != 1 || !strings.Contains(out.String(), "cannot be replayed: only the first 1 of its 5000000 bytes") {
		t.Fatalf("truncated: %+v %v\n%s", res, err, out.String())
	}
	if n := b.count(`SELECT count(*) FROM recon.dead_letters WHERE replay_outcome = 'not_replayable' AND id = $1`, id); n != 1 {
		t.Fatal("the outcome is not recorded")
	}
}

// Whoever can produce to a topic chooses the keys of what they write: refused messages under a hundred
// made-up keys are a hundred dead letters but one alert per topic and reason, not a hundred — an alert flood
// would bury the one that matters. The alert names the key the latest one claimed, without believing it.
func TestRefusedMessagesUnderManyKeysAreOneAlert(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := range 100 {
		b.publishRaw(fmt.Sprintf("vandar/made-up-%d", i), []byte(`{"specversion":"1.0","id":`))
	}
	r, _ := b.reconciler(reconciler.Config{}, nil)
	if err := untilIdle(t, r); err != nil {
		t.Fatal(err)
	}
	if letters := b.deadLetters(); len(letters) != 100 {
		t.Fatalf("%d dead letters, want one for each of the 100 messages", len(letters))
	}
	got := b.alerts("dead_letter")
	if len(got) != 1 || got[0].DedupKey != "dead_letter:"+b.kafka.Topic(events.TopicStatement)+":malformed" {
		t.Fatalf("alerts: %+v", got)
	}
	if !strings.Contains(got[0].Summary, `(key "vandar/made-up-`) || !strings.Contains(got[0].Summary, "as its producer wrote it") {
		t.Errorf("summary %q: want the claimed key, shown as claimed", got[0].Summary)
	}
}
