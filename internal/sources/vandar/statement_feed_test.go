package vandar

import (
	"context"
	"strconv"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

// A poll whose cutoff falls inside the history stops there, though the next page was already being fetched:
// it publishes exactly what is due by the cutoff, asks Vandar for at most one page more than it reads, and
// the next poll carries on from its cursor so that, between them, every item is published.
func TestAPollStopsAtItsCutoffThoughTheNextPageIsOnItsWay(t *testing.T) {
	t.Parallel()
	sim, err := vandartest.NewServer(vandartest.Options{Businesses: []vandartest.BusinessOptions{{
		Slug: "acme", Seed: 11, Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Days: 3, PerDay: 150,
		Batches: -1, Queued: -1}}})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	access, refresh, _ := sim.IssueTokens("acme")
	client, err := New(Config{APIURL: sim.URL, BatchURL: sim.URL, Business: "acme",
		Credentials: newStore(Tokens{Access: access, Refresh: refresh}), GetLimit: rate.Inf, PostLimit: rate.Inf})
	if err != nil {
		t.Fatal(err)
	}
	items := sim.Items("acme")
	cutoff := items[len(items)/2].CreatedAt
	const pageSize = 10

	published := map[string]string{} // item id → event id
	poll := func(cur statementCursor, cutoff time.Time) statementCursor {
		p := &statementPoll{
			client: client,
			now:    time.Now,
			emit: func(_ context.Context, evs []events.Event, _ statementCursor) error {
				for _, ev := range evs {
					if prev, ok := published[ev.Subject]; ok && prev != ev.ID {
						t.Errorf("item %s published as event %s, then as %s", ev.Subject, prev, ev.ID)
					}
					published[ev.Subject] = ev.ID
				}
				return nil
			},
			cursor:   cur,
			cutoff:   cutoff,
			window:   cutoff.Add(-48 * time.Hour),
			pageSize: pageSize,
		}
		if _, err := p.run(t.Context()); err != nil {
			t.Fatalf("poll to %s: %v", cutoff, err)
		}
		return p.cursor
	}

	cur := poll(statementCursor{}, cutoff)
	due, created := 0, 0
	for _, it := range items {
		if it.CreatedAt.After(cutoff) {
			continue
		}
		created++
		release := it.CreatedAt
		if !it.EffectiveAt.IsZero() {
			release = it.EffectiveAt
		}
		if !release.After(cutoff) {
			due++
		}
	}
	if len(published) != due {
		t.Errorf("first poll published %d items, want the %d due by its cutoff", len(published), due)
	}
	// The pages read are those holding the items created by the cutoff and the one holding the first item
	// after it; the page fetched ahead of that one is the most that may be asked for beyond them.
	read := created/pageSize + 1
	if got := sim.Requests(vandartest.EndpointTransactions); got > read+1 {
		t.Errorf("first poll asked for %d pages, want at most %d (%d read, one ahead)", got, read+1, read)
	}

	// The second poll's cutoff is after every item has been created and moved the wallet.
	end := items[len(items)-1].CreatedAt
	for _, it := range items {
		if it.EffectiveAt.After(end) {
			end = it.EffectiveAt
		}
	}
	poll(cur, end)
	for _, it := range items {
		if _, ok := published[strconv.FormatInt(it.ID, 10)]; !ok {
			t.Errorf("item %d (created %s) never published", it.ID, it.CreatedAt)
		}
	}
	if len(published) != len(items) {
		t.Errorf("%d items published, the statement has %d", len(published), len(items))
	}
}
