package vandartest

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"time"
)

// ErrInsufficientFunds is returned when an added or changed item would take the wallet below zero at some
// point of its history: Vandar refuses such a settlement ("عدم کفایت موجودی"), so the simulator never shows one.
var ErrInsufficientFunds = errors.New("vandartest: the wallet would go negative")

// ErrUnknownItem is returned by the discrepancy knobs for an id the business does not have.
var ErrUnknownItem = errors.New("vandartest: no such item")

// business is one Vandar business: its whole item history and the wallet chain computed from it.
type business struct {
	slug    string
	loc     *time.Location
	id      identity
	opening int64
	rng     *rand.Rand // details of items added after generation, deterministic in the order of calls
	drift   int64      // planted: what the balance endpoint adds to the true wallet
	// noAPIToken leaves the gateway's api_token off payments (BusinessOptions.NoAPIToken).
	noAPIToken bool

	records []*record // sorted by id
	byID    map[int64]*record
	nextSeq map[int64]int64 // per created_at second: the next two-digit counter of the id

	// The chain: every item that ever moves the wallet, ordered by (effective time, id), with the balance
	// right after it. Rebuilt on every change. Because an item's balance only depends on the items ordered
	// before it, and those have all moved by the time it has, the balances do not depend on the clock: the
	// clock only decides how much of the chain has happened.
	chain       []link
	walletAfter map[int64]int64

	// Payouts beyond the statement (settlement.go, queued.go, batch.go). payoutRng draws the generated
	// batches and queued settlements, apart from rng so that adding them left every other item as it was.
	payoutRng *rand.Rand
	batches   []*batch // in the order made
	queue     []*queued
}

type link struct {
	at    time.Time
	id    int64
	after int64
}

func newBusiness(slug string, seed, opening int64, loc *time.Location) *business {
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x76616e646172))
	return &business{
		slug:        slug,
		loc:         loc,
		id:          newIdentity(rng),
		opening:     opening,
		rng:         rng,
		payoutRng:   rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x7061796f757473)),
		byID:        map[int64]*record{},
		nextSeq:     map[int64]int64{},
		walletAfter: map[int64]int64{},
	}
}

// allocate gives r its id: Vandar's ids are the creation second in unix time × 100 plus a two-digit counter
// (the settlement example's transaction_id 163559577610 is 2021-10-30 15:39:36 Tehran, its settlement_time,
// followed by "10"), so ids grow with created_at and an item added later into the past still gets an id
// that sorts by its creation time.
func (b *business) allocate(r *record) error {
	sec := r.created.Unix()
	seq := b.nextSeq[sec]
	if seq > 99 {
		return fmt.Errorf("vandartest: more than 100 items created in the second %s", r.created.UTC())
	}
	b.nextSeq[sec] = seq + 1
	r.id = sec*100 + seq
	return nil
}

// add inserts records (already allocated) without rebuilding the chain.
func (b *business) add(rs ...*record) {
	for _, r := range rs {
		r.day = jalaliDay(r.created, b.loc)
		b.byID[r.id] = r
		b.records = append(b.records, r)
	}
	slices.SortFunc(b.records, func(x, y *record) int { return cmp.Compare(x.id, y.id) })
}

// remove undoes add (for an insert that turned out to overdraw the wallet).
func (b *business) remove(rs ...*record) {
	for _, r := range rs {
		delete(b.byID, r.id)
		b.records = slices.DeleteFunc(b.records, func(x *record) bool { return x == r })
	}
}

// rebuild recomputes the chain and returns the lowest balance it reaches.
func (b *business) rebuild() int64 {
	b.chain = b.chain[:0]
	for _, r := range b.records {
		if at, ok := r.effective(); ok {
			b.chain = append(b.chain, link{at: at, id: r.id})
		}
	}
	sort.Slice(b.chain, func(i, j int) bool {
		if c := b.chain[i].at.Compare(b.chain[j].at); c != 0 {
			return c < 0
		}
		return b.chain[i].id < b.chain[j].id
	})
	clear(b.walletAfter)
	low, wallet := b.opening, b.opening
	for i := range b.chain {
		wallet += b.byID[b.chain[i].id].net()
		b.chain[i].after = wallet
		b.walletAfter[b.chain[i].id] = wallet
		low = min(low, wallet)
	}
	return low
}

// walletAt is the wallet balance at t: after every item that had moved it by then.
func (b *business) walletAt(t time.Time) int64 {
	i := sort.Search(len(b.chain), func(i int) bool { return b.chain[i].at.After(t) })
	if i == 0 {
		return b.opening
	}
	return b.chain[i-1].after
}

// item is r's state at now.
func (b *business) item(r *record, now time.Time) Item {
	it := Item{
		ID: r.id, UUID: r.uuid, Kind: r.kind, Status: r.statusAt(now), Channel: r.info.label,
		IsDeposit: r.deposit, Amount: r.amount, Wage: r.wage, CreatedAt: r.created, UpdatedAt: r.created,
		FinalStatus: r.final, ResolvedAt: r.resolved, TrackID: r.trackID, IBAN: r.iban,
		RevisedTransactionID: r.revised, RefundOf: r.refundOf,
		Hidden: r.hidden, Duplicated: r.duplicated, FeeMisSigned: r.misSignedFee,
		Stuck: r.stuck, ReturnWithheld: r.withheld, FactorNumber: r.det.factorNumber,
	}
	if r.batch != nil {
		it.BatchID = r.batch.id
	}
	if !now.Before(r.resolved) {
		it.UpdatedAt = r.resolved
	}
	if at, ok := r.effective(); ok && !at.After(now) {
		it.EffectiveAt, it.Wallet = at, b.walletAfter[r.id]
	}
	return it
}

// visible reports whether the statement shows r at all at now.
func visible(r *record, now time.Time) bool { return !r.created.After(now) }
