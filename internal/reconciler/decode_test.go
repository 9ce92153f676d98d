package reconciler

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/events/rawtest"
	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/trust"
)

// gateFunc is a trust gate made of a function.
type gateFunc func(ctx context.Context, ev events.Event, fact any) error

func (f gateFunc) Admit(ctx context.Context, ev events.Event, fact any) error {
	return f(ctx, ev, fact)
}

// statementMessages returns n messages, each the real statement event of internal/events/testdata with an item
// id of its own, and among them some a reconciler refuses: bytes that are no event, and an unknown type.
func statementMessages(tb testing.TB, n int) []kafka.Message {
	tb.Helper()
	_, item := rawtest.StatementEvent(tb)
	msgs := make([]kafka.Message, n)
	for k := range msgs {
		item.ItemID = fmt.Sprint(k)
		ev, err := item.Event()
		if err != nil {
			tb.Fatal(err)
		}
		if k%7 == 3 {
			ev.Type = "io.mizan.statement.item.v9" // a version this reconciler does not read
		}
		b, err := ev.Marshal()
		if err != nil {
			tb.Fatal(err)
		}
		if k%11 == 5 {
			b = b[:len(b)/2] // not an event at all
		}
		msgs[k] = kafka.Message{Key: []byte(ev.Key), Value: b, Offset: int64(k)}
	}
	return msgs
}

// Decoding a batch on several goroutines gives exactly what decoding it message by message gives, in the
// messages' order, whatever the number of goroutines and however the batch divides among them.
func TestDecodeAllKeepsTheMessagesOrder(t *testing.T) {
	t.Parallel()
	msgs := statementMessages(t, 101)
	var asked atomic.Int32
	gate := gateFunc(func(_ context.Context, ev events.Event, fact any) error {
		asked.Add(1)
		it, _ := fact.(events.StatementItem)
		switch len(it.ItemID) % 3 {
		case 1:
			return &trust.Refusal{EventID: ev.ID, Type: ev.Type, Err: trust.ErrUnknownSource}
		case 2:
			return errors.New("the database did not answer")
		}
		return nil
	})
	ctx := t.Context()
	want := make([]decoded, len(msgs))
	for k, m := range msgs {
		want[k] = decode(ctx, m, gate, nil)
	}
	once := asked.Load()
	for _, procs := range []int{0, 1, 2, 3, 7, 101, 500} {
		for _, n := range []int{0, 1, 2, 13, len(msgs)} {
			asked.Store(0)
			got := decodeAll(ctx, msgs[:n], gate, nil, procs)
			if !reflect.DeepEqual(got, want[:n]) {
				t.Fatalf("%d messages on %d goroutines: not what one by one gives", n, procs)
			}
			if n == len(msgs) && asked.Load() != once {
				t.Fatalf("%d goroutines asked the gate %d times, one by one asks %d", procs, asked.Load(), once)
			}
		}
	}
	var refused, unjudged int
	for _, d := range want {
		if d.refuse != nil {
			refused++
		}
		if d.unjudged != nil {
			unjudged++
		}
	}
	if refused == 0 || unjudged == 0 || refused+unjudged == len(want) {
		t.Fatalf("the batch must mix admitted, refused and unjudged messages: %d refused, %d unjudged of %d",
			refused, unjudged, len(want))
	}
}

// BenchmarkDecodeBatch is the fetcher's decoding of a batch of 1,000 statement events (no trust gate), on one
// goroutine and on GOMAXPROCS.
func BenchmarkDecodeBatch(b *testing.B) {
	msgs := statementMessages(b, 1_000)
	for _, procs := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("goroutines=%d", procs), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				decodeAll(b.Context(), msgs, nil, nil, procs)
			}
			b.ReportMetric(float64(b.N*len(msgs))/b.Elapsed().Seconds(), "events/s")
		})
	}
}
