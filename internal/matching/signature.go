package matching

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Expectations come from the business's systems, not from the poller, and are not signed with the poller's
// key. Who may write their topic is a Kafka ACL (docs/matching.md). A deployment may also require them to be
// signed with the business's own keys: set MIZAN_EXPECTATION_KEYS, and the reconciler checks every expectation
// record with Keys.Verify before anything of it is written (internal/reconciler, decode.go), refusing one
// without a valid signature by a listed key as untrusted — a dead letter and an alert, like the trust gate's
// refusals. It is checked there and not as a trust.Rule because a rule sees the decoded event, not the record's
// bytes and headers. Off by default: unset, expectations are believed unsigned.
//
// The signature is Ed25519 over the Kafka record's value exactly as sent, carried in the record header
// SignatureHeader as "<key id>:<base64 signature>". Ed25519 keeps the secret with the business: mizan holds only
// public keys, so a reconciler's configuration cannot be used to forge an expectation. A dead letter keeps the
// value but not the headers, so `reconciler dlq replay` cannot check an expectation's signature again: where
// signatures are required, the business publishes a refused expectation again, signed.

// SignatureHeader is the Kafka record header an expectation's signature travels in.
const SignatureHeader = "mizan-expectation-signature"

// KeysEnv names the environment variable listing the public keys: "id=base64key[,id=base64key…]", each key
// the 32 bytes of an Ed25519 public key in standard base64.
const KeysEnv = "MIZAN_EXPECTATION_KEYS"

// Keys are the public keys expectations must be signed with, by key id. Empty: no signature is required.
type Keys map[string]ed25519.PublicKey

// ReadKeys reads MIZAN_EXPECTATION_KEYS (unset: none, signatures not required).
func ReadKeys(getenv func(string) string) (Keys, error) {
	k, err := ParseKeys(getenv(KeysEnv))
	if err != nil {
		return nil, fmt.Errorf("environment: %s: %w", KeysEnv, err)
	}
	return k, nil
}

// ParseKeys reads "id=base64key,…". Its errors name an entry by its place, or by its id once that reads as
// one, never by the key: an error message ends up in logs, and what is pasted into the wrong variable may be a
// private key.
func ParseKeys(s string) (Keys, error) {
	keys := Keys{}
	n := 0
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n++
		id, b64, ok := strings.Cut(part, "=")
		if !ok || id == "" || strings.ContainsAny(id, ": ") {
			return nil, fmt.Errorf("entry %d is not id=base64key (an id without ':' or spaces)", n)
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
		if err != nil || len(raw) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("key %s is not a base64 Ed25519 public key (%d bytes)", id, ed25519.PublicKeySize)
		}
		if _, dup := keys[id]; dup {
			return nil, fmt.Errorf("key id %s twice", id)
		}
		keys[id] = ed25519.PublicKey(raw)
	}
	return keys, nil
}

// Required says whether expectations must be signed.
func (k Keys) Required() bool { return len(k) > 0 }

// ErrSignature marks an expectation refused for its signature: a message fault, never retried.
var ErrSignature = errors.New("expectation signature")

// Verify checks an expectation record: value is the record's value as received, header the SignatureHeader's
// value ("" if absent). With no keys configured everything passes; otherwise the signature must be valid
// under the key it names.
func (k Keys) Verify(value []byte, header string) error {
	if !k.Required() {
		return nil
	}
	if header == "" {
		return fmt.Errorf("%w: missing (header %s); this deployment requires expectations signed by one of its keys",
			ErrSignature, SignatureHeader)
	}
	id, b64, ok := strings.Cut(header, ":")
	if !ok {
		return fmt.Errorf("%w: header %s is not <key id>:<base64 signature>", ErrSignature, SignatureHeader)
	}
	pub, known := k[id]
	if !known {
		return fmt.Errorf("%w: unknown key id %q", ErrSignature, id)
	}
	sig, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || !ed25519.Verify(pub, value, sig) {
		return fmt.Errorf("%w: not a valid signature of this record by key %s", ErrSignature, id)
	}
	return nil
}

// Sign makes the SignatureHeader value for a record value: what a business's producer (or a test) sends.
func Sign(keyID string, priv ed25519.PrivateKey, value []byte) string {
	return keyID + ":" + base64.StdEncoding.EncodeToString(ed25519.Sign(priv, value))
}
