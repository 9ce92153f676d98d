package reconciler

import (
	"errors"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/mizanhq/mizan/internal/metrics"
)

// Readiness during a stall, on an injected clock: a group that lags while nothing applies for the stall bound
// is not ready even though no attempt failed (a worker waiting on a lock, a fetch that never returns); a
// failing actor past the bound, or an environment problem at once, is stalled and sets the gauge; progress or
// recovery makes it ready again. Lag alone, with progress, is not a stall, and neither is idleness without lag.
func TestReadinessFailsWhenNothingProgressesWhileTheGroupLags(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	m := metrics.NewReconciler(metrics.Build{}, metrics.Known{})
	h := newHealth(func() time.Time { return now }, 2*time.Minute, m)
	stalled := func() float64 {
		var out dto.Metric
		if err := m.Stalled.Write(&out); err != nil {
			t.Fatal(err)
		}
		return out.GetGauge().GetValue()
	}
	wantReady := func(step string) {
		t.Helper()
		if err := h.ready(); err != nil {
			t.Errorf("%s: not ready: %v", step, err)
		}
	}
	wantNotReady := func(step, says string) {
		t.Helper()
		if err := h.ready(); err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("%s: ready() = %v, want an error saying %q", step, err, says)
		}
	}

	now = now.Add(time.Hour)
	wantReady("idle an hour, the lag not known yet")
	h.setLag(0)
	wantReady("idle, nothing to consume")

	h.setLag(10)
	h.progress()
	now = now.Add(time.Minute)
	wantReady("lagging, a minute since the last progress")
	now = now.Add(time.Minute)
	wantNotReady("lagging, no progress for the stall bound", "no progress for 2m0s while the group lags by 10 messages")
	h.progress()
	wantReady("progress again")

	h.failed("worker 0", Infrastructure, errors.New("connection refused"))
	now = now.Add(time.Minute)
	h.failed("worker 0", Infrastructure, errors.New("connection refused"))
	if err := h.ready(); err != nil || stalled() != 0 {
		t.Errorf("failing a minute: ready() = %v, stalled gauge %v; want ready, 0", err, stalled())
	}
	now = now.Add(time.Minute)
	h.failed("worker 0", Infrastructure, errors.New("connection refused"))
	wantNotReady("failing for the stall bound", "worker 0 failing for 2m0s")
	if stalled() != 1 {
		t.Errorf("stalled gauge %v while stalled, want 1", stalled())
	}
	h.recovered("worker 0")
	wantReady("recovered")
	if stalled() != 0 {
		t.Errorf("stalled gauge %v after recovery, want 0", stalled())
	}

	h.envProblem(errors.New("relation ledger.entries does not exist"))
	wantNotReady("an environment problem", "relation ledger.entries does not exist")
	h.envCleared()
	wantReady("the environment fixed")
}
