package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// clockAnswer is what `clock -o json` prints: the admin API's GET /clock.
type clockAnswer struct {
	Now    time.Time `json:"now"`
	Offset string    `json:"offset"`
	Frozen bool      `json:"frozen"`
}

// A negative duration is an argument as the README writes it (clock offset
// -2h), with the flags before it, after it or around it; "--" still works.
func TestClockNegativeDurations(t *testing.T) {
	_, admin, _ := serveInBackground(t)
	cli := against(admin) // --admin after the duration: "clock offset -2h --admin ADDR"
	read := func(args []string, code int, stdout, stderr string) clockAnswer {
		t.Helper()
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		var c clockAnswer
		if err := json.Unmarshal([]byte(stdout), &c); err != nil {
			t.Fatalf("%v: output %q is not the clock as JSON: %v", args, stdout, err)
		}
		return c
	}

	args := []string{"clock", "offset", "-2h", "-o", "json"}
	code, stdout, stderr := cli(args...)
	if c := read(args, code, stdout, stderr); c.Offset != "-2h0m0s" || time.Since(c.Now.Add(2*time.Hour)).Abs() > time.Minute {
		t.Errorf("clock offset -2h: now %v, offset %s; want two hours behind real time", c.Now, c.Offset)
	}
	// Flags first, then the duration; -o json between them.
	args = []string{"clock", "offset", "--admin", admin, "-o", "json", "-90m"}
	code, stdout, stderr = acqsim(args...)
	if c := read(args, code, stdout, stderr); c.Offset != "-1h30m0s" {
		t.Errorf("%v: offset %s, want -1h30m0s", args, c.Offset)
	}

	// On a frozen clock, advancing back moves it exactly.
	if code, _, stderr := cli("clock", "freeze"); code != 0 {
		t.Fatalf("clock freeze: exit %d: %s", code, stderr)
	}
	code, stdout, stderr = cli("clock", "-o", "json")
	before := read([]string{"clock"}, code, stdout, stderr).Now
	for _, args := range [][]string{
		{"clock", "advance", "-30s", "-o", "json", "--admin", admin},
		{"clock", "advance", "-o", "json", "--admin", admin, "--", "-30s"},
		{"clock", "advance", "-o=json", "-.5m", "--admin", admin},
	} {
		code, stdout, stderr := acqsim(args...)
		before = before.Add(-30 * time.Second)
		if c := read(args, code, stdout, stderr); !c.Now.Equal(before) || !c.Frozen {
			t.Errorf("%v: now %v, frozen %v; want %v, frozen", args, c.Now, c.Frozen, before)
		}
	}

	// Help is help; anything else wrong is a usage error, and the host is
	// not asked.
	code, stdout, _ = acqsim("clock", "offset", "--help")
	if code != 0 || !strings.Contains(stdout, "offset DURATION") || !strings.Contains(stdout, "--admin") {
		t.Errorf("clock offset --help: exit %d, %q; want the usage with --admin", code, stdout)
	}
	for _, args := range [][]string{
		{"clock", "offset"},
		{"clock", "offset", "-2x"},
		{"clock", "offset", "-2h", "-3h"},
		{"clock", "offset", "-2h", "--no-such-flag"},
		{"clock", "offset", "-2h", "-o", "csv"},
		{"clock", "advance", "-2h", "--admin"},
	} {
		code, stdout, stderr := cli(args...)
		if code != 2 || stdout != "" {
			t.Errorf("%v: exit %d, output %q; want 2 and nothing", args, code, stdout)
		}
		wantOneLine(t, args, stderr, "")
	}
	code, stdout, stderr = cli("clock", "-o", "json")
	if c := read([]string{"clock"}, code, stdout, stderr); !c.Now.Equal(before) || c.Offset == "0s" {
		t.Errorf("after the refused commands the clock reads %v, offset %s; want it unchanged at %v", c.Now, c.Offset, before)
	}
}

// Every clock command prints the clock as JSON with -o json, the same clock
// it prints as a line without.
func TestClockJSON(t *testing.T) {
	_, admin, _ := serveInBackground(t)
	cli := against(admin)
	at := time.Date(2026, 6, 11, 14, 59, 0, 0, time.UTC)
	for _, tc := range []struct {
		args   []string
		now    time.Time // zero: not checked
		frozen bool
	}{
		{[]string{"freeze"}, time.Time{}, true},
		{[]string{"set", "2026-06-11T22:59:00+08:00"}, at, true},
		{[]string{"advance", "90s"}, at.Add(90 * time.Second), true},
		{[]string{"show"}, at.Add(90 * time.Second), true},
		{nil, at.Add(90 * time.Second), true},
		{[]string{"unfreeze"}, time.Time{}, false},
		{[]string{"offset", "0s"}, time.Time{}, false},
	} {
		args := append(append([]string{"clock"}, tc.args...), "-o", "json")
		code, stdout, stderr := cli(args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		var c clockAnswer
		if err := json.Unmarshal([]byte(stdout), &c); err != nil || c.Offset == "" {
			t.Fatalf("%v: output %q is not the clock as JSON (%v)", args, stdout, err)
		}
		if !tc.now.IsZero() && !c.Now.Equal(tc.now) || c.Frozen != tc.frozen {
			t.Errorf("%v: %+v, want now %v, frozen %v", args, c, tc.now, tc.frozen)
		}
	}
	// The table form is still the default, and -o table says so.
	for _, args := range [][]string{{"clock"}, {"clock", "show", "-o", "table"}} {
		code, stdout, _ := cli(args...)
		if f := strings.Fields(stdout); code != 0 || len(f) != 4 || f[1] != "offset" {
			t.Errorf("%v: exit %d, %q; want TIME offset OFFSET running", args, code, stdout)
		}
	}
}
