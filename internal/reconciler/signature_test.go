package reconciler_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/matching"
	"github.com/mizanhq/mizan/internal/matching/matchingtest"
	"github.com/mizanhq/mizan/internal/reconciler"
	"github.com/mizanhq/mizan/internal/trust"
)

// signer is one of the business's Ed25519 keys.
type signer struct {
	id   string
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
}

func newSigner(t *testing.T, id string) signer {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return signer{id: id, pub: pub, priv: priv}
}

// entry is the signer's entry in MIZAN_EXPECTATION_KEYS.
func (s signer) entry() string { return s.id + "=" + base64.StdEncoding.EncodeToString(s.pub) }

// expectation is acme's order to be paid, due well after the test's clock, as the record value a business's
// producer sends.
func expectation(t *testing.T, id string, amount int64) []byte {
	t.Helper()
	value, err := matchingtest.OrderRecord(id, amount, t0)
	if err != nil {
		t.Fatal(err)
	}
	return value
}

// record is an expectation record keyed as the business keys it, with the given signature headers.
func record(value []byte, signatures ...string) kafkago.Message {
	m := kafkago.Message{Key: []byte(events.Key("vandar", "acme")), Value: value}
	for _, s := range signatures {
		m.Headers = append(m.Headers, kafkago.Header{Key: matching.SignatureHeader, Value: []byte(s)})
	}
	return m
}

// gate is the reconciler's own trust gate, as `reconciler run` builds it, over the bundle's database.
func (b *bundle) gate() *trust.Gate {
	b.t.Helper()
	key, err := events.NewSigningKey("k1", []byte(strings.Repeat("s", 32)))
	if err != nil {
		b.t.Fatal(err)
	}
	g, err := trust.New(context.Background(), trust.Config{Keys: events.Keyring{key},
		Now: func() time.Time { return t0.Add(time.Hour) }}, b.pool)
	if err != nil {
		b.t.Fatal(err)
	}
	return g
}

// With MIZAN_EXPECTATION_KEYS set, an expectation is applied only with a valid signature by one of the keys
// listed — both of them, during a rotation. Unsigned, signed by a key not listed, changed after signing or
// carrying two signatures, it is the message's own fault: a dead letter (reason code untrusted), a dead_letter
// alert, nothing of it written, and the rest of its batch applies. A replay cannot bring it back, since a dead
// letter keeps no headers: it says so, and that the business must publish it again, signed.
func TestExpectationsMustBeSignedByTheBusinessWhenKeysAreSet(t *testing.T) {
	t.Parallel()
	b := setup(t)
	current, previous, stranger := newSigner(t, "shop-2026"), newSigner(t, "shop-2025"), newSigner(t, "shop-2024")
	keys, err := matching.ParseKeys(current.entry() + "," + previous.entry())
	if err != nil {
		t.Fatal(err)
	}

	signed := expectation(t, "order-1", 500_000)
	rotated := expectation(t, "order-2", 600_000)
	unsigned := expectation(t, "order-3", 700_000)
	byStranger := expectation(t, "order-4", 800_000)
	tampered := expectation(t, "order-5", 900_000)
	twice := expectation(t, "order-6", 100_000)
	if !strings.Contains(string(tampered), `"amount":"900000"`) {
		t.Fatalf("the test's tampering found no amount to change in %s", tampered)
	}
	b.publishRecords(events.TopicExpected,
		record(signed, matching.Sign(current.id, current.priv, signed)),
		record(unsigned),
		record(byStranger, matching.Sign(stranger.id, stranger.priv, byStranger)),
		// Signed as order 5 for 900,000; arrives saying 9,000,000, its id and signature unchanged.
		record([]byte(strings.Replace(string(tampered), `"amount":"900000"`, `"amount":"9000000"`, 1)),
			matching.Sign(current.id, current.priv, tampered)),
		record(twice, matching.Sign(current.id, current.priv, twice), matching.Sign(previous.id, previous.priv, twice)),
		record(rotated, matching.Sign(previous.id, previous.priv, rotated)),
	)

	r, _ := b.reconciler(reconciler.Config{Trust: b.gate(), ExpectationKeys: keys}, nil)
	if err := untilIdle(t, r); err != nil {
		t.Fatal(err)
	}

	for id, want := range map[string]int{"order-1": 1, "order-2": 1, "order-3": 0, "order-4": 0, "order-5": 0, "order-6": 0} {
		if n := b.count(`SELECT count(*) FROM recon.expectations WHERE expectation_id = $1`, id); n != want {
			t.Errorf("%s: %d rows in recon.expectations, want %d", id, n, want)
		}
	}
	letters := b.deadLetters()
	reasons := map[string]string{} // by the start of what was refused, which names the order
	for _, l := range letters {
		if l.ReasonCode != reconciler.CodeUntrusted || l.Topic != b.kafka.Topic(events.TopicExpected) {
			t.Errorf("dead letter %d: code %s from %s, want untrusted from the expectations topic", l.ID, l.ReasonCode, l.Topic)
		}
		for _, id := range []string{"order-3", "order-4", "order-5", "order-6"} {
			if strings.Contains(string(l.Original), `"expectation_id":"`+id+`"`) {
				reasons[id] = l.Reason
			}
		}
		if n := b.count(`SELECT count(*) FROM recon.processed_events WHERE event_id = $1`, l.EventID); n != 0 {
			t.Errorf("refused event %s was recorded as processed: the genuine one could no longer apply", l.EventID)
		}
	}
	for id, want := range map[string]string{
		"order-3": "missing",
		"order-4": `unknown key id "shop-2024"`,
		"order-5": "not a valid signature of this record by key shop-2026",
		"order-6": "2 times",
	} {
		if !strings.Contains(reasons[id], want) || !strings.Contains(reasons[id], "expectation signature") {
			t.Errorf("%s: refused for %q, want a reason naming the signature and %q", id, reasons[id], want)
		}
	}
	if len(letters) != 4 {
		t.Errorf("%d dead letters, want the 4 refused expectations: %+v", len(letters), letters)
	}
	// One alert for the topic, not per key: the refused records' keys are whatever their producer wrote.
	if got := b.alerts("dead_letter"); len(got) != 1 || got[0].DedupKey != "dead_letter:"+b.kafka.Topic(events.TopicExpected)+":untrusted" {
		t.Errorf("alerts: %+v", got)
	}

	replayer := reconciler.New(reconciler.Config{Trust: b.gate(), ExpectationKeys: keys,
		Now: func() time.Time { return t0.Add(time.Hour) }}, b.pool, nil, nil, b.log)
	var out strings.Builder
	res, err := replayer.Replay(context.Background(), nil, time.Time{}, &out)
	var left *reconciler.ReplayError
	if !errors.As(err, &left) || res.NotReplayable != 4 || res.Applied != 0 ||
		strings.Count(out.String(), "publish it again, signed") != 4 {
		t.Fatalf("replay with keys required: %+v %v\n%s", res, err, out.String())
	}
	if n := b.count(`SELECT count(*) FROM recon.expectations`); n != 2 {
		t.Fatalf("%d expectations after the replay, want still the 2 signed ones", n)
	}
}

// Without MIZAN_EXPECTATION_KEYS nothing changes: an expectation is believed unsigned (who may write its topic
// is a Kafka ACL), and a signature header, if any, is not looked at.
func TestExpectationsNeedNoSignatureWhenNoKeysAreSet(t *testing.T) {
	t.Parallel()
	b := setup(t)
	unsigned := expectation(t, "order-1", 500_000)
	strange := expectation(t, "order-2", 600_000)
	b.publishRecords(events.TopicExpected, record(unsigned), record(strange, "not-a-signature"))
	r, _ := b.reconciler(reconciler.Config{Trust: b.gate()}, nil)
	if err := untilIdle(t, r); err != nil {
		t.Fatal(err)
	}
	if n := b.count(`SELECT count(*) FROM recon.expectations WHERE expectation_id IN ('order-1', 'order-2')`); n != 2 {
		t.Fatalf("%d of the 2 unsigned expectations applied", n)
	}
	if d := b.deadLetters(); len(d) != 0 {
		t.Fatalf("dead letters with no keys set: %+v", d)
	}
}
