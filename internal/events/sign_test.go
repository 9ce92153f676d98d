package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func testKey(t *testing.T, id string) SigningKey {
	t.Helper()
	k, err := NewSigningKey(id, []byte(strings.Repeat(id, 64)[:40]))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func signedItem(t *testing.T, k SigningKey) Event {
	t.Helper()
	ev, err := item().Event()
	if err != nil {
		t.Fatal(err)
	}
	ev, err = ev.Sign(k)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestASignedEventRoundTripsExactlyAndVerifies(t *testing.T) {
	t.Parallel()
	k := testKey(t, "k1")
	ev := signedItem(t, k)
	if ev.KeyID != "k1" || ev.Signature == "" {
		t.Fatalf("signed event has key id %q, signature %q", ev.KeyID, ev.Signature)
	}
	wire, err := ev.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, attr := range []string{`"mizankeyid":"k1"`, `"mizansig":"` + ev.Signature + `"`} {
		if !bytes.Contains(wire, []byte(attr)) {
			t.Errorf("the envelope lacks the extension attribute %s: %s", attr, wire)
		}
	}
	back, err := Decode(wire)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ev, back); diff != "" {
		t.Fatalf("decode(marshal(e)) differs from e (-sent +read):\n%s", diff)
	}
	if err := back.Verify(Keyring{k}); err != nil {
		t.Fatalf("verify: %v", err)
	}
	// And again: a decoded event marshals to the same bytes.
	again, err := back.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, wire) {
		t.Fatalf("marshal(decode(b)) != b:\n%s\n%s", again, wire)
	}
}

func TestSigningUsesTheWireFormOfTheData(t *testing.T) {
	t.Parallel()
	k := testKey(t, "k1")
	// Data as a hand-built event might hold it: spaced out and with characters encoding/json escapes.
	ev := Event{ID: "id-1", Type: TypeWatermark, Source: "/vandar/acme/statement", Time: time.Now(), Key: "vandar/acme",
		Data: json.RawMessage("{ \"feed\" : \"a<b&c>\" ,\n \"n\": 1 }")}
	signed, err := ev.Sign(k)
	if err != nil {
		t.Fatal(err)
	}
	wire, err := signed.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(wire)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.Verify(Keyring{k}); err != nil {
		t.Fatalf("verify after the round trip: %v", err)
	}
}

// tamper changes one thing in the JSON envelope of a signed event, as someone on the topic could. The other
// attributes keep their exact bytes.
func tamper(t *testing.T, ev Event, change func(m map[string]json.RawMessage)) Event {
	t.Helper()
	wire, err := ev.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal(wire, &m); err != nil {
		t.Fatal(err)
	}
	change(m)
	wire, err = json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(wire)
	if err != nil {
		t.Fatalf("the tampered envelope does not decode: %v", err)
	}
	return back
}

func str(s string) json.RawMessage { b, _ := json.Marshal(s); return b }

func TestEveryAttributeThatMattersIsSigned(t *testing.T) {
	t.Parallel()
	k, other := testKey(t, "k1"), testKey(t, "k2")
	ring := Keyring{k, other}
	ev := signedItem(t, k)
	if err := tamper(t, ev, func(map[string]json.RawMessage) {}).Verify(ring); err != nil {
		t.Fatalf("untouched: %v", err)
	}
	changes := map[string]func(m map[string]json.RawMessage){
		"id":           func(m map[string]json.RawMessage) { m["id"] = str("another-id") },
		"source":       func(m map[string]json.RawMessage) { m["source"] = str("/vandar/globex/statement") },
		"type":         func(m map[string]json.RawMessage) { m["type"] = str(TypeBalance) },
		"subject":      func(m map[string]json.RawMessage) { m["subject"] = str("42") },
		"no subject":   func(m map[string]json.RawMessage) { delete(m, "subject") },
		"time":         func(m map[string]json.RawMessage) { m["time"] = str("9999-12-31T00:00:00Z") },
		"partitionkey": func(m map[string]json.RawMessage) { m["partitionkey"] = str("vandar/globex") },
		"an amount in the data": func(m map[string]json.RawMessage) {
			m["data"] = bytes.Replace(m["data"], []byte(`"amount":"1000"`), []byte(`"amount":"1e400"`), 1)
		},
		"the key id, to another key of the ring": func(m map[string]json.RawMessage) { m["mizankeyid"] = str("k2") },
		"the signature, one character": func(m map[string]json.RawMessage) {
			var sig string
			_ = json.Unmarshal(m["mizansig"], &sig)
			m["mizansig"] = str(flip(sig))
		},
		"the signature, not base64": func(m map[string]json.RawMessage) { m["mizansig"] = str("!!") },
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			bad := tamper(t, ev, change)
			if err := bad.Verify(ring); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("verify = %v, want ErrBadSignature", err)
			}
		})
	}
	// The data's exact bytes are signed, not its meaning: the same JSON spaced out is refused. (Edited in the
	// wire bytes: encoding/json would compact it again.)
	wire, err := ev.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	spaced := bytes.Replace(wire, []byte(`"data":{"`), []byte(`"data":{ "`), 1)
	if bytes.Equal(spaced, wire) {
		t.Fatalf("no data object in %s", wire)
	}
	back, err := Decode(spaced)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.Verify(ring); !errors.Is(err, ErrBadSignature) {
		t.Errorf("the data spaced out: %v, want ErrBadSignature", err)
	}
	// The same instant written in another zone is the same attribute.
	same := tamper(t, ev, func(m map[string]json.RawMessage) {
		m["time"] = str(ev.Time.In(time.FixedZone("Tehran", 3*3600+1800)).Format(time.RFC3339Nano))
	})
	if err := same.Verify(ring); err != nil {
		t.Fatalf("the same time in another zone: %v", err)
	}
}

func flip(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}

func TestUnsignedAndUnknownKeysAreRefused(t *testing.T) {
	t.Parallel()
	k := testKey(t, "k1")
	ev := signedItem(t, k)
	unsigned, _ := item().Event()
	if err := unsigned.Verify(Keyring{k}); !errors.Is(err, ErrUnsigned) {
		t.Errorf("unsigned: %v, want ErrUnsigned", err)
	}
	half := ev
	half.Signature = ""
	if err := half.Verify(Keyring{k}); !errors.Is(err, ErrUnsigned) {
		t.Errorf("a key id without a signature: %v, want ErrUnsigned", err)
	}
	if err := ev.Verify(Keyring{testKey(t, "k9")}); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("a key the verifier does not hold: %v, want ErrUnknownKey", err)
	}
	// Same id, another secret: a forged key id gets nowhere.
	forged, err := NewSigningKey("k1", []byte(strings.Repeat("x", 40)))
	if err != nil {
		t.Fatal(err)
	}
	if err := signedItem(t, forged).Verify(Keyring{k}); !errors.Is(err, ErrBadSignature) {
		t.Errorf("signed with another secret under the same id: %v, want ErrBadSignature", err)
	}
	if err := ev.Verify(nil); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("an empty keyring: %v, want ErrUnknownKey", err)
	}
}

func TestDuringARotationBothKeysVerify(t *testing.T) {
	t.Parallel()
	oldKey, newKey := testKey(t, "2026-11"), testKey(t, "2026-12")
	ring := Keyring{newKey, oldKey}
	if a, _ := ring.Active(); a.ID() != "2026-12" {
		t.Fatalf("active key %s, want the first", a.ID())
	}
	for _, k := range ring {
		if err := signedItem(t, k).Verify(ring); err != nil {
			t.Errorf("signed with %s: %v", k.ID(), err)
		}
	}
	// Once the old key is dropped, its signatures are refused.
	if err := signedItem(t, oldKey).Verify(Keyring{newKey}); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("after the rotation: %v, want ErrUnknownKey", err)
	}
}

func TestTheCanonicalFormIsUnambiguous(t *testing.T) {
	t.Parallel()
	k := testKey(t, "k1")
	base := Event{ID: "id", Source: "/ab", Type: "c", Subject: "s", Time: time.Unix(0, 0), Key: "k", Data: json.RawMessage(`{}`)}
	moved := base
	moved.Source, moved.Type = "/a", "bc" // the same bytes, one field boundary moved
	a, _ := base.Sign(k)
	b, _ := moved.Sign(k)
	if a.Signature == b.Signature {
		t.Fatal("moving a character from one field to the next kept the signature")
	}
	if err := (Event{ID: base.ID, Source: moved.Source, Type: moved.Type, Subject: base.Subject, Time: base.Time,
		Key: base.Key, Data: a.Data, KeyID: a.KeyID, Signature: a.Signature}).Verify(Keyring{k}); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("a's signature on moved: %v", err)
	}
}

func TestASigningKeyNeverPrintsItsSecret(t *testing.T) {
	t.Parallel()
	secret := "the-secret-" + strings.Repeat("s", 40)
	k, err := NewSigningKey("k1", []byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v"} {
		for _, v := range []any{k, Keyring{k}, &k, struct{ K SigningKey }{k}} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, "the-secret") || strings.Contains(out, fmt.Sprintf("%x", secret[:8])) ||
				strings.Contains(out, fmt.Sprint([]byte(secret[:4]))[1:8]) {
				t.Errorf("%s of %T shows the secret: %s", verb, v, out)
			}
		}
	}
	for _, bad := range []struct{ id, secret string }{{"", secret}, {"has space", secret}, {"k1", "short"}} {
		_, err := NewSigningKey(bad.id, []byte(bad.secret))
		if err == nil {
			t.Errorf("NewSigningKey(%q, …) accepted", bad.id)
		} else if strings.Contains(err.Error(), bad.secret) {
			t.Errorf("the error quotes the secret: %v", err)
		}
	}
}
