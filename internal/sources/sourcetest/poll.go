package sourcetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources"
)

// pollPageSize is the page size RunPolls asks for, where the provider lets the client choose: 25 facts take
// several pages, and so several steps.
const pollPageSize = 10

// PollResult is what one poll of a sources.Source published and saved, as the poller would have.
type PollResult struct {
	// Events are every event of every step, in order.
	Events []events.Event
	// Steps is how many steps the poll took.
	Steps int
	// Cursor is the last cursor a step saved, or the request's when none did.
	Cursor []byte
	// Watermark is what the poll's last step claimed, or nil.
	Watermark *events.Watermark
	// Err is the poll's error.
	Err error
}

// Quarantined returns the quarantined facts among the events.
func (r PollResult) Quarantined() []events.Quarantined {
	var out []events.Quarantined
	for _, ev := range r.Events {
		if ev.Type != events.TypeQuarantined {
			continue
		}
		q, err := events.DecodeData[events.Quarantined](ev)
		if err == nil {
			out = append(out, q)
		}
	}
	return out
}

// Poll runs one poll of req.Feed as the poller does — each step's events kept as if published, then its
// cursor as if saved — and stops after maxSteps steps if maxSteps > 0 (a process stopped mid-poll). A step's
// Watermark only counts on the poll's last step.
func Poll(ctx context.Context, src sources.Source, req sources.PollRequest, maxSteps int) (res PollResult) {
	res.Cursor = req.Cursor
	defer func() {
		if r := recover(); r != nil {
			res.Err = fmt.Errorf("Poll panicked: %v", r)
		}
	}()
	for step, err := range src.Poll(ctx, req) {
		res.Steps++
		res.Events = append(res.Events, step.Events...)
		if step.Cursor != nil {
			res.Cursor = step.Cursor
		}
		res.Watermark = step.Watermark
		if err != nil {
			res.Err = err
			return res
		}
		if maxSteps > 0 && res.Steps >= maxSteps {
			res.Watermark = nil
			return res
		}
	}
	return res
}

// PollHarness is what a source's test implements to run RunPolls: a simulator and a sources.Source opened
// on it through the provider's own Settings.Open, polled through the interface exactly as the poller does.
type PollHarness interface {
	// StartPoll starts a simulator holding cfg.N facts and opens a Source for one feed of it, with fresh
	// credentials in memory; it registers their cleanup with t. The Source must be configured for tests:
	// small pages (N = 25 takes several), retries that do not sleep.
	StartPoll(t *testing.T, cfg Config) PollSource
}

// PollSource is one started simulator and a Source polling one of its feeds.
type PollSource interface {
	// Source is the opened source.
	Source() sources.Source
	// Feed is the feed the suite polls.
	Feed() string
	// Now is the simulator's clock: polls start then, with no settle delay.
	Now() time.Time
	// Fact renders a published event as the suite compares it; false for an event that is no fact of the
	// simulator (a quarantined item, say).
	Fact(ev events.Event) (Fact, bool)
	// Want is the truth: the facts the simulator holds, as the feed must publish them.
	Want() []Fact
	// Garble makes the simulator answer the fact keyed key in a form the source cannot understand (an
	// unknown status, an amount that is not a number): from then on, it is not in Want.
	Garble(key string)
	// Inject makes the simulator answer the next n requests with the fault.
	Inject(f Fault, n int)
	// BreakCredentials makes the source's credentials refused for good.
	BreakCredentials()
}

// RunPolls runs the part of the conformance suite that only the interface can show: what a poll publishes
// and saves, step by step. Every sub-test starts its own simulator and runs in parallel with the others.
func RunPolls(t *testing.T, h PollHarness) {
	request := func(ps PollSource, cursor []byte) sources.PollRequest {
		return sources.PollRequest{Feed: ps.Feed(), Cursor: cursor, Start: ps.Now(), Cutoff: ps.Now(),
			RereadWindow: 48 * time.Hour, PageSize: pollPageSize}
	}
	facts := func(t *testing.T, ps PollSource, evs []events.Event) []Fact {
		t.Helper()
		var out []Fact
		for _, ev := range evs {
			if f, ok := ps.Fact(ev); ok {
				out = append(out, f)
			}
		}
		return out
	}

	t.Run("a poll publishes every fact once and claims a watermark; the next publishes them again, unchanged", func(t *testing.T) {
		t.Parallel()
		ps := h.StartPoll(t, Config{N: manyFacts})
		first := Poll(t.Context(), ps.Source(), request(ps, nil), 0)
		if first.Err != nil {
			t.Fatal(first.Err)
		}
		sameFacts(t, facts(t, ps, first.Events), ps.Want())
		if first.Watermark == nil || first.Watermark.Feed != ps.Feed() {
			t.Errorf("watermark %+v, want one for feed %s", first.Watermark, ps.Feed())
		}
		second := Poll(t.Context(), ps.Source(), request(ps, first.Cursor), 0)
		if second.Err != nil {
			t.Fatal(second.Err)
		}
		sameIDs(t, first.Events, second.Events)
	})

	t.Run("a poll stopped after any step resumes from its saved cursor and loses nothing", func(t *testing.T) {
		t.Parallel()
		ps := h.StartPoll(t, Config{N: manyFacts})
		all := Poll(t.Context(), ps.Source(), request(ps, nil), 0)
		if all.Err != nil {
			t.Fatal(all.Err)
		}
		for stop := 1; stop < all.Steps; stop++ {
			part := Poll(t.Context(), ps.Source(), request(ps, nil), stop)
			if part.Err != nil {
				t.Fatalf("stopped after %d steps: %v", stop, part.Err)
			}
			if part.Watermark != nil {
				t.Errorf("stopped after %d of %d steps, the poll claimed a watermark", stop, all.Steps)
			}
			rest := Poll(t.Context(), ps.Source(), request(ps, part.Cursor), 0)
			if rest.Err != nil {
				t.Fatalf("resumed after %d steps: %v", stop, rest.Err)
			}
			got := facts(t, ps, append(slices.Clone(part.Events), rest.Events...))
			sameFacts(t, dedupe(got), ps.Want())
			sameIDs(t, all.Events, append(slices.Clone(part.Events), rest.Events...))
		}
	})

	t.Run("an item the source cannot understand is quarantined, and the feed moves on past it", func(t *testing.T) {
		t.Parallel()
		ps := h.StartPoll(t, Config{N: manyFacts})
		key := ps.Want()[manyFacts/2].Key
		ps.Garble(key)
		res := Poll(t.Context(), ps.Source(), request(ps, nil), 0)
		if res.Err != nil {
			t.Fatalf("one odd item failed the poll: %v", res.Err)
		}
		sameFacts(t, facts(t, ps, res.Events), ps.Want())
		qs := res.Quarantined()
		if len(qs) == 0 {
			t.Fatalf("nothing quarantined for the garbled item %s", key)
		}
		for _, q := range qs {
			if q.Reason == "" || q.Endpoint == "" || q.Feed != ps.Feed() || len(q.Raw) == 0 {
				t.Errorf("quarantined %+v: want a reason, an endpoint, the feed and the raw item", q)
			}
		}
		if !slices.ContainsFunc(qs, func(q events.Quarantined) bool { return q.ItemID == key }) {
			t.Errorf("quarantined %v, none names item %s", qs, key)
		}
		if res.Watermark == nil {
			t.Error("a poll that quarantined one item claimed no watermark: the feed halted")
		}
		// The next poll does not stop there either, and the quarantine is the same fact again.
		again := Poll(t.Context(), ps.Source(), request(ps, res.Cursor), 0)
		if again.Err != nil {
			t.Fatal(again.Err)
		}
		sameIDs(t, res.Events, again.Events)
	})

	t.Run("refused credentials fail the poll with a clear error, no watermark and the cursor kept", func(t *testing.T) {
		t.Parallel()
		ps := h.StartPoll(t, Config{N: fewFacts})
		first := Poll(t.Context(), ps.Source(), request(ps, nil), 0)
		if first.Err != nil {
			t.Fatal(first.Err)
		}
		ps.BreakCredentials()
		res := Poll(t.Context(), ps.Source(), request(ps, first.Cursor), 0)
		if res.Err == nil {
			t.Fatal("a poll with refused credentials succeeded")
		}
		if res.Watermark != nil {
			t.Error("a poll with refused credentials claimed a watermark")
		}
		if string(res.Cursor) != string(first.Cursor) {
			t.Errorf("the cursor moved on a refused poll: %s → %s", first.Cursor, res.Cursor)
		}
	})

	t.Run("a failure that outlasts the retries fails the poll with no watermark", func(t *testing.T) {
		t.Parallel()
		ps := h.StartPoll(t, Config{N: fewFacts})
		ps.Inject(FaultServerError, persistent)
		res := Poll(t.Context(), ps.Source(), request(ps, nil), 0)
		if res.Err == nil || !strings.Contains(res.Err.Error(), "503") {
			t.Fatalf("err = %v, want one saying HTTP 503", res.Err)
		}
		if res.Watermark != nil {
			t.Error("a failed poll claimed a watermark")
		}
	})

	t.Run("a feed the source does not have is an error", func(t *testing.T) {
		t.Parallel()
		ps := h.StartPoll(t, Config{N: fewFacts})
		req := request(ps, nil)
		req.Feed = "no-such-feed"
		if res := Poll(t.Context(), ps.Source(), req, 0); !errors.Is(res.Err, sources.ErrUnknownFeed) {
			t.Errorf("err = %v, want sources.ErrUnknownFeed", res.Err)
		}
	})

	t.Run("a cancelled context stops the poll", func(t *testing.T) {
		t.Parallel()
		ps := h.StartPoll(t, Config{N: fewFacts})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		res := Poll(ctx, ps.Source(), request(ps, nil), 0)
		if !errors.Is(res.Err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", res.Err)
		}
		if res.Watermark != nil {
			t.Error("a cancelled poll claimed a watermark")
		}
	})
}

// sameIDs fails unless every fact published in both runs has the same event id in each: a re-poll of the same
// state is the same fact, which the reconciler skips.
func sameIDs(t reporter, a, b []events.Event) {
	t.Helper()
	ids := map[string]string{} // subject/type → id
	for _, ev := range a {
		ids[ev.Type+" "+ev.Subject] = ev.ID
	}
	for _, ev := range b {
		if id, ok := ids[ev.Type+" "+ev.Subject]; ok && id != ev.ID {
			t.Errorf("%s %s was published as event %s, then as %s, with nothing changed", ev.Type, ev.Subject, id, ev.ID)
		}
	}
}

// dedupe keeps the first of facts with one key: a resumed poll may publish again what it published before it
// stopped, which the reconciler skips by id.
func dedupe(fs []Fact) []Fact {
	seen := map[string]bool{}
	var out []Fact
	for _, f := range fs {
		if !seen[f.Key] {
			seen[f.Key] = true
			out = append(out, f)
		}
	}
	return out
}
