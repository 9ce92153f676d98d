package events

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"regexp"
	"time"
)

// Signatures: the poller signs every event it publishes with HMAC-SHA256, and the reconciler takes as a
// provider's fact only an event signed with one of its keys. Whoever can produce to the topics but does not
// hold a key can neither invent a fact nor shadow a genuine one by publishing its id first.
//
// The key id and the signature travel as CloudEvents extension attributes (lowercase letters and digits, at
// most 20 characters: the CloudEvents naming rule), so tools that read CloudEvents keep them.
const (
	AttrKeyID     = "mizankeyid"
	AttrSignature = "mizansig"
)

// signatureDomain opens the signed bytes: a MAC over mizan's event form can never be mistaken for a MAC over
// something else computed with the same key, and a later form gets a new domain.
const signatureDomain = "mizan.event.v1"

// MinSigningKeyLen is the shortest secret accepted, in bytes: HMAC-SHA256 is as strong as its key up to
// the hash's 32 bytes.
const MinSigningKeyLen = 32

// Errors of Verify; each is wrapped with the event's id.
var (
	// ErrUnsigned: the event carries no signature (or only half of one).
	ErrUnsigned = errors.New("unsigned event")
	// ErrUnknownKey: signed with a key id the verifier does not hold.
	ErrUnknownKey = errors.New("signed with an unknown key")
	// ErrBadSignature: the signature does not match the event: it was changed after signing, or signed with
	// another secret under the same key id.
	ErrBadSignature = errors.New("signature does not match the event")
)

var keyIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// SigningKey is one HMAC key and its id. Its secret cannot be read back, and printing a key with any verb
// shows only its id.
type SigningKey struct {
	id     string
	secret []byte
}

// NewSigningKey returns a key. The id is 1 to 64 letters, digits, '.', '_' or '-' (it travels in every event);
// the secret is at least MinSigningKeyLen bytes. Errors never quote the secret.
func NewSigningKey(id string, secret []byte) (SigningKey, error) {
	if !keyIDRE.MatchString(id) {
		return SigningKey{}, fmt.Errorf("signing key id %q: want 1 to 64 letters, digits, '.', '_' or '-'", id)
	}
	if len(secret) < MinSigningKeyLen {
		return SigningKey{}, fmt.Errorf("signing key %s: the secret is %d bytes, at least %d are needed", id, len(secret), MinSigningKeyLen)
	}
	return SigningKey{id: id, secret: append([]byte(nil), secret...)}, nil
}

// ID returns the key's id.
func (k SigningKey) ID() string { return k.id }

// String shows the id only.
func (k SigningKey) String() string { return "signing key " + k.id + " [redacted]" }

// GoString shows the id only.
func (k SigningKey) GoString() string { return k.String() }

// Format shows the id only, whatever the verb: without it %d or %x would print the secret's bytes.
func (k SigningKey) Format(f fmt.State, _ rune) { fmt.Fprint(f, k.String()) }

// Keyring is the keys a process holds, the active one first: a signer signs with Keyring[0]; a verifier
// accepts any of them, so that during a rotation events signed with the old key and with the new one are
// both accepted.
type Keyring []SigningKey

// Active returns the key new signatures are made with.
func (r Keyring) Active() (SigningKey, bool) {
	if len(r) == 0 {
		return SigningKey{}, false
	}
	return r[0], true
}

func (r Keyring) find(id string) (SigningKey, bool) {
	for _, k := range r {
		if k.id == id {
			return k, true
		}
	}
	return SigningKey{}, false
}

// Sign returns e signed with key: KeyID and Signature set, and Data in the exact form Marshal writes (JSON
// compacted, as encoding/json writes embedded raw JSON), so that the signed bytes are the bytes on the wire.
func (e Event) Sign(key SigningKey) (Event, error) {
	if key.secret == nil {
		return Event{}, errors.New("sign: no signing key")
	}
	wire, err := json.Marshal(e.Data)
	if err != nil {
		return Event{}, fmt.Errorf("sign event %s: data: %w", e.ID, err)
	}
	e.Data = wire
	e.KeyID = key.id
	e.Signature = base64.RawURLEncoding.EncodeToString(e.mac(key))
	return e, nil
}

// Verify checks that e is signed with a key of ring and unchanged since. The error wraps ErrUnsigned,
// ErrUnknownKey or ErrBadSignature and names the event and the key id, never a secret.
func (e Event) Verify(ring Keyring) error {
	if e.KeyID == "" || e.Signature == "" {
		return fmt.Errorf("event %s: %w (no %s or %s attribute)", e.ID, ErrUnsigned, AttrKeyID, AttrSignature)
	}
	key, ok := ring.find(e.KeyID)
	if !ok {
		return fmt.Errorf("event %s: %w %q", e.ID, ErrUnknownKey, e.KeyID)
	}
	sig, err := base64.RawURLEncoding.DecodeString(e.Signature)
	if err != nil || !hmac.Equal(sig, e.mac(key)) {
		return fmt.Errorf("event %s: %w (key %s)", e.ID, ErrBadSignature, e.KeyID)
	}
	return nil
}

// mac is HMAC-SHA256 over the event's canonical form: the domain, then the key id, id, source, type,
// subject, time (RFC 3339 in UTC, nanoseconds as needed), partition key and the data's exact bytes, each
// preceded by its length as 8 bytes big-endian. Length prefixes make the form unambiguous: no two different
// events have the same bytes, whatever their fields contain. The specversion and datacontenttype are not in
// it: Decode accepts only the one value of each that mizan reads.
func (e Event) mac(key SigningKey) []byte {
	m := hmac.New(sha256.New, key.secret)
	for _, f := range []string{signatureDomain, key.id, e.ID, e.Source, e.Type, e.Subject,
		e.Time.UTC().Format(time.RFC3339Nano), e.Key} {
		field(m, []byte(f))
	}
	field(m, e.Data)
	return m.Sum(nil)
}

func field(h hash.Hash, b []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	h.Write(n[:])
	h.Write(b)
}
