package vandar

import (
	"cmp"
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"strconv"
	"time"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources"
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

// statementClient is what the statement feed needs of a client.
type statementClient interface {
	Statement(ctx context.Context, q StatementQuery) (StatementPage, error)
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
//
// An item the decoder cannot understand is published as quarantined when it is met, and the cursor moves
// past it like any other; a page that does not follow the cursor it was asked with (start_after) stops the
// poll, quarantined as a paging error, with no watermark.
type statementPoll struct {
	client statementClient
	// emit publishes evs and then saves c: one step of the poll. It returns only once both are done.
	emit     func(ctx context.Context, evs []events.Event, c statementCursor) error
	now      func() time.Time
	cursor   statementCursor
	cutoff   time.Time
	window   time.Time // re-read items created from this day on, for status changes
	pageSize int
	account  string // the business, for what is quarantined

	held        heldItems
	quarantined []events.Event // quarantined items not yet published
	duplicates  []string       // ids the provider listed twice in this poll
	lastSeen    string         // id of the newest new item seen
	newest      time.Time      // created_at of the newest new item seen
	published   int
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

// run executes the poll and returns the number of items published. The last step (the cursor with Through
// at the cutoff) is left to the caller, which sends it with the poll's watermark.
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
	return p.published, nil
}

// pageEntry is one item of a page in the order the page held it: understood or quarantined.
type pageEntry struct {
	item        *events.StatementItem
	quarantined *events.Quarantined
}

// id returns the entry's item id ("" if a quarantined item's could not be read).
func (e pageEntry) id() string {
	if e.item != nil {
		return e.item.ItemID
	}
	return e.quarantined.ItemID
}

// raw returns the item as received.
func (e pageEntry) raw() json.RawMessage {
	if e.item != nil {
		return e.item.Raw
	}
	return e.quarantined.Raw
}

// entries lists a page's items, understood and quarantined, in the page's order.
func entries(page StatementPage) []pageEntry {
	out := make([]pageEntry, 0, page.Len())
	items, qs, at := page.Items, page.Quarantined, page.quarantinedAt
	for i := range page.Len() {
		if len(qs) > 0 && (len(items) == 0 || len(at) > 0 && at[0] == i) {
			out = append(out, pageEntry{quarantined: &qs[0]})
			qs = qs[1:]
			if len(at) > 0 {
				at = at[1:]
			}
			continue
		}
		out = append(out, pageEntry{item: &items[0]})
		items = items[1:]
	}
	return out
}

// hasMore says whether the page may be followed by another: has_more as reported, and — when the answer
// did not report it — unknown, so the feed pages on until a page comes back empty rather than take the
// silence for "no more" and claim a watermark over items it never asked for.
func (page StatementPage) hasMore() bool {
	return (page.HasMore || !page.HasMoreReported) && page.Len() > 0
}

// checkFollows is the guard on start_after: asked for the items after `after` in ascending order, the first
// item whose id can be read must come after it. If it does not, Vandar's start_after means something else
// here (descending, inclusive, ignored), and paging on would skip or repeat items with no error: the poll
// stops, the item is quarantined as a paging error (an alert), and no watermark is claimed.
func (p *statementPoll) checkFollows(ctx context.Context, page StatementPage, after string) error {
	if after == "" {
		return nil
	}
	last, err := strconv.ParseUint(after, 10, 64)
	if err != nil {
		return fmt.Errorf("statement cursor %q is not an item id: %w", after, err)
	}
	for _, e := range entries(page) {
		id, err := strconv.ParseUint(e.id(), 10, 64)
		if err != nil {
			continue
		}
		if id > last {
			return nil
		}
		perr := pagingError(page.Endpoint, "asked with start_after=%s for the items after it in ascending order, the first item is %d",
			after, id)
		raw := e.raw()
		if len(raw) == 0 {
			raw = json.RawMessage("null")
		}
		q := events.Quarantined{Provider: events.ProviderVandar, Account: p.account, Feed: events.FeedStatement,
			Endpoint: page.Endpoint, ItemID: e.id(), Reason: perr.Error(), ObservedAt: p.now().UTC(), Raw: raw}
		ev, err := q.Event()
		if err != nil {
			return err
		}
		if err := p.emit(ctx, []events.Event{ev}, p.cursor); err != nil {
			return err
		}
		return perr
	}
	return nil
}

// setAside queues a quarantined item's fact, published with the next release.
func (p *statementPoll) setAside(q *events.Quarantined) error {
	ev, err := q.Event()
	if err != nil {
		return err
	}
	p.quarantined = append(p.quarantined, ev)
	return nil
}

// reread pages through the trailing window for items the cursor has passed, so that status changes of old
// items (pending → succeeded, a settlement failing) are seen.
func (p *statementPoll) reread(ctx context.Context) error {
	last, err := strconv.ParseUint(p.cursor.LastID, 10, 64)
	if err != nil {
		return fmt.Errorf("stored statement cursor %q is not an item id: %w", p.cursor.LastID, err)
	}
	q := StatementQuery{Sort: "ASC", PerPage: p.pageSize, FromDate: p.window, ToDate: p.cutoff}
	for {
		page, err := p.client.Statement(ctx, q)
		if err != nil {
			return fmt.Errorf("re-read statement window: %w", err)
		}
		if err := p.checkFollows(ctx, page, q.StartAfter); err != nil {
			return err
		}
		for _, e := range entries(page) {
			if e.quarantined != nil {
				// Behind the cursor unless its id says otherwise: quarantined again (the same fact, which the
				// reconciler has seen) rather than dropped.
				if id, err := strconv.ParseUint(e.quarantined.ItemID, 10, 64); err == nil && id > last {
					return nil
				}
				if err := p.setAside(e.quarantined); err != nil {
					return err
				}
				continue
			}
			id, err := itemID(*e.item)
			if err != nil {
				return err
			}
			if id > last {
				return nil // new items are read by readNew, in order
			}
			heap.Push(&p.held, heldItem{item: *e.item, id: id, reread: true})
		}
		if !page.hasMore() {
			return nil
		}
		if page.Next == "" || page.Next == q.StartAfter {
			return pagingError(page.Endpoint, "the page's last item has no id to page on from")
		}
		q.StartAfter = page.Next
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
	ahead := p.fetch(ctx, StatementQuery{Sort: "ASC", PerPage: p.pageSize, StartAfter: p.cursor.LastID})
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
		if err := p.checkFollows(ctx, page, r.q.StartAfter); err != nil {
			return err
		}
		more := page.hasMore()
		if more {
			if page.Next == "" || page.Next == r.q.StartAfter {
				return pagingError(page.Endpoint, "the page's last item has no id to page on from")
			}
			q := r.q
			q.StartAfter = page.Next
			ahead = p.fetch(ctx, q)
		}
		for _, e := range entries(page) {
			if e.quarantined != nil {
				if err := p.seeQuarantined(e.quarantined); err != nil {
					return err
				}
				continue
			}
			it := *e.item
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

// seeQuarantined handles a quarantined item met while reading on from the cursor: its fact is published, and
// — where its id is one Vandar can page on — it counts as seen, so that the cursor moves past it with the
// items around it. One whose id cannot be read leaves the cursor where it is: the next page starts after the
// last id Vandar can page on (StatementPage.Next), and meets it again as the same fact.
func (p *statementPoll) seeQuarantined(q *events.Quarantined) error {
	id, err := strconv.ParseUint(q.ItemID, 10, 64)
	if err == nil && p.lastSeen != "" {
		if last, _ := strconv.ParseUint(p.lastSeen, 10, 64); id <= last {
			return nil // met before in this poll
		}
	}
	if err := p.setAside(q); err != nil {
		return err
	}
	if err == nil {
		p.lastSeen = q.ItemID
	}
	return nil
}

// pageResult is one statement page fetched in the background, or why it could not be.
type pageResult struct {
	q    StatementQuery
	page StatementPage
	err  error
}

// fetch fetches the page q asks for in the background; its one result arrives on the channel.
func (p *statementPoll) fetch(ctx context.Context, q StatementQuery) <-chan pageResult {
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
	// What was quarantined goes first: the cursor may pass it in this very step.
	evs := p.quarantined
	p.quarantined = nil
	quarantined := len(evs)
	for p.held.Len() > 0 && !p.held[0].releaseAt().After(until) {
		h := heap.Pop(&p.held).(heldItem)
		ev, err := h.item.Event()
		if err != nil {
			return err
		}
		evs = append(evs, ev)
	}
	next := p.safeCursor()
	if next == p.cursor.LastID && len(evs) == 0 {
		return nil
	}
	cur := p.cursor
	cur.LastID = next
	if len(evs) > quarantined {
		cur.LastEvent = evs[len(evs)-1].ID
	}
	if err := p.emit(ctx, evs, cur); err != nil {
		return err
	}
	p.published += len(evs)
	p.cursor = cur
	return nil
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

// pollStatement is the statement feed as a sources.Source poll: each release is a step (its events, then
// the cursor past them), and the last step carries the watermark.
func (s *Source) pollStatement(ctx context.Context, req sources.PollRequest) iter.Seq2[sources.Step, error] {
	return func(yield func(sources.Step, error) bool) {
		var cur statementCursor
		if err := decodeCursor(req.Cursor, &cur); err != nil {
			yield(sources.Step{}, err)
			return
		}
		stopped := false
		p := &statementPoll{
			client:   s.client,
			now:      s.now,
			account:  s.business,
			cursor:   cur,
			cutoff:   req.Cutoff,
			window:   req.Cutoff.Add(-req.RereadWindow),
			pageSize: cmp.Or(req.PageSize, MaxPerPage),
			emit: func(_ context.Context, evs []events.Event, c statementCursor) error {
				raw, err := json.Marshal(c)
				if err != nil {
					return err
				}
				if !yield(sources.Step{Events: evs, Cursor: raw}, nil) {
					stopped = true
					return errStopped
				}
				return nil
			},
		}
		n, err := p.run(ctx)
		if stopped {
			return
		}
		if err != nil {
			yield(sources.Step{}, err)
			return
		}
		raw, err := json.Marshal(p.cursor)
		if err != nil {
			yield(sources.Step{}, err)
			return
		}
		yield(sources.Step{Cursor: raw, Watermark: &events.Watermark{Provider: events.ProviderVandar,
			Account: s.business, Feed: events.FeedStatement, Through: req.Cutoff, PolledAt: req.Start, Items: n,
			LastEvent: p.cursor.LastEvent, Duplicates: p.duplicates}}, nil)
	}
}
