// Package clock is the host's virtual clock: real time shifted by an offset
// that a user or a test can set, advance or freeze, so that cut-over,
// settlement dates and time windows can be reached without waiting for them.
package clock

import (
	"errors"
	"sync"
	"time"
)

// MaxSkew is how far from real time the clock may be set: a century either
// way reaches every date a test needs and stays within what a time.Duration
// offset can hold (292 years).
const MaxSkew = 100 * 365 * 24 * time.Hour

// ErrRange reports a time the clock cannot be set to.
var ErrRange = errors.New("the clock keeps within 100 years of real time")

// Check reports whether the clock can read t.
func Check(t time.Time) error {
	if d := time.Until(t); d > MaxSkew || d < -MaxSkew {
		return ErrRange
	}
	return nil
}

// Clock is safe for concurrent use. The zero value tells real time.
type Clock struct {
	mu     sync.RWMutex
	offset time.Duration // added to real time
	frozen bool
	at     time.Time // the time it reads while frozen
}

// New returns a clock that reads start now and then advances in real time. A
// zero start gives real time.
func New(start time.Time) *Clock {
	c := &Clock{}
	if !start.IsZero() {
		_ = c.Set(start) // a start out of range gives real time
	}
	return c
}

// Now returns the host's current time.
func (c *Clock) Now() time.Time {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.frozen {
		return c.at
	}
	return time.Now().Add(c.offset)
}

// Set makes the clock read t now; it goes on advancing in real time from
// there, or stays at t while frozen. A t more than MaxSkew from real time is
// refused (ErrRange).
func (c *Clock) Set(t time.Time) error {
	if err := Check(t); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset = time.Until(t)
	c.at = t
	return nil
}

// SetOffset makes the clock read real time plus d.
func (c *Clock) SetOffset(d time.Duration) error {
	return c.Set(time.Now().Add(d))
}

// Offset is how far the clock is from real time.
func (c *Clock) Offset() time.Duration {
	return time.Until(c.Now())
}

// Advance moves the clock forward by d (backwards when d is negative),
// unless that takes it more than MaxSkew from real time (ErrRange).
func (c *Clock) Advance(d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.at
	if !c.frozen {
		now = time.Now().Add(c.offset)
	}
	if err := Check(now.Add(d)); err != nil {
		return err
	}
	c.offset += d
	c.at = c.at.Add(d)
	return nil
}

// Freeze stops the clock where it is (true) or lets it run on from there (false).
func (c *Clock) Freeze(frozen bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if frozen == c.frozen {
		return
	}
	if frozen {
		c.at = time.Now().Add(c.offset)
	} else {
		c.offset = time.Until(c.at)
	}
	c.frozen = frozen
}

// Frozen reports whether the clock is stopped.
func (c *Clock) Frozen() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.frozen
}
