package demo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mizanhq/mizan/internal/sources/bankstatement/banktest"
	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

// bankDrop is one bank account whose statement the demo drops: the source it adds to the sources file and,
// where one is planted, the payout whose credit never arrives.
type bankDrop struct {
	business, iban, file, note string
	source                     string // the sources-file entry
	missing                    string // the planted payout's track id ("" for a clean account)
}

// dropStatements writes the statements of one bank account of each demo business into dir: acme's as
// camt.053 (every payout credited), globex's as an Iranian bank's CSV export, with one payout — planted in
// the Vandar simulator for the purpose, a few days back — that never arrived. Each covers the simulated days
// up to yesterday.
func dropStatements(sim *vandartest.Server, dir string, days int) ([]bankDrop, error) {
	now := sim.Now()
	through := banktest.Day(now).AddDate(0, 0, -1)
	from := banktest.Day(now).AddDate(0, 0, -(days - 1))
	// The planted payout: paid early enough for its window to close before the statement ends.
	plantAt := from.Add(10 * time.Hour)
	if ten := banktest.Day(now).AddDate(0, 0, -10).Add(10 * time.Hour); ten.After(plantAt) {
		plantAt = ten
	}
	planted, err := sim.AddItem("globex", vandartest.NewItem{Kind: vandartest.KindSettlement, Amount: 73_150,
		CreatedAt: plantAt, ResolvedAt: plantAt.Add(2 * time.Hour)})
	if err != nil {
		return nil, fmt.Errorf("plant a payout in globex: %w", err)
	}
	var out []bankDrop
	for _, acct := range []struct {
		business, format, iban string
	}{{"acme", "camt053", firstIBAN(sim, "acme")}, {"globex", "csv", planted.IBAN}} {
		if acct.iban == "" {
			continue // no payout at all in so short a history
		}
		var payouts []banktest.Payout
		for _, it := range sim.Items(acct.business) {
			if it.Kind == vandartest.KindSettlement && it.IBAN == acct.iban && it.FinalStatus == vandartest.StatusSettlementDone &&
				!it.ResolvedAt.IsZero() && !it.ResolvedAt.After(now) {
				payouts = append(payouts, banktest.Payout{TrackID: it.TrackID, Amount: it.Amount, PaidAt: it.ResolvedAt, Payer: "وندار"})
			}
		}
		bk := bankDrop{business: acct.business, iban: acct.iban,
			note: fmt.Sprintf("%d payouts credited", len(payouts))}
		o := banktest.Options{IBAN: acct.iban, From: from, To: through, Opening: 1_500_000_000, Payouts: payouts,
			Seed: uint64(len(out) + 7), BatchEvery: 4}
		if acct.business == "globex" {
			o.Missing, bk.missing = []string{planted.TrackID}, planted.TrackID
			bk.note = fmt.Sprintf("%d payouts credited but one: planted, settlement %s (track %s) of %d IRT never arrived",
				len(payouts)-1, planted.UUID, planted.TrackID, planted.Amount)
		}
		st := banktest.Generate(o)
		sub := filepath.Join(dir, acct.iban)
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return nil, err
		}
		var data []byte
		var csvBlock string
		if acct.format == "camt053" {
			bk.file, data = filepath.Join(sub, st.ID+".xml"), banktest.CAMT053(st)
		} else {
			bk.file, data = filepath.Join(sub, st.ID+".csv"), banktest.CSV(st, banktest.Iranian)
			csvBlock = fmt.Sprintf(`
    csv: { skip_rows: 1, date: %q, debit: %q, credit: %q, balance: %q, description: %q, reference: %q, counterparty: %q, currency: IRR }`,
				banktest.HeaderDate, banktest.HeaderDebit, banktest.HeaderCredit, banktest.HeaderBalance,
				banktest.HeaderDescription, banktest.HeaderReference, banktest.HeaderPayer)
		}
		if err := os.WriteFile(bk.file, data, 0o644); err != nil {
			return nil, err
		}
		bk.source = fmt.Sprintf(`  - name: bank-%s
    provider: bankstatement
    iban: %s
    dir: %s%s
    feeds: { statements: "*/15 * * * *" }
`, strings.ToLower(acct.iban[len(acct.iban)-6:]), acct.iban, sub, csvBlock)
		out = append(out, bk)
	}
	return out, nil
}

// firstIBAN is the first (in order) of the accounts a business's settlements go to.
func firstIBAN(sim *vandartest.Server, business string) string {
	var ibans []string
	for _, it := range sim.Items(business) {
		if it.Kind == vandartest.KindSettlement && it.IBAN != "" {
			ibans = append(ibans, it.IBAN)
		}
	}
	if len(ibans) == 0 {
		return ""
	}
	return slices.Min(ibans)
}

// checkBankAlerts says whether the bank statements raised exactly what was planted: the missing credit's
// alert, naming its payout, and no other alert about a bank.
func checkBankAlerts(ctx context.Context, conn *pgx.Conn, banks []bankDrop) error {
	rows, err := conn.Query(ctx, `SELECT kind, summary FROM recon.alerts WHERE kind LIKE 'bank\_%' AND resolved_at IS NULL`)
	if err != nil {
		return err
	}
	type alert struct{ kind, summary string }
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (alert, error) {
		var a alert
		return a, r.Scan(&a.kind, &a.summary)
	})
	if err != nil {
		return err
	}
	for _, bk := range banks {
		if bk.missing == "" {
			continue
		}
		i := slices.IndexFunc(got, func(a alert) bool {
			return a.kind == "bank_credit_missing" && strings.Contains(a.summary, bk.missing)
		})
		if i < 0 {
			return fmt.Errorf("the payout planted missing from %s's bank statement (track %s) raised no bank_credit_missing alert",
				bk.business, bk.missing)
		}
		got = slices.Delete(got, i, i+1)
	}
	if len(got) > 0 {
		return fmt.Errorf("the bank statements raised alerts nothing was planted for: %v", got)
	}
	return nil
}
