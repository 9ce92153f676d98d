package apply_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mizanhq/mizan/internal/apply"
	"github.com/mizanhq/mizan/internal/checks"
	"github.com/mizanhq/mizan/internal/events"
)

// A cancelled settlement and the return item that brings its money back, applied by two workers at once
// (they travel on different topics), end as a settlement whose money came back — whichever commits first. Each
// transaction looks for the other's row; without the payout's lock neither saw the other's uncommitted insert
// and the settlement stayed unreturned, with a settlement_return alert for money that was back.
func TestASettlementAndItsReturnAppliedAtOnceMeet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.apply(t, payment("1", "500000", "500000", t0), settlementItem("2", "200000", "300000", t0.Add(time.Hour)))
	facts := func(vs ...interface{ Event() (events.Event, error) }) []apply.Fact {
		var fs []apply.Fact
		for _, v := range vs {
			ev, err := v.Event()
			if err != nil {
				t.Fatal(err)
			}
			fs = append(fs, apply.Fact{EventID: ev.ID, Value: v})
		}
		return fs
	}
	ret := returnOf("3", "2", "200000", "500000", t0.Add(2*time.Hour))
	canceled := settlement("2", events.SettlementCanceled, "200000", t0.Add(2*time.Hour))

	// The statement's worker applies the return and has not committed yet.
	txA, err := b.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer txA.Rollback(ctx)
	if _, err := b.a.Apply(ctx, txA, facts(ret)); err != nil {
		t.Fatal(err)
	}
	// The settlement's worker applies the cancellation meanwhile.
	done := make(chan error, 1)
	go func() {
		done <- pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
			_, err := b.a.Apply(ctx, tx, facts(canceled))
			return err
		})
	}()
	// Either it waits for the return's transaction (the lock), or it has finished without it.
	for finished := false; !finished; {
		select {
		case err := <-done:
			done <- err
			finished = true
		default:
			var waiting int
			if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`).Scan(&waiting); err != nil {
				t.Fatal(err)
			}
			finished = waiting > 0
		}
	}
	if err := txA.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var returned bool
	if err := b.pool.QueryRow(ctx, `SELECT returned_at IS NOT NULL FROM recon.settlements WHERE transaction_id = '2'`).Scan(&returned); err != nil {
		t.Fatal(err)
	}
	if !returned {
		t.Error("the settlement is not marked returned though its return item is applied")
	}
	b.periodic(t)
	if sr := b.alerts(t, checks.CheckSettlementReturn); len(sr) != 0 {
		t.Errorf("settlement_return alerts for money that came back: %+v", sr)
	}
}
