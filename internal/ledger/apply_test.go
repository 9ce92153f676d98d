package ledger_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/ledger"
)

func TestApplyPostsEntriesAndBalances(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sale := transfer("sale-1", t0, cash, sales, "100.50")
	sale.Metadata = map[string]any{"event_id": "ev-1", "n": 3}
	res := f.mustApply(t,
		sale,
		e("fee-1", t0.Add(time.Minute), p(fees, "2.25"), p(cash, "-2.25")),
		e("irt-1", t0, p(wallet, "1500000"), p(income, "-1500000")),
		e("split", t0.Add(2*time.Minute), p(bank, "50"), p(fees, "0.5"), p(cash, "-50.5")),
	)
	if diff := cmp.Diff(ledger.Result{Posted: []string{"sale-1", "fee-1", "irt-1", "split"}}, res); diff != "" {
		t.Errorf("Result (-want +got):\n%s", diff)
	}
	for code, want := range map[string]string{
		"assets:cash": "47.75", "income:sales": "-100.5", "expenses:fees": "2.75", "assets:bank": "50",
		"assets:wallet": "1500000", "income:irt": "-1500000", "assets:nowhere": "0",
	} {
		f.wantBalance(t, code, want)
	}

	var (
		desc, meta string
		effective  time.Time
		reverses   *int64
		n          int
	)
	if err := f.pool.QueryRow(f.ctx, `SELECT description, metadata::text, effective_at, reverses_entry_id,
		(SELECT count(*) FROM ledger.postings p WHERE p.entry_id = e.id)
		FROM ledger.entries e WHERE idempotency_key = 'sale-1'`).Scan(&desc, &meta, &effective, &reverses, &n); err != nil {
		t.Fatal(err)
	}
	var gotMeta map[string]any
	if err := json.Unmarshal([]byte(meta), &gotMeta); err != nil {
		t.Fatal(err)
	}
	if desc != "test sale-1" || !effective.Equal(t0) || reverses != nil || n != 2 ||
		!cmp.Equal(gotMeta, map[string]any{"event_id": "ev-1", "n": 3.0}) {
		t.Errorf("sale-1 stored as %q %s reverses=%v with %d postings, metadata %s", desc, effective, reverses, n, meta)
	}

	// The view and the balance rows agree, and every currency sums to zero across accounts.
	rows, err := f.pool.Query(f.ctx, `SELECT currency, sum(balance)::text FROM ledger.balances GROUP BY currency`)
	if err != nil {
		t.Fatal(err)
	}
	sums, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct {
		Currency string
		Sum      string
	}])
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sums {
		if !decimal.RequireFromString(s.Sum).IsZero() {
			t.Errorf("trial balance in %s is %s, want 0", s.Currency, s.Sum)
		}
	}
	f.verifyLedger(t)
}

func TestApplySkipsDuplicates(t *testing.T) {
	t.Parallel()
	f := setup(t)
	a := transfer("a", t0, cash, sales, "10")
	b := transfer("b", t0, cash, sales, "20")
	f.mustApply(t, a, b)

	changed := transfer("a", t0.Add(time.Hour), cash, sales, "999") // same key, different content
	c := transfer("c", t0, cash, sales, "30")
	res := f.mustApply(t, changed, b, c, c)
	want := ledger.Result{Posted: []string{"c"}, Duplicates: []string{"a", "b", "c"}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("Result (-want +got):\n%s", diff)
	}
	f.wantBalance(t, "assets:cash", "60")

	res = f.mustApply(t, a, b, c)
	if len(res.Posted) != 0 || len(res.Duplicates) != 3 {
		t.Errorf("replaying everything: %+v, want three duplicates", res)
	}
	f.wantBalance(t, "assets:cash", "60")
	f.verifyLedger(t)
}

func TestApplyRefusesBadEntriesNamingThem(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.mustApply(t, transfer("existing", t0, cash, sales, "1"))

	eurAsUSD := ledger.Account{Code: cash.Code, Type: cash.Type, Currency: "USD"}
	cashAsIncome := ledger.Account{Code: cash.Code, Type: ledger.AccountIncome, Currency: "EUR"}
	good := transfer("good", t0, cash, sales, "5")
	for _, tc := range []struct {
		name  string
		batch []ledger.Entry
		key   string
		want  error
	}{
		{"unbalanced", []ledger.Entry{good, e("bad", t0, p(cash, "10"), p(sales, "-9.99"))}, "bad", ledger.ErrUnbalanced},
		{"one posting", []ledger.Entry{e("bad", t0, p(cash, "10"))}, "bad", ledger.ErrUnbalanced},
		{"no postings", []ledger.Entry{e("bad", t0)}, "bad", ledger.ErrUnbalanced},
		{"balanced overall but not per currency", []ledger.Entry{e("bad", t0, p(cash, "10"), p(income, "-10"))}, "bad", ledger.ErrUnbalanced},
		{"zero amount", []ledger.Entry{e("bad", t0, p(cash, "0"), p(sales, "0"))}, "bad", ledger.ErrInvalid},
		{"empty key", []ledger.Entry{transfer("", t0, cash, sales, "1")}, "", ledger.ErrInvalid},
		{"no effective time", []ledger.Entry{transfer("bad", time.Time{}, cash, sales, "1")}, "bad", ledger.ErrInvalid},
		{"lower-case currency", []ledger.Entry{e("bad", t0, p(ledger.Account{Code: "x", Type: ledger.AccountAsset, Currency: "eur"}, "1"), p(sales, "-1"))}, "bad", ledger.ErrInvalid},
		{"unknown account type", []ledger.Entry{e("bad", t0, p(ledger.Account{Code: "x", Type: "revenue", Currency: "EUR"}, "1"), p(sales, "-1"))}, "bad", ledger.ErrInvalid},
		{"empty account code", []ledger.Entry{e("bad", t0, p(ledger.Account{Type: ledger.AccountAsset, Currency: "EUR"}, "1"), p(sales, "-1"))}, "bad", ledger.ErrInvalid},
		{"NUL in description", []ledger.Entry{func() ledger.Entry { x := transfer("bad", t0, cash, sales, "1"); x.Description = "a\x00b"; return x }()}, "bad", ledger.ErrInvalid},
		{"metadata not JSON", []ledger.Entry{func() ledger.Entry {
			x := transfer("bad", t0, cash, sales, "1")
			x.Metadata = map[string]any{"f": func() {}}
			return x
		}()}, "bad", ledger.ErrInvalid},
		{"key too long", []ledger.Entry{transfer(strings.Repeat("k", ledger.MaxKeyLen+1), t0, cash, sales, "1")}, strings.Repeat("k", ledger.MaxKeyLen+1), ledger.ErrInvalid},
		{"account with another currency than it has", []ledger.Entry{good, e("bad", t0, p(eurAsUSD, "1"), p(ledger.Account{Code: "x", Type: ledger.AccountIncome, Currency: "USD"}, "-1"))}, "bad", ledger.ErrAccountMismatch},
		{"account with another type than it has", []ledger.Entry{e("bad", t0, p(cashAsIncome, "1"), p(sales, "-1"))}, "bad", ledger.ErrAccountMismatch},
		{"account twice in an entry, differently", []ledger.Entry{e("bad", t0, p(cash, "1"), p(cashAsIncome, "-1"))}, "bad", ledger.ErrAccountMismatch},
		{"account differently in two entries", []ledger.Entry{
			e("first", t0, p(ledger.Account{Code: "new", Type: ledger.AccountAsset, Currency: "CHF"}, "1"), p(ledger.Account{Code: "other", Type: ledger.AccountIncome, Currency: "CHF"}, "-1")),
			e("bad", t0, p(ledger.Account{Code: "new", Type: ledger.AccountAsset, Currency: "EUR"}, "1"), p(sales, "-1")),
		}, "bad", ledger.ErrAccountMismatch},
		{"same key twice with different content", []ledger.Entry{good, transfer("good", t0, cash, sales, "6")}, "good", ledger.ErrConflict},
		{"reverses an unknown entry", []ledger.Entry{reversal("bad", t0, transfer("ghost", t0, cash, sales, "1"))}, "bad", ledger.ErrReversal},
		{"reverses itself", []ledger.Entry{func() ledger.Entry { x := transfer("bad", t0, cash, sales, "1"); x.Reverses = "bad"; return x }()}, "bad", ledger.ErrReversal},
		{"reversal that does not negate", []ledger.Entry{func() ledger.Entry {
			x := transfer("bad", t0, sales, cash, "2")
			x.Reverses = "existing"
			return x
		}()}, "bad", ledger.ErrReversal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// All of this is found before anything is written: the transaction stays usable.
			err := pgx.BeginFunc(f.ctx, f.pool, func(tx pgx.Tx) error {
				_, err := ledger.Apply(f.ctx, tx, tc.batch)
				if err == nil {
					t.Fatalf("Apply accepted it")
				}
				t.Log(err)
				if !errors.Is(err, tc.want) {
					t.Errorf("Apply: %v, want %v", err, tc.want)
				}
				var ee *ledger.EntryError
				if !errors.As(err, &ee) || ee.Key != tc.key {
					t.Errorf("Apply: %v, want an *EntryError for %q", err, tc.key)
				}
				if ledger.Retryable(err) {
					t.Errorf("Apply: %v is retryable; the same batch would fail the same way", err)
				}
				if _, err := ledger.Apply(f.ctx, tx, []ledger.Entry{transfer("after-"+tc.name, t0, cash, sales, "1")}); err != nil {
					t.Errorf("the transaction is not usable after the refusal: %v", err)
				}
				return errors.New("roll back")
			})
			if err == nil || err.Error() != "roll back" {
				t.Errorf("transaction: %v", err)
			}
		})
	}
	f.wantBalance(t, "assets:cash", "1")
	f.verifyLedger(t)
}

func TestApplyReversals(t *testing.T) {
	t.Parallel()
	f := setup(t)
	settle := e("settle", t0, p(bank, "95"), p(fees, "5"), p(cash, "-100"))
	f.mustApply(t, transfer("sale", t0, cash, sales, "100"), settle)

	t.Run("of a posted entry", func(t *testing.T) {
		res := f.mustApply(t, reversal("settle-failed", t0.Add(time.Hour), settle))
		if diff := cmp.Diff(ledger.Result{Posted: []string{"settle-failed"}}, res); diff != "" {
			t.Errorf("Result (-want +got):\n%s", diff)
		}
		f.wantBalance(t, "assets:cash", "100")
		f.wantBalance(t, "assets:bank", "0")
		var reversed string
		if err := f.pool.QueryRow(f.ctx, `SELECT o.idempotency_key FROM ledger.entries r
			JOIN ledger.entries o ON o.id = r.reverses_entry_id WHERE r.idempotency_key = 'settle-failed'`).Scan(&reversed); err != nil || reversed != "settle" {
			t.Errorf("settle-failed reverses %q (%v), want settle", reversed, err)
		}
	})
	t.Run("twice", func(t *testing.T) {
		_, err := f.apply(reversal("settle-failed-again", t0.Add(2*time.Hour), settle))
		var ee *ledger.EntryError
		if !errors.Is(err, ledger.ErrReversal) || !errors.As(err, &ee) || ee.Key != "settle-failed-again" ||
			!strings.Contains(err.Error(), `already reversed by "settle-failed"`) {
			t.Errorf("second reversal: %v", err)
		}
	})
	t.Run("replayed", func(t *testing.T) {
		res := f.mustApply(t, reversal("settle-failed", t0.Add(time.Hour), settle))
		if len(res.Duplicates) != 1 {
			t.Errorf("replayed reversal: %+v, want a duplicate", res)
		}
	})
	t.Run("of an entry earlier in the batch", func(t *testing.T) {
		s2 := e("settle-2", t0.Add(3*time.Hour), p(bank, "40"), p(cash, "-40"))
		res := f.mustApply(t, s2, reversal("settle-2-cancelled", t0.Add(4*time.Hour), s2))
		if len(res.Posted) != 2 {
			t.Errorf("Result %+v, want both posted", res)
		}
		f.wantBalance(t, "assets:cash", "100")
	})
	t.Run("of an entry later in the batch", func(t *testing.T) {
		s3 := e("settle-3", t0.Add(3*time.Hour), p(bank, "40"), p(cash, "-40"))
		_, err := f.apply(reversal("settle-3-cancelled", t0.Add(4*time.Hour), s3), s3)
		if !errors.Is(err, ledger.ErrReversal) || !strings.Contains(err.Error(), "later in the batch") {
			t.Errorf("reversal before its entry: %v", err)
		}
	})
	t.Run("twice in one batch", func(t *testing.T) {
		s4 := e("settle-4", t0.Add(3*time.Hour), p(bank, "40"), p(cash, "-40"))
		_, err := f.apply(s4, reversal("r1", t0.Add(4*time.Hour), s4), reversal("r2", t0.Add(4*time.Hour), s4))
		var ee *ledger.EntryError
		if !errors.Is(err, ledger.ErrReversal) || !errors.As(err, &ee) || ee.Key != "r2" {
			t.Errorf("two reversals of one entry: %v", err)
		}
	})
	t.Run("that does not negate an entry earlier in the batch", func(t *testing.T) {
		s5 := e("settle-5", t0.Add(3*time.Hour), p(bank, "40"), p(cash, "-40"))
		bad := reversal("r5", t0.Add(4*time.Hour), s5)
		bad.Postings[0].Amount = decimal.RequireFromString("-41")
		bad.Postings[1].Amount = decimal.RequireFromString("41")
		_, err := f.apply(s5, bad)
		if !errors.Is(err, ledger.ErrReversal) {
			t.Errorf("non-negating reversal: %v", err)
		}
	})
	f.verifyLedger(t)
}

// A posting is booked at its entry's effective time unless its account already has a later posting; the
// entry keeps the provider's time.
func TestApplyBooksLateFactsWhenLearned(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.mustApply(t, transfer("noon", t0.Add(3*time.Hour), cash, sales, "10"))
	f.mustApply(t,
		transfer("morning-late", t0, cash, opening, "1"), // cash has a posting at +3h: booked then
		transfer("morning-bank", t0, bank, opening, "2"), // bank has none: booked at t0
		transfer("evening", t0.Add(5*time.Hour), cash, bank, "3"),
		transfer("late-again", t0.Add(4*time.Hour), bank, opening, "4"), // bank's last is now +5h
	)
	want := map[string]map[string]time.Duration{ // entry → account → booked_at - t0
		"morning-late": {"assets:cash": 3 * time.Hour, "equity:opening": 0},
		"morning-bank": {"assets:bank": 0, "equity:opening": 0},
		"evening":      {"assets:cash": 5 * time.Hour, "assets:bank": 5 * time.Hour},
		"late-again":   {"assets:bank": 5 * time.Hour, "equity:opening": 4 * time.Hour},
	}
	rows, err := f.pool.Query(f.ctx, `SELECT e.idempotency_key, a.code, p.booked_at, e.effective_at
		FROM ledger.postings p JOIN ledger.entries e ON e.id = p.entry_id JOIN ledger.accounts a ON a.id = p.account_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var key, code string
		var booked, effective time.Time
		if err := rows.Scan(&key, &code, &booked, &effective); err != nil {
			t.Fatal(err)
		}
		if key == "noon" {
			continue
		}
		if d := booked.Sub(t0); d != want[key][code] {
			t.Errorf("%s on %s booked at t0%+v, want t0%+v", key, code, d, want[key][code])
		}
		if booked.Before(effective) {
			t.Errorf("%s on %s booked at %s, before it happened (%s)", key, code, booked, effective)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	// At t0+1h the late morning fact is not yet in cash's history; the bank's is.
	at := t0.Add(time.Hour)
	for code, want := range map[string]string{"assets:cash": "0", "assets:bank": "2"} {
		got, err := ledger.BalanceAt(f.ctx, f.pool, code, at)
		if err != nil || !got.Equal(decimal.RequireFromString(want)) {
			t.Errorf("BalanceAt(%s, t0+1h) = %s, %v; want %s", code, got, err, want)
		}
	}
	f.verifyLedger(t)
}

func TestApplyEmptyBatch(t *testing.T) {
	t.Parallel()
	f := setup(t)
	res, err := f.apply()
	if err != nil || len(res.Posted)+len(res.Duplicates) != 0 {
		t.Errorf("Apply(nothing) = %+v, %v", res, err)
	}
}

func TestApplyLargeBatch(t *testing.T) {
	t.Parallel()
	f := setup(t)
	var batch []ledger.Entry
	for i, k := range keys(3000, "big-") {
		other := ledger.Account{Code: "income:shop:" + string(rune('a'+i%26)), Type: ledger.AccountIncome, Currency: "EUR"}
		batch = append(batch, e(k, t0.Add(time.Duration(i)*time.Second), p(cash, "1.01"), p(fees, "0.02"), p(other, "-1.03")))
	}
	res := f.mustApply(t, batch...)
	if len(res.Posted) != 3000 {
		t.Fatalf("posted %d of 3000", len(res.Posted))
	}
	f.wantBalance(t, "assets:cash", "3030")
	f.wantBalance(t, "expenses:fees", "60")
	f.verifyLedger(t)
}
