package security_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/config"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/kafka/kafkatest"
	"github.com/mizanhq/mizan/internal/pgtest"
	"github.com/mizanhq/mizan/internal/reconciler"
	"github.com/mizanhq/mizan/internal/sources/vandar"
	"github.com/mizanhq/mizan/internal/trust"
)

// Everything issue 14 found an outsider with Kafka credentials could do to the ledger, tried against a real
// broker and PostgreSQL, with the reconciler running as the runtime role behind its trust gate: each attempt
// is dead-lettered with a reason naming it, and the genuine facts around them — among them one signed with
// the previous key of a rotation, and one whose id an attacker published first — are applied exactly.
func TestTheReconcilerTakesNothingOnTrust(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	owner, dbURL := pgtest.NewDB(t)
	app := pgtest.AppPool(t, dbURL)
	kcfg := kafkatest.Config(t)
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }

	// The pollers' keys: k2 is active, k1 the previous one, still accepted during the rotation.
	activeSecret, previousSecret := random("signing-active-0123456789abcdef"), random("signing-previous-0123456789abc")
	keys, err := config.ReadSigningKeys(func(k string) string {
		return map[string]string{"MIZAN_SIGNING_KEYS": "k2:" + activeSecret + "\nk1:" + previousSecret}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	// The attacker knows the key ids (they travel in every event), not the secrets.
	forged, err := events.NewSigningKey("k2", []byte(random("a-guess-at-the-secret-0123456789")))
	if err != nil {
		t.Fatal(err)
	}
	// The one source a poller was configured with.
	if err := trust.Register(ctx, app, config.Sources{Sources: []config.Source{
		{Name: "vandar-acme", Provider: events.ProviderVandar, Settings: vandar.Settings{Business: "acme"}}}}, "poller"); err != nil {
		t.Fatal(err)
	}

	// walletAfter is the provider's running balance after the item.
	item := func(business, id, amount string, effective time.Time, walletAfter int64) events.StatementItem {
		w := decimal.NewFromInt(walletAfter)
		return events.StatementItem{Provider: events.ProviderVandar, Account: business, ItemID: id, StatusCode: 1,
			Kind: events.KindPayment, State: events.StateSucceeded, Direction: events.DirectionIn, Channel: "ipg",
			Amount: decimal.RequireFromString(amount), Fee: decimal.Zero, Currency: events.CurrencyToman, MovedWallet: true,
			WalletAfter: &w, CreatedAt: effective, EffectiveAt: effective, Raw: json.RawMessage(`{}`)}
	}
	ev := func(it events.StatementItem) events.Event {
		e, err := it.Event()
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	sign := func(e events.Event, k events.SigningKey) events.Event {
		s, err := e.Sign(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	active, _ := keys.Active()
	previous := keys[1]
	at := now.Add(-48 * time.Hour)
	end := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

	first := sign(ev(item("acme", "1", "100000", at, 1_100_000)), active)
	rotated := sign(ev(item("acme", "2", "20000", at.Add(time.Hour), 1_120_000)), previous)
	genuine := item("acme", "3", "3000", at.Add(2*time.Hour), 1_123_000)
	shadowed := sign(ev(genuine), active)
	// The attacker's version of item 3: the same event id, another amount, published first.
	shadow := ev(genuine)
	shadow.Data = json.RawMessage(strings.Replace(string(shadow.Data), `"amount":"3000"`, `"amount":"3000000"`, 1))
	last := sign(ev(item("acme", "4", "400", at.Add(3*time.Hour), 1_123_400)), active)

	attacks := []struct {
		name, reason string
		ev           events.Event
	}{
		{"an unsigned item", "unsigned event", ev(item("acme", "90", "5000", at, 0))},
		{"an item signed with a guessed secret", "signature does not match", sign(ev(item("acme", "91", "5000", at, 0)), forged)},
		{"a genuine event's id with other data, published first", "unsigned event", shadow},
		{"an item for a business no source is configured for", "unknown source", sign(ev(item("globex", "92", "5000", at, 5000)), active)},
		{"an amount of 1e400", "beyond the bound", sign(ev(item("acme", "93", "1e400", at, 0)), active)},
		{"12.345 tomans", "decimal place", sign(ev(item("acme", "94", "12.345", at, 0)), active)},
		{"an item effective on 9999-12-31", "after now", sign(ev(item("acme", "95", "5000", end, 0)), active)},
	}
	pub := kafka.NewPublisher(kcfg)
	defer pub.Close()
	// In this order on acme's partition: the attacks interleaved with the genuine facts.
	stream := []events.Event{first, attacks[0].ev, attacks[1].ev, rotated, attacks[2].ev, shadowed, attacks[3].ev,
		attacks[4].ev, attacks[5].ev, attacks[6].ev, last}
	if err := pub.Publish(ctx, events.TopicStatement, stream); err != nil {
		t.Fatal(err)
	}

	gate, err := trust.New(ctx, trust.Config{Keys: keys, Now: clock}, app)
	if err != nil {
		t.Fatal(err)
	}
	consumer := kafka.NewConsumer(kcfg, "trust", events.DataTopics, kafka.ConsumerOptions{MaxWait: 50 * time.Millisecond,
		SessionTimeout: 6 * time.Second})
	defer consumer.Close()
	r := reconciler.New(reconciler.Config{Group: "trust", IdleAfter: 500 * time.Millisecond, Now: clock, Trust: gate},
		app, consumer, pub, slog.New(slog.DiscardHandler))
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := r.Run(rctx, true); err != nil {
		t.Fatal(err)
	}

	// Each attempt is a dead letter saying what was wrong with it.
	if r.Stats.DeadLetters != len(attacks) {
		t.Errorf("%d dead letters, want one for each of the %d attempts", r.Stats.DeadLetters, len(attacks))
	}
	dead := map[string]string{} // event id → reason
	msgs, err := kafka.ReadTopic(ctx, kcfg.Brokers[0], kcfg.Topic(events.TopicDLQ))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		e, err := events.Decode(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		dl, err := events.DecodeData[events.DeadLetter](e)
		if err != nil {
			t.Fatal(err)
		}
		dead[dl.EventID+"/"+string(dl.Value)] = dl.Reason
	}
	for _, a := range attacks {
		wire, _ := a.ev.Marshal()
		reason, ok := dead[a.ev.ID+"/"+string(wire)]
		switch {
		case !ok:
			t.Errorf("%s: not dead-lettered", a.name)
		case !strings.Contains(reason, a.reason) || !strings.Contains(reason, a.ev.ID):
			t.Errorf("%s: dead letter reason %q, want it to name the event and say %q", a.name, reason, a.reason)
		}
	}

	// The genuine facts are in the ledger — the shadowed one with its own amount — and nothing else is.
	var balance string
	var globex, entries int
	var latest time.Time
	if err := owner.QueryRow(ctx, `
		SELECT (SELECT balance::text FROM ledger.balances WHERE account = 'assets:vandar:acme:wallet'),
		       (SELECT count(*) FROM ledger.accounts WHERE code LIKE '%globex%'),
		       (SELECT count(*) FROM ledger.entries),
		       (SELECT max(booked_at) FROM ledger.postings)`).Scan(&balance, &globex, &entries, &latest); err != nil {
		t.Fatal(err)
	}
	want := decimal.NewFromInt(1_000_000 + 100_000 + 20_000 + 3_000 + 400)
	if !decimal.RequireFromString(balance).Equal(want) {
		t.Errorf("the wallet is %s, want %s (the opening balance and the four genuine items)", balance, want)
	}
	if globex != 0 {
		t.Errorf("%d accounts for globex, whose items were refused", globex)
	}
	if entries != 5 {
		t.Errorf("%d entries, want 5: the opening and the four genuine items", entries)
	}
	if !latest.Before(now) {
		t.Errorf("a posting is booked at %s, after now", latest)
	}
	var amount string
	if err := owner.QueryRow(ctx, `SELECT metadata->>'amount' FROM ledger.entries WHERE idempotency_key = 'vandar:acme:statement:3'`).
		Scan(&amount); err != nil || amount != "3000" {
		t.Errorf("item 3, whose id the attacker published first: amount %q (%v), want the genuine 3000", amount, err)
	}
}
