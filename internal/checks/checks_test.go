package checks

import (
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
)

var t0 = time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)

func d(n int64) decimal.Decimal { return decimal.NewFromInt(n) }

func TestRunningBalanceNamesBothItemsAndTheMissingAmount(t *testing.T) {
	t.Parallel()
	w := d(1_150)
	it := events.StatementItem{Provider: "vandar", Account: "acme", ItemID: "12", Currency: "IRT", WalletAfter: &w}
	ok := RunningBalance(&LastReported{ItemID: "11", Wallet: d(1_000)}, it, d(150))
	if ok.Outcome != OK {
		t.Fatalf("outcome %s", ok.Outcome)
	}
	br := RunningBalance(&LastReported{ItemID: "11", Wallet: d(1_000)}, it, d(100))
	if br.Outcome != Mismatch || !br.Difference.Equal(d(50)) || !br.Explains.Equal(d(50)) || !br.Sticky {
		t.Fatalf("%+v", br)
	}
	for _, want := range []string{"item 12", "item 11", "50 IRT"} {
		if !strings.Contains(br.Summary, want) {
			t.Errorf("summary lacks %q: %s", want, br.Summary)
		}
	}
	if first := RunningBalance(nil, it, d(100)); first.Outcome != OK {
		t.Fatal("the first item of a wallet has nothing to break")
	}
}

func TestBalanceWithinToleranceExplainedOrStale(t *testing.T) {
	t.Parallel()
	b := events.Balance{Provider: "vandar", Account: "acme", Currency: "IRT", Amount: d(1_000), ObservedAt: t0}
	tests := []struct {
		name              string
		ledger, explained int64
		tolerance         int64
		stale             bool
		outcome           Outcome
		raises            bool
	}{
		{"equal", 1_000, 0, 0, false, OK, false},
		{"within tolerance", 999, 0, 1, false, OK, false},
		{"drift", 990, 0, 0, false, Mismatch, true},
		{"drift an open alert already names", 990, 10, 0, false, Mismatch, false},
		{"drift larger than what is explained", 980, 10, 0, false, Mismatch, true},
		{"stale data is unknown, never OK", 1_000, 0, 0, true, Unknown, false},
	}
	for _, tt := range tests {
		r := Balance(b, d(tt.ledger), t0, d(tt.explained), d(tt.tolerance), tt.stale)
		if r.Outcome != tt.outcome || (r.DedupKey != "" && r.Outcome != OK) != tt.raises {
			t.Errorf("%s: outcome %s, dedup %q", tt.name, r.Outcome, r.DedupKey)
		}
	}
}

func TestSettlementLifecycle(t *testing.T) {
	t.Parallel()
	s := events.Settlement{Provider: "vandar", Account: "acme", SettlementID: "s1", TrackID: "t1", Amount: d(50_000),
		Currency: "IRT", IBAN: "IR000000000000000000000001", PredictedAt: t0, ObservedAt: t0.Add(-time.Hour)}
	grace := time.Hour
	pending := s
	pending.Status = events.SettlementPending
	if r := Settlement(pending, t0.Add(30*time.Minute), grace, false); r.Outcome != OK || r.DedupKey != "" {
		t.Errorf("on time: %+v", r)
	}
	if r := Settlement(pending, t0.Add(2*time.Hour), grace, false); r.Outcome != Mismatch || !strings.Contains(r.Summary, "t1") {
		t.Errorf("stuck: %+v", r)
	}
	done := s
	done.Status = events.SettlementDone
	if r := Settlement(done, t0.Add(3*time.Hour), grace, false); r.Outcome != OK || r.DedupKey == "" {
		t.Errorf("done resolves the stuck alert: %+v", r)
	}
	failed := s
	failed.Status = events.SettlementFailed
	failed.ObservedAt = t0
	if r := Settlement(failed, t0.Add(10*time.Minute), grace, false); r.Outcome != Unknown || r.DedupKey != "" {
		t.Errorf("failed, return still on its way: %+v", r)
	}
	if r := Settlement(failed, t0.Add(2*time.Hour), grace, false); r.Outcome != Mismatch || r.Check != CheckSettlementReturn {
		t.Errorf("failed, no return: %+v", r)
	}
	if r := Settlement(failed, t0.Add(2*time.Hour), grace, true); r.Outcome != OK {
		t.Errorf("failed and returned: %+v", r)
	}
}

func TestBatchMustAddUp(t *testing.T) {
	t.Parallel()
	b := events.Batch{Provider: "vandar", Account: "acme", BatchID: "b1", TotalCount: 2, TotalAmount: d(30_000),
		Counts: map[string]int{"submitted": 1, "failed": 1}, Amounts: map[string]decimal.Decimal{"submitted": d(10_000), "failed": d(20_000)},
		ItemsRead: true, Items: []events.BatchItem{{ID: "1", Amount: d(10_000), Status: "SUBMITTED"}, {ID: "2", Amount: d(20_000), Status: "FAILED"}}}
	if r := Batch(b); r.Outcome != OK {
		t.Fatalf("%+v", r)
	}
	b.Items[1].Amount = d(25_000)
	r := Batch(b)
	if r.Outcome != Mismatch || !strings.Contains(r.Summary, "35000") {
		t.Fatalf("%+v", r)
	}
}

func TestSnapshotMovements(t *testing.T) {
	t.Parallel()
	prev := events.Balance{Provider: "yabandpay", Account: "036870", Currency: "EUR", Amount: d(1_000), ObservedAt: t0,
		Figures: map[string]decimal.Decimal{"reserve": d(200), "deposit": d(20)}}
	cur := prev
	cur.ObservedAt = t0.Add(time.Hour)
	cur.Figures = map[string]decimal.Decimal{"reserve": d(250), "deposit": d(20)}
	rs := SnapshotMovement(prev, cur, d(-5), d(10))
	var mismatches []string
	for _, r := range rs {
		if r.Outcome == Mismatch {
			mismatches = append(mismatches, r.Subject)
		}
	}
	if len(mismatches) != 1 || !strings.HasSuffix(mismatches[0], "/reserve") {
		t.Fatalf("mismatches %v", mismatches)
	}
	rs = SnapshotMovement(prev, prev, d(-50), d(10))
	if rs[2].Outcome != Mismatch || !strings.Contains(rs[2].Summary, "fell by 50") {
		t.Fatalf("%+v", rs[2])
	}
}
