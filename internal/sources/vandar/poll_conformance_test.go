package vandar_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources"
	"github.com/mizanhq/mizan/internal/sources/sourcetest"
	"github.com/mizanhq/mizan/internal/sources/vandar"
	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

// Vandar's feeds, polled through the source interface exactly as the poller polls them, pass the interface's
// part of the conformance suite: resuming from any saved step, quarantining an item instead of halting, no
// watermark on failure.
func TestPollConformance(t *testing.T) {
	t.Parallel()
	for _, feed := range []string{events.FeedStatement, events.FeedSettlements, events.FeedBatches} {
		t.Run(feed, func(t *testing.T) {
			t.Parallel()
			sourcetest.RunPolls(t, pollHarness{feed: feed})
		})
	}
}

type pollHarness struct{ feed string }

// garbler stands in front of the simulator and spoils the items whose id it has been given: an answer the
// decoder cannot read, as a real Vandar might send one day.
type garbler struct {
	next http.Handler
	mu   sync.Mutex
	ids  map[string]bool
}

func (g *garbler) add(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ids[id] = true
}

func (g *garbler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	g.next.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	g.mu.Lock()
	if len(g.ids) > 0 && rec.Code == http.StatusOK {
		body = g.spoil(r.URL.Path, body)
	}
	g.mu.Unlock()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}

// spoil rewrites the listed items of an answer: an unknown status and an amount that is no number.
func (g *garbler) spoil(path string, body []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var top map[string]any
	if dec.Decode(&top) != nil {
		return body
	}
	var list []any
	idField := "id"
	switch {
	case strings.HasSuffix(path, "/transaction"):
		list, _ = top["data"].([]any)
	case strings.HasSuffix(path, "/settlement"):
		data, _ := top["data"].(map[string]any)
		settlements, _ := data["settlements"].(map[string]any)
		list, _ = settlements["data"].([]any)
	case strings.HasSuffix(path, "/batches"):
		list, _ = top["data"].([]any)
		idField = "batch_id"
	}
	for _, it := range list {
		m, ok := it.(map[string]any)
		if !ok || !g.ids[fmt.Sprint(m[idField])] {
			continue
		}
		m["status"] = map[string]any{"spoiled": true}
		m["amount"] = "not a number"
	}
	out, err := json.Marshal(top)
	if err != nil {
		return body
	}
	return out
}

type pollSource struct {
	feed    string
	sim     *vandartest.Server
	src     sources.Source
	store   *sourcetest.Credentials
	garbler *garbler
	mu      sync.Mutex
	spoiled map[string]bool
	want    func() []sourcetest.Fact
}

func (h pollHarness) StartPoll(t *testing.T, cfg sourcetest.Config) sourcetest.PollSource {
	sim, err := vandartest.New(vandartest.Options{Now: func() time.Time { return conformNow },
		Businesses: []vandartest.BusinessOptions{{Slug: "acme", Empty: true, OpeningWallet: 1_000_000}}})
	if err != nil {
		t.Fatal(err)
	}
	g := &garbler{next: sim, ids: map[string]bool{}}
	hs := httptest.NewServer(g)
	t.Cleanup(hs.Close)
	ps := &pollSource{feed: h.feed, sim: sim, garbler: g, spoiled: map[string]bool{},
		store: sourcetest.NewCredentials().SetClock(sim.Now)}

	// The same facts as the client-level suites.
	switch h.feed {
	case events.FeedStatement:
		for i := range cfg.N {
			n := vandartest.NewItem{Kind: vandartest.KindIPG, Amount: int64(100_000 + 1_000*i), Wage: 1_000,
				CreatedAt: conformNow.Add(-time.Duration(cfg.N-i) * time.Minute)}
			switch {
			case i%5 == 4:
				n.Kind, n.Amount, n.Wage = vandartest.KindSettlement, 50_000, 0
			case i%2 == 1:
				n.Kind, n.Wage = vandartest.KindCashIn, 0
			}
			if _, err := sim.AddItem("acme", n); err != nil {
				t.Fatalf("item %d: %v", i, err)
			}
		}
		ps.want = func() []sourcetest.Fact {
			var want []sourcetest.Fact
			for _, it := range sim.Items("acme") {
				dir := events.DirectionOut
				if it.IsDeposit {
					dir = events.DirectionIn
				}
				want = append(want, sourcetest.Fact{Key: strconv.FormatInt(it.ID, 10), Value: fmt.Sprintf(
					"status=%d direction=%s amount=%d fee=%d", it.Status, dir, it.Amount, it.Wage)})
			}
			return want
		}
	default:
		payouts := &payoutSource{sim: sim, feed: map[string]feed{events.FeedSettlements: feedSettlements,
			events.FeedBatches: feedBatches}[h.feed], store: ps.store}
		payouts.fill(t, cfg.N)
		ps.want = func() []sourcetest.Fact { return payouts.State().Want }
	}

	access, refresh, expiresIn := sim.IssueTokens("acme")
	ps.store.Put(vandar.CredentialAccess, access, conformNow.Add(time.Duration(expiresIn)*time.Second)).
		Put(vandar.CredentialRefresh, refresh, conformNow.Add(10*24*time.Hour))
	settings := vandar.Settings{Business: "acme", APIURL: hs.URL, BatchURL: hs.URL,
		Tune: func(c *vandar.Config) {
			c.HTTPClient = &http.Client{Timeout: 2 * time.Second}
			c.GetLimit, c.PostLimit = rate.Inf, rate.Inf
			c.RetryInitial, c.RetryMax = time.Millisecond, time.Millisecond
			c.Sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
		}}
	ps.src, err = settings.Open(sources.Env{Name: "vandar-acme", Credentials: ps.store,
		Log: slog.New(slog.DiscardHandler), Now: sim.Now})
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func (s *pollSource) Source() sources.Source { return s.src }
func (s *pollSource) Feed() string           { return s.feed }
func (s *pollSource) Now() time.Time         { return s.sim.Now() }

func (s *pollSource) Fact(ev events.Event) (sourcetest.Fact, bool) {
	switch ev.Type {
	case events.TypeStatementItem:
		it, err := events.DecodeData[events.StatementItem](ev)
		if err != nil {
			return sourcetest.Fact{}, false
		}
		return sourcetest.Fact{Key: it.ItemID, Value: fmt.Sprintf("status=%d direction=%s amount=%s fee=%s",
			it.StatusCode, it.Direction, it.Amount, it.Fee)}, true
	case events.TypeSettlement:
		st, err := events.DecodeData[events.Settlement](ev)
		if err != nil {
			return sourcetest.Fact{}, false
		}
		return settlementFact(st.SettlementID, st.Status, st.Amount.String(), st.Fee.String(), st.TransactionID), true
	case events.TypeBatch:
		b, err := events.DecodeData[events.Batch](ev)
		if err != nil {
			return sourcetest.Fact{}, false
		}
		return batchFact(b.BatchID, b.TotalAmount.String(), b.Items), true
	}
	return sourcetest.Fact{}, false
}

func (s *pollSource) Want() []sourcetest.Fact {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []sourcetest.Fact
	for _, f := range s.want() {
		if !s.spoiled[f.Key] {
			out = append(out, f)
		}
	}
	return out
}

func (s *pollSource) Garble(key string) {
	s.mu.Lock()
	s.spoiled[key] = true
	s.mu.Unlock()
	s.garbler.add(key)
}

func (s *pollSource) Inject(f sourcetest.Fault, n int) {
	if f != sourcetest.FaultServerError {
		panic("pollSource injects only server errors")
	}
	s.sim.Inject(vandartest.Fault{Kind: vandartest.FaultStatus, Status: http.StatusServiceUnavailable}, n)
}

// BreakCredentials stores a pair Vandar never issued and ends the live access token's life.
func (s *pollSource) BreakCredentials() {
	s.store.Put(vandar.CredentialAccess, "revoked-access-5e1f0c2a9b7d", conformNow.Add(48*time.Hour)).
		Put(vandar.CredentialRefresh, "revoked-refresh-8c3a6e4f1b0d", conformNow.Add(96*time.Hour))
	s.sim.ExpireAccessTokenNow()
}
