package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/pollstate"
	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

func TestEveryFaultKnobIsRecoveredWithoutSkippingAnItem(t *testing.T) {
	t.Parallel()
	faults := []struct {
		name  string
		fault vandartest.Fault
	}{
		{"503 with a JSON body", vandartest.Fault{Kind: vandartest.FaultStatus, Status: 503}},
		{"502 with an HTML page", vandartest.Fault{Kind: vandartest.FaultStatus, Status: 502, HTML: true}},
		{"429 with Retry-After", vandartest.Fault{Kind: vandartest.FaultTooManyRequests, RetryAfter: time.Second}},
		{"slow response", vandartest.Fault{Kind: vandartest.FaultSlow, Delay: 200 * time.Millisecond}},
		{"truncated JSON", vandartest.Fault{Kind: vandartest.FaultTruncated}},
		{"connection reset", vandartest.Fault{Kind: vandartest.FaultReset}},
	}
	for _, tt := range faults {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t, afterHistory, vandartest.Options{Businesses: []vandartest.BusinessOptions{{
				Slug: "acme", Seed: 3, Start: historyStart, Days: 10, PerDay: 60,
			}}})
			f := tt.fault
			f.Endpoint = vandartest.EndpointTransactions
			b.sim.Inject(f, 3) // three pages in a row fail once each: within the client's retries
			if err := b.pollOnce(ctx); err != nil {
				t.Fatalf("poll did not recover: %v", err)
			}
			b.reconcile(ctx, "reconciler")
			mustEqualWallet(t, b.walletBalance(ctx), b.sim.Wallet("acme"))
			if got, want := b.count(ctx, `SELECT count(*) FROM ledger.entries`), movedItems(b.sim.Items("acme")); got != want {
				t.Fatalf("%d entries, want %d", got, want)
			}
		})
	}
}

func TestAnHTMLPageWithStatus200IsAClearErrorAndTheCursorStays(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, afterHistory, vandartest.Options{Businesses: []vandartest.BusinessOptions{{
		Slug: "acme", Seed: 5, Start: historyStart, Days: 5, PerDay: 60,
	}}})
	// A captive portal answers every statement request: the poll fails, naming what it got.
	b.sim.Inject(vandartest.Fault{Kind: vandartest.FaultHTML200, Endpoint: vandartest.EndpointTransactions}, 1000)
	err := b.pollOnce(ctx)
	if err == nil || !strings.Contains(err.Error(), "transaction") || !strings.Contains(strings.ToLower(err.Error()), "html") {
		t.Fatalf("error = %v, want one naming the endpoint and the HTML it got", err)
	}
	if n := b.count(ctx, `SELECT count(*) FROM poller.cursors WHERE feed = 'statement' AND cursor ? 'last_id'`); n != 0 {
		t.Fatal("the cursor moved although nothing was read")
	}
	// When the portal goes away, the next poll reads everything.
	b.sim.ClearFaults()
	if err := b.pollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	b.reconcile(ctx, "reconciler")
	mustEqualWallet(t, b.walletBalance(ctx), b.sim.Wallet("acme"))
}

func TestAnUnknownBusinessIsAClearErrorNamingEndpointAndStatus(t *testing.T) {
	t.Parallel()
	b := setup(t, afterHistory, vandartest.Options{Businesses: []vandartest.BusinessOptions{{Slug: "acme", Empty: true}}})
	vs := b.vandarSettings()
	vs.Business = "no-such-business"
	b.src.Settings = vs
	b.poller = b.newPoller()
	err := b.pollOnce(context.Background())
	if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "no-such-business") {
		t.Fatalf("error = %v, want one naming the business's endpoint and HTTP 404", err)
	}
}

func TestPoisonEventsGoToTheDeadLetterTopicAndThePartitionKeepsFlowing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, afterHistory, vandartest.Options{Businesses: []vandartest.BusinessOptions{{Slug: "acme", Empty: true}}})
	good := func(id string, amount int64) events.Event {
		wallet := decimal.NewFromInt(amount)
		ev, err := events.StatementItem{Provider: "vandar", Account: "acme", ItemID: id, StatusCode: 1,
			Kind: events.KindPayment, State: events.StateSucceeded, Direction: events.DirectionIn, Channel: "ipg",
			Amount: decimal.NewFromInt(amount), Fee: decimal.Zero, Currency: events.CurrencyToman, MovedWallet: true,
			WalletAfter: &wallet, CreatedAt: historyStart, EffectiveAt: historyStart, Raw: json.RawMessage(`{}`)}.Event()
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	first, second := good("100", 1000), good("101", 2000)
	future := good("102", 3000)
	future.Type = "io.mizan.statement.item.v2"
	unknown := good("103", 4000)
	unknown.Type = "io.mizan.something.v1"
	negative := good("104", 5000)
	negative.Data = json.RawMessage(strings.Replace(string(negative.Data), `"amount":"5000"`, `"amount":"-5000"`, 1))
	otherCurrency := good("105", 6000) // the wallet is IRT; a posting in EUR to it is refused by the ledger
	otherCurrency.Data = json.RawMessage(strings.Replace(string(otherCurrency.Data), `"currency":"IRT"`, `"currency":"EUR"`, 1))

	// All on one key, so all on one partition, poison between the good ones.
	if err := b.pub.Publish(ctx, events.TopicStatement, []events.Event{first, future, unknown, negative, otherCurrency}); err != nil {
		t.Fatal(err)
	}
	// Bytes that are not an event at all, written by a plain producer on the same key.
	// A transport of its own: kafka-go's shared default one caches the cluster's metadata for seconds, and on a
	// real broker a topic created since (this test's) is then "unknown" to it.
	transport := &kafkago.Transport{}
	defer transport.CloseIdleConnections()
	w := &kafkago.Writer{Addr: kafkago.TCP(b.kafka.Brokers...), Topic: b.kafka.Topic(events.TopicStatement),
		Balancer: &kafkago.Murmur2Balancer{Consistent: true}, BatchTimeout: 5 * time.Millisecond,
		RequiredAcks: kafkago.RequireAll, Transport: transport}
	defer w.Close()
	if err := w.WriteMessages(ctx, kafkago.Message{Key: []byte("vandar/acme"), Value: []byte(`{"specversion":"1.0","id":`)}); err != nil {
		t.Fatal(err)
	}
	if err := b.pub.Publish(ctx, events.TopicStatement, []events.Event{second}); err != nil {
		t.Fatal(err)
	}

	stats := b.reconcile(ctx, "reconciler")
	if stats.DeadLetters != 5 {
		t.Fatalf("%d dead letters, want 5", stats.DeadLetters)
	}
	if n := b.count(ctx, `SELECT count(*) FROM ledger.entries WHERE idempotency_key IN ('vandar:acme:statement:100', 'vandar:acme:statement:101')`); n != 2 {
		t.Fatalf("the good events around the poison: %d of 2 posted", n)
	}
	mustEqualWallet(t, b.walletBalance(ctx), 3000)

	// Every dead letter carries its reason and the original bytes.
	reasons := b.deadLetters(ctx)
	for _, want := range []string{"unsupported schema version", "unknown event type", "negative amount", "malformed event", "currency"} {
		found := false
		for _, r := range reasons {
			found = found || strings.Contains(r, want)
		}
		if !found {
			t.Errorf("no dead letter with reason %q in %q", want, reasons)
		}
	}
}

// deadLetters reads every message of the dead-letter topic and returns their reasons.
func (b *bundle) deadLetters(ctx context.Context) []string {
	b.t.Helper()
	c := kafka.NewConsumer(b.kafka, "dlq-reader", []string{events.TopicDLQ}, kafka.ConsumerOptions{MaxWait: 100 * time.Millisecond})
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var reasons []string
	for len(reasons) < 5 {
		msgs, err := c.FetchBatch(ctx)
		if err != nil {
			b.t.Fatalf("read dead letters (have %d): %v", len(reasons), err)
		}
		for _, m := range msgs {
			ev, err := events.Decode(m.Value)
			if err != nil {
				b.t.Fatal(err)
			}
			dl, err := events.DecodeData[events.DeadLetter](ev)
			if err != nil {
				b.t.Fatal(err)
			}
			if len(dl.Value) == 0 || dl.Topic == "" {
				b.t.Fatalf("dead letter without the original message: %+v", dl)
			}
			reasons = append(reasons, dl.Reason)
		}
	}
	return reasons
}

func TestAPollIsSkippedWhileAnotherProcessHoldsTheSourceLock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, afterHistory, vandartest.Options{Businesses: []vandartest.BusinessOptions{{
		Slug: "acme", Seed: 9, Start: historyStart, Days: 2, PerDay: 20,
	}}})
	release, err := pollstate.Lock(ctx, b.pool, "vandar-acme/statement")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.poller.PollFeed(ctx, b.src, events.FeedStatement); err != nil {
		t.Fatalf("a locked source is skipped, not failed: %v", err)
	}
	if n := b.sim.Requests(vandartest.EndpointTransactions); n != 0 {
		t.Fatalf("%d statement requests while another process held the lock", n)
	}
	release()
	if err := b.poller.PollFeed(ctx, b.src, events.FeedStatement); err != nil {
		t.Fatal(err)
	}
	if n := b.sim.Requests(vandartest.EndpointTransactions); n == 0 {
		t.Fatal("the source was not polled once the lock was free")
	}
}
