package scenarios_test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acqsim/acqsim/scenarios"
	"github.com/acqsim/acqsim/txn"
)

// Cards by what the built-in BIN table makes of them.
const (
	debitPAN  = pan1               // 62...: debit
	creditPAN = "4761739001010010" // 4...: credit
)

// termsOf plans one request and returns the plan and the settlement terms the
// scenario's merchant settings attached to it (nil: none).
func termsOf(t *testing.T, e *scenarios.Engine, r *txn.Request, at time.Time) (scenarios.Plan, *txn.Terms) {
	t.Helper()
	p := e.Plan(r, at)
	return p, r.Terms
}

// feeScenario is every merchant on fees (a YAML flow mapping) with the books
// faults given (a YAML flow list, or "").
func feeScenario(fees, faults string) string {
	src := "name: fees\nmerchants:\n  \"*\":\n    settlement:\n      fees: " + fees + "\n"
	if faults != "" {
		src += "      faults: " + faults + "\n"
	}
	return src
}

const schedule = "{debit: 0.005, credit: 0.006, debit_cap: 2000}"

// The fee is the rate for the card's type, rounded half up to the minor unit,
// capped for debit cards, plus the fixed part; a refund pays none or gets its
// fee back.
func TestFee(t *testing.T) {
	tests := []struct {
		name   string
		fees   string
		typ    txn.Type
		amount int64
		pan    string
		want   int64
	}{
		{"debit rate", schedule, txn.Sale, 10000, debitPAN, 50},
		{"credit rate", schedule, txn.Sale, 10000, creditPAN, 60},
		{"50.05 rounds down", schedule, txn.Sale, 10010, debitPAN, 50},
		{"50.45 rounds down", schedule, txn.Sale, 10090, debitPAN, 50},
		{"50.495 rounds down", schedule, txn.Sale, 10099, debitPAN, 50},
		{"50.5 rounds up", schedule, txn.Sale, 10100, debitPAN, 51},
		{"60.498 rounds down", schedule, txn.Sale, 10083, creditPAN, 60},
		{"60.504 rounds up", schedule, txn.Sale, 10084, creditPAN, 61},
		{"0.5 of a fen rounds up", schedule, txn.Sale, 100, debitPAN, 1},
		{"0.45 of a fen rounds down", schedule, txn.Sale, 90, debitPAN, 0},
		{"a rate of 0.0055 is exact", "{debit: 0.0055}", txn.Sale, 10000, debitPAN, 55},
		{"0.0055 of 9091 is 50.0005", "{debit: 0.0055}", txn.Sale, 9091, debitPAN, 50},
		{"debit at the cap", schedule, txn.Sale, 400000, debitPAN, 2000},
		{"debit just over the cap", schedule, txn.Sale, 400200, debitPAN, 2000},
		{"debit far over the cap", schedule, txn.Sale, 1000000, debitPAN, 2000},
		{"credit has no cap", schedule, txn.Sale, 1000000, creditPAN, 6000},
		{"no cap given", "{debit: 0.005}", txn.Sale, 1000000, debitPAN, 5000},
		{"fixed part", "{debit: 0.005, credit: 0.006, debit_cap: 2000, fixed: 100}", txn.Sale, 10000, debitPAN, 150},
		{"fixed part on top of the cap", "{debit: 0.005, credit: 0.006, debit_cap: 2000, fixed: 100}", txn.Sale, 1000000, debitPAN, 2100},
		{"fixed part alone", "{fixed: 30}", txn.Sale, 10000, creditPAN, 30},
		{"completion pays like a sale", schedule, txn.Completion, 10000, creditPAN, 60},
		{"advice pays like a sale", schedule, txn.Advice, 10000, debitPAN, 50},
		{"a void pays none", schedule, txn.Void, 10000, debitPAN, 0},
		{"refund kept by default", schedule, txn.Refund, 10000, debitPAN, 0},
		{"refund kept", "{debit: 0.005, credit: 0.006, refund: kept}", txn.Refund, 10000, creditPAN, 0},
		{"refund kept with a fixed part", "{debit: 0.005, fixed: 100, refund: kept}", txn.Refund, 10000, debitPAN, 0},
		{"refund returned, debit", "{debit: 0.005, credit: 0.006, debit_cap: 2000, refund: returned}", txn.Refund, 10000, debitPAN, -50},
		{"refund returned, credit", "{debit: 0.005, credit: 0.006, debit_cap: 2000, refund: returned}", txn.Refund, 10000, creditPAN, -60},
		{"refund returned, capped", "{debit: 0.005, credit: 0.006, debit_cap: 2000, refund: returned}", txn.Refund, 1000000, debitPAN, -2000},
		{"refund returned, rounded half up", "{debit: 0.005, refund: returned}", txn.Refund, 10100, debitPAN, -51},
		{"refund returned with its fixed part", "{debit: 0.005, fixed: 100, refund: returned}", txn.Refund, 10000, debitPAN, -150},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := newEngine(t, feeScenario(tt.fees, ""))
			p, terms := termsOf(t, e, request(tt.typ, tt.amount, withCard(tt.pan)), noon)
			if p.Decision.RC != "00" {
				t.Fatalf("rc %s, want 00", p.Decision.RC)
			}
			if terms == nil {
				t.Fatal("no settlement terms")
			}
			if terms.Fee != tt.want {
				t.Errorf("%s of %d on %s card: fee %d, want %d", tt.typ, tt.amount, terms.CardType, terms.Fee, tt.want)
			}
			if len(terms.Faults) != 0 {
				t.Errorf("Faults = %v, want none", terms.Faults)
			}
		})
	}
}

// Each books fault changes exactly what it says and nothing else: the same
// requests under each fault, against the correct fees.
func TestFeeBooksFaults(t *testing.T) {
	type req struct {
		name   string
		typ    txn.Type
		amount int64
		pan    string
	}
	reqs := []req{
		{"debit sale", txn.Sale, 10000, debitPAN},
		{"credit sale", txn.Sale, 10000, creditPAN},
		{"debit over the cap", txn.Sale, 1000000, debitPAN},
		{"credit 1m", txn.Sale, 1000000, creditPAN},
		{"debit 50.05", txn.Sale, 10010, debitPAN},
		{"credit 60.006", txn.Sale, 10001, creditPAN},
		{"debit refund", txn.Refund, 10000, debitPAN},
		{"void", txn.Void, 10000, debitPAN},
	}
	correct := []int64{50, 60, 2000, 6000, 50, 60, -50, 0}
	tests := []struct {
		faults string
		want   []int64
		named  []string // the faults the terms name
	}{
		{"", correct, nil},
		// The other card type's rate; the cap still goes by the card.
		{"[fee-wrong-tier]", []int64{60, 50, 2000, 5000, 60, 50, -60, 0}, []string{"fee-wrong-tier"}},
		{"[fee-no-cap]", []int64{50, 60, 5000, 6000, 50, 60, -50, 0}, []string{"fee-no-cap"}},
		// Rounded up: only what was not a whole fen changes.
		{"[fee-rounding]", []int64{50, 60, 2000, 6000, 51, 61, -50, 0}, []string{"fee-rounding"}},
		// The fee itself is right; the ledger charges it on a voided sale.
		{"[fee-on-void]", correct, []string{"fee-on-void"}},
		{"[holiday-ignored]", correct, []string{"holiday-ignored"}},
		// A T1 merchant: nothing to settle T1 instead of T0.
		{"[t0-settled-t1]", correct, nil},
		{"[fee-wrong-tier, fee-no-cap]", []int64{60, 50, 6000, 5000, 60, 50, -60, 0}, []string{"fee-wrong-tier", "fee-no-cap"}},
		{"[fee-wrong-tier, fee-rounding]", []int64{60, 50, 2000, 5000, 61, 51, -60, 0}, []string{"fee-wrong-tier", "fee-rounding"}},
	}
	const fees = "{debit: 0.005, credit: 0.006, debit_cap: 2000, refund: returned}"
	for _, tt := range tests {
		name := tt.faults
		if name == "" {
			name = "no fault"
		}
		t.Run(name, func(t *testing.T) {
			e, _ := newEngine(t, feeScenario(fees, tt.faults))
			for i, r := range reqs {
				_, terms := termsOf(t, e, request(r.typ, r.amount, withCard(r.pan)), noon)
				if terms == nil {
					t.Fatalf("%s: no settlement terms", r.name)
				}
				if terms.Fee != tt.want[i] {
					t.Errorf("%s: fee %d, want %d", r.name, terms.Fee, tt.want[i])
				}
				if r.typ == txn.Void {
					continue // a void has no fee, so no fee fault, to name
				}
				if !sameSet(terms.Faults, tt.named) {
					t.Errorf("%s: Faults = %v, want %v", r.name, terms.Faults, tt.named)
				}
			}
		})
	}
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// The card type comes from the scenario's BIN table by the longest prefix,
// then from the built-in one.
func TestCardType(t *testing.T) {
	const bins = `name: bins
bins:
  - {prefix: "6222", type: credit}
  - {prefix: "622202", type: debit}
  - {prefix: "4", type: debit}
  - {prefix: "47617390", type: credit}
  - {prefix: "9", type: credit}
merchants:
  "*":
    settlement: {mode: T1}
`
	const builtin = "name: builtin\nmerchants:\n  \"*\":\n    settlement: {mode: T1}\n"
	tests := []struct {
		src, pan, want string
	}{
		{bins, "6222021234567890123", "debit"}, // 622202 beats 6222
		{bins, "6222031234567890", "credit"},   // only 6222
		{bins, "4000001234567899", "debit"},    // the table beats the built-in one
		{bins, "4761739001010010", "credit"},   // 47617390 beats 4
		{bins, "9000001234567890", "credit"},
		{bins, "5412751234567890", "credit"}, // no match: built-in
		{bins, "6228480012345678", "debit"},  // no match: built-in
		{builtin, "6228480012345678", "debit"},
		{builtin, "6222021234567890123", "debit"},
		{builtin, "4761739001010010", "credit"},
		{builtin, "5412751234567890", "credit"},
		{builtin, "371449635398431", "credit"},
		{builtin, "6011000990139424", "debit"},
		{builtin, "9000001234567890", "debit"},
		{builtin, "1234561234567890", "debit"},
		{builtin, "", "debit"},
	}
	for _, tt := range tests {
		name := strings.SplitN(tt.src, "\n", 2)[0] + " " + tt.pan
		t.Run(name, func(t *testing.T) {
			e, _ := newEngine(t, tt.src)
			_, terms := termsOf(t, e, request(txn.Sale, 100, withCard(tt.pan)), noon)
			if terms == nil {
				t.Fatal("no settlement terms")
			}
			if terms.CardType != tt.want {
				t.Errorf("card type %q, want %q", terms.CardType, tt.want)
			}
		})
	}
}

func mustLocation(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Skipf("time zone %s: %v", name, err)
	}
	return loc
}

// shanghaiCalendar is the calendar of the settlement date tests: CUP's
// cut-over in Beijing time, the National Day week off.
const shanghaiCalendar = `calendar:
  timezone: Asia/Shanghai
  cut_over: "23:00"
  holidays: [2026-10-01, 2026-10-02, 2026-10-05, 2026-10-06, 2026-10-07]
`

// Settlement dates and funds times for T1 and T0 around the cut-over,
// weekends and holidays, in the scenario calendar's time zone (the host's
// is UTC here).
func TestSettlementDates(t *testing.T) {
	sh := mustLocation(t, "Asia/Shanghai")
	at := func(mo time.Month, d, hh, mm int) time.Time { return time.Date(2026, mo, d, hh, mm, 0, 0, sh) }
	day := func(mo time.Month, d int) time.Time { return time.Date(2026, mo, d, 0, 0, 0, 0, sh) }
	nine := func(mo time.Month, d int) time.Time { return time.Date(2026, mo, d, 9, 0, 0, 0, sh) }
	tests := []struct {
		name       string
		settlement string // the merchant's settlement mapping
		at         time.Time
		mode       string
		date       time.Time
		funds      time.Time
		faults     []string
	}{
		// T1: the next working day after the clearing day, funds at 09:00.
		{"T1 before the cut-over", "{mode: T1}", at(6, 11, 22, 59), "T1", day(6, 12), nine(6, 12), nil},
		{"T1 at the cut-over: Friday clears, Monday settles", "{mode: T1}", at(6, 11, 23, 0), "T1", day(6, 15), nine(6, 15), nil},
		{"T1 is the default", "{}", at(6, 11, 23, 0), "T1", day(6, 15), nine(6, 15), nil},
		{"T1 on Friday before the cut-over", "{mode: T1}", at(6, 12, 22, 59), "T1", day(6, 15), nine(6, 15), nil},
		{"T1 on Friday after the cut-over", "{mode: T1}", at(6, 12, 23, 30), "T1", day(6, 15), nine(6, 15), nil},
		{"T1 on Saturday", "{mode: T1}", at(6, 13, 10, 0), "T1", day(6, 15), nine(6, 15), nil},
		{"T1 on Sunday after the cut-over", "{mode: T1}", at(6, 14, 23, 0), "T1", day(6, 16), nine(6, 16), nil},
		{"T1 before the holidays", "{mode: T1}", at(9, 30, 22, 59), "T1", day(10, 8), nine(10, 8), nil},
		{"T1 at the cut-over into a holiday", "{mode: T1}", at(9, 30, 23, 0), "T1", day(10, 8), nine(10, 8), nil},
		{"T1 on a holiday", "{mode: T1}", at(10, 1, 12, 0), "T1", day(10, 8), nine(10, 8), nil},
		{"T1 on the last holiday after the cut-over", "{mode: T1}", at(10, 7, 23, 0), "T1", day(10, 9), nine(10, 9), nil},
		// The calendar's zone, not the host's: 16:30 UTC is 00:30 on Friday in Shanghai.
		{"T1 in the calendar's time zone", "{mode: T1}", time.Date(2026, 6, 11, 16, 30, 0, 0, time.UTC), "T1", day(6, 15), nine(6, 15), nil},
		{"T1 in the calendar's time zone, before midnight there", "{mode: T1}", time.Date(2026, 6, 11, 14, 59, 0, 0, time.UTC), "T1", day(6, 12), nine(6, 12), nil},

		// T0: settlement date the clearing day, funds at once.
		{"T0 before the cut-over", "{mode: T0}", at(6, 11, 22, 59), "T0", day(6, 11), at(6, 11, 22, 59), nil},
		{"T0 at the cut-over", "{mode: T0}", at(6, 11, 23, 0), "T0", day(6, 12), at(6, 11, 23, 0), nil},
		{"T0 on Saturday", "{mode: T0}", at(6, 13, 10, 0), "T0", day(6, 13), at(6, 13, 10, 0), nil},
		{"T0 on a holiday", "{mode: T0}", at(10, 1, 12, 0), "T0", day(10, 1), at(10, 1, 12, 0), nil},

		// holiday-ignored: weekends are skipped, holidays not.
		{"holiday-ignored before a holiday", "{mode: T1, faults: [holiday-ignored]}", at(9, 30, 12, 0), "T1", day(10, 1), nine(10, 1), []string{"holiday-ignored"}},
		{"holiday-ignored at the cut-over", "{mode: T1, faults: [holiday-ignored]}", at(9, 30, 23, 0), "T1", day(10, 2), nine(10, 2), []string{"holiday-ignored"}},
		{"holiday-ignored still skips the weekend", "{mode: T1, faults: [holiday-ignored]}", at(10, 2, 12, 0), "T1", day(10, 5), nine(10, 5), []string{"holiday-ignored"}},
		{"holiday-ignored leaves T0 as it is", "{mode: T0, faults: [holiday-ignored]}", at(10, 1, 12, 0), "T0", day(10, 1), at(10, 1, 12, 0), []string{"holiday-ignored"}},

		// t0-settled-t1: a T0 merchant paid as T1.
		{"t0-settled-t1", "{mode: T0, faults: [t0-settled-t1]}", at(6, 11, 23, 0), "T1", day(6, 15), nine(6, 15), []string{"t0-settled-t1"}},
		{"t0-settled-t1 before a holiday", "{mode: T0, faults: [t0-settled-t1]}", at(9, 30, 12, 0), "T1", day(10, 8), nine(10, 8), []string{"t0-settled-t1"}},
		{"t0-settled-t1 does nothing to a T1 merchant", "{mode: T1, faults: [t0-settled-t1]}", at(6, 11, 12, 0), "T1", day(6, 12), nine(6, 12), nil},

		// funds_delay: the money arrives later than the mode promises.
		{"T1 funds late", "{mode: T1, funds_delay: 2h}", at(6, 11, 12, 0), "T1", day(6, 12), at(6, 12, 11, 0), nil},
		{"T0 funds late", "{mode: T0, funds_delay: 26h}", at(6, 11, 12, 0), "T0", day(6, 11), at(6, 12, 14, 0), nil},
		{"T0 funds late after the cut-over", "{mode: T0, funds_delay: 90m}", at(6, 11, 23, 0), "T0", day(6, 12), at(6, 12, 0, 30), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "name: dates\n" + shanghaiCalendar + "merchants:\n  \"*\":\n    settlement: " + tt.settlement + "\n"
			e, _ := newEngine(t, src)
			p, terms := termsOf(t, e, request(txn.Sale, 10000), tt.at)
			if p.Decision.RC != "00" {
				t.Fatalf("rc %s, want 00", p.Decision.RC)
			}
			if terms == nil {
				t.Fatal("no settlement terms")
			}
			if terms.Mode != tt.mode {
				t.Errorf("mode %s, want %s", terms.Mode, tt.mode)
			}
			if !terms.Settlement.Equal(tt.date) {
				t.Errorf("settlement date %s, want %s", terms.Settlement.In(sh), tt.date)
			}
			if got := terms.Settlement.Format("2006-01-02"); got != tt.date.Format("2006-01-02") {
				t.Errorf("settlement date reads %s in its own zone, want %s", got, tt.date.Format("2006-01-02"))
			}
			if !terms.FundsAt.Equal(tt.funds) {
				t.Errorf("funds at %s, want %s", terms.FundsAt.In(sh), tt.funds)
			}
			if !sameSet(terms.Faults, tt.faults) {
				t.Errorf("Faults = %v, want %v", terms.Faults, tt.faults)
			}
		})
	}
}

// Without a calendar of its own, a scenario settles on the host's calendar,
// holidays included; with one, the scenario's replaces it.
func TestSettlementHostCalendar(t *testing.T) {
	const noCalendar = "name: host\nmerchants:\n  \"*\":\n    settlement: {mode: T1}\n"
	const ownCalendar = "name: own\ncalendar: {cut_over: \"23:00\", timezone: UTC}\nmerchants:\n  \"*\":\n    settlement: {mode: T1}\n"
	const ignored = "name: ignored\nmerchants:\n  \"*\":\n    settlement: {mode: T1, faults: [holiday-ignored]}\n"
	tests := []struct {
		name, src string
		want      string
	}{
		{"the host's holiday", noCalendar, "2026-06-15"},
		{"the scenario's calendar replaces the host's", ownCalendar, "2026-06-12"},
		{"holiday-ignored ignores the host's holidays too", ignored, "2026-06-12"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newFakeHost()
			e := scenarios.NewEngine(h, 1, time.UTC)
			if err := e.Calendar.AddHoliday("2026-06-12"); err != nil {
				t.Fatal(err)
			}
			e.SetGlobal(mustLoad(t, tt.src))
			_, terms := termsOf(t, e, request(txn.Sale, 100), noon)
			if terms == nil {
				t.Fatal("no settlement terms")
			}
			if got := terms.Settlement.Format("2006-01-02"); got != tt.want {
				t.Errorf("settlement date %s, want %s", got, tt.want)
			}
		})
	}
	// The host's calendar is untouched by holiday-ignored.
	e := scenarios.NewEngine(newFakeHost(), 1, time.UTC)
	if err := e.Calendar.AddHoliday("2026-06-12"); err != nil {
		t.Fatal(err)
	}
	e.SetGlobal(mustLoad(t, ignored))
	e.Plan(request(txn.Sale, 100), noon)
	if got := e.Calendar.SettlementDate(noon).Format("2006-01-02"); got != "2026-06-15" {
		t.Errorf("after holiday-ignored the host's calendar settles on %s, want 2026-06-15", got)
	}
}

// A scenario calendar without a time zone is in the host's, as its
// documentation says ("default the host's").
func TestSettlementCalendarDefaultsToHostZone(t *testing.T) {
	host := time.FixedZone("UTC+8", 8*3600)
	// 16:30 UTC is 00:30 on Friday in the host's zone: Friday clears, Monday settles.
	at := time.Date(2026, 6, 11, 16, 30, 0, 0, time.UTC)
	if _, off := at.In(time.Local).Zone(); off == 8*3600 {
		t.Skip("the local time zone is the host's here: nothing to tell apart")
	}
	e := scenarios.NewEngine(newFakeHost(), 1, host)
	e.SetGlobal(mustLoad(t, "name: zone\ncalendar: {cut_over: \"23:00\"}\nmerchants:\n  \"*\":\n    settlement: {mode: T1}\n"))
	r := request(txn.Sale, 100)
	e.Plan(r, at)
	if r.Terms == nil {
		t.Fatal("no settlement terms")
	}
	want := time.Date(2026, 6, 15, 0, 0, 0, 0, host)
	if !r.Terms.Settlement.Equal(want) {
		t.Errorf("regression (scenarios/settlement.go compileCalendar, terms): a scenario calendar without a "+
			"timezone is in time.Local, not the host's zone: settles on %s, want %s", r.Terms.Settlement, want)
	}
}

// Only what the merchant is paid for gets terms: not a pre-authorisation, a
// balance inquiry or a settlement, nor anything of a merchant without
// settlement settings.
func TestSettlementTermsOnlyForSettledTransactions(t *testing.T) {
	e, _ := newEngine(t, `name: some
merchants:
  "898100012340001":
    settlement: {mode: T1}
  "898100012340002":
    status: void-disabled
`)
	tests := []struct {
		req  *txn.Request
		want bool
	}{
		{request(txn.Sale, 100), true},
		{request(txn.Refund, 100), true},
		{request(txn.Void, 100), true},
		{request(txn.Completion, 100), true},
		{request(txn.Advice, 100), true},
		{request(txn.PreAuth, 100), false},
		{request(txn.PreAuthVoid, 100), false},
		{request(txn.Balance, 0), false},
		{request(txn.Reversal, 100), false},
		{request(txn.Settlement, 0), false},
		{request(txn.Sale, 100, atMerchant(mid2)), false},
		{request(txn.Sale, 100, atMerchant("898100012340003")), false},
	}
	for _, tt := range tests {
		_, terms := termsOf(t, e, tt.req, noon)
		if (terms != nil) != tt.want {
			t.Errorf("%s at %s: terms %+v, want terms: %v", tt.req.Type, tt.req.MID, terms, tt.want)
		}
	}
}

// Merchant "*" applies to every merchant not listed; a listed merchant's own
// settings replace it.
func TestSettlementStarMerchant(t *testing.T) {
	e, _ := newEngine(t, `name: star
merchants:
  "*":
    settlement:
      fees: {debit: 0.005}
  "898100012340002":
    settlement:
      mode: T0
      fees: {debit: 0.01}
`)
	tests := []struct {
		mid  string
		mode string
		fee  int64
	}{
		{mid1, "T1", 50},
		{"898100012340099", "T1", 50},
		{mid2, "T0", 100},
	}
	for _, tt := range tests {
		_, terms := termsOf(t, e, request(txn.Sale, 10000, atMerchant(tt.mid)), noon)
		if terms == nil {
			t.Errorf("%s: no settlement terms", tt.mid)
			continue
		}
		if terms.Mode != tt.mode || terms.Fee != tt.fee {
			t.Errorf("%s: mode %s fee %d, want %s %d", tt.mid, terms.Mode, terms.Fee, tt.mode, tt.fee)
		}
	}
}

// T0 refuses a debit outside its window (58), below its minimum (13), above
// its maximum (61) and beyond the merchant's daily quota (61); refunds and
// voids are not refused.
func TestT0Refusals(t *testing.T) {
	const window = `name: t0
merchants:
  "*":
    settlement:
      mode: T0
      t0: {window: ["09:00", "21:00"], min_amount: 100, max_amount: 5000000}
`
	const overnight = `name: t0
merchants:
  "*":
    settlement:
      mode: T0
      t0: {window: ["21:00", "03:00"]}
`
	const noLimits = "name: t0\nmerchants:\n  \"*\":\n    settlement: {mode: T0}\n"
	tests := []struct {
		name  string
		src   string
		steps []step
	}{
		{"window", window, []step{
			{request(txn.Sale, 1000), clock(8, 59), "58"},
			{request(txn.Sale, 1000), clock(9, 0), "00"},
			{request(txn.Sale, 1000), clock(20, 59), "00"},
			{request(txn.Sale, 1000), clock(21, 0), "58"},
			{request(txn.Sale, 1000), clock(0, 0), "58"},
			{request(txn.Completion, 1000), clock(22, 0), "58"},
			{request(txn.Advice, 1000), clock(22, 0), "58"},
			{request(txn.Refund, 1000), clock(22, 0), "00"},
			{request(txn.Void, 1000), clock(22, 0), "00"},
			{request(txn.PreAuth, 1000), clock(22, 0), "00"},
			{request(txn.Settlement, 0), clock(22, 0), "00"},
		}},
		{"window over midnight", overnight, []step{
			{request(txn.Sale, 1000), clock(20, 59), "58"},
			{request(txn.Sale, 1000), clock(21, 0), "00"},
			{request(txn.Sale, 1000), clock(23, 59), "00"},
			{request(txn.Sale, 1000), clock(0, 0), "00"},
			{request(txn.Sale, 1000), clock(2, 59), "00"},
			{request(txn.Sale, 1000), clock(3, 0), "58"},
			{request(txn.Sale, 1000), clock(12, 0), "58"},
		}},
		{"amounts", window, []step{
			{request(txn.Sale, 99), clock(12, 0), "13"},
			{request(txn.Sale, 100), clock(12, 0), "00"},
			{request(txn.Sale, 5000000), clock(12, 0), "00"},
			{request(txn.Sale, 5000001), clock(12, 0), "61"},
			{request(txn.Refund, 99), clock(12, 0), "00"},
			{request(txn.Refund, 5000001), clock(12, 0), "00"},
			// The window is checked first.
			{request(txn.Sale, 99), clock(22, 0), "58"},
			{request(txn.Sale, 5000001), clock(22, 0), "58"},
		}},
		{"no limits", noLimits, []step{
			{request(txn.Sale, 1), clock(3, 0), "00"},
			{request(txn.Sale, 999999999), clock(23, 59), "00"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := newEngine(t, tt.src)
			runSteps(t, e, tt.steps)
		})
	}
}

// A T0 refusal is forced on the host, says why in the trace, and leaves the
// request without terms.
func TestT0RefusalTrace(t *testing.T) {
	e, h := newEngine(t, `name: t0
merchants:
  "*":
    settlement:
      mode: T0
      t0: {window: ["09:00", "21:00"], min_amount: 100, max_amount: 5000000, daily_quota: 5000100}
`)
	tests := []struct {
		name   string
		req    *txn.Request
		at     time.Time
		rc     string
		rule   string
		method string
	}{
		{"outside the window", request(txn.Sale, 1000, withSTAN("T00001")), clock(22, 0), "58", "T0 outside its window 09:00-21:00", "Force"},
		{"below the minimum", request(txn.Sale, 99, withSTAN("T00002")), noon, "13", "T0 below its minimum amount", "Force"},
		{"above the maximum", request(txn.Sale, 5000001, withSTAN("T00003")), noon, "61", "T0 above its maximum amount", "Force"},
		{"approved", request(txn.Sale, 5000000, withSTAN("T00004")), noon, "00", "", "Decide"},
		{"quota used up", request(txn.Sale, 101, withSTAN("T00005")), noon, "61", "T0 daily quota used up", "Force"},
		{"quota to the last fen", request(txn.Sale, 100, withSTAN("T00006")), noon, "00", "", "Decide"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, terms := termsOf(t, e, tt.req, tt.at)
			if p.Decision.RC != tt.rc {
				t.Errorf("rc %s, want %s", p.Decision.RC, tt.rc)
			}
			if p.Trace.Rule != tt.rule {
				t.Errorf("Trace.Rule = %q, want %q", p.Trace.Rule, tt.rule)
			}
			calls := h.take()
			if len(calls) != 1 || calls[0].Method != tt.method || tt.method == "Force" && calls[0].RC != tt.rc {
				t.Errorf("calls %+v, want one %s", calls, tt.method)
			}
			if tt.rc != "00" {
				if terms != nil {
					t.Errorf("a refused request carries terms %+v", terms)
				}
				if p.Trace.Scenario != "t0" || p.Trace.Action != "respond rc="+tt.rc {
					t.Errorf("Trace = %+v, want scenario t0, action respond rc=%s", p.Trace, tt.rc)
				}
			} else if terms == nil || terms.Mode != "T0" {
				t.Errorf("approved with terms %+v, want T0", terms)
			}
		})
	}
}

// The daily quota adds up the merchant's approved T0 debits of the day on
// the host's clock; what is declined does not count, and a new day starts
// afresh.
func TestT0DailyQuota(t *testing.T) {
	const quota = `name: quota
merchants:
  "*":
    settlement:
      mode: T0
      t0: {daily_quota: 10000000}
rules:
  - match: amount == 1234
    respond: {rc: "05"}
`
	t.Run("approvals add up", func(t *testing.T) {
		e, _ := newEngine(t, quota)
		nextDay := clock(0, 0).Add(24 * time.Hour)
		runSteps(t, e, []step{
			{request(txn.Sale, 6000000), clock(9, 0), "00"},
			{request(txn.Completion, 3000000), clock(10, 0), "00"},
			{request(txn.Advice, 1000000), clock(11, 0), "00"},
			{request(txn.Sale, 1), clock(12, 0), "61"},
			{request(txn.Advice, 1), clock(12, 0), "61"},
			{request(txn.Refund, 5000000), clock(12, 0), "00"}, // gives nothing back
			{request(txn.Sale, 1), clock(23, 59), "61"},
			{request(txn.Sale, 1, atMerchant(mid2)), clock(12, 0), "00"}, // per merchant
			{request(txn.Sale, 10000000), nextDay, "00"},
			{request(txn.Sale, 1), nextDay, "61"},
		})
	})
	t.Run("declined does not count", func(t *testing.T) {
		e, h := newEngine(t, quota)
		h.answer("Q00001", txn.Decision{RC: "51"})
		runSteps(t, e, []step{
			{request(txn.Sale, 10000000, withSTAN("Q00001")), noon, "51"}, // the host declines
			{request(txn.Sale, 1234), noon, "05"},                         // a rule declines
			{request(txn.Sale, 10000000), noon, "00"},
			{request(txn.Sale, 1), noon, "61"},
		})
	})
	t.Run("a refused request does not count", func(t *testing.T) {
		e, _ := newEngine(t, quota)
		runSteps(t, e, []step{
			{request(txn.Sale, 9000000), noon, "00"},
			{request(txn.Sale, 2000000), noon, "61"},
			{request(txn.Sale, 1000000), noon, "00"},
		})
	})
	t.Run("the day is the host's", func(t *testing.T) {
		sh := mustLocation(t, "Asia/Shanghai")
		e := scenarios.NewEngine(newFakeHost(), 1, sh)
		e.SetGlobal(mustLoad(t, quota))
		midnight := time.Date(2026, 6, 12, 0, 0, 0, 0, sh) // 16:00 UTC on the 11th
		runSteps(t, e, []step{
			{request(txn.Sale, 10000000), midnight.Add(-time.Hour), "00"},
			{request(txn.Sale, 1), midnight.Add(-time.Minute), "61"},
			{request(txn.Sale, 10000000), midnight, "00"},
			{request(txn.Sale, 1), midnight.Add(time.Hour), "61"},
		})
	})
	t.Run("t0-settled-t1 still counts the quota", func(t *testing.T) {
		e, _ := newEngine(t, strings.Replace(quota, "mode: T0\n", "mode: T0\n      faults: [t0-settled-t1]\n", 1))
		r := request(txn.Sale, 10000000)
		if rc := e.Plan(r, noon).Decision.RC; rc != "00" {
			t.Fatalf("first sale rc %s, want 00", rc)
		}
		if rc := e.Plan(request(txn.Sale, 1), noon).Decision.RC; rc != "61" {
			t.Errorf("regression (scenarios/settlement.go accountT0): a T0 merchant with t0-settled-t1 is refused by its "+
				"T0 limits but its approvals never count towards the daily quota (rc %s, want 61): accountT0 "+
				"looks at the terms' mode after the fault made it T1", rc)
		}
	})
}

// A T0 refusal holds whatever rule lets the answer through; a rule's own
// scripted answer wins over it.
func TestT0RefusalWithRules(t *testing.T) {
	e, _ := newEngine(t, `name: t0
merchants:
  "*":
    settlement:
      mode: T0
      t0: {window: ["09:00", "21:00"]}
rules:
  - name: slow
    match: amount == 100
    delay: 2s
  - name: decline
    match: amount == 200
    respond: {rc: "05"}
  - name: approve
    match: amount == 300
    respond: {rc: "00"}
`)
	tests := []struct {
		amount int64
		at     time.Time
		want   result
	}{
		{100, clock(22, 0), result{RC: "58", Delay: 2 * time.Second}},
		{100, noon, delayed(2 * time.Second)},
		{200, clock(22, 0), rc("05")},
		{300, clock(22, 0), rc("58")},
		{300, noon, approved()},
	}
	for _, tt := range tests {
		if got := summary(e.Plan(request(txn.Sale, tt.amount), tt.at)); got != tt.want {
			t.Errorf("sale of %d at %s: %v, want %v", tt.amount, tt.at.Format("15:04"), got, tt.want)
		}
	}
}

// A faulted merchant's exchanges say so in the trace: "books fault: ...".
func TestBooksFaultTrace(t *testing.T) {
	e, _ := newEngine(t, `name: faulty
merchants:
  "*":
    settlement:
      fees: {debit: 0.005, debit_cap: 2000}
      faults: [fee-no-cap, fee-wrong-tier]
  "898100012340002":
    settlement:
      fees: {debit: 0.005}
rules:
  - name: refunds declined
    match: txn == "refund"
    respond: {rc: "05"}
`)
	tests := []struct {
		name   string
		req    *txn.Request
		want   scenarios.Trace
		faults []string // in the action, any order
	}{
		{"the default answer", request(txn.Sale, 100),
			scenarios.Trace{Scenario: "faulty"}, []string{"fee-no-cap", "fee-wrong-tier"}},
		{"a rule's answer", request(txn.Refund, 100),
			scenarios.Trace{Scenario: "faulty", Rule: "refunds declined"}, []string{"fee-no-cap", "fee-wrong-tier"}},
		{"a merchant without faults", request(txn.Sale, 100, atMerchant(mid2)),
			scenarios.Trace{}, nil},
		{"no terms, no fault", request(txn.PreAuth, 100),
			scenarios.Trace{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := e.Plan(tt.req, noon).Trace
			action := got.Action
			got.Action = ""
			if got != tt.want {
				t.Errorf("Trace = %+v, want %+v", got, tt.want)
			}
			if tt.faults == nil {
				if action != "" {
					t.Errorf("Action = %q, want none", action)
				}
				return
			}
			rest, ok := strings.CutPrefix(action, "books fault: ")
			if !ok {
				t.Fatalf("Action = %q, want it to start with \"books fault: \"", action)
			}
			if tt.want.Rule != "" {
				if !strings.HasSuffix(rest, ", respond rc=05") {
					t.Errorf("Action = %q, want the rule's respond after the books faults", action)
				}
				rest = strings.TrimSuffix(rest, ", respond rc=05")
			}
			if names := strings.Split(rest, ", "); !sameSet(names, tt.faults) {
				t.Errorf("Action = %q, want the faults %v", action, tt.faults)
			}
		})
	}
}

// The merchant's settlement settings are checked at load, each problem
// reported at its line.
func TestLoadRefusesBadSettlement(t *testing.T) {
	const source = "scenarios/bad.yaml"
	merchant := func(lines ...string) string {
		return "name: bad\nmerchants:\n  \"*\":\n    settlement:\n      " + strings.Join(lines, "\n      ") + "\n"
	}
	tests := []struct {
		name   string
		file   string
		line   int
		reason []string
	}{
		{"mode T2", merchant("mode: T2"), 5, []string{`mode "T2"`, "T0 or T1"}},
		{"mode in lower case", merchant("mode: t0"), 5, []string{`mode "t0"`}},
		{"window with one time", merchant("mode: T0", "t0:", "  window: [\"09:00\"]"), 7, []string{"t0 window", "[from, to]"}},
		{"window with three times", merchant("t0:", "  window: [\"09:00\", \"12:00\", \"21:00\"]"), 6, []string{"t0 window"}},
		{"window with a bad time", merchant("mode: T0", "t0:", "  window: [\"09:00\", \"25:00\"]"), 7, []string{"t0 window", `"25:00"`, "HH:MM"}},
		{"window with a word", merchant("t0: {window: [morning, evening]}"), 5, []string{"t0 window", `"morning"`}},
		{"min above max", merchant("mode: T0", "t0: {min_amount: 500, max_amount: 100}"), 6, []string{"min_amount is above max_amount"}},
		{"rate 1.5", merchant("fees: {debit: 1.5}"), 5, []string{"fee rates", "0 to 1"}},
		{"credit rate 1", merchant("fees: {credit: 1}"), 5, []string{"fee rates"}},
		{"negative rate", merchant("fees: {credit: -0.01}"), 5, []string{"fee rates"}},
		{"negative cap", merchant("fees: {debit: 0.005, debit_cap: -1}"), 5, []string{"debit_cap", "negative"}},
		{"negative fixed", merchant("fees: {fixed: -5}"), 5, []string{"fixed", "negative"}},
		{"refund sometimes", merchant("fees:", "  debit: 0.005", "  refund: sometimes"), 7, []string{`refund "sometimes"`, "kept or returned"}},
		{"negative funds delay", merchant("mode: T0", "funds_delay: -1h"), 6, []string{"funds_delay", "negative"}},
		{"unknown books fault", merchant("faults:", "  - fee-no-cap", "  - fee-too-high"), 7, []string{`books fault "fee-too-high"`, "fee-wrong-tier"}},
		{"unknown settlement key", merchant("mode: T1", "fee: {debit: 0.005}"), 6, []string{"fee", "not found"}},
		{"settlement under terminals", "name: bad\nterminals:\n  T0000001:\n    settlement: {mode: T1}\n", 4,
			[]string{`terminals "T0000001"`, "settlement belongs to merchants"}},
		{"settlement under a listed merchant", "name: bad\nmerchants:\n  \"898100012340001\":\n    settlement: {mode: T3}\n", 4,
			[]string{`merchants "898100012340001"`, `mode "T3"`}},
		{"bins with a bad type", "name: bad\nbins:\n  - {prefix: \"622202\", type: debit}\n  - {prefix: \"4\", type: prepaid}\n", 4,
			[]string{"bins 2", "debit or credit"}},
		{"bins with a bad prefix", "name: bad\nbins:\n  - {prefix: \"62x\", type: debit}\n", 3, []string{"bins 1", "prefix of digits"}},
		{"bins without a prefix", "name: bad\nbins:\n  - {prefix: \"6\", type: credit}\n  - {type: debit}\n", 4, []string{"bins 2"}},
		{"calendar with a bad time zone", "name: bad\ncalendar:\n  cut_over: \"23:00\"\n  timezone: Mars/Olympus_Mons\n", 4,
			[]string{"calendar", `unknown time zone "Mars/Olympus_Mons"`}},
		{"calendar with a bad holiday", "name: bad\ncalendar:\n  holidays:\n    - 2026-10-01\n    - 2026-13-01\n", 5,
			[]string{"calendar", `holiday "2026-13-01"`, "YYYY-MM-DD"}},
		{"calendar with a holiday in another format", "name: bad\ncalendar:\n  holidays: [01/10/2026]\n", 3,
			[]string{`holiday "01/10/2026"`}},
		{"calendar with a bad cut-over", "name: bad\ncalendar:\n  timezone: UTC\n  cut_over: \"24:00\"\n", 4,
			[]string{"calendar", `"24:00"`, "HH:MM"}},
		{"calendar with a cut-over in words", "name: bad\ncalendar: {cut_over: midnight}\n", 2,
			[]string{"calendar", `"midnight"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := scenarios.Load(source, []byte(tt.file))
			if err == nil {
				t.Fatalf("Load accepted it as %q:\n%s", c.Name, tt.file)
			}
			msg := err.Error()
			for _, r := range tt.reason {
				if !strings.Contains(msg, r) {
					t.Errorf("error %q does not say %q", msg, r)
				}
			}
			if prefix := fmt.Sprintf("%s:%d: ", source, tt.line); !strings.HasPrefix(msg, prefix) {
				t.Errorf("error %q does not start with %q\n%s", msg, prefix, tt.file)
			}
		})
	}
}

// What the settlement settings say is what the engine gets.
func TestLoadSettlement(t *testing.T) {
	c := mustLoad(t, `name: good
calendar: {cut_over: "22:30", timezone: Asia/Shanghai, holidays: [2026-10-01]}
bins:
  - {prefix: "622202", type: debit}
merchants:
  "*":
    settlement:
      mode: T0
      t0: {window: ["09:00", "21:00"], min_amount: 100, max_amount: 5000000, daily_quota: 20000000}
      fees: {debit: 0.005, credit: 0.006, debit_cap: 2000, fixed: 10, refund: returned}
      funds_delay: 26h
      faults: [fee-no-cap, holiday-ignored]
`)
	want := &scenarios.Settlement{
		Mode:       "T0",
		T0:         &scenarios.T0{Window: []string{"09:00", "21:00"}, MinAmount: 100, MaxAmount: 5000000, DailyQuota: 20000000},
		Fees:       &scenarios.Fees{Debit: 0.005, Credit: 0.006, DebitCap: 2000, Fixed: 10, Refund: "returned"},
		FundsDelay: 26 * time.Hour,
		Faults:     []string{"fee-no-cap", "holiday-ignored"},
	}
	if got := c.Merchants["*"].Settlement; !reflect.DeepEqual(got, want) {
		t.Errorf("Settlement = %+v, want %+v", got, want)
	}
	if want := (&scenarios.Calendar{CutOver: "22:30", Timezone: "Asia/Shanghai", Holidays: []string{"2026-10-01"}}); !reflect.DeepEqual(c.Calendar, want) {
		t.Errorf("Calendar = %+v, want %+v", c.Calendar, want)
	}
	if want := []scenarios.BIN{{Prefix: "622202", Type: "debit"}}; !reflect.DeepEqual(c.BINs, want) {
		t.Errorf("BINs = %+v, want %+v", c.BINs, want)
	}
}
