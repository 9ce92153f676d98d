package simfault

import "time"

// Clock is a simulator's clock: a base clock (the real one by default) that a test may move by Advance or
// stop at a time by Set. It is not safe for concurrent use: the simulator's lock guards it, so that a request
// sees one time for as long as it holds the lock.
type Clock struct {
	base   func() time.Time
	fixed  *time.Time    // Set
	offset time.Duration // Advance on a running clock
}

// NewClock returns a Clock running on base; nil means time.Now.
func NewClock(base func() time.Time) Clock { return Clock{base: OrNow(base)} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	if c.fixed != nil {
		return *c.fixed
	}
	return c.base().Add(c.offset)
}

// Set stops the clock at t; Advance moves it on from there.
func (c *Clock) Set(t time.Time) { c.fixed = &t }

// Advance moves the clock forward by d (backward if d is negative).
func (c *Clock) Advance(d time.Duration) {
	if c.fixed != nil {
		t := c.fixed.Add(d)
		c.fixed = &t
		return
	}
	c.offset += d
}

// OrNow returns f, or time.Now if f is nil: the default of a simulator's clock options.
func OrNow(f func() time.Time) func() time.Time {
	if f == nil {
		return time.Now
	}
	return f
}
