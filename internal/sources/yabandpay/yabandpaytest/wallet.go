package yabandpaytest

import (
	"cmp"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/shopspring/decimal"
)

// Figures are a wallet's four balances in one currency, as YabandPay names them: available, reserve
// (储备金余额), usable (可支配金额) and deposit (冻结余额, frozen). The simulator reports them with two decimals,
// as the documents' example does.
type Figures struct {
	Available decimal.Decimal
	Reserve   decimal.Decimal
	Usable    decimal.Decimal
	Deposit   decimal.Decimal
}

// Movement kinds of a wallet.
type moveKind int

const (
	movePayment    moveKind = iota + 1 // a customer paid: available rises
	movePayout                         // a payout to the merchant's bank: available falls
	moveReserve                        // the reserve is set anew (rolling reserve recalculated)
	moveDeposit                        // the frozen deposit is set anew
	moveDrop                           // DropAvailable: available falls with no payout to explain it
	moveSetFigures                     // SetFigures: all four figures as given
)

// move is one change to a wallet at one moment. Payments, payouts and drops carry the change of available;
// reserve and deposit moves the new value; a SetFigures move all four figures.
type move struct {
	at      time.Time
	seq     int // order among moves at the same instant: the order they were made
	kind    moveKind
	amount  decimal.Decimal
	figures Figures
}

// snap is a wallet's figures right after a move.
type snap struct {
	at time.Time
	f  Figures
}

// wallet is one currency of one merchant: its opening figures and every move since, generated or planted.
//
// Generated activity is drawn lazily as the clock asks for later times, stream by stream, each stream from its
// own seeded generator: the same seed and start always give the same history, whatever times are asked for in
// whatever order. Payments arrive at random (exponential gaps of PaymentEvery on average); a payout leaves
// once a day with most of what is available; the reserve is recalculated about weekly and the frozen deposit
// about monthly — rare changes, which is what the reconciler's checks watch for.
type wallet struct {
	currency string
	opening  Figures
	usable   func(available, reserve decimal.Decimal) decimal.Decimal

	moves []move
	snaps []snap // snaps[i] is the state after moves[i]
	seq   int

	quiet   bool
	horizon time.Time // activity is generated up to here (inclusive)
	streams []*stream
}

// stream is one kind of generated activity and when it next happens.
type stream struct {
	kind moveKind
	next time.Time
	rng  *rand.Rand
	gap  func(r *rand.Rand) time.Duration
}

func newWallet(currency string, opening Figures, seed int64, start time.Time, paymentEvery time.Duration, quiet bool,
	usable func(available, reserve decimal.Decimal) decimal.Decimal) *wallet {
	w := &wallet{currency: currency, opening: opening, usable: usable, quiet: quiet, horizon: start}
	w.opening.Usable = usable(opening.Available, opening.Reserve)
	if quiet {
		return w
	}
	h := fnv.New64a()
	h.Write([]byte(currency))
	base := uint64(seed) ^ h.Sum64()
	newRNG := func(k moveKind) *rand.Rand { return rand.New(rand.NewPCG(base, uint64(k)*0x9e3779b97f4a7c15)) }
	jitter := func(mean, spread time.Duration) func(r *rand.Rand) time.Duration {
		return func(r *rand.Rand) time.Duration { return mean - spread + time.Duration(r.Int64N(int64(2*spread)+1)) }
	}
	w.streams = []*stream{
		{kind: movePayment, rng: newRNG(movePayment), gap: func(r *rand.Rand) time.Duration {
			// Exponential gaps: payments arrive independently, PaymentEvery apart on average; at least a second.
			return max(time.Second, time.Duration(-math.Log(1-r.Float64())*float64(paymentEvery)))
		}},
		{kind: movePayout, rng: newRNG(movePayout), gap: jitter(24*time.Hour, 0)},
		{kind: moveReserve, rng: newRNG(moveReserve), gap: jitter(7*24*time.Hour, 24*time.Hour)},
		{kind: moveDeposit, rng: newRNG(moveDeposit), gap: jitter(30*24*time.Hour, 3*24*time.Hour)},
	}
	for _, s := range w.streams {
		s.next = start.Add(s.gap(s.rng))
	}
	return w
}

// current is the state after the last move (or the opening).
func (w *wallet) current() Figures {
	if n := len(w.snaps); n > 0 {
		return w.snaps[n-1].f
	}
	return w.opening
}

// extend generates activity up to t, in time order.
func (w *wallet) extend(t time.Time) {
	if w.quiet || !t.After(w.horizon) {
		return
	}
	for {
		s := slices.MinFunc(w.streams, func(a, b *stream) int { return a.next.Compare(b.next) })
		if s.next.After(t) {
			break
		}
		w.apply(w.generate(s))
		s.next = s.next.Add(s.gap(s.rng))
	}
	w.horizon = t
}

// generate draws the next move of a stream, given the wallet as it is now.
func (w *wallet) generate(s *stream) move {
	cur := w.current()
	m := move{at: s.next, kind: s.kind}
	switch s.kind {
	case movePayment:
		m.amount = cents(500 + s.rng.Int64N(40_000)) // 5.00 to 404.99
	case movePayout:
		// Most of what is available leaves for the bank, in whole units; nothing when there is little.
		if cur.Available.GreaterThan(decimal.NewFromInt(100)) {
			m.amount = cur.Available.Mul(decimal.New(8, -1)).Floor()
		}
	case moveReserve:
		m.amount = scale(cur.Reserve, s.rng, 20)
	case moveDeposit:
		m.amount = scale(cur.Deposit, s.rng, 10)
	}
	return m
}

// scale moves v by up to ±pct percent, to cents; a zero figure stays zero.
func scale(v decimal.Decimal, r *rand.Rand, pct int64) decimal.Decimal {
	if v.IsZero() {
		return v
	}
	factor := decimal.NewFromInt(100 - pct + r.Int64N(2*pct+1)).Div(decimal.NewFromInt(100))
	return v.Mul(factor).Round(2)
}

func cents(n int64) decimal.Decimal { return decimal.New(n, -2) }

// plant records a knob's move at t. A move planted before moves already made (the clock was set back) is put
// in its place and the figures after it recomputed.
func (w *wallet) plant(m move) {
	w.extend(m.at)
	if n := len(w.moves); n == 0 || !m.at.Before(w.moves[n-1].at) {
		w.apply(m)
		return
	}
	m.seq = w.nextSeq()
	w.moves = append(w.moves, m)
	slices.SortStableFunc(w.moves, func(a, b move) int {
		return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.seq, b.seq))
	})
	w.snaps = w.snaps[:0]
	f := w.opening
	for _, mv := range w.moves {
		f = w.after(f, mv)
		w.snaps = append(w.snaps, snap{at: mv.at, f: f})
	}
}

func (w *wallet) nextSeq() int { w.seq++; return w.seq }

// apply appends a move that is not earlier than any before it.
func (w *wallet) apply(m move) {
	m.seq = w.nextSeq()
	w.moves = append(w.moves, m)
	w.snaps = append(w.snaps, snap{at: m.at, f: w.after(w.current(), m)})
}

// after is f changed by m. usable follows the merchant's rule after every move but SetFigures, which sets it.
func (w *wallet) after(f Figures, m move) Figures {
	switch m.kind {
	case movePayment:
		f.Available = f.Available.Add(m.amount)
	case movePayout, moveDrop:
		f.Available = f.Available.Sub(m.amount)
	case moveReserve:
		f.Reserve = m.amount
	case moveDeposit:
		f.Deposit = m.amount
	case moveSetFigures:
		return m.figures
	}
	f.Usable = w.usable(f.Available, f.Reserve)
	return f
}

// at is the wallet's figures at t: after every move made up to and including t.
func (w *wallet) at(t time.Time) Figures {
	w.extend(t)
	i, _ := slices.BinarySearchFunc(w.snaps, t, func(s snap, t time.Time) int {
		if s.at.After(t) {
			return 1
		}
		return -1
	})
	if i == 0 {
		return w.opening
	}
	return w.snaps[i-1].f
}
