package scenarios_test

import (
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/acqsim/acqsim/host/fault"
	"github.com/acqsim/acqsim/scenarios"
)

// mustLoad loads a scenario the test means to be valid.
func mustLoad(t testing.TB, src string) *scenarios.Compiled {
	t.Helper()
	c, err := scenarios.Load("test.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Load: %v\n%s", err, src)
	}
	return c
}

func float(f float64) *float64 { return &f }

// The scenario the issue gives as the format's example loads whole: every
// rule, limit and status it spells is what the engine gets.
func TestLoadIssuerFlaky(t *testing.T) {
	c, err := scenarios.LoadFile("../fixtures/scenarios/issuer-flaky.yaml")
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	if c.Name != "issuer-flaky" {
		t.Errorf("Name = %q, want issuer-flaky", c.Name)
	}
	wantRules := []scenarios.Rule{
		{
			Name:    "big amounts over the single limit",
			Match:   `txn == "sale" && amount > 5000000`,
			Outcome: scenarios.Outcome{Respond: &scenarios.Respond{RC: "61"}},
		},
		{
			Name:  "first two sales get no answer, then approve",
			Match: `txn == "sale"`,
			Steps: []scenarios.Step{
				{Times: 2, Outcome: scenarios.Outcome{Action: &scenarios.Action{Name: "no-response", Spec: fault.NoResponse{}}}},
				{Outcome: scenarios.Outcome{Respond: &scenarios.Respond{RC: "00"}}},
			},
		},
		{
			Name:        "a tenth of echoes reset the connection",
			Match:       `txn == "echo"`,
			Probability: float(0.1),
			Outcome:     scenarios.Outcome{Action: &scenarios.Action{Name: "reset", Spec: fault.Reset{}}},
		},
		{
			Name:    "slow settlement at night",
			Match:   `txn == "settlement" && between("23:00", "01:00")`,
			Outcome: scenarios.Outcome{Delay: &scenarios.Delay{Min: 45 * time.Second, Max: 45 * time.Second}},
		},
	}
	if !reflect.DeepEqual(c.Rules, wantRules) {
		t.Errorf("Rules:\n got %+v\nwant %+v", c.Rules, wantRules)
	}
	wantLimits := []scenarios.Limit{
		{Per: "card", Period: "day", MaxAmount: 10000000, RC: "61"},
		{Per: "card", Period: "day", MaxCount: 20, RC: "65"},
	}
	if !reflect.DeepEqual(c.Limits, wantLimits) {
		t.Errorf("Limits = %+v, want %+v", c.Limits, wantLimits)
	}
	if got := c.Merchants["898100012340001"]; got.Status != "frozen" {
		t.Errorf("merchant 898100012340001 status = %q, want frozen", got.Status)
	}
	if got := c.Terminals["T0000099"]; got.Status != "unregistered" {
		t.Errorf("terminal T0000099 status = %q, want unregistered", got.Status)
	}
	if len(c.Source) == 0 || !strings.Contains(string(c.Source), "issuer-flaky") {
		t.Errorf("Source does not hold the file as loaded: %q", c.Source)
	}
}

func TestLoadFileMissing(t *testing.T) {
	_, err := scenarios.LoadFile("testdata/no-such-scenario.yaml")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("LoadFile of a missing file: %v, want fs.ErrNotExist", err)
	}
}

// Each spelling the format allows decodes to what it says.
func TestLoadForms(t *testing.T) {
	tests := []struct {
		name string
		rule string // one rule, indented as a list item under rules:
		want scenarios.Rule
	}{
		{
			name: "fixed delay",
			rule: `delay: 45s`,
			want: scenarios.Rule{Outcome: scenarios.Outcome{Delay: &scenarios.Delay{Min: 45 * time.Second, Max: 45 * time.Second}}},
		},
		{
			name: "range delay",
			rule: `delay: 1s..5s`,
			want: scenarios.Rule{Outcome: scenarios.Outcome{Delay: &scenarios.Delay{Distribution: "uniform", Min: time.Second, Max: 5 * time.Second}}},
		},
		{
			name: "normal delay",
			rule: `delay: {distribution: normal, mean: 2s, stddev: 500ms}`,
			want: scenarios.Rule{Outcome: scenarios.Outcome{Delay: &scenarios.Delay{Distribution: "normal", Mean: 2 * time.Second, StdDev: 500 * time.Millisecond}}},
		},
		{
			name: "exponential delay",
			rule: `delay: {distribution: exponential, mean: 2s}`,
			want: scenarios.Rule{Outcome: scenarios.Outcome{Delay: &scenarios.Delay{Distribution: "exponential", Mean: 2 * time.Second}}},
		},
		{
			name: "action by name takes the fault's defaults",
			rule: `action: garbage`,
			want: scenarios.Rule{Outcome: scenarios.Outcome{Action: &scenarios.Action{Name: "garbage", Spec: &fault.Garbage{Bytes: 16}}}},
		},
		{
			name: "action with parameters",
			rule: `action: {garbage: {bytes: 32}}`,
			want: scenarios.Rule{Outcome: scenarios.Outcome{Action: &scenarios.Action{Name: "garbage", Spec: &fault.Garbage{Bytes: 32}}}},
		},
		{
			name: "action with empty parameters",
			rule: `action: {refuse: }`,
			want: scenarios.Rule{Outcome: scenarios.Outcome{Action: &scenarios.Action{Name: "refuse", Spec: &fault.Refuse{For: 30 * time.Second}}}},
		},
		{
			name: "action with a duration parameter",
			rule: `action: {duplicate: {gap: 500ms}}`,
			want: scenarios.Rule{Outcome: scenarios.Outcome{Action: &scenarios.Action{Name: "duplicate", Spec: &fault.Duplicate{Gap: 500 * time.Millisecond}}}},
		},
		{
			name: "respond with fields",
			rule: `respond: {rc: "A0", set: {38: "123456"}, unset: [54], requirement: 3, out_of_balance: true}`,
			want: scenarios.Rule{Outcome: scenarios.Outcome{Respond: &scenarios.Respond{
				RC: "A0", Set: map[int]string{38: "123456"}, Unset: []int{54}, Requirement: 3, OutOfBalance: true,
			}}},
		},
		{
			name: "counters",
			rule: "per: card\n    every: 3\n    probability: 0.5",
			want: scenarios.Rule{Per: "card", Every: 3, Probability: float(0.5)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, "name: forms\nrules:\n  - "+tt.rule+"\n")
			if len(c.Rules) != 1 {
				t.Fatalf("%d rules, want 1", len(c.Rules))
			}
			if !reflect.DeepEqual(c.Rules[0], tt.want) {
				t.Errorf("rule:\n got %#v\nwant %#v", c.Rules[0], tt.want)
			}
		})
	}
}

// A bad scenario is refused at load with "SOURCE:LINE: reason", LINE being
// where the problem is, so that an editor can jump to it.
func TestLoadRefusesBadScenarios(t *testing.T) {
	const source = "scenarios/bad.yaml"
	tests := []struct {
		name   string
		file   string
		line   int
		reason []string // each must appear in the message
		skip   string   // only the source is checked, for this reason
	}{
		{
			name: "unknown top-level key",
			file: `name: bad
description: a key the format does not have
rules: []
colour: blue
`,
			line:   4,
			reason: []string{"colour", "not found"},
		},
		{
			name: "unknown rule key",
			file: `name: bad
rules:
  - name: a
    match: txn == "sale"
    respnd: {rc: "05"}
`,
			line:   5,
			reason: []string{"respnd", "not found"},
		},
		{
			name: "misspelled variable in match",
			file: `name: bad
rules:
  - name: big sales
    match: txn == "sale" && amout > 100
    respond: {rc: "61"}
`,
			line:   4,
			reason: []string{`"big sales"`, "unknown name amout"},
		},
		{
			name: "match is not boolean",
			file: `name: bad
rules:
  - name: a
    match: amount + 1
`,
			line:   4,
			reason: []string{"match", "bool"},
		},
		{
			name: "txn compared to an unknown name",
			file: `name: bad
rules:
  - name: a
    match: txn == "sael"
`,
			line:   4,
			reason: []string{`txn is never "sael"`},
		},
		{
			name: "between with an hour that does not exist",
			file: `name: bad
rules:
  - name: a
    match: between("25:00", "01:00")
`,
			line:   4,
			reason: []string{`"25:00"`, "HH:MM"},
		},
		{
			name: "bad duration",
			file: `name: bad
rules:
  - name: a
    match: txn == "sale"
    delay: 5x
`,
			line:   5,
			reason: []string{`delay "5x"`},
		},
		{
			name: "range upside down",
			file: `name: bad
rules:
  - name: a
    delay: 5s..1s
`,
			line:   4,
			reason: []string{"delay", "max 1s is below min 5s"},
		},
		{
			name: "range without an upper end",
			file: `name: bad
rules:
  - name: a
    delay: 5s..
`,
			line:   4,
			reason: []string{"upper end"},
		},
		{
			name: "mean without a distribution",
			file: `name: bad
rules:
  - name: a
    delay: {min: 1s, mean: 2s}
`,
			line:   4,
			reason: []string{"mean and stddev need a distribution"},
		},
		{
			name: "unknown distribution",
			file: `name: bad
rules:
  - name: a
    delay: {distribution: poisson, mean: 2s}
`,
			line:   4,
			reason: []string{`"poisson"`},
		},
		{
			name: "exponential without a mean",
			file: `name: bad
rules:
  - name: a
    delay: {distribution: exponential}
`,
			line:   4,
			reason: []string{"positive mean"},
		},
		{
			name: "unknown action name",
			file: `name: bad
rules:
  - name: a
    match: txn == "sale"
    action: explode
`,
			line:   5,
			reason: []string{`unknown action "explode"`, "no-response"},
		},
		{
			name: "unknown action parameter",
			file: `name: bad
rules:
  - name: a
    action: {garbage: {byts: 3}}
`,
			line:   4,
			reason: []string{"byts"},
		},
		{
			name: "action parameter out of range",
			file: `name: bad
rules:
  - name: a
    action: {garbage: {bytes: 0}}
`,
			line:   4,
			reason: []string{"garbage", "bytes"},
		},
		{
			name: "action parameter not among the choices",
			file: `name: bad
rules:
  - name: a
    action:
      corrupt: {what: pan}
`,
			line:   5,
			reason: []string{"corrupt", `"pan"`},
		},
		{
			name: "action with two names",
			file: `name: bad
rules:
  - name: a
    action: {reset: {}, close: {}}
`,
			line:   4,
			reason: []string{"action"},
		},
		{
			name: "bad per",
			file: `name: bad
rules:
  - name: a
    match: txn == "sale"
    per: planet
`,
			line:   5,
			reason: []string{`per "planet"`},
		},
		{
			name: "probability above 1",
			file: `name: bad
rules:
  - name: a
    probability: 1.5
`,
			line:   4,
			reason: []string{"probability 1.5"},
		},
		{
			name: "every negative",
			file: `name: bad
rules:
  - name: a
    every: -2
`,
			line:   4,
			reason: []string{"every"},
		},
		{
			name: "a step before the last without times",
			file: `name: bad
rules:
  - name: a
    match: txn == "sale"
    steps:
      - action: no-response
      - respond: {rc: "00"}
`,
			line:   6,
			reason: []string{`rule "a" step 1`, "times"},
		},
		{
			name: "negative times",
			file: `name: bad
rules:
  - name: a
    steps:
      - times: 1
        action: reset
      - times: -1
        action: close
`,
			line:   7,
			reason: []string{"step 2", "times"},
		},
		{
			// Two keys conflict; the error points at the rule holding both.
			name: "steps together with respond on the rule",
			file: `name: bad
rules:
  - name: a
    respond: {rc: "05"}
    steps:
      - times: 1
        action: reset
`,
			line:   3,
			reason: []string{`rule "a"`, "steps"},
		},
		{
			name: "respond with action no-response",
			file: `name: bad
rules:
  - name: a
    respond: {rc: "05"}
    action: no-response
`,
			line:   5, // the action that never sends the answer
			reason: []string{"no-response", "never sent"},
		},
		{
			name: "respond with action reset in a step",
			file: `name: bad
rules:
  - name: a
    steps:
      - times: 1
        respond: {rc: "05"}
        action: reset
`,
			line:   7,
			reason: []string{"step 1", "reset", "never sent"},
		},
		{
			name: "rc of one character",
			file: `name: bad
rules:
  - name: a
    respond: {rc: "5"}
`,
			line:   4,
			reason: []string{`rc "5"`},
		},
		{
			name: "rc on a later line of a respond block",
			file: `name: bad
rules:
  - name: a
    respond:
      requirement: 3
      rc: "5"
`,
			line:   6,
			reason: []string{`rc "5"`},
		},
		{
			name: "set of field 39",
			file: `name: bad
rules:
  - name: a
    respond: {set: {39: "00"}}
`,
			line:   4,
			reason: []string{"field 39"},
		},
		{
			name: "unset of field 1",
			file: `name: bad
rules:
  - name: a
    respond: {unset: [1]}
`,
			line:   4,
			reason: []string{"field 1"},
		},
		{
			name: "requirement beyond 7",
			file: `name: bad
rules:
  - name: a
    respond: {requirement: 8}
`,
			line:   4,
			reason: []string{"requirement 8"},
		},
		{
			name: "limit with both max_amount and max_count",
			file: `name: bad
limits:
  - {per: card, period: day, max_amount: 100}
  - {per: card, period: day, max_amount: 100, max_count: 2}
`,
			line:   4,
			reason: []string{"limit 2", "not both"},
		},
		{
			name: "limit with neither max",
			file: `name: bad
limits:
  - {per: card, period: day}
`,
			line:   3,
			reason: []string{"limit 1", "max_amount or max_count"},
		},
		{
			name: "limit period week",
			file: `name: bad
limits:
  - per: card
    period: week
    max_amount: 100
`,
			line:   4,
			reason: []string{`period "week"`},
		},
		{
			name: "limit per planet",
			file: `name: bad
limits:
  - per: planet
    period: day
    max_amount: 100
`,
			line:   3,
			reason: []string{`per "planet"`},
		},
		{
			name: "per-transaction limit with max_count",
			file: `name: bad
limits:
  - {period: txn, max_count: 3}
`,
			line:   3,
			reason: []string{"per-transaction", "amount"},
		},
		{
			name: "limit rc of three characters",
			file: `name: bad
limits:
  - period: day
    max_count: 3
    rc: "651"
`,
			line:   5,
			reason: []string{`rc "651"`},
		},
		{
			name: "merchant status sleepy",
			file: `name: bad
merchants:
  "898100012340001": {status: frozen}
  "898100012340002": {status: sleepy}
`,
			line:   4,
			reason: []string{`"898100012340002"`, `status "sleepy"`},
		},
		{
			name: "terminal rc of one character",
			file: `name: bad
terminals:
  "T0000001": {status: frozen, rc: "3"}
`,
			line:   3,
			reason: []string{`"T0000001"`, `rc "3"`},
		},
		{
			name: "missing name",
			file: `# a scenario that forgot its name
description: nameless
rules: []
`,
			line:   2,
			reason: []string{"name"},
		},
		{
			name:   "empty file",
			file:   "",
			line:   1,
			reason: []string{"empty"},
		},
		{
			name:   "comments only",
			file:   "# nothing but a comment\n",
			line:   1,
			reason: []string{"empty"},
		},
		{
			name:   "not YAML at all: a character that starts no token",
			file:   "name: bad\ndescription: fine\nrules: @everything\n",
			line:   3,
			reason: []string{"cannot start any token"},
		},
		{
			name:   "not YAML at all: unterminated string",
			file:   "name: bad\ndescription: \"never closed\n",
			line:   2,
			reason: []string{"end of stream"},
		},
		{
			name:   "not YAML at all: unclosed bracket",
			file:   "name: bad\nrules: [unclosed\n",
			line:   2,
			reason: []string{"did not find expected"},
			skip:   "yaml.v3 numbers parser (not scanner) errors from 0: this one says line 1",
		},
		{
			name:   "not YAML at all: prose",
			file:   "This is a shopping list, not a scenario.\n",
			line:   1,
			reason: []string{"cannot unmarshal"},
		},
		{
			name:   "not YAML at all: a list",
			file:   "- name: bad\n",
			line:   1,
			reason: []string{"cannot unmarshal"},
		},
		{
			name:   "two scenarios in one file",
			file:   "name: first\ndescription: one\n---\nname: second\n",
			line:   4, // the second document's first key
			reason: []string{"one scenario per file"},
		},
		{
			name:   "a broken second document",
			file:   "name: first\n---\nname: [broken\n",
			line:   2,
			reason: []string{"did not find expected"},
		},
		{
			name:   "tab indentation",
			file:   "name: bad\n\trules: []\n",
			line:   2,
			reason: []string{"tab"},
		},
		{
			name: "probability NaN",
			file: "name: bad\nrules:\n  - name: a\n    probability: .nan\n",
			line: 4, reason: []string{"probability NaN: want 0 to 1"},
		},
		{
			name: "probability infinite",
			file: "name: bad\nrules:\n  - name: a\n    probability: -.inf\n",
			line: 4, reason: []string{"probability -Inf: want 0 to 1"},
		},
		{
			name: "fee NaN",
			file: "name: bad\nmerchants:\n  \"*\":\n    settlement:\n      fees: {debit: .nan}\n",
			line: 5, reason: []string{"fee rates are fractions"},
		},
		{
			name: "fee infinite",
			file: "name: bad\nmerchants:\n  \"*\":\n    settlement:\n      fees: {credit: .inf}\n",
			line: 5, reason: []string{"fee rates are fractions"},
		},
		{
			name: "invalid UTF-8",
			file: "name: bad\nrules:\n  - name: \"caf\xe9\"\n",
			line: 3, reason: []string{"bad.yaml:3:15: invalid UTF-8 (byte 0xE9)"},
		},
		{
			name: "a control character",
			file: "name: bad\ndescription: a\x07b\n",
			line: 2, reason: []string{"bad.yaml:2:15: control character U+0007"},
		},
		{
			name: "a delay that overflows the clock",
			file: "name: bad\nrules:\n  - delay: 2562047h\n",
			line: 3, reason: []string{"delay: at most 24h0m0s"},
		},
		{
			name: "a distribution beyond a day",
			file: "name: bad\nrules:\n  - delay: {distribution: exponential, mean: 25h}\n",
			line: 3, reason: []string{"delay: at most 24h0m0s"},
		},
		{
			name: "funds a year late",
			file: "name: bad\nmerchants:\n  \"*\":\n    settlement:\n      funds_delay: 8760h\n",
			line: 5, reason: []string{"funds_delay 8760h0m0s: at most 744h0m0s"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := scenarios.Load(source, []byte(tt.file))
			if err == nil {
				t.Fatalf("Load accepted it as %q:\n%s", c.Name, tt.file)
			}
			if c != nil {
				t.Errorf("Load returned a scenario with its error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, source+":") {
				t.Errorf("error %q does not start with %q", msg, source+":")
			}
			if tt.skip != "" {
				t.Skip(tt.skip)
			}
			for _, r := range tt.reason {
				if !strings.Contains(msg, r) {
					t.Errorf("error %q does not say %q", msg, r)
				}
			}
			if prefix := fmt.Sprintf("%s:%d:", source, tt.line); !strings.HasPrefix(msg, prefix) { // a column may follow
				t.Errorf("error %q does not start with %q", msg, prefix)
			}
		})
	}
}

// A file with no document in it is refused as empty.
func TestLoadEmpty(t *testing.T) {
	for _, file := range []string{"", "   \n\n", "# nothing but a comment\n"} {
		_, err := scenarios.Load("empty.yaml", []byte(file))
		if err == nil || !strings.HasPrefix(err.Error(), "empty.yaml:") || !strings.Contains(err.Error(), "empty") {
			t.Errorf("Load(%q): %v, want empty.yaml: ... empty ...", file, err)
		}
	}
}

// Several decoding problems at once are all reported, each on its own line
// with its own place in the file.
func TestLoadReportsEveryUnknownKey(t *testing.T) {
	_, err := scenarios.Load("x.yaml", []byte("name: x\ncolour: blue\nrules:\n  - name: a\n    mach: true\n"))
	if err == nil {
		t.Fatal("Load accepted two unknown keys")
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{"x.yaml:2: ", "x.yaml:5: "}
	if len(lines) != len(want) {
		t.Fatalf("error has %d lines, want %d:\n%v", len(lines), len(want), err)
	}
	for i, prefix := range want {
		if !strings.HasPrefix(lines[i], prefix) {
			t.Errorf("line %d %q does not start with %q", i+1, lines[i], prefix)
		}
	}
}

// What a match expression may say is checked at load, whatever the request.
func TestLoadMatchChecks(t *testing.T) {
	tests := []struct {
		match string
		ok    bool
		skip  string
	}{
		{match: `txn == "sale"`, ok: true},
		{match: `txn != "preauth_void"`, ok: true},
		{match: `txn in ["sale", "void"]`, ok: true},
		{match: `mti == "0200" && proc startsWith "00"`, ok: true},
		{match: `field(55) != "" || entry_mode == "051"`, ok: true},
		{match: `now.Hour() >= 23 || between("00:00", "01:30")`, ok: true},
		{match: `bin in ["622202", "622848"] && len(pan) == 19`, ok: true},
		{match: `amount`, ok: false},
		{match: `pan == 6222`, ok: false},
		{match: `between("7:5", "08:00")`, ok: false},
		{match: `between("08:00")`, ok: false},
		{match: `txn == "sael"`, ok: false},
		{match: `field("55") == ""`, ok: false},
		{match: `txn ==`, ok: false},
		{
			match: `txn startsWith "pre"`, ok: true,
		},
		{
			match: `txn in ["sael"]`, ok: false,
		},
		{
			match: `"sael" == txn`, ok: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.match, func(t *testing.T) {
			if tt.skip != "" {
				t.Skip(tt.skip)
			}
			src := fmt.Sprintf("name: m\nrules:\n  - match: '%s'\n", tt.match)
			_, err := scenarios.Load("m.yaml", []byte(src))
			if tt.ok && err != nil {
				t.Errorf("refused: %v", err)
			}
			if !tt.ok && err == nil {
				t.Errorf("accepted")
			}
			if err != nil && !strings.HasPrefix(err.Error(), "m.yaml:3: ") {
				t.Errorf("error %q does not start with m.yaml:3: ", err)
			}
		})
	}
}

// A response the fault never delivers cannot carry a scripted answer; close
// without after: is such a fault.
func TestLoadRespondWithCloseBefore(t *testing.T) {
	_, err := scenarios.Load("c.yaml", []byte("name: c\nrules:\n  - respond: {rc: \"05\"}\n    action: close\n"))
	if err == nil {
		t.Error("respond with action close (before the answer) was accepted")
	}
}

// Every problem in a file is reported, each on its own line with its own
// place, so that a file's author fixes them in one go: decoding problems
// (unknown keys, actions, delays) all together, and, in a file that decodes,
// every validation problem.
func TestLoadReportsEveryProblem(t *testing.T) {
	tests := []struct {
		name string
		file string
		want []string // each line's start, in order
	}{
		{
			name: "decoding: an unknown action does not hide what follows it",
			file: `name: x
rules:
  - action: explode
  - respnd: {rc: "05"}
  - delay: soon
  - action: {garbage: {byts: 3, bites: 4}}
`,
			want: []string{"x.yaml:3: ", "x.yaml:4: ", "x.yaml:5: ", "x.yaml:6: ", "x.yaml:6: "},
		},
		{
			name: "validation: rules, limits, calendar, bins, merchants and terminals",
			file: `name: x
calendar: {cut_over: "25:00"}
rules:
  - respond: {rc: "5"}
  - per: week
    probability: 2
limits:
  - {period: year, max_amount: 1}
bins:
  - {prefix: "62x", type: debit}
merchants:
  "B":
    status: asleep
  "A":
    settlement: {mode: T2, faults: [fee-nonsense]}
terminals:
  T1: {rc: "5"}
`,
			want: []string{
				"x.yaml:4: ",  // rule 1 rc
				"x.yaml:5: ",  // rule 2 per
				"x.yaml:6: ",  // rule 2 probability
				"x.yaml:8: ",  // limit period
				"x.yaml:2: ",  // calendar cut-over
				"x.yaml:10: ", // bins
				"x.yaml:13: ", // merchant B, first in the file
				"x.yaml:15: ", // merchant A mode
				"x.yaml:15: ", // merchant A fault
				"x.yaml:17: ", // terminal rc
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Twenty times: the merchants are a map, and the order must not
			// depend on how Go walks it.
			var first string
			for range 20 {
				_, err := scenarios.Load("x.yaml", []byte(tt.file))
				if err == nil {
					t.Fatal("Load accepted it")
				}
				if first == "" {
					first = err.Error()
				} else if err.Error() != first {
					t.Fatalf("a second load reports\n%v\nthe first\n%s", err, first)
				}
			}
			lines := strings.Split(first, "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("%d lines, want %d:\n%s", len(lines), len(tt.want), first)
			}
			for i, prefix := range tt.want {
				if !strings.HasPrefix(lines[i], prefix) {
					t.Errorf("line %d %q does not start with %q", i+1, lines[i], prefix)
				}
			}
			_, err := scenarios.Load("x.yaml", []byte(tt.file))
			var joined interface{ Unwrap() []error }
			if !errors.As(err, &joined) || len(joined.Unwrap()) != len(tt.want) {
				t.Errorf("the error does not unwrap to its %d problems: %#v", len(tt.want), err)
			}
		})
	}
}

// With more problems in a file, the first line of the error is still the
// error the file gets with its first problem alone: callers that test it
// see no change.
func TestLoadFirstProblemUnchanged(t *testing.T) {
	tests := []struct{ alone, more string }{
		{"name: x\nrules:\n  - action: explode\n", "name: x\nrules:\n  - action: explode\n  - action: implode\n"},
		{"name: x\nrules:\n  - respond: {rc: \"5\"}\n", "name: x\nrules:\n  - respond: {rc: \"5\", requirement: 9}\n  - per: week\n"},
		{"name: x\nlimits:\n  - {period: day}\n", "name: x\nlimits:\n  - {period: day}\n  - {period: day, max_amount: 1, max_count: 1}\n"},
		{"rules: []\n", "rules:\n  - respond: {rc: \"5\"}\n"},
	}
	for _, tt := range tests {
		_, alone := scenarios.Load("f.yaml", []byte(tt.alone))
		_, more := scenarios.Load("f.yaml", []byte(tt.more))
		if alone == nil || more == nil {
			t.Fatalf("accepted: %v / %v", alone, more)
		}
		if strings.Contains(alone.Error(), "\n") {
			t.Errorf("one problem, several lines:\n%v", alone)
		}
		first, rest, _ := strings.Cut(more.Error(), "\n")
		if first != alone.Error() || rest == "" {
			t.Errorf("with more problems the error is\n%v\nwant its first line %q and more lines", more, alone)
		}
	}
}

// TestLoadErrorFields: every problem of a bad file is a *LoadError whose
// fields say what its text says, so that the admin API and the CLI read
// fields, never the words.
func TestLoadErrorFields(t *testing.T) {
	for _, tt := range []struct {
		name, src string
		want      []scenarios.LoadError // Reason is matched as a prefix
	}{
		{"empty", "", []scenarios.LoadError{{Line: 1, Reason: "empty scenario"}}},
		{"unknown key and bad delay", "name: x\nrules:\n  - match: txn == \"sale\"\n    respond: {rc: \"00\"}\n    colour: red\n",
			[]scenarios.LoadError{{Line: 5, Reason: "field colour not found"}}},
		{"two documents", "name: x\nrules: []\n---\nname: y\n", []scenarios.LoadError{{Line: 4, Reason: "one scenario per file"}}},
		{"bad byte", "name: x\xff\n", []scenarios.LoadError{{Line: 1, Column: 8}}},
		{"two validation problems", "name: x\nrules:\n  - match: txn == \"salee\"\n    respond: {rc: \"00\"}\n  - match: \"true\"\n    respond: {rc: \"X\"}\n",
			[]scenarios.LoadError{{Line: 3}, {Line: 6}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := scenarios.Load("f.yaml", []byte(tt.src))
			got := scenarios.Problems(err)
			if len(got) != len(tt.want) {
				t.Fatalf("problems %v, want %d of them; error: %v", got, len(tt.want), err)
			}
			var lines []string
			for i, p := range got {
				w := tt.want[i]
				if p.Source != "f.yaml" || p.Line != w.Line || w.Column != 0 && p.Column != w.Column || !strings.HasPrefix(p.Reason, w.Reason) {
					t.Errorf("problem %d is %+v, want %+v", i, *p, w)
				}
				lines = append(lines, p.Error())
			}
			if strings.Join(lines, "\n") != err.Error() {
				t.Errorf("the problems say\n%s\nbut the error says\n%s", strings.Join(lines, "\n"), err)
			}
		})
	}
	if scenarios.Problems(errors.New("not a scenario's")) != nil {
		t.Error("an error that is not a scenario's has problems")
	}
}
