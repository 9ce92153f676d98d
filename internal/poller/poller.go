// Package poller runs mizan's sources: it asks each source for what changed, publishes the events to Kafka,
// and only then moves the feed's cursor in PostgreSQL.
//
// Publish-then-advance is what makes delivery at-least-once: a crash between the two re-publishes a page,
// and the events' deterministic ids make the reconciler skip what it has seen.
//
// The poller knows no provider. A source is a sources.Source, opened from the settings its provider read
// from the sources file (config.Source), found by name in the registry cmd/poller passes in; what a feed
// reads, how it pages and what its cursor means are the source's. The poller owns the schedule, the advisory
// lock per source and feed, the publish-then-save order, the watermarks' source names and the metrics.
package poller

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/robfig/cron/v3"

	"github.com/mizanhq/mizan/internal/config"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/metrics"
	"github.com/mizanhq/mizan/internal/pollstate"
	"github.com/mizanhq/mizan/internal/sources"
	"github.com/mizanhq/mizan/internal/testpoint"
)

// Publisher sends a batch of events to a topic (a base name such as events.TopicStatement; the publisher
// applies any deployment prefix) and returns once every one is acknowledged by all in-sync replicas.
type Publisher interface {
	Publish(ctx context.Context, topic string, evs []events.Event) error
}

// Config tunes a Poller. Zero values take the documented defaults.
type Config struct {
	// RereadWindow is how far back a feed re-reads what it has already passed, to see status changes.
	// Default 48h (the "last 2 days"); Vandar filters by whole Tehran days.
	RereadWindow time.Duration
	// SettleDelay keeps the newest items for the next poll: only items created and effective before
	// now − SettleDelay are published, so an item the provider is still writing is never half-seen and the
	// watermark holds. Default 10s; negative means none (tests on a frozen clock).
	SettleDelay time.Duration
	// PageSize is the page size a source asks for where the provider lets it choose; 0: the provider's
	// maximum (Vandar's statement: 100).
	PageSize int
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Metrics receives the poller's metrics. Default: a registry nobody scrapes.
	Metrics *metrics.Poller
	// TopicPrefix is the deployment's topic prefix (MIZAN_TOPIC_PREFIX), so that the metrics name each topic
	// as the brokers know it.
	TopicPrefix string
	// ProgressEvery is how often a poll still running (a backfill walking many pages) logs its progress.
	// Default 10s.
	ProgressEvery time.Duration
	// NewTicker makes the ticker that paces the progress reports: it returns the ticks and a function that
	// stops them. Default: a time.Ticker. Tests pass ticks they send themselves.
	NewTicker func(d time.Duration) (ticks <-chan time.Time, stop func())
}

// Poller polls the configured sources.
type Poller struct {
	cfg       Config
	providers sources.Registry
	sources   config.Sources
	pool      *pgxpool.Pool
	pub       Publisher
	sealer    *pollstate.Sealer
	cursors   *pollstate.Cursors
	log       *slog.Logger

	// slots bounds the polls running at once to half the database pool: each poll holds one connection for
	// its advisory lock and needs another for its cursor and credential queries, so more concurrent polls
	// than that could take every connection and wait on each other forever.
	slots chan struct{}

	mu     sync.Mutex
	opened map[string]sources.Source
}

// New returns a Poller for srcs, whose providers are found in providers. secretKey seals the credentials
// sources store.
func New(cfg Config, providers sources.Registry, srcs config.Sources, pool *pgxpool.Pool, pub Publisher,
	secretKey config.Secret, log *slog.Logger) (*Poller, error) {
	sealer, err := pollstate.NewSealer(secretKey.Reveal())
	if err != nil {
		return nil, err
	}
	for _, src := range srcs.Sources {
		if _, ok := providers.Lookup(src.Provider); !ok {
			return nil, fmt.Errorf("source %s: no provider %q is registered", src.Name, src.Provider)
		}
		if src.Settings == nil {
			return nil, fmt.Errorf("source %s: no settings", src.Name)
		}
	}
	cfg.RereadWindow = cmp.Or(cfg.RereadWindow, 48*time.Hour)
	cfg.SettleDelay = cmp.Or(cfg.SettleDelay, 10*time.Second)
	if cfg.SettleDelay < 0 {
		cfg.SettleDelay = 0
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewPoller(metrics.Build{})
	}
	cfg.ProgressEvery = cmp.Or(cfg.ProgressEvery, 10*time.Second)
	if cfg.NewTicker == nil {
		cfg.NewTicker = func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		}
	}
	pub = countingPublisher{pub, cfg.Metrics, cfg.TopicPrefix}
	return &Poller{cfg: cfg, providers: providers, sources: srcs, pool: pool, pub: pub, sealer: sealer,
		slots:   make(chan struct{}, max(1, int(pool.Config().MaxConns)/2)),
		cursors: pollstate.NewCursors(pool), log: log, opened: map[string]sources.Source{}}, nil
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
	type job struct {
		src  config.Source
		feed string
	}
	var jobs []job
	for _, src := range srcs {
		for _, f := range p.feedOrder(src) {
			if feed == "" || f.Name == feed {
				jobs = append(jobs, job{src, f.Name})
				p.declare(src, f)
			}
		}
	}
	if len(jobs) == 0 {
		return fmt.Errorf("no source has a feed %q", feed)
	}
	var errs []error
	for _, j := range jobs {
		if err := p.PollFeed(ctx, j.src, j.feed); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// declare makes the metrics of a feed this process polls exist from the start, at zero.
func (p *Poller) declare(src config.Source, f sources.Feed) {
	p.cfg.Metrics.Feed(src.Name, f.Name)
	p.cfg.Metrics.Topic(p.cfg.TopicPrefix + f.Topic)
	p.cfg.Metrics.Topic(p.cfg.TopicPrefix + events.TopicWatermark)
}

// feedOrder is the source's configured feeds in its provider's order.
func (p *Poller) feedOrder(src config.Source) []sources.Feed {
	prov, _ := p.providers.Lookup(src.Provider)
	var out []sources.Feed
	for _, f := range prov.Feeds() {
		if _, ok := src.Feeds[f.Name]; ok {
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
		for _, feed := range p.feedOrder(src) {
			p.declare(src, feed)
			if _, err := c.AddFunc(src.Feeds[feed.Name], func() {
				if err := p.PollFeed(ctx, src, feed.Name); err != nil && ctx.Err() == nil {
					p.log.Error("poll failed", "source", src.Name, "feed", feed.Name, "err", err)
				}
			}); err != nil {
				return fmt.Errorf("source %s: feed %s: %w", src.Name, feed.Name, err)
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

// PollFeed polls one feed of one source once, under the feed's advisory lock.
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
	m := p.cfg.Metrics
	m.InProgress.WithLabelValues(src.Name, feed).Set(1)
	defer m.InProgress.WithLabelValues(src.Name, feed).Set(0)
	start := p.cfg.Now()
	prog, err := p.pollFeed(ctx, src, feed, start)
	took := time.Since(began)
	log := p.log.With("source", src.Name, "provider", src.Provider, "account", src.Account(), "feed", feed,
		"items", prog.items, "pages", prog.pages, "duration", took.Round(time.Millisecond))
	if err != nil {
		m.PollDuration.WithLabelValues(src.Name, feed, metrics.PollError).Observe(took.Seconds())
		m.LastPollFailed.WithLabelValues(src.Name, feed).Set(1)
		log.Error("poll failed", "err", err)
		return fmt.Errorf("source %s feed %s: %w", src.Name, feed, err)
	}
	m.PollDuration.WithLabelValues(src.Name, feed, metrics.PollOK).Observe(took.Seconds())
	m.LastPollFailed.WithLabelValues(src.Name, feed).Set(0)
	m.LastSuccess.WithLabelValues(src.Name, feed).Set(float64(p.cfg.Now().UnixMilli()) / 1000)
	log.Info("poll complete")
	return nil
}

// source returns the opened Source of src, opening it the first time.
func (p *Poller) source(src config.Source) (sources.Source, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s, ok := p.opened[src.Name]; ok {
		return s, nil
	}
	s, err := src.Settings.Open(sources.Env{
		Name:        src.Name,
		Credentials: pollstate.NewCredentials(p.pool, p.sealer, src.Name),
		Log:         p.log.With("source", src.Name),
		Now:         p.cfg.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", src.Name, err)
	}
	p.opened[src.Name] = s
	return s, nil
}

// pollFeed runs the source's poll of feed: for each step, publish its events on the feed's topic, then save
// its cursor, and only then take the next step; on the last, publish the watermark. It returns how far it
// got: the events published, the steps taken.
func (p *Poller) pollFeed(ctx context.Context, src config.Source, feed string, start time.Time) (*progress, error) {
	prog := &progress{source: src.Name, feed: feed, start: start, m: p.cfg.Metrics}
	prov, _ := p.providers.Lookup(src.Provider)
	f, ok := sources.FindFeed(prov, feed)
	if !ok {
		return prog, fmt.Errorf("%s has no feed %q", src.Provider, feed)
	}
	s, err := p.source(src)
	if err != nil {
		return prog, err
	}
	cursor, err := p.cursors.Load(ctx, src.Name, feed)
	if err != nil {
		return prog, err
	}
	req := sources.PollRequest{Feed: feed, Cursor: cursor, Start: start, Cutoff: start.Add(-p.cfg.SettleDelay),
		RereadWindow: p.cfg.RereadWindow, PageSize: p.cfg.PageSize}
	prog.cutoff = req.Cutoff
	ticks, stop := p.cfg.NewTicker(p.cfg.ProgressEvery)
	defer stop()
	for step, stepErr := range s.Poll(ctx, req) {
		// A step read before shutdown was asked for is finished — published and its cursor saved — so that
		// the work already fetched is not thrown away; the source stops fetching at once.
		if err := p.finish(ctx, src, f, step); err != nil {
			return prog, err
		}
		prog.step(step)
		select {
		case now := <-ticks:
			prog.report(p.log, src, now)
		default:
		}
		if stepErr != nil {
			return prog, stepErr
		}
	}
	return prog, nil
}

// progress is how far one poll has come, counted as it goes: a backfill of many pages reports it every
// ProgressEvery (report) and in the metrics, rather than only in one line at its end.
type progress struct {
	source, feed  string
	start, cutoff time.Time
	m             *metrics.Poller

	items, pages int
	reached      time.Time // the provider's time of the last item published
	// last is the previous report's tick and reached, from which the next estimates the time remaining.
	lastAt, lastReached time.Time
}

// step counts a published step.
func (g *progress) step(step sources.Step) {
	g.items += len(step.Events)
	g.pages++
	g.m.ItemsFetched.WithLabelValues(g.source, g.feed).Add(float64(len(step.Events)))
	g.m.PagesFetched.WithLabelValues(g.source, g.feed).Inc()
	// The last fact's own time; a quarantined item's is when it was seen, which says nothing of the position.
	for i := len(step.Events) - 1; i >= 0; i-- {
		if ev := step.Events[i]; ev.Type != events.TypeQuarantined && !ev.Time.IsZero() {
			g.reached = ev.Time
			g.m.Reached.WithLabelValues(g.source, g.feed).Set(float64(g.reached.UnixMilli()) / 1000)
			break
		}
	}
}

// report logs how far the poll has come at now: items, pages, rate, the provider time reached and, when the
// poll moved forward through the provider's time since the previous report, an estimate of the time left to
// reach the poll's cutoff at that pace. A poll that re-reads or jumps back in time gets no estimate.
func (g *progress) report(log *slog.Logger, src config.Source, now time.Time) {
	elapsed := now.Sub(g.start)
	attrs := []any{"source", g.source, "provider", src.Provider, "account", src.Account(), "feed", g.feed,
		"items", g.items, "pages", g.pages, "elapsed", elapsed.Round(time.Millisecond)}
	if elapsed > 0 {
		attrs = append(attrs, "items_per_second", math.Round(float64(g.items)/elapsed.Seconds()*10)/10)
	}
	if !g.reached.IsZero() {
		attrs = append(attrs, "reached", g.reached.UTC().Format(time.RFC3339))
		if !g.lastReached.IsZero() && g.reached.After(g.lastReached) && now.After(g.lastAt) && g.cutoff.After(g.reached) {
			pace := g.reached.Sub(g.lastReached).Seconds() / now.Sub(g.lastAt).Seconds() // provider seconds per second
			left := time.Duration(g.cutoff.Sub(g.reached).Seconds() / pace * float64(time.Second))
			attrs = append(attrs, "estimated_remaining", left.Round(time.Second))
		}
	}
	g.lastAt, g.lastReached = now, g.reached
	log.Info("poll in progress", attrs...)
}

// finish publishes a step's events, saves its cursor, then publishes its watermark.
func (p *Poller) finish(ctx context.Context, src config.Source, f sources.Feed, step sources.Step) error {
	ctx, cancel := finishing(ctx)
	defer cancel()
	if len(step.Events) > 0 {
		if err := p.pub.Publish(ctx, f.Topic, step.Events); err != nil {
			return err
		}
		if step.Cursor != nil {
			// Published, the cursor not yet saved past it: a crash here publishes the page again.
			testpoint.Reach(ctx, testpoint.PollerPublished) // tests only: off unless MIZAN_TEST_PAUSE_AT names it
		}
	}
	if step.Cursor != nil {
		if err := p.cursors.Save(ctx, src.Name, f.Name, step.Cursor); err != nil {
			return err
		}
	}
	if step.Watermark != nil {
		w := *step.Watermark
		w.Source = src.Name
		w.Provider, w.Account, w.Feed = cmp.Or(w.Provider, src.Provider), cmp.Or(w.Account, src.Account()), f.Name
		ev, err := w.Event()
		if err != nil {
			return err
		}
		if err := p.pub.Publish(ctx, events.TopicWatermark, []events.Event{ev}); err != nil {
			return err
		}
	}
	return nil
}

// countingPublisher counts what Kafka acknowledged, by the topic's full name.
type countingPublisher struct {
	Publisher
	m      *metrics.Poller
	prefix string
}

func (c countingPublisher) Publish(ctx context.Context, topic string, evs []events.Event) error {
	if err := c.Publisher.Publish(ctx, topic, evs); err != nil {
		return err
	}
	c.m.EventsPublished.WithLabelValues(c.prefix + topic).Add(float64(len(evs)))
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
