package pollstate

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

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
	rows, err := c.pool.Query(ctx, `
		SELECT name, sealed, expires_at, updated_at FROM poller.credentials WHERE source = $1`, c.source)
	if err != nil {
		return nil, fmt.Errorf("load credentials of %s: %w", c.source, err)
	}
	defer rows.Close()
	out := map[string]sources.Credential{}
	for rows.Next() {
		var name string
		var sealed []byte
		var expires *time.Time
		var cred sources.Credential
		if err := rows.Scan(&name, &sealed, &expires, &cred.UpdatedAt); err != nil {
			return nil, fmt.Errorf("load credentials of %s: %w", c.source, err)
		}
		plain, err := c.sealer.Open(c.source, sealed)
		if err != nil {
			return nil, fmt.Errorf("load credential %s of %s: %w", name, c.source, err)
		}
		cred.Value = []byte(plain)
		if expires != nil {
			cred.ExpiresAt = *expires
		}
		out[name] = cred
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load credentials of %s: %w", c.source, err)
	}
	return out, nil
}

// Save stores creds in one transaction; a nil Value deletes its name. It returns once the transaction has
// committed.
func (c *Credentials) Save(ctx context.Context, creds map[string]sources.Credential) error {
	return pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		for name, cred := range creds {
			if cred.Value == nil {
				if _, err := tx.Exec(ctx, `DELETE FROM poller.credentials WHERE source = $1 AND name = $2`,
					c.source, name); err != nil {
					return fmt.Errorf("save credentials of %s: delete %s: %w", c.source, name, err)
				}
				continue
			}
			sealed, err := c.sealer.Seal(c.source, string(cred.Value))
			if err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `
				INSERT INTO poller.credentials (source, name, sealed, expires_at, updated_at)
				VALUES ($1, $2, $3, $4, now())
				ON CONFLICT (source, name) DO UPDATE SET sealed = EXCLUDED.sealed,
					expires_at = EXCLUDED.expires_at, updated_at = now()`,
				c.source, name, sealed, nullTime(cred.ExpiresAt))
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
