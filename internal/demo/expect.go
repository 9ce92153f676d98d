package demo

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/matching"
	"github.com/mizanhq/mizan/internal/matching/matchingtest"
	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

// The businesses' own records — their shops' orders, their payout tool's requests, their refunds — published
// as mizan.expected.v1 events the way a business's systems would (docs/matching.md), for matching to check
// against what Vandar's statements show.

// matchingFile is the demo's MIZAN_MATCHING_FILE for the one-off run. The businesses publish a record for
// every order, payout and refund they make, so a line no record explains is the planted one, not a record
// still on its way: the wait for one (an hour by default, for records that arrive after the provider's line)
// is cut to a nanosecond — nothing to wait for, zero being the default's placeholder — and the run's final
// checks, after it has gone idle, judge it. It was a second: a run that ingested everything and went idle
// within that second (the whole demo's statement takes a few hundred milliseconds) judged the planted line
// too early and missed its alert, a run whose verdict depended on the machine's speed.
const matchingFile = `# Written by the demo: the businesses publish every record before the first poll.
defaults:
  unexpected_grace: 1ns
`

// matchingFileLive is the same for `make up`: new orders are published as the simulator's clock reaches
// them, every few seconds, while the poller reads the statement every minute, so a line may now arrive first;
// two minutes is ample for its record to follow.
const matchingFileLive = `# Written by the demo (--keep-running): the businesses publish new records every few seconds.
defaults:
  unexpected_grace: 2m
`

// shop publishes the businesses' records to Kafka: every expectation once, an updated one (a payment that
// failed is an order cancelled) again. Its events are not signed: the business's systems hold no poller key,
// and the trust gate believes expectations unsigned (docs/matching.md, "Who may publish").
type shop struct {
	pub     *kafka.Publisher
	sim     *vandartest.Server
	planted map[string]matchingtest.Planted // by business; a business not named is clean
	sent    map[string]bool                 // event ids already published
}

func newShop(brokers []string, sim *vandartest.Server, planted map[string]matchingtest.Planted) *shop {
	return &shop{pub: kafka.NewPublisher(kafka.Config{Brokers: brokers, ClientID: "demo-shop"}), sim: sim,
		planted: planted, sent: map[string]bool{}}
}

func (s *shop) Close() error { return s.pub.Close() }

// publish publishes what is new in every business's records since the last call and says, per business,
// how many records of each kind it published.
func (s *shop) publish(ctx context.Context) (map[string]map[string]int, error) {
	counts := map[string]map[string]int{}
	var fresh []events.Event
	for _, b := range s.sim.Businesses() {
		exps, err := matchingtest.Expectations(s.sim, b, s.planted[b])
		if err != nil {
			return nil, fmt.Errorf("the records of %s: %w", b, err)
		}
		evs, err := matchingtest.Events(exps, time.Now())
		if err != nil {
			return nil, fmt.Errorf("the records of %s: %w", b, err)
		}
		counts[b] = map[string]int{}
		for i, ev := range evs {
			if s.sent[ev.ID] {
				continue
			}
			fresh = append(fresh, ev)
			counts[b][exps[i].Kind]++
		}
	}
	if err := s.pub.Publish(ctx, events.TopicExpected, fresh); err != nil {
		return nil, err
	}
	for _, ev := range fresh {
		s.sent[ev.ID] = true
	}
	return counts, nil
}

// keepPublishing publishes new records every few seconds until ctx is done: the shops of `make up`.
func (s *shop) keepPublishing(ctx context.Context, warn func(error)) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.publish(ctx); err != nil && ctx.Err() == nil {
				warn(err)
			}
		}
	}
}

// describeCounts renders publish's counts of one business: "412 orders, 95 payout requests, 27 refunds".
func describeCounts(c map[string]int) string {
	var parts []string
	for _, k := range []struct{ kind, one, many string }{
		{events.ExpectPayment, "order", "orders"},
		{events.ExpectPayout, "payout request", "payout requests"},
		{events.ExpectRefund, "refund", "refunds"},
	} {
		name := k.many
		if c[k.kind] == 1 {
			name = k.one
		}
		parts = append(parts, fmt.Sprintf("%s %s", group(int64(c[k.kind])), name))
	}
	return strings.Join(parts, ", ")
}

// plantings is everything the demo plants in globex, for the summary to pair each with the alert it must
// raise.
type plantings struct {
	business  string
	hidden    vandartest.Item // left out of the statement
	misSigned vandartest.Item // its fee applied to the wallet with the wrong sign
	drift     int64           // what the balance endpoint reports beyond the wallet
	records   matchingtest.Planted
}

// plant puts discrepancies into a business for the checks to catch: in Vandar's books a statement item
// missing, a fee applied with the wrong sign and a balance that drifts; in the business's own records an
// order never paid, one paid with another amount, one paid twice, and a payment no order expects
// (matchingtest.Plant). The item left out is a form payment: it carries no order number, so no record of
// the business names it and only the ledger's checks can miss it.
func plant(sim *vandartest.Server, business string) (plantings, error) {
	p := plantings{business: business, drift: 25_000}
	var err error
	// First, as matchingtest.Plant requires: it adds an item to the history.
	if p.records, err = matchingtest.Plant(sim, business); err != nil {
		return p, fmt.Errorf("%w: give it more days (--days)", err)
	}
	items := sim.Items(business)
	for _, it := range items[len(items)/3:] {
		if it.EffectiveAt.IsZero() || it.Wage == 0 {
			continue
		}
		switch {
		case p.hidden.ID == 0 && it.Kind == vandartest.KindForm:
			if err := sim.HideItem(business, it.ID); err != nil {
				return p, err
			}
			p.hidden = it
		case p.misSigned.ID == 0 && (it.Kind == vandartest.KindIPG || it.Kind == vandartest.KindForm):
			if err := sim.MisSignFee(business, it.ID); err != nil {
				continue
			}
			p.misSigned = it
		}
	}
	if p.hidden.ID == 0 || p.misSigned.ID == 0 {
		return p, fmt.Errorf("business %s has no form payment with a fee to leave out or no payment to mis-sign: "+
			"give it more days (--days)", business)
	}
	return p, sim.DriftBalance(business, p.drift)
}

// fault is one planted discrepancy: what it is, and how to know the alert it must raise.
type fault struct {
	what   string
	raised func(alert) bool
}

// faults lists what was planted in the business, each with the alert it must raise, and the payout left out
// of each bank statement.
func (p plantings) faults(banks []bankDrop) []fault {
	r := p.records
	wallet := "vandar/" + p.business + "/wallet/IRT"
	order := func(id string) string { return "vandar/" + p.business + "/expectation/" + id }
	raises := func(kind, subject string) func(alert) bool {
		return func(a alert) bool { return a.kind == kind && a.subject == subject }
	}
	// The gap a hidden item leaves in the running balance is what it moved the wallet by; a mis-signed fee
	// breaks it at the item itself; the balance alert names the part of its difference no other alert explains.
	gap, misSigned, drift := decimal.NewFromInt(p.hidden.Amount-p.hidden.Wage), fmt.Sprint(p.misSigned.ID), decimal.NewFromInt(p.drift)
	out := []fault{
		{fmt.Sprintf("item %d (%s IRT in by a payment form, fee %s) left out of the statement",
			p.hidden.ID, group(p.hidden.Amount), group(p.hidden.Wage)),
			func(a alert) bool {
				return a.kind == "running_balance" && a.subject == wallet && detail(a, "difference").Equal(gap)
			}},
		{fmt.Sprintf("item %d's fee of %s IRT applied to the wallet with the wrong sign", p.misSigned.ID, group(p.misSigned.Wage)),
			func(a alert) bool {
				return a.kind == "running_balance" && a.subject == wallet && a.details["item_id"] == misSigned
			}},
		{fmt.Sprintf("the balance endpoint reports %s IRT more than the wallet holds", group(p.drift)),
			func(a alert) bool {
				return a.kind == "balance" && a.subject == wallet &&
					detail(a, "difference").Sub(detail(a, "explained_by_open_alerts")).Equal(drift)
			}},
		{fmt.Sprintf("the shop's order %s was never paid", r.Unpaid), raises(matching.AlertUnpaid, order(r.Unpaid))},
		{fmt.Sprintf("the shop's order %s says 10,000 IRT more than its customer paid", r.Mismatch),
			raises(matching.AlertAmountMismatch, order(r.Mismatch))},
		{fmt.Sprintf("the shop's order %s was paid twice (the second payment is item %s)", r.PaidTwice, r.Duplicate),
			raises(matching.AlertPaidTwice, order(r.PaidTwice))},
		{fmt.Sprintf("gateway payment item %s has no order in the shop's records", r.Unexpected),
			raises(matching.AlertUnexpected, "vandar/"+p.business+"/item/"+r.Unexpected)},
	}
	for i := range out {
		out[i].what = p.business + ": " + out[i].what
	}
	for _, bk := range banks {
		if bk.missing == "" {
			continue
		}
		track := bk.missing
		out = append(out, fault{fmt.Sprintf("%s: a payout (track %s) Vandar paid never credited on the bank statement", bk.business, track),
			func(a alert) bool { return a.kind == "bank_credit_missing" && strings.Contains(a.text, track) }})
	}
	return out
}

// recordsOf lists the businesses in order, each with what publish counted.
func recordsOf(counts map[string]map[string]int) []string {
	var out []string
	for _, b := range slices.Sorted(maps.Keys(counts)) {
		out = append(out, fmt.Sprintf("%s: %s", b, describeCounts(counts[b])))
	}
	return out
}
