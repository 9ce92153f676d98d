package chaos

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
	"github.com/mizanhq/mizan/internal/sources/yabandpay/yabandpaytest"
)

// The truth: what the ledger must hold, computed from the simulators' own records with the posting rules as
// the documents state them (README "What a Vandar statement item posts", docs/accounts.md) — written here
// again, apart from internal/posting, so that a misreading of the rules cannot hide in both. The suite
// compares every entry (its key, its postings, its effective time) and every account mizan posted to with it.

// want is one entry the truth expects: its postings by account code, and its effective time (zero: not
// compared, where the time is the poller's and not the provider's).
type want struct {
	at   time.Time
	legs map[string]decimal.Decimal
}

// truth is the expected ledger: entries by idempotency key.
type truth struct {
	entries map[string]want
	// notAfter and notBefore bound entries whose time the provider does not give: the opening balance is not
	// after the first item, a payout's DONE not before the simulator paid it.
	notAfter, notBefore map[string]time.Time
}

func newTruth() *truth {
	return &truth{entries: map[string]want{}, notAfter: map[string]time.Time{}, notBefore: map[string]time.Time{}}
}

// post records an entry; legs of zero are left out (an entry moves only what it moves).
func (t *truth) post(key string, at time.Time, legs ...leg) {
	w := want{at: at, legs: map[string]decimal.Decimal{}}
	for _, l := range legs {
		if l.amount != 0 {
			w.legs[l.code] = w.legs[l.code].Add(decimal.NewFromInt(l.amount))
		}
	}
	t.entries[key] = w
}

type leg struct {
	code   string
	amount int64
}

// balances sums the entries per account: every account the truth posts to, with its balance.
func (t *truth) balances() map[string]decimal.Decimal {
	out := map[string]decimal.Decimal{}
	for _, w := range t.entries {
		for code, a := range w.legs {
			out[code] = out[code].Add(a)
		}
	}
	return out
}

// vandarAccounts are one business's account codes (docs/accounts.md).
type vandarAccounts struct{ biz string }

func (a vandarAccounts) code(name string) string { return "assets:vandar:" + a.biz + ":" + name }
func (a vandarAccounts) wallet() string          { return a.code("wallet") }
func (a vandarAccounts) transit() string         { return a.code("settlements_in_transit") }
func (a vandarAccounts) bank(iban string) string {
	return a.code("bank:" + iban)
}
func (a vandarAccounts) fees() string { return "expenses:vandar:" + a.biz + ":fees" }
func (a vandarAccounts) sales(channel string) string {
	return "income:vandar:" + a.biz + ":sales:" + channel
}
func (a vandarAccounts) refunds() string           { return "income:vandar:" + a.biz + ":refunds" }
func (a vandarAccounts) equity(name string) string { return "equity:vandar:" + a.biz + ":" + name }
func (a vandarAccounts) suspense() string          { return "liabilities:vandar:" + a.biz + ":suspense" }

// addVandar adds what one business's items imply: the opening balance, one entry per item that moved the
// wallet (posted reports, for a restated item, the amount mizan posted before the restatement: the ledger
// keeps what was posted), and one per payout paid.
func (t *truth) addVandar(biz string, opening int64, items []vandartest.Item, posted map[int64]int64) error {
	a := vandarAccounts{biz}
	byID := map[int64]vandartest.Item{}
	for _, it := range items {
		byID[it.ID] = it
	}
	var first time.Time
	for _, it := range items {
		if it.EffectiveAt.IsZero() {
			continue // never moved the wallet (a failed payment), or not yet
		}
		if first.IsZero() || it.EffectiveAt.Before(first) {
			first = it.EffectiveAt
		}
		amount := it.Amount
		if p, ok := posted[it.ID]; ok {
			amount = p
		}
		var counter string
		switch it.Kind {
		case vandartest.KindIPG, vandartest.KindForm, vandartest.KindSubscription:
			counter = a.sales(salesChannel(it.Channel))
		case vandartest.KindCashIn:
			counter = a.equity("cash_in")
		case vandartest.KindInternalDeposit, vandartest.KindInternalWithdrawal:
			counter = a.equity("internal_transfers")
		case vandartest.KindCorrection:
			counter = a.suspense()
		case vandartest.KindRefund:
			counter = a.refunds()
		case vandartest.KindSettlement:
			counter = a.transit()
		case vandartest.KindReturn:
			// Money back goes to where it left from: a refund's to refunds, a settlement's through transit.
			counter = a.transit()
			if byID[it.RevisedTransactionID].Kind == vandartest.KindRefund {
				counter = a.refunds()
			}
		default:
			return fmt.Errorf("%s: item %d of kind %q: the truth has no rule for it", biz, it.ID, it.Kind)
		}
		key := fmt.Sprintf("vandar:%s:statement:%d", biz, it.ID)
		if it.IsDeposit {
			t.post(key, it.EffectiveAt, leg{a.wallet(), amount - it.Wage}, leg{a.fees(), it.Wage}, leg{counter, -amount})
		} else {
			t.post(key, it.EffectiveAt, leg{a.wallet(), -(amount + it.Wage)}, leg{a.fees(), it.Wage}, leg{counter, amount})
		}
		if it.Kind == vandartest.KindSettlement && it.Status == vandartest.StatusSettlementDone {
			// Vandar reports no time a payout was paid, so mizan books it when it first sees it DONE: never
			// before the simulator paid it.
			done := fmt.Sprintf("vandar:%s:payout:%d:done", biz, it.ID)
			t.post(done, time.Time{}, leg{a.transit(), -amount}, leg{a.bank(it.IBAN), amount})
			t.notBefore[done] = it.ResolvedAt
		}
	}
	key := fmt.Sprintf("vandar:%s:opening:IRT", biz)
	t.post(key, time.Time{}, leg{a.wallet(), opening}, leg{a.equity("opening_balance"), -opening})
	t.notAfter[key] = first
	return nil
}

// salesChannel is the channel a payment's label names, as the documents write the labels (providers/README.md,
// facts.md §2.4: "پرداخت اینترنتی" the gateway, "فرم دریافت پول" the payment form); a label they do not name
// is income of channel other (docs/accounts.md), whatever the status code says.
func salesChannel(label string) string {
	switch label {
	case "پرداخت اینترنتی":
		return "ipg"
	case "فرم دریافت پول":
		return "form"
	}
	return "other"
}

// yabandPaySnapshot is the pseudo-key of a currency's first snapshot, whose key carries the poller's
// observation time: the ledger's earliest snapshot entry of the currency is compared with it.
func yabandPaySnapshot(user, cur string) string {
	return fmt.Sprintf("yabandpay:%s:snapshot:%s:", user, cur)
}

// addYabandPay adds a quiet merchant's balances: the first snapshot opens each figure against the opening
// balance, and nothing moves after it. The reserve is an account of its own only where the figures show it
// beside available (usable = available + reserve); where it is inside available it is no account
// (docs/accounts.md, "YabandPay's reserve").
func (t *truth) addYabandPay(user string, cur string, f yabandpaytest.Figures) {
	lc := strings.ToLower(cur)
	code := func(name string) string { return fmt.Sprintf("assets:yabandpay:%s:%s:%s", user, name, lc) }
	reserve := decimal.Zero
	if f.Usable.Equal(f.Available.Add(f.Reserve)) {
		reserve = f.Reserve
	}
	w := want{legs: map[string]decimal.Decimal{}}
	total := decimal.Zero
	for name, v := range map[string]decimal.Decimal{"wallet": f.Available, "reserve": reserve, "deposit": f.Deposit} {
		if !v.IsZero() {
			w.legs[code(name)] = v
			total = total.Add(v)
		}
	}
	if !total.IsZero() {
		w.legs[fmt.Sprintf("equity:yabandpay:%s:opening_balance:%s", user, lc)] = total.Neg()
	}
	t.entries[yabandPaySnapshot(user, cur)] = w
}

// got is the ledger as it is: entries by key with their postings and effective time.
type got struct {
	at   time.Time
	legs map[string]decimal.Decimal
}

// loadAccounts reads the code of every account of the ledger.
func (s *suite) loadAccounts(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT code FROM ledger.accounts`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// loadLedger reads every entry with its postings.
func (s *suite) loadLedger(ctx context.Context) (map[string]got, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT e.idempotency_key, e.effective_at, a.code, p.amount::text
		FROM ledger.entries e JOIN ledger.postings p ON p.entry_id = e.id JOIN ledger.accounts a ON a.id = p.account_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]got{}
	for rows.Next() {
		var key, code, amount string
		var at time.Time
		if err := rows.Scan(&key, &at, &code, &amount); err != nil {
			return nil, err
		}
		g, ok := out[key]
		if !ok {
			g = got{at: at, legs: map[string]decimal.Decimal{}}
		}
		g.legs[code] = g.legs[code].Add(decimal.RequireFromString(amount))
		out[key] = g
	}
	return out, rows.Err()
}

// ledgerCompare is what comparing the ledger with the truth found.
type ledgerCompare struct {
	Accounts, AccountsEqual int // accounts compared (the union of the ledger's and the truth's), and equal
	Entries, EntriesEqual   int // entries compared, and equal in postings and time
	Missing, Extra          []string
	Wrong, Times            []string
	AccountDiffs            []string
}

// compare compares the ledger's entries and account balances with the truth; accounts are every account
// of ledger.accounts (one without postings holds 0). Each YabandPay currency's earliest snapshot entry stands
// for the pseudo-key of its first snapshot.
func (t *truth) compare(ledger map[string]got, accounts []string) ledgerCompare {
	var c ledgerCompare
	// Map each currency's first snapshot to its pseudo-key.
	firstSnap := map[string]string{}
	for key, g := range ledger {
		if parts := strings.SplitN(key, ":", 5); len(parts) < 5 || parts[0] != "yabandpay" || parts[2] != "snapshot" {
			continue
		}
		parts := strings.SplitN(key, ":", 5) // yabandpay, user, snapshot, currency, observed at
		prefix := strings.Join(parts[:4], ":") + ":"
		if cur, ok := firstSnap[prefix]; !ok || g.at.Before(ledger[cur].at) || g.at.Equal(ledger[cur].at) && key < cur {
			firstSnap[prefix] = key
		}
	}
	renamed := map[string]got{}
	for key, g := range ledger {
		renamed[key] = g
	}
	for prefix, key := range firstSnap {
		renamed[prefix] = renamed[key]
		delete(renamed, key)
	}

	balances := map[string]decimal.Decimal{}
	for _, code := range accounts {
		balances[code] = decimal.Zero
	}
	for key, g := range renamed {
		for code, a := range g.legs {
			balances[code] = balances[code].Add(a)
		}
		w, ok := t.entries[key]
		if !ok {
			c.Extra = append(c.Extra, key)
			continue
		}
		c.Entries++
		equal := true
		if d := legsDiffer(w.legs, g.legs); d != "" {
			c.Wrong = append(c.Wrong, key+": "+d)
			equal = false
		}
		if !w.at.IsZero() && !w.at.Equal(g.at) {
			c.Times = append(c.Times, fmt.Sprintf("%s is effective at %s, the simulator's item at %s", key,
				g.at.UTC().Format(time.RFC3339), w.at.UTC().Format(time.RFC3339)))
			equal = false
		}
		if limit, ok := t.notAfter[key]; ok && !limit.IsZero() && g.at.After(limit) {
			c.Times = append(c.Times, fmt.Sprintf("%s is effective at %s, after the first item (%s)", key,
				g.at.UTC().Format(time.RFC3339), limit.UTC().Format(time.RFC3339)))
			equal = false
		}
		if limit, ok := t.notBefore[key]; ok && g.at.Before(limit) {
			c.Times = append(c.Times, fmt.Sprintf("%s is effective at %s, before the simulator's %s", key,
				g.at.UTC().Format(time.RFC3339), limit.UTC().Format(time.RFC3339)))
			equal = false
		}
		if equal {
			c.EntriesEqual++
		}
	}
	for key := range t.entries {
		if _, ok := renamed[key]; !ok {
			c.Missing = append(c.Missing, key)
		}
	}
	want := t.balances()
	codes := map[string]bool{}
	for code := range want {
		codes[code] = true
	}
	for code := range balances {
		codes[code] = true
	}
	for code := range codes {
		c.Accounts++
		w, inTruth := want[code]
		g, inLedger := balances[code]
		switch {
		case !inLedger:
			c.AccountDiffs = append(c.AccountDiffs, fmt.Sprintf("%s: the truth holds %s, mizan never posted to it", code, w))
		case !inTruth:
			c.AccountDiffs = append(c.AccountDiffs, fmt.Sprintf("%s: the ledger holds %s, the truth has no such account", code, g))
		case !w.Equal(g):
			c.AccountDiffs = append(c.AccountDiffs, fmt.Sprintf("%s: the ledger holds %s, the simulator's records imply %s (difference %s)",
				code, g, w, g.Sub(w)))
		default:
			c.AccountsEqual++
		}
	}
	for _, xs := range [][]string{c.Missing, c.Extra, c.Wrong, c.Times, c.AccountDiffs} {
		sort.Strings(xs)
	}
	return c
}

// legsDiffer describes how two entries' postings differ ("" if they do not).
func legsDiffer(want, got map[string]decimal.Decimal) string {
	var d []string
	for code, w := range want {
		if g, ok := got[code]; !ok || !g.Equal(w) {
			d = append(d, fmt.Sprintf("%s %s (want %s)", code, got[code], w))
		}
	}
	for code, g := range got {
		if _, ok := want[code]; !ok {
			d = append(d, fmt.Sprintf("%s %s (want no posting)", code, g))
		}
	}
	sort.Strings(d)
	return strings.Join(d, ", ")
}
