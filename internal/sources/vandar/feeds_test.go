package vandar_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources"
	"github.com/mizanhq/mizan/internal/sources/sourcetest"
	"github.com/mizanhq/mizan/internal/sources/vandar"
	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

// feedSim is the simulator behind a rewriting proxy — what a real Vandar might answer that the simulator does
// not — and a source on it.
type feedSim struct {
	srv *vandartest.Server
	src sources.Source
}

// rewrite may answer a request itself (return true) or change the request before the simulator serves it;
// after, if set, may rewrite the simulator's answer.
type rewrite struct {
	before func(w http.ResponseWriter, r *http.Request) bool
	after  func(r *http.Request, body []byte) []byte
}

func newFeedSim(t *testing.T, rw rewrite, fill func(*vandartest.Server)) *feedSim {
	t.Helper()
	srv, err := vandartest.New(vandartest.Options{Now: func() time.Time { return conformNow },
		Businesses: []vandartest.BusinessOptions{{Slug: "acme", Empty: true, OpeningWallet: 1_000_000_000}}})
	if err != nil {
		t.Fatal(err)
	}
	if fill != nil {
		fill(srv)
	}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rw.before != nil && rw.before(w, r) {
			return
		}
		if rw.after == nil {
			srv.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, r)
		body := rw.after(r, rec.Body.Bytes())
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	}))
	t.Cleanup(hs.Close)
	access, refresh, expiresIn := srv.IssueTokens("acme")
	store := sourcetest.NewCredentials().SetClock(srv.Now).
		Put(vandar.CredentialAccess, access, conformNow.Add(time.Duration(expiresIn)*time.Second)).
		Put(vandar.CredentialRefresh, refresh, conformNow.Add(10*24*time.Hour))
	settings := vandar.Settings{Business: "acme", APIURL: hs.URL, BatchURL: hs.URL, Tune: func(c *vandar.Config) {
		c.GetLimit, c.PostLimit = rate.Inf, rate.Inf
		c.RetryInitial, c.RetryMax, c.MaxRetries = time.Millisecond, time.Millisecond, 1
		c.Sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	}}
	src, err := settings.Open(sources.Env{Name: "vandar-acme", Credentials: store, Log: slog.New(slog.DiscardHandler),
		Now: srv.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &feedSim{srv: srv, src: src}
}

func (f *feedSim) poll(t *testing.T, feed string, cursor []byte) sourcetest.PollResult {
	t.Helper()
	return sourcetest.Poll(t.Context(), f.src, sources.PollRequest{Feed: feed, Cursor: cursor, Start: conformNow,
		Cutoff: conformNow, RereadWindow: 48 * time.Hour, PageSize: 10}, 0)
}

// items adds n payments a minute apart, ending a minute before the clock.
func items(n int) func(*vandartest.Server) {
	return func(srv *vandartest.Server) {
		for i := range n {
			if _, err := srv.AddItem("acme", vandartest.NewItem{Kind: vandartest.KindIPG, Amount: int64(10_000 + i),
				Wage: 100, CreatedAt: conformNow.Add(-time.Duration(n-i) * time.Minute)}); err != nil {
				panic(err)
			}
		}
	}
}

// rewriteJSON decodes an answer, lets change edit it, and encodes it again.
func rewriteJSON(body []byte, change func(top map[string]any)) []byte {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var top map[string]any
	if dec.Decode(&top) != nil {
		return body
	}
	change(top)
	out, _ := json.Marshal(top)
	return out
}

func isStatement(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/transaction") }

// If start_after does not mean "the items after this id, ascending", paging on would skip or repeat items with
// no error, and the watermark would still claim completeness. The first item of each page is checked against
// the cursor: on a contradiction the poll stops, quarantines the item as a paging error (an alert names it),
// and claims no watermark.
func TestStartAfterThatDoesNotFollowTheCursorStopsThePoll(t *testing.T) {
	t.Parallel()
	for name, rw := range map[string]rewrite{
		"start_after ignored": {before: func(_ http.ResponseWriter, r *http.Request) bool {
			if isStatement(r) {
				q := r.URL.Query()
				q.Del("start_after")
				r.URL.RawQuery = q.Encode()
			}
			return false
		}},
		"start_after pages back, not on": {before: func(_ http.ResponseWriter, r *http.Request) bool {
			if q := r.URL.Query(); isStatement(r) && q.Get("start_after") != "" {
				q.Set("sort", "DESC")
				r.URL.RawQuery = q.Encode()
			}
			return false
		}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFeedSim(t, rw, items(25))
			res := f.poll(t, events.FeedStatement, nil)
			if res.Err == nil || !strings.Contains(res.Err.Error(), "paging does not follow the cursor") {
				t.Fatalf("err = %v, want a paging error", res.Err)
			}
			if res.Watermark != nil {
				t.Error("a poll that could not trust its paging claimed a watermark")
			}
			qs := res.Quarantined()
			if len(qs) != 1 || qs[0].ItemID == "" || !strings.Contains(qs[0].Reason, "start_after") ||
				qs[0].Endpoint != "GET /v3/business/acme/transaction" {
				t.Fatalf("quarantined %+v, want the item that broke the paging, named", qs)
			}
			seen := map[string]string{}
			for _, ev := range res.Events {
				if prev, ok := seen[ev.Subject]; ok && prev != ev.ID && ev.Type == events.TypeStatementItem {
					t.Errorf("item %s published twice as different facts", ev.Subject)
				}
				seen[ev.Subject] = ev.ID
			}
		})
	}
}

// An answer without has_more says nothing about what follows: the feed pages on until a page comes back
// empty, instead of taking the silence for "no more" and stopping after the first page.
func TestMissingHasMoreMeansPageUntilEmpty(t *testing.T) {
	t.Parallel()
	f := newFeedSim(t, rewrite{after: func(r *http.Request, body []byte) []byte {
		if !isStatement(r) {
			return body
		}
		return rewriteJSON(body, func(top map[string]any) { delete(top, "has_more") })
	}}, items(25))
	res := f.poll(t, events.FeedStatement, nil)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	n := 0
	for _, ev := range res.Events {
		if ev.Type == events.TypeStatementItem {
			n++
		}
	}
	if n != 25 {
		t.Errorf("%d items published, want all 25", n)
	}
	if res.Watermark == nil {
		t.Error("no watermark")
	}
	// 3 pages of items and the empty one that ends the paging.
	if got := f.srv.Requests(vandartest.EndpointTransactions); got != 4 {
		t.Errorf("%d statement requests, want 4", got)
	}
}

// The v2.1 settlement list gives each settlement only a date. The feed's horizon reads it: once the list has
// been read whole, a poll stops at the first page whose settlements are all final and dated before the
// re-read window, instead of reading every page on every poll.
func TestSettlementsStopAtTheHorizonByTheirDates(t *testing.T) {
	t.Parallel()
	const old, recent = 330, 3
	f := newFeedSim(t, rewrite{after: func(r *http.Request, body []byte) []byte {
		if !strings.HasSuffix(r.URL.Path, "/settlement") {
			return body
		}
		// As in the documents' list: no prediction, no time; only the day.
		return rewriteJSON(body, func(top map[string]any) {
			data, _ := top["data"].(map[string]any)
			list, _ := data["settlements"].(map[string]any)
			items, _ := list["data"].([]any)
			for _, it := range items {
				delete(it.(map[string]any), "settlement_done_time_prediction")
			}
		})
	}}, func(srv *vandartest.Server) {
		for i := range old + recent {
			at := conformNow.Add(-10*24*time.Hour + time.Duration(i)*time.Minute)
			if i >= old {
				at = conformNow.Add(-time.Duration(old+recent-i) * time.Hour)
			}
			if _, err := srv.AddItem("acme", vandartest.NewItem{Kind: vandartest.KindSettlement, Amount: 10_000,
				CreatedAt: at, Status: vandartest.StatusSettlementDone, ResolvedAt: at.Add(time.Minute)}); err != nil {
				panic(err)
			}
		}
	})
	first := f.poll(t, events.FeedSettlements, nil)
	if first.Err != nil {
		t.Fatal(first.Err)
	}
	if len(first.Events) != old+recent {
		t.Fatalf("first poll published %d settlements, want all %d", len(first.Events), old+recent)
	}
	pages := f.srv.Requests(vandartest.EndpointSettlements)
	if pages != 4 {
		t.Fatalf("the first poll read %d pages, want the 4 the list has", pages)
	}
	second := f.poll(t, events.FeedSettlements, first.Cursor)
	if second.Err != nil || second.Watermark == nil {
		t.Fatalf("second poll: %v, watermark %v", second.Err, second.Watermark)
	}
	if got := f.srv.Requests(vandartest.EndpointSettlements) - pages; got != 2 {
		t.Errorf("the second poll read %d pages, want 2: the page with the recent ones, and one all old", got)
	}
}

// The settlement queue not enabled for the business (403 or 404) is reported — a quarantined fact for the
// endpoint, which raises one alert — and skipped: the settlements the list gave are published, the watermark
// is claimed, the poll succeeds. A queue that fails only for now (5xx past the retries) fails the poll after
// the list's settlements are published, with no watermark, and the next poll asks again.
func TestEachSettlementSubFeedFailsOnItsOwn(t *testing.T) {
	t.Parallel()
	queue := func(status int) rewrite {
		return rewrite{before: func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasSuffix(r.URL.Path, "/settlement/queued") {
				return false
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, `{"status":0,"error":"queue not enabled"}`)
			return true
		}}
	}
	fill := func(srv *vandartest.Server) {
		for i := range 3 {
			at := conformNow.Add(-time.Duration(3-i) * time.Hour)
			if _, err := srv.AddItem("acme", vandartest.NewItem{Kind: vandartest.KindSettlement, Amount: 10_000,
				CreatedAt: at}); err != nil {
				panic(err)
			}
		}
	}
	for _, tc := range []struct {
		status int
		fails  bool
	}{{http.StatusForbidden, false}, {http.StatusNotFound, false}, {http.StatusServiceUnavailable, true}} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			t.Parallel()
			f := newFeedSim(t, queue(tc.status), fill)
			res := f.poll(t, events.FeedSettlements, nil)
			settlements := 0
			for _, ev := range res.Events {
				if ev.Type == events.TypeSettlement {
					settlements++
				}
			}
			if settlements != 3 {
				t.Errorf("%d settlements published, want the list's 3", settlements)
			}
			if tc.fails {
				if res.Err == nil || !strings.Contains(res.Err.Error(), "settlement queue") || res.Watermark != nil {
					t.Errorf("err = %v, watermark %v: want the queue's failure and no watermark", res.Err, res.Watermark)
				}
				if len(res.Quarantined()) != 0 {
					t.Errorf("a passing failure was quarantined: %+v", res.Quarantined())
				}
				return
			}
			if res.Err != nil || res.Watermark == nil {
				t.Fatalf("err = %v, watermark %v: a queue that is not enabled must not fail the feed", res.Err, res.Watermark)
			}
			qs := res.Quarantined()
			if len(qs) != 1 || qs[0].Endpoint != "GET /v3/business/acme/settlement/queued" || qs[0].ItemID != "" ||
				!strings.Contains(qs[0].Reason, "queue not enabled") {
				t.Fatalf("quarantined %+v, want the queue endpoint with Vandar's reason", qs)
			}
			// The next poll reports it as the same fact: one alert, not one per poll.
			again := f.poll(t, events.FeedSettlements, res.Cursor)
			if q := again.Quarantined(); len(q) != 1 {
				t.Fatalf("second poll quarantined %d", len(q))
			} else if id, _ := quarantineID(t, again); id != mustQuarantineID(t, res) {
				t.Error("the same refusal became a new fact on the next poll")
			}
		})
	}
}

// A batch whose items cannot be read is left out, and read again by the next poll whatever its age; the other
// batches are published meanwhile.
func TestABatchWhoseItemsFailIsReadAgainNextPoll(t *testing.T) {
	t.Parallel()
	var broken string
	failing := true
	f := newFeedSim(t, rewrite{before: func(w http.ResponseWriter, r *http.Request) bool {
		if failing && broken != "" && strings.HasSuffix(r.URL.Path, "/batch-settlements/"+url.PathEscape(broken)) {
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	}}, func(srv *vandartest.Server) {
		for i := range 3 {
			b, err := srv.AddBatch("acme", vandartest.NewBatch{CreatedAt: conformNow.Add(-time.Duration(3-i) * time.Hour),
				Items: []vandartest.NewBatchItem{{Amount: int64(50_000 + i)}}})
			if err != nil {
				panic(err)
			}
			if i == 1 {
				broken = b.ID
			}
		}
	})
	res := f.poll(t, events.FeedBatches, nil)
	if res.Err == nil || res.Watermark != nil {
		t.Fatalf("err = %v, watermark %v: want the batch's failure and no watermark", res.Err, res.Watermark)
	}
	if len(res.Events) != 2 {
		t.Fatalf("%d batches published, want the 2 readable ones", len(res.Events))
	}
	var cur struct {
		Retry []string `json:"retry"`
	}
	if err := json.Unmarshal(res.Cursor, &cur); err != nil || len(cur.Retry) != 1 || cur.Retry[0] != broken {
		t.Fatalf("cursor %s: want batch %s to read again", res.Cursor, broken)
	}
	failing = false
	again := f.poll(t, events.FeedBatches, res.Cursor)
	if again.Err != nil || again.Watermark == nil {
		t.Fatalf("second poll: %v", again.Err)
	}
	found := false
	for _, ev := range again.Events {
		found = found || ev.Subject == broken
	}
	if !found {
		t.Error("the batch whose items failed was not read again")
	}
}

func quarantineID(t *testing.T, res sourcetest.PollResult) (string, error) {
	t.Helper()
	for _, ev := range res.Events {
		if ev.Type == events.TypeQuarantined {
			return ev.ID, nil
		}
	}
	return "", errors.New("none")
}

func mustQuarantineID(t *testing.T, res sourcetest.PollResult) string {
	id, err := quarantineID(t, res)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// An item the decoder cannot understand costs only itself: its quarantined fact is published, the items
// around it flow, and the cursor moves past it — to its id where Vandar can page on it. One whose id cannot
// be read is met again by the next page (start_after takes the last id Vandar can page on), and by the next
// poll's re-read, always as the same fact: its event id does not depend on where on a page it sat.
func TestQuarantinedItemsArePublishedAndTheFeedMovesOn(t *testing.T) {
	t.Parallel()
	var badStatus, noID string // the 4th and the 20th of 25 items
	f := newFeedSim(t, rewrite{after: func(r *http.Request, body []byte) []byte {
		if !isStatement(r) {
			return body
		}
		return rewriteJSON(body, func(top map[string]any) {
			list, _ := top["data"].([]any)
			for _, it := range list {
				m, _ := it.(map[string]any)
				switch id := m["id"].(json.Number).String(); id {
				case badStatus:
					m["status"] = 7 // a code Vandar does not document
				case noID:
					m["id"] = "not-an-id"
				}
			}
		})
	}}, items(25))
	all := f.srv.Items("acme")
	badStatus, noID = strconv.FormatInt(all[3].ID, 10), strconv.FormatInt(all[19].ID, 10)

	res := f.poll(t, events.FeedStatement, nil)
	if res.Err != nil || res.Watermark == nil {
		t.Fatalf("poll: %v, watermark %v: one odd item must not fail or darken the feed", res.Err, res.Watermark)
	}
	published := map[string]bool{}
	for _, ev := range res.Events {
		if ev.Type == events.TypeStatementItem {
			published[ev.Subject] = true
		}
	}
	for i, it := range all {
		id := strconv.FormatInt(it.ID, 10)
		if want := id != badStatus && id != noID; published[id] != want {
			t.Errorf("item %d (%s): published %t, want %t", i+1, id, published[id], want)
		}
	}
	facts := func(r sourcetest.PollResult) map[string]string { // event id → item id
		out := map[string]string{}
		for _, ev := range r.Events {
			if ev.Type == events.TypeQuarantined {
				q, err := events.DecodeData[events.Quarantined](ev)
				if err != nil {
					t.Fatal(err)
				}
				out[ev.ID] = q.ItemID
			}
		}
		return out
	}
	first := facts(res)
	if len(first) != 2 {
		t.Fatalf("quarantined facts %v, want two: the unknown status and the unreadable id", first)
	}
	for _, q := range res.Quarantined() {
		// The unreadable id is kept as the item's reference, for the alert to name.
		if q.ItemID == badStatus && !strings.Contains(q.Reason, "field status") ||
			q.ItemID == "not-an-id" && !strings.Contains(q.Reason, "field id") ||
			q.ItemID != badStatus && q.ItemID != "not-an-id" {
			t.Errorf("quarantined item %q: %s", q.ItemID, q.Reason)
		}
	}
	var cur struct {
		LastID string `json:"last_id"`
	}
	if err := json.Unmarshal(res.Cursor, &cur); err != nil || cur.LastID != strconv.FormatInt(all[24].ID, 10) {
		t.Errorf("cursor %s (%v), want past the last item", res.Cursor, err)
	}

	// The next poll re-reads its window: the same items, quarantined as the same facts.
	again := f.poll(t, events.FeedStatement, res.Cursor)
	if again.Err != nil {
		t.Fatal(again.Err)
	}
	second := facts(again)
	if len(second) != len(first) {
		t.Errorf("quarantined again as %v, first as %v", second, first)
	}
	for id := range second {
		if _, ok := first[id]; !ok {
			t.Errorf("quarantined fact %s is new on the re-read: the same item must be the same fact", id)
		}
	}
}
