package poller

import (
	"container/heap"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources/vandar"
)

// statementCursor is what the statement feed persists between polls.
type statementCursor struct {
	// LastID is the id of the last item such that it and every item before it has been published.
	LastID string `json:"last_id,omitempty"`
	// Through is the watermark of the last complete poll.
	Through time.Time `json:"through,omitzero"`
	// LastEvent is the id of the last event published; the watermark names it (see events.Watermark).
	LastEvent string `json:"last_event,omitempty"`
}

// StatementClient is what the statement feed needs of a provider client.
type StatementClient interface {
	Statement(ctx context.Context, q vandar.StatementQuery) (vandar.StatementPage, error)
}

// statementPoll is one poll of one business's statement.
//
// Order matters downstream: the ledger books each wallet's movements in the order they arrive, and the
// running-balance and balance checks compare against the provider's running `wallet`, which follows the
// order in which items moved the wallet. Items come from Vandar in id order (creation order), but an item
// moves the wallet at its effective time, which can be later (a pending payment that succeeds ten minutes
// on). So the poll holds items in a heap keyed by effective time and releases an item only when no item yet
// to come can be effective before it: every later item was created after the newest one seen so far, and
// nothing is effective before it was created.
//
// Only items created and effective up to the cutoff (the poll's start less SettleDelay) are published; the
// rest wait for the next poll, whose cutoff is later. That keeps every poll's output after the previous
// poll's in effective-time order, and makes the watermark ("everything up to the cutoff is published") true.
type statementPoll struct {
	client   StatementClient
	publish  func(ctx context.Context, evs []events.Event) error
	save     func(ctx context.Context, c statementCursor) error
	cursor   statementCursor
	cutoff   time.Time
	window   time.Time // re-read items created from this day on, for status changes
	pageSize int

	held       heldItems
	duplicates []string  // ids the provider listed twice in this poll
	lastSeen   string    // id of the newest new item seen
	newest     time.Time // created_at of the newest new item seen
	published  int
}

type heldItem struct {
	item events.StatementItem
	id   uint64
	// prev is the id of the new item seen just before this one ("" for re-read items, which are behind the
	// cursor already): while this item is held, the cursor may not pass prev.
	prev   string
	reread bool
}

// releaseAt is when an item may be published: its effective time if it moved the wallet, else its creation.
func (h heldItem) releaseAt() time.Time {
	if h.item.MovedWallet {
		return h.item.EffectiveAt
	}
	return h.item.CreatedAt
}

type heldItems []heldItem

func (h heldItems) Len() int { return len(h) }
func (h heldItems) Less(i, j int) bool {
	if c := h[i].releaseAt().Compare(h[j].releaseAt()); c != 0 {
		return c < 0
	}
	return h[i].id < h[j].id
}
func (h heldItems) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *heldItems) Push(x any)   { *h = append(*h, x.(heldItem)) }
func (h *heldItems) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

func itemID(it events.StatementItem) (uint64, error) {
	id, err := strconv.ParseUint(it.ItemID, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("statement item id %q is not a number: %w", it.ItemID, err)
	}
	return id, nil
}

// run executes the poll and returns the number of items published.
func (p *statementPoll) run(ctx context.Context) (int, error) {
	if p.cursor.LastID != "" {
		if err := p.reread(ctx); err != nil {
			return p.published, err
		}
	}
	if err := p.readNew(ctx); err != nil {
		return p.published, err
	}
	// Everything due by the cutoff goes now; what is left is effective after it and waits for the next poll.
	if err := p.release(ctx, p.cutoff); err != nil {
		return p.published, err
	}
	p.cursor.Through = p.cutoff
	return p.published, p.save(ctx, p.cursor)
}

// reread pages through the trailing window for items the cursor has passed, so that status changes of old
// items (pending → succeeded, a settlement failing) are seen.
func (p *statementPoll) reread(ctx context.Context) error {
	last, err := strconv.ParseUint(p.cursor.LastID, 10, 64)
	if err != nil {
		return fmt.Errorf("stored statement cursor %q is not an item id: %w", p.cursor.LastID, err)
	}
	q := vandar.StatementQuery{Sort: "ASC", PerPage: p.pageSize, FromDate: p.window, ToDate: p.cutoff}
	for {
		page, err := p.client.Statement(ctx, q)
		if err != nil {
			return fmt.Errorf("re-read statement window: %w", err)
		}
		for _, it := range page.Items {
			id, err := itemID(it)
			if err != nil {
				return err
			}
			if id > last {
				return nil // new items are read by readNew, in order
			}
			heap.Push(&p.held, heldItem{item: it, id: id, reread: true})
		}
		if !page.HasMore || len(page.Items) == 0 {
			return nil
		}
		q.StartAfter = page.Items[len(page.Items)-1].ItemID
	}
}

// readNew pages on from the cursor, publishing as it goes so that a backfill of millions of items runs in
// constant memory. The next page is fetched while the current one is published and its cursor saved: paging
// is sequential (each page starts after the last id of the one before), and without the overlap a backfill
// would go at the speed of fetch plus publish, not at the pace of Vandar's rate limit.
func (p *statementPoll) readNew(ctx context.Context) error {
	p.lastSeen = p.cursor.LastID
	// A page fetched ahead that the poll turns out not to need is cancelled and waited for on return. The
	// client saves a token pair it rotated even when its request is cancelled, so that loses nothing.
	ctx, cancel := context.WithCancel(ctx)
	ahead := p.fetch(ctx, vandar.StatementQuery{Sort: "ASC", PerPage: p.pageSize, StartAfter: p.cursor.LastID})
	defer func() {
		cancel()
		if ahead != nil {
			<-ahead
		}
	}()
	for {
		r := <-ahead
		ahead = nil
		if r.err != nil {
			return fmt.Errorf("read statement after %q: %w", r.q.StartAfter, r.err)
		}
		page := r.page
		more := page.HasMore && len(page.Items) > 0
		if more {
			q := r.q
			q.StartAfter = page.Items[len(page.Items)-1].ItemID
			ahead = p.fetch(ctx, q)
		}
		for _, it := range page.Items {
			if it.CreatedAt.After(p.cutoff) {
				// Later items belong to the next poll (and the page fetched ahead is not needed).
				return p.release(ctx, p.newest)
			}
			id, err := itemID(it)
			if err != nil {
				return err
			}
			if p.lastSeen != "" {
				// Ascending pages never go back: an id at or below the last one is the provider listing an
				// item twice. It is counted once and reported in the watermark.
				if last, _ := strconv.ParseUint(p.lastSeen, 10, 64); id <= last {
					if id == last {
						p.duplicates = append(p.duplicates, it.ItemID)
					}
					continue
				}
			}
			heap.Push(&p.held, heldItem{item: it, id: id, prev: p.lastSeen})
			p.lastSeen = it.ItemID
			p.newest = it.CreatedAt
		}
		if err := p.release(ctx, p.newest); err != nil {
			return err
		}
		if !more {
			return nil
		}
	}
}

// pageResult is one statement page fetched in the background, or why it could not be.
type pageResult struct {
	q    vandar.StatementQuery
	page vandar.StatementPage
	err  error
}

// fetch fetches the page q asks for in the background; its one result arrives on the channel.
func (p *statementPoll) fetch(ctx context.Context, q vandar.StatementQuery) <-chan pageResult {
	out := make(chan pageResult, 1)
	go func() {
		page, err := p.client.Statement(ctx, q)
		out <- pageResult{q, page, err}
	}()
	return out
}

// release publishes, in order, every held item due by until (and by the cutoff), then moves the cursor as far
// as it safely can.
func (p *statementPoll) release(ctx context.Context, until time.Time) error {
	if until.After(p.cutoff) {
		until = p.cutoff
	}
	var evs []events.Event
	for p.held.Len() > 0 && !p.held[0].releaseAt().After(until) {
		h := heap.Pop(&p.held).(heldItem)
		ev, err := h.item.Event()
		if err != nil {
			return err
		}
		evs = append(evs, ev)
	}
	if len(evs) > 0 {
		if err := p.publish(ctx, evs); err != nil {
			return err
		}
		p.published += len(evs)
		p.cursor.LastEvent = evs[len(evs)-1].ID
	}
	next := p.safeCursor()
	if next == p.cursor.LastID && len(evs) == 0 {
		return nil
	}
	p.cursor.LastID = next
	return p.save(ctx, p.cursor)
}

// safeCursor is the furthest id the cursor may move to: the newest item seen, unless an item read after the
// cursor is still held, in which case just before the oldest such item. Re-read items are behind the cursor
// already and the next poll's window reads them again, so they never hold it back.
func (p *statementPoll) safeCursor() string {
	cursor, oldest := p.lastSeen, ^uint64(0)
	for _, h := range p.held {
		if !h.reread && h.id < oldest {
			cursor, oldest = h.prev, h.id
		}
	}
	return cursor
}
