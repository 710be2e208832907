package scenarios_test

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acqsim/acqsim/scenarios"
	"github.com/acqsim/acqsim/txn"
)

const fixtureDir = "../fixtures/scenarios"

// fixtureFiles lists the scenario files on disk, whether embedded or not.
func fixtureFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(fixtureDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario files in %s: %v", fixtureDir, err)
	}
	return files
}

func builtIn(t testing.TB) *scenarios.Library {
	t.Helper()
	lib, err := scenarios.BuiltIn()
	if err != nil {
		t.Fatalf("BuiltIn: %v", err)
	}
	return lib
}

// Every file in the library loads on its own and is named after its file.
func TestEveryFixtureLoads(t *testing.T) {
	for _, f := range fixtureFiles(t) {
		want := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(want, func(t *testing.T) {
			c, err := scenarios.LoadFile(f)
			if err != nil {
				t.Fatalf("LoadFile: %v", err)
			}
			if c.Name != want {
				t.Errorf("name %q in %s", c.Name, f)
			}
			if strings.TrimSpace(c.Description) == "" {
				t.Errorf("%s has no description: it is the library's documentation", f)
			}
		})
	}
}

// The embedded library is the files on disk, all of them, as they are.
func TestBuiltIn(t *testing.T) {
	lib := builtIn(t)
	files := fixtureFiles(t)
	var names []string
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		names = append(names, name)
		c, ok := lib.Get(name)
		if !ok {
			t.Errorf("%s is not in the built-in library", name)
			continue
		}
		if c.Name != name {
			t.Errorf("Get(%q) returned %q", name, c.Name)
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(c.Source, raw) {
			t.Errorf("%s: Source is not the file as it is on disk", name)
		}
	}
	var got []string
	for _, c := range lib.All() {
		got = append(got, c.Name)
	}
	sort.Strings(names) // Glob sorts already; say so
	if strings.Join(got, " ") != strings.Join(names, " ") {
		t.Errorf("All() = %v, want %v", got, names)
	}
	if _, ok := lib.Get("no-such-scenario"); ok {
		t.Error("Get of an unknown name found one")
	}
}

func TestLibraryAdd(t *testing.T) {
	lib := builtIn(t)
	n := len(lib.All())
	mine := mustLoad(t, "name: aaa-mine\nrules:\n  - respond: {rc: \"05\"}\n")
	if err := lib.Add(mine); err != nil {
		t.Fatal(err)
	}
	if c, ok := lib.Get("aaa-mine"); !ok || c != mine {
		t.Errorf("Get after Add = %v, %v", c, ok)
	}
	if all := lib.All(); len(all) != n+1 || all[0] != mine {
		t.Errorf("All after Add: %d scenarios, first %q; want %d, aaa-mine first", len(all), all[0].Name, n+1)
	}
	// A loaded scenario replaces a loaded one of its name (not a built-in).
	replacement := mustLoad(t, "name: aaa-mine\ndescription: mine now\n")
	if err := lib.Add(replacement); err != nil {
		t.Fatal(err)
	}
	if c, _ := lib.Get("aaa-mine"); c != replacement {
		t.Error("Add did not replace the scenario of the same name")
	}
	if len(lib.All()) != n+1 {
		t.Errorf("replacing added a scenario: %d", len(lib.All()))
	}
}

// The admin API adds scenarios to the library from concurrent requests while
// others read it (run with -race).
func TestLibraryConcurrentUse(t *testing.T) {
	lib := builtIn(t)
	sc := mustLoad(t, "name: mine\n")
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				lib.Add(sc)
				lib.Get("mine")
				lib.All()
			}
		}()
	}
	wg.Wait()
}

// exchange is one request to a built-in scenario and what it must get.
type exchange struct {
	req  *txn.Request
	at   time.Time // zero: noon UTC
	want result
	// terms, when set, are the settlement terms the scenario must give the
	// request (see sameTerms).
	terms *txn.Terms
}

// settles describes settlement terms: funds zero leaves them unchecked.
func settles(mode string, date, funds time.Time, card string, fee int64, faults ...string) *txn.Terms {
	return &txn.Terms{Mode: mode, Settlement: date, FundsAt: funds, CardType: card, Fee: fee, Faults: faults}
}

// sameTerms compares the settlement date as a day in its own time zone.
func sameTerms(got, want *txn.Terms) bool {
	return got != nil && got.Mode == want.Mode && got.CardType == want.CardType && got.Fee == want.Fee &&
		got.Settlement.Format("2006-01-02") == want.Settlement.Format("2006-01-02") &&
		(want.FundsAt.IsZero() || got.FundsAt.Equal(want.FundsAt)) &&
		strings.Join(got.Faults, ",") == strings.Join(want.Faults, ",")
}

func utcDay(y int, mo time.Month, d int) time.Time { return time.Date(y, mo, d, 0, 0, 0, 0, time.UTC) }

func inBatch(batch string) reqOpt { return func(r *txn.Request) { r.Batch = batch } }

// withField gives the request a field the dialect would read (field(id) in
// a match).
func withField(id int, value string) reqOpt {
	return func(r *txn.Request) {
		r.Field = func(n int) string {
			if n == id {
				return value
			}
			return ""
		}
	}
}

func sales(n int, amount int64, want result, opts ...reqOpt) []exchange {
	out := make([]exchange, n)
	for i := range out {
		out[i] = exchange{req: request(txn.Sale, amount, opts...), want: want}
	}
	return out
}

func concat(parts ...[]exchange) []exchange {
	var out []exchange
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func clock(hh, mm int) time.Time { return time.Date(2026, 6, 11, hh, mm, 0, 0, time.UTC) }

// Each built-in scenario does what its description says, bound globally on
// an engine in UTC.
func TestBuiltInBehaviour(t *testing.T) {
	dropped := dropped()
	resetConn := result{RC: "00", Fault: "fault.Reset"}
	magic := []exchange{
		{req: request(txn.Sale, 1000), want: approved()},
		{req: request(txn.Sale, 1099), want: approved()},
		{req: request(txn.Void, 1005), want: approved()},
	}
	for i, code := range []string{"05", "12", "13", "14", "30", "51", "54", "55", "57", "61", "62", "65", "75", "91", "96"} {
		typ := []txn.Type{txn.Sale, txn.PreAuth, txn.Refund}[i%3]
		amount := int64(100*(i+1)) + int64(code[0]-'0')*10 + int64(code[1]-'0')
		magic = append(magic, exchange{req: request(typ, amount), want: rc(code)})
	}

	const creditPAN = "4761739001010010"
	t1 := func(card string, fee int64, faults ...string) *txn.Terms {
		return settles("T1", utcDay(2026, 6, 12), utcDay(2026, 6, 12).Add(9*time.Hour), card, fee, faults...)
	}
	t0 := func(at time.Time) *txn.Terms {
		return settles("T0", utcDay(at.Year(), at.Month(), at.Day()), at, "debit", 0)
	}
	nextDay := clock(12, 0).Add(24 * time.Hour)
	tests := map[string][]exchange{
		"connection-reset": {
			{req: request(txn.Sale, 100), want: resetConn},
			{req: request(txn.Refund, 100), want: approved()},
		},
		"cutover": {
			{req: request(txn.Sale, 100), at: clock(22, 59), want: approved()},
			{req: request(txn.Sale, 100), at: clock(23, 0), want: rc("90")},
			{req: request(txn.Settlement, 0), at: clock(23, 4), want: rc("90")},
			{req: request(txn.Echo, 0), at: clock(23, 1), want: approved()},
			{req: request(txn.Sale, 100), at: clock(23, 5), want: approved()},
		},
		"daily-limit": concat([]exchange{
			{req: request(txn.Sale, 6000000), want: approved()},
			{req: request(txn.Sale, 4000000), want: approved()},
			{req: request(txn.Sale, 1), want: rc("61")},
			{req: request(txn.Sale, 1), at: clock(12, 0).Add(24 * time.Hour), want: approved()},
		}, sales(20, 1, approved(), withCard(pan2)), sales(1, 1, rc("65"), withCard(pan2))),
		"duplicate-response": {
			{req: request(txn.Sale, 100), want: result{RC: "00", Fault: "fault.Duplicate"}},
		},
		"flaky-network": {
			{req: request(txn.Echo, 0), want: approved()},
		},
		"garbage-response": {
			{req: request(txn.Sale, 100), want: result{RC: "00", Fault: "*fault.Garbage"}},
			{req: request(txn.Echo, 0), want: approved()},
		},
		"insufficient-funds": {
			{req: request(txn.Sale, 100), want: rc("51")},
			{req: request(txn.Refund, 100), want: approved()},
		},
		"issuer-flaky": {
			{req: request(txn.Sale, 6000000, atMerchant(mid2)), want: rc("61")},
			{req: request(txn.Sale, 100, atMerchant(mid2)), want: dropped},
			{req: request(txn.Sale, 100, atMerchant(mid2)), want: dropped},
			{req: request(txn.Sale, 100, atMerchant(mid2)), want: approved()},
			{req: request(txn.Sale, 100, atMerchant(mid2), onTerminal(tid2)), want: dropped},
			// The approval the rule lets through respects the daily limit.
			{req: request(txn.Sale, 5000000, atMerchant(mid2), withCard(pan2)), want: approved()},
			{req: request(txn.Sale, 5000000, atMerchant(mid2), withCard(pan2)), want: approved()},
			{req: request(txn.Sale, 1, atMerchant(mid2), withCard(pan2)), want: rc("61")},
			{req: request(txn.Sale, 100), want: rc("03")},
			{req: request(txn.Sale, 100, atMerchant(mid2), onTerminal("T0000099")), want: rc("97")},
			{req: request(txn.Settlement, 0, atMerchant(mid2)), at: clock(22, 59), want: approved()},
			{req: request(txn.Settlement, 0, atMerchant(mid2)), at: clock(23, 30), want: delayed(45 * time.Second)},
			{req: request(txn.Settlement, 0, atMerchant(mid2)), at: clock(0, 59), want: delayed(45 * time.Second)},
			{req: request(txn.Settlement, 0, atMerchant(mid2)), at: clock(1, 0), want: approved()},
		},
		"key-error": {
			{req: request(txn.SignOn, 0), want: result{RC: "00", Fault: "fault.Corrupt"}},
			{req: request(txn.Sale, 100), want: approved()},
		},
		"late-response": {
			{req: request(txn.Sale, 100), want: delayed(65 * time.Second)},
		},
		"magic-amounts": magic,
		"maintenance-window": {
			{req: request(txn.Sale, 100), at: clock(23, 49), want: approved()},
			{req: request(txn.Sale, 100), at: clock(23, 55), want: rc("91")},
			{req: request(txn.Balance, 0), at: clock(0, 5), want: rc("91")},
			{req: request(txn.SignOn, 0), at: clock(23, 55), want: approved()},
			{req: request(txn.Settlement, 0), at: clock(23, 55), want: approved()},
			{req: request(txn.Sale, 100), at: clock(0, 10), want: approved()},
		},
		"merchant-frozen": {
			{req: request(txn.Sale, 100), want: rc("03")},
			{req: request(txn.SignOn, 0), want: rc("03")},
			{req: request(txn.Echo, 0), want: approved()},
			{req: request(txn.SignOff, 0), want: approved()},
		},
		"settlement-delay": {
			{req: request(txn.Settlement, 0), want: delayed(45 * time.Second)},
			{req: request(txn.Sale, 100), want: approved()},
		},
		"settlement-failure": {
			{req: request(txn.Settlement, 0), want: rc("96")},
			{req: request(txn.Sale, 100), want: approved()},
		},
		"settlement-out-of-balance": {
			{req: request(txn.Settlement, 0), want: rc("95")},
			{req: request(txn.UploadEnd, 0), want: approved()},
		},
		"single-limit": {
			{req: request(txn.Sale, 5000000), want: approved()},
			{req: request(txn.Sale, 5000001), want: rc("61")},
			{req: request(txn.Advice, 5000001), want: rc("61")},
			{req: request(txn.Refund, 9000000), want: approved()},
		},
		"terminal-unregistered": {
			{req: request(txn.Sale, 100), want: rc("97")},
			{req: request(txn.SignOn, 0), want: rc("97")},
			{req: request(txn.Echo, 0), want: approved()},
		},
		"timeout": {
			{req: request(txn.Sale, 100), want: dropped},
			{req: request(txn.Reversal, 100), want: approved()},
		},
		"undelivered-approval": concat(
			sales(2, 100, approved()), sales(1, 100, dropped),
			sales(2, 100, approved(), onTerminal(tid2)), sales(1, 100, dropped, onTerminal(tid2)),
			sales(2, 100, approved()), sales(1, 100, dropped),
		),
		"void-disabled": {
			{req: request(txn.Void, 100), want: rc("58")},
			{req: request(txn.PreAuthVoid, 100), want: rc("58")},
			{req: request(txn.Refund, 100), want: approved()},
		},
		"fee-no-cap": {
			{req: request(txn.Sale, 1000000), want: approved(), terms: t1("debit", 5000, "fee-no-cap")},
			{req: request(txn.Sale, 10000), want: approved(), terms: t1("debit", 50, "fee-no-cap")},
			{req: request(txn.Sale, 1000000, withCard(creditPAN)), want: approved(), terms: t1("credit", 6000, "fee-no-cap")},
		},
		"fee-wrong-tier": {
			{req: request(txn.Sale, 10000), want: approved(), terms: t1("debit", 60, "fee-wrong-tier")},
			{req: request(txn.Sale, 10000, withCard(creditPAN)), want: approved(), terms: t1("credit", 50, "fee-wrong-tier")},
			{req: request(txn.Sale, 1000000), want: approved(), terms: t1("debit", 2000, "fee-wrong-tier")},
		},
		"fee-rounding": {
			{req: request(txn.Sale, 10010), want: approved(), terms: t1("debit", 51, "fee-rounding")},
			{req: request(txn.Sale, 10000), want: approved(), terms: t1("debit", 50, "fee-rounding")},
			{req: request(txn.Sale, 10001, withCard(creditPAN)), want: approved(), terms: t1("credit", 61, "fee-rounding")},
		},
		"fee-on-void": {
			{req: request(txn.Sale, 10010), want: approved(), terms: t1("debit", 50, "fee-on-void")},
			{req: request(txn.Void, 10010), want: approved(), terms: t1("debit", 0, "fee-on-void")},
			{req: request(txn.Refund, 10000), want: approved(), terms: t1("debit", 0, "fee-on-void")},
		},
		"holiday-settlement-date": {
			// The calendar has no time zone: noon is the same day in any.
			{req: request(txn.Sale, 100), at: time.Date(2026, 9, 30, 12, 0, 0, 0, time.UTC), want: approved(),
				terms: settles("T1", utcDay(2026, 10, 1), time.Time{}, "debit", 0, "holiday-ignored")},
			{req: request(txn.Sale, 100), at: time.Date(2026, 10, 2, 12, 0, 0, 0, time.UTC), want: approved(),
				terms: settles("T1", utcDay(2026, 10, 5), time.Time{}, "debit", 0, "holiday-ignored")},
			{req: request(txn.Sale, 100), at: time.Date(2026, 12, 31, 12, 0, 0, 0, time.UTC), want: approved(),
				terms: settles("T1", utcDay(2027, 1, 1), time.Time{}, "debit", 0, "holiday-ignored")},
		},
		"settlement-issuer-down": {
			{req: request(txn.Settlement, 0), want: rc("91")},
			{req: request(txn.Sale, 100), want: approved()},
			{req: request(txn.UploadEnd, 0), want: approved()},
		},
		"settlement-no-response": {
			{req: request(txn.Settlement, 0), want: lost()},
			{req: request(txn.Sale, 100), want: approved()},
			{req: request(txn.Upload, 0), want: approved()},
		},
		"settlement-out-of-balance-once": {
			{req: request(txn.Settlement, 0, inBatch("000001")), want: approved()},
			{req: request(txn.Settlement, 0, inBatch("000002")), want: rc("95")},
			{req: request(txn.Settlement, 0, withField(60, "000002")), want: rc("95")},
			{req: request(txn.Settlement, 0, withField(60, "000003")), want: approved()},
			{req: request(txn.Settlement, 0, inBatch("000003")), want: approved()},
			{req: request(txn.Sale, 100, inBatch("000002")), want: approved()},
		},
		"settlement-suspended": {
			{req: request(txn.Sale, 100), want: approved()},
			{req: request(txn.Refund, 100), want: approved()},
			{req: request(txn.Settlement, 0), want: rc("03")},
			{req: request(txn.Upload, 0), want: rc("03")},
			{req: request(txn.UploadEnd, 0), want: rc("03")},
			{req: request(txn.Settlement, 0, atMerchant(mid2)), want: rc("03")},
		},
		"t0-funds-late": {
			{req: request(txn.Sale, 100), want: approved(),
				terms: settles("T0", utcDay(2026, 6, 11), noon.Add(26*time.Hour), "debit", 0)},
			{req: request(txn.Sale, 100), at: clock(23, 30), want: approved(),
				terms: settles("T0", utcDay(2026, 6, 12), clock(23, 30).Add(26*time.Hour), "debit", 0)},
		},
		"t0-outside-window": {
			{req: request(txn.Sale, 1000), at: clock(8, 59), want: rc("58")},
			{req: request(txn.Sale, 100), at: clock(9, 0), want: approved(), terms: t0(clock(9, 0))},
			{req: request(txn.Sale, 100), at: clock(20, 59), want: approved(), terms: t0(clock(20, 59))},
			{req: request(txn.Sale, 100), at: clock(21, 0), want: rc("58")},
			{req: request(txn.Sale, 99), want: rc("13")},
			{req: request(txn.Sale, 5000001), want: rc("61")},
			{req: request(txn.Sale, 5000000), want: approved()},
			{req: request(txn.Sale, 5000000), want: approved()},
			{req: request(txn.Sale, 5000000), want: approved()},
			{req: request(txn.Sale, 4999800), want: approved()}, // 200,000.00 today
			{req: request(txn.Sale, 100), want: rc("61")},
			{req: request(txn.Refund, 100), at: clock(22, 0), want: approved()},
			{req: request(txn.Sale, 100), at: nextDay, want: approved(), terms: t0(nextDay)},
		},
		"t0-settled-t1": {
			{req: request(txn.Sale, 100), want: approved(), terms: t1("debit", 0, "t0-settled-t1")},
			{req: request(txn.Sale, 100), at: clock(23, 0), want: approved(),
				terms: settles("T1", utcDay(2026, 6, 15), utcDay(2026, 6, 15).Add(9*time.Hour), "debit", 0, "t0-settled-t1")},
		},
		"upload-delay": {
			{req: request(txn.Settlement, 0), want: rc("95")},
			{req: request(txn.Upload, 0), want: delayed(20 * time.Second)},
			{req: request(txn.UploadEnd, 0), want: lost()},
			{req: request(txn.Sale, 100), want: approved()},
		},
		"arqc-invalid": {
			{req: request(txn.Sale, 100, withChip(txn.ChipValid)), want: rc("05")},
			{req: request(txn.Sale, 100, withChip(txn.ChipUnchecked)), want: rc("05")},
			{req: request(txn.Sale, 100), want: approved()},
		},
		"arpc-wrong": {
			{req: request(txn.Sale, 100, withChip(txn.ChipValid)), want: approved()},
			{req: request(txn.Sale, 100, withChip(txn.ChipFailed)), want: rc("05")},
		},
		"arpc-missing": {
			{req: request(txn.Sale, 100, withChip(txn.ChipValid)), want: approved()},
			{req: request(txn.Sale, 100, withChip(txn.ChipFailed)), want: rc("05")},
		},
		"issuer-script-block-card": {
			{req: request(txn.Sale, 100, withChip(txn.ChipValid)), want: approved()},
		},
		"issuer-script-mac-wrong": {
			{req: request(txn.Sale, 100, withChip(txn.ChipValid)), want: approved()},
		},
		"fallback-refused": {
			{req: request(txn.Sale, 100, withEntry("801")), want: rc("05")},
			{req: request(txn.Sale, 100, withEntry("021"), withField(35, "6212345678901234=30122010000000000")), want: rc("05")},
			{req: request(txn.Sale, 100, withEntry("021"), withField(35, "6212345678901234=30121010000000000")), want: approved()},
			{req: request(txn.Sale, 100, withEntry("051"), withChip(txn.ChipValid)), want: approved()},
			{req: request(txn.Refund, 100, withEntry("801")), want: approved()},
		},
		"contactless-over-limit": {
			{req: request(txn.Sale, 100001, withEntry("071"), withChip(txn.ChipValid)), want: rc("65")},
			{req: request(txn.Sale, 100000, withEntry("071"), withChip(txn.ChipValid)), want: approved()},
			{req: request(txn.Sale, 100001, withEntry("911")), want: rc("65")},
			{req: request(txn.Sale, 100001, withEntry("051"), withChip(txn.ChipValid)), want: approved()},
		},
		"tc-upload-missing": {
			{req: request(txn.Upload, 0, withTags("9F27", "40")), want: lost()},
			{req: request(txn.Upload, 0), want: approved()},
			{req: request(txn.Settlement, 0), want: approved()},
		},
		"void-after-settlement": {
			// The host's own rule (acquirer tests): the scenario changes nothing.
			{req: request(txn.Sale, 100), want: approved()},
			{req: request(txn.Void, 100), want: approved()},
			{req: request(txn.Refund, 100), want: approved()},
			{req: request(txn.Settlement, 0), want: approved()},
		},
		"wrong-pin": concat(
			sales(3, 100, rc("55")), sales(2, 100, rc("75")),
			sales(1, 100, rc("55"), withCard(pan2)), sales(1, 100, rc("75"), onTerminal(tid2)),
		),
	}

	lib := builtIn(t)
	for _, c := range lib.All() {
		if _, ok := tests[c.Name]; !ok {
			t.Errorf("built-in scenario %s has no case here", c.Name)
		}
	}
	// Cases that found a bug, skipped until it is fixed.
	bugs := map[string]string{}
	for name, exchanges := range tests {
		t.Run(name, func(t *testing.T) {
			if bug := bugs[name]; bug != "" {
				t.Skip(bug)
			}
			sc, ok := lib.Get(name)
			if !ok {
				t.Fatalf("no built-in scenario %s", name)
			}
			e := scenarios.NewEngine(newFakeHost(), 1, time.UTC)
			e.SetGlobal(sc)
			for i, x := range exchanges {
				at := x.at
				if at.IsZero() {
					at = noon
				}
				p := e.Plan(x.req, at)
				if got := summary(p); got != x.want {
					t.Errorf("request %d (%s %d from %s at %s): %v, want %v",
						i+1, x.req.Type, x.req.Amount, x.req.TID, at.Format("15:04"), got, x.want)
				}
				if x.want != approved() && p.Trace.Scenario != name {
					t.Errorf("request %d: Trace.Scenario = %q, want %q", i+1, p.Trace.Scenario, name)
				}
				if x.terms != nil && !sameTerms(x.req.Terms, x.terms) {
					t.Errorf("request %d (%s %d at %s): terms %+v, want %+v",
						i+1, x.req.Type, x.req.Amount, at.Format(time.RFC3339), x.req.Terms, x.terms)
				}
			}
		})
	}
}

// flaky-network spreads its faults as its description says: about a tenth
// each of dropped, reset, cut short and slow, the rest normal.
func TestBuiltInFlakyNetworkShares(t *testing.T) {
	sc, _ := builtIn(t).Get("flaky-network")
	e := scenarios.NewEngine(newFakeHost(), 99, time.UTC)
	e.SetGlobal(sc)
	const n = 2000
	got := map[string]int{}
	for range n {
		p := e.Plan(request(txn.Sale, 100), noon)
		switch {
		case p.Fault != nil:
			got[p.Trace.Rule]++
		case p.Delay > 0:
			if p.Delay < 2*time.Second || p.Delay > 8*time.Second {
				t.Fatalf("slow answer after %v, want 2s to 8s", p.Delay)
			}
			got[p.Trace.Rule]++
		default:
			got["normal"]++
		}
	}
	want := map[string]float64{"dropped": 0.1, "reset": 0.1, "cut short": 0.1, "slow": 0.1, "normal": 0.6}
	for rule, share := range want {
		if lo, hi := int(share*n*0.75), int(share*n*1.25); got[rule] < lo || got[rule] > hi {
			t.Errorf("%s: %d of %d, want %d to %d", rule, got[rule], n, lo, hi)
		}
	}
}

// issuer-flaky resets about a tenth of echoes, drawn per terminal.
func TestBuiltInIssuerFlakyEchoes(t *testing.T) {
	sc, _ := builtIn(t).Get("issuer-flaky")
	e := scenarios.NewEngine(newFakeHost(), 1, time.UTC)
	e.SetGlobal(sc)
	const n = 1000
	resets := 0
	for range n {
		p := e.Plan(request(txn.Echo, 0, atMerchant(mid2)), noon)
		if p.Fault != nil {
			if p.Trace.Rule != "a tenth of echoes reset the connection" {
				t.Fatalf("echo faulted by %+v", p.Trace)
			}
			resets++
		}
	}
	if resets < 50 || resets > 150 {
		t.Errorf("%d of %d echoes reset, want about %d", resets, n, n/10)
	}
}

// A loaded scenario cannot take a built-in one's name: the built-ins stay
// what they are for the host's life.
func TestLibraryKeepsBuiltInNames(t *testing.T) {
	lib, err := scenarios.BuiltIn()
	if err != nil {
		t.Fatal(err)
	}
	impostor, err := scenarios.Load("body", []byte("name: timeout\ndescription: not the real one\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := lib.Add(impostor); err == nil {
		t.Error("a loaded scenario replaced the built-in timeout")
	}
	if c, _ := lib.Get("timeout"); c == impostor {
		t.Error("the library now holds the impostor under timeout")
	}
	own, err := scenarios.Load("body", []byte("name: my-timeout\ndescription: mine\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := lib.Add(own); err != nil {
		t.Errorf("adding a scenario of a new name: %v", err)
	}
}
