package trust

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mizanhq/mizan/internal/config"
	"github.com/mizanhq/mizan/internal/events"
)

// Publisher sends events to a topic: the poller's view of Kafka (poller.Publisher).
type Publisher interface {
	Publish(ctx context.Context, topic string, evs []events.Event) error
}

// SigningPublisher signs every event with the active key of a keyring before handing it on: what `poller`
// publishes through, so that the reconciler can tell its facts from anybody else's.
type SigningPublisher struct {
	next Publisher
	key  events.SigningKey
}

// NewSigningPublisher returns a publisher that signs with ring's active (first) key and publishes to next.
func NewSigningPublisher(next Publisher, ring events.Keyring) (*SigningPublisher, error) {
	key, ok := ring.Active()
	if !ok {
		return nil, errors.New("trust: no signing key")
	}
	return &SigningPublisher{next: next, key: key}, nil
}

// Publish signs evs and publishes them to topic.
func (p *SigningPublisher) Publish(ctx context.Context, topic string, evs []events.Event) error {
	signed := make([]events.Event, len(evs))
	for i, ev := range evs {
		s, err := ev.Sign(p.key)
		if err != nil {
			return err
		}
		signed[i] = s
	}
	return p.next.Publish(ctx, topic, signed)
}

// Execer runs a statement: a *pgxpool.Pool.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Register records the provider accounts of sources in recon.sources, the sources the reconciler accepts
// facts for. A source already registered stays as it was. command names who registers (poller, reconciler);
// the host is added, so an operator can tell where a source came from.
func Register(ctx context.Context, db Execer, sources config.Sources, command string) error {
	if len(sources.Sources) == 0 {
		return nil
	}
	by := command
	if host, err := os.Hostname(); err == nil {
		by += "@" + host
	}
	providers := make([]string, len(sources.Sources))
	accounts := make([]string, len(sources.Sources))
	names := make([]string, len(sources.Sources))
	for i, s := range sources.Sources {
		providers[i], accounts[i], names[i] = s.Provider, s.Account(), s.Name
	}
	if _, err := db.Exec(ctx, `
		INSERT INTO recon.sources (provider, account, source, registered_by)
		SELECT u.provider, u.account, u.source, $4
		FROM unnest($1::text[], $2::text[], $3::text[]) AS u(provider, account, source)
		ON CONFLICT (provider, account) DO NOTHING`, providers, accounts, names, by); err != nil {
		return fmt.Errorf("register %d sources in recon.sources: %w", len(names), err)
	}
	// Their feeds too: what the reconciler waits for before it judges by "every feed has been applied".
	var fp, fa, ff []string
	for _, s := range sources.Sources {
		for feed := range s.Feeds {
			fp, fa, ff = append(fp, s.Provider), append(fa, s.Account()), append(ff, feed)
		}
	}
	if _, err := db.Exec(ctx, `
		INSERT INTO recon.source_feeds (provider, account, feed)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
		ON CONFLICT DO NOTHING`, fp, fa, ff); err != nil {
		return fmt.Errorf("register the feeds of %d sources in recon.source_feeds: %w", len(names), err)
	}
	return nil
}
