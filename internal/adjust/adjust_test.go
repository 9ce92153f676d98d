package adjust_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/adjust"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/ledger"
	"github.com/mizanhq/mizan/internal/pgtest"
	"github.com/mizanhq/mizan/internal/posting"
)

const (
	suspense = "liabilities:vandar:acme:suspense"
	wallet   = "assets:vandar:acme:wallet"
	sales    = "income:vandar:acme:sales:ipg"
)

type fixture struct {
	ctx        context.Context
	pool       *pgxpool.Pool
	accountant string // a role of the test's own, member of mizan_accountant
	correction int64  // the entry that put 48,000 into suspense
}

// setup gives each test a ledger where Vandar reported a correction of 48,000 that mizan could not
// attribute (posted to suspense), beside an ordinary payment, and an accountant of its own.
func setup(t *testing.T) *fixture {
	t.Helper()
	pool, _ := pgtest.NewDB(t)
	f := &fixture{ctx: t.Context(), pool: pool, accountant: role(t, pool, "mizan_accountant")}
	at := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	item := func(id, kind, channel string, amount int64) events.StatementItem {
		return events.StatementItem{Provider: "vandar", Account: "acme", ItemID: id, Kind: kind, Channel: channel,
			Direction: events.DirectionIn, Amount: decimal.NewFromInt(amount), Currency: events.CurrencyToman,
			MovedWallet: true, EffectiveAt: at, StatusCode: 1}
	}
	var entries []ledger.Entry
	for _, it := range []events.StatementItem{item("1", events.KindPayment, "ipg", 100_000), item("2", events.KindCorrection, "other", 48_000)} {
		e, ok, err := posting.Statement(it, "ev-"+it.ItemID)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		entries = append(entries, e)
	}
	if err := pgx.BeginFunc(f.ctx, pool, func(tx pgx.Tx) error { _, err := ledger.Apply(f.ctx, tx, entries); return err }); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(f.ctx, `SELECT id FROM ledger.entries WHERE idempotency_key = 'vandar:acme:statement:2'`).Scan(&f.correction); err != nil {
		t.Fatal(err)
	}
	return f
}

// role creates a role of the test's own, member of group, dropped when the test ends. Roles belong to the
// cluster; a random name keeps parallel tests apart.
func role(t *testing.T, pool *pgxpool.Pool, group string) string {
	t.Helper()
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	name := "mizan_test_" + strings.TrimPrefix(group, "mizan_") + "_" + hex.EncodeToString(b)
	if _, err := pool.Exec(t.Context(), "CREATE ROLE "+name+" NOLOGIN IN ROLE "+group); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := pool.Exec(context.Background(), "DROP ROLE IF EXISTS "+name); err != nil {
			t.Errorf("drop role %s: %v", name, err)
		}
	})
	return name
}

// as runs fn in a transaction whose session user is role — as if that person had logged in — and commits it
// when fn succeeds.
func (f *fixture) as(role string, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(f.ctx, f.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(f.ctx, "SET LOCAL SESSION AUTHORIZATION "+role); err != nil {
			return err
		}
		return fn(tx)
	})
}

func (f *fixture) balance(t *testing.T, code string) decimal.Decimal {
	t.Helper()
	b, err := ledger.Balance(f.ctx, f.pool, code)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func p(account string, amount int64) adjust.Posting {
	return adjust.Posting{Account: account, Amount: decimal.NewFromInt(amount)}
}

func TestAnAccountantClearsSuspenseWithABalancedAuditedAdjustment(t *testing.T) {
	t.Parallel()
	f := setup(t)
	a := adjust.Adjustment{Reason: "Vandar ticket 8812: the correction was a gateway payment booked late",
		Postings: []adjust.Posting{p(suspense, 48_000), p(sales, -48_000)}, Clears: []int64{f.correction}}
	var id int64
	if err := f.as(f.accountant, func(tx pgx.Tx) error {
		var err error
		id, err = adjust.Post(f.ctx, tx, a)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := f.balance(t, suspense); !got.IsZero() {
		t.Errorf("suspense after clearing = %s, want 0", got)
	}
	if got := f.balance(t, sales); !got.Equal(decimal.NewFromInt(-148_000)) {
		t.Errorf("sales = %s, want -148000", got)
	}

	var author, reason, kind, key, provider string
	var clears []int64
	var authored time.Time
	if err := f.pool.QueryRow(f.ctx, `
		SELECT x.author, x.reason, x.kind, x.idempotency_key, x.clears_entry_ids, x.authored_at, s.provider
		FROM ledger.adjustments x JOIN ledger.entry_sources s ON s.entry_id = x.entry_id
		WHERE x.entry_id = $1`, id).Scan(&author, &reason, &kind, &key, &clears, &authored, &provider); err != nil {
		t.Fatal(err)
	}
	if author != f.accountant || reason != a.Reason || kind != "adjustment" || provider != "vandar" ||
		!strings.HasPrefix(key, "vandar:acme:adjustment:") || len(clears) != 1 || clears[0] != f.correction ||
		time.Since(authored) > time.Hour {
		t.Errorf("audit: author %q reason %q kind %q key %q clears %v at %s; want %s, the reason, adjustment, vandar:acme:adjustment:…, [%d], now",
			author, reason, kind, key, clears, authored, f.accountant, f.correction)
	}

	// The suspense line is cleared in the analyst's view, by whom and why.
	var open bool
	var clearedBy, clearedReason string
	if err := f.pool.QueryRow(f.ctx, `SELECT is_open, cleared_by, cleared_reason FROM analytics.suspense WHERE entry_id = $1`,
		f.correction).Scan(&open, &clearedBy, &clearedReason); err != nil {
		t.Fatal(err)
	}
	if open || clearedBy != f.accountant || clearedReason != a.Reason {
		t.Errorf("suspense line: open %v, cleared by %q (%q)", open, clearedBy, clearedReason)
	}

	t.Run("the same key posts once", func(t *testing.T) {
		keyed := a
		keyed.Key, keyed.Clears = "ticket-8813", nil
		keyed.Postings = []adjust.Posting{p(sales, 1_000), p(wallet, -1_000)}
		var ids [2]int64
		for i := range ids {
			if err := f.as(f.accountant, func(tx pgx.Tx) error {
				var err error
				ids[i], err = adjust.Post(f.ctx, tx, keyed)
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		if ids[0] != ids[1] {
			t.Errorf("posted twice: entries %d and %d", ids[0], ids[1])
		}
		keyed.Reason = "something else"
		err := f.as(f.accountant, func(tx pgx.Tx) error { _, err := adjust.Post(f.ctx, tx, keyed); return err })
		if err == nil || !strings.Contains(err.Error(), "already names adjustment") {
			t.Errorf("the same key with another reason: %v, want a refusal", err)
		}
	})

	t.Run("a reversal negates it, opens the suspense line again, and happens once", func(t *testing.T) {
		var rid int64
		if err := f.as(f.accountant, func(tx pgx.Tx) error {
			var err error
			rid, err = adjust.Reverse(f.ctx, tx, id, "cleared to the wrong channel")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if got := f.balance(t, suspense); !got.Equal(decimal.NewFromInt(-48_000)) {
			t.Errorf("suspense after the reversal = %s, want -48000", got)
		}
		var reverses int64
		var open bool
		if err := f.pool.QueryRow(f.ctx, `SELECT (SELECT reverses_entry_id FROM ledger.entries WHERE id = $1),
			(SELECT is_open FROM analytics.suspense WHERE entry_id = $2)`, rid, f.correction).Scan(&reverses, &open); err != nil {
			t.Fatal(err)
		}
		if reverses != id || !open {
			t.Errorf("reversal reverses %d (want %d); the line is open again: %v", reverses, id, open)
		}
		err := f.as(f.accountant, func(tx pgx.Tx) error { _, err := adjust.Reverse(f.ctx, tx, id, "again"); return err })
		if err == nil || !strings.Contains(err.Error(), "reversed already") {
			t.Errorf("a second reversal: %v", err)
		}
		err = f.as(f.accountant, func(tx pgx.Tx) error { _, err := adjust.Reverse(f.ctx, tx, f.correction, "not mine"); return err })
		if err == nil || !strings.Contains(err.Error(), "is not an adjustment") {
			t.Errorf("reversing a provider's entry: %v", err)
		}
	})
}

func TestAdjustmentsTheLedgerRefuses(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tests := []struct {
		name string
		a    adjust.Adjustment
		want string // in the error
	}{
		{"unbalanced", adjust.Adjustment{Reason: "r", Postings: []adjust.Posting{p(suspense, 48_000), p(sales, -47_000)}},
			"does not balance: its IRT postings sum to 1000"},
		{"no reason", adjust.Adjustment{Reason: "  ", Postings: []adjust.Posting{p(suspense, 1), p(sales, -1)}}, "a reason is required"},
		{"one posting", adjust.Adjustment{Reason: "r", Postings: []adjust.Posting{p(suspense, 1)}}, "at least two"},
		{"an account twice", adjust.Adjustment{Reason: "r", Postings: []adjust.Posting{p(suspense, 1), p(suspense, -1)}}, "appears twice"},
		{"a typo is not an account", adjust.Adjustment{Reason: "r", Postings: []adjust.Posting{p("liabilities:vandar:acme:suspens", 1), p(sales, -1)}},
			"there is no account liabilities:vandar:acme:suspens (Check the code"},
		{"a new account must follow the chart", adjust.Adjustment{Reason: "r", CreateAccounts: true,
			Postings: []adjust.Posting{p("writeoffs", 1), p(sales, -1)}}, "is not an account code of the chart"},
		{"clears an entry without suspense", adjust.Adjustment{Reason: "r", Clears: []int64{f.correction - 1},
			Postings: []adjust.Posting{p(suspense, 1), p(sales, -1)}}, "has no posting on a suspense account"},
		{"in the future", adjust.Adjustment{Reason: "r", EffectiveAt: time.Now().Add(time.Hour),
			Postings: []adjust.Posting{p(suspense, 1), p(sales, -1)}}, "in the future"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := f.as(f.accountant, func(tx pgx.Tx) error { _, err := adjust.Post(f.ctx, tx, tt.a); return err })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error saying %q", err, tt.want)
			}
		})
	}

	// The database refuses what the Go checks catch too: another client cannot get around them.
	t.Run("the SQL function itself refuses an unbalanced or unexplained adjustment", func(t *testing.T) {
		t.Parallel()
		for sql, want := range map[string]string{
			`SELECT ledger.post_adjustment('r', ARRAY['` + suspense + `', '` + sales + `'], ARRAY[10, -9])`: "postings_balanced",
			`SELECT ledger.post_adjustment('', ARRAY['` + suspense + `', '` + sales + `'], ARRAY[10, -10])`: "adjustments_reason_check",
			`SELECT ledger.post_adjustment('r', ARRAY['` + suspense + `'], ARRAY[10])`:                      "postings_min_two",
		} {
			err := f.as(f.accountant, func(tx pgx.Tx) error { _, err := tx.Exec(f.ctx, sql); return err })
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.ConstraintName != want {
				t.Errorf("%s: %v, want a refusal naming %s", sql, err, want)
			}
		}
	})

	t.Run("a new account opens only when asked, in the adjustment's currency", func(t *testing.T) {
		t.Parallel()
		a := adjust.Adjustment{Reason: "bank charge the provider never itemized", CreateAccounts: true,
			Postings: []adjust.Posting{p("expenses:vandar:acme:bank_charges", 500), p(wallet, -500)}}
		if err := f.as(f.accountant, func(tx pgx.Tx) error { _, err := adjust.Post(f.ctx, tx, a); return err }); err != nil {
			t.Fatal(err)
		}
		var typ, cur string
		if err := f.pool.QueryRow(f.ctx, `SELECT type, currency FROM ledger.accounts WHERE code = 'expenses:vandar:acme:bank_charges'`).
			Scan(&typ, &cur); err != nil || typ != "expense" || cur != "IRT" {
			t.Errorf("the new account: %s %s, %v; want expense IRT", typ, cur, err)
		}
	})

	t.Run("a suspense line is cleared once", func(t *testing.T) {
		t.Parallel()
		a := adjust.Adjustment{Reason: "first", Clears: []int64{f.correction}, Postings: []adjust.Posting{p(suspense, 20_000), p(sales, -20_000)}}
		if err := f.as(f.accountant, func(tx pgx.Tx) error { _, err := adjust.Post(f.ctx, tx, a); return err }); err != nil {
			t.Fatal(err)
		}
		a.Reason = "second"
		err := f.as(f.accountant, func(tx pgx.Tx) error { _, err := adjust.Post(f.ctx, tx, a); return err })
		if err == nil || !strings.Contains(err.Error(), "is cleared already") {
			t.Errorf("clearing a cleared line: %v", err)
		}
	})
}

func TestOnlyAccountantsAdjustAndTheAuditNeverChanges(t *testing.T) {
	t.Parallel()
	f := setup(t)
	analyst, app := role(t, f.pool, "mizan_analyst"), role(t, f.pool, "mizan_app")
	a := adjust.Adjustment{Reason: "r", Postings: []adjust.Posting{p(suspense, 1), p(sales, -1)}}
	for _, r := range []string{analyst, app} {
		err := f.as(r, func(tx pgx.Tx) error { _, err := adjust.Post(f.ctx, tx, a); return err })
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" || !strings.Contains(err.Error(), "mizan_accountant") {
			t.Errorf("%s posting an adjustment: %v, want permission denied with a hint", r, err)
		}
	}
	var id int64
	if err := f.as(f.accountant, func(tx pgx.Tx) error {
		var err error
		id, err = adjust.Post(f.ctx, tx, a)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// Not even the owner rewrites the audit or the entry.
	for _, sql := range []string{
		"UPDATE ledger.adjustments SET reason = 'edited'",
		"DELETE FROM ledger.adjustments",
		"TRUNCATE ledger.adjustments",
		"UPDATE ledger.entries SET description = 'edited' WHERE id = $1",
	} {
		args := []any{}
		if strings.Contains(sql, "$1") {
			args = append(args, id)
		}
		_, err := f.pool.Exec(f.ctx, sql, args...)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "23001" {
			t.Errorf("as the owner: %s: %v, want restrict_violation", sql, err)
		}
	}
	// The internal posting function is nobody's to call but the adjustment functions'.
	err := f.as(f.accountant, func(tx pgx.Tx) error {
		_, err := tx.Exec(f.ctx, `SELECT ledger.post_entry('x', now(), '', '{}', NULL, ARRAY[1::bigint, 2], ARRAY[1::numeric, -1])`)
		return err
	})
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		t.Errorf("the accountant calling ledger.post_entry: %v, want permission denied", err)
	}
}

func TestAcknowledgingAnAlert(t *testing.T) {
	t.Parallel()
	f := setup(t)
	var open, resolved int64
	if err := f.pool.QueryRow(f.ctx, `
		WITH o AS (INSERT INTO recon.alerts (kind, severity, subject, dedup_key, summary)
		           VALUES ('balance_mismatch', 'critical', 'vandar/acme/wallet', 'b:acme', 'Vandar reports 48000 more') RETURNING id),
		     r AS (INSERT INTO recon.alerts (kind, severity, subject, dedup_key, summary, resolved_at)
		           VALUES ('staleness', 'warning', 'vandar/acme/statement', 's:acme', 'stale', now()) RETURNING id)
		SELECT o.id, r.id FROM o, r`).Scan(&open, &resolved); err != nil {
		t.Fatal(err)
	}
	var at time.Time
	if err := f.as(f.accountant, func(tx pgx.Tx) error {
		var err error
		at, err = adjust.Acknowledge(f.ctx, tx, open, "Vandar ticket 8812 opened")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var by, note string
	var shownAt time.Time
	if err := f.pool.QueryRow(f.ctx, `SELECT acknowledged_by, acknowledged_at, acknowledgement_note FROM analytics.open_alerts WHERE id = $1`,
		open).Scan(&by, &shownAt, &note); err != nil {
		t.Fatal(err)
	}
	if by != f.accountant || !shownAt.Equal(at) || note != "Vandar ticket 8812 opened" {
		t.Errorf("open_alerts shows %q at %s: %q", by, shownAt, note)
	}
	app := role(t, f.pool, "mizan_app")
	for _, tt := range []struct {
		who, note string
		id        int64
		want      string
	}{
		{f.accountant, "again", open, "was acknowledged by " + f.accountant},
		{app, "me too", open, "was acknowledged by"},
		{f.accountant, "late", resolved, "resolved already"},
		{f.accountant, "ghost", open + 1000, "there is no alert"},
		{f.accountant, " ", open, "a note is required"},
	} {
		err := f.as(tt.who, func(tx pgx.Tx) error { _, err := adjust.Acknowledge(f.ctx, tx, tt.id, tt.note); return err })
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s acknowledging %d with %q: %v, want %q", tt.who, tt.id, tt.note, err, tt.want)
		}
	}
	// The app's role may acknowledge too (a CLI run with the reconciler's credentials), and the owner cannot
	// rewrite an acknowledgement.
	var second int64
	if err := f.pool.QueryRow(f.ctx, `INSERT INTO recon.alerts (kind, severity, subject, dedup_key, summary)
		VALUES ('staleness', 'warning', 'vandar/acme/balance', 's2', 'stale') RETURNING id`).Scan(&second); err != nil {
		t.Fatal(err)
	}
	if err := f.as(app, func(tx pgx.Tx) error {
		_, err := adjust.Acknowledge(f.ctx, tx, second, "restarting the poller")
		return err
	}); err != nil {
		t.Errorf("mizan_app acknowledging: %v", err)
	}
	for _, sql := range []string{"UPDATE recon.alert_acknowledgements SET note = 'edited'", "DELETE FROM recon.alert_acknowledgements",
		"TRUNCATE recon.alert_acknowledgements"} {
		_, err := f.pool.Exec(f.ctx, sql)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "23001" {
			t.Errorf("as the owner: %s: %v, want restrict_violation", sql, err)
		}
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	got, err := adjust.ParsePosting("income:vandar:acme:sales:ipg=-48000.50")
	if err != nil || got.Account != "income:vandar:acme:sales:ipg" || got.Amount.String() != "-48000.5" {
		t.Errorf("ParsePosting = %+v, %v", got, err)
	}
	for _, bad := range []string{"no-amount", "=5", "a:b=", "a:b=12x"} {
		if _, err := adjust.ParsePosting(bad); !errors.Is(err, adjust.ErrInvalid) {
			t.Errorf("ParsePosting(%q) = %v, want ErrInvalid", bad, err)
		}
	}
	ids, err := adjust.ParseIDs("1041, 1207,")
	if err != nil || len(ids) != 2 || ids[0] != 1041 || ids[1] != 1207 {
		t.Errorf("ParseIDs = %v, %v", ids, err)
	}
	if _, err := adjust.ParseIDs("12,x"); !errors.Is(err, adjust.ErrInvalid) {
		t.Errorf("ParseIDs of a non-number: %v", err)
	}
}
