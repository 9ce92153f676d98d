// Package cli holds what mizan's commands set up the same way: logging, the database pool and the Kafka
// configuration from the environment, the HTTP server; and how every program explains itself — help and
// usage errors (exit 2), version, `config check`, and the one table of the environment variables they read.
package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mizanhq/mizan/internal/config"
	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/metrics"
)

// Logger returns the JSON logger both commands write to stderr. MIZAN_LOG_LEVEL picks the level
// (debug, info, warn, error; default info).
//
// A duration is logged as seconds, a number under its key with "_seconds" added ("duration_seconds":17.174),
// like the metrics' durations — not as slog's default of integer nanoseconds ("duration":17174000000) that
// nobody reads right.
func Logger(w io.Writer, getenv func(string) string) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.TrimSpace(getenv("MIZAN_LOG_LEVEL")))); err != nil {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: Seconds}))
}

// Seconds is a slog ReplaceAttr that writes a time.Duration as seconds under the key with "_seconds" added:
// "wait": 1.5s becomes "wait_seconds": 1.5.
func Seconds(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.Float64(a.Key+"_seconds", a.Value.Duration().Seconds())
	}
	return a
}

// Pool connects to DATABASE_URL and checks the connection, so that a wrong URL fails at start-up.
func Pool(ctx context.Context, env config.Env) (*pgxpool.Pool, error) {
	pool, err := OpenPool(ctx, env)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL (DATABASE_URL): %w", err)
	}
	return pool, nil
}

// OpenPool is Pool without the first connection: for the long-running commands, which wait for PostgreSQL
// (WaitForDatabase, or their own retries) instead of exiting — an exit would have Kubernetes restart them in
// a loop for as long as the database is away, with nothing served to say why.
func OpenPool(ctx context.Context, env config.Env) (*pgxpool.Pool, error) {
	cfg, err := PoolConfig(env.DatabaseURL)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL (DATABASE_URL): %w", err)
	}
	return pool, nil
}

// WaitForDatabase pings PostgreSQL until it answers, backing off from one second to thirty and saying each
// time what it got; only a cancelled ctx ends it early (its error). Meanwhile /readyz, served by then, fails.
func WaitForDatabase(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	wait := time.Second
	for {
		err := pool.Ping(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		log.Warn("PostgreSQL does not answer yet (DATABASE_URL): not ready, trying again", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// PoolConfig reads DATABASE_URL into the pool configuration the commands use.
//
// mizan's sessions plan with random_page_cost 1.1 (SSD storage, data mostly in cache) unless the URL sets it
// (…&random_page_cost=4). Its lookups probe unique indexes for a batch's worth of keys; with PostgreSQL's
// default of 4 the planner prefers a sequential scan of ledger.entries to a thousand index probes while the
// table holds from about 100,000 to a few hundred thousand rows — 26 ms a batch against 1 ms (docs/performance.md).
func PoolConfig(url string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's parse errors can quote the URL, password included: say only which variable is wrong.
		return nil, fmt.Errorf("DATABASE_URL is not a valid PostgreSQL connection string")
	}
	if _, set := cfg.ConnConfig.RuntimeParams["random_page_cost"]; !set {
		cfg.ConnConfig.RuntimeParams["random_page_cost"] = "1.1"
	}
	return cfg, nil
}

// Kafka returns the Kafka configuration from the environment: brokers, topic prefix, TLS and SASL, client
// id and consumer settings (see config.ReadKafka).
func Kafka(env config.Env, getenv func(string) string, log *slog.Logger) (kafka.Config, config.KafkaEnv, error) {
	kenv, err := config.ReadKafka(getenv)
	if err != nil {
		return kafka.Config{}, kenv, err
	}
	cfg := kenv.Config(env)
	cfg.Logger = log
	return cfg, kenv, nil
}

// Serve starts the HTTP server with /metrics, /healthz and /readyz in the background, on MIZAN_HTTP_ADDR, or
// on defaultAddr when that is unset ("" or MIZAN_HTTP_ADDR=off: no server). It returns a function that stops
// the server and waits for it, and fails at once if the address cannot be listened on.
func Serve(ctx context.Context, getenv func(string) string, defaultAddr string, reg *metrics.Registry,
	ready func(context.Context) error, log *slog.Logger) (stop func(), err error) {
	addr := getenv("MIZAN_HTTP_ADDR")
	if addr == "" {
		addr = defaultAddr
	}
	if addr == "" || addr == "off" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("MIZAN_HTTP_ADDR %s: %w", addr, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- metrics.ServeListener(ctx, ln, reg, ready, log) }()
	log.Info("serving /metrics, /healthz and /readyz", "addr", addr)
	return func() { cancel(); <-errc }, nil
}

// Pushgateway reads MIZAN_PUSHGATEWAY_URL: where a one-shot poller pushes its metrics when it ends, or "" when
// unset. A value that is not an http(s) URL with a host is an error, which never repeats the value: it may
// hold a password.
func Pushgateway(getenv func(string) string) (string, error) {
	v := strings.TrimSpace(getenv("MIZAN_PUSHGATEWAY_URL"))
	if v == "" {
		return "", nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("environment: MIZAN_PUSHGATEWAY_URL is not an http(s)://host:port URL")
	}
	return v, nil
}
