package reconciler_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/ledger"
	"github.com/mizanhq/mizan/internal/reconciler"
)

// checkingConsumer is a real consumer that, at every commit, checks what the commit claims: every message of
// every partition up to the offset committed has been applied (its event id recorded) — whichever worker
// applied it — and a partition's committed offset never goes back.
type checkingConsumer struct {
	*kafka.Consumer
	b *bundle

	mu         sync.Mutex
	highest    map[string]int64 // "topic/partition" → highest offset committed
	seen       map[string][]kafka.Message
	violations []string
	commits    int
}

func (c *checkingConsumer) FetchBatch(ctx context.Context) ([]kafka.Message, error) {
	msgs, err := c.Consumer.FetchBatch(ctx)
	c.mu.Lock()
	for _, m := range msgs {
		k := fmt.Sprintf("%s/%d", m.Topic, m.Partition)
		c.seen[k] = append(c.seen[k], m)
	}
	c.mu.Unlock()
	return msgs, err
}

func (c *checkingConsumer) Commit(ctx context.Context, msgs []kafka.Message) error {
	c.mu.Lock()
	high := map[string]int64{}
	for _, m := range msgs {
		k := fmt.Sprintf("%s/%d", m.Topic, m.Partition)
		high[k] = max(high[k], m.Offset)
	}
	var ids []string
	for k, off := range high {
		if off < c.highest[k] {
			c.violations = append(c.violations, fmt.Sprintf("%s committed %d after %d", k, off, c.highest[k]))
		}
		c.highest[k] = off
		for _, m := range c.seen[k] {
			if m.Offset <= off {
				ids = append(ids, kafka.HeaderValue(m, kafka.HeaderID))
			}
		}
	}
	c.commits++
	c.mu.Unlock()
	var missing int
	if err := c.b.pool.QueryRow(ctx, `SELECT count(*) FROM unnest($1::text[]) AS i(id)
		WHERE NOT EXISTS (SELECT 1 FROM recon.processed_events p WHERE p.event_id = i.id)`, ids).Scan(&missing); err != nil {
		return err
	}
	if missing > 0 {
		c.mu.Lock()
		c.violations = append(c.violations, fmt.Sprintf("a commit covers %d messages not applied", missing))
		c.mu.Unlock()
	}
	return c.Consumer.Commit(ctx, msgs)
}

// Several workers apply many keys at once: each key's items in order (any reordering is a running-balance
// break), each exactly once, and no offset committed before everything up to it has been applied.
func TestSeveralWorkersApplyManyKeysInOrderExactlyOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const businesses, perBusiness = 12, 40
	for round := 0; round < 4; round++ { // interleaved: ten items of each business at a time
		var evs []events.Event
		for biz := 0; biz < businesses; biz++ {
			for i := round * 10; i < (round+1)*10; i++ {
				it := item(fmt.Sprint(i+1), 100, 0, int64(100*(i+1)))
				it.Account = fmt.Sprintf("acme%d", biz)
				evs = append(evs, event(t, it))
			}
		}
		b.publish(evs...)
	}
	run := func(group string) (*reconciler.Reconciler, *checkingConsumer) {
		c := &checkingConsumer{b: b, highest: map[string]int64{}, seen: map[string][]kafka.Message{},
			Consumer: kafka.NewConsumer(b.kafka, group, events.DataTopics,
				kafka.ConsumerOptions{MaxBatch: 50, MaxWait: 100 * time.Millisecond, SessionTimeout: 6 * time.Second})}
		t.Cleanup(func() { c.Close() })
		r := reconciler.New(reconciler.Config{Group: group, Workers: 4, IdleAfter: 300 * time.Millisecond,
			Now: func() time.Time { return t0.Add(time.Hour) }}, b.pool, c, b.pub, b.log)
		if err := untilIdle(t, r); err != nil {
			t.Fatal(err)
		}
		if len(c.violations) > 0 {
			t.Fatalf("commits: %v", c.violations)
		}
		return r, c
	}
	r, c := run("workers-1")
	if n := b.count(`SELECT count(*) FROM ledger.entries`); n != businesses*perBusiness {
		t.Fatalf("%d entries, want %d", n, businesses*perBusiness)
	}
	if n := b.count(`SELECT count(*) FROM recon.check_results WHERE check_name = 'running_balance' AND outcome <> 'OK'`); n != 0 {
		t.Fatalf("%d running-balance breaks: a key's items were applied out of order", n)
	}
	if n := b.count(`SELECT count(*) FROM ledger.balances WHERE account LIKE 'assets:vandar:acme%:wallet' AND balance = $1`,
		100*perBusiness); n != businesses {
		t.Fatalf("%d of %d wallets hold what their last item reports", n, businesses)
	}
	if r.Stats.Messages != businesses*perBusiness || c.commits < 2 {
		t.Fatalf("stats %+v, %d commits", r.Stats, c.commits)
	}
	// Another group replays everything: nothing changes.
	before := b.count(`SELECT count(*) FROM ledger.postings`)
	run("workers-2")
	if after := b.count(`SELECT count(*) FROM ledger.postings`); after != before {
		t.Fatalf("a replay posted %d more postings", after-before)
	}
}

// Workers that post to the same hot accounts — in different orders, in batches of several entries — neither
// deadlock nor break an account's balance chain: the ledger locks balance rows in account order.
func TestConcurrentPostingsToSharedHotAccountsNeitherDeadlockNorBreakTheChain(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	acct := func(code string) ledger.Account {
		return ledger.Account{Code: "assets:hot:" + code, Type: ledger.AccountAsset, Currency: "IRT"}
	}
	codes := []string{"a", "b", "c", "d", "e"}
	// Open every account first: creating one is a race of its own (ErrConcurrent, retried by the reconciler).
	var opening []ledger.Entry
	for _, c := range codes {
		opening = append(opening, ledger.Entry{IdempotencyKey: "open:" + c, EffectiveAt: t0, Postings: []ledger.Posting{
			{Account: acct(c), Amount: decimal.NewFromInt(1000)},
			{Account: ledger.Account{Code: "equity:hot:opening", Type: ledger.AccountEquity, Currency: "IRT"}, Amount: decimal.NewFromInt(-1000)}}})
	}
	if err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error { _, err := ledger.Apply(ctx, tx, opening); return err }); err != nil {
		t.Fatal(err)
	}
	const workers, rounds = 6, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := 0; w < workers; w++ {
		wg.Go(func() {
			for round := 0; round < rounds; round++ {
				var batch []ledger.Entry
				for k := 0; k < 4; k++ { // each entry moves money between two accounts, in the worker's own order
					from, to := codes[(w+k)%len(codes)], codes[(w+2*k+1)%len(codes)]
					if from == to {
						to = codes[(w+k+1)%len(codes)]
					}
					batch = append(batch, ledger.Entry{IdempotencyKey: fmt.Sprintf("w%d:r%d:%d", w, round, k), EffectiveAt: t0.Add(time.Minute),
						Postings: []ledger.Posting{{Account: acct(from), Amount: decimal.NewFromInt(-int64(k + 1))},
							{Account: acct(to), Amount: decimal.NewFromInt(int64(k + 1))}}})
				}
				err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error { _, err := ledger.Apply(ctx, tx, batch); return err })
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "40P01" {
			t.Errorf("deadlock: %v", err)
		} else {
			t.Errorf("posting failed: %v", err)
		}
	}
	if n := b.count(`SELECT count(*) FROM ledger.entries`); n != len(codes)+workers*rounds*4 {
		t.Fatalf("%d entries", n)
	}
	// Each chain: sequence 1..n without a gap, each balance_after the running sum, the balance row its end.
	var broken int
	if err := b.pool.QueryRow(ctx, `
		WITH chain AS (
			SELECT p.account_id, p.account_seq, p.balance_after,
			       sum(p.amount) OVER (PARTITION BY p.account_id ORDER BY p.account_seq) AS running,
			       row_number() OVER (PARTITION BY p.account_id ORDER BY p.account_seq) AS n
			FROM ledger.postings p)
		SELECT (SELECT count(*) FROM chain WHERE balance_after <> running OR account_seq <> n) +
		       (SELECT count(*) FROM ledger.account_balances b
		        WHERE b.last_seq <> (SELECT count(*) FROM ledger.postings p WHERE p.account_id = b.account_id)
		           OR b.balance <> (SELECT coalesce(sum(amount), 0) FROM ledger.postings p WHERE p.account_id = b.account_id))`).
		Scan(&broken); err != nil {
		t.Fatal(err)
	}
	if broken != 0 {
		t.Fatalf("%d breaks in the balance chains", broken)
	}
	if n := b.count(`SELECT coalesce(sum(balance), 0)::int FROM ledger.balances WHERE account LIKE 'assets:hot:%'`); n != 5000 {
		t.Fatalf("the hot accounts hold %d, want the 5000 they opened with", n)
	}
}
