package matching

import (
	"context"
	"embed"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
)

//go:embed sql/*.sql
var sqlFiles embed.FS

// query returns the statement in sql/<name>.sql. The files are embedded: a missing one is a build fault that
// every test of this package would hit.
func query(name string) string {
	b, err := sqlFiles.ReadFile("sql/" + name + ".sql")
	if err != nil {
		panic(fmt.Sprintf("matching: no statement %s: %v", name, err))
	}
	return string(b)
}

// account is one provider account.
type account struct{ provider, account string }

func (a account) String() string { return events.Key(a.provider, a.account) }

func compareAccounts(x, y account) int {
	return strings.Compare(x.String(), y.String())
}

// lockAccounts serializes matching per provider account: two transactions recording an expectation and the
// line that meets it would otherwise each look for the other before either commits, and neither find it. The
// locks are taken in one order (sorted), after everything else a batch locks, so they cannot deadlock.
func lockAccounts(ctx context.Context, tx pgx.Tx, accts []account) error {
	accts = slices.Clone(accts)
	slices.SortFunc(accts, compareAccounts)
	accts = slices.Compact(accts)
	// One round trip: the server runs a pipeline's statements one after another, in the order sent, so the
	// locks are still taken in sorted order, each only once the one before is held.
	var b pgx.Batch
	for _, a := range accts {
		b.Queue(`SELECT pg_advisory_xact_lock($1, hashtext($2))`, lockClass, a.String())
	}
	res := tx.SendBatch(ctx, &b)
	for _, a := range accts {
		if _, err := res.Exec(); err != nil {
			_ = res.Close()
			return fmt.Errorf("lock matching of %s: %w", a, err)
		}
	}
	return res.Close()
}

// lockClass is the first key of matching's advisory locks ("matc"), apart from every other lock's.
const lockClass int32 = 0x6d617463

// expKey names a stored expectation.
type expKey struct{ provider, account, id string }

// lineKey names a stored provider line.
type lineKey struct{ provider, account, item string }

// expRow is an expectation as stored, with the state matching derived for it last time.
type expRow struct {
	Expectation
	state  ExpectationState
	raised []string
}

// lineRow is a provider line as stored.
type lineRow struct {
	provider, account string
	Line
	state        LineState
	unexpectedAt *time.Time
}

// matchRow is a stored match.
type matchRow struct {
	provider  string
	account   string
	pair      Pair
	kind      string
	matchedAt time.Time
}

type matchKey struct{ provider, account, exp, item string }

// refQuery is one reference lookup: (provider, account, kind, reference name, value).
type refQuery struct{ provider, account, kind, ref, value string }

func refsOf(provider, account, kind string, r events.Reference) []refQuery {
	var out []refQuery
	for _, k := range keysOf(kind) {
		if v := refValue(r, k); v != "" {
			out = append(out, refQuery{provider, account, kind, k, v})
		}
	}
	return out
}

func splitRefs(qs []refQuery) (p, a, k, r, v []string) {
	for _, q := range qs {
		p, a, k, r, v = append(p, q.provider), append(a, q.account), append(k, q.kind), append(r, q.ref), append(v, q.value)
	}
	return
}

func (m *Matcher) loadExpectations(ctx context.Context, tx pgx.Tx, refs []refQuery, ids []expKey) ([]*expRow, error) {
	if len(refs) == 0 && len(ids) == 0 {
		return nil, nil
	}
	p, a, k, r, v := splitRefs(refs)
	var ip, ia, ii []string
	for _, id := range ids {
		ip, ia, ii = append(ip, id.provider), append(ia, id.account), append(ii, id.id)
	}
	rows, err := tx.Query(ctx, query("expectations_by_refs"), p, a, k, r, v, ip, ia, ii)
	if err != nil {
		return nil, fmt.Errorf("find expectations: %w", err)
	}
	defer rows.Close()
	var out []*expRow
	for rows.Next() {
		e := &expRow{}
		var diff *decimal.Decimal
		var matchedAt *time.Time
		if err := rows.Scan(&e.Provider, &e.Account, &e.ExpectationID, &e.Kind, &e.Reference.FactorNumber,
			&e.Reference.TrackID, &e.Reference.PaymentNumber, &e.Reference.PaymentItemID, &e.Amount, &e.Currency,
			&e.ExpectedBy, &e.Status, &e.state.Status, &e.state.Rule, &e.state.Matched, &e.state.Duplicate,
			&e.state.Failed, &diff, &e.state.Lines, &matchedAt, &e.Overdue, &e.raised); err != nil {
			return nil, fmt.Errorf("read expectation: %w", err)
		}
		e.state.Difference = diff
		e.state.Want = e.raised
		out = append(out, e)
	}
	return out, rows.Err()
}

func (m *Matcher) loadLines(ctx context.Context, tx pgx.Tx, refs []refQuery, ids []lineKey) ([]*lineRow, error) {
	if len(refs) == 0 && len(ids) == 0 {
		return nil, nil
	}
	p, a, k, r, v := splitRefs(refs)
	var ip, ia, ii []string
	for _, id := range ids {
		ip, ia, ii = append(ip, id.provider), append(ia, id.account), append(ii, id.item)
	}
	rows, err := tx.Query(ctx, query("lines_by_refs"), p, a, k, r, v, ip, ia, ii)
	if err != nil {
		return nil, fmt.Errorf("find provider lines: %w", err)
	}
	defer rows.Close()
	var out []*lineRow
	for rows.Next() {
		l := &lineRow{}
		if err := rows.Scan(&l.provider, &l.account, &l.ItemID, &l.Kind, &l.State, &l.Amount, &l.Fee, &l.Currency,
			&l.At, &l.SeenAt, &l.Refs.FactorNumber, &l.Refs.TrackID, &l.Refs.PaymentNumber, &l.Refs.PaymentItemID,
			&l.state.Explained, &l.state.Role, &l.unexpectedAt); err != nil {
			return nil, fmt.Errorf("read provider line: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

func (m *Matcher) loadMatches(ctx context.Context, tx pgx.Tx, exps []expKey, lines []lineKey) ([]matchRow, error) {
	if len(exps) == 0 && len(lines) == 0 {
		return nil, nil
	}
	var ep, ea, ei, lp, la, li []string
	for _, e := range exps {
		ep, ea, ei = append(ep, e.provider), append(ea, e.account), append(ei, e.id)
	}
	for _, l := range lines {
		lp, la, li = append(lp, l.provider), append(la, l.account), append(li, l.item)
	}
	rows, err := tx.Query(ctx, query("matches_of"), ep, ea, ei, lp, la, li)
	if err != nil {
		return nil, fmt.Errorf("find matches: %w", err)
	}
	defer rows.Close()
	var out []matchRow
	for rows.Next() {
		var mr matchRow
		if err := rows.Scan(&mr.provider, &mr.account, &mr.pair.ExpectationID, &mr.pair.ItemID, &mr.kind, &mr.pair.Rule,
			&mr.pair.Role, &mr.pair.Group, &mr.pair.GroupExpected, &mr.pair.GroupMatched, &mr.pair.Difference,
			&mr.pair.Tolerance, &mr.matchedAt); err != nil {
			return nil, fmt.Errorf("read match: %w", err)
		}
		out = append(out, mr)
	}
	return out, rows.Err()
}

// statementThrough returns how far each account's statement is known complete (absent: not at all).
func statementThrough(ctx context.Context, tx pgx.Tx, accts []account) (map[account]time.Time, error) {
	out := map[account]time.Time{}
	if len(accts) == 0 {
		return out, nil
	}
	var p, a []string
	for _, x := range accts {
		p, a = append(p, x.provider), append(a, x.account)
	}
	rows, err := tx.Query(ctx, query("statement_watermarks"), p, a)
	if err != nil {
		return nil, fmt.Errorf("read statement watermarks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var x account
		var through time.Time
		if err := rows.Scan(&x.provider, &x.account, &through); err != nil {
			return nil, err
		}
		out[x] = through
	}
	return out, rows.Err()
}

func keysReturned(rows pgx.Rows, err error) ([][3]string, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) ([3]string, error) {
		var k [3]string
		return k, r.Scan(&k[0], &k[1], &k[2])
	})
}
