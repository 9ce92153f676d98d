package vandar

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"golang.org/x/time/rate"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

// These tests read the simulator (vandartest) over real HTTP: the settlement, queue and batch feeds, and the
// statement beside them, which must tell the same story about the same money.

var simNow = time.Date(2024, 4, 10, 12, 0, 0, 0, time.UTC) // 15:30 in Tehran

type simBundle struct {
	client *Client
	sim    *vandartest.Server
	access string // the issued pair, for requests the client does not make
	mu     sync.Mutex
	waits  []time.Duration
}

// simSetup starts a simulator at simNow (default: a generated month of "acme") and a client on it whose clock
// is the simulator's and whose retries do not sleep.
func simSetup(t *testing.T, opts vandartest.Options) *simBundle {
	t.Helper()
	if len(opts.Businesses) == 0 {
		opts.Businesses = []vandartest.BusinessOptions{{Slug: "acme", Seed: 7, Start: simNow.AddDate(0, 0, -29),
			Days: 30, PerDay: 40}}
	}
	sim, err := vandartest.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	sim.SetNow(simNow)
	access, refresh, expiresIn := sim.IssueTokens("acme")
	b := &simBundle{sim: sim, access: access}
	store := newStore(Tokens{Access: access, Refresh: refresh,
		AccessExpiresAt: simNow.Add(time.Duration(expiresIn) * time.Second), RefreshExpiresAt: simNow.Add(10 * 24 * time.Hour)})
	b.client, err = New(Config{APIURL: sim.URL, BatchURL: sim.URL, Business: "acme", Credentials: store,
		HTTPClient: &http.Client{Timeout: 5 * time.Second}, GetLimit: rate.Inf, PostLimit: rate.Inf, Now: sim.Now,
		Sleep: func(ctx context.Context, d time.Duration) error {
			b.mu.Lock()
			b.waits = append(b.waits, d)
			b.mu.Unlock()
			return ctx.Err()
		}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func emptySim(t *testing.T) *simBundle {
	return simSetup(t, vandartest.Options{Businesses: []vandartest.BusinessOptions{{Slug: "acme", Empty: true}}})
}

func (b *simBundle) add(t *testing.T, n vandartest.NewItem) vandartest.Item {
	t.Helper()
	it, err := b.sim.AddItem("acme", n)
	if err != nil {
		t.Fatal(err)
	}
	return it
}

// allSettlements pages the settlement list to the end, failing on a settlement seen twice.
func (b *simBundle) allSettlements(t *testing.T, perPage int) ([]events.Settlement, *decimal.Decimal) {
	t.Helper()
	var all []events.Settlement
	seen := map[string]bool{}
	for page := 1; ; page++ {
		p, err := b.client.Settlements(t.Context(), page, perPage)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range p.Items {
			if seen[s.SettlementID] {
				t.Fatalf("settlement %s on two pages", s.SettlementID)
			}
			seen[s.SettlementID] = true
			all = append(all, s)
		}
		if !p.HasMore {
			return all, p.Wallet
		}
	}
}

// statement reads the whole statement, oldest first.
func (b *simBundle) statement(t *testing.T) map[string]events.StatementItem {
	t.Helper()
	out := map[string]events.StatementItem{}
	q := StatementQuery{Sort: SortAsc}
	for {
		p, err := b.client.Statement(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range p.Items {
			out[it.ItemID] = it
		}
		if !p.HasMore || len(p.Items) == 0 {
			return out
		}
		q.StartAfter = p.Next
	}
}

// statementStatus is the statement code a settlement status implies.
var statementStatus = map[string]int{events.SettlementPending: -2, events.SettlementDone: 2,
	events.SettlementFailed: -3, events.SettlementCanceled: -4}

func TestSettlementsPageToTheEndEachOnceAndAgreeWithTheStatement(t *testing.T) {
	t.Parallel()
	b := simSetup(t, vandartest.Options{})
	truth := map[string]vandartest.Item{}
	for _, it := range b.sim.Items("acme") {
		if it.Kind == vandartest.KindSettlement && it.BatchID == "" {
			truth[it.UUID] = it
		}
	}
	got, wallet := b.allSettlements(t, 9)
	if len(got) != len(truth) || len(got) < 30 {
		t.Fatalf("read %d settlements, the simulator has %d", len(got), len(truth))
	}
	if bal, err := b.client.Balance(t.Context()); err != nil || wallet == nil || !wallet.Equal(bal.Amount) {
		t.Errorf("list wallet %v, balance %v (%v)", wallet, bal.Amount, err)
	}
	statement := b.statement(t)
	tehran := must(Tehran())
	statuses := map[string]int{}
	for _, s := range got {
		it := truth[s.SettlementID]
		item := statement[s.TransactionID]
		statuses[s.Status]++
		switch {
		case s.TransactionID != strconv.FormatInt(it.ID, 10) || s.TrackID != it.TrackID || s.IBAN != it.IBAN:
			t.Errorf("settlement %+v is not item %+v", s, it)
		case !s.Amount.Equal(decimal.NewFromInt(it.Amount)) || !s.Fee.Equal(decimal.NewFromInt(it.Wage)):
			t.Errorf("settlement %s: %s + %s, the item %d + %d", s.SettlementID, s.Amount, s.Fee, it.Amount, it.Wage)
		case s.WalletAfter == nil || item.WalletAfter == nil || !s.WalletAfter.Equal(*item.WalletAfter):
			t.Errorf("settlement %s: wallet after %v, the statement's %v", s.SettlementID, s.WalletAfter, item.WalletAfter)
		case statementStatus[s.Status] != item.StatusCode || item.TrackID != s.TrackID:
			t.Errorf("settlement %s is %s, its statement item %+v", s.SettlementID, s.Status, item)
		case s.Currency != events.CurrencyToman || s.Queued || !s.ObservedAt.Equal(simNow):
			t.Errorf("settlement %+v", s)
		}
		// Predicted at a Paya cycle (:45 Tehran), after the request.
		if p := s.PredictedAt.In(tehran); p.Minute() != 45 || !p.After(item.CreatedAt) || p.Location() != tehran {
			t.Errorf("settlement %s predicted at %v, requested %v", s.SettlementID, p, item.CreatedAt)
		}
	}
	for _, st := range []string{events.SettlementDone, events.SettlementFailed, events.SettlementCanceled} {
		if statuses[st] == 0 {
			t.Errorf("no %s settlement read: %v", st, statuses)
		}
	}
	one, err := b.client.Settlement(t.Context(), got[5].SettlementID)
	if err != nil {
		t.Fatal(err)
	}
	if !one.Amount.Equal(got[5].Amount) || one.Status != got[5].Status || string(one.Raw) != string(got[5].Raw) {
		t.Errorf("Settlement() = %+v, listed %+v", one, got[5])
	}
	if _, err := b.client.Settlement(t.Context(), "no-such-settlement"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown settlement: %v", err)
	}
}

func TestSettlementLifecycleOverSimulatedTime(t *testing.T) {
	t.Parallel()
	b := emptySim(t)
	b.add(t, vandartest.NewItem{Kind: vandartest.KindCashIn, Amount: 5_000_000, CreatedAt: simNow.Add(-time.Hour)})
	// Requested at 15:20 Tehran: predicted for the 18:45 cycle, cancellable until 18:30.
	done := b.add(t, vandartest.NewItem{Kind: vandartest.KindSettlement, Amount: 1_000_000, Wage: 2_000,
		CreatedAt: simNow.Add(-10 * time.Minute), ResolvedAt: simNow.Add(3*time.Hour + 20*time.Minute)})
	failed := b.add(t, vandartest.NewItem{Kind: vandartest.KindSettlement, Amount: 700_000,
		CreatedAt: simNow.Add(-9 * time.Minute), Status: vandartest.StatusSettlementFailed,
		ResolvedAt: simNow.Add(6 * time.Hour)})
	cancelled := b.add(t, vandartest.NewItem{Kind: vandartest.KindSettlement, Amount: 300_000,
		CreatedAt: simNow.Add(-8 * time.Minute), ResolvedAt: simNow.Add(4 * time.Hour)})
	status := func(it vandartest.Item) events.Settlement {
		t.Helper()
		s, err := b.client.Settlement(t.Context(), it.UUID)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s := status(done); s.Status != events.SettlementPending || !s.Fee.Equal(decimal.NewFromInt(2_000)) ||
		!s.PredictedAt.Equal(time.Date(2024, 4, 10, 15, 15, 0, 0, time.UTC)) {
		t.Errorf("before: %+v; want PENDING, predicted 18:45 Tehran", s)
	}

	// Cancelled before its cut-off, through the API: the money comes back at once.
	r, _ := http.NewRequest(http.MethodDelete, b.sim.URL+"/v2.1/business/acme/settlement/"+strconv.FormatInt(cancelled.ID, 10), nil)
	r.Header.Set("Authorization", "Bearer "+b.access)
	if resp, err := http.DefaultClient.Do(r); err != nil || resp.StatusCode != 200 {
		t.Fatalf("cancel: %v %v", resp, err)
	}
	if s := status(cancelled); s.Status != events.SettlementCanceled {
		t.Errorf("cancelled: %s", s.Status)
	}

	b.sim.Advance(4 * time.Hour) // 19:30 Tehran
	if s := status(done); s.Status != events.SettlementDone {
		t.Errorf("after its cycle: %s", s.Status)
	}
	if s := status(failed); s.Status != events.SettlementPending || !s.PredictedAt.Before(b.sim.Now()) {
		t.Errorf("failing settlement before it fails: %+v; want still pending, past its prediction", s)
	}
	b.sim.Advance(3 * time.Hour)
	if s := status(failed); s.Status != events.SettlementFailed {
		t.Errorf("after it failed: %s", s.Status)
	}

	// The statement tells the same story: -3 and -4 kept their deduction, each has a -6 bringing it back.
	statement := b.statement(t)
	returns := map[string]events.StatementItem{}
	for _, it := range statement {
		if it.StatusCode == -6 {
			returns[it.ReturnsItemID] = it
		}
	}
	for _, c := range []struct {
		it       vandartest.Item
		code     int
		returned bool
	}{{done, 2, false}, {failed, -3, true}, {cancelled, -4, true}} {
		id := strconv.FormatInt(c.it.ID, 10)
		ret, returned := returns[id]
		if statement[id].StatusCode != c.code || returned != c.returned ||
			returned && !ret.Amount.Equal(decimal.NewFromInt(c.it.Amount)) {
			t.Errorf("settlement %s: statement status %d, return %+v", id, statement[id].StatusCode, ret)
		}
	}
	if bal, _ := b.client.Balance(t.Context()); !bal.Amount.Equal(decimal.NewFromInt(5_000_000 - 1_002_000)) {
		t.Errorf("balance %s: only the done settlement and its fee left the wallet", bal.Amount)
	}
}

func TestStuckAndWithheldSettlementsAreReportedAsTheyAre(t *testing.T) {
	t.Parallel()
	b := emptySim(t)
	b.add(t, vandartest.NewItem{Kind: vandartest.KindCashIn, Amount: 5_000_000, CreatedAt: simNow.Add(-72 * time.Hour)})
	stuck := b.add(t, vandartest.NewItem{Kind: vandartest.KindSettlement, Amount: 1_000_000,
		CreatedAt: simNow.Add(-48 * time.Hour), ResolvedAt: simNow.Add(-40 * time.Hour)})
	failed := b.add(t, vandartest.NewItem{Kind: vandartest.KindSettlement, Amount: 700_000,
		CreatedAt: simNow.Add(-47 * time.Hour), Status: vandartest.StatusSettlementFailed,
		ResolvedAt: simNow.Add(-30 * time.Hour)})
	if err := b.sim.StickSettlement("acme", stuck.ID); err != nil {
		t.Fatal(err)
	}
	if err := b.sim.WithholdReturn("acme", failed.ID); err != nil {
		t.Fatal(err)
	}
	got, _ := b.allSettlements(t, 0)
	byID := map[string]events.Settlement{}
	for _, s := range got {
		byID[s.TransactionID] = s
	}
	if s := byID[strconv.FormatInt(stuck.ID, 10)]; s.Status != events.SettlementPending || !s.PredictedAt.Before(simNow.Add(-24*time.Hour)) {
		t.Errorf("stuck: %+v; want PENDING a day past its prediction", s)
	}
	if s := byID[strconv.FormatInt(failed.ID, 10)]; s.Status != events.SettlementFailed {
		t.Errorf("withheld: %+v", s)
	}
	for _, it := range b.statement(t) {
		if it.StatusCode == -6 {
			t.Errorf("a return item: %+v", it)
		}
	}
}

func TestQueuedSettlementsLeaveTheQueueWhenFunded(t *testing.T) {
	t.Parallel()
	b := emptySim(t)
	b.add(t, vandartest.NewItem{Kind: vandartest.KindCashIn, Amount: 100_000, CreatedAt: simNow.Add(-time.Hour)})
	q, err := b.sim.QueueSettlement("acme", vandartest.NewQueued{Amount: 250_000, TrackID: "q-1", CreatedAt: simNow})
	if err != nil {
		t.Fatal(err)
	}
	page, err := b.client.QueuedSettlements(t.Context(), 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.HasMore || page.Wallet != nil {
		t.Fatalf("queue %+v", page)
	}
	s := page.Items[0]
	// The queue is v3: amount 2,500,000 rials beside amount_toman 250,000.
	if s.SettlementID != q.ID || !s.Queued || s.Status != events.SettlementInit || s.TransactionID != "" ||
		!s.Amount.Equal(decimal.NewFromInt(250_000)) || s.TrackID != "q-1" || !s.CreatedAt.Equal(simNow) ||
		!s.PredictedAt.IsZero() {
		t.Errorf("queued %+v", s)
	}
	b.add(t, vandartest.NewItem{Kind: vandartest.KindCashIn, Amount: 200_000, CreatedAt: simNow.Add(2 * time.Hour)})
	b.sim.Advance(2 * time.Hour)
	if page, err := b.client.QueuedSettlements(t.Context(), 1, 10); err != nil || len(page.Items) != 0 {
		t.Fatalf("queue once funded: %+v, %v", page, err)
	}
	left, err := b.client.QueuedSettlement(t.Context(), q.ID)
	if err != nil {
		t.Fatal(err)
	}
	if left.Status != events.SettlementPending || left.TransactionID == "" || !left.Queued || left.PredictedAt.IsZero() {
		t.Fatalf("left the queue: %+v", left)
	}
	list, _ := b.allSettlements(t, 10)
	if len(list) != 1 || list[0].TransactionID != left.TransactionID || list[0].TrackID != "q-1" ||
		!list[0].Amount.Equal(left.Amount) || list[0].Queued {
		t.Errorf("the settlement it became: %+v", list)
	}
	if it := b.statement(t)[left.TransactionID]; it.StatusCode != -2 || !it.EffectiveAt.Equal(simNow.Add(2*time.Hour)) {
		t.Errorf("its statement item %+v: leaves the wallet when the queue releases it", it)
	}
	if _, err := b.client.QueuedSettlement(t.Context(), "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown queued settlement: %v", err)
	}
}

// sumItems adds a batch's item amounts.
func sumItems(b events.Batch) decimal.Decimal {
	total := decimal.Zero
	for _, it := range b.Items {
		total = total.Add(it.Amount)
	}
	return total
}

func TestBatchesAddUpOnACleanSimulatorAndNotWhenMisstated(t *testing.T) {
	t.Parallel()
	b := simSetup(t, vandartest.Options{})
	statement := b.statement(t)
	var batches []events.Batch
	for page := 1; ; page++ {
		p, err := b.client.Batches(t.Context(), page)
		if err != nil {
			t.Fatal(err)
		}
		batches = append(batches, p.Items...)
		if !p.HasMore {
			break
		}
	}
	truth := b.sim.Batches("acme")
	if len(batches) != len(truth) || len(batches) < 5 {
		t.Fatalf("%d batches read, the simulator has %d", len(batches), len(truth))
	}
	statuses := map[string]int{}
	for _, listed := range batches {
		full, _, err := b.client.BatchWithItems(t.Context(), listed)
		if err != nil {
			t.Fatal(err)
		}
		if !full.ItemsRead || len(full.Items) != full.TotalCount || !sumItems(full).Equal(full.TotalAmount) {
			t.Errorf("batch %s: %d items worth %s; it says %d worth %s", full.BatchID, len(full.Items),
				sumItems(full), full.TotalCount, full.TotalAmount)
		}
		counted, amounts := 0, decimal.Zero
		for st, n := range full.Counts {
			counted += n
			amounts = amounts.Add(full.Amounts[st])
		}
		if counted != full.TotalCount || !amounts.Equal(full.TotalAmount) {
			t.Errorf("batch %s: per-status %v %v don't add up", full.BatchID, full.Counts, full.Amounts)
		}
		for _, it := range full.Items {
			statuses[it.Status]++
			item, ok := statement[it.TransactionID]
			want := map[string]int{events.SettlementInit: -2, events.SettlementPending: -2, events.SettlementSubmitted: 2,
				events.SettlementFailed: -3, events.SettlementCanceled: -4}[it.Status]
			if !ok || item.StatusCode != want || !item.Amount.Equal(it.Amount) || item.TrackID != it.TrackID {
				t.Errorf("batch item %+v vs statement item %+v", it, item)
			}
		}
	}
	if statuses[events.SettlementSubmitted] == 0 || statuses[events.SettlementFailed]+statuses[events.SettlementCanceled] == 0 {
		t.Errorf("batch item statuses %v: want mixed outcomes", statuses)
	}

	// The knob: one batch's totals no longer match its items.
	target := truth[2].ID
	if err := b.sim.MisstateBatch("acme", target, 50_000); err != nil {
		t.Fatal(err)
	}
	got, _, err := b.client.Batch(t.Context(), target)
	if err != nil {
		t.Fatal(err)
	}
	if diff := got.TotalAmount.Sub(sumItems(got)); !diff.Equal(decimal.NewFromInt(50_000)) {
		t.Errorf("misstated batch: total %s, items %s", got.TotalAmount, sumItems(got))
	}
	if !strings.HasPrefix(string(got.Raw), `{"batch":{"batch_id":`) || !strings.Contains(string(got.Raw), `"items":[{`) {
		t.Errorf("raw %.200s", got.Raw)
	}
	if _, _, err := b.client.Batch(t.Context(), "no-such-batch"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown batch: %v", err)
	}
}

func TestBatchItemsPageEachItemOnce(t *testing.T) {
	t.Parallel()
	b := emptySim(t)
	b.add(t, vandartest.NewItem{Kind: vandartest.KindCashIn, Amount: 50_000_000, CreatedAt: simNow.Add(-time.Hour)})
	var items []vandartest.NewBatchItem
	for i := range 23 {
		items = append(items, vandartest.NewBatchItem{Amount: int64(10_000 * (i + 1))})
	}
	bt, err := b.sim.AddBatch("acme", vandartest.NewBatch{CreatedAt: simNow, Items: items})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for page := 1; ; page++ {
		p, err := b.client.BatchItems(t.Context(), bt.ID, page, 5)
		if err != nil {
			t.Fatal(err)
		}
		if p.Total != 23 || len(p.Raw) != len(p.Items) {
			t.Errorf("page %d: total %d, %d raws for %d items", page, p.Total, len(p.Raw), len(p.Items))
		}
		for _, it := range p.Items {
			if seen[it.ID] || it.Status != events.SettlementInit {
				t.Errorf("item %+v twice or not INIT", it)
			}
			seen[it.ID] = true
		}
		if !p.HasMore {
			break
		}
	}
	if len(seen) != 23 {
		t.Errorf("%d items read, want 23", len(seen))
	}
	full, _, err := b.client.Batch(t.Context(), bt.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !sumItems(full).Equal(decimal.NewFromInt(10_000*23*24/2)) || full.Counts["init"] != 23 || !full.CreatedAt.Equal(simNow) {
		t.Errorf("batch %+v", full)
	}
}

func TestPayoutFeedsRecoverFromFaultsAndRefreshTokens(t *testing.T) {
	t.Parallel()
	for _, f := range []vandartest.Fault{
		{Kind: vandartest.FaultStatus, Status: 502},
		{Kind: vandartest.FaultStatus, HTML: true},
		{Kind: vandartest.FaultTruncated},
		{Kind: vandartest.FaultHTML200},
		{Kind: vandartest.FaultReset},
		{Kind: vandartest.FaultTooManyRequests},
	} {
		t.Run(strconv.Itoa(int(f.Kind)), func(t *testing.T) {
			t.Parallel()
			b := simSetup(t, vandartest.Options{})
			for _, ep := range []vandartest.Endpoint{vandartest.EndpointSettlements, vandartest.EndpointBatches,
				vandartest.EndpointBatchItems, vandartest.EndpointQueued} {
				f.Endpoint = ep
				b.sim.Inject(f, 2)
			}
			if _, err := b.client.Settlements(t.Context(), 1, 10); err != nil {
				t.Fatal(err)
			}
			if _, err := b.client.QueuedSettlements(t.Context(), 1, 10); err != nil {
				t.Fatal(err)
			}
			p, err := b.client.Batches(t.Context(), 1)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := b.client.BatchWithItems(t.Context(), p.Items[0]); err != nil {
				t.Fatal(err)
			}
			if n := b.sim.Requests(vandartest.EndpointSettlements); n != 3 {
				t.Errorf("%d settlement list requests, want 3 (two faulted)", n)
			}
		})
	}
	t.Run("an expired access token is refreshed", func(t *testing.T) {
		t.Parallel()
		b := simSetup(t, vandartest.Options{})
		b.sim.ExpireAccessTokenNow()
		if _, err := b.client.Batches(t.Context(), 1); err != nil {
			t.Fatal(err)
		}
		if n := b.sim.Requests(vandartest.EndpointRefreshToken); n != 1 {
			t.Errorf("%d refreshes", n)
		}
	})
}

// What cannot be read is refused: a whole answer with an error, an item by quarantining it (Quarantined) for the
// feed to quarantine, with the reason naming the field.
func TestPayoutFeedsRefuseWhatTheyCannotRead(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body, want string
		call             func(c *Client) error
	}{
		{"a page other than the one asked for", `{"status":1,"data":{"settlements":{"data":[],"current_page":1,` +
			`"last_page":3}}}`, "asked for page 2, got page 1",
			func(c *Client) error { _, err := c.Settlements(context.Background(), 2, 10); return err }},
		{"a failure in the body of a 200", `{"status":0,"error":"خطا"}`, "body status",
			func(c *Client) error { _, err := c.Settlements(context.Background(), 1, 10); return err }},
		{"a batch list that is no list", `{"data":"none"}`, "field data",
			func(c *Client) error { _, err := c.Batches(context.Background(), 1); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *Config) { c.BatchURL = c.APIURL })
			b.vandar.setIntercept(func(w http.ResponseWriter, r *http.Request, n int) bool {
				writeJSON(w, 200, tc.body)
				return true
			})
			err := tc.call(b.client)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "GET /") {
				t.Fatalf("err = %v, want one naming the endpoint and %q", err, tc.want)
			}
			if n := b.vandar.requestCount(); n != 1 {
				t.Errorf("%d requests: a well-formed body that says something wrong is not retried", n)
			}
		})
	}
	// What one item says wrong costs that item, not the page: it comes back quarantined, naming the
	// endpoint, the item and the value, beside the items that could be read.
	for _, tc := range []struct {
		name, body, wantID, want string
		call                     func(c *Client) ([]events.Quarantined, int, error)
	}{
		{"an unknown settlement status", `{"status":1,"data":{"settlements":{"data":[{"id":"a","amount":5000,` +
			`"status":"REVERSED"},{"id":"b","amount":5000,"status":"DONE"}],"current_page":1,"last_page":1}}}`,
			"a", `"REVERSED"`,
			func(c *Client) ([]events.Quarantined, int, error) {
				p, err := c.Settlements(context.Background(), 1, 10)
				return p.Quarantined, len(p.Items), err
			}},
		{"an unknown batch item status", `{"data":[{"id":"i","amount":"5000","status":"LOST"},{"id":"j",` +
			`"amount":"5000","status":"FAILED"}],"meta":{"current_page":1,"last_page":1}}`, "i", `"LOST"`,
			func(c *Client) ([]events.Quarantined, int, error) {
				p, err := c.BatchItems(context.Background(), "b", 1, 10)
				return p.Quarantined, len(p.Items), err
			}},
		{"a batch whose totals disagree", `{"data":[{"batch_id":"x","status":{"total_count":1,"total_amount":1},` +
			`"total_amount":2},{"batch_id":"y","status":{"total_count":0},"total_amount":0}]}`, "x",
			"total_amount: 2, but status.total_amount is 1",
			func(c *Client) ([]events.Quarantined, int, error) {
				p, err := c.Batches(context.Background(), 1)
				return p.Quarantined, len(p.Items), err
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *Config) { c.BatchURL = c.APIURL })
			b.vandar.setIntercept(func(w http.ResponseWriter, r *http.Request, n int) bool {
				writeJSON(w, 200, tc.body)
				return true
			})
			qs, n, err := tc.call(b.client)
			if err != nil || n != 1 || len(qs) != 1 {
				t.Fatalf("%d items, %d quarantined, %v; want 1 and 1", n, len(qs), err)
			}
			q := qs[0]
			if q.ItemID != tc.wantID || !strings.Contains(q.Reason, tc.want) || !strings.HasPrefix(q.Endpoint, "GET /") ||
				q.Provider != events.ProviderVandar || q.Account != "acme" || !json.Valid(q.Raw) {
				t.Errorf("quarantined %+v, want item %s and a reason naming %q", q, tc.wantID, tc.want)
			}
		})
	}
	t.Run("a truncated body is retried, then reported", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *Config) { c.BatchURL = c.APIURL })
		b.vandar.setIntercept(func(w http.ResponseWriter, r *http.Request, n int) bool {
			writeJSON(w, 200, `{"data":[{"batch_id":"b","status":{"total_count":1`)
			return true
		})
		_, err := b.client.Batches(t.Context(), 1)
		if !errors.Is(err, ErrMalformedResponse) || !strings.Contains(err.Error(), "GET /api/v2/business/acme/batches") {
			t.Fatalf("err = %v", err)
		}
		if n := b.vandar.requestCount(); n != DefaultMaxRetries+1 {
			t.Errorf("%d requests, want %d", n, DefaultMaxRetries+1)
		}
	})
	t.Run("arguments are checked before anything is sent", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		for _, err := range []error{
			func() error { _, err := b.client.Settlements(t.Context(), 0, 10); return err }(),
			func() error { _, err := b.client.Settlements(t.Context(), 1, MaxPerPage+1); return err }(),
			func() error { _, err := b.client.Settlement(t.Context(), " "); return err }(),
			func() error { _, err := b.client.Batches(t.Context(), 0); return err }(),
			func() error { _, err := b.client.BatchItems(t.Context(), "", 1, 10); return err }(),
		} {
			if err == nil {
				t.Error("no error")
			}
		}
		if n := b.vandar.requestCount(); n != 0 {
			t.Errorf("%d requests sent", n)
		}
	})
}
