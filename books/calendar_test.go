package books_test

import (
	"testing"
	"time"
	_ "time/tzdata" // the tests name zones that a minimal image may not have

	"github.com/acqsim/acqsim/books"
)

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("loading %s: %v", name, err)
	}
	return loc
}

// day is midnight of a calendar day in loc.
func day(y int, m time.Month, d int, loc *time.Location) time.Time {
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// checkDay fails the test unless got is want, midnight of a day in loc.
func checkDay(t *testing.T, what string, got, want time.Time, loc *time.Location) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %s, want %s", what, got.In(loc).Format(time.RFC3339), want.Format(time.RFC3339))
		return
	}
	if h, m, s := got.In(loc).Clock(); h != 0 || m != 0 || s != 0 || got.In(loc).Nanosecond() != 0 {
		t.Errorf("%s = %s, want midnight in %s", what, got.In(loc).Format(time.RFC3339Nano), loc)
	}
}

func TestCalendarDates(t *testing.T) {
	utc := time.UTC
	shanghai := mustLoad(t, "Asia/Shanghai")
	newYork := mustLoad(t, "America/New_York")

	// June 2026: Thursday 11, Friday 12, Saturday 13, Sunday 14, Monday 15,
	// Tuesday 16, Thursday 18, Friday 19 (Dragon Boat Festival), Monday 22.
	tests := []struct {
		name     string
		cutOver  time.Duration
		loc      *time.Location
		holidays []string
		now      time.Time
		clearing time.Time
		settle   time.Time
	}{
		{
			name: "Thursday just before cut-over", cutOver: 23 * time.Hour, loc: utc,
			now:      time.Date(2026, 6, 11, 22, 59, 59, 999_999_999, utc),
			clearing: day(2026, 6, 11, utc), settle: day(2026, 6, 12, utc),
		},
		{
			name: "Thursday at cut-over", cutOver: 23 * time.Hour, loc: utc,
			now:      time.Date(2026, 6, 11, 23, 0, 0, 0, utc),
			clearing: day(2026, 6, 12, utc), settle: day(2026, 6, 15, utc),
		},
		{
			name: "Thursday midnight", cutOver: 23 * time.Hour, loc: utc,
			now:      time.Date(2026, 6, 11, 0, 0, 0, 0, utc),
			clearing: day(2026, 6, 11, utc), settle: day(2026, 6, 12, utc),
		},
		{
			name: "Friday before cut-over settles Monday", cutOver: 23 * time.Hour, loc: utc,
			now:      time.Date(2026, 6, 12, 10, 0, 0, 0, utc),
			clearing: day(2026, 6, 12, utc), settle: day(2026, 6, 15, utc),
		},
		{
			name: "Friday after cut-over clears Saturday, settles Monday", cutOver: 23 * time.Hour, loc: utc,
			now:      time.Date(2026, 6, 12, 23, 30, 0, 0, utc),
			clearing: day(2026, 6, 13, utc), settle: day(2026, 6, 15, utc),
		},
		{
			name: "Saturday", cutOver: 23 * time.Hour, loc: utc,
			now:      time.Date(2026, 6, 13, 12, 0, 0, 0, utc),
			clearing: day(2026, 6, 13, utc), settle: day(2026, 6, 15, utc),
		},
		{
			name: "Sunday before cut-over", cutOver: 23 * time.Hour, loc: utc,
			now:      time.Date(2026, 6, 14, 22, 0, 0, 0, utc),
			clearing: day(2026, 6, 14, utc), settle: day(2026, 6, 15, utc),
		},
		{
			name: "Sunday after cut-over clears Monday, settles Tuesday", cutOver: 23 * time.Hour, loc: utc,
			now:      time.Date(2026, 6, 14, 23, 0, 0, 0, utc),
			clearing: day(2026, 6, 15, utc), settle: day(2026, 6, 16, utc),
		},
		{
			name: "no cut-over: the day changes at midnight", loc: utc,
			now:      time.Date(2026, 6, 11, 23, 59, 0, 0, utc),
			clearing: day(2026, 6, 11, utc), settle: day(2026, 6, 12, utc),
		},
		{
			name: "early cut-over", cutOver: 18*time.Hour + 30*time.Minute, loc: utc,
			now:      time.Date(2026, 6, 11, 18, 30, 0, 0, utc),
			clearing: day(2026, 6, 12, utc), settle: day(2026, 6, 15, utc),
		},
		{
			name: "Thursday before a Friday holiday settles Monday", cutOver: 23 * time.Hour, loc: utc,
			holidays: []string{"2026-06-19"},
			now:      time.Date(2026, 6, 18, 10, 0, 0, 0, utc),
			clearing: day(2026, 6, 18, utc), settle: day(2026, 6, 22, utc),
		},
		{
			name: "the same Thursday without the holiday settles Friday", cutOver: 23 * time.Hour, loc: utc,
			now:      time.Date(2026, 6, 18, 10, 0, 0, 0, utc),
			clearing: day(2026, 6, 18, utc), settle: day(2026, 6, 19, utc),
		},
		{
			name: "a holiday run after a weekend", cutOver: 23 * time.Hour, loc: utc,
			holidays: []string{"2026-06-15", "2026-06-16"},
			now:      time.Date(2026, 6, 12, 9, 0, 0, 0, utc),
			clearing: day(2026, 6, 12, utc), settle: day(2026, 6, 17, utc),
		},
		{
			name: "a holiday on the clearing day itself does not move clearing", cutOver: 23 * time.Hour, loc: utc,
			holidays: []string{"2026-06-11"},
			now:      time.Date(2026, 6, 11, 9, 0, 0, 0, utc),
			clearing: day(2026, 6, 11, utc), settle: day(2026, 6, 12, utc),
		},
		{
			// 16:00 UTC Thursday is midnight Friday in Shanghai.
			name: "Shanghai: local Friday while UTC is still Thursday", cutOver: 23 * time.Hour, loc: shanghai,
			now:      time.Date(2026, 6, 11, 16, 0, 0, 0, utc),
			clearing: day(2026, 6, 12, shanghai), settle: day(2026, 6, 15, shanghai),
		},
		{
			// 15:00 UTC Thursday is 23:00 Thursday in Shanghai: past the cut-over
			// there, although UTC is hours away from its own.
			name: "Shanghai: cut-over by local time", cutOver: 23 * time.Hour, loc: shanghai,
			now:      time.Date(2026, 6, 11, 15, 0, 0, 0, utc),
			clearing: day(2026, 6, 12, shanghai), settle: day(2026, 6, 15, shanghai),
		},
		{
			name: "Shanghai: one minute before the local cut-over", cutOver: 23 * time.Hour, loc: shanghai,
			now:      time.Date(2026, 6, 11, 14, 59, 0, 0, utc),
			clearing: day(2026, 6, 11, shanghai), settle: day(2026, 6, 12, shanghai),
		},
		{
			// 23:30 UTC Thursday is 07:30 Friday in Shanghai: UTC is past its
			// cut-over, Shanghai is not past its own.
			name: "Shanghai: UTC past cut-over, local not", cutOver: 23 * time.Hour, loc: shanghai,
			now:      time.Date(2026, 6, 11, 23, 30, 0, 0, utc),
			clearing: day(2026, 6, 12, shanghai), settle: day(2026, 6, 15, shanghai),
		},
		{
			// 01:00 UTC Friday is 21:00 Thursday in New York.
			name: "New York: local Thursday while UTC is already Friday", cutOver: 23 * time.Hour, loc: newYork,
			now:      time.Date(2026, 6, 12, 1, 0, 0, 0, utc),
			clearing: day(2026, 6, 11, newYork), settle: day(2026, 6, 12, newYork),
		},
		{
			name: "New York: after the local cut-over", cutOver: 23 * time.Hour, loc: newYork,
			now:      time.Date(2026, 6, 11, 23, 15, 0, 0, newYork),
			clearing: day(2026, 6, 12, newYork), settle: day(2026, 6, 15, newYork),
		},
		{
			name: "Shanghai: a holiday is a local day", cutOver: 23 * time.Hour, loc: shanghai,
			holidays: []string{"2026-06-19"},
			now:      time.Date(2026, 6, 18, 2, 0, 0, 0, shanghai),
			clearing: day(2026, 6, 18, shanghai), settle: day(2026, 6, 22, shanghai),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := books.Calendar{CutOver: tt.cutOver, Location: tt.loc}
			for _, h := range tt.holidays {
				if err := c.AddHoliday(h); err != nil {
					t.Fatalf("AddHoliday(%q): %v", h, err)
				}
			}
			checkDay(t, "ClearingDate", c.ClearingDate(tt.now), tt.clearing, tt.loc)
			settle := c.SettlementDate(tt.now)
			checkDay(t, "SettlementDate", settle, tt.settle, tt.loc)
			if wd := settle.In(tt.loc).Weekday(); wd == time.Saturday || wd == time.Sunday {
				t.Errorf("settlement date %s is a %s", settle.Format("2006-01-02"), wd)
			}
		})
	}
}

// A clearing day is one calendar day long, even when a daylight-saving change
// makes it 23 or 25 hours.
func TestCalendarCutOverAcrossDaylightSaving(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	tests := []struct {
		name     string
		now      time.Time
		clearing time.Time
	}{
		// 2026-03-08 (Sunday): clocks go from 02:00 to 03:00.
		{"spring forward, after cut-over", time.Date(2026, 3, 8, 23, 30, 0, 0, ny), day(2026, 3, 9, ny)},
		// 2026-11-01 (Sunday): clocks go from 02:00 back to 01:00.
		{"fall back, before cut-over", time.Date(2026, 11, 1, 22, 30, 0, 0, ny), day(2026, 11, 1, ny)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := books.Calendar{CutOver: books.DefaultCutOver, Location: ny}
			checkDay(t, "ClearingDate", c.ClearingDate(tt.now), tt.clearing, ny)
		})
	}
}

func TestCalendarZeroLocationIsLocal(t *testing.T) {
	now := time.Date(2026, 6, 11, 12, 0, 0, 0, time.UTC)
	var zero books.Calendar
	local := books.Calendar{Location: time.Local}
	if got, want := zero.ClearingDate(now), local.ClearingDate(now); !got.Equal(want) {
		t.Errorf("zero Calendar ClearingDate = %v, want %v (time.Local)", got, want)
	}
	if got, want := zero.SettlementDate(now), local.SettlementDate(now); !got.Equal(want) {
		t.Errorf("zero Calendar SettlementDate = %v, want %v (time.Local)", got, want)
	}
}

func TestAddHolidayErrors(t *testing.T) {
	for _, s := range []string{"", "2026-6-19", "19/06/2026", "2026-02-30", "2026-13-01", "holiday", "2026-06-19T00:00:00Z"} {
		t.Run(s, func(t *testing.T) {
			var c books.Calendar
			if err := c.AddHoliday(s); err == nil {
				t.Errorf("AddHoliday(%q) = nil, want an error", s)
			}
		})
	}
}

func TestParseTimeOfDay(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: "23:00", want: 23 * time.Hour},
		{in: "00:00", want: 0},
		{in: "09:30", want: 9*time.Hour + 30*time.Minute},
		{in: "23:59", want: 23*time.Hour + 59*time.Minute},
		{in: "", wantErr: true},
		{in: "23", wantErr: true},
		{in: "2300", wantErr: true},
		{in: "24:00", wantErr: true},
		{in: "23:60", wantErr: true},
		{in: "-1:00", wantErr: true},
		{in: "ab:cd", wantErr: true},
		{in: "23:00:00", wantErr: true},
		{in: "11:00pm", wantErr: true},
		{in: " 23:00", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := books.ParseTimeOfDay(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseTimeOfDay(%q) = %v, nil; want an error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTimeOfDay(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseTimeOfDay(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}
