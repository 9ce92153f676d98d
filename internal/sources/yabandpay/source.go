package yabandpay

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"regexp"
	"strings"
	"time"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources"
	"github.com/mizanhq/mizan/internal/sources/httpclient"
	"github.com/mizanhq/mizan/internal/sources/quarantine"
)

// Provider is YabandPay as a mizan source (sources.Provider), registered as "yabandpay": a merchant's
// balance in each configured currency.
type Provider struct{}

var _ sources.Provider = Provider{}

// Feeds is the balance only: YabandPay reports nothing else.
func (Provider) Feeds() []sources.Feed {
	return []sources.Feed{{Name: events.FeedBalance, Topic: events.TopicBalance}}
}

// block is a YabandPay source's own fields in the sources file.
type block struct {
	User         string   `yaml:"user"`
	APIURL       string   `yaml:"api_url"`
	SecretKeyEnv string   `yaml:"secret_key_env"`
	Currencies   []string `yaml:"currencies"`
}

var isoCurrency = regexp.MustCompile(`^[A-Z]{3}$`)

// Configure reads a YabandPay source's fields: user (the super-admin's UID), api_url (default
// DefaultAPIURL), secret_key_env (the variable holding the secret key) and currencies (ISO 4217 codes).
func (Provider) Configure(b sources.Block) (sources.Settings, error) {
	var f block
	if err := b.Decode(&f); err != nil {
		return nil, err
	}
	if f.User == "" || strings.ContainsAny(f.User, "/ \t") {
		return nil, fmt.Errorf("field user: %q is not a YabandPay user id", f.User)
	}
	s := Settings{User: f.User, APIURL: cmp.Or(f.APIURL, DefaultAPIURL)}
	if len(f.Currencies) == 0 {
		return nil, errors.New("field currencies: at least one currency is required")
	}
	for _, c := range f.Currencies {
		if !isoCurrency.MatchString(c) {
			return nil, fmt.Errorf("field currencies: %q is not an ISO 4217 code", c)
		}
	}
	s.Currencies = f.Currencies
	var err error
	if s.SecretKey, err = sources.EnvSecret(b.Getenv, "secret_key_env", f.SecretKeyEnv); err != nil {
		return nil, err
	}
	if err := sources.CheckURL("api_url", s.APIURL); err != nil {
		return nil, err
	}
	return s, nil
}

// Settings is one YabandPay source's checked settings.
type Settings struct {
	User       string         // the merchant's super-admin UID
	APIURL     string         // default DefaultAPIURL
	SecretKey  sources.Secret // signs every request; never sent
	Currencies []string       // the balances to ask for
	// Tune, if set, adjusts the client's Config before the client is made (tests, benchmarks).
	Tune func(*Config)
}

// Account is the merchant's UID.
func (s Settings) Account() string { return s.User }

// Open makes the Source. YabandPay's secret key never rotates: nothing is stored in the credential store.
func (s Settings) Open(env sources.Env) (sources.Source, error) {
	cfg := Config{APIURL: s.APIURL, User: s.User, SecretKey: s.SecretKey.Reveal(), Logger: env.Log, Now: env.Now}
	if s.Tune != nil {
		s.Tune(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return &Source{client: c, user: s.User, currencies: s.Currencies, now: cfg.Now}, nil
}

// Source polls one merchant's balances.
type Source struct {
	client     *Client
	user       string
	currencies []string
	now        func() time.Time
}

var (
	_ sources.Source = (*Source)(nil)
	_ sources.Prober = (*Source)(nil)
)

// Client is the source's client.
func (s *Source) Client() *Client { return s.client }

// Poll runs one poll of the balance feed: every configured currency, each on its own. An answer mizan cannot
// read is quarantined and the other currencies go on; a refusal (a wrong key, a user without the right)
// fails the poll, since it refuses every currency alike; a transient failure that outlasts the retries
// fails the poll after the others are published, with no watermark.
func (s *Source) Poll(ctx context.Context, req sources.PollRequest) iter.Seq2[sources.Step, error] {
	if req.Feed != events.FeedBalance {
		return sources.Failed(fmt.Errorf("yabandpay has no feed %q: %w", req.Feed, sources.ErrUnknownFeed))
	}
	return func(yield func(sources.Step, error) bool) {
		var evs []events.Event
		var failures []error
		var last time.Time
		lastEvent := ""
		for _, cur := range s.currencies {
			bal, body, err := s.client.balance(ctx, cur)
			if q, ok := quarantine.As(err); ok {
				// Figures the client could not trust: their fact is published, the other currencies go on.
				ev, qerr := q.Event()
				if qerr != nil {
					yield(sources.Step{Events: evs}, qerr)
					return
				}
				evs = append(evs, ev)
				continue
			}
			if err != nil {
				var apiErr *APIError
				switch {
				case ctx.Err() != nil, errors.As(err, &apiErr) && !apiErr.Retryable():
					yield(sources.Step{Events: evs}, fmt.Errorf("balance in %s: %w", cur, err))
					return
				case httpclient.Retryable(err):
					failures = append(failures, fmt.Errorf("balance in %s: %w", cur, err))
				default:
					raw := json.RawMessage("null")
					if json.Valid(body) {
						raw = append(json.RawMessage(nil), body...)
					}
					q := events.Quarantined{Provider: events.ProviderYabandPay, Account: s.user, Feed: events.FeedBalance,
						Endpoint: balanceCall(cur).endpoint(), ItemID: cur, Reason: err.Error(), ObservedAt: s.now().UTC(),
						Raw: raw}
					ev, qerr := q.Event()
					if qerr != nil {
						yield(sources.Step{Events: evs}, qerr)
						return
					}
					evs = append(evs, ev)
				}
				continue
			}
			ev, err := bal.Event()
			if err != nil {
				yield(sources.Step{Events: evs}, err)
				return
			}
			evs = append(evs, ev)
			last, lastEvent = bal.ObservedAt, ev.ID
		}
		step := sources.Step{Events: evs}
		if len(failures) == 0 && lastEvent != "" {
			step.Watermark = &events.Watermark{Provider: events.ProviderYabandPay, Account: s.user,
				Feed: events.FeedBalance, Through: last, PolledAt: last, Items: len(evs), LastEvent: lastEvent}
		}
		yield(step, errors.Join(failures...))
	}
}
