package vandar

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"regexp"
	"time"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources"
)

// Provider is Vandar as a mizan source (sources.Provider), registered as "vandar": a business's statement,
// wallet balance, settlements and batch settlements.
type Provider struct{}

var _ sources.Provider = Provider{}

// Feeds are the balance first — the statement poll right after it then usually covers the moment the balance
// was observed, so a one-shot run gets its balance checked at once — then the statement and the payouts.
func (Provider) Feeds() []sources.Feed {
	return []sources.Feed{
		{Name: events.FeedBalance, Topic: events.TopicBalance},
		{Name: events.FeedStatement, Topic: events.TopicStatement},
		{Name: events.FeedSettlements, Topic: events.TopicSettlement},
		{Name: events.FeedBatches, Topic: events.TopicBatch},
	}
}

// block is a Vandar source's own fields in the sources file.
type block struct {
	Business        string `yaml:"business"`
	APIURL          string `yaml:"api_url"`
	BatchURL        string `yaml:"batch_url"`
	AccessTokenEnv  string `yaml:"access_token_env"`
	RefreshTokenEnv string `yaml:"refresh_token_env"`
}

var slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// Configure reads a Vandar source's fields: business (the slug), api_url and batch_url (defaults
// DefaultAPIURL, DefaultBatchURL), and the names of the environment variables holding the dashboard's
// token pair (access_token_env, refresh_token_env).
func (Provider) Configure(b sources.Block) (sources.Settings, error) {
	var f block
	if err := b.Decode(&f); err != nil {
		return nil, err
	}
	if !slugRE.MatchString(f.Business) {
		return nil, fmt.Errorf("field business: %q is not a Vandar business slug", f.Business)
	}
	s := Settings{Business: f.Business, APIURL: cmp.Or(f.APIURL, DefaultAPIURL), BatchURL: cmp.Or(f.BatchURL, DefaultBatchURL)}
	var err error
	if s.AccessToken, err = sources.EnvSecret(b.Getenv, "access_token_env", f.AccessTokenEnv); err != nil {
		return nil, err
	}
	if s.RefreshToken, err = sources.EnvSecret(b.Getenv, "refresh_token_env", f.RefreshTokenEnv); err != nil {
		return nil, err
	}
	if err := sources.CheckURL("api_url", s.APIURL); err != nil {
		return nil, err
	}
	if err := sources.CheckURL("batch_url", s.BatchURL); err != nil {
		return nil, err
	}
	return s, nil
}

// Settings is one Vandar source's checked settings.
type Settings struct {
	Business string // the business's slug
	APIURL   string // default DefaultAPIURL
	BatchURL string // default DefaultBatchURL
	// AccessToken and RefreshToken are the pair issued in Vandar's dashboard: the seed, used until the first
	// refresh has stored a pair of its own (see Config.Seed).
	AccessToken  sources.Secret
	RefreshToken sources.Secret
	// Tune, if set, adjusts the client's Config before the client is made: tests and benchmarks use it to
	// lift rate limits or shorten retries. Production leaves it nil.
	Tune func(*Config)
}

// Account is the business slug.
func (s Settings) Account() string { return s.Business }

// Open makes the Source.
func (s Settings) Open(env sources.Env) (sources.Source, error) {
	cfg := Config{APIURL: s.APIURL, BatchURL: s.BatchURL, Business: s.Business, Credentials: env.Credentials,
		Seed: Tokens{Access: s.AccessToken.Reveal(), Refresh: s.RefreshToken.Reveal()}, Logger: env.Log, Now: env.Now}
	if s.Tune != nil {
		s.Tune(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return &Source{client: c, business: s.Business, log: c.log, now: c.now}, nil
}

// Source polls one business's feeds (sources.Source) and probes its endpoints (sources.Prober).
type Source struct {
	client   *Client
	business string
	log      *slog.Logger
	now      func() time.Time
}

var (
	_ sources.Source = (*Source)(nil)
	_ sources.Prober = (*Source)(nil)
)

// Client is the source's client.
func (s *Source) Client() *Client { return s.client }

// Poll runs one poll of a feed; see the pollStatement, pollBalance, pollSettlements and pollBatches for what
// each reads.
func (s *Source) Poll(ctx context.Context, req sources.PollRequest) iter.Seq2[sources.Step, error] {
	switch req.Feed {
	case events.FeedStatement:
		return s.pollStatement(ctx, req)
	case events.FeedBalance:
		return s.pollBalance(ctx)
	case events.FeedSettlements:
		return s.pollSettlements(ctx, req)
	case events.FeedBatches:
		return s.pollBatches(ctx, req)
	}
	return sources.Failed(fmt.Errorf("vandar has no feed %q: %w", req.Feed, sources.ErrUnknownFeed))
}

// errStopped is what a poll's steps return once the poller has stopped asking for them.
var errStopped = errors.New("poll stopped by its caller")

// decodeCursor reads a feed's saved cursor; nil (never saved) leaves v as it is.
func decodeCursor(raw []byte, v any) error {
	if len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("stored cursor is not valid: %w", err)
	}
	return nil
}
