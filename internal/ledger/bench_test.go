package ledger_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/mizanhq/mizan/internal/ledger"
)

// BenchmarkApply posts batches of 500 entries of 2–3 postings over 100 accounts plus one hot account that
// every entry touches, one transaction per batch, and reports entries per second.
func BenchmarkApply(b *testing.B) {
	f := setup(b)
	hot := ledger.Account{Code: "assets:hot", Type: ledger.AccountAsset, Currency: "EUR"}
	accounts := make([]ledger.Account, 100)
	for i := range accounts {
		accounts[i] = ledger.Account{Code: fmt.Sprintf("income:shop:%03d", i), Type: ledger.AccountIncome, Currency: "EUR"}
	}
	r := rand.New(rand.NewPCG(1, 2))
	const batchSize = 500
	newBatch := func(n int) []ledger.Entry {
		batch := make([]ledger.Entry, batchSize)
		for i := range batch {
			key := fmt.Sprintf("bench-%d-%d", n, i)
			at := t0.Add(time.Duration(n*batchSize+i) * time.Millisecond)
			if r.IntN(2) == 0 {
				batch[i] = transfer(key, at, hot, accounts[r.IntN(len(accounts))], "12.34")
			} else {
				batch[i] = e(key, at, p(hot, "10"), p(accounts[r.IntN(50)], "0.25"), p(accounts[50+r.IntN(50)], "-10.25"))
			}
			batch[i].Metadata = map[string]any{"event_id": key}
		}
		return batch
	}

	n := 0
	start := time.Now()
	for b.Loop() {
		b.StopTimer()
		batch := newBatch(n)
		n++
		b.StartTimer()
		res, err := f.apply(batch...)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Posted) != batchSize {
			b.Fatalf("posted %d of %d", len(res.Posted), batchSize)
		}
	}
	_ = start
	b.ReportMetric(float64(n*batchSize)/b.Elapsed().Seconds(), "entries/s")
}
