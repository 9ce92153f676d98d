package poller_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mizanhq/mizan/internal/cli"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/metrics"
	"github.com/mizanhq/mizan/internal/poller"
	"github.com/mizanhq/mizan/internal/sources"
	"github.com/mizanhq/mizan/internal/sources/sourcetest"
)

func scrape(t *testing.T, m *metrics.Poller) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func hasAll(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("the scrape lacks %s", w)
		}
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", out)
	}
}

// eventAt is a fact whose provider time is at (a quarantined item's time says nothing of how far a poll
// has read).
func eventAt(t *testing.T, id string, at time.Time) events.Event {
	t.Helper()
	ev := event(t, id)
	ev.Type, ev.Time = events.TypeStatementItem, at
	return ev
}

// A poll's metrics: the feed's series exist at zero before its first poll; a poll counts its pages and items,
// names each topic in full (with the deployment's prefix), and sets when the feed last succeeded; a failed
// poll marks the feed failing and leaves its last success where it was.
func TestAPollsMetrics(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	m := metrics.NewPoller(metrics.Build{})
	fail := false
	b := setupWith(t, poller.Config{SettleDelay: -1, Now: func() time.Time { return now }, Metrics: m, TopicPrefix: "p."},
		(&sourcetest.LogBuffer{}).Logger(), func(req sources.PollRequest) []step {
			if fail {
				return []step{{err: errors.New("HTTP 503")}}
			}
			return []step{
				{Step: sources.Step{Events: []events.Event{eventAt(t, "1", now.Add(-2*time.Hour)), eventAt(t, "2", now.Add(-time.Hour))}, Cursor: cursor(2)}},
				{Step: sources.Step{Events: []events.Event{event(t, "3")}, Cursor: cursor(3)}},
				{Step: sources.Step{Watermark: &events.Watermark{Through: req.Cutoff, Items: 3}}},
			}
		}, nil, nil)
	if out := scrape(t, m); strings.Contains(out, "mizan_poller_items_fetched_total{") {
		t.Fatalf("series before the poller knew what it polls:\n%s", out)
	}
	if err := b.p.Once(t.Context(), ""); err != nil {
		t.Fatal(err)
	}
	hasAll(t, scrape(t, m),
		`mizan_poller_items_fetched_total{feed="lines",source="scripted-acme"} 3`,
		`mizan_poller_pages_fetched_total{feed="lines",source="scripted-acme"} 3`,
		`mizan_poller_events_published_total{topic="p.test.lines.v1"} 3`,
		`mizan_poller_events_published_total{topic="p.mizan.watermark.v1"} 1`,
		`mizan_poller_poll_duration_seconds_count{feed="lines",outcome="ok",source="scripted-acme"} 1`,
		`mizan_poller_poll_duration_seconds_count{feed="lines",outcome="error",source="scripted-acme"} 0`,
		`mizan_poller_last_success_timestamp_seconds{feed="lines",source="scripted-acme"} 1.7966232e+09`,
		`mizan_poller_last_poll_failed{feed="lines",source="scripted-acme"} 0`,
		`mizan_poller_poll_in_progress{feed="lines",source="scripted-acme"} 0`,
	)
	fail = true
	now = now.Add(time.Hour)
	if err := b.p.Once(t.Context(), ""); err == nil {
		t.Fatal("the failing poll did not fail")
	}
	hasAll(t, scrape(t, m),
		`mizan_poller_poll_duration_seconds_count{feed="lines",outcome="error",source="scripted-acme"} 1`,
		`mizan_poller_last_success_timestamp_seconds{feed="lines",source="scripted-acme"} 1.7966232e+09`,
		`mizan_poller_last_poll_failed{feed="lines",source="scripted-acme"} 1`,
	)
}

// A poll walking many pages reports its progress at each tick of its ticker — items, pages, rate, how far in
// the provider's time it has read and, once it has moved forward since the previous report, an estimate of
// the time left — with durations in seconds; the ticks here are the test's, not the wall clock's.
func TestALongPollReportsItsProgress(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	ticks := make(chan time.Time, 1)
	var every time.Duration
	logs := &sourcetest.LogBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{ReplaceAttr: cli.Seconds}))
	m := metrics.NewPoller(metrics.Build{})
	page := func(id string, hoursAgo int) []events.Event {
		at := start.Add(-time.Duration(hoursAgo) * time.Hour)
		return []events.Event{eventAt(t, id+"a", at.Add(-time.Minute)), eventAt(t, id+"b", at)}
	}
	var inProgress string
	b := setupWith(t, poller.Config{SettleDelay: -1, Now: func() time.Time { return start }, Metrics: m,
		ProgressEvery: 7 * time.Second,
		NewTicker: func(d time.Duration) (<-chan time.Time, func()) {
			every = d
			return ticks, func() {}
		}}, log, func(req sources.PollRequest) []step {
		return []step{
			{Step: sources.Step{Events: page("1", 100), Cursor: cursor(1)}},
			{Step: sources.Step{Events: page("2", 90), Cursor: cursor(2)},
				before: func() { ticks <- start.Add(10 * time.Second) }},
			// A quarantined item, seen now, does not move how far the poll has read.
			{Step: sources.Step{Events: append(page("3", 80), event(t, "3q")), Cursor: cursor(3)}},
			{Step: sources.Step{Events: page("4", 70), Cursor: cursor(4)}, before: func() {
				inProgress = scrape(t, m)
				ticks <- start.Add(20 * time.Second)
			}},
			{Step: sources.Step{Watermark: &events.Watermark{Through: req.Cutoff, Items: 9}}},
		}
	}, nil, nil)
	if err := b.p.Once(t.Context(), ""); err != nil {
		t.Fatal(err)
	}
	if every != 7*time.Second {
		t.Errorf("ticker made for %s, want the configured 7s", every)
	}
	// While the poll runs, the metrics show it.
	hasAll(t, inProgress,
		`mizan_poller_poll_in_progress{feed="lines",source="scripted-acme"} 1`,
		`mizan_poller_items_fetched_total{feed="lines",source="scripted-acme"} 7`,
		`mizan_poller_pages_fetched_total{feed="lines",source="scripted-acme"} 3`,
		`mizan_poller_poll_reached_timestamp_seconds{feed="lines",source="scripted-acme"} 1.7963352e+09`,
	)

	var reports []map[string]any
	var complete map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("%v: %s", err, sc.Text())
		}
		switch line["msg"] {
		case "poll in progress":
			reports = append(reports, line)
		case "poll complete":
			complete = line
		}
	}
	if len(reports) != 2 {
		t.Fatalf("%d progress reports, want one per tick (2):\n%s", len(reports), logs)
	}
	want := []map[string]any{
		{"items": 4.0, "pages": 2.0, "elapsed_seconds": 10.0, "items_per_second": 0.4, "reached": "2026-12-03T12:00:00Z"},
		{"items": 9.0, "pages": 4.0, "elapsed_seconds": 20.0, "items_per_second": 0.5, "reached": "2026-12-04T08:00:00Z",
			// 20 hours of the provider's time in the last 10 s; 70 hours left to the cutoff: 35 s.
			"estimated_remaining_seconds": 35.0},
	}
	for i, w := range want {
		for k, v := range w {
			if reports[i][k] != v {
				t.Errorf("report %d: %s = %v, want %v", i+1, k, reports[i][k], v)
			}
		}
		if reports[i]["source"] != "scripted-acme" || reports[i]["feed"] != lines {
			t.Errorf("report %d does not name the source and feed: %v", i+1, reports[i])
		}
	}
	if _, ok := reports[0]["estimated_remaining_seconds"]; ok {
		t.Error("the first report estimates the time left with nothing to measure the pace against")
	}
	if complete == nil || complete["items"] != 9.0 || complete["pages"] != 5.0 {
		t.Errorf("poll complete: %v", complete)
	}
	if _, ok := complete["duration_seconds"].(float64); !ok {
		t.Errorf("poll complete logs no duration in seconds: %v", complete)
	}
	if _, ok := complete["duration"]; ok {
		t.Errorf("poll complete still logs a duration in nanoseconds: %v", complete)
	}
}

// Run makes the series of every feed it schedules exist before the first tick polls anything.
func TestRunDeclaresEveryFeedBeforeItsFirstPoll(t *testing.T) {
	t.Parallel()
	m := metrics.NewPoller(metrics.Build{})
	b := setupWith(t, poller.Config{SettleDelay: -1, Metrics: m, TopicPrefix: "p."}, (&sourcetest.LogBuffer{}).Logger(),
		func(sources.PollRequest) []step {
			t.Error("polled: the test's schedule never comes due")
			return nil
		}, nil, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // Run schedules, then returns at once: the feed's schedule (every minute) never comes due
	if err := b.p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	hasAll(t, scrape(t, m),
		`mizan_poller_last_success_timestamp_seconds{feed="lines",source="scripted-acme"} 0`,
		`mizan_poller_poll_duration_seconds_count{feed="lines",outcome="error",source="scripted-acme"} 0`,
		`mizan_poller_events_published_total{topic="p.test.lines.v1"} 0`,
		`mizan_poller_events_published_total{topic="p.mizan.watermark.v1"} 0`,
	)
}
