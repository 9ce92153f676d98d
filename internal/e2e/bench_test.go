package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/kafka/kafkatest"
	"github.com/mizanhq/mizan/internal/pgtest"
	"github.com/mizanhq/mizan/internal/reconciler"
)

// BenchmarkReconcilerIngest measures the reconciler end to end: statement events already on the topic →
// consume → one transaction per batch (event ids, entries, postings, balances, every trigger on) → offsets
// committed. Events are spread over 20 businesses, so every event touches its business's hot wallet.
// Reported as events/s; `make bench-go` runs it.
func BenchmarkReconcilerIngest(b *testing.B) {
	const perRun = 20_000
	ctx := context.Background()
	b.StopTimer()
	for range b.N {
		pool, _ := pgtest.NewDB(b)
		kcfg := kafkatest.Config(b)
		pub := kafka.NewPublisher(kcfg)
		evs := statementEvents(b, perRun, 20)
		for i := 0; i < len(evs); i += 5_000 {
			if err := pub.Publish(ctx, events.TopicStatement, evs[i:min(i+5_000, len(evs))]); err != nil {
				b.Fatal(err)
			}
		}
		pub.Close()
		consumer := kafka.NewConsumer(kcfg, kafkatest.Group(b), events.DataTopics, kafka.ConsumerOptions{})
		r := reconciler.New(reconciler.Config{IdleAfter: 300 * time.Millisecond}, pool, consumer, nil, discard())
		b.StartTimer()
		start := time.Now()
		if err := r.Run(ctx, true); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(perRun)/time.Since(start).Seconds(), "events/s")
		b.StopTimer()
		consumer.Close()
		pool.Close()
		if r.Stats.DeadLetters != 0 {
			b.Fatalf("%d dead letters", r.Stats.DeadLetters)
		}
	}
}

// statementEvents makes n succeeded payments over the given number of businesses, with consistent running
// balances.
func statementEvents(tb testing.TB, n, businesses int) []events.Event {
	tb.Helper()
	wallets := make([]decimal.Decimal, businesses)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]events.Event, 0, n)
	for i := range n {
		biz := i % businesses
		amount := decimal.NewFromInt(int64(10_000 + i%90_000))
		fee := amount.Div(decimal.NewFromInt(100)).Floor()
		wallets[biz] = wallets[biz].Add(amount).Sub(fee)
		w := wallets[biz]
		at := t0.Add(time.Duration(i) * time.Second)
		ev, err := events.StatementItem{Provider: "vandar", Account: fmt.Sprintf("biz%02d", biz),
			ItemID: strconv.Itoa(100_000_000 + i), StatusCode: 1, Kind: events.KindPayment, State: events.StateSucceeded,
			Direction: events.DirectionIn, Channel: "ipg", Amount: amount, Fee: fee, Currency: events.CurrencyToman,
			MovedWallet: true, WalletAfter: &w, CreatedAt: at, EffectiveAt: at,
			Raw: json.RawMessage(`{"id":` + strconv.Itoa(100_000_000+i) + `,"status":1}`)}.Event()
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}
