package analysts_test

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/matching"
)

// expectations gives acme's statement the business's side (docs/matching.md), through the matching code the
// reconciler runs: an order for most gateway payments and a payout request for most settlements, all met;
// two orders not due yet and one cancelled; the other payments and settlements unexplained; failed settlements
// left out (their requests withdrawn). Nothing in it is
// alerted (every deadline passed is met), so the alert views keep their own fixture's alerts.
//
// The fixture's raw items carry no factor number, so the lines given to matching carry one: F<item id>; and
// each settlement its track id, trk-<item id>, as the settlement feed reports it.
func (f *fixture) expectations(t *testing.T) {
	t.Helper()
	var items []matching.Item
	var stated []matching.Stated
	n := 0
	for _, it := range f.items {
		if it.Account != "acme" || !it.MovedWallet {
			continue
		}
		switch it.Kind {
		case events.KindPayment:
			it.Raw, _ = json.Marshal(map[string]any{"factorNumber": "F" + it.ItemID})
		case events.KindSettlement:
			if it.State != events.StateSucceeded && it.State != events.StatePending {
				continue // failed or cancelled: the business withdrew the request
			}
			it.TrackID = "trk-" + it.ItemID
		default:
			continue
		}
		items = append(items, matching.Item{StatementItem: it, EventID: "fixture-" + it.ItemID})
		if n++; n%5 == 0 {
			continue // one line in five nobody expected
		}
		x := events.Expectation{Provider: "vandar", Account: "acme", Amount: it.Amount, Currency: it.Currency,
			ExpectedBy: it.EffectiveAt.Add(24 * time.Hour), Status: events.ExpectationOpen}
		if it.Kind == events.KindPayment {
			x.ExpectationID, x.Kind, x.Reference = "order-F"+it.ItemID, events.ExpectPayment, events.Reference{FactorNumber: "F" + it.ItemID}
		} else {
			x.ExpectationID, x.Kind, x.Reference = "payout-"+it.ItemID, events.ExpectPayout, events.Reference{TrackID: it.TrackID}
		}
		stated = append(stated, matching.Stated{Expectation: x, Origin: matching.OriginCSV})
	}
	for i, due := range []time.Duration{3 * 24 * time.Hour, 10 * 24 * time.Hour, 5 * 24 * time.Hour} {
		x := events.Expectation{ExpectationID: "order-next-" + strconv.Itoa(i), Kind: events.ExpectPayment,
			Provider: "vandar", Account: "acme", Reference: events.Reference{FactorNumber: "N" + strconv.Itoa(i)},
			Amount: decimal.NewFromInt(int64(100_000 * (i + 1))), Currency: events.CurrencyToman, ExpectedBy: f.now.Add(due), Status: events.ExpectationOpen}
		if i == 2 {
			x.Status = events.ExpectationCancelled
		}
		stated = append(stated, matching.Stated{Expectation: x, Origin: matching.OriginCSV})
	}
	err := pgx.BeginFunc(f.ctx, f.pool, func(tx pgx.Tx) error {
		results, err := matching.New(matching.Config{}).Record(f.ctx, tx, stated, items, nil, f.now)
		for _, r := range results {
			if r.DedupKey != "" {
				t.Errorf("fixture: matching raised %s", r.DedupKey)
			}
		}
		return err
	})
	if err != nil {
		t.Fatalf("fixture: matching: %v", err)
	}
}
