package e2e

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

// month is the simulated history most tests use: 30 days ending well before "now", so every item has
// resolved.
var (
	historyStart = time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	afterHistory = historyStart.AddDate(0, 0, 32)
)

func TestBackfillPostsEveryItemOnceAndReplaysChangeNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, afterHistory, vandartest.Options{Businesses: []vandartest.BusinessOptions{{
		Slug: "acme", Seed: 7, Start: historyStart, Days: 30, PerDay: 166, OpeningWallet: 2_500_000,
	}}})
	items := b.sim.Items("acme")
	if len(items) < 4500 {
		t.Fatalf("simulator made only %d items; the test needs a backfill of many pages", len(items))
	}

	if err := b.pollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	stats := b.reconcile(ctx, "reconciler")
	if stats.DeadLetters != 0 {
		t.Fatalf("%d dead letters", stats.DeadLetters)
	}
	mustEqualWallet(t, b.walletBalance(ctx), b.sim.Wallet("acme"))
	// One entry per item that moved the wallet, plus the opening balance.
	if got, want := b.count(ctx, `SELECT count(*) FROM ledger.entries`), movedItems(items)+1; got != want {
		t.Fatalf("%d entries, want %d", got, want)
	}
	if got := b.count(ctx, `SELECT count(*) FROM ledger.entries WHERE idempotency_key = 'vandar:acme:opening:IRT'`); got != 1 {
		t.Fatalf("%d opening entries", got)
	}
	before := b.ledgerSnapshot(ctx)

	// Polling again publishes nothing new; replaying the whole topic from offset 0 in a new consumer group
	// re-reads every event and applies none.
	if err := b.newPoller().Once(ctx, ""); err != nil {
		t.Fatal(err)
	}
	b.reconcile(ctx, "reconciler")
	replay := b.reconcile(ctx, "replay-from-zero")
	if replay.Messages < len(items) {
		t.Fatalf("replay read %d messages, want at least %d", replay.Messages, len(items))
	}
	if after := b.ledgerSnapshot(ctx); after != before {
		t.Fatalf("ledger changed:\nbefore %s\nafter  %s", before, after)
	}
}

func TestAccessTokenExpiresMidBackfill(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, afterHistory, vandartest.Options{Businesses: []vandartest.BusinessOptions{{
		Slug: "acme", Seed: 11, Start: historyStart, Days: 30, PerDay: 60,
	}}})
	seedAccess, seedRefresh := b.vandarSettings().AccessToken.Reveal(), b.vandarSettings().RefreshToken.Reveal()
	var statementCalls atomic.Int32
	hook := func(r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/transaction") && statementCalls.Add(1) == 10 {
			b.sim.ExpireAccessTokenNow()
		}
	}
	b.hook.Store(&hook)

	if err := b.pollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if statementCalls.Load() < 10 {
		t.Fatalf("only %d statement pages: the token never expired mid-backfill", statementCalls.Load())
	}
	b.reconcile(ctx, "reconciler")
	mustEqualWallet(t, b.walletBalance(ctx), b.sim.Wallet("acme"))

	// The rotated pair is stored encrypted; the seed's refresh token is dead now.
	var access, refresh []byte
	if err := b.pool.QueryRow(ctx, `
		SELECT a.sealed, r.sealed FROM poller.credentials a
		JOIN poller.credentials r ON r.source = a.source AND r.name = 'refresh_token'
		WHERE a.source = 'vandar-acme' AND a.name = 'access_token'`).Scan(&access, &refresh); err != nil {
		t.Fatalf("no stored tokens: %v", err)
	}
	for _, secret := range []string{seedAccess, seedRefresh} {
		if strings.Contains(string(access), secret) || strings.Contains(string(refresh), secret) {
			t.Fatal("a token is stored in the clear")
		}
	}

	// A restarted poller (nothing in memory) uses the stored pair, not the environment's stale one: with the
	// seed it could not refresh at all.
	b.sim.ExpireAccessTokenNow()
	b.poller = b.newPoller()
	if err := b.pollOnce(ctx); err != nil {
		t.Fatalf("restarted poller: %v", err)
	}
	for _, secret := range []string{seedAccess, seedRefresh} {
		if strings.Contains(b.logs.String(), secret) {
			t.Fatal("a token appears in the logs")
		}
	}
}

func TestPendingPaymentPostsOnceWhenItSucceedsAndFailedNever(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t0 := time.Date(2026, 10, 5, 9, 0, 0, 0, time.UTC)
	b := setup(t, t0.Add(10*time.Minute), vandartest.Options{Businesses: []vandartest.BusinessOptions{{Slug: "acme", Empty: true}}})
	pending, err := b.sim.AddItem("acme", vandartest.NewItem{Kind: vandartest.KindIPG, Amount: 120_000, Wage: 1_200,
		CreatedAt: t0, ResolvedAt: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	failed, err := b.sim.AddItem("acme", vandartest.NewItem{Kind: vandartest.KindIPG, Amount: 90_000, Wage: 900,
		CreatedAt: t0.Add(time.Minute), Status: vandartest.StatusPaymentFailed})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.sim.AddItem("acme", vandartest.NewItem{Kind: vandartest.KindCashIn, Amount: 500_000,
		CreatedAt: t0.Add(2 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	entryOf := func(id int64) int {
		return b.count(ctx, `SELECT count(*) FROM ledger.entries WHERE idempotency_key = $1`,
			"vandar:acme:statement:"+itoa(id))
	}

	if err := b.pollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	b.reconcile(ctx, "reconciler")
	if entryOf(pending.ID) != 0 || entryOf(failed.ID) != 0 {
		t.Fatal("a pending or failed payment was posted")
	}
	mustEqualWallet(t, b.walletBalance(ctx), b.sim.Wallet("acme"))

	// The payment succeeds an hour later; the re-read window sees the change.
	b.setNow(t0.Add(2 * time.Hour))
	for range 2 {
		if err := b.pollOnce(ctx); err != nil {
			t.Fatal(err)
		}
		b.reconcile(ctx, "reconciler")
	}
	if entryOf(pending.ID) != 1 {
		t.Fatalf("the succeeded payment has %d entries, want 1", entryOf(pending.ID))
	}
	if entryOf(failed.ID) != 0 {
		t.Fatal("the failed payment was posted")
	}
	mustEqualWallet(t, b.walletBalance(ctx), b.sim.Wallet("acme"))
	var effective time.Time
	if err := b.pool.QueryRow(ctx, `SELECT effective_at FROM ledger.entries WHERE idempotency_key = $1`,
		"vandar:acme:statement:"+itoa(pending.ID)).Scan(&effective); err != nil {
		t.Fatal(err)
	}
	if !effective.Equal(t0.Add(time.Hour)) {
		t.Fatalf("the payment is effective at %s, want when it succeeded, %s", effective, t0.Add(time.Hour))
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
