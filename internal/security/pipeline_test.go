package security_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mizanhq/mizan/internal/alerts"
	"github.com/mizanhq/mizan/internal/alerts/slacktest"
	"github.com/mizanhq/mizan/internal/config"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/kafka/kafkatest"
	"github.com/mizanhq/mizan/internal/metrics"
	"github.com/mizanhq/mizan/internal/pgtest"
	"github.com/mizanhq/mizan/internal/poller"
	"github.com/mizanhq/mizan/internal/pollstate"
	"github.com/mizanhq/mizan/internal/reconciler"
	"github.com/mizanhq/mizan/internal/sources/registry"
	"github.com/mizanhq/mizan/internal/sources/sourcetest"
	"github.com/mizanhq/mizan/internal/sources/vandar"
	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
	"github.com/mizanhq/mizan/internal/sources/yabandpay"
	"github.com/mizanhq/mizan/internal/sources/yabandpay/yabandpaytest"
	"github.com/mizanhq/mizan/internal/trust"
)

var (
	historyStart = time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	afterHistory = historyStart.AddDate(0, 0, 8)
)

// pipeline is one whole run of the pipeline in this process, built to walk every path a credential could
// leak by: the first token refresh and a second one after the access token expired, a business whose token
// pair Vandar refuses, a YabandPay source signing with the wrong key, every fault kind of both simulators,
// a poller started with the wrong MIZAN_SECRET_KEY, an alert whose Slack webhook is unreachable, and Slack
// answering 400, 500 and 429 before it accepts.
type pipeline struct {
	pool     *pgxpool.Pool
	kcfg     kafka.Config
	logs     *sourcetest.LogBuffer
	secrets  *secrets
	errs     []string
	regs     []*metrics.Registry
	sink     *slacktest.Sink
	rotated  atomic.Int32 // refreshes the simulator answered with a new pair
	latest   atomic.Pointer[[2]string]
	pollerMK string // MIZAN_SECRET_KEY
	wrongMK  string // the key a misconfigured poller was started with
}

func runPipeline(t *testing.T) *pipeline {
	t.Helper()
	ctx := context.Background()
	p := &pipeline{logs: &sourcetest.LogBuffer{}, secrets: &secrets{}, pollerMK: random("mizan-secret-key"),
		wrongMK: random("another-mizan-secret-key")}
	var dbURL string
	p.pool, dbURL = pgtest.NewDB(t)
	// The commands connect as the runtime role (a member of mizan_app that owns nothing); p.pool is the owner's.
	app := pgtest.AppPool(t, dbURL)
	p.kcfg = kafkatest.Config(t)
	var now atomic.Pointer[time.Time]
	setNow := func(t time.Time) { now.Store(&t) }
	clock := func() time.Time { return *now.Load() }
	setNow(afterHistory)
	log := slog.New(slog.NewJSONHandler(p.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	// Vandar: acme, polled on every feed; initech, whose pair Vandar refuses.
	vsim, err := vandartest.New(vandartest.Options{Now: clock, Businesses: []vandartest.BusinessOptions{
		{Slug: "acme", Seed: 41, Start: historyStart, Days: 6, PerDay: 40, OpeningWallet: 2_000_000},
		{Slug: "initech", Empty: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	vh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/refreshtoken") {
			vsim.ServeHTTP(w, r)
			return
		}
		// Learn every pair the simulator hands out: a rotated token is as secret as the first.
		rec := httptest.NewRecorder()
		vsim.ServeHTTP(rec, r)
		var pair struct {
			Access  string `json:"access_token"`
			Refresh string `json:"refresh_token"`
		}
		if json.Unmarshal(rec.Body.Bytes(), &pair) == nil && pair.Access != "" {
			n := p.rotated.Add(1)
			p.secrets.add(fmt.Sprintf("rotated access token #%d", n), pair.Access)
			p.secrets.add(fmt.Sprintf("rotated refresh token #%d", n), pair.Refresh)
			p.latest.Store(&[2]string{pair.Access, pair.Refresh})
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(vh.Close)
	access, refresh, _ := vsim.IssueTokens("acme")
	p.secrets.add("acme's access token", access)
	p.secrets.add("acme's refresh token", refresh)
	badAccess, badRefresh := random("initech-access"), "def50200"+strings.Repeat("ab", 20)+random("")
	p.secrets.add("initech's refused access token", badAccess)
	p.secrets.add("initech's refused refresh token", badRefresh)
	allFeeds := map[string]string{events.FeedStatement: "@every 1m", events.FeedBalance: "@every 1m",
		events.FeedSettlements: "@every 1m", events.FeedBatches: "@every 1m"}

	// YabandPay: a merchant signed for with its key, and one signed for with a wrong key.
	ysim, err := yabandpaytest.NewServer(yabandpaytest.Options{Now: clock, Merchants: []yabandpaytest.MerchantOptions{
		{User: "036870", Seed: 42, Quiet: true}, {User: "555555", Seed: 43, Quiet: true}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ysim.Close)
	ykey, err := ysim.SecretKey("036870")
	if err != nil {
		t.Fatal(err)
	}
	wrongKey := random("wrong-yabandpay-key")
	p.secrets.add("YabandPay's secret key", ykey)
	p.secrets.add("a wrong YabandPay secret key", wrongKey)

	sources := config.Sources{Sources: []config.Source{
		{Name: "vandar-acme", Provider: events.ProviderVandar, Feeds: allFeeds, Settings: vandar.Settings{Business: "acme",
			APIURL: vh.URL, BatchURL: vh.URL, AccessToken: config.Secret(access), RefreshToken: config.Secret(refresh)}},
		{Name: "vandar-initech", Provider: events.ProviderVandar, Feeds: allFeeds, Settings: vandar.Settings{Business: "initech",
			APIURL: vh.URL, BatchURL: vh.URL, AccessToken: config.Secret(badAccess), RefreshToken: config.Secret(badRefresh)}},
		{Name: "yabandpay-036870", Provider: events.ProviderYabandPay, Feeds: map[string]string{events.FeedBalance: "@every 1m"},
			Settings: yabandpay.Settings{User: "036870", APIURL: ysim.URL, Currencies: []string{"EUR", "CHF"}, SecretKey: config.Secret(ykey)}},
		{Name: "yabandpay-555555", Provider: events.ProviderYabandPay, Feeds: map[string]string{events.FeedBalance: "@every 1m"},
			Settings: yabandpay.Settings{User: "555555", APIURL: ysim.URL, Currencies: []string{"EUR"}, SecretKey: config.Secret(wrongKey)}},
	}}
	p.secrets.add("MIZAN_SECRET_KEY", p.pollerMK)
	p.secrets.add("a wrong MIZAN_SECRET_KEY", p.wrongMK)
	// The events' signing keys: the active one and the one a rotation keeps accepting.
	signing := [2]string{random("signing-key-active-0123456789"), random("signing-key-previous-0123456789")}
	keys, err := config.ReadSigningKeys(func(k string) string {
		return map[string]string{"MIZAN_SIGNING_KEYS": "k2:" + signing[0] + ",k1:" + signing[1]}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	p.secrets.add("the active signing key", signing[0])
	p.secrets.add("the previous signing key", signing[1])

	// Slack: the sink, and a webhook that does not answer at all.
	p.sink = slacktest.New(nil)
	t.Cleanup(p.sink.Close)
	p.secrets.addURL("the Slack webhook URL", p.sink.URL)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() + "/services/" + random("TDEAD") + "/" + random("BDEAD") + "/" + random("hook")
	ln.Close()
	p.secrets.addURL("an unreachable Slack webhook URL", dead)

	pub := kafka.NewPublisher(p.kcfg)
	t.Cleanup(func() { pub.Close() })
	signer, err := trust.NewSigningPublisher(pub, keys)
	if err != nil {
		t.Fatal(err)
	}
	newPoller := func(key string) *poller.Poller {
		reg := metrics.NewPoller(metrics.Build{})
		p.regs = append(p.regs, reg.Registry)
		if err := trust.Register(ctx, app, sources, "poller"); err != nil {
			t.Fatal(err)
		}
		pl, err := poller.New(poller.Config{Now: clock, SettleDelay: -1, Metrics: reg}, registry.Providers(), sources,
			app, signer,
			config.Secret(key), log)
		if err != nil {
			t.Fatal(err)
		}
		return pl
	}
	poll := func(pl *poller.Poller) {
		if err := pl.Once(ctx, ""); err != nil {
			p.errs = append(p.errs, err.Error())
		}
	}
	reconcile := func(webhook string) {
		reg := metrics.NewReconciler(metrics.Build{}, metrics.Known{})
		p.regs = append(p.regs, reg.Registry)
		consumer := kafka.NewConsumer(p.kcfg, "security", events.DataTopics, kafka.ConsumerOptions{
			MaxWait: 50 * time.Millisecond, SessionTimeout: 6 * time.Second})
		defer consumer.Close()
		gate, err := trust.New(ctx, trust.Config{Keys: keys, Now: clock}, app)
		if err != nil {
			t.Fatal(err)
		}
		r := reconciler.New(reconciler.Config{Group: "security", IdleAfter: 500 * time.Millisecond, Now: clock, Metrics: reg,
			Trust: gate}, app, consumer, pub, log)
		d := alerts.NewDispatcher(alerts.DispatcherConfig{WebhookURL: webhook, PerSecond: 1000, Attempts: 3,
			Sleep: func(context.Context, time.Duration) error { return nil }}, app, log)
		d.OnDelivery = func(outcome string) { reg.SlackDeliveries.WithLabelValues(outcome).Inc() }
		r.SetDispatcher(d)
		rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		if err := r.Run(rctx, true); err != nil {
			p.errs = append(p.errs, err.Error())
		}
	}

	// Every fault kind, once each, on both providers; a balance that drifts, for an alert.
	for _, f := range []vandartest.Fault{{Kind: vandartest.FaultStatus, Status: 503}, {Kind: vandartest.FaultStatus, Status: 502, HTML: true},
		{Kind: vandartest.FaultTooManyRequests, RetryAfter: time.Second}, {Kind: vandartest.FaultSlow, Delay: 50 * time.Millisecond},
		{Kind: vandartest.FaultTruncated}, {Kind: vandartest.FaultHTML200}, {Kind: vandartest.FaultReset}} {
		f.Endpoint = vandartest.EndpointTransactions
		vsim.Inject(f, 1)
	}
	for _, f := range []yabandpaytest.Fault{{Kind: yabandpaytest.FaultStatus, Status: 503}, {Kind: yabandpaytest.FaultTruncated},
		{Kind: yabandpaytest.FaultHTML200}, {Kind: yabandpaytest.FaultReset}} {
		ysim.Inject(f, 1)
	}
	if err := vsim.DriftBalance("acme", 7_000); err != nil {
		t.Fatal(err)
	}

	pl := newPoller(p.pollerMK)
	poll(pl)        // faults: some feeds fail
	poll(pl)        // and succeed now
	reconcile(dead) // the alert is raised; its webhook does not answer
	p.sink.Fail(slacktest.Fault{Status: 400}, slacktest.Fault{Status: 500}, slacktest.Fault{Status: 429, RetryAfter: 1})
	reconcile(p.sink.URL) // Slack refuses, fails, throttles …
	reconcile(p.sink.URL) // … and accepts
	vsim.ExpireAccessTokenNow()
	setNow(afterHistory.Add(time.Hour))
	poll(newPoller(p.pollerMK)) // a restarted poller: the stored pair, refreshed again
	poll(newPoller(p.wrongMK))  // cannot open the stored pair: says so and stops
	reconcile(p.sink.URL)

	// The run must have walked the paths it is meant to.
	switch {
	case p.rotated.Load() < 2:
		t.Fatalf("the token pair was refreshed %d times, want at least 2", p.rotated.Load())
	case !strings.Contains(strings.Join(p.errs, "\n"), "initech") || !strings.Contains(strings.Join(p.errs, "\n"), "555555"):
		t.Fatalf("the refused credentials raised no error naming their sources: %s", p.secrets.redact(strings.Join(p.errs, "\n")))
	case len(p.sink.Messages()) == 0:
		t.Fatal("no alert reached Slack")
	}
	return p
}

func TestNoCredentialReachesALogAnErrorAnEventOrAMetric(t *testing.T) {
	t.Parallel()
	p := runPipeline(t)
	ctx := context.Background()
	t.Run("logs", func(t *testing.T) {
		lines := logLines(p.logs)
		if len(lines) < 50 {
			t.Fatalf("only %d log lines: the run logged less than it should", len(lines))
		}
		joined := strings.Join(lines, "\n")
		for _, want := range []string{"slack", "initech", "555555"} {
			if !strings.Contains(strings.ToLower(joined), want) {
				t.Errorf("no log line mentions %s: the path was not logged at all", want)
			}
		}
		p.secrets.mustNotLeak(t, "log line", lines)
	})
	t.Run("errors", func(t *testing.T) {
		p.secrets.mustNotLeak(t, "error", p.errs)
	})
	t.Run("events", func(t *testing.T) {
		var items []string
		for _, base := range events.AllTopics {
			msgs, err := kafka.ReadTopic(ctx, p.kcfg.Brokers[0], p.kcfg.Topic(base))
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				var b strings.Builder
				b.Write(m.Key)
				b.WriteByte(' ')
				b.Write(m.Value)
				for _, h := range m.Headers {
					fmt.Fprintf(&b, " %s=%s", h.Key, h.Value)
				}
				items = append(items, b.String())
			}
		}
		if len(items) < 100 {
			t.Fatalf("only %d messages on the topics", len(items))
		}
		p.secrets.mustNotLeak(t, "message", items)
	})
	t.Run("metrics", func(t *testing.T) {
		var scrapes []string
		for _, reg := range p.regs {
			rec := httptest.NewRecorder()
			reg.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
			if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "mizan_") {
				t.Fatalf("scrape: %d %s", rec.Code, clip(rec.Body.String(), 200))
			}
			scrapes = append(scrapes, rec.Body.String())
		}
		p.secrets.mustNotLeak(t, "metrics scrape", scrapes)
	})
	t.Run("Slack messages", func(t *testing.T) {
		var texts []string
		for _, m := range p.sink.Messages() {
			texts = append(texts, m.Text+" "+string(m.Blocks))
		}
		p.secrets.mustNotLeak(t, "Slack message", texts)
	})
	t.Run("database", func(t *testing.T) {
		// Every row of every table mizan writes, as text; poller.credentials holds ciphertexts, which must not
		// contain a token either (see TestStoredTokensAreEncryptedAtRest for what they must be).
		rows, err := p.pool.Query(ctx, `SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables
			WHERE table_schema IN ('ledger', 'recon', 'poller', 'analytics') ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		var dump []string
		for _, table := range tables {
			rows, err := p.pool.Query(ctx, `SELECT t::text FROM `+table+` t`)
			if err != nil {
				t.Fatalf("%s: %v", table, err)
			}
			texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatalf("%s: %v", table, err)
			}
			for _, x := range texts {
				dump = append(dump, table+": "+x)
			}
		}
		p.secrets.mustNotLeak(t, "database row", dump)
	})
}

func TestStoredTokensAreEncryptedAtRest(t *testing.T) {
	t.Parallel()
	p := runPipeline(t)
	ctx := context.Background()
	var access, refresh []byte
	if err := p.pool.QueryRow(ctx, `
		SELECT a.sealed, r.sealed FROM poller.credentials a
		JOIN poller.credentials r ON r.source = a.source AND r.name = 'refresh_token'
		WHERE a.source = 'vandar-acme' AND a.name = 'access_token'`).Scan(&access, &refresh); err != nil {
		t.Fatalf("no stored token pair for vandar-acme: %v", err)
	}
	for name, sealed := range map[string][]byte{"access": access, "refresh": refresh} {
		// AES-GCM: a nonce and a tag around the ciphertext; nothing of any token, in any encoding.
		if len(sealed) < 12+16+8 {
			t.Errorf("the stored %s token is %d bytes: too short to be sealed", name, len(sealed))
		}
		if found := p.secrets.find(string(sealed)); len(found) > 0 {
			t.Errorf("the stored %s token shows %s", name, strings.Join(found, ", "))
		}
		if bytes.Contains(sealed, []byte("def50200")) {
			t.Errorf("the stored %s token holds a refresh token's prefix in the clear", name)
		}
	}
	// It is the latest pair, and only MIZAN_SECRET_KEY opens it.
	latest := *p.latest.Load()
	sealer, err := pollstate.NewSealer(p.pollerMK)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := sealer.Open("vandar-acme", access); err != nil || got != latest[0] {
		t.Fatalf("the stored access token does not open to the latest one: %v", err)
	}
	if got, err := sealer.Open("vandar-acme", refresh); err != nil || got != latest[1] {
		t.Fatalf("the stored refresh token does not open to the latest one: %v", err)
	}
	// Sealed for one source, it is not another source's: a row copied across sources does not open.
	if _, err := sealer.Open("vandar-initech", access); err == nil {
		t.Error("a token sealed for vandar-acme opens as vandar-initech's")
	}
	other, err := pollstate.NewSealer(random("wrong-key-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Open("vandar-acme", access); err == nil {
		t.Fatal("the stored token opens with another key")
	} else if found := p.secrets.find(err.Error()); len(found) > 0 {
		t.Fatalf("the wrong key's error shows %s", strings.Join(found, ", "))
	}
}
