package vandar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources"
	"github.com/mizanhq/mizan/internal/sources/quarantine"
)

// settlementCursor is what the settlements feed remembers: the settlements it saw still on their way, which
// it follows up one by one if they have slipped out of the pages it reads.
type settlementCursor struct {
	Open []string `json:"open,omitempty"`
	// Backfilled is set once a poll has read the whole list; until then polls do not stop at the window.
	Backfilled bool `json:"backfilled,omitempty"`
}

// batchCursor is what the batches feed remembers: whether it has read the whole list once, and the batches
// whose items it could not read, which the next poll reads whatever their age.
type batchCursor struct {
	Backfilled bool     `json:"backfilled,omitempty"`
	Retry      []string `json:"retry,omitempty"`
}

// isFinal says whether a settlement has reached a status it cannot leave.
func isFinal(status string) bool {
	return status == events.SettlementDone || status == events.SettlementFailed || status == events.SettlementCanceled
}

// payoutRead is one poll of the settlements or the batches feed: what it has read so far, and how each of its
// sub-feeds (the settlement list, the follow-ups, the queue; the batch list, each batch's items) fared. A
// sub-feed fails and succeeds on its own: what the others read is published either way.
type payoutRead struct {
	src  *Source
	feed string
	evs  []events.Event
	// failures are the sub-feeds that failed transiently; the poll reports them and claims no watermark.
	failures []error
	// aborted is set when the feed cannot go on at all (credentials refused, the poll cancelled).
	aborted error
}

// add appends a fact's event.
func (r *payoutRead) add(ev events.Event, err error) {
	if err != nil && r.aborted == nil {
		r.aborted = err
		return
	}
	r.evs = append(r.evs, ev)
}

// quarantine appends the facts of quarantined items: published, so that an alert names each one, while the
// rest of the feed goes on.
func (r *payoutRead) quarantine(qs []events.Quarantined) {
	evs, err := quarantineEvents(qs)
	if err != nil && r.aborted == nil {
		r.aborted = err
	}
	r.evs = append(r.evs, evs...)
}

// failed handles a failed request of a sub-feed and reports whether the sub-feed was skipped for good (a
// refusal, quarantined) rather than left for the next poll.
func (r *payoutRead) failed(ctx context.Context, subfeed, endpoint string, err error) (skipped bool) {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		endpoint = apiErr.Endpoint
	}
	log := r.src.log.With(slog.String("business", r.src.business), slog.String("feed", r.feed),
		slog.String("subfeed", subfeed), slog.String("endpoint", endpoint), slog.String("error", err.Error()))
	switch classify(ctx, err) {
	case abort:
		if r.aborted == nil {
			r.aborted = fmt.Errorf("%s: %w", subfeed, err)
		}
	case skip:
		log.WarnContext(ctx, "vandar: endpoint skipped: it refuses, or answers what mizan cannot read; "+
			"quarantined with an alert, and the rest of the feed goes on")
		r.add(endpointSkipped(r.src.business, r.feed, endpoint, err, r.src.now()))
		return true
	case retryLater:
		log.ErrorContext(ctx, "vandar: sub-feed failed; what the rest of the feed read is published, and the next "+
			"poll asks again")
		r.failures = append(r.failures, fmt.Errorf("%s: %w", subfeed, err))
	}
	return false
}

// done yields the poll's one step: every fact read, the cursor, and the watermark if every sub-feed read
// all it should.
func (r *payoutRead) done(yield func(sources.Step, error) bool, start time.Time, cursor any) {
	raw, err := json.Marshal(cursor)
	if err != nil {
		yield(sources.Step{}, err)
		return
	}
	step := sources.Step{Events: r.evs, Cursor: raw}
	if r.aborted != nil {
		// The cursor is kept as it was: what it would say depends on reads that did not happen.
		step.Cursor = nil
		yield(step, r.aborted)
		return
	}
	if len(r.failures) == 0 {
		w := events.Watermark{Provider: events.ProviderVandar, Account: r.src.business, Feed: r.feed,
			Through: start, PolledAt: start, Items: len(r.evs)}
		if len(r.evs) > 0 {
			w.LastEvent = r.evs[len(r.evs)-1].ID
		}
		step.Watermark = &w
	}
	yield(step, errors.Join(r.failures...))
}

// pollSettlements reads the settlement list newest first until it reaches settlements that are final and
// older than the re-read window (Vandar's list pages by page number and moves as new settlements arrive, so
// every poll reads from page 1), follows up settlements it last saw open that it did not meet on the way,
// reads the queue, and publishes every state. A state published before has the same event id: the
// reconciler skips it. The list, the follow-ups and the queue each fail on their own (see payoutRead).
func (s *Source) pollSettlements(ctx context.Context, req sources.PollRequest) iter.Seq2[sources.Step, error] {
	return func(yield func(sources.Step, error) bool) {
		var cur settlementCursor
		if err := decodeCursor(req.Cursor, &cur); err != nil {
			yield(sources.Step{}, err)
			return
		}
		r := &payoutRead{src: s, feed: events.FeedSettlements}
		horizon := req.Start.Add(-req.RereadWindow)
		seen := map[string]bool{}
		var open []string
		keep := func(st events.Settlement) {
			if seen[st.SettlementID] {
				return // moved to the next page while we read
			}
			seen[st.SettlementID] = true
			if !isFinal(st.Status) {
				open = append(open, st.SettlementID)
			}
			r.add(st.Event())
		}

		listDone := false
		for page := 1; r.aborted == nil; page++ {
			pg, err := s.client.Settlements(ctx, page, MaxPerPage)
			if err != nil {
				r.failed(ctx, fmt.Sprintf("settlement list page %d", page), s.client.getEndpoint("v2.1", "/settlement"), err)
				break
			}
			r.quarantine(pg.Quarantined)
			old := 0
			for _, st := range pg.Items {
				keep(st)
				if t := settlementTime(st); isFinal(st.Status) && !t.IsZero() && t.Before(horizon) {
					old++
				}
			}
			if !pg.HasMore || len(pg.Items)+len(pg.Quarantined) == 0 ||
				cur.Backfilled && len(pg.Items) > 0 && old == len(pg.Items) {
				listDone = true
				break
			}
		}

		// Settlements last seen on their way and not met in the list: asked for one by one. One the follow-up
		// cannot read stays open, to be asked for again.
		for _, id := range cur.Open {
			if seen[id] || r.aborted != nil {
				continue
			}
			st, err := s.client.Settlement(ctx, id)
			if q, ok := quarantine.As(err); ok {
				// Its answer could not be understood: the fact is published (the same fact each time it is
				// asked again), and the settlement stays open, since what became of it is still unknown.
				r.quarantine([]events.Quarantined{q})
				open = append(open, id)
				continue
			}
			switch {
			case errors.Is(err, ErrNotFound):
				s.log.WarnContext(ctx, "a settlement seen open is gone from Vandar", "business", s.business,
					"settlement_id", id)
			case err != nil:
				r.failed(ctx, "follow-up of settlement "+id, s.client.getEndpoint("v2.1", "/settlement/"+url.PathEscape(id)), err)
				open = append(open, id)
			default:
				keep(st)
			}
		}

		for page := 1; r.aborted == nil; page++ {
			pg, err := s.client.QueuedSettlements(ctx, page, MaxPerPage)
			if err != nil {
				r.failed(ctx, fmt.Sprintf("settlement queue page %d", page), s.client.getEndpoint("v3", "/settlement/queued"), err)
				break
			}
			r.quarantine(pg.Quarantined)
			for _, st := range pg.Items {
				keep(st)
			}
			if !pg.HasMore || len(pg.Items)+len(pg.Quarantined) == 0 {
				break
			}
		}
		slices.Sort(open)
		r.done(yield, req.Start, settlementCursor{Open: slices.Compact(open), Backfilled: cur.Backfilled || listDone})
	}
}

// settlementTime is the latest moment a settlement is known by — requested, predicted, done, or the end of the
// day it is dated — which the settlements feed compares with its horizon. The v2.1 list gives only a day
// (settlement_date): without it no settlement there would ever be old, and every poll would read every page.
func settlementTime(s events.Settlement) time.Time {
	t := s.CreatedAt
	for _, u := range []time.Time{s.PredictedAt, s.SettledAt, settlementDay(s.Raw)} {
		if u.After(t) {
			t = u
		}
	}
	return t
}

// settlementDay is the end (in Tehran) of the day a settlement's settlement_date names, or zero.
func settlementDay(raw json.RawMessage) time.Time {
	m, err := members(raw)
	if err != nil {
		return time.Time{}
	}
	var date jsonText
	if member(m, "settlement_date", &date) != nil || strings.TrimSpace(date.text) == "" {
		return time.Time{}
	}
	day, err := parseSettlementTime(strings.TrimSpace(date.text) + " 00:00:00")
	if err != nil {
		return time.Time{}
	}
	return day.AddDate(0, 0, 1).UTC()
}

// pollBatches reads the batch list newest first until it reaches batches that are finished and older than
// the re-read window, reads the items of every batch it keeps, and publishes each batch with its items. The
// list and each batch's items fail on their own: a batch whose items cannot be read is left out, and read
// again by the next poll whatever its age.
func (s *Source) pollBatches(ctx context.Context, req sources.PollRequest) iter.Seq2[sources.Step, error] {
	return func(yield func(sources.Step, error) bool) {
		var cur batchCursor
		if err := decodeCursor(req.Cursor, &cur); err != nil {
			yield(sources.Step{}, err)
			return
		}
		r := &payoutRead{src: s, feed: events.FeedBatches}
		horizon := req.Start.Add(-req.RereadWindow)
		// Batches to read again are found by walking the whole list.
		stopAtHorizon := cur.Backfilled && len(cur.Retry) == 0
		seen := map[string]bool{}
		var retry []string
		listDone := false
		for page := 1; r.aborted == nil; page++ {
			pg, err := s.client.Batches(ctx, page)
			if err != nil {
				r.failed(ctx, fmt.Sprintf("batch list page %d", page), s.client.batchEndpoint("/batches"), err)
				break
			}
			r.quarantine(pg.Quarantined)
			old := 0
			for _, b := range pg.Items {
				if seen[b.BatchID] || r.aborted != nil {
					continue
				}
				seen[b.BatchID] = true
				if stopAtHorizon && batchFinished(b) && !b.CreatedAt.IsZero() && b.CreatedAt.Before(horizon) {
					old++
					continue
				}
				full, quarantined, err := s.client.BatchWithItems(ctx, b)
				if err != nil {
					r.failed(ctx, "items of batch "+b.BatchID,
						s.client.batchEndpoint("/batch-settlements/"+url.PathEscape(b.BatchID)), err)
					retry = append(retry, b.BatchID)
					continue
				}
				r.quarantine(quarantined)
				r.add(full.Event())
			}
			if !pg.HasMore || len(pg.Items)+len(pg.Quarantined) == 0 || len(pg.Items) > 0 && old == len(pg.Items) {
				listDone = true
				break
			}
		}
		for _, id := range cur.Retry {
			switch {
			case seen[id]:
			case listDone:
				s.log.WarnContext(ctx, "a batch to read again is gone from Vandar's list", "business", s.business,
					"batch_id", id)
			default:
				retry = append(retry, id) // not met before the list failed: still to read
			}
		}
		slices.Sort(retry)
		r.done(yield, req.Start, batchCursor{Backfilled: cur.Backfilled || listDone, Retry: slices.Compact(retry)})
	}
}

// batchFinished says whether none of a batch's settlements is still on its way.
func batchFinished(b events.Batch) bool {
	for _, st := range []string{"init", "pending", "submitted"} {
		if b.Counts[st] > 0 {
			return false
		}
	}
	return true
}

// pollBalance reads the wallet balance. A balance whose figures cannot be trusted (the client's
// *quarantine.Error) is published as its quarantined fact, and an answer mizan cannot read at all is
// quarantined as a whole (there is no item in it to set aside); either way no watermark is claimed: no
// balance was observed.
func (s *Source) pollBalance(ctx context.Context) iter.Seq2[sources.Step, error] {
	bal, body, err := s.client.balance(ctx)
	if q, ok := quarantine.As(err); ok {
		ev, qerr := q.Event()
		if qerr != nil {
			return sources.Failed(qerr)
		}
		s.log.WarnContext(ctx, "vandar: balance quarantined", "business", s.business, "error", err.Error())
		return sources.Single(sources.Step{Events: []events.Event{ev}}, nil)
	}
	if err != nil {
		if classify(ctx, err) != skip {
			return sources.Failed(err)
		}
		endpoint := s.client.balanceRequest().endpoint()
		raw := json.RawMessage("null")
		if json.Valid(body) {
			raw = json.RawMessage(s.client.redact(string(body)))
		}
		if !json.Valid(raw) {
			raw = json.RawMessage("null")
		}
		q := events.Quarantined{Provider: events.ProviderVandar, Account: s.business, Feed: events.FeedBalance,
			Endpoint: endpoint, Reason: err.Error(), ObservedAt: s.now().UTC(), Raw: raw}
		if body == nil {
			q.Reason = "endpoint skipped: " + err.Error()
		}
		ev, qerr := q.Event()
		if qerr != nil {
			return sources.Failed(qerr)
		}
		s.log.WarnContext(ctx, "vandar: balance answer quarantined", "business", s.business, "error", err.Error())
		return sources.Single(sources.Step{Events: []events.Event{ev}}, nil)
	}
	ev, err := bal.Event()
	if err != nil {
		return sources.Failed(err)
	}
	return sources.Single(sources.Step{Events: []events.Event{ev}, Watermark: &events.Watermark{
		Provider: events.ProviderVandar, Account: s.business, Feed: events.FeedBalance, Through: bal.ObservedAt,
		PolledAt: bal.ObservedAt, Items: 1, LastEvent: ev.ID}}, nil)
}
