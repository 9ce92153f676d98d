package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka/kafkatest"
	"github.com/mizanhq/mizan/internal/matching"
	"github.com/mizanhq/mizan/internal/matching/matchingtest"
	"github.com/mizanhq/mizan/internal/pgtest"
	"github.com/mizanhq/mizan/internal/reconciler"
)

// With MIZAN_EXPECTATION_KEYS set the reconciler starts and checks every expectation against the keys: the
// signed one applies, the unsigned one is a dead letter, which `dlq replay` (reading the same variable) says
// cannot be replayed. A value it cannot read stops run and dlq replay before they connect to anything, naming
// the variable and at most a key's id, never the key: what is pasted there by mistake may be a private key.
func TestExpectationKeysAreReadAndEnforced(t *testing.T) {
	t.Parallel()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	pool, dbURL := pgtest.NewDB(t)
	kcfg := kafkatest.Config(t)
	now := time.Now().UTC().Truncate(time.Second)
	value := func(id string) []byte {
		v, err := matchingtest.OrderRecord(id, 500_000, now)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	signed, unsigned := value("order-1"), value("order-2")
	transport := &kafkago.Transport{} // its own: the shared one's cached metadata may not know this test's topic
	defer transport.CloseIdleConnections()
	w := &kafkago.Writer{Addr: kafkago.TCP(kcfg.Brokers...), Topic: kcfg.Topic(events.TopicExpected),
		BatchTimeout: 5 * time.Millisecond, RequiredAcks: kafkago.RequireAll, Transport: transport}
	key := []byte(events.Key("vandar", "acme"))
	if err := w.WriteMessages(context.Background(),
		kafkago.Message{Key: key, Value: signed, Headers: []kafkago.Header{
			{Key: matching.SignatureHeader, Value: []byte(matching.Sign("shop", priv, signed))}}},
		kafkago.Message{Key: key, Value: unsigned}); err != nil {
		t.Fatal(err)
	}
	w.Close()

	env := map[string]string{
		"DATABASE_URL": dbURL, "KAFKA_BROKERS": strings.Join(kcfg.Brokers, ","), "MIZAN_TOPIC_PREFIX": kcfg.TopicPrefix,
		"MIZAN_CONSUMER_GROUP": kafkatest.Group(t), "MIZAN_HTTP_ADDR": "off", "KAFKA_SESSION_TIMEOUT": "6s",
		"MIZAN_SIGNING_KEYS":     "k1:" + strings.Repeat("s", 32),
		"MIZAN_EXPECTATION_KEYS": "shop=" + base64.StdEncoding.EncodeToString(pub),
	}
	getenv := func(k string) string { return env[k] }
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, logs strings.Builder

	if err := run(ctx, []string{"run", "--until-idle"}, getenv, &out, &logs); err != nil ||
		!strings.Contains(out.String(), "1 dead letters") {
		t.Fatalf("run with expectation keys: %v\n%s\n%s", err, out.String(), logs.String())
	}
	var applied []string
	rows, err := pool.Query(ctx, `SELECT expectation_id FROM recon.expectations ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		applied = append(applied, id)
	}
	if rows.Err() != nil || len(applied) != 1 || applied[0] != "order-1" {
		t.Fatalf("expectations applied: %v %v, want only the signed order-1", applied, rows.Err())
	}
	out.Reset()
	err = run(ctx, []string{"dlq", "replay"}, getenv, &out, &logs)
	if exitCode(err) != reconciler.ExitDeadLetters || !strings.Contains(out.String(), "cannot be replayed") ||
		!strings.Contains(out.String(), "publish it again, signed") {
		t.Fatalf("dlq replay of an unsigned expectation: %v (exit %d)\n%s", err, exitCode(err), out.String())
	}

	// Unreadable values: a separator mistyped, a private key where the public one goes.
	for name, bad := range map[string]struct{ value, secret string }{
		"id:key":      {"shop:" + base64.StdEncoding.EncodeToString(pub), base64.StdEncoding.EncodeToString(pub)},
		"private key": {"shop=" + base64.StdEncoding.EncodeToString(priv), base64.StdEncoding.EncodeToString(priv)},
	} {
		env["MIZAN_EXPECTATION_KEYS"] = bad.value
		for _, cmd := range [][]string{{"run", "--until-idle"}, {"dlq", "replay"}, {"config", "check"}} {
			out.Reset()
			logs.Reset()
			err := run(ctx, cmd, getenv, &out, &logs)
			if err == nil || !strings.Contains(err.Error(), matching.KeysEnv) {
				t.Errorf("%s: %s: %v, want an error naming %s", name, cmd[0], err, matching.KeysEnv)
				continue
			}
			if shown := err.Error() + out.String() + logs.String(); strings.Contains(shown, bad.secret) ||
				strings.Contains(shown, bad.secret[:16]) {
				t.Errorf("%s: %s shows the key: %v\n%s", name, cmd[0], err, shown)
			}
		}
	}
}
