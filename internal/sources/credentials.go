package sources

import (
	"context"
	"time"
)

// Credentials is one source's credential store: named values (an access token, a refresh token, a raw
// refresh answer), sealed at rest (in production AES-256-GCM in poller.credentials, see internal/pollstate),
// and a lock that keeps two processes from renewing them at once. What the names mean is the provider's.
type Credentials interface {
	// Load returns every stored credential of the source by name; a name never stored is absent.
	Load(ctx context.Context) (map[string]Credential, error)
	// Save stores creds in one transaction, replacing those of the same names; a Credential with a nil Value
	// deletes its name. It returns only once the change is durable: a provider that rotates a credential
	// uses the new one only after Save returned nil.
	Save(ctx context.Context, creds map[string]Credential) error
	// Lock takes the source's credential lock, waiting for another process that holds it (up to ctx), and
	// returns its release. Held around a token refresh, it makes sure two pollers never refresh one pair.
	Lock(ctx context.Context) (release func(), err error)
}

// Credential is one stored credential.
type Credential struct {
	// Value is the credential itself; it is sealed at rest and never printed.
	Value []byte
	// ExpiresAt is when the provider said it expires; zero if it did not. Stored in the clear, so that an
	// operator can see when a source will need a new credential.
	ExpiresAt time.Time
	// UpdatedAt is when it was stored (set by the store on Load).
	UpdatedAt time.Time
}

// String redacts the value.
func (c Credential) String() string {
	return "sources.Credential{Value:[redacted] ExpiresAt:" + c.ExpiresAt.Format(time.RFC3339) + "}"
}

// GoString redacts the value for %#v.
func (c Credential) GoString() string { return c.String() }
