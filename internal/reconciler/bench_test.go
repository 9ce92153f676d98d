package reconciler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
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

// BenchmarkIngestWorkers measures the reconciler end to end with 1, 2 and 4 apply workers: statement events
// over 50 wallets already on 6 partitions → `run --until-idle` → committed. Reported as events/s.
// BENCH_EVENTS sets the number of events (default 20,000).
//
//	go test -run '^$' -bench IngestWorkers -benchtime 1x ./internal/reconciler/
func BenchmarkIngestWorkers(b *testing.B) {
	n := 20_000
	if v, err := strconv.Atoi(os.Getenv("BENCH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	evs := walletEvents(b, n, 50)
	for _, workers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				pool, _ := pgtest.NewDB(b)
				kcfg := kafkatest.Config(b)
				pub := kafka.NewPublisher(kcfg)
				for i := 0; i < len(evs); i += 5_000 {
					if err := pub.Publish(context.Background(), events.TopicStatement, evs[i:min(i+5_000, len(evs))]); err != nil {
						b.Fatal(err)
					}
				}
				pub.Close()
				c := kafka.NewConsumer(kcfg, kafkatest.Group(b), events.DataTopics, kafka.ConsumerOptions{})
				r := reconciler.New(reconciler.Config{Workers: workers, IdleAfter: 300 * time.Millisecond}, pool, c, nil,
					slog.New(slog.DiscardHandler))
				b.StartTimer()
				start := time.Now()
				if err := r.Run(context.Background(), true); err != nil {
					b.Fatal(err)
				}
				// The idle wait that ends the run is not ingest.
				elapsed := time.Since(start) - 300*time.Millisecond
				b.ReportMetric(float64(n)/elapsed.Seconds(), "events/s")
				b.StopTimer()
				c.Close()
				if r.Stats.Messages != n || r.Stats.DeadLetters != 0 {
					b.Fatalf("stats %+v", r.Stats)
				}
			}
		})
	}
}

// walletEvents makes n succeeded payments over the given number of wallets, with consistent running balances.
func walletEvents(tb testing.TB, n, wallets int) []events.Event {
	tb.Helper()
	bal := make([]decimal.Decimal, wallets)
	out := make([]events.Event, 0, n)
	for i := range n {
		w := i % wallets
		amount := decimal.NewFromInt(int64(10_000 + i%90_000))
		fee := amount.Div(decimal.NewFromInt(100)).Floor()
		bal[w] = bal[w].Add(amount).Sub(fee)
		after := bal[w]
		at := t0.Add(time.Duration(i) * time.Second)
		ev, err := events.StatementItem{Provider: "vandar", Account: fmt.Sprintf("biz%02d", w),
			ItemID: strconv.Itoa(100_000_000 + i), StatusCode: 1, Kind: events.KindPayment, State: events.StateSucceeded,
			Direction: events.DirectionIn, Channel: "ipg", Amount: amount, Fee: fee, Currency: events.CurrencyToman,
			MovedWallet: true, WalletAfter: &after, CreatedAt: at, EffectiveAt: at,
			Raw: json.RawMessage(`{"id":` + strconv.Itoa(100_000_000+i) + `,"status":1}`)}.Event()
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// envInt reads a positive whole number from the environment, or def.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
