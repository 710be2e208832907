// Package clock is the host's virtual clock: real time shifted by an offset
// that a user or a test can set, so that cut-over, settlement dates and
// time windows can be reached without waiting for them.
package clock

import (
	"sync/atomic"
	"time"
)

// Clock is safe for concurrent use. The zero value tells real time.
type Clock struct {
	offset atomic.Int64 // nanoseconds added to real time
}

// New returns a clock that reads start now and then advances in real time. A
// zero start gives real time.
func New(start time.Time) *Clock {
	c := &Clock{}
	if !start.IsZero() {
		c.Set(start)
	}
	return c
}

// Now returns the host's current time.
func (c *Clock) Now() time.Time {
	return time.Now().Add(time.Duration(c.offset.Load()))
}

// Set makes the clock read t now; it goes on advancing in real time from there.
func (c *Clock) Set(t time.Time) {
	c.offset.Store(int64(time.Until(t)))
}

// Advance moves the clock forward by d (backwards when d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.offset.Add(int64(d))
}
