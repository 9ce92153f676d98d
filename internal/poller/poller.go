// Package poller runs mizan's sources: it asks each provider for what changed, turns the answers into events,
// publishes them to Kafka, and only then moves the source's cursor in PostgreSQL.
//
// Publish-then-advance is what makes delivery at-least-once: a crash between the two re-publishes a page,
// and the events' deterministic ids make the reconciler skip what it has seen.
package poller

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/robfig/cron/v3"

	"github.com/mizanhq/mizan/internal/config"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/metrics"
	"github.com/mizanhq/mizan/internal/pollstate"
	"github.com/mizanhq/mizan/internal/sources/vandar"
	"github.com/mizanhq/mizan/internal/sources/yabandpay"
)

// Publisher sends a batch of events to a topic (a base name such as events.TopicStatement; the publisher
// applies any deployment prefix) and returns once every one is acknowledged by all in-sync replicas.
type Publisher interface {
	Publish(ctx context.Context, topic string, evs []events.Event) error
}

// Config tunes a Poller. Zero values take the documented defaults.
type Config struct {
	// RereadWindow is how far back the statement feed re-reads items it has already passed, to see their
	// status changes. Default 48h (the "last 2 days"); Vandar filters by whole Tehran days.
	RereadWindow time.Duration
	// SettleDelay keeps the newest items for the next poll: only items created and effective before
	// now − SettleDelay are published, so an item the provider is still writing is never half-seen and the
	// watermark holds. Default 10s; negative means none (tests on a frozen clock).
	SettleDelay time.Duration
	// PageSize is the statement page size; Vandar's maximum, 100, is the default.
	PageSize int
	// Now is the clock; default time.Now.
	Now func() time.Time
	// HTTPTimeout bounds one provider request. Default 30s.
	HTTPTimeout time.Duration
	// Metrics receives the poller's metrics. Default: a registry nobody scrapes.
	Metrics *metrics.Registry
}

// Poller polls the configured sources.
type Poller struct {
	cfg     Config
	sources config.Sources
	pool    *pgxpool.Pool
	pub     Publisher
	sealer  *pollstate.Sealer
	cursors *pollstate.Cursors
	log     *slog.Logger

	// slots bounds the polls running at once to half the database pool: each poll holds one connection for
	// its advisory lock and needs another for its cursor and token queries, so more concurrent polls than
	// that could take every connection and wait on each other forever.
	slots chan struct{}

	mu        sync.Mutex
	clients   map[string]*vandar.Client
	yabandpay map[string]*yabandpay.Client
}

// New returns a Poller. secretKey encrypts the stored provider tokens.
func New(cfg Config, sources config.Sources, pool *pgxpool.Pool, pub Publisher, secretKey config.Secret, log *slog.Logger) (*Poller, error) {
	sealer, err := pollstate.NewSealer(secretKey.Reveal())
	if err != nil {
		return nil, err
	}
	cfg.RereadWindow = cmp.Or(cfg.RereadWindow, 48*time.Hour)
	cfg.SettleDelay = cmp.Or(cfg.SettleDelay, 10*time.Second)
	if cfg.SettleDelay < 0 {
		cfg.SettleDelay = 0
	}
	cfg.PageSize = cmp.Or(cfg.PageSize, 100)
	cfg.HTTPTimeout = cmp.Or(cfg.HTTPTimeout, 30*time.Second)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	pub = countingPublisher{pub, cfg.Metrics}
	return &Poller{cfg: cfg, sources: sources, pool: pool, pub: pub, sealer: sealer,
		slots:   make(chan struct{}, max(1, int(pool.Config().MaxConns)/2)),
		cursors: pollstate.NewCursors(pool), log: log, clients: map[string]*vandar.Client{},
		yabandpay: map[string]*yabandpay.Client{}}, nil
}

// Once polls every feed of one source (or of every source when name is ""), each once. It returns an error
// naming every feed that failed, after trying them all.
func (p *Poller) Once(ctx context.Context, name string) error { return p.OnceFeed(ctx, name, "") }

// OnceFeed is Once limited to one feed ("" for all): a CronJob per feed keeps each feed's own cadence.
func (p *Poller) OnceFeed(ctx context.Context, name, feed string) error {
	var srcs []config.Source
	if name == "" {
		srcs = p.sources.Sources
	} else {
		src, ok := p.sources.Find(name)
		if !ok {
			return fmt.Errorf("no source named %q in the sources file", name)
		}
		srcs = []config.Source{src}
	}
	var errs []error
	polled := false
	for _, src := range srcs {
		for _, f := range feedOrder(src) {
			if feed != "" && f != feed {
				continue
			}
			polled = true
			if err := p.PollFeed(ctx, src, f); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if !polled {
		return fmt.Errorf("no source has a feed %q", feed)
	}
	return errors.Join(errs...)
}

// feedOrder polls the balance first: the statement poll right after it then usually covers the moment the
// balance was observed, so a one-shot run (`poller once`) gets its balance checked at once.
func feedOrder(src config.Source) []string {
	var out []string
	for _, f := range []string{events.FeedBalance, events.FeedStatement, events.FeedSettlements, events.FeedBatches} {
		if _, ok := src.Feeds[f]; ok {
			out = append(out, f)
		}
	}
	return out
}

// Run schedules every feed of every source on its cron spec until ctx is done. A tick that finds the previous
// one still running is skipped, not queued; the advisory lock also skips a tick another replica is running.
func (p *Poller) Run(ctx context.Context) error {
	c := cron.New(cron.WithParser(cronParser{}), cron.WithChain(cron.SkipIfStillRunning(cronLogger{p.log})))
	for _, src := range p.sources.Sources {
		for _, feed := range feedOrder(src) {
			src, feed := src, feed
			if _, err := c.AddFunc(src.Feeds[feed], func() {
				if err := p.PollFeed(ctx, src, feed); err != nil && ctx.Err() == nil {
					p.log.Error("poll failed", "source", src.Name, "feed", feed, "err", err)
				}
			}); err != nil {
				return fmt.Errorf("source %s: feed %s: %w", src.Name, feed, err)
			}
		}
	}
	c.Start()
	p.log.Info("poller scheduled", "sources", len(p.sources.Sources))
	<-ctx.Done()
	// Wait for running polls: each finishes the page it is publishing and saves its cursor.
	<-c.Stop().Done()
	return nil
}

// PollFeed polls one feed of one source once, under the source's advisory lock.
func (p *Poller) PollFeed(ctx context.Context, src config.Source, feed string) error {
	select {
	case p.slots <- struct{}{}:
		defer func() { <-p.slots }()
	case <-ctx.Done():
		return ctx.Err()
	}
	began := time.Now()
	release, err := pollstate.Lock(ctx, p.pool, src.Name+"/"+feed)
	if errors.Is(err, pollstate.ErrLocked) {
		p.log.Info("poll skipped: another process is polling it", "source", src.Name, "feed", feed)
		p.cfg.Metrics.PollDuration.WithLabelValues(src.Name, feed, metrics.PollSkipped).Observe(time.Since(began).Seconds())
		return nil
	}
	if err != nil {
		return err
	}
	defer release()
	start := p.cfg.Now()
	n, err := p.pollFeed(ctx, src, feed, start)
	outcome := metrics.PollOK
	if err != nil {
		outcome = metrics.PollError
	}
	p.cfg.Metrics.PollDuration.WithLabelValues(src.Name, feed, outcome).Observe(time.Since(began).Seconds())
	p.cfg.Metrics.ItemsFetched.WithLabelValues(src.Name, feed).Add(float64(n))
	log := p.log.With("source", src.Name, "provider", src.Provider, "account", src.Account, "feed", feed,
		"items", n, "duration", time.Since(start).Round(time.Millisecond))
	if err != nil {
		log.Error("poll failed", "err", err)
		return fmt.Errorf("source %s feed %s: %w", src.Name, feed, err)
	}
	log.Info("poll complete")
	return nil
}

func (p *Poller) pollFeed(ctx context.Context, src config.Source, feed string, start time.Time) (int, error) {
	switch {
	case src.Provider == events.ProviderVandar && feed == events.FeedStatement:
		return p.pollVandarStatement(ctx, src, start)
	case src.Provider == events.ProviderVandar && feed == events.FeedBalance:
		return p.pollVandarBalance(ctx, src)
	case src.Provider == events.ProviderVandar && feed == events.FeedSettlements:
		return p.pollVandarSettlements(ctx, src, start)
	case src.Provider == events.ProviderVandar && feed == events.FeedBatches:
		return p.pollVandarBatches(ctx, src, start)
	case src.Provider == events.ProviderYabandPay && feed == events.FeedBalance:
		return p.pollYabandPayBalance(ctx, src)
	}
	return 0, fmt.Errorf("feed %s of %s is not implemented yet", feed, src.Provider)
}

func (p *Poller) vandarClient(src config.Source) (*vandar.Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.clients[src.Name]; ok {
		return c, nil
	}
	c, err := vandar.New(vandar.Config{
		APIURL:   src.APIURL,
		BatchURL: src.BatchURL,
		Business: src.Account,
		Tokens:   pollstate.NewTokens(p.pool, p.sealer, src.Name, src.AccessToken.Reveal(), src.RefreshToken.Reveal()),
		Logger:   p.log.With("source", src.Name),
		Now:      p.cfg.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", src.Name, err)
	}
	p.clients[src.Name] = c
	return c, nil
}

func (p *Poller) pollVandarStatement(ctx context.Context, src config.Source, start time.Time) (int, error) {
	client, err := p.vandarClient(src)
	if err != nil {
		return 0, err
	}
	var cur statementCursor
	if _, err := p.cursors.Load(ctx, src.Name, events.FeedStatement, &cur); err != nil {
		return 0, err
	}
	cutoff := start.Add(-p.cfg.SettleDelay)
	topic := events.TopicStatement
	poll := &statementPoll{
		client: client,
		// A page being published when shutdown is asked for is finished, and its cursor saved: fetching
		// stops at once, but the work already fetched is not thrown away.
		publish: func(ctx context.Context, evs []events.Event) error {
			ctx, cancel := finishing(ctx)
			defer cancel()
			return p.pub.Publish(ctx, topic, evs)
		},
		save: func(ctx context.Context, c statementCursor) error {
			ctx, cancel := finishing(ctx)
			defer cancel()
			return p.cursors.Save(ctx, src.Name, events.FeedStatement, c)
		},
		cursor:   cur,
		cutoff:   cutoff,
		window:   cutoff.Add(-p.cfg.RereadWindow),
		pageSize: p.cfg.PageSize,
	}
	n, err := poll.run(ctx)
	if err != nil {
		return n, err
	}
	return n, p.publishWatermark(ctx, src, events.Watermark{Feed: events.FeedStatement, Through: cutoff,
		PolledAt: start, Items: n, LastEvent: poll.cursor.LastEvent, Duplicates: poll.duplicates})
}

func (p *Poller) pollVandarBalance(ctx context.Context, src config.Source) (int, error) {
	client, err := p.vandarClient(src)
	if err != nil {
		return 0, err
	}
	bal, err := client.Balance(ctx)
	if err != nil {
		return 0, err
	}
	ev, err := bal.Event()
	if err != nil {
		return 0, err
	}
	if err := p.pub.Publish(ctx, events.TopicBalance, []events.Event{ev}); err != nil {
		return 0, err
	}
	return 1, p.publishWatermark(ctx, src, events.Watermark{Feed: events.FeedBalance, Through: bal.ObservedAt,
		PolledAt: bal.ObservedAt, Items: 1, LastEvent: ev.ID})
}

func (p *Poller) yabandPayClient(src config.Source) (*yabandpay.Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.yabandpay[src.Name]; ok {
		return c, nil
	}
	c, err := yabandpay.New(yabandpay.Config{APIURL: src.APIURL, User: src.Account, SecretKey: src.SecretKey.Reveal(),
		Logger: p.log.With("source", src.Name), Now: p.cfg.Now})
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", src.Name, err)
	}
	p.yabandpay[src.Name] = c
	return c, nil
}

// pollYabandPayBalance asks for every configured currency's balance and publishes them together.
func (p *Poller) pollYabandPayBalance(ctx context.Context, src config.Source) (int, error) {
	client, err := p.yabandPayClient(src)
	if err != nil {
		return 0, err
	}
	var evs []events.Event
	var last time.Time
	for _, cur := range src.Currencies {
		bal, err := client.Balance(ctx, cur)
		if err != nil {
			return 0, fmt.Errorf("balance in %s: %w", cur, err)
		}
		ev, err := bal.Event()
		if err != nil {
			return 0, err
		}
		evs = append(evs, ev)
		last = bal.ObservedAt
	}
	if err := p.pub.Publish(ctx, events.TopicBalance, evs); err != nil {
		return 0, err
	}
	return len(evs), p.publishWatermark(ctx, src, events.Watermark{Feed: events.FeedBalance, Through: last,
		PolledAt: last, Items: len(evs), LastEvent: evs[len(evs)-1].ID})
}

// publishWatermark tells the reconciler how far a feed's data now reaches.
func (p *Poller) publishWatermark(ctx context.Context, src config.Source, w events.Watermark) error {
	w.Provider, w.Account, w.Source = src.Provider, src.Account, src.Name
	ev, err := w.Event()
	if err != nil {
		return err
	}
	return p.pub.Publish(ctx, events.TopicWatermark, []events.Event{ev})
}

// countingPublisher counts what Kafka acknowledged.
type countingPublisher struct {
	Publisher
	m *metrics.Registry
}

func (c countingPublisher) Publish(ctx context.Context, topic string, evs []events.Event) error {
	if err := c.Publisher.Publish(ctx, topic, evs); err != nil {
		return err
	}
	c.m.EventsPublished.WithLabelValues(topic).Add(float64(len(evs)))
	return nil
}

// cronParser makes the scheduler accept exactly what config validated.
type cronParser struct{}

func (cronParser) Parse(spec string) (cron.Schedule, error) { return config.ParseCron(spec) }

// cronLogger routes robfig/cron's messages to slog.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) { l.log.Info("cron: "+msg, kv...) }
func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append(kv, "err", err)...)
}

// finishing detaches ctx from cancellation for work that must complete once started, within a bound.
func finishing(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
}
