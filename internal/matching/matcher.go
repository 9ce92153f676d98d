package matching

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/checks"
	"github.com/mizanhq/mizan/internal/events"
)

// Origins of an expectation.
const (
	OriginKafka = "kafka"
	OriginCSV   = "csv"
)

// Stated is an expectation as received: from an event (EventID set) or a CSV import.
type Stated struct {
	events.Expectation
	EventID string
	Origin  string // OriginKafka or OriginCSV
}

// Item is a statement item as received, with the id of the event that carried it.
type Item struct {
	events.StatementItem
	EventID string
	// RawFields is the item's Raw as events.ReadRaw read it, when the caller has read it already (for the
	// posting rule); nil: read here.
	RawFields *events.RawFields
}

// Matcher records expectations and provider lines and matches them. It holds only its configuration: all state
// is in the database, so any number of reconcilers may run it, one transaction at a time per account (it
// takes an advisory lock per account).
type Matcher struct {
	cfg Config
}

// New returns a Matcher with the configuration (defaults for whatever it leaves zero).
func New(cfg Config) *Matcher { return &Matcher{cfg: cfg} }

// maxGroupRounds bounds the search for everything that shares references with what arrived. Each round
// follows one more step of references (a payout's track id to a line, the line's payment number to another
// expectation, …); real groups close in two.
const maxGroupRounds = 16

// ErrGroupTooLarge is returned when the references of what arrived chain through more expectations and lines
// than matching follows: data the same input would fail on again, to be set aside, not retried.
var ErrGroupTooLarge = errors.New("matching: a reference shared far too widely")

// dueLimit bounds how many expectations one deadline pass judges per account; the rest wait for the next pass
// (the first watermark over a long history can make thousands due at once).
const dueLimit = 5000

// Record records, inside tx, the expectations and statement items of one batch, and matches everything they
// touch. marks are the batch's watermarks: an account whose statement moved has its deadlines judged on
// arrival. now is the reconciler's clock (when a line was first seen, a match made). It returns the alerts to
// open and resolve, for alerts.Record in the same transaction.
func (m *Matcher) Record(ctx context.Context, tx pgx.Tx, exps []Stated, items []Item, marks []events.Watermark,
	now time.Time) ([]checks.Result, error) {
	results, _, err := m.record(ctx, tx, exps, items, marks, now)
	return results, err
}

// record is Record that also says how many expectations changed.
func (m *Matcher) record(ctx context.Context, tx pgx.Tx, exps []Stated, items []Item, marks []events.Watermark,
	now time.Time) ([]checks.Result, int, error) {
	if m.cfg.Disabled {
		return nil, 0, nil
	}
	type lineIn struct {
		Line
		provider, account, eventID string
	}
	var lines []lineIn
	var accts []account
	for _, it := range items {
		raw := it.RawFields
		if raw == nil {
			read := events.ReadRaw(it.Raw)
			raw = &read
		}
		if l, ok := LineOf(it.StatementItem, *raw, now); ok {
			lines = append(lines, lineIn{l, it.Provider, it.Account, it.EventID})
			accts = append(accts, account{it.Provider, it.Account})
		}
	}
	for _, x := range exps {
		accts = append(accts, account{x.Provider, x.Account})
	}
	var moved []account
	for _, w := range marks {
		if w.Feed == events.FeedStatement {
			moved = append(moved, account{w.Provider, w.Account})
		}
	}
	if len(lines) == 0 && len(exps) == 0 && len(moved) == 0 {
		return nil, 0, nil
	}
	if err := lockAccounts(ctx, tx, append(accts, moved...)); err != nil {
		return nil, 0, err
	}

	var seedExps []expKey
	var seedLines []lineKey
	if len(exps) > 0 {
		// One row per expectation: the last statement of it in the batch wins, as it would one batch later.
		last := map[expKey]int{}
		for i, x := range exps {
			last[expKey{x.Provider, x.Account, x.ExpectationID}] = i
		}
		var p, a, id, kind, fn, tr, pn, pi, cur, st, orig, ev []string
		var refs []string
		var amounts []decimal.Decimal
		var by []time.Time
		for i, x := range exps {
			if last[expKey{x.Provider, x.Account, x.ExpectationID}] != i {
				continue
			}
			r, err := json.Marshal(x.Reference)
			if err != nil {
				return nil, 0, err
			}
			p, a, id, kind = append(p, x.Provider), append(a, x.Account), append(id, x.ExpectationID), append(kind, x.Kind)
			fn, tr = append(fn, x.Reference.FactorNumber), append(tr, x.Reference.TrackID)
			pn, pi = append(pn, x.Reference.PaymentNumber), append(pi, x.Reference.PaymentItemID)
			refs, amounts, cur, by = append(refs, string(r)), append(amounts, x.Amount), append(cur, x.Currency), append(by, x.ExpectedBy)
			st, orig, ev = append(st, x.Status), append(orig, x.Origin), append(ev, x.EventID)
		}
		changed, err := keysReturned(tx.Query(ctx, query("upsert_expectations"), p, a, id, kind, refs, fn, tr, pn, pi,
			amounts, cur, by, st, orig, ev, now))
		if err != nil {
			return nil, 0, fmt.Errorf("record %d expectations: %w", len(p), err)
		}
		for _, k := range changed {
			seedExps = append(seedExps, expKey{k[0], k[1], k[2]})
		}
		if _, err := tx.Exec(ctx, query("record_kinds"), p, a, kind, now); err != nil {
			return nil, 0, fmt.Errorf("record expectation kinds: %w", err)
		}
	}
	if len(lines) > 0 {
		last := map[lineKey]int{}
		for i, l := range lines {
			last[lineKey{l.provider, l.account, l.ItemID}] = i
		}
		var p, a, id, kind, st, cur, fn, tr, pn, pi, ev []string
		var amounts, fees []decimal.Decimal
		var at []time.Time
		var insert []bool
		for i, l := range lines {
			if last[lineKey{l.provider, l.account, l.ItemID}] != i {
				continue
			}
			p, a, id, kind, st = append(p, l.provider), append(a, l.account), append(id, l.ItemID), append(kind, l.Kind), append(st, l.State)
			amounts, fees, cur, at = append(amounts, l.Amount), append(fees, l.Fee), append(cur, l.Currency), append(at, l.At)
			fn, tr, pn, pi = append(fn, l.Refs.FactorNumber), append(tr, l.Refs.TrackID), append(pn, l.Refs.PaymentNumber), append(pi, l.Refs.PaymentItemID)
			ev, insert = append(ev, l.eventID), append(insert, l.State != LineVoid)
		}
		var rp, ra, ri, pp, pa, pid []string
		for i := range p {
			switch kind[i] {
			case events.ExpectRefund:
				rp, ra, ri = append(rp, p[i]), append(ra, a[i]), append(ri, id[i])
			case events.ExpectPayment:
				pp, pa, pid = append(pp, p[i]), append(pa, a[i]), append(pid, id[i])
			}
		}
		// One round trip for the lines: recorded, their refunds' references completed, and which of their
		// accounts have expectations (withExpectations), in this order on the server.
		var b pgx.Batch
		b.Queue(query("upsert_lines"), p, a, id, kind, st, amounts, fees, cur, at, fn, tr, pn, pi, ev, insert, now)
		fixes := 0
		for _, fix := range []struct {
			name    string
			p, a, i []string
		}{{"refund_factors_of_refunds", rp, ra, ri}, {"refund_factors_of_payments", pp, pa, pid}} {
			if len(fix.i) > 0 {
				b.Queue(query(fix.name), fix.p, fix.a, fix.i)
				fixes++
			}
		}
		mp, ma := distinctAccounts(p, a)
		b.Queue(query("accounts_matched"), mp, ma)
		res := tx.SendBatch(ctx, &b)
		changed, err := keysReturned(res.Query())
		if err != nil {
			_ = res.Close()
			return nil, 0, fmt.Errorf("record %d provider lines: %w", len(p), err)
		}
		for _, k := range changed {
			seedLines = append(seedLines, lineKey{k[0], k[1], k[2]})
		}
		for range fixes {
			refunds, err := keysReturned(res.Query())
			if err != nil {
				_ = res.Close()
				return nil, 0, fmt.Errorf("refunds' payment references: %w", err)
			}
			for _, k := range refunds {
				seedLines = append(seedLines, lineKey{k[0], k[1], k[2]})
			}
		}
		rows, err := res.Query()
		if err == nil {
			seedLines, err = withExpectations(rows, seedLines)
		}
		if cerr := res.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, 0, fmt.Errorf("find accounts with expectations: %w", err)
		}
	}
	due, err := m.dueExpectations(ctx, tx, moved)
	if err != nil {
		return nil, 0, err
	}
	results, err := m.recompute(ctx, tx, append(seedExps, due...), seedLines, now)
	return results, len(seedExps), err
}

// withExpectations keeps the lines of accounts that have expectations, as rows (accounts_matched) says. A
// line of an account without any has nothing to be matched with: its group is itself and other lines, whose
// verdict is "unexplained", as stored, so recomputing it would write nothing and cost a gather (the lookups by
// reference and of matches). A business that publishes no expectations thus pays only for recording its
// lines. The line is recorded all the same, and the first expectation that names it finds it by its
// references (an expectation's recompute gathers the lines): matching still works whichever side arrives
// first. The check runs under the account's matching lock, after this batch's expectations are recorded, so
// an expectation recorded concurrently is either seen here or, committed after, sees this line.
func withExpectations(rows pgx.Rows, lines []lineKey) ([]lineKey, error) {
	with, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (account, error) {
		var x account
		return x, r.Scan(&x.provider, &x.account)
	})
	if err != nil {
		return nil, err
	}
	keep := map[account]bool{}
	for _, x := range with {
		keep[x] = true
	}
	return slices.DeleteFunc(lines, func(l lineKey) bool { return !keep[account{l.provider, l.account}] }), nil
}

// distinctAccounts are the distinct (provider, account) pairs of p and a, as two arrays.
func distinctAccounts(p, a []string) (dp, da []string) {
	seen := map[account]bool{}
	for i := range p {
		if x := (account{p[i], a[i]}); !seen[x] {
			seen[x] = true
			dp, da = append(dp, x.provider), append(da, x.account)
		}
	}
	return dp, da
}

// dueExpectations are the open expectations of accts whose deadline plus grace their statement has passed
// and that have not been judged overdue yet.
func (m *Matcher) dueExpectations(ctx context.Context, tx pgx.Tx, accts []account) ([]expKey, error) {
	if len(accts) == 0 {
		return nil, nil
	}
	through, err := statementThrough(ctx, tx, accts)
	if err != nil {
		return nil, err
	}
	var p, a []string
	var before []time.Time
	for x, t := range through {
		p, a, before = append(p, x.provider), append(a, x.account), append(before, t.Add(-m.cfg.For(x.provider, x.account).Grace))
	}
	if len(p) == 0 {
		return nil, nil
	}
	keys, err := keysReturned(tx.Query(ctx, query("due_expectations"), p, a, before, dueLimit))
	if err != nil {
		return nil, fmt.Errorf("find expectations past their deadline: %w", err)
	}
	out := make([]expKey, len(keys))
	for i, k := range keys {
		out[i] = expKey{k[0], k[1], k[2]}
	}
	return out, nil
}

// Due runs the time-driven part of matching inside tx: expectations whose deadline the statement has passed
// (on every account, not only those a batch touched), and lines no expectation has explained for longer than
// the unexpected grace, judged by now.
func (m *Matcher) Due(ctx context.Context, tx pgx.Tx, now time.Time) ([]checks.Result, error) {
	if m.cfg.Disabled {
		return nil, nil
	}
	rows, err := tx.Query(ctx, query("accounts_with_statement"))
	if err != nil {
		return nil, fmt.Errorf("read watermarks: %w", err)
	}
	accts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (account, error) {
		var x account
		return x, r.Scan(&x.provider, &x.account)
	})
	if err != nil {
		return nil, fmt.Errorf("read watermarks: %w", err)
	}
	type kindOf struct {
		account
		kind string
	}
	rows, err = tx.Query(ctx, query("expectation_kinds"))
	if err != nil {
		return nil, fmt.Errorf("read expectation kinds: %w", err)
	}
	kinds, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kindOf, error) {
		var k kindOf
		return k, r.Scan(&k.provider, &k.account.account, &k.kind)
	})
	if err != nil {
		return nil, fmt.Errorf("read expectation kinds: %w", err)
	}
	all := slices.Clone(accts)
	for _, k := range kinds {
		all = append(all, k.account)
	}
	if len(all) == 0 {
		return nil, nil
	}
	if err := lockAccounts(ctx, tx, all); err != nil {
		return nil, err
	}
	due, err := m.dueExpectations(ctx, tx, accts)
	if err != nil {
		return nil, err
	}
	results, err := m.recompute(ctx, tx, due, nil, now)
	if err != nil {
		return nil, err
	}
	for _, k := range kinds {
		s := m.cfg.For(k.provider, k.account.account)
		if s.Rule(k.kind).NoUnexpected {
			continue
		}
		found, err := m.unexpected(ctx, tx, k.account, k.kind, s, now)
		if err != nil {
			return nil, err
		}
		results = append(results, found...)
	}
	return results, nil
}

// unexpected alerts the lines of one account and kind that no expectation has explained within the grace.
func (m *Matcher) unexpected(ctx context.Context, tx pgx.Tx, a account, kind string, s Settings, now time.Time) ([]checks.Result, error) {
	rows, err := tx.Query(ctx, query("due_unexpected"), a.provider, a.account, kind, now.Add(-s.UnexpectedGrace), s.Since)
	if err != nil {
		return nil, fmt.Errorf("find unexplained lines of %s: %w", a, err)
	}
	lines, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Line, error) {
		l := Line{Kind: kind, State: LineCounted}
		return l, r.Scan(&l.ItemID, &l.Amount, &l.Fee, &l.Currency, &l.At, &l.SeenAt, &l.Refs.FactorNumber,
			&l.Refs.TrackID, &l.Refs.PaymentNumber, &l.Refs.PaymentItemID)
	})
	if err != nil {
		return nil, fmt.Errorf("find unexplained lines of %s: %w", a, err)
	}
	if len(lines) == 0 {
		return nil, nil
	}
	var ids []string
	var results []checks.Result
	for _, l := range lines {
		ids = append(ids, l.ItemID)
		results = append(results, unexpectedResult(a, l, s.UnexpectedGrace))
	}
	if _, err := tx.Exec(ctx, query("mark_unexpected"), a.provider, a.account, ids, now); err != nil {
		return nil, fmt.Errorf("mark unexpected lines of %s: %w", a, err)
	}
	return results, nil
}

// group is everything stored that shares references with what arrived.
type group struct {
	exps    map[expKey]*expRow
	lines   map[lineKey]*lineRow
	matches map[matchKey]matchRow
}

// gather finds the group of the seeds: the expectations and lines sharing a reference with them, and with
// those, until nothing new turns up; and whatever any of them is matched with now (a changed reference
// leaves its old partners to be matched again).
func (m *Matcher) gather(ctx context.Context, tx pgx.Tx, seedExps []expKey, seedLines []lineKey) (*group, error) {
	g := &group{exps: map[expKey]*expRow{}, lines: map[lineKey]*lineRow{}, matches: map[matchKey]matchRow{}}
	asked := map[refQuery]bool{}
	needE, needL := seedExps, seedLines
	var refs []refQuery
	for round := 0; len(needE)+len(needL)+len(refs) > 0; round++ {
		if round == maxGroupRounds {
			return nil, fmt.Errorf("%w: references still lead to more expectations and lines after %d rounds "+
				"(%d expectations, %d lines so far)", ErrGroupTooLarge, maxGroupRounds, len(g.exps), len(g.lines))
		}
		for _, r := range refs {
			asked[r] = true
		}
		es, err := m.loadExpectations(ctx, tx, refs, needE)
		if err != nil {
			return nil, err
		}
		ls, err := m.loadLines(ctx, tx, refs, needL)
		if err != nil {
			return nil, err
		}
		var newE []expKey
		var newL []lineKey
		var nextRefs []refQuery
		addRefs := func(qs []refQuery) {
			for _, q := range qs {
				if !asked[q] {
					asked[q] = true
					nextRefs = append(nextRefs, q)
				}
			}
		}
		for _, e := range es {
			k := expKey{e.Provider, e.Account, e.ExpectationID}
			if g.exps[k] == nil {
				g.exps[k] = e
				newE = append(newE, k)
				addRefs(refsOf(e.Provider, e.Account, e.Kind, e.Reference))
			}
		}
		for _, l := range ls {
			k := lineKey{l.provider, l.account, l.ItemID}
			if g.lines[k] == nil {
				g.lines[k] = l
				newL = append(newL, k)
				addRefs(refsOf(l.provider, l.account, l.Kind, l.Refs))
			}
		}
		ms, err := m.loadMatches(ctx, tx, newE, newL)
		if err != nil {
			return nil, err
		}
		needE, needL = nil, nil
		for _, mr := range ms {
			g.matches[matchKey{mr.provider, mr.account, mr.pair.ExpectationID, mr.pair.ItemID}] = mr
			if ek := (expKey{mr.provider, mr.account, mr.pair.ExpectationID}); g.exps[ek] == nil && !slices.Contains(needE, ek) {
				needE = append(needE, ek)
			}
			if lk := (lineKey{mr.provider, mr.account, mr.pair.ItemID}); g.lines[lk] == nil && !slices.Contains(needL, lk) {
				needL = append(needL, lk)
			}
		}
		refs = nextRefs
	}
	return g, nil
}

// recompute matches the groups of the seeds again and writes what changed: matches, each side's state, and
// the alerts the changes open or resolve.
func (m *Matcher) recompute(ctx context.Context, tx pgx.Tx, seedExps []expKey, seedLines []lineKey, now time.Time) ([]checks.Result, error) {
	if len(seedExps)+len(seedLines) == 0 {
		return nil, nil
	}
	g, err := m.gather(ctx, tx, seedExps, seedLines)
	if err != nil {
		return nil, err
	}
	// Per account and kind: the rules' verdict on everything gathered. Disjoint groups of one account don't
	// interact in Match, so they need not be told apart.
	type slot struct {
		account
		kind string
	}
	exps := map[slot][]Expectation{}
	lines := map[slot][]Line{}
	var accts []account
	for k, e := range g.exps {
		s := slot{account{k.provider, k.account}, e.Kind}
		exps[s] = append(exps[s], e.Expectation)
		accts = append(accts, s.account)
	}
	for k, l := range g.lines {
		s := slot{account{k.provider, k.account}, l.Kind}
		lines[s] = append(lines[s], l.Line)
		accts = append(accts, s.account)
	}
	slices.SortFunc(accts, compareAccounts)
	accts = slices.Compact(accts)
	through, err := statementThrough(ctx, tx, accts)
	if err != nil {
		return nil, err
	}
	slots := map[slot]bool{}
	for s := range exps {
		slots[s] = true
	}
	for s := range lines {
		slots[s] = true
	}
	var w writes
	var results []checks.Result
	for s := range slots {
		set := m.cfg.For(s.provider, s.account.account)
		rule := set.Rule(s.kind)
		es := exps[s]
		t, complete := through[s.account]
		for i := range es {
			// Overdue: the deadline plus the grace is behind what the statement is known complete to. It stays
			// so once judged (watermarks only move on); a new deadline resets it (upsert_expectations).
			if es[i].Status == events.ExpectationOpen && complete && !t.Before(es[i].ExpectedBy.Add(set.Grace)) {
				es[i].Overdue = true
			}
		}
		out := Match(s.kind, rule, es, lines[s])
		results = append(results, w.add(g, s.account, s.kind, out, es, t, complete, now)...)
	}
	if err := w.flush(ctx, tx, now); err != nil {
		return nil, err
	}
	return results, nil
}

// writes collects a recompute's changes for a few bulk statements.
type writes struct {
	delP, delA, delE, delI []string

	mP, mA, mE, mI, mK, mRule, mRole, mGroup, mCur []string
	mEA, mLA, mLF, mGE, mGM, mD, mTol              []decimal.Decimal

	eP, eA, eID, eSt, eRule, eRaised []string
	eM, eDu, eF                      []decimal.Decimal
	eD                               []*decimal.Decimal
	eN                               []int32
	eO                               []bool

	lP, lA, lID, lRole []string
	lX, lClear         []bool
}

// add compares one account and kind's new verdict with what is stored, queues the changes and returns the
// alerts they open or resolve.
func (w *writes) add(g *group, a account, kind string, out Outcome, es []Expectation, through time.Time,
	complete bool, now time.Time) []checks.Result {
	var results []checks.Result
	// Matches: new or changed ones upserted, gone ones deleted.
	fresh := map[matchKey]bool{}
	for _, p := range out.Pairs {
		k := matchKey{a.provider, a.account, p.ExpectationID, p.ItemID}
		fresh[k] = true
		if old, ok := g.matches[k]; ok && samePair(old.pair, p) {
			continue
		}
		e := g.exps[expKey{a.provider, a.account, p.ExpectationID}]
		l := g.lines[lineKey{a.provider, a.account, p.ItemID}]
		w.mP, w.mA, w.mE, w.mI = append(w.mP, a.provider), append(w.mA, a.account), append(w.mE, p.ExpectationID), append(w.mI, p.ItemID)
		w.mK, w.mRule, w.mRole, w.mGroup = append(w.mK, kind), append(w.mRule, p.Rule), append(w.mRole, p.Role), append(w.mGroup, p.Group)
		w.mEA, w.mLA, w.mLF, w.mCur = append(w.mEA, e.Amount), append(w.mLA, l.Amount), append(w.mLF, l.Fee), append(w.mCur, l.Currency)
		w.mGE, w.mGM, w.mD, w.mTol = append(w.mGE, p.GroupExpected), append(w.mGM, p.GroupMatched), append(w.mD, p.Difference), append(w.mTol, p.Tolerance)
	}
	for k, old := range g.matches {
		if k.provider != a.provider || k.account != a.account || old.kind != kind || fresh[k] {
			continue
		}
		w.delP, w.delA, w.delE, w.delI = append(w.delP, k.provider), append(w.delA, k.account), append(w.delE, k.exp), append(w.delI, k.item)
	}

	pairsOf := map[string][]Pair{}
	for _, p := range out.Pairs {
		pairsOf[p.ExpectationID] = append(pairsOf[p.ExpectationID], p)
	}
	for _, e := range es {
		row := g.exps[expKey{a.provider, a.account, e.ExpectationID}]
		st := out.Expectations[e.ExpectationID]
		if !sameState(row.state, st) || row.Overdue != e.Overdue {
			w.eP, w.eA, w.eID = append(w.eP, a.provider), append(w.eA, a.account), append(w.eID, e.ExpectationID)
			w.eSt, w.eRule = append(w.eSt, st.Status), append(w.eRule, st.Rule)
			w.eM, w.eDu, w.eF, w.eD = append(w.eM, st.Matched), append(w.eDu, st.Duplicate), append(w.eF, st.Failed), append(w.eD, st.Difference)
			w.eN, w.eO, w.eRaised = append(w.eN, int32(st.Lines)), append(w.eO, e.Overdue), append(w.eRaised, strings.Join(st.Want, ","))
		}
		for _, k := range row.raised {
			if !slices.Contains(st.Want, k) {
				results = append(results, resolved(k, expectationSubject(a, e.ExpectationID)))
			}
		}
		for _, k := range st.Want {
			if !slices.Contains(row.raised, k) {
				results = append(results, expectationResult(k, a, e, st, pairsOf[e.ExpectationID], g, through, complete))
			}
		}
	}
	for k, l := range g.lines {
		if k.provider != a.provider || k.account != a.account || l.Kind != kind {
			continue
		}
		st := out.Lines[l.ItemID]
		// An unexpected alert resolves once the line is explained, or is no longer money.
		clear := l.unexpectedAt != nil && (st.Explained || l.State != LineCounted)
		if st != l.state || clear {
			w.lP, w.lA, w.lID = append(w.lP, a.provider), append(w.lA, a.account), append(w.lID, l.ItemID)
			w.lX, w.lRole, w.lClear = append(w.lX, st.Explained), append(w.lRole, st.Role), append(w.lClear, clear)
		}
		if clear {
			results = append(results, resolved(AlertUnexpected, checks.ItemSubject(a.provider, a.account, l.ItemID)))
		}
	}
	return results
}

func samePair(a, b Pair) bool {
	return a.Rule == b.Rule && a.Role == b.Role && a.Group == b.Group && a.GroupExpected.Equal(b.GroupExpected) &&
		a.GroupMatched.Equal(b.GroupMatched) && a.Difference.Equal(b.Difference) && a.Tolerance.Equal(b.Tolerance)
}

func sameState(a, b ExpectationState) bool {
	sameDiff := (a.Difference == nil) == (b.Difference == nil) &&
		(a.Difference == nil || a.Difference.Equal(*b.Difference))
	return a.Status == b.Status && a.Rule == b.Rule && a.Matched.Equal(b.Matched) && a.Duplicate.Equal(b.Duplicate) &&
		a.Failed.Equal(b.Failed) && sameDiff && a.Lines == b.Lines && slices.Equal(a.Want, b.Want)
}

// flush writes the queued changes: matches deleted first (a pair's row may move between groups), then the
// new ones, then each side's state.
func (w *writes) flush(ctx context.Context, tx pgx.Tx, now time.Time) error {
	if len(w.delP) > 0 {
		if _, err := tx.Exec(ctx, query("delete_matches"), w.delP, w.delA, w.delE, w.delI); err != nil {
			return fmt.Errorf("delete %d matches: %w", len(w.delP), err)
		}
	}
	if len(w.mP) > 0 {
		if _, err := tx.Exec(ctx, query("upsert_matches"), w.mP, w.mA, w.mE, w.mI, w.mK, w.mRule, w.mRole, w.mGroup,
			w.mEA, w.mLA, w.mLF, w.mCur, w.mGE, w.mGM, w.mD, w.mTol, now); err != nil {
			return fmt.Errorf("record %d matches: %w", len(w.mP), err)
		}
	}
	if len(w.eP) > 0 {
		if _, err := tx.Exec(ctx, query("update_expectations"), w.eP, w.eA, w.eID, w.eSt, w.eRule, w.eM, w.eDu, w.eF,
			w.eD, w.eN, w.eO, w.eRaised, now); err != nil {
			return fmt.Errorf("update %d expectations: %w", len(w.eP), err)
		}
	}
	if len(w.lP) > 0 {
		if _, err := tx.Exec(ctx, query("update_lines"), w.lP, w.lA, w.lID, w.lX, w.lRole, w.lClear); err != nil {
			return fmt.Errorf("update %d provider lines: %w", len(w.lP), err)
		}
	}
	return nil
}
