package clock

import (
	"testing"
	"time"
)

func TestSetAndAdvance(t *testing.T) {
	c := New(time.Time{})
	if d := time.Since(c.Now()); d < -time.Second || d > time.Second {
		t.Fatalf("a new clock is %v away from real time", d)
	}
	start := time.Date(2026, 6, 11, 22, 59, 0, 0, time.UTC)
	c.Set(start)
	if got := c.Now().Sub(start); got < 0 || got > time.Second {
		t.Fatalf("after Set the clock reads %v past the set time", got)
	}
	c.Advance(2 * time.Minute)
	if got := c.Now().Sub(start); got < 2*time.Minute || got > 2*time.Minute+time.Second {
		t.Fatalf("after Advance(2m) the clock reads %v past the set time", got)
	}
}
