// Package apply turns facts into the ledger and the checks' state: given the new facts of a batch and the
// batch's transaction, it posts the entries their posting rules imply, records what the checks need to
// remember (running balances, settlements, balance observations, watermarks), runs the checks and records
// their alerts — all in that one transaction.
//
// It knows nothing of Kafka: which facts are new (exactly once in effect), batching, retries and dead letters
// are the reconciler's business. What a fact is decides what is done with it.
package apply

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mizanhq/mizan/internal/alerts"
	"github.com/mizanhq/mizan/internal/apply/applydb"
	"github.com/mizanhq/mizan/internal/checks"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/ledger"
	"github.com/mizanhq/mizan/internal/matching"
	"github.com/mizanhq/mizan/internal/posting"
)

// Fact is one event's decoded payload, new to the ledger: one of the fact types of package events.
type Fact struct {
	EventID string
	// Published is when the poller published the fact (its Kafka record's time); zero where unknown. A
	// restated item's alert records it, so that only a balance observed after it can resolve the alert.
	Published time.Time
	Value     any // events.StatementItem, events.Balance, events.Watermark, events.Settlement, events.Batch, events.Expectation or events.Quarantined
}

// FactError is an error that one fact's own content causes: applying it again fails the same way. The caller
// sets the fact aside (a dead letter) and applies the rest.
type FactError struct {
	EventID string
	Err     error
}

func (e *FactError) Error() string { return fmt.Sprintf("event %s: %v", e.EventID, e.Err) }

// Unwrap returns the cause.
func (e *FactError) Unwrap() error { return e.Err }

// Applier applies facts. It is safe for use by one goroutine at a time per transaction.
type Applier struct {
	cfg     checks.Config
	now     func() time.Time
	matcher *matching.Matcher
}

// New returns an Applier with the checks' settings (defaults applied) and the clock of the time-driven
// checks (time.Now if nil).
func New(cfg checks.Config, now func() time.Time) *Applier {
	if now == nil {
		now = time.Now
	}
	return &Applier{cfg: cfg.WithDefaults(), now: now, matcher: matching.New(matching.Config{})}
}

// Result is what one Apply or Periodic did inside its transaction; the caller counts it once that commits.
type Result struct {
	Opened   int             // alerts opened
	Entries  int             // ledger entries posted
	Outcomes []checks.Result // every check evaluation
}

// Apply applies facts, in order, inside tx. Every fact must be new: the caller has recorded its event id in
// the same transaction and skipped the ones seen before.
func (a *Applier) Apply(ctx context.Context, tx pgx.Tx, facts []Fact) (Result, error) {
	var res Result
	var items []itemEvent
	var marks []events.Watermark
	var balances []balanceEvent
	var settlements []settlementEvent
	var batches []batchEvent
	var exps []expectationEvent
	var quarantined []quarantinedEvent
	var bank []bankFact
	for _, f := range facts {
		switch v := f.Value.(type) {
		case events.StatementItem:
			items = append(items, itemEvent{v, events.ReadRaw(v.Raw), f.EventID, f.Published})
		case events.Watermark:
			marks = append(marks, v)
		case events.Balance:
			balances = append(balances, balanceEvent{v, f.EventID})
		case events.Settlement:
			settlements = append(settlements, settlementEvent{v, f.EventID})
		case events.Batch:
			batches = append(batches, batchEvent{v, f.EventID})
		case events.Expectation:
			exps = append(exps, expectationEvent{v, f.EventID})
		case events.Quarantined:
			quarantined = append(quarantined, quarantinedEvent{v, f.EventID})
		case events.BankLine:
			bank = append(bank, bankFact{line: &v, eventID: f.EventID})
		case events.BankBalance:
			bank = append(bank, bankFact{balance: &v, eventID: f.EventID})
		default:
			return res, &FactError{EventID: f.EventID, Err: fmt.Errorf("no rule applies a %T", f.Value)}
		}
	}
	// The bank accounts first, in order, before any ledger lock: see bank.go.
	if err := lockBanks(ctx, tx, bankIBANs(facts)); err != nil {
		return res, err
	}
	// Then the payouts, for a settlement and its return applied at once (payoutlock.go).
	if err := lockPayouts(ctx, tx, payoutLocks(facts)); err != nil {
		return res, err
	}
	touched := map[string]bool{} // bank accounts whose payouts or statements this batch moved
	posted, err := a.postItems(ctx, tx, items, &res)
	if err != nil {
		return res, err
	}
	results, err := a.checkItems(ctx, tx, items, posted)
	if err != nil {
		return res, err
	}
	returned, err := a.markReturns(ctx, tx, items)
	if err != nil {
		return res, err
	}
	results = append(results, returned...)
	settled, err := a.applySettlements(ctx, tx, settlements, touched, &res)
	if err != nil {
		return res, err
	}
	results = append(results, settled...)
	set, err := a.applyQuarantined(ctx, tx, quarantined)
	if err != nil {
		return res, err
	}
	results = append(results, set...)
	var paid []ledger.Entry
	paidTimes := map[string]payoutTimes{}
	for _, b := range batches {
		r := checks.Batch(b.batch)
		r.EventID = b.eventID
		results = append(results, r)
		for _, f := range checks.FailedBatchItems(b.batch) {
			f.EventID = b.eventID
			results = append(results, f)
		}
		for _, e := range posting.BatchItemsDone(b.batch, b.eventID) {
			paid = append(paid, e)
			paidTimes[e.IdempotencyKey] = payoutTimes{paidAt: b.batch.ObservedAt, created: b.batch.CreatedAt}
		}
	}
	if paid, err = unreturned(ctx, tx, paid); err != nil {
		return res, err
	}
	paid, waiting, err := awaitBank(ctx, tx, paid, paidTimes)
	if err != nil {
		return res, err
	}
	if len(paid) > 0 {
		lr, err := ledger.Apply(ctx, tx, paid)
		if err != nil {
			return res, fmt.Errorf("post %d paid batch items: %w", len(paid), err)
		}
		res.Entries += len(lr.Posted)
		if err := a.recordBankPayouts(ctx, tx, waiting, lr.Posted, touched); err != nil {
			return res, err
		}
	}
	banked, err := a.applyBank(ctx, tx, bank, touched, &res)
	if err != nil {
		return res, err
	}
	results = append(results, banked...)
	if err := storeWatermarks(ctx, tx, marks); err != nil {
		return res, err
	}
	for _, w := range marks {
		for _, id := range w.Duplicates {
			r := checks.Duplicate(w.Provider, w.Account, id, w.PolledAt)
			r.EventID = w.LastEvent
			results = append(results, r)
		}
	}
	matched, err := a.match(ctx, tx, items, exps, marks)
	if err != nil {
		return res, err
	}
	results = append(results, matched...)
	ibans := make([]string, 0, len(touched))
	for iban := range touched {
		ibans = append(ibans, iban)
	}
	slices.Sort(ibans)
	credited, err := a.matchBank(ctx, tx, ibans, &res)
	if err != nil {
		return res, err
	}
	results = append(results, credited...)
	// A payout feed's watermark moving may make a credit unexplained at last: judge every bank account then.
	judge := ibans
	if slices.ContainsFunc(marks, func(w events.Watermark) bool {
		return w.Feed == events.FeedSettlements || w.Feed == events.FeedBatches
	}) {
		judge = nil
	}
	if len(ibans) > 0 || judge == nil {
		judged, err := a.judgeBank(ctx, tx, judge)
		if err != nil {
			return res, err
		}
		results = append(results, judged...)
	}
	if err := storeBalances(ctx, tx, balances); err != nil {
		return res, err
	}
	snapshots, err := a.applySnapshots(ctx, tx, balances, &res)
	if err != nil {
		return res, err
	}
	results = append(results, snapshots...)
	// The item checks' alerts go in first: the balance check asks which differences they already explain.
	n, err := alerts.Record(ctx, tx, results)
	if err != nil {
		return res, err
	}
	providers, accounts := factKeys(facts)
	due, err := a.checkDueBalances(ctx, tx, providers, accounts)
	if err != nil {
		return res, err
	}
	m, err := alerts.Record(ctx, tx, due)
	res.Opened = n + m
	res.Outcomes = append(results, due...)
	return res, err
}

type itemEvent struct {
	item events.StatementItem
	// raw is item.Raw read once, for both its readers: the posting rule and matching.
	raw       events.RawFields
	eventID   string
	published time.Time
}

type balanceEvent struct {
	bal     events.Balance
	eventID string
}

// postItems posts the wallet movements of statement items, opening each wallet first if its history starts
// before what mizan reads. It returns, for each idempotency key the ledger posted now, the position in items
// of the item that posted it (the others it had already).
//
// An item reported more than once in one batch (pending then succeeded, a fee corrected) posts once, from its
// first report that moved the wallet, exactly as if the reports had come in separate batches: checkItems then
// checks each later report as a restatement of the first.
func (a *Applier) postItems(ctx context.Context, tx pgx.Tx, items []itemEvent, res *Result) (map[string]int, error) {
	if len(items) == 0 {
		return nil, nil
	}
	var wallets []string
	seen := map[string]bool{}
	for _, ie := range items {
		code := posting.Wallet(ie.item.Provider, ie.item.Account, ie.item.Currency).Code
		if !seen[code] { // a batch is mostly one or a few hot wallets: ask once each
			seen[code] = true
			wallets = append(wallets, code)
		}
	}
	opened, err := applydb.New(tx).OpenedWallets(ctx, wallets)
	if err != nil {
		return nil, fmt.Errorf("find opened wallets: %w", err)
	}
	isOpen := map[string]bool{}
	for _, code := range opened {
		isOpen[code] = true
	}
	rets, err := returnContexts(ctx, tx, items)
	if err != nil {
		return nil, err
	}
	var entries []ledger.Entry
	first := map[string]int{} // an item's key → the item that posts it
	for i, ie := range items {
		key := posting.StatementKey(ie.item)
		es, err := posting.StatementEntries(ie.item, ie.raw, ie.eventID, rets[key])
		if err != nil {
			return nil, &FactError{EventID: ie.eventID, Err: err}
		}
		if len(es) == 0 {
			continue
		}
		if _, restated := first[key]; restated {
			continue
		}
		first[key] = i
		wallet := posting.Wallet(ie.item.Provider, ie.item.Account, ie.item.Currency).Code
		if !isOpen[wallet] {
			isOpen[wallet] = true
			if opening, ok := posting.Opening(ie.item); ok {
				entries = append(entries, opening)
			}
		}
		entries = append(entries, es...)
	}
	if len(entries) == 0 {
		return nil, nil
	}
	lr, err := ledger.Apply(ctx, tx, entries)
	if err != nil {
		return nil, fmt.Errorf("post %d entries: %w", len(entries), err)
	}
	res.Entries += len(lr.Posted)
	posted := make(map[string]int, len(lr.Posted))
	for _, k := range lr.Posted {
		if i, ok := first[k]; ok { // an opening entry is no item's
			posted[k] = i
		}
	}
	return posted, nil
}

// factKeys are the provider accounts facts are about (the Kafka keys they travel under), as two parallel
// lists: the checks that look beyond the facts themselves look only at these accounts, so that batches of
// other accounts, applied at the same time by other workers, neither wait for nor deadlock with this one.
func factKeys(facts []Fact) (providers, accounts []string) {
	seen := map[[2]string]bool{}
	for _, f := range facts {
		var k [2]string
		switch v := f.Value.(type) {
		case events.StatementItem:
			k = [2]string{v.Provider, v.Account}
		case events.Balance:
			k = [2]string{v.Provider, v.Account}
		case events.Watermark:
			k = [2]string{v.Provider, v.Account}
		case events.Settlement:
			k = [2]string{v.Provider, v.Account}
		case events.Batch:
			k = [2]string{v.Provider, v.Account}
		default:
			continue
		}
		if !seen[k] {
			seen[k] = true
			providers, accounts = append(providers, k[0]), append(accounts, k[1])
		}
	}
	return providers, accounts
}

// storeWatermarks keeps, per (provider, account, feed), the furthest watermark seen.
func storeWatermarks(ctx context.Context, tx pgx.Tx, marks []events.Watermark) error {
	q := applydb.New(tx)
	for _, w := range marks {
		err := q.StoreWatermark(ctx, applydb.StoreWatermarkParams{Provider: w.Provider, Account: w.Account, Feed: w.Feed,
			Source: w.Source, Through: w.Through, LastEvent: w.LastEvent, PolledAt: w.PolledAt})
		if err != nil {
			return fmt.Errorf("store watermark %s/%s/%s: %w", w.Provider, w.Account, w.Feed, err)
		}
	}
	return nil
}

// storeBalances records each balance a provider reported, as reported.
func storeBalances(ctx context.Context, tx pgx.Tx, bals []balanceEvent) error {
	q := applydb.New(tx)
	for _, b := range bals {
		var figures []byte // none: NULL, not a JSON null
		if b.bal.Figures != nil {
			var err error
			if figures, err = json.Marshal(b.bal.Figures); err != nil {
				return fmt.Errorf("store balance %s/%s/%s: figures: %w", b.bal.Provider, b.bal.Account, b.bal.Currency, err)
			}
		}
		err := q.StoreBalance(ctx, applydb.StoreBalanceParams{EventID: b.eventID, Provider: b.bal.Provider,
			Account: b.bal.Account, Currency: b.bal.Currency, Amount: b.bal.Amount, Figures: figures,
			ObservedAt: b.bal.ObservedAt})
		if err != nil {
			return fmt.Errorf("store balance %s/%s/%s: %w", b.bal.Provider, b.bal.Account, b.bal.Currency, err)
		}
	}
	return nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
