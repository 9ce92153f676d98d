package apply_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mizanhq/mizan/internal/apply"
	"github.com/mizanhq/mizan/internal/checks"
	"github.com/mizanhq/mizan/internal/events"
)

// The payout loop against the business's bank statements, on a real PostgreSQL. The days: 2026-03-04 is a
// Wednesday; with two business days and Friday off, a payout paid then is due by Saturday 2026-03-07.

var tehran = checks.DefaultBankCalendar().Zone

const (
	followed    = "IR062960000000100324200001"
	unconfirmed = "assets:vandar:acme:payouts_unconfirmed:" + followed
	cash        = "assets:bank:" + followed + ":cash"
	unknownBank = "liabilities:bank:" + followed + ":unidentified"
)

// day is the start of a Tehran day.
func day(s string) time.Time {
	t, err := time.ParseInLocation(time.DateOnly, s, tehran)
	if err != nil {
		panic(err)
	}
	return t
}

// follow registers a bank-statement source for the followed IBAN, as the poller does at start-up.
func (b *bundle) follow(t *testing.T) {
	t.Helper()
	if _, err := b.pool.Exec(context.Background(), `INSERT INTO recon.sources (provider, account, source)
		VALUES ('bankstatement', $1, 'bank-main')`, followed); err != nil {
		t.Fatal(err)
	}
}

// credit is a line of the followed account's statement.
func credit(id, date, amount, desc string) events.BankLine {
	return events.BankLine{Provider: "bankstatement", IBAN: followed, Currency: events.CurrencyToman, LineID: id,
		BookingDate: date, BookedAt: day(date), Amount: d(amount), Description: desc, StatementID: "st",
		File: "st.xml", Line: 1, Raw: json.RawMessage(`{}`)}
}

// balanceOf is an opening (of the day's start) or closing (of its end) balance of the followed account.
func balanceOf(kind, date, amount, from, to string) events.BankBalance {
	at := day(date)
	if kind == events.BankBalanceClosing {
		at = at.AddDate(0, 0, 1)
	}
	bb := events.BankBalance{Provider: "bankstatement", IBAN: followed, Currency: events.CurrencyToman, StatementID: "st-" + to,
		Kind: kind, Date: date, At: at, From: from, To: to, Raw: json.RawMessage(`{}`)}
	if amount != "" {
		v := d(amount)
		bb.Amount = &v
	}
	return bb
}

// statement is one day's statement: its opening, its lines, its closing.
func statement(date, opening string, lines ...events.BankLine) []any {
	closing := d(opening)
	out := []any{balanceOf(events.BankBalanceOpening, date, opening, date, date)}
	for _, l := range lines {
		out = append(out, l)
		closing = closing.Add(l.Amount)
	}
	return append(out, balanceOf(events.BankBalanceClosing, date, closing.String(), date, date))
}

// paidOut puts 500,000 in acme's wallet, takes a payout of amount out to the followed IBAN on Monday and
// reports it DONE on Wednesday 2026-03-04 (its track id trk-2).
func (b *bundle) paidOut(t *testing.T, amount string) events.Settlement {
	t.Helper()
	mon := day("2026-03-02").Add(10 * time.Hour)
	rest := d("500000").Sub(d(amount)).String()
	b.apply(t, payment("1", "500000", "500000", mon), settlementItem("2", amount, rest, mon.Add(time.Hour)))
	s := settlement("2", events.SettlementDone, amount, day("2026-03-04").Add(11*time.Hour))
	s.IBAN, s.TrackID, s.CreatedAt = followed, "trk-2", mon.Add(time.Hour)
	b.apply(t, s)
	return s
}

func (b *bundle) wantBalances(t *testing.T, want map[string]string) {
	t.Helper()
	for code, v := range want {
		if got := b.balance(t, code); !got.Equal(d(v)) {
			t.Errorf("%s = %s, want %s", code, got, v)
		}
	}
}

func (b *bundle) runPeriodic(t *testing.T) {
	t.Helper()
	if err := pgx.BeginFunc(context.Background(), b.pool, func(tx pgx.Tx) error {
		_, err := b.a.Periodic(context.Background(), tx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func TestAPayoutToAnAccountWithoutStatementsGoesStraightToTheBank(t *testing.T) {
	t.Parallel()
	b := setup(t) // nobody reads the followed IBAN's statements here
	b.paidOut(t, "200000")
	b.wantBalances(t, map[string]string{transit: "0", "assets:vandar:acme:bank:" + followed: "200000"})
	if n := count(t, b, `SELECT count(*) FROM recon.bank_payouts`); n != 0 {
		t.Errorf("%d payouts awaiting a bank nobody reads", n)
	}
}

func TestAPayoutConfirmedByItsCreditMovesFromUnconfirmedToTheBank(t *testing.T) {
	t.Parallel()
	for _, order := range []string{"payout first", "credit first"} {
		t.Run(order, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.follow(t)
			days := statement("2026-03-05", "1000000", credit("l1", "2026-03-05", "200000", "تسویه وندار trk-2"),
				credit("l2", "2026-03-05", "-30000", "bank charges"))
			if order == "credit first" {
				b.apply(t, days...)
				b.wantBalances(t, map[string]string{cash: "1170000", unknownBank: "-170000"})
			}
			b.paidOut(t, "200000")
			if order == "payout first" {
				b.wantBalances(t, map[string]string{transit: "0", unconfirmed: "200000"})
				b.apply(t, days...)
			}
			// The bank holds what its statement says; the payout is at the bank; only the charge is unidentified.
			b.wantBalances(t, map[string]string{transit: "0", unconfirmed: "0", cash: "1170000", unknownBank: "30000",
				"equity:bank:" + followed + ":opening_balance": "-1000000"})
			var status, rule, line string
			if err := b.pool.QueryRow(context.Background(), `SELECT status, rule, line_id FROM recon.bank_payouts`).
				Scan(&status, &rule, &line); err != nil {
				t.Fatal(err)
			}
			if status != "matched" || rule != checks.BankRuleReference || line != "l1" {
				t.Errorf("payout %s by %s with line %s, want matched by reference with l1", status, rule, line)
			}
			if a := b.openAlerts(t); len(a) != 0 {
				t.Errorf("alerts: %+v", a)
			}
			var verdict string
			var days2 int
			if err := b.pool.QueryRow(context.Background(), `SELECT verdict, days_to_credit FROM analytics.bank_payouts`).
				Scan(&verdict, &days2); err != nil || verdict != "confirmed" || days2 != 1 {
				t.Errorf("analytics.bank_payouts: %s, %d days (%v)", verdict, days2, err)
			}
		})
	}
}

func TestAStatementFileDroppedTwiceOrOverlappingPostsEachLineOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.follow(t)
	l1, l2, l3 := credit("l1", "2026-03-05", "50000", "x"), credit("l2", "2026-03-06", "70000", "y"),
		credit("l3", "2026-03-07", "-20000", "z")
	first := []any{balanceOf(events.BankBalanceOpening, "2026-03-05", "100000", "2026-03-05", "2026-03-06"), l1, l2,
		balanceOf(events.BankBalanceClosing, "2026-03-06", "220000", "2026-03-05", "2026-03-06")}
	b.apply(t, first...)
	b.apply(t, first...) // the same file again: new events only if the poller forgot it, the same facts
	// A later statement that overlaps: Friday again, then Saturday.
	b.apply(t, balanceOf(events.BankBalanceOpening, "2026-03-06", "150000", "2026-03-06", "2026-03-07"), l2, l3,
		balanceOf(events.BankBalanceClosing, "2026-03-07", "200000", "2026-03-06", "2026-03-07"))
	b.wantBalances(t, map[string]string{cash: "200000"})
	if n := count(t, b, `SELECT count(*) FROM ledger.entries WHERE idempotency_key LIKE 'bank:%:line:%'`); n != 3 {
		t.Errorf("%d line entries, want 3", n)
	}
	if a := b.openAlerts(t); len(a) != 0 {
		t.Errorf("alerts: %+v", a)
	}
	var through time.Time
	if err := b.pool.QueryRow(context.Background(), `SELECT covered_through FROM recon.bank_accounts`).Scan(&through); err != nil ||
		through.Format(time.DateOnly) != "2026-03-07" {
		t.Errorf("statements through %s (%v)", through, err)
	}
}

func TestAClosingBalanceTheLedgerDoesNotHoldIsAlerted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.follow(t)
	b.apply(t, statement("2026-03-05", "100000", credit("l1", "2026-03-05", "50000", "x"))...)
	// The next statement misses a day: its opening balance is not what the ledger holds, nor its closing.
	b.apply(t, statement("2026-03-07", "175000", credit("l3", "2026-03-07", "5000", "z"))...)
	got := b.alerts(t, checks.CheckBankBalance)
	if len(got) != 1 || got[0].Severity != checks.SeverityCritical || !strings.Contains(got[0].Summary, followed) ||
		!strings.Contains(got[0].Summary, "-25000") {
		t.Fatalf("bank_balance alerts: %+v", got)
	}
	var outcomes []string
	rows, _ := b.pool.Query(context.Background(), `SELECT outcome FROM analytics.bank_statement_balances ORDER BY day, kind DESC`)
	outcomes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || strings.Join(outcomes, ",") != "OPENED,OK,MISMATCH,MISMATCH" {
		t.Errorf("outcomes %v (%v)", outcomes, err)
	}
	// The missing day's statement arrives after all: the ledger catches up and the next closing agrees.
	b.apply(t, statement("2026-03-06", "150000", credit("l2", "2026-03-06", "25000", "y"))...)
	b.apply(t, statement("2026-03-08", "180000", credit("l4", "2026-03-08", "1000", "w"))...)
	if got := b.alerts(t, checks.CheckBankBalance); len(got) != 0 {
		t.Errorf("bank_balance alerts after the gap was filled: %+v", got)
	}
}

func TestAPayoutWithoutItsCreditIsMissingOnlyOnceTheStatementsPassItsDueDay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		holidays  string // MIZAN_BANK_HOLIDAYS_FILE's content
		quietThru string // statements through this day raise nothing
		dueDay    string
	}{
		{"Friday is no business day", "", "2026-03-06", "2026-03-07"},
		{"nor is a bank holiday", "2026-03-07 a bank's closure\n", "2026-03-07", "2026-03-08"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			cal := checks.DefaultBankCalendar()
			if err := cal.ReadHolidays(strings.NewReader(tt.holidays)); err != nil {
				t.Fatal(err)
			}
			b.a = apply.New(checks.Config{Bank: checks.BankConfig{Calendar: cal}}, func() time.Time { return t0.Add(24 * time.Hour) })
			b.follow(t)
			b.paidOut(t, "200000")
			// Statements from the day it was requested up to the day before the due day: the credit may
			// still come.
			for d := day("2026-03-02"); !d.After(day(tt.quietThru)); d = d.AddDate(0, 0, 1) {
				b.apply(t, statement(d.Format(time.DateOnly), "0")...)
			}
			b.runPeriodic(t) // the clock plays no part: a week later, still nothing
			if a := b.alerts(t, checks.CheckBankCreditMissing); len(a) != 0 {
				t.Fatalf("missing before the statements reached the due day: %+v", a)
			}
			b.apply(t, statement(tt.dueDay, "0")...)
			a := b.alerts(t, checks.CheckBankCreditMissing)
			if len(a) != 1 || a[0].Severity != checks.SeverityCritical || a[0].Details["due_day"] != tt.dueDay {
				t.Fatalf("missing alerts: %+v", a)
			}
			for _, want := range []string{"settlement s-2", followed, "200000 IRT", "due by " + tt.dueDay} {
				if !strings.Contains(a[0].Summary, want) {
					t.Errorf("the alert does not say %q: %s", want, a[0].Summary)
				}
			}
			b.runPeriodic(t)
			b.apply(t, statement(day(tt.dueDay).AddDate(0, 0, 1).Format(time.DateOnly), "0")...)
			if n := count(t, b, `SELECT count(*) FROM recon.alerts WHERE kind = 'bank_credit_missing'`); n != 1 {
				t.Errorf("%d missing alerts, want one", n)
			}
			// A credit of the same amount after the window is not taken for it; one carrying its track id is,
			// whenever it comes: the alert resolves and the money reaches the bank.
			b.apply(t, statement("2026-03-10", "0", credit("late", "2026-03-10", "200000", "PAYA 1234"))...)
			if a := b.alerts(t, checks.CheckBankCreditMissing); len(a) != 1 {
				t.Fatalf("a credit outside the window met the payout: %+v", a)
			}
			b.apply(t, statement("2026-03-11", "200000", credit("ref", "2026-03-11", "200000", "PAYA trk-2"))...)
			if a := b.alerts(t, checks.CheckBankCreditMissing); len(a) != 0 {
				t.Errorf("missing alerts after its credit came: %+v", a)
			}
			b.wantBalances(t, map[string]string{unconfirmed: "0", cash: "400000", unknownBank: "-200000"})
		})
	}
}

func TestACreditThatLooksLikeAPayoutWithNoPayoutIsAlerted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.follow(t)
	b.apply(t, statement("2026-03-05", "0", credit("l1", "2026-03-05", "90000", "تسویه trk-999"),
		credit("l2", "2026-03-05", "40000", "rent from a tenant"))...)
	got := b.alerts(t, checks.CheckBankCreditUnexpected)
	if len(got) != 1 || got[0].Details["line_id"] != "l1" || !strings.Contains(got[0].Summary, "90000 IRT") {
		t.Fatalf("unexpected-credit alerts: %+v", got)
	}
	b.wantBalances(t, map[string]string{cash: "130000", unknownBank: "-130000"})
}

func TestAPayoutLikeCreditWaitsForThePayoutFeeds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.follow(t)
	// The settlement feed has been applied through Thursday noon only.
	b.apply(t, events.Watermark{Provider: events.ProviderVandar, Account: "acme", Feed: events.FeedSettlements,
		Source: "vandar-acme", Through: day("2026-03-05").Add(12 * time.Hour), PolledAt: day("2026-03-05").Add(12 * time.Hour)})
	b.apply(t, statement("2026-03-05", "0", credit("l1", "2026-03-05", "200000", "settlement trk-2"))...)
	if got := b.alerts(t, checks.CheckBankCreditUnexpected); len(got) != 0 {
		t.Fatalf("alerted before the payout feed was complete for the day: %+v", got)
	}
	b.paidOut(t, "200000") // its DONE comes: the credit is explained, not unexpected
	b.apply(t, events.Watermark{Provider: events.ProviderVandar, Account: "acme", Feed: events.FeedSettlements,
		Source: "vandar-acme", Through: day("2026-03-07"), PolledAt: day("2026-03-07")})
	if got := b.openAlerts(t); len(got) != 0 {
		t.Fatalf("alerts: %+v", got)
	}
	b.wantBalances(t, map[string]string{unconfirmed: "0", cash: "200000", unknownBank: "0"})
}

// With parallel apply workers a bank statement can be applied before the first watermark of a provider's payout
// feed. The feeds the sources registered say what to wait for; the watermarks seen so far cannot.
func TestAPayoutLikeCreditWaitsForARegisteredPayoutFeedNotYetSeen(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.follow(t)
	if _, err := b.pool.Exec(context.Background(), `
		INSERT INTO recon.sources (provider, account, source) VALUES ('vandar', 'acme', 'vandar-acme');
		INSERT INTO recon.source_feeds (provider, account, feed) VALUES ('vandar', 'acme', 'settlements')`); err != nil {
		t.Fatal(err)
	}
	b.apply(t, statement("2026-03-05", "0", credit("l1", "2026-03-05", "200000", "settlement trk-2"))...)
	if got := b.alerts(t, checks.CheckBankCreditUnexpected); len(got) != 0 {
		t.Fatalf("alerted before the registered payout feed was applied at all: %+v", got)
	}
	b.paidOut(t, "200000")
	b.apply(t, events.Watermark{Provider: events.ProviderVandar, Account: "acme", Feed: events.FeedSettlements,
		Source: "vandar-acme", Through: day("2026-03-07"), PolledAt: day("2026-03-07")})
	if got := b.openAlerts(t); len(got) != 0 {
		t.Fatalf("alerts: %+v", got)
	}
}

func TestACreditOfAnotherAmountIsMatchedByReferenceAndAlerted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.follow(t)
	b.paidOut(t, "200000")
	b.apply(t, statement("2026-03-05", "0", credit("l1", "2026-03-05", "199000", "واریز trk-2 از وندار"))...)
	got := b.alerts(t, checks.CheckBankAmountDiffers)
	if len(got) != 1 || got[0].Severity != checks.SeverityCritical || got[0].Details["difference"] != "-1000" ||
		!strings.Contains(got[0].Summary, "a difference of -1000 IRT") {
		t.Fatalf("amount alerts: %+v", got)
	}
	// What the bank did not show stays unconfirmed; nothing is unidentified.
	b.wantBalances(t, map[string]string{unconfirmed: "1000", cash: "199000", unknownBank: "0"})
	if a := b.alerts(t, checks.CheckBankCreditMissing); len(a) != 0 {
		t.Errorf("a matched payout is alerted missing: %+v", a)
	}
}

func TestAPayoutReturnedBeforeItsCreditIsAwaitedNoMore(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.follow(t)
	b.paidOut(t, "200000")
	b.apply(t, returnOf("3", "2", "200000", "500000", day("2026-03-05").Add(9*time.Hour)))
	b.wantBalances(t, map[string]string{wallet: "500000", transit: "0", unconfirmed: "0"})
	for _, dd := range []string{"2026-03-04", "2026-03-05", "2026-03-06", "2026-03-07", "2026-03-08"} {
		b.apply(t, statement(dd, "0")...)
	}
	if a := b.alerts(t, checks.CheckBankCreditMissing); len(a) != 0 {
		t.Errorf("a returned payout is alerted missing: %+v", a)
	}
	var verdict string
	if err := b.pool.QueryRow(context.Background(), `SELECT verdict FROM analytics.bank_payouts`).Scan(&verdict); err != nil ||
		verdict != "returned" {
		t.Errorf("verdict %q (%v)", verdict, err)
	}
}

func TestABankLineInAnotherCurrencyIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.follow(t)
	b.apply(t, credit("l1", "2026-03-05", "1", "x"))
	l := credit("l2", "2026-03-05", "1", "y")
	l.Currency = "EUR"
	ev, _ := l.Event()
	err := pgx.BeginFunc(context.Background(), b.pool, func(tx pgx.Tx) error {
		_, err := b.a.Apply(context.Background(), tx, []apply.Fact{{EventID: ev.ID, Value: l}})
		return err
	})
	var fe *apply.FactError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "kept in IRT") {
		t.Fatalf("err = %v, want a fact error naming the currency", err)
	}
}

// openAlerts are every open alert but the payout warnings the rules tests look at on their own.
func (b *bundle) openAlerts(t *testing.T) []string {
	t.Helper()
	rows, err := b.pool.Query(context.Background(), `SELECT kind || ': ' || summary FROM recon.alerts WHERE resolved_at IS NULL`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func count(t *testing.T, b *bundle, sql string) int {
	t.Helper()
	var n int
	if err := b.pool.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestTheFirstBalanceStatedOpensTheAccountEvenAfterLinesWithoutOne(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.follow(t)
	// An export without a balance column: its lines, and a closing fact that only says how far it reaches.
	b.apply(t, credit("l1", "2026-03-05", "50000", "x"), balanceOf(events.BankBalanceClosing, "2026-03-05", "", "2026-03-05", "2026-03-05"))
	// Then a statement with balances: the account opens at what the bank says it held, and agrees from then on.
	b.apply(t, statement("2026-03-06", "950000", credit("l2", "2026-03-06", "-20000", "y"))...)
	b.apply(t, statement("2026-03-07", "930000", credit("l3", "2026-03-07", "1000", "z"))...)
	b.wantBalances(t, map[string]string{cash: "931000", "equity:bank:" + followed + ":opening_balance": "-900000"})
	if a := b.openAlerts(t); len(a) != 0 {
		t.Errorf("alerts: %+v", a)
	}
}
