package reconciler_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/ledger"
	"github.com/mizanhq/mizan/internal/pgtest"
)

// BenchmarkPostingReferenceChecks compares posting batches of 1,000 statement-shaped entries (wallet, fee,
// counter-account; 50 wallets) with the postings' references checked by foreign keys, row by row (before
// migration 00031), and by one statement-level trigger (after): two databases, batches alternating between
// them so that both meet the same machine. BENCH_BATCHES sets how many batches each gets (default 100).
//
//	go test -run '^$' -bench PostingReferenceChecks -benchtime 1x ./internal/reconciler/
func BenchmarkPostingReferenceChecks(b *testing.B) {
	batches := envInt("BENCH_BATCHES", 100)
	ctx := context.Background()
	statement, _ := pgtest.NewDB(b)
	rowLevel, _ := pgtest.NewDB(b)
	for _, sql := range []string{ // migration 00031's Down
		`ALTER TABLE ledger.postings
			ADD CONSTRAINT postings_entry_id_fkey FOREIGN KEY (entry_id) REFERENCES ledger.entries (id),
			ADD CONSTRAINT postings_account_currency_fkey FOREIGN KEY (account_id, currency) REFERENCES ledger.accounts (id, currency)`,
		`DROP TRIGGER postings_check_references ON ledger.postings`,
	} {
		if _, err := rowLevel.Exec(ctx, sql); err != nil {
			b.Fatal(err)
		}
	}
	acct := func(kind string, w int) ledger.Account {
		typ := map[string]ledger.AccountType{"wallet": ledger.AccountAsset, "fees": ledger.AccountExpense, "sales": ledger.AccountIncome}[kind]
		return ledger.Account{Code: fmt.Sprintf("%s:bench:biz%02d", kind, w), Type: typ, Currency: "IRT"}
	}
	var fkT, stmtT time.Duration
	for i := range batches {
		entries := make([]ledger.Entry, 1000)
		for j := range entries {
			n := i*1000 + j
			w := n % 50
			amount := decimal.NewFromInt(int64(10_000 + n%90_000))
			fee := decimal.Zero
			if n%10 < 7 {
				fee = amount.Div(decimal.NewFromInt(100)).Floor()
			}
			ps := []ledger.Posting{{Account: acct("wallet", w), Amount: amount.Sub(fee)}, {Account: acct("sales", w), Amount: amount.Neg()}}
			if !fee.IsZero() {
				ps = append(ps, ledger.Posting{Account: acct("fees", w), Amount: fee})
			}
			entries[j] = ledger.Entry{IdempotencyKey: fmt.Sprintf("bench:%d", n), EffectiveAt: t0.Add(time.Duration(n) * time.Second),
				Metadata: map[string]any{"event_id": fmt.Sprintf("%032x", n), "item_id": fmt.Sprint(n)}, Postings: ps}
		}
		post := func(db interface {
			Begin(context.Context) (pgx.Tx, error)
		}) time.Duration {
			start := time.Now()
			tx, err := db.Begin(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := ledger.Apply(ctx, tx, entries); err != nil {
				b.Fatal(err)
			}
			if err := tx.Commit(ctx); err != nil {
				b.Fatal(err)
			}
			return time.Since(start)
		}
		if i%2 == 0 {
			fkT += post(rowLevel)
			stmtT += post(statement)
		} else {
			stmtT += post(statement)
			fkT += post(rowLevel)
		}
	}
	perBatch := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(batches) / 1000 }
	b.ReportMetric(perBatch(fkT), "fk-ms/batch")
	b.ReportMetric(perBatch(stmtT), "stmt-ms/batch")
	b.ReportMetric(float64(batches*1000)/stmtT.Seconds(), "stmt-entries/s")
	b.ReportMetric(float64(batches*1000)/fkT.Seconds(), "fk-entries/s")
}
