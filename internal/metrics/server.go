package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mizanhq/mizan/internal/kafka"
)

// Timeouts of the server.
const (
	// ReadyTimeout bounds one /readyz: checks still running then make it answer 503. A Kubernetes readiness
	// probe's timeoutSeconds must be longer (its default of 1s is not), or the kubelet gives up first and
	// sees a failure without a reason.
	ReadyTimeout = 3 * time.Second

	// ShutdownTimeout is how long Serve waits, once its context is done, for requests in flight.
	ShutdownTimeout = 5 * time.Second
)

// Serve serves on addr (host:port; ":9090" for every interface) until ctx is done, then shuts down gracefully
// and returns nil. It returns an error if it cannot listen or stops serving for another reason.
//
//   - /metrics: reg in the Prometheus text format.
//   - /healthz: 200 "ok" as long as the process serves HTTP at all (the liveness probe). It checks nothing
//     else on purpose: a liveness probe that fails because PostgreSQL is down makes Kubernetes restart every
//     replica, which fixes nothing.
//   - /readyz: runs ready (nil: always ready) with ReadyTimeout; 200 "ok", or 503 and the reason. Build ready
//     with Ready from PostgresCheck, KafkaCheck and checks of your own.
//
// log (nil: discarded) receives the address served and each change of readiness, with its reason.
func Serve(ctx context.Context, addr string, reg *Registry, ready func(context.Context) error, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	return ServeListener(ctx, ln, reg, ready, log)
}

// ServeListener is Serve on a listener the caller opened (and ServeListener closes): a caller that must
// know the address is taken before it goes on listens first, then serves in the background.
func ServeListener(ctx context.Context, ln net.Listener, reg *Registry, ready func(context.Context) error, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv := &http.Server{
		Handler:           Handler(reg, ready, log),
		ReadHeaderTimeout: 5 * time.Second,
		// A scrape of a few hundred series takes milliseconds; a minute is room, not a target.
		WriteTimeout: time.Minute,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	addr := ln.Addr().String()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.InfoContext(ctx, "serving metrics and health checks", "addr", addr)

	select {
	case err := <-served: // Serve never returns nil
		return fmt.Errorf("metrics: serve on %s: %w", addr, err)
	case <-ctx.Done():
	}
	// The parent context is done: shutting down gets a deadline of its own.
	stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(stop); err != nil {
		_ = srv.Close()
		return fmt.Errorf("metrics: shut down on %s: %w", addr, err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics: serve on %s: %w", addr, err)
	}
	return nil
}

// Handler returns the routes Serve serves (see Serve), for a server of the caller's own.
func Handler(reg *Registry, ready func(context.Context) error, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if ready == nil {
		ready = func(context.Context) error { return nil }
	}
	rh := &readyHandler{ready: ready, timeout: ReadyTimeout, log: log}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", reg.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { text(w, http.StatusOK, "ok\n") })
	mux.Handle("GET /readyz", rh)
	return mux
}

// readyHandler answers /readyz and logs when the answer changes, so that a flapping dependency shows in the
// log once per change rather than once per probe.
type readyHandler struct {
	ready   func(context.Context) error
	timeout time.Duration
	log     *slog.Logger
	state   atomic.Int32 // stateUnknown, stateReady, stateNotReady
}

const (
	stateUnknown int32 = iota
	stateReady
	stateNotReady
)

func (h *readyHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()
	// In a goroutine so that a check that ignores its context still cannot hold the probe past the timeout.
	done := make(chan error, 1)
	go func() { done <- h.ready(ctx) }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = fmt.Errorf("readiness checks did not finish within %s", h.timeout)
	}

	if r.Context().Err() != nil {
		return // the prober hung up: it learns nothing, and readiness has not changed
	}
	if err != nil {
		if h.state.Swap(stateNotReady) != stateNotReady {
			h.log.WarnContext(r.Context(), "not ready", "reason", err.Error())
		}
		text(w, http.StatusServiceUnavailable, "not ready: "+err.Error()+"\n")
		return
	}
	if h.state.Swap(stateReady) != stateReady {
		h.log.InfoContext(r.Context(), "ready")
	}
	text(w, http.StatusOK, "ok\n")
}

// text writes a plain-text answer that no proxy or browser may cache: health is always now.
func text(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// Ready combines checks into one readiness check: all run at once, under the caller's context, and the
// result is nil when every one passes, or else every failure joined, in the order of checks.
func Ready(checks ...func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		errs := make([]error, len(checks))
		var wg sync.WaitGroup
		for i, check := range checks {
			wg.Go(func() { errs[i] = check(ctx) })
		}
		wg.Wait()
		return errors.Join(errs...)
	}
}

// Pinger is what PostgresCheck needs of a database handle; *pgxpool.Pool and *pgx.Conn have it.
type Pinger interface {
	Ping(ctx context.Context) error
}

// PostgresCheck is a readiness check that pings the database. pgx's errors name the host, user and database,
// never the password.
func PostgresCheck(db Pinger) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := db.Ping(ctx); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		return nil
	}
}

// KafkaCheck is a readiness check that asks the cluster for metadata with cfg's security settings, over a new
// connection each time, and checks that topics (base names; none: just the brokers) exist. It is kafka.Ping,
// whose errors already begin with "kafka".
func KafkaCheck(cfg kafka.Config, topics ...string) func(context.Context) error {
	return func(ctx context.Context) error { return kafka.Ping(ctx, cfg, topics...) }
}
