package poller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mizanhq/mizan/internal/config"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources/vandar"
)

// settlementCursor is what the settlements feed remembers: the settlements it saw still on their way, which
// it follows up one by one if they have slipped out of the pages it reads.
type settlementCursor struct {
	Open []string `json:"open,omitempty"`
	// Backfilled is set once a poll has read the whole list; until then polls do not stop at the window.
	Backfilled bool `json:"backfilled,omitempty"`
}

// batchCursor is what the batches feed remembers: only whether it has read the whole list once.
type batchCursor struct {
	Backfilled bool `json:"backfilled,omitempty"`
}

// isFinal says whether a settlement has reached a status it cannot leave.
func isFinal(status string) bool {
	return status == events.SettlementDone || status == events.SettlementFailed || status == events.SettlementCanceled
}

// pollVandarSettlements reads the settlement list newest first until it reaches settlements that are final
// and older than the re-read window (Vandar's list pages by page number and moves as new settlements
// arrive, so every poll reads from page 1), follows up settlements it last saw open that it did not meet
// on the way, reads the queue, and publishes every state. A state published before has the same event id:
// the reconciler skips it.
func (p *Poller) pollVandarSettlements(ctx context.Context, src config.Source, start time.Time) (int, error) {
	client, err := p.vandarClient(src)
	if err != nil {
		return 0, err
	}
	var cur settlementCursor
	if _, err := p.cursors.Load(ctx, src.Name, events.FeedSettlements, &cur); err != nil {
		return 0, err
	}
	horizon := start.Add(-p.cfg.RereadWindow)
	seen := map[string]bool{}
	var evs []events.Event
	var open []string
	keep := func(s events.Settlement) error {
		if seen[s.SettlementID] {
			return nil // moved to the next page while we read
		}
		seen[s.SettlementID] = true
		if !isFinal(s.Status) {
			open = append(open, s.SettlementID)
		}
		ev, err := s.Event()
		if err != nil {
			return err
		}
		evs = append(evs, ev)
		return nil
	}
	for page := 1; ; page++ {
		pg, err := client.Settlements(ctx, page, vandar.MaxPerPage)
		if err != nil {
			return 0, fmt.Errorf("settlements page %d: %w", page, err)
		}
		old := 0
		for _, s := range pg.Items {
			if err := keep(s); err != nil {
				return 0, err
			}
			if isFinal(s.Status) && !s.CreatedAt.IsZero() && s.CreatedAt.Before(horizon) {
				old++
			}
		}
		if !pg.HasMore || len(pg.Items) == 0 || (cur.Backfilled && old == len(pg.Items)) {
			break
		}
	}
	for _, id := range cur.Open {
		if seen[id] {
			continue
		}
		s, err := client.Settlement(ctx, id)
		if errors.Is(err, vandar.ErrNotFound) {
			p.log.Warn("a settlement seen open is gone from Vandar", "source", src.Name, "settlement_id", id)
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("follow up settlement %s: %w", id, err)
		}
		if err := keep(s); err != nil {
			return 0, err
		}
	}
	for page := 1; ; page++ {
		pg, err := client.QueuedSettlements(ctx, page, vandar.MaxPerPage)
		if err != nil {
			return 0, fmt.Errorf("queued settlements page %d: %w", page, err)
		}
		for _, s := range pg.Items {
			if err := keep(s); err != nil {
				return 0, err
			}
		}
		if !pg.HasMore || len(pg.Items) == 0 {
			break
		}
	}
	if err := p.pub.Publish(ctx, events.TopicSettlement, evs); err != nil {
		return 0, err
	}
	slices.Sort(open)
	if err := p.cursors.Save(ctx, src.Name, events.FeedSettlements, settlementCursor{Open: open, Backfilled: true}); err != nil {
		return 0, err
	}
	w := events.Watermark{Feed: events.FeedSettlements, Through: start, PolledAt: start, Items: len(evs)}
	if len(evs) > 0 {
		w.LastEvent = evs[len(evs)-1].ID
	}
	return len(evs), p.publishWatermark(ctx, src, w)
}

// pollVandarBatches reads the batch list newest first until it reaches batches that are finished and older
// than the re-read window, reads the items of every batch it keeps, and publishes each batch with its items.
func (p *Poller) pollVandarBatches(ctx context.Context, src config.Source, start time.Time) (int, error) {
	client, err := p.vandarClient(src)
	if err != nil {
		return 0, err
	}
	horizon := start.Add(-p.cfg.RereadWindow)
	var cur batchCursor
	if _, err := p.cursors.Load(ctx, src.Name, events.FeedBatches, &cur); err != nil {
		return 0, err
	}
	var evs []events.Event
	seen := map[string]bool{}
	for page := 1; ; page++ {
		pg, err := client.Batches(ctx, page)
		if err != nil {
			return 0, fmt.Errorf("batches page %d: %w", page, err)
		}
		old := 0
		for _, b := range pg.Items {
			if seen[b.BatchID] {
				continue
			}
			seen[b.BatchID] = true
			finished := batchFinished(b)
			if cur.Backfilled && finished && !b.CreatedAt.IsZero() && b.CreatedAt.Before(horizon) {
				old++
				continue
			}
			full, err := client.BatchWithItems(ctx, b)
			if err != nil {
				return 0, fmt.Errorf("items of batch %s: %w", b.BatchID, err)
			}
			ev, err := full.Event()
			if err != nil {
				return 0, err
			}
			evs = append(evs, ev)
		}
		if !pg.HasMore || len(pg.Items) == 0 || old == len(pg.Items) {
			break
		}
	}
	if err := p.pub.Publish(ctx, events.TopicBatch, evs); err != nil {
		return 0, err
	}
	if err := p.cursors.Save(ctx, src.Name, events.FeedBatches, batchCursor{Backfilled: true}); err != nil {
		return 0, err
	}
	w := events.Watermark{Feed: events.FeedBatches, Through: start, PolledAt: start, Items: len(evs)}
	if len(evs) > 0 {
		w.LastEvent = evs[len(evs)-1].ID
	}
	return len(evs), p.publishWatermark(ctx, src, w)
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
