package vandartest

import (
	"container/heap"
	"time"
)

// What the generator asks of the history made so far — the balance at a moment, and the payments that can
// be refunded at a moment — it asks at moments that almost never go back: its arrivals come in time order.
// Both answers are therefore kept up to date as the moments pass, so that a history of n items is made in
// O(n log n) rather than the O(n²) of adding everything up on every question. A moment earlier than one
// already asked (a Tehran day of 23 hours, before Iran dropped daylight saving in 2022, ends after the next
// day has begun) is answered the long way, over everything made so far; the answers are the same either way.

// moves are the wallet movements made so far.
type moves struct {
	all []move
	// asked is the latest moment asked about; applied is the opening balance plus every movement effective
	// by then, and pending holds the movements effective after it.
	asked   time.Time
	applied int64
	opening int64
	pending timeHeap[int64]
}

type move struct {
	at  time.Time
	net int64
}

func newMoves(opening int64) moves { return moves{applied: opening, opening: opening} }

func (m *moves) add(at time.Time, net int64) {
	m.all = append(m.all, move{at: at, net: net})
	if !at.After(m.asked) {
		m.applied += net
		return
	}
	heap.Push(&m.pending, timed[int64]{at: at, v: net})
}

// balanceAt is the opening balance plus every movement effective at or before t.
func (m *moves) balanceAt(t time.Time) int64 {
	if t.Before(m.asked) {
		w := m.opening
		for _, mv := range m.all {
			if !mv.at.After(t) {
				w += mv.net
			}
		}
		return w
	}
	m.asked = t
	for len(m.pending) > 0 && !m.pending[0].at.After(t) {
		m.applied += heap.Pop(&m.pending).(timed[int64]).v
	}
	return m.applied
}

// refundables are the successful payments made so far, in the order made, and which of them are refunded.
type refundables struct {
	recs []*record
	gone []bool
	// ready marks the payments resolved by asked and not refunded, in a Fenwick tree over the order made;
	// waiting holds the ones resolving after asked.
	asked   time.Time
	ready   fenwick
	waiting timeHeap[int]
}

func (rs *refundables) add(r *record) {
	i := len(rs.recs)
	rs.recs = append(rs.recs, r)
	rs.gone = append(rs.gone, false)
	rs.ready.grow(len(rs.recs))
	if !r.resolved.After(rs.asked) {
		rs.ready.add(i, 1)
		return
	}
	heap.Push(&rs.waiting, timed[int]{at: r.resolved, v: i})
}

// catchUp moves the clock of ready to t, if t is not before it, and reports whether it could.
func (rs *refundables) catchUp(t time.Time) bool {
	if t.Before(rs.asked) {
		return false
	}
	rs.asked = t
	for len(rs.waiting) > 0 && !rs.waiting[0].at.After(t) {
		if i := heap.Pop(&rs.waiting).(timed[int]).v; !rs.gone[i] {
			rs.ready.add(i, 1)
		}
	}
	return true
}

// count is how many payments not yet refunded have resolved by t.
func (rs *refundables) count(t time.Time) int {
	if rs.catchUp(t) {
		return rs.ready.total()
	}
	return len(rs.slow(t))
}

// nth is the index (in the order made) of the k-th (from 0) payment not yet refunded that has resolved by t.
func (rs *refundables) nth(t time.Time, k int) int {
	if rs.catchUp(t) {
		return rs.ready.find(k)
	}
	return rs.slow(t)[k]
}

// slow lists the payments not yet refunded that have resolved by t, the long way.
func (rs *refundables) slow(t time.Time) []int {
	var out []int
	for i, r := range rs.recs {
		if !rs.gone[i] && !r.resolved.After(t) {
			out = append(out, i)
		}
	}
	return out
}

func (rs *refundables) remove(i int) {
	if !rs.recs[i].resolved.After(rs.asked) {
		rs.ready.add(i, -1)
	}
	rs.gone[i] = true
}

// fenwick counts marks at positions 0…n−1: adding, totals and finding the k-th mark in O(log n).
type fenwick struct {
	tree []int32 // 1-based; len(tree)−1 is a power of two (or 0)
	on   []int32 // the marks themselves, for growing
	sum  int
}

// grow makes room for positions up to n−1.
func (f *fenwick) grow(n int) {
	for len(f.on) < n {
		f.on = append(f.on, 0)
	}
	size := len(f.tree) - 1
	if n <= size {
		return
	}
	size = max(size, 1024)
	for size < n {
		size *= 2
	}
	f.tree = make([]int32, size+1)
	for i := 1; i <= size; i++ {
		if i <= len(f.on) {
			f.tree[i] += f.on[i-1]
		}
		if j := i + i&-i; j <= size {
			f.tree[j] += f.tree[i]
		}
	}
}

func (f *fenwick) add(i int, d int32) {
	f.on[i] += d
	f.sum += int(d)
	for j := i + 1; j < len(f.tree); j += j & -j {
		f.tree[j] += d
	}
}

func (f *fenwick) total() int { return f.sum }

// find returns the position of the k-th mark (from 0); k must be below total.
func (f *fenwick) find(k int) int {
	size := len(f.tree) - 1
	pos, rest := 0, int32(k)
	for step := size; step > 0; step >>= 1 {
		if next := pos + step; next <= size && f.tree[next] <= rest {
			pos = next
			rest -= f.tree[next]
		}
	}
	return pos
}

// timeHeap is a min-heap of values by time.
type timed[T any] struct {
	at time.Time
	v  T
}

type timeHeap[T any] []timed[T]

func (h timeHeap[T]) Len() int           { return len(h) }
func (h timeHeap[T]) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h timeHeap[T]) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timeHeap[T]) Push(x any)        { *h = append(*h, x.(timed[T])) }
func (h *timeHeap[T]) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
