// Package e2e tests the whole statement pipeline: the Vandar simulator → the poller → a real Kafka-protocol
// broker (or the cluster in KAFKA_BROKERS) → the reconciler → the ledger in a real PostgreSQL.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/alerts"
	"github.com/mizanhq/mizan/internal/alerts/slacktest"
	"github.com/mizanhq/mizan/internal/config"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/kafka/kafkatest"
	"github.com/mizanhq/mizan/internal/ledger"
	"github.com/mizanhq/mizan/internal/pgtest"
	"github.com/mizanhq/mizan/internal/poller"
	"github.com/mizanhq/mizan/internal/posting"
	"github.com/mizanhq/mizan/internal/reconciler"
	"github.com/mizanhq/mizan/internal/sources/registry"
	"github.com/mizanhq/mizan/internal/sources/sourcetest"
	"github.com/mizanhq/mizan/internal/sources/vandar"
	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
	"github.com/mizanhq/mizan/internal/sources/yabandpay"
	"github.com/mizanhq/mizan/internal/sources/yabandpay/yabandpaytest"
	"github.com/mizanhq/mizan/internal/trust"
)

const secretKey = "e2e-secret-key-0123456789"

// signingKeys is MIZAN_SIGNING_KEYS for every poller and reconciler of these tests.
const signingKeys = "e2e-2026-12:e2e-signing-key-0123456789-0123456789"

// bundle is what a pipeline test needs.
type bundle struct {
	t     *testing.T
	pool  *pgxpool.Pool // the database's owner: setting up and looking at what the commands did
	dbURL string
	// app connects as the runtime role, as poller and reconciler do in production: a member of mizan_app
	// that owns nothing. Every poller and reconciler of these tests uses it.
	app    *pgxpool.Pool
	appURL string
	kafka  kafka.Config
	sim    *vandartest.Server
	src    config.Source
	logs   *sourcetest.LogBuffer
	log    *slog.Logger
	keys   events.Keyring
	pub    *trust.SigningPublisher // the poller's: signs with the active key
	kpub   *kafka.Publisher
	poller *poller.Poller
	slack  *slacktest.Sink
	extra  []config.Source // more sources beside b.src

	now atomic.Pointer[time.Time] // the simulator's clock, which the poller reads too
	// hook, when set, sees every request before the simulator does.
	hook atomic.Pointer[func(*http.Request)]
	// rewrite, when set, may change every answer the simulator gives: what a real provider might send that
	// the simulator does not.
	rewrite atomic.Pointer[func(*http.Request, []byte) []byte]
}

// setNow moves the shared clock.
func (b *bundle) setNow(t time.Time) { b.now.Store(&t) }

// clock reads the shared clock.
func (b *bundle) clock() time.Time { return *b.now.Load() }

// setup starts a simulator with opts and wires a poller for its business "acme" to a fresh database and
// fresh topics. The simulator's clock stands still at now (setNow moves it), and the poller reads it.
func setup(t *testing.T, now time.Time, opts vandartest.Options) *bundle {
	t.Helper()
	pool, dbURL := pgtest.NewDB(t)
	kcfg := kafkatest.Config(t)
	keys, err := config.ReadSigningKeys(func(k string) string { return map[string]string{"MIZAN_SIGNING_KEYS": signingKeys}[k] })
	if err != nil {
		t.Fatal(err)
	}
	b := &bundle{t: t, pool: pool, dbURL: dbURL, appURL: pgtest.AppURL(t, dbURL), kafka: kcfg, logs: &sourcetest.LogBuffer{}, keys: keys}
	b.app = pgtest.AppPool(t, dbURL)
	b.setNow(now)
	opts.Now = b.clock
	sim, err := vandartest.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := b.hook.Load(); h != nil {
			(*h)(r)
		}
		rw := b.rewrite.Load()
		if rw == nil {
			sim.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		_, _ = w.Write((*rw)(r, rec.Body.Bytes()))
	}))
	t.Cleanup(hs.Close)
	b.sim = sim
	b.slack = slacktest.New(nil)
	t.Cleanup(b.slack.Close)
	access, refresh, _ := sim.IssueTokens("acme")
	b.src = config.Source{
		Name: "vandar-acme", Provider: events.ProviderVandar,
		Feeds: map[string]string{events.FeedStatement: "@every 1m", events.FeedBalance: "@every 5m"},
		Settings: vandar.Settings{Business: "acme", APIURL: hs.URL, BatchURL: hs.URL,
			AccessToken: config.Secret(access), RefreshToken: config.Secret(refresh)},
	}
	b.log = slog.New(slog.NewJSONHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b.kpub = kafka.NewPublisher(kcfg)
	t.Cleanup(func() { b.kpub.Close() })
	if b.pub, err = trust.NewSigningPublisher(b.kpub, keys); err != nil {
		t.Fatal(err)
	}
	b.poller = b.newPoller()
	return b
}

// vandarSettings is the bundle's Vandar source's settings.
func (b *bundle) vandarSettings() vandar.Settings { return b.src.Settings.(vandar.Settings) }

// newPoller builds a poller as a restarted process would (cmd/poller): nothing in memory, everything from the
// database; its sources constructed through the registry, registered, its events signed.
func (b *bundle) newPoller() *poller.Poller {
	b.t.Helper()
	sources := config.Sources{Sources: append([]config.Source{b.src}, b.extra...)}
	if err := trust.Register(context.Background(), b.app, sources, "poller"); err != nil {
		b.t.Fatal(err)
	}
	p, err := poller.New(poller.Config{Now: b.clock, SettleDelay: -1}, registry.Providers(), sources, b.app, b.pub,
		secretKey, b.log)
	if err != nil {
		b.t.Fatal(err)
	}
	return p
}

// pollOnce runs `poller once` for every feed of the source.
func (b *bundle) pollOnce(ctx context.Context) error { return b.poller.Once(ctx, "") }

// reconcile runs `reconciler run --until-idle` as a member of group and returns its stats.
func (b *bundle) reconcile(ctx context.Context, group string) reconciler.Stats {
	b.t.Helper()
	consumer := kafka.NewConsumer(b.kafka, group, events.DataTopics, kafka.ConsumerOptions{MaxWait: 50 * time.Millisecond,
		SessionTimeout: 6 * time.Second})
	defer consumer.Close()
	gate, err := trust.New(ctx, trust.Config{Keys: b.keys, Now: b.clock}, b.app)
	if err != nil {
		b.t.Fatal(err)
	}
	r := reconciler.New(reconciler.Config{Group: group, IdleAfter: 500 * time.Millisecond, Now: b.clock, Trust: gate,
		// Several workers, as a production reconciler runs: the exactly-once tests must hold with parallel apply.
		Workers: 4},
		b.app, consumer, b.kpub, b.log)
	r.SetDispatcher(alerts.NewDispatcher(alerts.DispatcherConfig{WebhookURL: b.slack.URL, PerSecond: 1000,
		Sleep: func(context.Context, time.Duration) error { return nil }}, b.app, b.log))
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	// Alerts Slack did not take make an --until-idle run fail (exit code 4); the tests that cause that look at
	// what Slack received instead.
	var undelivered *reconciler.UndeliveredError
	if err := r.Run(ctx, true); err != nil && !errors.As(err, &undelivered) {
		b.t.Fatalf("reconciler: %v", err)
	}
	return r.Stats
}

// walletBalance is the ledger balance of acme's wallet.
func (b *bundle) walletBalance(ctx context.Context) decimal.Decimal {
	b.t.Helper()
	bal, err := ledger.Balance(ctx, b.pool, posting.Wallet(events.ProviderVandar, "acme", events.CurrencyToman).Code)
	if err != nil {
		b.t.Fatal(err)
	}
	return bal
}

// count runs a counting query.
func (b *bundle) count(ctx context.Context, sql string, args ...any) int {
	b.t.Helper()
	var n int
	if err := b.pool.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		b.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// ledgerSnapshot is everything the ledger holds, to compare before and after something that must change
// nothing.
func (b *bundle) ledgerSnapshot(ctx context.Context) string {
	b.t.Helper()
	var s string
	err := b.pool.QueryRow(ctx, `
		SELECT count(*) || ' entries, ' ||
			(SELECT count(*) FROM ledger.postings) || ' postings, ' ||
			coalesce((SELECT string_agg(account || '=' || balance, ' ' ORDER BY account) FROM ledger.balances), '')
		FROM ledger.entries`).Scan(&s)
	if err != nil {
		b.t.Fatal(err)
	}
	return s
}

// movedItems counts the simulator's items that have moved the wallet (each must be one entry).
func movedItems(items []vandartest.Item) int {
	n := 0
	for _, it := range items {
		if !it.EffectiveAt.IsZero() {
			n++
		}
	}
	return n
}

func mustEqualWallet(t *testing.T, got decimal.Decimal, want int64) {
	t.Helper()
	if !got.Equal(decimal.NewFromInt(want)) {
		t.Fatalf("ledger wallet = %s, simulator wallet = %d (difference %s)", got, want, got.Sub(decimal.NewFromInt(want)))
	}
}

func fmtItems(items []vandartest.Item) string {
	var buf bytes.Buffer
	for _, it := range items {
		fmt.Fprintf(&buf, "%d %s status=%d amount=%d wage=%d eff=%s wallet=%d\n", it.ID, it.Kind, it.Status, it.Amount,
			it.Wage, it.EffectiveAt.Format(time.RFC3339), it.Wallet)
	}
	return buf.String()
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// alert is one row of recon.alerts.
type alert struct {
	Kind, Subject, DedupKey, Summary string
	Resolved                         bool
}

// alerts returns every alert, oldest first.
func (b *bundle) alerts(ctx context.Context) []alert {
	b.t.Helper()
	rows, err := b.pool.Query(ctx, `SELECT kind, subject, dedup_key, summary, resolved_at IS NOT NULL FROM recon.alerts ORDER BY id`)
	if err != nil {
		b.t.Fatal(err)
	}
	defer rows.Close()
	var out []alert
	for rows.Next() {
		var a alert
		if err := rows.Scan(&a.Kind, &a.Subject, &a.DedupKey, &a.Summary, &a.Resolved); err != nil {
			b.t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

// addYabandPay adds a YabandPay merchant on a simulator sharing the bundle's clock, polled for EUR and CHF.
func (b *bundle) addYabandPay(opts yabandpaytest.Options) *yabandpaytest.Server {
	b.t.Helper()
	opts.Now = b.clock
	sim, err := yabandpaytest.NewServer(opts)
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(sim.Close)
	for _, user := range sim.Merchants() {
		key, err := sim.SecretKey(user)
		if err != nil {
			b.t.Fatal(err)
		}
		curs, _ := sim.Currencies(user)
		b.extra = append(b.extra, config.Source{Name: "yabandpay-" + user, Provider: events.ProviderYabandPay,
			Feeds:    map[string]string{events.FeedBalance: "@every 5m"},
			Settings: yabandpay.Settings{User: user, APIURL: sim.URL, Currencies: curs, SecretKey: config.Secret(key)}})
	}
	b.poller = b.newPoller()
	return sim
}
