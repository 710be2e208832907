package books

import (
	"fmt"
	"time"
)

// Calendar decides settlement dates: the clearing day changes at the cut-over
// time, and funds settle on the next working day after it (T+1), skipping
// weekends and holidays.
type Calendar struct {
	// CutOver is the time of day, as an offset from midnight, at which the
	// clearing day moves to the next day. Zero means midnight.
	CutOver time.Duration
	// Location is the time zone cut-over and dates are in. Nil means time.Local.
	Location *time.Location
	// Holidays are non-working days, besides Saturdays and Sundays.
	Holidays map[civilDate]bool
}

// civilDate is a day in the calendar's time zone.
type civilDate struct {
	Year  int
	Month time.Month
	Day   int
}

func dateOf(t time.Time) civilDate {
	y, m, d := t.Date()
	return civilDate{y, m, d}
}

// DefaultCutOver is the clearing cut-over real hosts use when nothing else is
// configured (CUP: 23:00).
const DefaultCutOver = 23 * time.Hour

// ParseTimeOfDay reads "HH:MM" as an offset from midnight.
func ParseTimeOfDay(s string) (time.Duration, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("time of day %q: want HH:MM", s)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// AddHoliday marks a day (YYYY-MM-DD) as non-working.
func (c *Calendar) AddHoliday(day string) error {
	t, err := time.Parse("2006-01-02", day)
	if err != nil {
		return fmt.Errorf("holiday %q: want YYYY-MM-DD", day)
	}
	if c.Holidays == nil {
		c.Holidays = map[civilDate]bool{}
	}
	c.Holidays[dateOf(t)] = true
	return nil
}

func (c *Calendar) location() *time.Location {
	if c.Location == nil {
		return time.Local
	}
	return c.Location
}

// ClearingDate is the day a transaction made at now clears on.
func (c *Calendar) ClearingDate(now time.Time) time.Time {
	loc := c.location()
	now = now.In(loc)
	y, m, d := now.Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, loc)
	// The cut-over is a time on the wall clock, not a duration since
	// midnight: a daylight-saving day is 23 or 25 hours long.
	cut := time.Date(y, m, d, int(c.CutOver/time.Hour), int(c.CutOver%time.Hour/time.Minute), 0, 0, loc)
	if c.CutOver > 0 && !now.Before(cut) {
		day = day.AddDate(0, 0, 1)
	}
	return day
}

// SettlementDate is the next working day after the clearing date of now.
func (c *Calendar) SettlementDate(now time.Time) time.Time {
	day := c.ClearingDate(now).AddDate(0, 0, 1)
	for !c.working(day) {
		day = day.AddDate(0, 0, 1)
	}
	return day
}

func (c *Calendar) working(day time.Time) bool {
	if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return false
	}
	return !c.Holidays[dateOf(day)]
}
