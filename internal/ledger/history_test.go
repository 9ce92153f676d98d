package ledger_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/ledger"
)

// randomEntry is a balanced entry over 2 or 3 distinct accounts of one currency, with amounts in cents (in
// whole units for the toman, which has no minor unit: the ledger refuses fractions of it).
func randomEntry(r *rand.Rand, key string, at time.Time, accounts []ledger.Account) ledger.Entry {
	exp := int32(-2)
	if accounts[0].Currency == "IRT" {
		exp = 0
	}
	n := 2 + r.IntN(2)
	picked := make([]ledger.Account, 0, n)
	for _, i := range r.Perm(len(accounts))[:n] {
		picked = append(picked, accounts[i])
	}
	x := ledger.Entry{IdempotencyKey: key, EffectiveAt: at}
	total := decimal.Zero
	for _, a := range picked[1:] {
		amt := decimal.New(int64(r.IntN(2_000_000)-1_000_000), exp)
		if amt.IsZero() {
			amt = decimal.New(1, exp)
		}
		x.Postings = append(x.Postings, ledger.Posting{Account: a, Amount: amt})
		total = total.Add(amt)
	}
	if total.IsZero() { // the last posting may not be zero: nudge one line
		x.Postings[0].Amount = x.Postings[0].Amount.Add(decimal.New(1, exp))
		total = total.Add(decimal.New(1, exp))
	}
	x.Postings = append(x.Postings, ledger.Posting{Account: picked[0], Amount: total.Neg()})
	return x
}

// BalanceAt equals a recomputation from the postings themselves (the sum of amounts booked at or before
// t), at arbitrary times, over a random history with facts arriving out of order; and booking times follow
// the rule Apply documents.
func TestBalanceAtMatchesRecomputation(t *testing.T) {
	t.Parallel()
	f := setup(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0x6d697a616e))

	eur := []ledger.Account{cash, bank, sales, fees, opening}
	irt := []ledger.Account{wallet, income, {Code: "expenses:irt", Type: ledger.AccountExpense, Currency: "IRT"}}
	span := 10 * time.Hour
	booked := map[string]time.Time{}       // the model: each account's last booking time
	wantBooked := map[string][]time.Time{} // account → booking times of its postings, in order
	for batch := range 8 {
		var entries []ledger.Entry
		for i := range 40 {
			at := t0.Add(time.Duration(r.Int64N(int64(span)))).Truncate(time.Microsecond)
			accounts := eur
			if r.IntN(4) == 0 {
				accounts = irt
			}
			entries = append(entries, randomEntry(r, fmt.Sprintf("h-%d-%d", batch, i), at, accounts))
		}
		if batch > 0 { // a replayed entry and a reversal now and then
			entries = append(entries, randomEntry(r, "h-0-0", t0, eur))
		}
		f.mustApply(t, entries...)
		for _, x := range entries {
			if x.IdempotencyKey == "h-0-0" && batch > 0 {
				continue
			}
			for _, p := range x.Postings {
				b := booked[p.Account.Code]
				if b.Before(x.EffectiveAt) {
					b = x.EffectiveAt
				}
				booked[p.Account.Code] = b
				wantBooked[p.Account.Code] = append(wantBooked[p.Account.Code], b)
			}
		}
	}
	f.verifyLedger(t)

	type posting struct {
		amount decimal.Decimal
		booked time.Time
	}
	history := map[string][]posting{}
	rows, err := f.pool.Query(f.ctx, `SELECT a.code, p.amount::text, p.booked_at FROM ledger.postings p
		JOIN ledger.accounts a ON a.id = p.account_id ORDER BY a.code, p.account_seq`)
	if err != nil {
		t.Fatal(err)
	}
	var times []time.Time
	for rows.Next() {
		var code, amount string
		var at time.Time
		if err := rows.Scan(&code, &amount, &at); err != nil {
			t.Fatal(err)
		}
		history[code] = append(history[code], posting{decimal.RequireFromString(amount), at})
		times = append(times, at, at.Add(-time.Microsecond), at.Add(time.Microsecond))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}

	for code, ps := range history {
		got := make([]time.Time, len(ps))
		for i, p := range ps {
			got[i] = p.booked
		}
		if !slices.EqualFunc(got, wantBooked[code], time.Time.Equal) {
			t.Errorf("%s booked at %v, want %v", code, got, wantBooked[code])
		}
	}

	for range 100 {
		times = append(times, t0.Add(time.Duration(r.Int64N(int64(span+2*time.Hour)))-time.Hour))
	}
	r.Shuffle(len(times), func(i, j int) { times[i], times[j] = times[j], times[i] })
	times = times[:300]
	for code, ps := range history {
		for _, at := range times {
			want := decimal.Zero
			for _, p := range ps {
				if !p.booked.After(at) {
					want = want.Add(p.amount)
				}
			}
			got, err := ledger.BalanceAt(f.ctx, f.pool, code, at)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(want) {
				t.Errorf("BalanceAt(%s, %s) = %s, recomputed %s", code, at.Format(time.RFC3339Nano), got, want)
			}
		}
		now, err := ledger.BalanceAt(f.ctx, f.pool, code, t0.Add(100*time.Hour))
		if err != nil || !now.Equal(f.balance(t, code)) {
			t.Errorf("BalanceAt(%s, after everything) = %s, %v; Balance says %s", code, now, err, f.balance(t, code))
		}
	}
}

// Several connections posting at once to one hot account lose nothing: the final balances are the sums of
// everything posted, every chain is intact and every key is posted exactly once.
func TestApplyConcurrentHotAccount(t *testing.T) {
	t.Parallel()
	f := setup(t)
	hot := ledger.Account{Code: "assets:hot", Type: ledger.AccountAsset, Currency: "EUR"}
	var others []ledger.Account
	for i := range 10 {
		others = append(others, ledger.Account{Code: fmt.Sprintf("income:shop:%d", i), Type: ledger.AccountIncome, Currency: "EUR"})
	}

	const workers, batches, perBatch = 4, 12, 25
	var (
		mu       sync.Mutex
		posted   = map[string]int{}
		expected = map[string]decimal.Decimal{} // by account, over distinct keys
		wg       sync.WaitGroup
	)
	// Every worker also carries the same shared entries, so some keys race between connections.
	shared := make([]ledger.Entry, batches)
	for i := range shared {
		shared[i] = transfer(fmt.Sprintf("shared-%d", i), t0, hot, others[i%len(others)], "0.01")
	}
	for _, x := range shared {
		for _, p := range x.Postings {
			expected[p.Account.Code] = expected[p.Account.Code].Add(p.Amount)
		}
	}
	for w := range workers {
		r := rand.New(rand.NewPCG(uint64(w), 42))
		var work [][]ledger.Entry
		for b := range batches {
			var batch []ledger.Entry
			for i := range perBatch {
				at := t0.Add(time.Duration(r.IntN(3600)) * time.Second)
				x := randomEntry(r, fmt.Sprintf("w%d-b%d-%d", w, b, i), at, others[:5])
				x.Postings = append(x.Postings, p(hot, "1.5"), p(others[5+r.IntN(5)], "-1.5"))
				batch = append(batch, x)
				for _, p := range x.Postings {
					expected[p.Account.Code] = expected[p.Account.Code].Add(p.Amount)
				}
			}
			batch = append(batch, shared[(b+w)%batches])
			work = append(work, batch)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, batch := range work {
				var res ledger.Result
				var err error
				for attempt := 0; attempt < 10; attempt++ {
					if res, err = f.apply(batch...); err == nil || !ledger.Retryable(err) {
						break
					}
				}
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
				mu.Lock()
				for _, k := range res.Posted {
					posted[k]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()

	for k, n := range posted {
		if n != 1 {
			t.Errorf("%s posted %d times", k, n)
		}
	}
	if want := workers*batches*perBatch + batches; len(posted) != want {
		t.Errorf("%d keys posted, want %d", len(posted), want)
	}
	for code, want := range expected {
		if got := f.balance(t, code); !got.Equal(want) {
			t.Errorf("balance of %s = %s, want %s", code, got, want)
		}
	}
	f.verifyLedger(t)
}

// Apply computes from locked balance rows: two transactions posting to one account, the second started
// while the first holds its locks, both succeed and the chain continues across them.
func TestApplyWaitsForLockedAccounts(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tx1, err := f.pool.Begin(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx1.Rollback(f.ctx) //nolint:errcheck
	if _, err := ledger.Apply(f.ctx, tx1, []ledger.Entry{transfer("first", t0.Add(time.Hour), cash, sales, "10")}); err != nil {
		t.Fatal(err)
	}
	second := make(chan error, 1)
	go func() {
		_, err := f.apply(transfer("second", t0, cash, sales, "5"))
		second <- err
	}()
	waitForLockWaiters(t, f, 1)
	if err := tx1.Commit(f.ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatalf("second writer: %v", err)
	}
	f.wantBalance(t, "assets:cash", "15")
	var seq int64
	var booked time.Time
	if err := f.pool.QueryRow(f.ctx, `SELECT p.account_seq, p.booked_at FROM ledger.postings p
		JOIN ledger.entries e ON e.id = p.entry_id JOIN ledger.accounts a ON a.id = p.account_id
		WHERE e.idempotency_key = 'second' AND a.code = 'assets:cash'`).Scan(&seq, &booked); err != nil {
		t.Fatal(err)
	}
	if seq != 2 || !booked.Equal(t0.Add(time.Hour)) {
		t.Errorf("second posting is #%d booked at %s; want #2 booked at the first's time %s", seq, booked, t0.Add(time.Hour))
	}
	f.verifyLedger(t)
}

// Two transactions posting one key on disjoint accounts don't wait for each other's locks, so neither sees
// the other's entry when it looks its keys up. The second to insert waits on the key's unique index, then
// fails with a Retryable error; retried, it finds the key posted and reports a duplicate.
func TestApplySameKeyRacingIsRetryable(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tx1, err := f.pool.Begin(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx1.Rollback(f.ctx) //nolint:errcheck
	if _, err := ledger.Apply(f.ctx, tx1, []ledger.Entry{transfer("race", t0, cash, sales, "1")}); err != nil {
		t.Fatal(err)
	}
	other := transfer("race", t0, bank, fees, "2")
	second := make(chan error, 1)
	go func() {
		_, err := f.apply(other)
		second <- err
	}()
	waitForLockWaiters(t, f, 1)
	if err := tx1.Commit(f.ctx); err != nil {
		t.Fatal(err)
	}
	err = <-second
	if !errors.Is(err, ledger.ErrConcurrent) || !ledger.Retryable(err) {
		t.Fatalf("second writer of the key: %v, want a Retryable ErrConcurrent", err)
	}
	res, err := f.apply(other)
	if err != nil || len(res.Duplicates) != 1 {
		t.Errorf("retry: %+v, %v; want a duplicate", res, err)
	}
	f.wantBalance(t, "assets:bank", "0")
	f.verifyLedger(t)
}
