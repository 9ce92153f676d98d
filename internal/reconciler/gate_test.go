package reconciler_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/metrics"
	"github.com/mizanhq/mizan/internal/reconciler"
	"github.com/mizanhq/mizan/internal/trust"
)

// The trust gate's two answers besides yes: a refusal is the message's own fault (a dead letter, reason code
// untrusted, its id not recorded); "could not judge" — the gate's database did not answer — is never the
// message's fault: the batch fails as an infrastructure failure and is retried, the message judged again, and
// it applies once the gate can say. Even a database error that would be a message's fault elsewhere (a data
// exception) is not taken for one when the gate met it.
func TestAGateThatCannotJudgeRetriesTheBatchAndNeverDeadLetters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var (
		answering atomic.Bool
		asked     atomic.Int32
	)
	gate := gateFunc(func(_ context.Context, ev events.Event, fact any) error {
		it, _ := fact.(events.StatementItem)
		switch {
		case it.ItemID == "3":
			return &trust.Refusal{EventID: ev.ID, Type: ev.Type, Err: trust.ErrUnknownSource}
		case it.ItemID == "2" && !answering.Load():
			asked.Add(1)
			return fmt.Errorf("trust: look up source vandar/acme: %w", &pgconn.PgError{Code: "22P02", Message: "invalid input"})
		}
		return nil
	})
	b.publish(event(t, item("1", 1_000, 0, 1_000)), event(t, item("2", 500, 0, 1_500)), event(t, item("3", 100, 0, 1_600)))
	reg := metrics.NewReconciler(metrics.Build{}, metrics.Known{})
	r, c := b.reconciler(reconciler.Config{Trust: gate, Metrics: reg, Workers: 1, RetryMax: 20 * time.Millisecond}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, false) }()

	// Asked once when fetched, then again by the worker before every attempt: three times is two retries.
	eventually(t, "the batch retried while the gate cannot judge", func() bool { return asked.Load() >= 3 })
	if n := b.count(`SELECT count(*) FROM ledger.entries`); n != 0 {
		t.Fatalf("%d entries while item 2 could not be judged: the batch must wait as a whole", n)
	}
	if d := b.deadLetters(); len(d) != 0 {
		t.Fatalf("dead letters while the gate could not judge: %+v", d)
	}
	answering.Store(true)
	eventually(t, "applied once the gate answers", func() bool {
		return b.count(`SELECT count(*) FROM ledger.entries WHERE idempotency_key LIKE 'vandar:acme:statement:%'`) == 2 &&
			lag(t, c) == 0
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	d := b.deadLetters()
	if len(d) != 1 || d[0].ReasonCode != reconciler.CodeUntrusted || !strings.Contains(d[0].Reason, "unknown source") {
		t.Fatalf("dead letters: want only item 3's, refused as untrusted: %+v", d)
	}
	if n := b.count(`SELECT count(*) FROM recon.processed_events WHERE event_id = $1`, d[0].EventID); n != 0 {
		t.Fatal("a refused event's id was recorded: a genuine event with the same id could no longer apply")
	}
	if v := value(t, reg.ApplyFailures.WithLabelValues("infrastructure")); v < 2 {
		t.Fatalf("%v infrastructure failures counted, want the retries", v)
	}
	if v := value(t, reg.ApplyFailures.WithLabelValues("message")); v != 0 {
		t.Fatalf("the gate's failure was taken for the message's fault %v times", v)
	}
}
