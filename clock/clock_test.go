package clock

import (
	"errors"
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

func TestFreeze(t *testing.T) {
	start := time.Date(2026, 6, 11, 23, 59, 58, 0, time.UTC)
	c := New(start)
	c.Freeze(true)
	a := c.Now()
	if !c.Frozen() {
		t.Fatal("Frozen() is false after Freeze(true)")
	}
	c.Advance(2 * time.Second)
	if got := c.Now().Sub(a); got != 2*time.Second {
		t.Fatalf("a frozen clock advanced by 2s moved %v", got)
	}
	c.Set(start)
	if !c.Now().Equal(start) {
		t.Fatalf("a frozen clock set to %v reads %v", start, c.Now())
	}
	c.Freeze(false)
	if got := c.Now().Sub(start); got < 0 || got > time.Second {
		t.Fatalf("unfrozen, the clock reads %v past where it stood", got)
	}
}

func TestSetOffset(t *testing.T) {
	c := New(time.Time{})
	c.SetOffset(-time.Hour)
	if off := c.Offset(); off > -time.Hour+time.Second || off < -time.Hour-time.Second {
		t.Fatalf("offset %v, want about -1h", off)
	}
}

// The clock keeps within a century of real time: a time beyond is refused
// whole, and the clock reads what it read before.
func TestClockRange(t *testing.T) {
	c := New(time.Time{})
	far := time.Now().Add(MaxSkew + time.Hour)
	if err := c.Set(far); !errors.Is(err, ErrRange) {
		t.Errorf("Set(%v) = %v, want ErrRange", far, err)
	}
	if err := c.SetOffset(-MaxSkew - time.Hour); !errors.Is(err, ErrRange) {
		t.Errorf("SetOffset(-MaxSkew-1h) = %v, want ErrRange", err)
	}
	if err := c.Advance(MaxSkew + time.Hour); !errors.Is(err, ErrRange) {
		t.Errorf("Advance(MaxSkew+1h) = %v, want ErrRange", err)
	}
	c.Freeze(true)
	if err := c.Advance(-MaxSkew - time.Hour); !errors.Is(err, ErrRange) {
		t.Errorf("frozen, Advance(-MaxSkew-1h) = %v, want ErrRange", err)
	}
	if d := time.Until(c.Now()); d > time.Minute || d < -time.Minute {
		t.Errorf("after refusals the clock is %v from real time, want about 0", d)
	}
	if err := c.Advance(50 * 365 * 24 * time.Hour); err != nil {
		t.Errorf("Advance(50 years) = %v, want nil", err)
	}
}
