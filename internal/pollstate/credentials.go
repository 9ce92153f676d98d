package pollstate

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mizanhq/mizan/internal/pollstate/pollstatedb"
	"github.com/mizanhq/mizan/internal/sources"
)

// Credentials is one source's credential store in poller.credentials: each named value sealed with the
// Sealer, its expiry in the clear. It implements sources.Credentials; what the names mean is the provider's.
type Credentials struct {
	pool   *pgxpool.Pool
	sealer *Sealer
	source string
}

// NewCredentials returns the credential store of source.
func NewCredentials(pool *pgxpool.Pool, sealer *Sealer, source string) *Credentials {
	return &Credentials{pool: pool, sealer: sealer, source: source}
}

var _ sources.Credentials = (*Credentials)(nil)

// Load returns every credential stored for the source, opened.
func (c *Credentials) Load(ctx context.Context) (map[string]sources.Credential, error) {
	rows, err := pollstatedb.New(c.pool).LoadCredentials(ctx, c.source)
	if err != nil {
		return nil, fmt.Errorf("load credentials of %s: %w", c.source, err)
	}
	out := map[string]sources.Credential{}
	for _, row := range rows {
		plain, err := c.sealer.Open(c.source, row.Sealed)
		if err != nil {
			return nil, fmt.Errorf("load credential %s of %s: %w", row.Name, c.source, err)
		}
		cred := sources.Credential{Value: []byte(plain), UpdatedAt: row.UpdatedAt}
		if row.ExpiresAt != nil {
			cred.ExpiresAt = *row.ExpiresAt
		}
		out[row.Name] = cred
	}
	return out, nil
}

// Save stores creds in one transaction; a nil Value deletes its name. It returns once the transaction has
// committed.
func (c *Credentials) Save(ctx context.Context, creds map[string]sources.Credential) error {
	return pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		q := pollstatedb.New(tx)
		for name, cred := range creds {
			if cred.Value == nil {
				if err := q.DeleteCredential(ctx, pollstatedb.DeleteCredentialParams{Source: c.source, Name: name}); err != nil {
					return fmt.Errorf("save credentials of %s: delete %s: %w", c.source, name, err)
				}
				continue
			}
			sealed, err := c.sealer.Seal(c.source, string(cred.Value))
			if err != nil {
				return err
			}
			err = q.SaveCredential(ctx, pollstatedb.SaveCredentialParams{Source: c.source, Name: name, Sealed: sealed,
				ExpiresAt: nullTime(cred.ExpiresAt)})
			if err != nil {
				return fmt.Errorf("save credentials of %s: %s: %w", c.source, name, err)
			}
		}
		return nil
	})
}

// Lock takes the source's credential lock: a session-level advisory lock on a connection of its own,
// waited for (up to ctx) rather than skipped, since the caller needs a credential to go on. PostgreSQL drops
// it with the session if the process dies.
func (c *Credentials) Lock(ctx context.Context) (func(), error) {
	return lockWait(ctx, c.pool, "credentials:"+c.source)
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
