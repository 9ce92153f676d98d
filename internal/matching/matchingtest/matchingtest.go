// Package matchingtest makes the business's side of a simulated Vandar business: the expectations its own
// systems would publish — an order for every gateway payment, a payout request for every settlement, a
// refund for every refund — with the four faults matching must catch planted. The tests and the local
// pipeline (`make run`) both use it.
package matchingtest

import (
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/matching"
	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

// Planted names the four faults Plant puts into a business's records.
type Planted struct {
	// Unpaid is the expectation id of an order nobody paid: its deadline is two days before the simulator's
	// now, so it is unpaid as soon as the statement is polled.
	Unpaid string
	// Mismatch is the expectation id of an order paid with a different amount (the order says 10,000 more
	// than the payment).
	Mismatch string
	// PaidTwice is the expectation id of an order paid twice: Plant adds a second gateway payment with its
	// factor number an hour after the first.
	PaidTwice string
	// Unexpected is the provider item id of a payment nobody expected: the business publishes no order for it.
	Unexpected string
	// Duplicate is the item id of the second payment of PaidTwice.
	Duplicate string
}

// settledBefore is how old a payment must be to be planted on: well past any pending state.
const settledBefore = 48 * time.Hour

// Plant plants the faults in a simulated business's history, as of the simulator's now, and says where. It
// adds one item to the simulator (the second payment of an order), so call it once, before the first poll
// (an item added into the past changes the running balance of every later item).
func Plant(sim *vandartest.Server, slug string) (Planted, error) {
	now := sim.Now()
	var paid []vandartest.Item
	var top int64
	for _, it := range sim.Items(slug) {
		if n, err := strconv.ParseInt(it.FactorNumber, 10, 64); err == nil {
			top = max(top, n)
		}
		if it.Kind == vandartest.KindIPG && it.Status == vandartest.StatusPaymentSucceeded && it.FactorNumber != "" &&
			it.CreatedAt.Before(now.Add(-settledBefore)) {
			paid = append(paid, it)
		}
	}
	if len(paid) < 3 {
		return Planted{}, fmt.Errorf("matchingtest: business %s has %d gateway payments older than %s; 3 are needed",
			slug, len(paid), settledBefore)
	}
	slices.SortFunc(paid, func(a, b vandartest.Item) int { return cmp.Compare(a.ID, b.ID) })
	mismatch, twice, unexpected := paid[0], paid[1], paid[2]
	dup, err := sim.AddItem(slug, vandartest.NewItem{Kind: vandartest.KindIPG, Amount: twice.Amount, Wage: twice.Wage,
		CreatedAt: twice.CreatedAt.Add(time.Hour), FactorNumber: twice.FactorNumber})
	if err != nil {
		return Planted{}, fmt.Errorf("matchingtest: pay order %s again: %w", twice.FactorNumber, err)
	}
	return Planted{
		Unpaid:     orderID(strconv.FormatInt(top+100_000, 10)),
		Mismatch:   orderID(mismatch.FactorNumber),
		PaidTwice:  orderID(twice.FactorNumber),
		Unexpected: strconv.FormatInt(unexpected.ID, 10),
		Duplicate:  strconv.FormatInt(dup.ID, 10),
	}, nil
}

func orderID(factor string) string { return "order-" + factor }

// Alerts lists the matching alerts the planted faults raise in business slug's Vandar account, each as
// "<kind> <subject>" (recon.alerts.kind and .subject), sorted: exactly these, and no other matching alert,
// once the unexpected grace has passed. The zero Planted raises none.
func (p Planted) Alerts(slug string) []string {
	if p == (Planted{}) {
		return nil
	}
	order := func(id string) string { return events.ProviderVandar + "/" + slug + "/expectation/" + id }
	out := []string{
		matching.AlertAmountMismatch + " " + order(p.Mismatch),
		matching.AlertPaidTwice + " " + order(p.PaidTwice),
		matching.AlertUnexpected + " " + events.ProviderVandar + "/" + slug + "/item/" + p.Unexpected,
		matching.AlertUnpaid + " " + order(p.Unpaid),
	}
	slices.Sort(out)
	return out
}

// Deadlines the business gives itself: an order is paid within a day, a payout or refund leaves within an
// hour of its request (the statement shows a settlement as soon as it is requested).
const (
	orderDeadline  = 24 * time.Hour
	payoutDeadline = time.Hour
)

// Expectations lists the business's records of slug as of the simulator's now, as its own systems would
// publish them (with planted's faults; the zero Planted plants nothing):
//   - an order for every gateway payment, by its factor number and gross amount, due a day after it was
//     created; cancelled if the payment failed (the customer gave up);
//   - a payout request for every settlement (single, queued once released, or a batch's item), by its track
//     id, due an hour after it was requested; cancelled if the settlement fails or is cancelled — the
//     business withdraws what the provider reported failed (the settlement check alerts the failure itself);
//   - a refund for every refund of a known payment, by that payment's id.
//
// Calling it again later lists more (what happened meanwhile) and the same records unchanged: publishing them
// again is harmless, the events have the same ids.
func Expectations(sim *vandartest.Server, slug string, planted Planted) ([]events.Expectation, error) {
	now := sim.Now()
	var out []events.Expectation
	base := func(id, kind string, it vandartest.Item, ref events.Reference, deadline time.Duration) events.Expectation {
		return events.Expectation{ExpectationID: id, Kind: kind, Provider: events.ProviderVandar, Account: slug,
			Reference: ref, Amount: decimal.NewFromInt(it.Amount), Currency: events.CurrencyToman,
			ExpectedBy: it.CreatedAt.Add(deadline).UTC(), Status: events.ExpectationOpen}
	}
	seenOrder := map[string]bool{}
	for _, it := range sim.Items(slug) {
		id := strconv.FormatInt(it.ID, 10)
		switch it.Kind {
		case vandartest.KindIPG:
			if it.FactorNumber == "" || id == planted.Unexpected || seenOrder[it.FactorNumber] {
				continue // a second payment of one order is the same order
			}
			seenOrder[it.FactorNumber] = true
			x := base(orderID(it.FactorNumber), events.ExpectPayment, it, events.Reference{FactorNumber: it.FactorNumber}, orderDeadline)
			if it.FinalStatus == vandartest.StatusPaymentFailed {
				x.Status = events.ExpectationCancelled
			}
			if x.ExpectationID == planted.Mismatch {
				x.Amount = x.Amount.Add(decimal.NewFromInt(10_000))
			}
			out = append(out, x)
		case vandartest.KindSettlement:
			if it.TrackID == "" {
				continue
			}
			x := base("payout-"+id, events.ExpectPayout, it, events.Reference{TrackID: it.TrackID}, payoutDeadline)
			if it.FinalStatus == vandartest.StatusSettlementFailed || it.FinalStatus == vandartest.StatusSettlementCanceled {
				x.Status = events.ExpectationCancelled
			}
			out = append(out, x)
		case vandartest.KindRefund:
			if it.RefundOf == 0 {
				continue
			}
			out = append(out, base("refund-"+id, events.ExpectRefund, it,
				events.Reference{PaymentItemID: strconv.FormatInt(it.RefundOf, 10)}, payoutDeadline))
		}
	}
	if planted.Unpaid != "" {
		factor := planted.Unpaid[len("order-"):]
		out = append(out, events.Expectation{ExpectationID: planted.Unpaid, Kind: events.ExpectPayment,
			Provider: events.ProviderVandar, Account: slug, Reference: events.Reference{FactorNumber: factor},
			Amount: decimal.NewFromInt(250_000), Currency: events.CurrencyToman,
			ExpectedBy: now.Add(-settledBefore).UTC(), Status: events.ExpectationOpen})
	}
	var bad []error
	for _, x := range out {
		if err := events.ValidateExpectation(x); err != nil {
			bad = append(bad, fmt.Errorf("%s: %w", x.ExpectationID, err))
		}
	}
	return out, errors.Join(bad...)
}

// Events wraps expectations as mizan.expected.v1 events stated at `at`, for publishing on events.TopicExpected.
func Events(exps []events.Expectation, at time.Time) ([]events.Event, error) {
	evs := make([]events.Event, 0, len(exps))
	for _, x := range exps {
		ev, err := x.Event(at)
		if err != nil {
			return nil, err
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

// WriteCSV writes expectations as the file `reconciler expect import` reads (matching.CSVColumns, with a
// header row): for a business, or a simulator, without Kafka.
func WriteCSV(w io.Writer, exps []events.Expectation) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(matching.CSVColumns); err != nil {
		return err
	}
	for _, x := range exps {
		row := make([]string, len(matching.CSVColumns))
		for i, c := range matching.CSVColumns {
			switch c {
			case "expectation_id":
				row[i] = x.ExpectationID
			case "kind":
				row[i] = x.Kind
			case "provider":
				row[i] = x.Provider
			case "account":
				row[i] = x.Account
			case matching.RefFactorNumber:
				row[i] = x.Reference.FactorNumber
			case matching.RefTrackID:
				row[i] = x.Reference.TrackID
			case matching.RefPaymentNumber:
				row[i] = x.Reference.PaymentNumber
			case matching.RefPaymentItemID:
				row[i] = x.Reference.PaymentItemID
			case "amount":
				row[i] = x.Amount.String()
			case "currency":
				row[i] = x.Currency
			case "expected_by":
				row[i] = x.ExpectedBy.UTC().Format(time.RFC3339Nano)
			case "status":
				row[i] = x.Status
			default:
				return fmt.Errorf("matchingtest: no value for the column %q", c)
			}
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// OrderRecord is the Kafka record value a business's producer sends for acme's order id (its factor number
// after "order-") of amount toman, published at at and due three days later.
func OrderRecord(id string, amount int64, at time.Time) ([]byte, error) {
	x := events.Expectation{ExpectationID: id, Kind: events.ExpectPayment, Provider: "vandar", Account: "acme",
		Reference: events.Reference{FactorNumber: strings.TrimPrefix(id, "order-")}, Amount: decimal.NewFromInt(amount),
		Currency: events.CurrencyToman, ExpectedBy: at.Add(72 * time.Hour), Status: events.ExpectationOpen}
	ev, err := x.Event(at)
	if err != nil {
		return nil, err
	}
	return ev.Marshal()
}
