package vandar_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/time/rate"

	"github.com/mizanhq/mizan/internal/pgtest"
	"github.com/mizanhq/mizan/internal/pollstate"
	"github.com/mizanhq/mizan/internal/sources"
	"github.com/mizanhq/mizan/internal/sources/sourcetest"
	"github.com/mizanhq/mizan/internal/sources/vandar"
	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

// refreshNow is the simulated clock of these tests.
var refreshNow = time.Date(2026, 2, 10, 9, 0, 0, 0, time.UTC)

// refreshSim is a simulator for one business and the URL to reach it (possibly through a wrapper).
type refreshSim struct {
	srv *vandartest.Server
	url string
}

func newRefreshSim(t *testing.T, wrap func(http.Handler) http.Handler) *refreshSim {
	t.Helper()
	srv, err := vandartest.New(vandartest.Options{Now: func() time.Time { return refreshNow },
		Businesses: []vandartest.BusinessOptions{{Slug: "acme", Empty: true, OpeningWallet: 5_000}}})
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = srv
	if wrap != nil {
		h = wrap(srv)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return &refreshSim{srv: srv, url: hs.URL}
}

// dueStore holds a pair the simulator issued, stored with 30 minutes left: within RefreshBefore, so the first
// call refreshes while the old access token still works.
func (s *refreshSim) dueStore() (*sourcetest.Credentials, string) {
	access, refresh, _ := s.srv.IssueTokens("acme")
	store := sourcetest.NewCredentials().SetClock(s.srv.Now).
		Put(vandar.CredentialAccess, access, refreshNow.Add(30*time.Minute)).
		Put(vandar.CredentialRefresh, refresh, refreshNow.Add(5*24*time.Hour))
	return store, access
}

func (s *refreshSim) client(t *testing.T, creds sources.Credentials) *vandar.Client {
	t.Helper()
	c, err := vandar.New(vandar.Config{APIURL: s.url, BatchURL: s.url, Business: "acme", Credentials: creds,
		HTTPClient: &http.Client{Timeout: 2 * time.Second}, GetLimit: rate.Inf, PostLimit: rate.Inf,
		RetryInitial: time.Millisecond, RetryMax: time.Millisecond, Now: s.srv.Now,
		Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (s *refreshSim) refreshes() int { return s.srv.Requests(vandartest.EndpointRefreshToken) }

// Vandar's refresh answer wrapped in its usual {"status":1,"data":{…}} is read like the documented flat one.
func TestRefreshReadsTheWrappedAnswer(t *testing.T) {
	t.Parallel()
	sim := newRefreshSim(t, nil)
	sim.srv.SetRefreshAnswer(func(a []byte) []byte { return append(append([]byte(`{"status":1,"data":`), a...), '}') })
	store, old := sim.dueStore()
	c := sim.client(t, store)
	if _, err := c.Balance(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Balance(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := sim.refreshes(); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
	if got := store.Value(vandar.CredentialAccess); got == "" || got == old {
		t.Error("the rotated pair was not stored")
	}
	if _, kept := store.Get(vandar.CredentialAnswer); kept {
		t.Error("the raw answer is still kept after its pair was stored")
	}
}

// An answer the client cannot read is kept, sealed, before anything else: the pair in it is not lost, the
// refresh token it replaced is never presented again, and once the answer can be read (a fixed mizan: here,
// the answer mended in the store) the pair is recovered from it without refreshing.
func TestAnUnreadableRefreshAnswerIsKeptAndRecovered(t *testing.T) {
	t.Parallel()
	sim := newRefreshSim(t, nil)
	sim.srv.SetRefreshAnswer(func(a []byte) []byte {
		return bytes.Replace(a, []byte(`"expires_in":432000`), []byte(`"expires_in":"5 days"`), 1)
	})
	store, _ := sim.dueStore()
	c := sim.client(t, store)
	_, err := c.Balance(t.Context())
	if !errors.Is(err, vandar.ErrRefresh) || !strings.Contains(err.Error(), "kept") {
		t.Fatalf("err = %v, want ErrRefresh saying the answer is kept", err)
	}
	kept := store.Value(vandar.CredentialAnswer)
	if !strings.Contains(kept, `"access_token"`) {
		t.Fatalf("the answer was not kept: %q", kept)
	}
	for _, v := range []string{err.Error()} {
		if strings.Contains(v, kept) {
			t.Error("the error quotes the answer, which holds the new tokens")
		}
	}
	// Every later call refuses rather than refresh again with the retired refresh token.
	if _, err := c.Balance(t.Context()); !errors.Is(err, vandar.ErrRefresh) {
		t.Fatalf("second call: err = %v", err)
	}
	if n := sim.refreshes(); n != 1 {
		t.Fatalf("%d refreshes, want 1: the kept answer's refresh token must not be presented again", n)
	}
	// The fix: the answer becomes readable. A new process recovers the pair from it.
	store.Put(vandar.CredentialAnswer, strings.Replace(kept, `"5 days"`, `432000`, 1), time.Time{})
	c = sim.client(t, store)
	if _, err := c.Balance(t.Context()); err != nil {
		t.Fatalf("after the answer was mended: %v", err)
	}
	if n, reuses := sim.refreshes(), sim.srv.RefreshReuses(); n != 1 || reuses != 0 {
		t.Errorf("%d refreshes, %d reuses; want 1 and 0", n, reuses)
	}
	if _, still := store.Get(vandar.CredentialAnswer); still {
		t.Error("the kept answer was not cleared once its pair was stored")
	}
}

// A crash between keeping Vandar's answer and storing the pair in it (here: the pair's save fails and the
// process is gone) loses nothing: the next process reads the pair from the kept answer.
func TestAPairKeptButNotSavedIsRecoveredByTheNextProcess(t *testing.T) {
	t.Parallel()
	sim := newRefreshSim(t, nil)
	store, _ := sim.dueStore()
	store.FailSaves(1, vandar.CredentialAccess)
	if _, err := sim.client(t, store).Balance(t.Context()); !errors.Is(err, vandar.ErrRefresh) {
		t.Fatalf("err = %v, want ErrRefresh (the pair's save failed)", err)
	}
	if _, err := sim.client(t, store).Balance(t.Context()); err != nil {
		t.Fatalf("the next process: %v", err)
	}
	if n, reuses := sim.refreshes(), sim.srv.RefreshReuses(); n != 1 || reuses != 0 {
		t.Errorf("%d refreshes, %d reuses; want 1 and 0", n, reuses)
	}
}

// Vandar rotates the pair but its answer never arrives (the connection drops). The old access token, refused
// before its expiry, says the pair has moved on: the client does not present the retired refresh token again
// — a rotating OAuth server would take it for a stolen one and revoke the pair — and later polls fail at once
// with what to do.
func TestARefreshWhoseAnswerIsLostIsNotRepeated(t *testing.T) {
	t.Parallel()
	sim := newRefreshSim(t, nil)
	sim.srv.SetRefreshAnswer(func([]byte) []byte { return nil })
	store, _ := sim.dueStore()
	c := sim.client(t, store)
	_, err := c.Balance(t.Context())
	if !errors.Is(err, vandar.ErrRefresh) || !strings.Contains(err.Error(), "rotated") {
		t.Fatalf("err = %v, want ErrRefresh saying Vandar rotated the pair", err)
	}
	if _, lost := store.Get(vandar.CredentialLost); !lost {
		t.Error("the lost refresh was not recorded")
	}
	_, err = sim.client(t, store).Balance(t.Context())
	if !errors.Is(err, vandar.ErrRefresh) || !strings.Contains(err.Error(), "issue a new token pair") {
		t.Fatalf("a later process: err = %v, want the fix named", err)
	}
	if n, reuses := sim.refreshes(), sim.srv.RefreshReuses(); n != 1 || reuses != 0 {
		t.Errorf("%d refreshes, %d reuses; want 1 and 0", n, reuses)
	}
}

// A refresh that never reached Vandar (the connection reset before it was read): the old access token still
// works, so the pair was not rotated, and the refresh is tried again at once.
func TestARefreshThatNeverReachedVandarIsRetried(t *testing.T) {
	t.Parallel()
	sim := newRefreshSim(t, nil)
	sim.srv.Inject(vandartest.Fault{Kind: vandartest.FaultReset, Endpoint: vandartest.EndpointRefreshToken}, 1)
	store, old := sim.dueStore()
	if _, err := sim.client(t, store).Balance(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n, reuses := sim.refreshes(), sim.srv.RefreshReuses(); n != 2 || reuses != 0 {
		t.Errorf("%d refreshes, %d reuses; want 2 and 0", n, reuses)
	}
	if store.Value(vandar.CredentialAccess) == old {
		t.Error("the rotated pair was not stored")
	}
}

// Vandar ends an access token before its expiry and the refresh that follows the 401 fails with a 503 before
// it reaches Vandar. The old token's refusal says nothing about the refresh (it was refused before it), so the
// pair is not recorded as lost: the next poll refreshes again and goes on, no refresh token presented twice.
func TestARefreshFailedAfterAnEarlyExpiryIsTriedAgainByTheNextPoll(t *testing.T) {
	t.Parallel()
	sim := newRefreshSim(t, nil)
	access, refresh, _ := sim.srv.IssueTokens("acme")
	store := sourcetest.NewCredentials().SetClock(sim.srv.Now).
		Put(vandar.CredentialAccess, access, refreshNow.Add(4*24*time.Hour)).
		Put(vandar.CredentialRefresh, refresh, refreshNow.Add(9*24*time.Hour))
	sim.srv.ExpireAccessTokenNow()
	sim.srv.Inject(vandartest.Fault{Kind: vandartest.FaultStatus, Status: 503, Endpoint: vandartest.EndpointRefreshToken}, 1)
	_, err := sim.client(t, store).Balance(t.Context())
	if !errors.Is(err, vandar.ErrRefresh) || !strings.Contains(err.Error(), "the next poll tries again") {
		t.Fatalf("err = %v, want ErrRefresh leaving it to the next poll", err)
	}
	if _, lost := store.Get(vandar.CredentialLost); lost {
		t.Fatal("a refresh that never reached Vandar was recorded as lost")
	}
	if _, err := sim.client(t, store).Balance(t.Context()); err != nil {
		t.Fatalf("the next poll: %v", err)
	}
	if n, reuses := sim.refreshes(), sim.srv.RefreshReuses(); n != 2 || reuses != 0 {
		t.Errorf("%d refreshes, %d reuses; want 2 and 0", n, reuses)
	}
	if store.Value(vandar.CredentialAccess) == access {
		t.Error("the rotated pair was not stored")
	}
}

// Two pollers (two processes: two database sessions) find the same pair due at the same moment. The credential
// lock in PostgreSQL lets one refresh; the other waits, re-reads the store and adopts the new pair. Vandar sees
// one refresh and no reused refresh token, and both go on. The first refresh is held at the simulator until a
// second arrives (or a while passes), so that without the lock the two would overlap.
func TestTwoProcessesNeverRefreshTheSamePair(t *testing.T) {
	t.Parallel()
	var arrivals atomic.Int32
	second := make(chan struct{})
	var once sync.Once
	sim := newRefreshSim(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v3/refreshtoken" {
				body, _ := io.ReadAll(r.Body)
				r.Body = io.NopCloser(bytes.NewReader(body))
				if arrivals.Add(1) == 1 {
					select {
					case <-second:
					case <-time.After(500 * time.Millisecond):
					}
				} else {
					once.Do(func() { close(second) })
				}
			}
			h.ServeHTTP(w, r)
		})
	})
	_, url := pgtest.NewDB(t)
	ctx := t.Context()
	sealer, err := pollstate.NewSealer("two-processes-key-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	process := func() *pollstate.Credentials {
		pool, err := pgxpool.New(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		return pollstate.NewCredentials(pool, sealer, "vandar-acme")
	}
	a, b := process(), process()
	access, refresh, _ := sim.srv.IssueTokens("acme")
	if err := a.Save(ctx, map[string]sources.Credential{
		vandar.CredentialAccess:  {Value: []byte(access), ExpiresAt: refreshNow.Add(-time.Minute)},
		vandar.CredentialRefresh: {Value: []byte(refresh), ExpiresAt: refreshNow.Add(5 * 24 * time.Hour)},
	}); err != nil {
		t.Fatal(err)
	}
	sim.srv.ExpireAccessTokenNow()

	start := make(chan struct{})
	errs := make(chan error, 6)
	var wg sync.WaitGroup
	for _, creds := range []*pollstate.Credentials{a, b} {
		c := sim.client(t, creds)
		for range 3 {
			wg.Go(func() {
				<-start
				_, err := c.Balance(ctx)
				errs <- err
			})
		}
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n, reuses := sim.refreshes(), sim.srv.RefreshReuses(); n != 1 || reuses != 0 {
		t.Errorf("%d refreshes, %d reuses; want 1 and 0", n, reuses)
	}
}
