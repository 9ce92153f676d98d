package apply

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/alerts"
	"github.com/mizanhq/mizan/internal/apply/applydb"
	"github.com/mizanhq/mizan/internal/checks"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/ledger"
	"github.com/mizanhq/mizan/internal/posting"
)

// checkItems runs the statement checks on a batch's new items: the running balance on items the ledger posted
// now, the changed-item check on items it had posted before — in an earlier batch, or from an earlier report
// in this one (posted maps each key posted now to the item that posted it).
func (a *Applier) checkItems(ctx context.Context, tx pgx.Tx, items []itemEvent, posted map[string]int) ([]checks.Result, error) {
	if len(items) == 0 {
		return nil, nil
	}
	var subjects, keys []string
	for _, ie := range items {
		if !ie.item.MovedWallet {
			continue
		}
		subjects = append(subjects, checks.WalletSubject(ie.item.Provider, ie.item.Account, ie.item.Currency))
		if k := posting.StatementKey(ie.item); !postedNow(posted, k) {
			keys = append(keys, k)
		}
	}
	q := applydb.New(tx)
	state := map[string]*checks.LastReported{}
	last, err := q.LockRunningBalances(ctx, subjects)
	if err != nil {
		return nil, fmt.Errorf("load running balances: %w", err)
	}
	for _, row := range last {
		state[row.Subject] = &checks.LastReported{ItemID: row.LastItemID, Wallet: row.LastWallet}
	}
	earlier := map[string]checks.Posted{}
	posts, err := q.PostedItems(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("load posted items: %w", err)
	}
	for _, row := range posts {
		earlier[row.IdempotencyKey] = checks.Posted{Amount: row.Amount, Fee: row.Fee, Direction: row.Direction}
	}

	var results []checks.Result
	changed := map[string]bool{}
	okChains := map[string]*checks.Result{}
	var chainOrder []string
	for i, ie := range items {
		it := ie.item
		if !it.MovedWallet {
			continue
		}
		subject := checks.WalletSubject(it.Provider, it.Account, it.Currency)
		net := posting.NetEffect(it)
		key := posting.StatementKey(it)
		if by, ok := posted[key]; ok && by != i {
			// Restated within the batch: what the batch posted is what a later batch would find in the ledger.
			f := items[by].item
			earlier[key] = checks.Posted{Amount: f.Amount, Fee: f.Fee, Direction: f.Direction}
		}
		if by, ok := posted[key]; ok && by == i {
			res := checks.RunningBalance(state[subject], it, net)
			res.EventID = ie.eventID
			if res.Outcome == checks.OK {
				// Items that continue the chain are recorded as one evaluation per wallet and batch (its window
				// runs from the first to the last item); a break is a row of its own.
				agg := okChains[subject]
				if agg == nil {
					agg = &checks.Result{Check: res.Check, Subject: subject, Outcome: checks.OK, WindowStart: it.EffectiveAt,
						EventID: ie.eventID, Details: map[string]any{"first_item_id": it.ItemID}}
					okChains[subject] = agg
					chainOrder = append(chainOrder, subject)
				}
				agg.WindowEnd = it.EffectiveAt
				agg.Details["last_item_id"] = it.ItemID
				agg.Details["items"] = toInt(agg.Details["items"]) + 1
				if it.WalletAfter != nil {
					w := *it.WalletAfter
					agg.Actual, agg.Expected = &w, &w
				}
			} else {
				results = append(results, reported(res, ie.published))
			}
			if it.WalletAfter != nil {
				state[subject] = &checks.LastReported{ItemID: it.ItemID, Wallet: *it.WalletAfter}
				changed[subject] = true
			}
			continue
		}
		if p, ok := earlier[key]; ok {
			old := posting.NetEffect(events.StatementItem{MovedWallet: true, Direction: p.Direction, Amount: p.Amount, Fee: p.Fee})
			res := checks.ChangedItem(p, it, old, net)
			res.EventID = ie.eventID
			results = append(results, reported(res, ie.published))
		}
		// The provider restating the running balance of the last item checked (after changing an earlier item)
		// moves the comparison point, so the next new item is compared with what the provider says now.
		if lr := state[subject]; lr != nil && lr.ItemID == it.ItemID && it.WalletAfter != nil && !lr.Wallet.Equal(*it.WalletAfter) {
			lr.Wallet = *it.WalletAfter
			changed[subject] = true
		}
	}
	for _, subject := range chainOrder {
		results = append(results, *okChains[subject])
	}
	// One statement for every wallet the batch moved, not a round trip each.
	var movedSubjects, itemIDs []string
	var wallets []decimal.Decimal
	for subject := range changed {
		movedSubjects = append(movedSubjects, subject)
		itemIDs = append(itemIDs, state[subject].ItemID)
		wallets = append(wallets, state[subject].Wallet)
	}
	if len(movedSubjects) > 0 {
		if err := q.StoreRunningBalances(ctx, applydb.StoreRunningBalancesParams{Subjects: movedSubjects,
			ItemIds: itemIDs, Wallets: wallets}); err != nil {
			return nil, fmt.Errorf("store %d running balances: %w", len(movedSubjects), err)
		}
	}
	return results, nil
}

// checkDueBalances runs the balance check on every reported balance of the batch's accounts (providers[i],
// accounts[i]) whose statement has caught up with it: the statement watermark has passed the observation
// time, and the event the watermark vouches for has been applied (so everything before it on its partition
// has too). Others wait for a later batch. Only the batch's accounts: what makes a balance due (its
// watermark, the event it vouches for) is always a fact of the same account, and a scan of every account
// would make concurrent workers wait for and deadlock with each other on the observations they lock.
//
// Which balances: those of accounts a running-balance statement builds — the join on the statement watermark
// says so, whatever the provider. A snapshot of a provider without a statement has no such watermark (and
// applySnapshots has already checked it); it is never compared with a wallet it does not build.
func (a *Applier) checkDueBalances(ctx context.Context, tx pgx.Tx, providers, accounts []string) ([]checks.Result, error) {
	if len(providers) == 0 {
		return nil, nil
	}
	q := applydb.New(tx)
	todo, err := q.DueBalances(ctx, applydb.DueBalancesParams{Providers: providers, Accounts: accounts})
	if err != nil {
		return nil, fmt.Errorf("find balances due for checking: %w", err)
	}
	var results []checks.Result
	for _, d := range todo {
		b := events.Balance{Provider: d.Provider, Account: d.Account, Currency: d.Currency, Amount: d.Amount,
			ObservedAt: d.ObservedAt}
		wallet := posting.Wallet(b.Provider, b.Account, b.Currency)
		ledgerBal, err := ledger.BalanceAt(ctx, tx, wallet.Code, b.ObservedAt)
		if errors.Is(err, ledger.ErrUnknownAccount) {
			ledgerBal, err = decimal.Zero, nil // a wallet the ledger has never posted to holds nothing in it
		}
		if err != nil {
			return nil, err
		}
		subject := checks.WalletSubject(b.Provider, b.Account, b.Currency)
		explained, err := alerts.Explained(ctx, tx, subject, b.Provider+"/"+b.Account+"/item/")
		if err != nil {
			return nil, err
		}
		// The statement poll that covered this observation must itself be recent, or the comparison is with
		// data nobody vouches for.
		stale := b.ObservedAt.Sub(d.PolledAt) > a.cfg.StaleAfter
		res := checks.Balance(b, ledgerBal, d.Through, explained, a.cfg.BalanceTolerance, stale)
		res.EventID = d.EventID
		results = append(results, res)
		if err := q.MarkBalanceChecked(ctx, d.EventID); err != nil {
			return nil, err
		}
	}
	return results, nil
}

// Periodic runs, inside tx, the checks that time alone can fail: feeds gone stale, settlements stuck past
// their prediction, failed settlements whose money has not come back, bank statements that stopped coming —
// and, again, the bank's checks, which judge by the statements, not the clock (a payout missing its credit, a
// credit no payout explains).
func (a *Applier) Periodic(ctx context.Context, tx pgx.Tx) (Result, error) {
	now := a.now()
	var results []checks.Result
	// One staleness verdict per source: a source that stops polling is one alert, whatever its feeds.
	polled, err := applydb.New(tx).SourcesLastPolled(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("read watermarks: %w", err)
	}
	for _, p := range polled {
		results = append(results, checks.Staleness(p.Provider, p.Account, p.PolledAt, now, a.cfg.StaleAfter))
	}
	settlements, err := openSettlements(ctx, tx)
	if err != nil {
		return Result{}, err
	}
	for _, s := range settlements {
		asOf, err := a.settlementAsOf(ctx, tx, s.Provider, s.Account, s.Status, s.lastSeen)
		if err != nil {
			return Result{}, err
		}
		results = append(results, checks.Settlement(s.Settlement, asOf, a.cfg.SettlementGrace, s.returned))
	}
	matched, err := a.periodicMatching(ctx, tx)
	if err != nil {
		return Result{}, err
	}
	results = append(results, matched...)
	judged, err := a.judgeBank(ctx, tx, nil)
	if err != nil {
		return Result{}, err
	}
	results = append(results, judged...)
	stale, err := a.bankStaleness(ctx, tx, now)
	if err != nil {
		return Result{}, err
	}
	results = append(results, stale...)
	opened, err := alerts.Record(ctx, tx, results)
	return Result{Opened: opened, Outcomes: results}, err
}

type knownSettlement struct {
	events.Settlement
	returned bool
	lastSeen time.Time
}

// openSettlements are the settlements not yet done and not yet returned.
func openSettlements(ctx context.Context, tx pgx.Tx) ([]knownSettlement, error) {
	rows, err := applydb.New(tx).OpenSettlements(ctx)
	if err != nil {
		return nil, fmt.Errorf("read open settlements: %w", err)
	}
	out := make([]knownSettlement, 0, len(rows))
	for _, r := range rows {
		s := knownSettlement{Settlement: events.Settlement{Provider: r.Provider, Account: r.Account,
			SettlementID: r.SettlementID, TransactionID: r.TransactionID, TrackID: r.TrackID, Status: r.Status,
			Amount: r.Amount, Fee: r.Fee, Currency: r.Currency, IBAN: r.Iban, CreatedAt: r.CreatedAt,
			ObservedAt: r.StatusSince}, returned: r.Returned, lastSeen: r.LastSeenAt}
		if r.PredictedAt != nil {
			s.PredictedAt = *r.PredictedAt
		}
		out = append(out, s)
	}
	return out, nil
}

// postedNow reports whether key was posted by this batch.
func postedNow(posted map[string]int, key string) bool {
	_, ok := posted[key]
	return ok
}

func toInt(v any) int {
	n, _ := v.(int)
	return n
}

// reported records in a mismatch when its report reached mizan (checks.ReportedAt), so that a balance the
// provider gave before it cannot resolve the alert (checks.Result.ResolvesBefore).
func reported(r checks.Result, published time.Time) checks.Result {
	if r.Outcome == checks.OK || published.IsZero() {
		return r
	}
	if r.Details == nil {
		r.Details = map[string]any{}
	}
	r.Details[checks.ReportedAt] = published.UTC()
	return r
}
