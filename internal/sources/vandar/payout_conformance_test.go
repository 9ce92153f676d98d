package vandar_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources/sourcetest"
	"github.com/mizanhq/mizan/internal/sources/vandar"
	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

// The payout feeds — settlements, queued settlements, batches with their items — pass the conformance suite
// every source passes, each against the simulator.

func TestPayoutConformance(t *testing.T) {
	t.Parallel()
	for name, f := range map[string]feed{"settlements": feedSettlements, "queued settlements": feedQueued,
		"batches": feedBatches} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sourcetest.Run(t, payoutHarness{feed: f})
		})
	}
}

type feed int

const (
	feedSettlements feed = iota
	feedQueued
	feedBatches
)

var conformNow = time.Date(2024, 4, 10, 12, 0, 0, 0, time.UTC)

type payoutHarness struct{ feed feed }

type payoutSource struct {
	feed   feed
	sim    *vandartest.Server
	client *vandar.Client
	store  *sourcetest.Credentials
	mu     sync.Mutex
	waits  []time.Duration
}

func (h payoutHarness) Start(t *testing.T, cfg sourcetest.Config) sourcetest.Source {
	sim, err := vandartest.NewServer(vandartest.Options{RateLimit: cfg.RateLimit,
		Businesses: []vandartest.BusinessOptions{{Slug: "acme", Empty: true}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	sim.SetNow(conformNow)
	s := &payoutSource{feed: h.feed, sim: sim, store: sourcetest.NewCredentials().SetClock(sim.Now)}
	s.fill(t, cfg.N)
	access, refresh, expiresIn := sim.IssueTokens("acme")
	s.store.Put(vandar.CredentialAccess, access, conformNow.Add(time.Duration(expiresIn)*time.Second)).
		Put(vandar.CredentialRefresh, refresh, conformNow.Add(10*24*time.Hour))
	s.client, err = vandar.New(vandar.Config{APIURL: sim.URL, BatchURL: sim.URL, Business: "acme", Credentials: s.store,
		HTTPClient: &http.Client{Timeout: 500 * time.Millisecond}, Now: sim.Now,
		Sleep: func(ctx context.Context, d time.Duration) error {
			s.mu.Lock()
			s.waits = append(s.waits, d)
			s.mu.Unlock()
			if !cfg.RateLimit {
				return ctx.Err()
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(d):
				return nil
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fill gives the simulator n facts of the feed.
func (s *payoutSource) fill(t *testing.T, n int) {
	t.Helper()
	if _, err := s.sim.AddItem("acme", vandartest.NewItem{Kind: vandartest.KindCashIn, Amount: 1_000_000_000,
		CreatedAt: conformNow.Add(-72 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		at := conformNow.Add(-48*time.Hour + time.Duration(i)*time.Minute)
		var err error
		switch s.feed {
		case feedSettlements:
			status := []int{vandartest.StatusSettlementDone, vandartest.StatusSettlementFailed,
				vandartest.StatusSettlementCanceled}[i%3]
			_, err = s.sim.AddItem("acme", vandartest.NewItem{Kind: vandartest.KindSettlement,
				Amount: int64(100_000 + i*1_000), Wage: int64(i), CreatedAt: at, Status: status,
				ResolvedAt: at.Add(time.Duration(i) * 2 * time.Hour)})
		case feedQueued:
			// More than the wallet will ever hold: they stay queued.
			_, err = s.sim.QueueSettlement("acme", vandartest.NewQueued{Amount: int64(2_000_000_000 + i*10_000),
				CreatedAt: at})
		case feedBatches:
			var items []vandartest.NewBatchItem
			for j := range 1 + i%3 {
				items = append(items, vandartest.NewBatchItem{Amount: int64(50_000 * (j + 1)),
					Status: []int{vandartest.StatusSettlementDone, vandartest.StatusSettlementFailed}[j%2]})
			}
			_, err = s.sim.AddBatch("acme", vandartest.NewBatch{CreatedAt: at, Items: items})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func (s *payoutSource) Fetch(ctx context.Context) ([]sourcetest.Fact, error) {
	var facts []sourcetest.Fact
	for page := 1; ; page++ {
		switch s.feed {
		case feedSettlements, feedQueued:
			read := s.client.Settlements
			if s.feed == feedQueued {
				read = s.client.QueuedSettlements
			}
			p, err := read(ctx, page, 5)
			if err != nil {
				return facts, err
			}
			for _, st := range p.Items {
				facts = append(facts, settlementFact(st.SettlementID, st.Status, st.Amount.String(), st.Fee.String(),
					st.TransactionID))
			}
			if !p.HasMore {
				return facts, nil
			}
		case feedBatches:
			p, err := s.client.Batches(ctx, page)
			if err != nil {
				return facts, err
			}
			for _, listed := range p.Items {
				b, _, err := s.client.BatchWithItems(ctx, listed)
				if err != nil {
					return facts, err
				}
				facts = append(facts, batchFact(b.BatchID, b.TotalAmount.String(), b.Items))
			}
			if !p.HasMore {
				return facts, nil
			}
		}
	}
}

func settlementFact(id, status, amount, fee, tx string) sourcetest.Fact {
	return sourcetest.Fact{Key: id, Value: fmt.Sprintf("%s %s+%s tx=%s", status, amount, fee, tx)}
}

func batchFact(id, total string, items []events.BatchItem) sourcetest.Fact {
	v := "total=" + total
	for _, it := range items {
		v += fmt.Sprintf(" %s:%s:%s:%s", it.ID, it.Status, it.Amount, it.TransactionID)
	}
	return sourcetest.Fact{Key: id, Value: v}
}

func (s *payoutSource) Inject(f sourcetest.Fault, n int) {
	var vf vandartest.Fault
	switch f {
	case sourcetest.FaultServerError:
		vf = vandartest.Fault{Kind: vandartest.FaultStatus, Status: http.StatusServiceUnavailable}
	case sourcetest.FaultTooManyRequests:
		vf = vandartest.Fault{Kind: vandartest.FaultTooManyRequests, RetryAfter: time.Second}
	case sourcetest.FaultSlow:
		vf = vandartest.Fault{Kind: vandartest.FaultSlow, Delay: 5 * time.Second}
	case sourcetest.FaultTruncated:
		vf = vandartest.Fault{Kind: vandartest.FaultTruncated}
	case sourcetest.FaultHTML:
		vf = vandartest.Fault{Kind: vandartest.FaultHTML200}
	case sourcetest.FaultReset:
		vf = vandartest.Fault{Kind: vandartest.FaultReset}
	}
	s.sim.Inject(vf, n)
}

// BreakCredentials replaces the stored pair with one Vandar never issued and ends the live access token's
// life: the client's next call is refused, re-reads the store, and is refused again.
func (s *payoutSource) BreakCredentials() {
	s.store.Put(vandar.CredentialAccess, "revoked-access-5e1f0c2a9b7d", conformNow.Add(48*time.Hour)).
		Put(vandar.CredentialRefresh, "revoked-refresh-8c3a6e4f1b0d", conformNow.Add(96*time.Hour))
	s.sim.ExpireAccessTokenNow()
}

func (s *payoutSource) State() sourcetest.State {
	st := sourcetest.State{Limit: 100, Throttled: s.sim.Throttled()}
	for _, ep := range []vandartest.Endpoint{vandartest.EndpointRefreshToken, vandartest.EndpointSettlements,
		vandartest.EndpointQueued, vandartest.EndpointBatches, vandartest.EndpointBatchItems, vandartest.EndpointOther} {
		st.Requests += s.sim.Requests(ep)
	}
	s.mu.Lock()
	st.Waits = append(st.Waits, s.waits...)
	s.mu.Unlock()
	st.Secrets = append(st.Secrets, s.store.Values()...)
	st.Endpoints = []string{"POST /v3/refreshtoken", "GET /v2.1/business/acme/settlement",
		"GET /v3/business/acme/settlement/queued", "GET /api/v2/business/acme/batches",
		"GET /api/v2/business/acme/batch-settlements/"}
	switch s.feed {
	case feedSettlements:
		for _, it := range s.sim.Items("acme") {
			if it.Kind != vandartest.KindSettlement {
				continue
			}
			status := map[int]string{-2: events.SettlementPending, 2: events.SettlementDone,
				-3: events.SettlementFailed, -4: events.SettlementCanceled}[it.Status]
			st.Want = append(st.Want, settlementFact(it.UUID, status, strconv.FormatInt(it.Amount, 10),
				strconv.FormatInt(it.Wage, 10), strconv.FormatInt(it.ID, 10)))
		}
	case feedQueued:
		for _, q := range s.sim.QueuedSettlements("acme") {
			st.Want = append(st.Want, settlementFact(q.ID, events.SettlementInit, strconv.FormatInt(q.Amount, 10), "0", ""))
		}
	case feedBatches:
		for _, b := range s.sim.Batches("acme") {
			var items []events.BatchItem
			total := int64(0)
			for _, it := range b.Items {
				// Every batch was requested two days ago: all its items have resolved.
				status := map[int]string{2: events.SettlementSubmitted, -3: events.SettlementFailed,
					-4: events.SettlementCanceled}[it.Status]
				items = append(items, events.BatchItem{ID: it.UUID, Status: status,
					Amount: decimal.NewFromInt(it.Amount), TransactionID: strconv.FormatInt(it.ID, 10)})
				total += it.Amount
			}
			st.Want = append(st.Want, batchFact(b.ID, strconv.FormatInt(total+b.Misstated, 10), items))
		}
	}
	return st
}
