package reconciler

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/mizanhq/mizan/internal/alerts"
	"github.com/mizanhq/mizan/internal/checks"
	"github.com/mizanhq/mizan/internal/metrics"
)

// health is what the reconciler knows of its own progress, for /readyz, the stalled gauge and the stalled
// alert. Every actor that can fail (each worker, the offset committer) reports its failures and recoveries
// by name: one worker stuck on its key while the others flow is a stall too.
type health struct {
	clock      func() time.Time
	stallAfter time.Duration
	metrics    *metrics.Reconciler

	mu           sync.Mutex
	lastProgress time.Time
	failing      map[string]failure // by actor
	lag          int64
	lagKnown     bool
	env          error // an environment problem stops consumption until cleared
	// alerted: this process raised a stalled alert and has not resolved it; maybeOpen: a previous process may
	// have left one open; pending: one that PostgreSQL could not record yet (kept here and recorded as soon as
	// it answers).
	alerted, maybeOpen bool
	pending            *alerts.Alert
}

type failure struct {
	since time.Time
	class Class
	err   error
}

func newHealth(clock func() time.Time, stallAfter time.Duration, m *metrics.Reconciler) *health {
	// A stalled alert a previous process raised is resolved by this one's first success.
	return &health{clock: clock, stallAfter: stallAfter, metrics: m, lastProgress: clock(), failing: map[string]failure{},
		maybeOpen: true}
}

// progress notes that there was nothing to do; it reports whether no actor is failing.
func (h *health) progress() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastProgress = h.clock()
	return len(h.failing) == 0 && h.env == nil
}

// failed notes a failed attempt by actor and returns how long that actor has been failing.
func (h *health) failed(actor string, class Class, err error) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.clock()
	f, ok := h.failing[actor]
	if !ok {
		f.since = now
	}
	f.class, f.err = class, err
	h.failing[actor] = f
	h.updateGauge()
	return now.Sub(f.since)
}

// recovered notes that actor succeeded; it reports whether no actor is failing any more.
func (h *health) recovered(actor string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.failing, actor)
	h.env = nil // something applied: whatever the environment lacked, it has now
	h.lastProgress = h.clock()
	h.updateGauge()
	return len(h.failing) == 0 && h.env == nil
}

func (h *health) envProblem(err error) {
	h.mu.Lock()
	h.env = err
	h.updateGauge()
	h.mu.Unlock()
}

func (h *health) envCleared() {
	h.mu.Lock()
	h.env = nil
	h.updateGauge()
	h.mu.Unlock()
}

func (h *health) setLag(total int64) {
	h.mu.Lock()
	h.lag, h.lagKnown = total, true
	h.mu.Unlock()
}

// updateGauge sets the stalled gauge; h.mu is held.
func (h *health) updateGauge() {
	v := 0.0
	if h.stalledLocked() != nil {
		v = 1
	}
	h.metrics.Stalled.Set(v)
}

// stalledLocked returns why the reconciler is stalled, or nil; h.mu is held.
func (h *health) stalledLocked() error {
	if h.env != nil {
		return h.env
	}
	now := h.clock()
	for actor, f := range h.failing {
		if d := now.Sub(f.since); d >= h.stallAfter {
			return fmt.Errorf("%s failing for %s (%s): %w", actor, d.Round(time.Second), f.class, f.err)
		}
	}
	return nil
}

// ready is the readiness verdict.
func (h *health) ready() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.stalledLocked(); err != nil {
		return fmt.Errorf("reconciler stalled: %w", err)
	}
	if idle := h.clock().Sub(h.lastProgress); h.lagKnown && h.lag > 0 && idle >= h.stallAfter {
		return fmt.Errorf("reconciler: no progress for %s while the group lags by %d messages", idle.Round(time.Second), h.lag)
	}
	return nil
}

// stalledKey is the dedup key of the group's stalled alert.
func (r *Reconciler) stalledKey() string { return alerts.KindStalled + ":" + r.cfg.Group }

// raiseStalled records the stalled alert in a short transaction of its own — outside the batch that cannot
// commit — so that the dispatcher delivers it to Slack. If PostgreSQL itself cannot record it, it is kept in
// memory and recorded by the next call (every retry makes one), or when the reconciler recovers.
func (r *Reconciler) raiseStalled(ctx context.Context, class Class, cause error) {
	h := r.health
	a := alerts.Alert{Kind: alerts.KindStalled, Severity: checks.SeverityCritical, Subject: "reconciler/" + r.cfg.Group,
		DedupKey: r.stalledKey(),
		Summary: fmt.Sprintf("reconciler group %s cannot make progress (%s failure): %v", r.cfg.Group, class,
			truncateText(cause.Error(), 1500)),
		Details: map[string]any{"class": class.String(), "error": truncateText(cause.Error(), 4000), "group": r.cfg.Group,
			"look_closer": "SELECT * FROM recon.alerts WHERE kind = 'stalled' ORDER BY id DESC LIMIT 5;"}}
	h.mu.Lock()
	if h.alerted {
		h.mu.Unlock()
		return
	}
	h.pending = &a
	h.mu.Unlock()
	r.recordPendingStalled(ctx)
}

// recordPendingStalled records a stalled alert that could not be recorded before.
func (r *Reconciler) recordPendingStalled(ctx context.Context) {
	h := r.health
	h.mu.Lock()
	a := h.pending
	h.mu.Unlock()
	if a == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var opened bool
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		var err error
		opened, err = alerts.Raise(ctx, tx, *a)
		return err
	})
	if err != nil {
		r.log.Error("could not record the stalled alert; keeping it to record later", "err", err)
		return
	}
	h.mu.Lock()
	h.pending, h.alerted = nil, true
	h.mu.Unlock()
	if opened {
		r.addStats(func(s *Stats) { s.AlertsOpened++ })
	}
	r.log.Error("reconciler stalled: alert raised", "summary", a.Summary)
}

// resolveStalled resolves the stalled alert once nothing fails any more.
func (r *Reconciler) resolveStalled(ctx context.Context) {
	h := r.health
	h.mu.Lock()
	raised := h.alerted || h.maybeOpen || h.pending != nil
	h.pending = nil
	h.mu.Unlock()
	if !raised {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := alerts.Resolve(ctx, r.pool, r.stalledKey()); err != nil {
		r.log.Warn("could not resolve the stalled alert; the next recovery tries again", "err", err)
		return
	}
	h.mu.Lock()
	h.alerted, h.maybeOpen = false, false
	h.mu.Unlock()
	r.log.Info("reconciler progressing: no stalled alert open")
}

// markApplied sets the last-applied timestamp of the partitions a transaction applied messages of.
func (r *Reconciler) markApplied(parts map[topicPartition]bool) {
	now := float64(r.cfg.Clock().UnixNano()) / 1e9
	for tp := range parts {
		r.cfg.Metrics.LastApplied.WithLabelValues(tp.topic, strconv.Itoa(tp.partition)).Set(now)
	}
}

type topicPartition struct {
	topic     string
	partition int
}

// truncateText shortens s to at most n bytes, on a rune boundary, saying so.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("… (%d bytes in all)", len(s))
}
