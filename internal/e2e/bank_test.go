package e2e

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/config"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/ledger"
	"github.com/mizanhq/mizan/internal/sources/bankstatement"
	"github.com/mizanhq/mizan/internal/sources/bankstatement/banktest"
	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

// The payout loop closed by the business's bank statements: the Vandar simulator's month, acme's two bank
// accounts' statements generated from its paid settlements — one as camt.053, one as an Iranian bank's CSV —
// dropped into directories two bankstatement sources read; the poller, a real broker, the reconciler.

// paidTo are the simulator's payouts to iban that are done by now: what a bank would have credited.
func paidTo(b *bundle, business, iban string) []banktest.Payout {
	var out []banktest.Payout
	for _, it := range b.sim.Items(business) {
		if it.Kind == vandartest.KindSettlement && it.IBAN == iban && it.FinalStatus == vandartest.StatusSettlementDone &&
			!it.ResolvedAt.IsZero() && !it.ResolvedAt.After(b.clock()) {
			out = append(out, banktest.Payout{TrackID: it.TrackID, Amount: it.Amount, PaidAt: it.ResolvedAt, Payer: "وندار"})
		}
	}
	return out
}

// addBank adds a bankstatement source reading dir for iban.
func (b *bundle) addBank(iban, dir string, csv *bankstatement.CSVMapping) {
	b.t.Helper()
	b.extra = append(b.extra, config.Source{Name: "bank-" + strings.ToLower(iban[len(iban)-6:]), Provider: bankstatement.Name,
		Feeds: map[string]string{bankstatement.FeedStatements: "*/15 * * * *"},
		Settings: bankstatement.Settings{IBAN: iban, Dir: dir, Format: bankstatement.FormatAuto, Currency: events.CurrencyToman,
			Zone: banktest.Tehran(), CSV: csv}})
	b.poller = b.newPoller()
}

// dropFile writes a statement file into dir, finished an hour before the simulated now.
func (b *bundle) dropFile(dir, name string, data []byte) {
	b.t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		b.t.Fatal(err)
	}
	if err := os.Chtimes(p, b.clock().Add(-time.Hour), b.clock().Add(-time.Hour)); err != nil {
		b.t.Fatal(err)
	}
}

// iranianCSV is the mapping of banktest.Iranian exports.
var iranianCSV = &bankstatement.CSVMapping{SkipRows: 1, Date: banktest.HeaderDate, Debit: banktest.HeaderDebit,
	Credit: banktest.HeaderCredit, Balance: banktest.HeaderBalance, Description: banktest.HeaderDescription,
	Reference: banktest.HeaderReference, Counterparty: banktest.HeaderPayer, Currency: "IRR"}

func TestPayoutsAreConfirmedByTheBanksStatementsAndAMissingCreditIsAlerted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, checksNow, vandartest.Options{Businesses: []vandartest.BusinessOptions{
		{Slug: "acme", Seed: 71, Start: checksStart, Days: 30, PerDay: 40, OpeningWallet: 5_000_000},
	}})
	b.src.Feeds = allFeeds
	// acme pays out to two accounts of its own; mizan reads both banks' statements.
	var ibans []string
	for _, it := range b.sim.Items("acme") {
		if it.Kind == vandartest.KindSettlement && !slices.Contains(ibans, it.IBAN) {
			ibans = append(ibans, it.IBAN)
		}
	}
	if len(ibans) != 2 {
		t.Fatalf("acme pays out to %v", ibans)
	}
	slices.Sort(ibans)
	camtIBAN, csvIBAN := ibans[0], ibans[1]
	camtDir, csvDir := t.TempDir(), t.TempDir()
	b.addBank(camtIBAN, camtDir, nil)
	b.addBank(csvIBAN, csvDir, iranianCSV)

	// The CSV bank never credits one payout, paid two weeks ago, of an amount no other payout to it has.
	csvPaid := paidTo(b, "acme", csvIBAN)
	var missing banktest.Payout
	for _, p := range csvPaid {
		same := slices.ContainsFunc(csvPaid, func(q banktest.Payout) bool { return q.TrackID != p.TrackID && q.Amount == p.Amount })
		if !same && p.PaidAt.Before(checksNow.AddDate(0, 0, -14)) && p.PaidAt.After(checksStart.AddDate(0, 0, 3)) {
			missing = p
			break
		}
	}
	if missing.TrackID == "" {
		t.Fatal("no payout to plant as missing")
	}
	from, through := banktest.Day(checksStart), banktest.Day(checksNow).AddDate(0, 0, -1)
	camtSt := banktest.Generate(banktest.Options{IBAN: camtIBAN, From: from, To: through, Opening: 800_000_000,
		Payouts: paidTo(b, "acme", camtIBAN), Seed: 1, BatchEvery: 5})
	// And the camt.053 bank shows a credit that looks like a payout nobody made.
	stray := banktest.Line{Booking: through.AddDate(0, 0, -3), Signed: 1_234_560, Reference: "STRAY-1",
		Description: "واریز پایا تسویه وندار trk-nobody", CounterpartyName: "وندار"}
	camtSt.Lines = append(camtSt.Lines, stray)
	slices.SortStableFunc(camtSt.Lines, func(x, y banktest.Line) int { return x.Booking.Compare(y.Booking) })
	csvSt := banktest.Generate(banktest.Options{IBAN: csvIBAN, From: from, To: through, Opening: 90_000_000,
		Payouts: csvPaid, Missing: []string{missing.TrackID}, Seed: 2})
	b.dropFile(camtDir, "pasargad-202609.xml", banktest.CAMT053(camtSt))
	b.dropFile(csvDir, "melli-1405-06.csv", banktest.CSV(csvSt, banktest.Iranian))

	b.run(ctx)
	b.setNow(checksNow.Add(time.Minute))
	b.run(ctx) // polled again: nothing changes, nothing is alerted twice

	// Each bank account holds what its statement's closing balance says.
	for iban, st := range map[string]banktest.Statement{camtIBAN: camtSt, csvIBAN: csvSt} {
		got, err := ledger.Balance(ctx, b.pool, "assets:bank:"+iban+":cash")
		if err != nil {
			t.Fatal(err)
		}
		if want := decimal.NewFromInt(st.Closing() / 10); !got.Equal(want) {
			t.Errorf("%s: the ledger's bank account holds %s, the statement closes at %s", iban, got, want)
		}
	}
	// Every payout paid before the statements' last days is confirmed, but the missing one.
	type payout struct {
		TrackID, Status, Verdict string
		Amount                   decimal.Decimal
	}
	rows, err := b.pool.Query(ctx, `SELECT coalesce(p.track_id, ''), p.status, v.verdict, p.amount FROM recon.bank_payouts p
		JOIN analytics.bank_payouts v ON v.provider = p.provider AND v.provider_account = p.account
		  AND v.settlement_id IS NOT DISTINCT FROM p.settlement_id AND v.transaction_id IS NOT DISTINCT FROM p.transaction_id`)
	if err != nil {
		t.Fatal(err)
	}
	var payouts []payout
	for rows.Next() {
		var p payout
		if err := rows.Scan(&p.TrackID, &p.Status, &p.Verdict, &p.Amount); err != nil {
			t.Fatal(err)
		}
		payouts = append(payouts, p)
	}
	if len(payouts) < 10 {
		t.Fatalf("%d payouts awaited a bank: the month's settlements to the followed accounts were not routed to them", len(payouts))
	}
	confirmed, unconfirmed := 0, decimal.Zero
	for _, p := range payouts {
		switch {
		case p.TrackID == missing.TrackID:
			if p.Verdict != "missing" {
				t.Errorf("the missing payout's verdict is %s", p.Verdict)
			}
		case p.Verdict == "confirmed":
			confirmed++
		case p.Verdict != "awaiting_statement":
			t.Errorf("payout %s: %s (%s)", p.TrackID, p.Verdict, p.Status)
		}
		if p.Status == "unconfirmed" {
			unconfirmed = unconfirmed.Add(p.Amount)
		}
	}
	if confirmed < len(payouts)-4 {
		t.Errorf("%d of %d payouts confirmed", confirmed, len(payouts))
	}
	var ledgerUnconfirmed decimal.Decimal
	if err := b.pool.QueryRow(ctx, `SELECT coalesce(sum(balance), 0) FROM ledger.balances WHERE account LIKE 'assets:vandar:acme:payouts_unconfirmed:%'`).
		Scan(&ledgerUnconfirmed); err != nil {
		t.Fatal(err)
	}
	if !ledgerUnconfirmed.Equal(unconfirmed) {
		t.Errorf("payouts_unconfirmed holds %s, the unconfirmed payouts add up to %s", ledgerUnconfirmed, unconfirmed)
	}
	// The wallet still agrees with Vandar, and nothing went straight to the bank on Vandar's word.
	mustEqualWallet(t, b.walletBalance(ctx), b.sim.Wallet("acme"))
	if n := b.count(ctx, `SELECT count(*) FROM ledger.balances WHERE account LIKE 'assets:vandar:acme:bank:%' AND balance <> 0`); n != 0 {
		t.Errorf("%d bank accounts moved on the provider's word alone", n)
	}
	// Exactly the planted discrepancies are alerted, once each.
	bank := map[string][]alert{}
	for _, a := range b.alerts(ctx) {
		if strings.HasPrefix(a.Kind, "bank_") {
			bank[a.Kind] = append(bank[a.Kind], a)
		}
	}
	if m := bank["bank_credit_missing"]; len(m) != 1 || !strings.Contains(m[0].Summary, missing.TrackID) ||
		!strings.Contains(m[0].Summary, csvIBAN) || !strings.Contains(m[0].Summary, decimal.NewFromInt(missing.Amount).String()+" IRT") {
		t.Errorf("missing-credit alerts: %+v", m)
	}
	if u := bank["bank_credit_unexpected"]; len(u) != 1 || !strings.Contains(u[0].Summary, camtIBAN) || !strings.Contains(u[0].Summary, "123456 IRT") {
		t.Errorf("unexpected-credit alerts: %+v", u)
	}
	delete(bank, "bank_credit_missing")
	delete(bank, "bank_credit_unexpected")
	if len(bank) != 0 {
		t.Errorf("other bank alerts: %+v", bank)
	}
}

func TestWithoutABankSourcePayoutsGoStraightToTheBankAsBefore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, checksNow, vandartest.Options{Businesses: []vandartest.BusinessOptions{
		{Slug: "acme", Seed: 72, Start: checksStart, Days: 20, PerDay: 30, OpeningWallet: 5_000_000},
	}})
	b.src.Feeds = allFeeds
	b.poller = b.newPoller()
	b.run(ctx)
	if n := b.count(ctx, `SELECT count(*) FROM recon.bank_payouts`); n != 0 {
		t.Errorf("%d payouts wait for a bank whose statements nobody reads", n)
	}
	if n := b.count(ctx, `SELECT count(*) FROM ledger.balances WHERE account LIKE 'assets:vandar:acme:bank:%' AND balance > 0`); n == 0 {
		t.Error("no payout reached a bank account")
	}
}
