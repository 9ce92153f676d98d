package bench

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mizanhq/mizan/internal/config"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/poller"
	"github.com/mizanhq/mizan/internal/sources/registry"
	"github.com/mizanhq/mizan/internal/sources/sourcetest"
	"github.com/mizanhq/mizan/internal/sources/vandar"
	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

// CeilingItemsPerSecond is what Vandar's documented limit allows a statement backfill: 100 pages of 100 items
// every 3 seconds.
const CeilingItemsPerSecond = 100.0 * 100 / 3

// benchSecret encrypts the poller's stored tokens in the benchmark's databases.
const benchSecret = "mizan-bench-secret-key-0123456789"

// BackfillOptions describe one statement backfill by the in-process poller.
type BackfillOptions struct {
	DB        *Database
	Kafka     kafka.Config
	Items     int
	RateLimit bool // the simulator enforces Vandar's limit
	BrokerPid int
	Log       *slog.Logger
}

// BackfillResult is what a backfill did and where a page's time went.
type BackfillResult struct {
	Items     int // events the poller published to the statement topic
	Elapsed   time.Duration
	Throttled int64 // 429s the simulator served
	Pages     int64
	// Per page, on average, the serial steps of the poll: fetching and decoding it (the Vandar client's
	// Statement, timed afterwards by an unthrottled client over the same pages; the simulator's own share of
	// it is SimPage), making its events, publishing them to Kafka (acknowledged by all in-sync replicas,
	// timed in the poll) and the poller's PostgreSQL statements (cursor saves, token and lock handling, timed
	// in the poll). The rest of a page's time is the client's rate limiter waiting.
	Fetch, SimPage, Events, Publish, Postgres time.Duration
	CPU                                       CPUSplit
}

// Work is the poller's own time a page: everything but waiting for its rate limiter.
func (r BackfillResult) Work() time.Duration { return r.Fetch + r.Events + r.Publish + r.Postgres }

// Rate is items per second.
func (r BackfillResult) Rate() float64 { return float64(r.Items) / r.Elapsed.Seconds() }

// PageTime is the wall time of one page.
func (r BackfillResult) PageTime() time.Duration {
	if r.Pages == 0 {
		return 0
	}
	return r.Elapsed / time.Duration(r.Pages)
}

// The provider is vandartest, the Vandar simulator the tests use: it generates a history in O(n log n) and
// finds a statement page by binary search, so a page costs the same at a million items as at a thousand.

// history describes a business of about items statement items (the simulator draws each day's count, ±20%):
// 20,000 a day, ending three days ago, so that a poller's two-day re-read window holds nothing and every
// item has settled; the statement only, no batch or queued settlements beside it.
func history(slug string, seed int64, items int) vandartest.BusinessOptions {
	days := max((items+10_000)/20_000, 1)
	return vandartest.BusinessOptions{Slug: slug, Seed: seed, Start: time.Now().AddDate(0, 0, -(days + 3)),
		Days: days, PerDay: max(items/days, 1), Batches: -1, Queued: -1}
}

// newSimulator generates the businesses and serves them on a loopback port; close it when done.
func newSimulator(rateLimit bool, businesses ...vandartest.BusinessOptions) (*vandartest.Server, error) {
	return vandartest.NewServer(vandartest.Options{Businesses: businesses, RateLimit: rateLimit})
}

// statementSize is how many items a business's statement lists and the id of the newest.
func statementSize(sim *vandartest.Server, slug string) (n int, lastID string) {
	items := sim.Items(slug)
	if len(items) == 0 {
		return 0, ""
	}
	return len(items), strconv.FormatInt(items[len(items)-1].ID, 10)
}

// Backfill runs the real poller (internal/poller, one `poller once` of one source's statement feed, with a
// kafka.Publisher) over a business of about o.Items items that it has never polled.
func Backfill(ctx context.Context, o BackfillOptions) (BackfillResult, error) {
	var res BackfillResult
	shop := history("shop", 5, o.Items)
	sim, err := newSimulator(o.RateLimit, shop)
	if err != nil {
		return res, err
	}
	defer sim.Close()
	want, _ := statementSize(sim, "shop")
	access, refresh, _ := sim.IssueTokens("shop")
	name := fmt.Sprintf("vandar-shop-%d", time.Now().UnixNano())
	src := config.Source{Name: name, Provider: events.ProviderVandar, Feeds: map[string]string{events.FeedStatement: "@every 1m"},
		Settings: vandar.Settings{Business: "shop", APIURL: sim.URL, BatchURL: sim.URL,
			AccessToken: config.Secret(access), RefreshToken: config.Secret(refresh)}}
	tracer := NewTracer()
	pool, err := o.DB.Pool(ctx, tracer)
	if err != nil {
		return res, err
	}
	defer pool.Close()
	kp := kafka.NewPublisher(o.Kafka)
	defer kp.Close()
	pub := &timedPublisher{p: kp}
	p, err := poller.New(poller.Config{}, registry.Providers(), config.Sources{Sources: []config.Source{src}}, pool, pub, benchSecret, o.Log)
	if err != nil {
		return res, err
	}
	o.DB.Checkpoint(ctx)
	meter := StartCPU(ctx, o.DB.admin, o.DB.Name, o.BrokerPid)
	start := time.Now()
	err = p.PollFeed(ctx, src, events.FeedStatement)
	res.Elapsed = time.Since(start)
	res.CPU = meter.Stop(ctx)
	if err != nil {
		return res, fmt.Errorf("poll: %w", err)
	}
	res.Items = pub.count(events.TopicStatement)
	if res.Items != want {
		return res, fmt.Errorf("the poller published %d items of %d", res.Items, want)
	}
	res.Throttled = int64(sim.Throttled())
	pages, _ := sim.PageCost()
	res.Pages = int64(pages)
	if res.Pages == 0 {
		return res, nil
	}
	n := time.Duration(res.Pages)
	res.Publish = pub.total / n
	var pg time.Duration
	for _, s := range tracer.Stats() {
		pg += s.Total
	}
	res.Postgres = pg / n
	res.Fetch, res.SimPage, res.Events, err = clientCost(ctx, shop, int(min(res.Pages, 200)))
	return res, err
}

// clientCost times the Vandar client reading pages of a business identical to the backfill's (the same
// history, no rate limit, a client without one), and turning their items into events: the fetch-and-decode
// and event-making parts of a page, which the poll itself cannot time apart from its limiter's waits.
func clientCost(ctx context.Context, shop vandartest.BusinessOptions, pages int) (fetch, sim, evs time.Duration, err error) {
	s, err := newSimulator(false, shop)
	if err != nil {
		return 0, 0, 0, err
	}
	defer s.Close()
	access, refresh, _ := s.IssueTokens("shop")
	client, err := vandar.New(vandar.Config{APIURL: s.URL, BatchURL: s.URL, Business: "shop",
		Credentials: sourcetest.NewCredentials(), Seed: vandar.Tokens{Access: access, Refresh: refresh},
		GetLimit: 1e9, GetBurst: 1 << 20})
	if err != nil {
		return 0, 0, 0, err
	}
	if _, err := client.Statement(ctx, vandar.StatementQuery{PerPage: 1}); err != nil { // the token refresh
		return 0, 0, 0, err
	}
	n0, m0 := s.PageCost()
	simBefore := m0 * time.Duration(n0)
	q := vandar.StatementQuery{Sort: vandar.SortAsc, PerPage: vandar.MaxPerPage}
	read := 0
	for read < pages {
		begin := time.Now()
		page, err := client.Statement(ctx, q)
		if err != nil {
			return 0, 0, 0, err
		}
		fetch += time.Since(begin)
		begin = time.Now()
		for _, it := range page.Items {
			if _, err := it.Event(); err != nil {
				return 0, 0, 0, err
			}
		}
		evs += time.Since(begin)
		read++
		if !page.HasMore {
			break
		}
		q.StartAfter = page.Next
	}
	n, simMean := s.PageCost()
	simTotal := simMean*time.Duration(n) - simBefore
	d := time.Duration(read)
	return fetch / d, simTotal / d, evs / d, nil
}

// timedPublisher times and counts what the poller publishes.
type timedPublisher struct {
	p     *kafka.Publisher
	mu    sync.Mutex
	total time.Duration
	n     map[string]int
}

func (t *timedPublisher) Publish(ctx context.Context, topic string, evs []events.Event) error {
	begin := time.Now()
	err := t.p.Publish(ctx, topic, evs)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total += time.Since(begin)
	if err == nil {
		if t.n == nil {
			t.n = map[string]int{}
		}
		t.n[topic] += len(evs)
	}
	return err
}

func (t *timedPublisher) count(topic string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n[topic]
}

// sourcesYAML is a sources file polling each business's statement every second.
func sourcesYAML(sim *vandartest.Server, businesses []string) string {
	var b strings.Builder
	b.WriteString("sources:\n")
	for _, slug := range businesses {
		env := "VANDAR_" + strings.ToUpper(slug)
		fmt.Fprintf(&b, "  - name: vandar-%s\n    provider: vandar\n    business: %s\n    api_url: %s\n    batch_url: %s\n"+
			"    access_token_env: %s_ACCESS_TOKEN\n    refresh_token_env: %s_REFRESH_TOKEN\n"+
			"    feeds: { statement: \"@every 1s\" }\n", slug, slug, sim.URL, sim.URL, env, env)
	}
	return b.String()
}
