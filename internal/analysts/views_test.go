package analysts_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/ledger"
	"github.com/mizanhq/mizan/internal/posting"
)

// The views' numbers are recomputed from the fixture's own model of what was posted (every posting and the
// time it must have been booked at) and from the ledger's Go API — never from the views themselves. Every
// view is read as mizan_analyst, so the role's grants are exercised too.
func TestViewsAgreeWithTheLedger(t *testing.T) {
	t.Parallel()
	f := setup(t)

	t.Run("daily balances are the model's and ledger.BalanceAt's at each Tehran day end", func(t *testing.T) {
		t.Parallel()
		type row struct {
			account, day, balance string
			dayEnd                time.Time
			closed                bool
		}
		rows := query(t, f, `SELECT account, day::text, day_end, balance::text, closed FROM analytics.daily_balances
		                     ORDER BY account, day`,
			func(r pgx.CollectableRow) (row, error) {
				var x row
				return x, r.Scan(&x.account, &x.day, &x.dayEnd, &x.balance, &x.closed)
			})
		today := f.tehranDay(f.now)
		perAccount := map[string][]row{}
		for _, r := range rows {
			perAccount[r.account] = append(perAccount[r.account], r)
		}
		if len(perAccount) != len(f.bookings) {
			t.Errorf("daily balances for %d accounts, the ledger has %d", len(perAccount), len(f.bookings))
		}
		for code, days := range perAccount {
			first := f.bookings[code][0].at
			if days[0].day != f.tehranDay(first) || days[len(days)-1].day != today {
				t.Errorf("%s: days %s..%s, want %s (first posting) .. %s (today)", code, days[0].day,
					days[len(days)-1].day, f.tehranDay(first), today)
			}
			for i, r := range days {
				start, err := time.ParseInLocation(time.DateOnly, r.day, f.tehran)
				if err != nil {
					t.Fatal(err)
				}
				if want := f.tehranMidnight(start, 1); !r.dayEnd.Equal(want) {
					t.Errorf("%s %s: day_end %s, want the next Tehran midnight %s", code, r.day, r.dayEnd, want)
				}
				if i > 0 && f.tehranDay(r.dayEnd.Add(-time.Hour)) != r.day {
					t.Errorf("%s %s: day_end %s is not that day's end", code, r.day, r.dayEnd)
				}
				if i > 0 && !days[i-1].dayEnd.Equal(start) {
					t.Errorf("%s: day %s does not follow %s", code, r.day, days[i-1].day)
				}
				if want := f.balanceBefore(code, r.dayEnd); !dec(t, r.balance).Equal(want) {
					t.Errorf("%s at the end of %s: %s, want %s", code, r.day, r.balance, want)
				}
				if r.closed != (r.day != today) {
					t.Errorf("%s %s: closed = %v", code, r.day, r.closed)
				}
				// Month ends, through the Go API: what the document's first question relies on.
				if r.dayEnd.In(f.tehran).Day() == 1 {
					got, err := ledger.BalanceAt(f.ctx, f.pool, code, r.dayEnd.Add(-time.Microsecond))
					if err != nil {
						t.Fatal(err)
					}
					if !got.Equal(dec(t, r.balance)) {
						t.Errorf("%s at month end %s: view %s, ledger.BalanceAt %s", code, r.day, r.balance, got)
					}
				}
			}
		}
		// And every row against ledger.balance_at in SQL, as the view's comment promises.
		var off int
		if err := f.asAnalyst(t, func(tx pgx.Tx) error {
			return tx.QueryRow(f.ctx, `SELECT count(*) FROM analytics.daily_balances d
			    WHERE d.balance <> ledger.balance_at(d.account, d.day_end - interval '1 microsecond')`).Scan(&off)
		}); err != nil || off != 0 {
			t.Errorf("%d daily balances differ from ledger.balance_at (err %v)", off, err)
		}
	})

	t.Run("the Tehran day boundary is half-open", func(t *testing.T) {
		t.Parallel()
		// The fixture has an item at the last microsecond of a Tehran day and one at its end.
		before, after := f.tehranDay(f.boundary.Add(-time.Microsecond)), f.tehranDay(f.boundary)
		if before == after {
			t.Fatalf("fixture: %s is not a Tehran midnight", f.boundary)
		}
		days := query(t, f, `SELECT day::text FROM analytics.wallet_movements
		                     WHERE effective_at IN ($1, $2) ORDER BY effective_at`,
			pgx.RowTo[string], f.boundary.Add(-time.Microsecond), f.boundary)
		if len(days) != 4 || days[0] != before || days[1] != before || days[2] != after || days[3] != after {
			t.Errorf("items either side of midnight %s fall on days %v, want [%[2]s %[2]s %[3]s %[3]s]", f.boundary, days, before, after)
		}
	})

	t.Run("daily movements are the model's postings grouped by Tehran booking day", func(t *testing.T) {
		t.Parallel()
		type mv struct {
			debits, credits, net, opening, closing decimal.Decimal
			n                                      int64
		}
		want := map[string]*mv{}
		for code, bs := range f.bookings {
			for _, b := range bs {
				k := code + " " + f.tehranDay(b.at)
				m := want[k]
				if m == nil {
					start := f.tehranMidnight(b.at, 0)
					m = &mv{opening: f.balanceBefore(code, start), closing: f.balanceBefore(code, f.tehranMidnight(start, 1))}
					want[k] = m
				}
				if b.amount.IsPositive() {
					m.debits = m.debits.Add(b.amount)
				} else {
					m.credits = m.credits.Sub(b.amount)
				}
				m.net = m.net.Add(b.amount)
				m.n++
			}
		}
		type row struct {
			key                                    string
			debits, credits, net, opening, closing string
			n                                      int64
		}
		rows := query(t, f, `SELECT account || ' ' || day, debits::text, credits::text, net::text,
		                            opening_balance::text, closing_balance::text, postings
		                     FROM analytics.daily_movements`,
			func(r pgx.CollectableRow) (row, error) {
				var x row
				return x, r.Scan(&x.key, &x.debits, &x.credits, &x.net, &x.opening, &x.closing, &x.n)
			})
		if len(rows) != len(want) {
			t.Errorf("%d account-days moved, the model has %d", len(rows), len(want))
		}
		for _, r := range rows {
			m, ok := want[r.key]
			switch {
			case !ok:
				t.Errorf("%s: no postings that day in the model", r.key)
			case !dec(t, r.debits).Equal(m.debits) || !dec(t, r.credits).Equal(m.credits) || !dec(t, r.net).Equal(m.net) ||
				r.n != m.n || !dec(t, r.opening).Equal(m.opening) || !dec(t, r.closing).Equal(m.closing):
				t.Errorf("%s: debits %s credits %s net %s postings %d opening %s closing %s; want %s %s %s %d %s %s",
					r.key, r.debits, r.credits, r.net, r.n, r.opening, r.closing,
					m.debits, m.credits, m.net, m.n, m.opening, m.closing)
			}
		}
	})

	t.Run("balances now are ledger.Balance", func(t *testing.T) {
		t.Parallel()
		type row struct {
			account, balance, provider, providerAccount, name string
			postings                                          int64
		}
		rows := query(t, f, `SELECT account, balance::text, provider, provider_account, name, postings FROM analytics.balances`,
			func(r pgx.CollectableRow) (row, error) {
				var x row
				return x, r.Scan(&x.account, &x.balance, &x.provider, &x.providerAccount, &x.name, &x.postings)
			})
		if len(rows) != len(f.accounts) {
			t.Errorf("%d balances, the fixture posted to %d accounts", len(rows), len(f.accounts))
		}
		for _, r := range rows {
			got, err := ledger.Balance(f.ctx, f.pool, r.account)
			if err != nil {
				t.Fatal(err)
			}
			if !dec(t, r.balance).Equal(got) || !got.Equal(f.balanceBefore(r.account, f.now.AddDate(1, 0, 0))) {
				t.Errorf("%s: view %s, ledger.Balance %s", r.account, r.balance, got)
			}
			if int(r.postings) != len(f.bookings[r.account]) {
				t.Errorf("%s: %d postings, want %d", r.account, r.postings, len(f.bookings[r.account]))
			}
			parts := strings.Split(r.account, ":")
			if r.provider != parts[1] || r.providerAccount != parts[2] || r.name != parts[3] {
				t.Errorf("%s split as %s / %s / %s", r.account, r.provider, r.providerAccount, r.name)
			}
		}
	})

	t.Run("wallet movements are the statement items as posted", func(t *testing.T) {
		t.Parallel()
		type row struct {
			key, item, kind, channel, direction, event, amount, fee, change string
			status                                                          int
			effective, booked                                               time.Time
		}
		rows := query(t, f, `SELECT idempotency_key, coalesce(item_id, ''), kind, coalesce(channel, ''), direction,
		                            coalesce(source_event_id, ''), amount::text, fee::text, wallet_change::text,
		                            coalesce(status_code, 0), effective_at, booked_at
		                     FROM analytics.wallet_movements`,
			func(r pgx.CollectableRow) (row, error) {
				var x row
				return x, r.Scan(&x.key, &x.item, &x.kind, &x.channel, &x.direction, &x.event, &x.amount, &x.fee,
					&x.change, &x.status, &x.effective, &x.booked)
			})
		byKey := map[string]row{}
		for _, r := range rows {
			byKey[r.key] = r
		}
		onWallets := 0
		for _, e := range f.entries {
			if slices.ContainsFunc(e.Postings, func(p ledger.Posting) bool { return strings.Split(p.Account.Code, ":")[3] == "wallet" }) {
				onWallets++
			}
		}
		if len(rows) != onWallets || len(byKey) != len(rows) {
			t.Errorf("%d wallet movements (%d keys), the fixture posted %d entries on wallets", len(rows), len(byKey), onWallets)
		}
		posted := 0
		for _, it := range f.items {
			key := posting.StatementKey(it)
			r, ok := byKey[key]
			if !it.MovedWallet {
				if ok {
					t.Errorf("%s did not move the wallet but is a wallet movement", key)
				}
				continue
			}
			posted++
			want := row{key: key, item: it.ItemID, kind: it.Kind, channel: it.Channel, direction: it.Direction,
				event: f.entryEvent[key], amount: it.Amount.String(), fee: it.Fee.String(),
				change: posting.NetEffect(it).String(), status: it.StatusCode, effective: it.EffectiveAt, booked: r.booked}
			if key == f.lateKey {
				if !r.booked.After(r.effective) {
					t.Errorf("late item %s booked at %s, not after its effective time %s", key, r.booked, r.effective)
				}
			} else {
				want.booked = it.EffectiveAt
			}
			if !ok || r.key != want.key || r.item != want.item || r.kind != want.kind || r.channel != want.channel ||
				r.direction != want.direction || r.event != want.event || !dec(t, r.amount).Equal(it.Amount) ||
				!dec(t, r.fee).Equal(it.Fee) || !dec(t, r.change).Equal(posting.NetEffect(it)) ||
				r.status != want.status || !r.effective.Equal(want.effective) || !r.booked.Equal(want.booked) {
				t.Errorf("wallet movement\n got %+v\nwant %+v", r, want)
			}
		}
		if posted < 300 {
			t.Errorf("fixture: only %d items posted; want a few hundred", posted)
		}
		if byKey[posting.OpeningKey("vandar", "acme", "IRT")].kind != "opening" {
			t.Errorf("acme's opening balance is not a movement of kind opening: %+v", byKey[posting.OpeningKey("vandar", "acme", "IRT")])
		}
	})

	t.Run("daily fees are the items' fees by Tehran day of the provider's time and channel", func(t *testing.T) {
		t.Parallel()
		type agg struct {
			items        int64
			amount, fees decimal.Decimal
		}
		want := map[string]*agg{}
		for _, it := range f.items {
			if !it.MovedWallet {
				continue
			}
			k := fmt.Sprint(it.Account, " ", f.tehranDay(it.EffectiveAt), " ", it.Channel, " ", it.Kind)
			if want[k] == nil {
				want[k] = &agg{}
			}
			want[k].items++
			want[k].amount = want[k].amount.Add(it.Amount)
			want[k].fees = want[k].fees.Add(it.Fee)
		}
		type row struct {
			key, amount, fees string
			items             int64
		}
		rows := query(t, f, `SELECT provider_account || ' ' || day || ' ' || channel || ' ' || kind, items,
		                            amount::text, fees::text FROM analytics.daily_fees`,
			func(r pgx.CollectableRow) (row, error) {
				var x row
				return x, r.Scan(&x.key, &x.items, &x.amount, &x.fees)
			})
		if len(rows) != len(want) {
			t.Errorf("%d fee rows, the model has %d", len(rows), len(want))
		}
		total := map[string]decimal.Decimal{}
		for _, r := range rows {
			w, ok := want[r.key]
			if !ok || r.items != w.items || !dec(t, r.amount).Equal(w.amount) || !dec(t, r.fees).Equal(w.fees) {
				t.Errorf("%s: %d items, %s, fees %s; want %+v", r.key, r.items, r.amount, r.fees, w)
			}
			slug := strings.Fields(r.key)[0]
			total[slug] = total[slug].Add(dec(t, r.fees))
		}
		for _, b := range businesses {
			code := posting.Fees("vandar", b.slug, "IRT").Code
			if got := f.balanceBefore(code, f.now.AddDate(1, 0, 0)); !got.Equal(total[b.slug]) {
				t.Errorf("%s: daily fees add up to %s, the fees account holds %s", b.slug, total[b.slug], got)
			}
		}
	})

	t.Run("settlements are requested, then settled, returned or still in transit", func(t *testing.T) {
		t.Parallel()
		type row struct {
			account, item, settlement, stage, status    string
			amount, settled, returned                   string
			code                                        int
			requested, settledAt, returnedAt, predicted *time.Time
			inTransit                                   *int64 // microseconds
			overdue                                     *bool
			now                                         time.Time
		}
		rows := query(t, f, `SELECT provider_account, coalesce(item_id, ''), coalesce(settlement_id, ''), stage,
		                            coalesce(status, ''), coalesce(amount, 0)::text, coalesce(settled_amount, 0)::text,
		                            coalesce(returned_amount, 0)::text, coalesce(status_code, 0),
		                            requested_at, settled_at, returned_at, predicted_at,
		                            (extract(epoch FROM in_transit_for) * 1000000)::bigint, overdue, now()
		                     FROM analytics.settlements`,
			func(r pgx.CollectableRow) (row, error) {
				var x row
				return x, r.Scan(&x.account, &x.item, &x.settlement, &x.stage, &x.status, &x.amount, &x.settled,
					&x.returned, &x.code, &x.requested, &x.settledAt, &x.returnedAt, &x.predicted, &x.inTransit,
					&x.overdue, &x.now)
			})
		byItem := map[string]row{}
		stages := map[string]int{}
		transit := map[string]decimal.Decimal{} // what the rows say is still in transit, per business
		for _, r := range rows {
			byItem[r.account+"/"+r.item] = r
			stages[r.stage]++
			if r.stage != "not_in_statement" { // the feed's amount: nothing moved in the ledger yet
				transit[r.account] = transit[r.account].Add(dec(t, r.amount))
			}
			transit[r.account] = transit[r.account].Sub(dec(t, r.settled)).Sub(dec(t, r.returned))
		}
		eq := func(a *time.Time, b time.Time) bool { return (a == nil && b.IsZero()) || (a != nil && a.Equal(b)) }
		for _, p := range f.payouts {
			it := p.item
			r, ok := byItem[it.Account+"/"+it.ItemID]
			want, end := "in_transit", time.Time{}
			switch {
			case p.returnedBy.ItemID != "":
				want, end = "returned", p.returnedBy.EffectiveAt
			case !p.doneAt.IsZero():
				want, end = "settled", p.doneAt
			}
			var inTransit int64
			if end.IsZero() {
				inTransit = r.now.Sub(it.EffectiveAt).Microseconds()
			} else {
				inTransit = end.Sub(it.EffectiveAt).Microseconds()
			}
			settled := decimal.Zero
			if want == "settled" {
				settled = it.Amount
			}
			if !ok || r.stage != want || r.settlement != p.s.SettlementID || r.status != p.s.Status ||
				r.code != it.StatusCode || !dec(t, r.amount).Equal(it.Amount) || !dec(t, r.settled).Equal(settled) ||
				!eq(r.requested, it.EffectiveAt) || !eq(r.settledAt, p.doneAt) || !eq(r.returnedAt, p.returnedBy.EffectiveAt) ||
				!eq(r.predicted, p.s.PredictedAt) || r.inTransit == nil || *r.inTransit != inTransit || r.overdue == nil ||
				*r.overdue != (want == "in_transit" && p.s.PredictedAt.Before(r.now)) {
				t.Errorf("settlement %s/%s, want %s (done %s, returned by %q):\n got %+v", it.Account, it.ItemID, want,
					p.doneAt, p.returnedBy.ItemID, r)
			}
		}
		if fresh := byItem["acme/"]; stages["not_in_statement"] != 1 || stages["return_unmatched"] != 1 {
			t.Errorf("stages %v, want one settlement not in the statement yet and one unmatched return (%+v)", stages, fresh)
		}
		if len(rows) != len(f.payouts)+2 {
			t.Errorf("%d rows; the fixture has %d settlement items, one settlement only the feed knows and one unmatched return",
				len(rows), len(f.payouts))
		}
		for _, stage := range []string{"settled", "returned", "in_transit"} {
			if stages[stage] == 0 {
				t.Errorf("fixture: stages %v, want some %s", stages, stage)
			}
		}
		overdue := 0
		for _, r := range rows {
			if r.overdue != nil && *r.overdue {
				overdue++
			}
		}
		if overdue == 0 {
			t.Errorf("fixture: no settlement overdue")
		}
		for _, b := range businesses {
			held, err := ledger.Balance(f.ctx, f.pool, posting.InTransit("vandar", b.slug, "IRT").Code)
			if err != nil {
				t.Fatal(err)
			}
			if !held.Equal(transit[b.slug]) {
				t.Errorf("%s: settlements requested less settled and returned come to %s; settlements_in_transit holds %s",
					b.slug, transit[b.slug], held)
			}
		}
	})

	t.Run("balance comparisons put each reported balance beside the ledger's at that moment", func(t *testing.T) {
		t.Parallel()
		type row struct {
			event, wallet, reported, ledger, diff string
			comparable                            *bool
		}
		rows := query(t, f, `SELECT event_id, wallet_account, reported::text, ledger::text, difference::text, comparable
		                     FROM analytics.balance_comparisons`,
			func(r pgx.CollectableRow) (row, error) {
				var x row
				return x, r.Scan(&x.event, &x.wallet, &x.reported, &x.ledger, &x.diff, &x.comparable)
			})
		byEvent := map[string]row{}
		for _, r := range rows {
			byEvent[r.event] = r
		}
		if len(rows) != len(f.obs) {
			t.Errorf("%d comparisons, %d observations", len(rows), len(f.obs))
		}
		for _, o := range f.obs {
			r := byEvent[o.eventID]
			code := posting.Wallet(o.bal.Provider, o.bal.Account, o.bal.Currency).Code
			at, err := ledger.BalanceAt(f.ctx, f.pool, code, o.bal.ObservedAt)
			if err != nil {
				t.Fatal(err)
			}
			diff := o.bal.Amount.Sub(at)
			if r.wallet != code || !dec(t, r.ledger).Equal(at) || !at.Equal(o.ledger) || !dec(t, r.diff).Equal(diff) ||
				diff.IsZero() == o.mismatch {
				t.Errorf("observation of %s at %s (mismatch %v): got %+v, want ledger %s", code, o.bal.ObservedAt, o.mismatch, r, at)
			}
			tracked := o.bal.Provider == events.ProviderVandar
			if (r.comparable != nil) != tracked || (tracked && !*r.comparable) {
				t.Errorf("observation of %s at %s: comparable %v", code, o.bal.ObservedAt, r.comparable)
			}
		}
	})

	t.Run("check status says since when each outcome has held", func(t *testing.T) {
		t.Parallel()
		type row struct {
			check, subject, outcome string
			since                   time.Time
			n                       int64
		}
		rows := query(t, f, `SELECT check_name, subject, outcome, since, evaluations FROM analytics.check_status ORDER BY subject`,
			func(r pgx.CollectableRow) (row, error) {
				var x row
				return x, r.Scan(&x.check, &x.subject, &x.outcome, &x.since, &x.n)
			})
		got := map[string]row{}
		for _, r := range rows {
			got[r.check+" "+r.subject] = r
		}
		zeytoon, acme := got["balance vandar/zeytoon/wallet"], got["balance vandar/acme/wallet"]
		if zeytoon.outcome != "MISMATCH" || !zeytoon.since.Equal(f.mismatchAt.Add(time.Minute)) {
			t.Errorf("zeytoon's balance check: %+v, want MISMATCH since %s", zeytoon, f.mismatchAt.Add(time.Minute))
		}
		if acme.outcome != "OK" || !acme.since.Equal(f.obs[0].bal.ObservedAt.Add(time.Minute)) || acme.n < 70 {
			t.Errorf("acme's balance check: %+v, want OK since its first evaluation", acme)
		}
		if len(rows) != 4 || got["staleness yabandpay/m-4207/balance"].outcome != "UNKNOWN" {
			t.Errorf("check status rows: %+v", rows)
		}
	})

	t.Run("open alerts are the unresolved ones", func(t *testing.T) {
		t.Parallel()
		subjects := query(t, f, `SELECT subject FROM analytics.open_alerts ORDER BY subject`, pgx.RowTo[string])
		if strings.Join(subjects, " ") != "vandar/zeytoon/wallet yabandpay/m-4207/balance" {
			t.Errorf("open alerts: %v", subjects)
		}
	})

	t.Run("every entry has its source", func(t *testing.T) {
		t.Parallel()
		type row struct {
			key, event, provider, account, item, settlement, transaction string
		}
		rows := query(t, f, `SELECT e.idempotency_key, coalesce(s.source_event_id, ''), s.provider, s.provider_account,
		                            coalesce(s.item_id, ''), coalesce(s.settlement_id, ''), coalesce(s.transaction_id, '')
		                     FROM ledger.entries e LEFT JOIN ledger.entry_sources s ON s.entry_id = e.id`,
			func(r pgx.CollectableRow) (row, error) {
				var x row
				var p, a *string
				err := r.Scan(&x.key, &x.event, &p, &a, &x.item, &x.settlement, &x.transaction)
				if p != nil && a != nil {
					x.provider, x.account = *p, *a
				}
				return x, err
			})
		if len(rows) != len(f.entries) {
			t.Errorf("%d entries, the fixture posted %d", len(rows), len(f.entries))
		}
		for _, r := range rows {
			parts := strings.Split(r.key, ":")
			want := row{key: r.key, event: f.entryEvent[r.key], provider: parts[0], account: parts[1]}
			switch parts[2] {
			case "statement":
				want.item = parts[3]
			case "payout": // vandar:acme:payout:<statement item>:done, of settlement stl-<statement item>
				want.transaction, want.settlement = parts[3], "stl-"+parts[3]
			}
			if r != want {
				t.Errorf("entry source\n got %+v\nwant %+v", r, want)
			}
		}
	})
}

// query runs sql as mizan_analyst and collects its rows with scan.
func query[T any](t *testing.T, f *fixture, sql string, scan pgx.RowToFunc[T], args ...any) []T {
	t.Helper()
	var out []T
	err := f.asAnalyst(t, func(tx pgx.Tx) error {
		rows, err := tx.Query(f.ctx, sql, args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, scan)
		return err
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, sql)
	}
	return out
}
