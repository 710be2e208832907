package scenarios_test

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acqsim/acqsim/host/fault"
	"github.com/acqsim/acqsim/scenarios"
	"github.com/acqsim/acqsim/txn"
)

const (
	tid1 = "T0000001"
	tid2 = "T0000002"
	tid3 = "T0000003"
	mid1 = "898100012340001"
	mid2 = "898100012340002"
	pan1 = "6222021234567890123"
	pan2 = "6228480012345678"
)

// noon is a Thursday, well away from midnight in any zone the tests use.
var noon = time.Date(2026, 6, 11, 12, 0, 0, 0, time.UTC)

// call is one call the engine made to the default host behaviour.
type call struct {
	Method       string // Decide, Force or SignedOn
	TID, STAN    string
	RC           string // Force's rc
	OutOfBalance bool
}

// fakeHost is the default host behaviour, predictable: it approves what it
// decides unless told otherwise for a STAN, answers what it is forced to (95
// for out of balance), and remembers every call.
type fakeHost struct {
	mu       sync.Mutex
	calls    []call
	answers  map[string]txn.Decision // by STAN: what Decide answers instead of 00
	signedOn map[string]bool         // by "MID/TID"
}

var _ scenarios.Decider = (*fakeHost)(nil)

func newFakeHost() *fakeHost {
	return &fakeHost{answers: map[string]txn.Decision{}, signedOn: map[string]bool{}}
}

func (h *fakeHost) Decide(r *txn.Request, _ time.Time) txn.Decision {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, call{Method: "Decide", TID: r.TID, STAN: r.STAN})
	if d, ok := h.answers[r.STAN]; ok {
		return d
	}
	return txn.Decision{RC: txn.Approved, Note: "decided"}
}

func (h *fakeHost) Force(r *txn.Request, _ time.Time, rc string, outOfBalance bool) txn.Decision {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, call{Method: "Force", TID: r.TID, STAN: r.STAN, RC: rc, OutOfBalance: outOfBalance})
	if rc == "" && outOfBalance {
		rc = txn.OutOfBalance
	}
	return txn.Decision{RC: rc, Note: "forced"}
}

func (h *fakeHost) SignedOn(mid, tid string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, call{Method: "SignedOn", TID: tid})
	return h.signedOn[mid+"/"+tid]
}

// Repeated says a request is a retransmission when its STAN's answer is a
// cached one.
func (h *fakeHost) Repeated(r *txn.Request) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	d, ok := h.answers[r.STAN]
	return ok && d.Cached
}

func (h *fakeHost) answer(stan string, d txn.Decision) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.answers[stan] = d
}

func (h *fakeHost) signOn(mid, tid string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.signedOn[mid+"/"+tid] = true
}

// take returns the calls made since the last take.
func (h *fakeHost) take() []call {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.calls
	h.calls = nil
	return c
}

var stans atomic.Int64

var mtiOf = map[txn.Type]string{
	txn.SignOn: "0800", txn.SignOff: "0820", txn.Echo: "0820", txn.Sale: "0200", txn.Void: "0200",
	txn.Refund: "0220", txn.Balance: "0200", txn.PreAuth: "0100", txn.PreAuthVoid: "0100",
	txn.Completion: "0200", txn.Advice: "0220", txn.Reversal: "0400", txn.Settlement: "0500",
	txn.Upload: "0320", txn.UploadEnd: "0320",
}

type reqOpt func(*txn.Request)

func onTerminal(tid string) reqOpt { return func(r *txn.Request) { r.TID = tid } }
func atMerchant(mid string) reqOpt { return func(r *txn.Request) { r.MID = mid } }
func withCard(pan string) reqOpt   { return func(r *txn.Request) { r.PAN = pan } }
func withSTAN(stan string) reqOpt  { return func(r *txn.Request) { r.STAN = stan } }
func withEntry(mode string) reqOpt { return func(r *txn.Request) { r.EntryMode = mode } }

// withChip makes the request a chip card's online request whose ARQC the
// issuer checked as c says.
func withChip(c txn.Chip) reqOpt {
	return func(r *txn.Request) {
		r.Chip = c
		withTags("9F27", "80")(r)
	}
}

// withTags gives the request chip data: tag, value (hex), ...
func withTags(kv ...string) reqOpt {
	return func(r *txn.Request) {
		r.Tag = func(tag string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == tag {
					return kv[i+1]
				}
			}
			return ""
		}
	}
}

// request builds a request from terminal tid1 of merchant mid1 with card
// pan1 and a STAN of its own.
func request(typ txn.Type, amount int64, opts ...reqOpt) *txn.Request {
	r := &txn.Request{
		Type: typ, MTI: mtiOf[typ], TID: tid1, MID: mid1, PAN: pan1, Amount: amount,
		STAN: fmt.Sprintf("%06d", stans.Add(1)%1000000), Currency: "156", Proc: "000000",
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

// newEngine loads src and binds it globally on a fresh engine over a fake
// host, in UTC with seed 1.
func newEngine(t testing.TB, src string) (*scenarios.Engine, *fakeHost) {
	t.Helper()
	h := newFakeHost()
	e := scenarios.NewEngine(h, 1, time.UTC)
	e.SetGlobal(mustLoad(t, src))
	return e, h
}

// result is what a test usually wants to know of a plan.
type result struct {
	RC    string
	Fault string // the fault's type, "" for none
	Delay time.Duration
}

func (r result) String() string {
	s := r.RC
	if r.Fault != "" {
		s += " " + r.Fault
	}
	if r.Delay != 0 {
		s += " after " + r.Delay.String()
	}
	return s
}

func summary(p scenarios.Plan) result {
	res := result{RC: p.Decision.RC, Delay: p.Delay}
	if p.Fault != nil {
		res.Fault = fmt.Sprintf("%T", p.Fault)
	}
	return res
}

func approved() result      { return result{RC: "00"} }
func rc(code string) result { return result{RC: code} }
func dropped() result       { return result{RC: "00", Fault: "fault.NoResponse"} }

// lost is a settlement the host never processed, for its answer never leaves.
func lost() result                   { return result{RC: "", Fault: "fault.NoResponse"} }
func delayed(d time.Duration) result { return result{RC: "00", Delay: d} }

func TestPlanFirstMatchingRuleWins(t *testing.T) {
	e, h := newEngine(t, `name: first
rules:
  - name: big
    match: txn == "sale" && amount > 100000
    respond: {rc: "61"}
  - name: any sale
    match: txn == "sale"
    respond: {rc: "05"}
  - name: big again
    match: amount > 100000
    respond: {rc: "13"}
`)
	tests := []struct {
		name string
		req  *txn.Request
		want result
		rule string
	}{
		{"both sale rules match: the first wins", request(txn.Sale, 200000), rc("61"), "big"},
		{"only the second matches", request(txn.Sale, 100), rc("05"), "any sale"},
		{"only the third matches", request(txn.Refund, 200000), rc("13"), "big again"},
		{"none matches", request(txn.Refund, 100), approved(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := e.Plan(tt.req, noon)
			if got := summary(p); got != tt.want {
				t.Errorf("plan %v, want %v", got, tt.want)
			}
			if p.Trace.Rule != tt.rule {
				t.Errorf("Trace.Rule = %q, want %q", p.Trace.Rule, tt.rule)
			}
			h.take()
		})
	}
}

// A request no rule matches, or with no scenario at all, gets the default
// host behaviour, once, and an empty trace.
func TestPlanDefaultBehaviour(t *testing.T) {
	for _, bound := range []bool{false, true} {
		t.Run(fmt.Sprintf("scenario bound %v", bound), func(t *testing.T) {
			h := newFakeHost()
			e := scenarios.NewEngine(h, 1, time.UTC)
			if bound {
				e.SetGlobal(mustLoad(t, "name: refunds\nrules:\n  - match: txn == \"refund\"\n    respond: {rc: \"05\"}\n"))
			}
			r := request(txn.Sale, 100)
			p := e.Plan(r, noon)
			want := scenarios.Plan{Decision: txn.Decision{RC: "00", Note: "decided"}}
			if !reflect.DeepEqual(p, want) {
				t.Errorf("plan %+v, want %+v", p, want)
			}
			if calls, want := h.take(), []call{{Method: "Decide", TID: tid1, STAN: r.STAN}}; !reflect.DeepEqual(calls, want) {
				t.Errorf("calls %+v, want %+v", calls, want)
			}
		})
	}
}

// Steps apply in turn, each to its number of requests; when all are used up
// the rule stops matching and the request falls through.
func TestPlanSteps(t *testing.T) {
	tests := []struct {
		name  string
		rules string
		want  []result
		steps []int
	}{
		{
			name: "two dropped, one approved, then through to the default",
			rules: `
  - name: flaky
    match: txn == "sale"
    steps:
      - times: 2
        action: no-response
      - times: 1
        respond: {rc: "00"}`,
			want:  []result{dropped(), dropped(), approved(), approved(), approved()},
			steps: []int{1, 1, 2, 0, 0},
		},
		{
			name: "used up, then through to the next rule",
			rules: `
  - name: flaky
    match: txn == "sale"
    steps:
      - times: 1
        respond: {rc: "91"}
      - times: 2
        respond: {rc: "96"}
  - name: after
    match: txn == "sale"
    respond: {rc: "05"}`,
			want:  []result{rc("91"), rc("96"), rc("96"), rc("05"), rc("05")},
			steps: []int{1, 2, 2, 0, 0},
		},
		{
			name: "a last step without times goes on for ever",
			rules: `
  - name: pin
    match: txn == "sale"
    steps:
      - times: 3
        respond: {rc: "55"}
      - respond: {rc: "75"}`,
			want:  []result{rc("55"), rc("55"), rc("55"), rc("75"), rc("75"), rc("75")},
			steps: []int{1, 1, 1, 2, 2, 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := newEngine(t, "name: steps\nrules:"+tt.rules+"\n")
			for i, want := range tt.want {
				p := e.Plan(request(txn.Sale, 100), noon)
				if got := summary(p); got != want {
					t.Errorf("sale %d: %v, want %v", i+1, got, want)
				}
				if p.Trace.Step != tt.steps[i] {
					t.Errorf("sale %d: Trace.Step = %d, want %d", i+1, p.Trace.Step, tt.steps[i])
				}
			}
		})
	}
}

// A rule's counters count by what per: says.
func TestPlanPer(t *testing.T) {
	type who struct{ tid, mid, pan string }
	var (
		t1m1c1 = who{tid1, mid1, pan1}
		t2m1c1 = who{tid2, mid1, pan1}
		t1m1c2 = who{tid1, mid1, pan2}
		t3m2c1 = who{tid3, mid2, pan1}
		t3m2c2 = who{tid3, mid2, pan2}
	)
	requests := []who{t1m1c1, t2m1c1, t1m1c2, t3m2c1, t1m1c1, t3m2c2}
	tests := []struct {
		per  string
		want []string // the first request counted by each key gets 05
	}{
		{"terminal", []string{"05", "05", "00", "05", "00", "00"}},
		{"", []string{"05", "05", "00", "05", "00", "00"}}, // terminal is the default
		{"card", []string{"05", "00", "05", "00", "00", "00"}},
		{"merchant", []string{"05", "00", "00", "05", "00", "00"}},
		{"global", []string{"05", "00", "00", "00", "00", "00"}},
	}
	for _, tt := range tests {
		t.Run("per "+tt.per, func(t *testing.T) {
			per := ""
			if tt.per != "" {
				per = "\n    per: " + tt.per
			}
			e, _ := newEngine(t, `name: per
rules:
  - match: txn == "sale"`+per+`
    steps:
      - times: 1
        respond: {rc: "05"}
`)
			for i, w := range requests {
				p := e.Plan(request(txn.Sale, 100, onTerminal(w.tid), atMerchant(w.mid), withCard(w.pan)), noon)
				if p.Decision.RC != tt.want[i] {
					t.Errorf("request %d %+v: rc %s, want %s", i+1, w, p.Decision.RC, tt.want[i])
				}
			}
		})
	}
}

// every: N applies the rule to every Nth matching request, counted per
// terminal by default; the others fall through.
func TestPlanEvery(t *testing.T) {
	e, _ := newEngine(t, `name: every
rules:
  - name: third
    match: txn == "sale"
    every: 3
    action: no-response
`)
	tests := []struct {
		tid  string
		want result
	}{
		{tid1, approved()}, {tid1, approved()}, {tid2, approved()}, {tid1, dropped()},
		{tid2, approved()}, {tid1, approved()}, {tid2, dropped()}, {tid1, approved()},
		{tid1, dropped()}, {tid2, approved()},
	}
	for i, tt := range tests {
		if got := summary(e.Plan(request(txn.Sale, 100, onTerminal(tt.tid)), noon)); got != tt.want {
			t.Errorf("request %d from %s: %v, want %v", i+1, tt.tid, got, tt.want)
		}
	}
}

// every: counts the requests it applies to for steps too.
func TestPlanEveryWithSteps(t *testing.T) {
	e, _ := newEngine(t, `name: every-steps
rules:
  - match: txn == "sale"
    every: 2
    steps:
      - times: 1
        respond: {rc: "91"}
      - times: 1
        respond: {rc: "96"}
`)
	want := []string{"00", "91", "00", "96", "00", "00", "00", "00"}
	for i, w := range want {
		if got := e.Plan(request(txn.Sale, 100), noon).Decision.RC; got != w {
			t.Errorf("sale %d: rc %s, want %s", i+1, got, w)
		}
	}
}

const probable = `name: probable
rules:
  - name: sometimes
    match: txn == "sale"
    probability: 0.3
    respond: {rc: "05"}
`

// applied runs n sales from tid through e and says which the rule took.
func applied(e *scenarios.Engine, tid string, n int) []bool {
	out := make([]bool, n)
	for i := range out {
		out[i] = e.Plan(request(txn.Sale, 100, onTerminal(tid)), noon).Decision.RC == "05"
	}
	return out
}

func count(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

func engineWithSeed(t *testing.T, src string, seed uint64) *scenarios.Engine {
	e := scenarios.NewEngine(newFakeHost(), seed, time.UTC)
	e.SetGlobal(mustLoad(t, src))
	return e
}

// probability: draws from the seed per terminal: the same seed gives the
// same run whatever other terminals do, another seed another run, and the
// rule applies to about the fraction it says.
func TestPlanProbability(t *testing.T) {
	const n = 200
	first := applied(engineWithSeed(t, probable, 42), tid1, n)

	// The same seed, with another terminal's traffic in between.
	again := engineWithSeed(t, probable, 42)
	var interleaved []bool
	for range n {
		interleaved = append(interleaved, applied(again, tid1, 1)...)
		applied(again, tid2, 1)
	}
	if !reflect.DeepEqual(first, interleaved) {
		t.Errorf("the same seed gave another run for %s when %s also sent:\n%v\n%v", tid1, tid2, first, interleaved)
	}

	if other := applied(engineWithSeed(t, probable, 43), tid1, n); reflect.DeepEqual(first, other) {
		t.Errorf("seeds 42 and 43 gave the same run of %d", n)
	}
	if other := applied(engineWithSeed(t, probable, 42), tid2, n); reflect.DeepEqual(first, other) {
		t.Errorf("terminals %s and %s drew the same run of %d", tid1, tid2, n)
	}

	// 0.3 of 200 is 60, with a standard deviation of about 6.5.
	if got := count(first); got < 30 || got > 90 {
		t.Errorf("the rule applied to %d of %d, want about %d", got, n, n*3/10)
	}
}

func TestPlanProbabilityBounds(t *testing.T) {
	for _, tt := range []struct {
		p    string
		want int
	}{{"0", 0}, {"1", 50}} {
		t.Run("probability "+tt.p, func(t *testing.T) {
			src := "name: p\nrules:\n  - match: txn == \"sale\"\n    probability: " + tt.p + "\n    respond: {rc: \"05\"}\n"
			if got := count(applied(engineWithSeed(t, src, 7), tid1, 50)); got != tt.want {
				t.Errorf("applied to %d of 50, want %d", got, tt.want)
			}
		})
	}
}

func TestPlanDelay(t *testing.T) {
	tests := []struct {
		delay  string
		check  func(d time.Duration) bool
		varies bool // the draws must not all be the same
	}{
		{delay: "45s", check: func(d time.Duration) bool { return d == 45*time.Second }},
		{delay: "{distribution: fixed, min: 2s}", check: func(d time.Duration) bool { return d == 2*time.Second }},
		{delay: "1s..5s", varies: true, check: func(d time.Duration) bool { return d >= time.Second && d <= 5*time.Second }},
		{delay: "0s..0s", check: func(d time.Duration) bool { return d == 0 }},
		{
			delay: "{distribution: normal, mean: 1s, stddev: 3s}", varies: true,
			check: func(d time.Duration) bool { return d >= 0 },
		},
		{
			delay: "{distribution: normal, mean: 2s, stddev: 2s, min: 1s, max: 3s}", varies: true,
			check: func(d time.Duration) bool { return d >= time.Second && d <= 3*time.Second },
		},
		{
			delay: "{distribution: exponential, mean: 500ms}", varies: true,
			check: func(d time.Duration) bool { return d >= 0 },
		},
	}
	for _, tt := range tests {
		t.Run(tt.delay, func(t *testing.T) {
			e, _ := newEngine(t, "name: d\nrules:\n  - match: txn == \"sale\"\n    delay: "+tt.delay+"\n")
			seen := map[time.Duration]bool{}
			for i := range 500 {
				p := e.Plan(request(txn.Sale, 100), noon)
				if !tt.check(p.Delay) {
					t.Fatalf("draw %d: delay %v out of bounds", i+1, p.Delay)
				}
				if p.Decision.RC != "00" || p.Fault != nil {
					t.Fatalf("draw %d: %v, want the default answer, delayed", i+1, summary(p))
				}
				seen[p.Delay] = true
			}
			if tt.varies && len(seen) < 10 {
				t.Errorf("only %d different delays in 500 draws", len(seen))
			}
		})
	}
}

// An exponential delay's draws average out near its mean.
func TestPlanDelayExponentialMean(t *testing.T) {
	e, _ := newEngine(t, "name: d\nrules:\n  - delay: {distribution: exponential, mean: 2s}\n")
	var sum time.Duration
	const n = 2000
	for range n {
		sum += e.Plan(request(txn.Sale, 100), noon).Delay
	}
	if mean := sum / n; mean < 1500*time.Millisecond || mean > 2500*time.Millisecond {
		t.Errorf("mean of %d draws %v, want about 2s", n, mean)
	}
}

func TestPlanTrace(t *testing.T) {
	e, _ := newEngine(t, `name: traced
rules:
  - name: everything at once
    match: txn == "sale"
    respond: {rc: "05", requirement: 3, set: {38: "000000"}}
    delay: 45s
    action: {duplicate: {gap: 1s}}
  - match: txn == "refund"
    steps:
      - times: 1
        action: {garbage: {bytes: 8}}
      - times: 1
        respond: {out_of_balance: true}
  - match: txn == "balance"
limits:
  - {period: txn, max_amount: 1000}
`)
	tests := []struct {
		name string
		req  *txn.Request
		want scenarios.Trace
	}{
		{"named rule, every part", request(txn.Sale, 100), scenarios.Trace{
			Scenario: "traced", Rule: "everything at once", Action: "respond rc=05 requirement=3 fields, delay 45s, duplicate"}},
		{"unnamed rule, first step", request(txn.Refund, 100), scenarios.Trace{
			Scenario: "traced", Rule: "rule 2", Step: 1, Action: "garbage"}},
		{"unnamed rule, second step", request(txn.Refund, 100), scenarios.Trace{
			Scenario: "traced", Rule: "rule 2", Step: 2, Action: "respond out-of-balance"}},
		{"a rule with an empty outcome", request(txn.Balance, 100), scenarios.Trace{
			Scenario: "traced", Rule: "rule 3"}},
		{"a limit", request(txn.PreAuth, 1001), scenarios.Trace{
			Scenario: "traced", Rule: "limit 1", Action: "respond rc=61"}},
		{"the default answer in a scenario with limits", request(txn.PreAuth, 1000), scenarios.Trace{
			Scenario: "traced"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := e.Plan(tt.req, noon).Trace; got != tt.want {
				t.Errorf("Trace = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// respond: forces the host's answer with its rc and out_of_balance, and
// hands the field changes and the header requirement on in the plan.
func TestPlanRespond(t *testing.T) {
	e, h := newEngine(t, `name: respond
rules:
  - match: txn == "sale"
    respond: {rc: "A0", requirement: 3, set: {38: "ABC123", 54: "x"}, unset: [15, 37]}
  - match: txn == "settlement"
    respond: {out_of_balance: true}
  - match: txn == "refund"
    respond: {rc: "00"}
  - match: txn == "echo"
    action: {garbage: {bytes: 32}}
`)
	tests := []struct {
		name  string
		req   *txn.Request
		calls []call
		want  scenarios.Plan
	}{
		{
			name:  "rc, fields and requirement",
			req:   request(txn.Sale, 100, withSTAN("000101")),
			calls: []call{{Method: "Force", TID: tid1, STAN: "000101", RC: "A0"}},
			want: scenarios.Plan{
				Decision: txn.Decision{RC: "A0", Requirement: 3, Note: "forced"},
				Set:      map[int]string{38: "ABC123", 54: "x"}, Unset: []int{15, 37},
			},
		},
		{
			name:  "out of balance",
			req:   request(txn.Settlement, 0, withSTAN("000102")),
			calls: []call{{Method: "Force", TID: tid1, STAN: "000102", OutOfBalance: true}},
			want:  scenarios.Plan{Decision: txn.Decision{RC: "95", Note: "forced"}},
		},
		{
			name:  "rc 00 is the normal answer",
			req:   request(txn.Refund, 100, withSTAN("000103")),
			calls: []call{{Method: "Decide", TID: tid1, STAN: "000103"}},
			want:  scenarios.Plan{Decision: txn.Decision{RC: "00", Note: "decided"}},
		},
		{
			name:  "an action alone decides by default",
			req:   request(txn.Echo, 0, withSTAN("000104")),
			calls: []call{{Method: "Decide", TID: tid1, STAN: "000104"}},
			want:  scenarios.Plan{Decision: txn.Decision{RC: "00", Note: "decided"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := e.Plan(tt.req, noon)
			p.Trace, p.Acts = scenarios.Trace{}, nil // TestPlanActs
			if p.Fault != nil {
				if g, ok := p.Fault.(*fault.Garbage); !ok || g.Bytes != 32 {
					t.Errorf("Fault = %#v, want 32 bytes of garbage", p.Fault)
				}
				p.Fault = nil
			}
			if !reflect.DeepEqual(p, tt.want) {
				t.Errorf("plan %+v, want %+v", p, tt.want)
			}
			if calls := h.take(); !reflect.DeepEqual(calls, tt.calls) {
				t.Errorf("calls %+v, want %+v", calls, tt.calls)
			}
		})
	}
}

// Each action a scenario names becomes that fault in the plan.
func TestPlanFaults(t *testing.T) {
	tests := []struct {
		action string
		want   fault.Fault
	}{
		{"no-response", fault.NoResponse{}},
		{"reset", fault.Reset{}},
		{"close", fault.Close{}},
		{"{close: {after: true}}", fault.Close{After: true}},
		{"truncate", fault.Truncate{}},
		{"{truncate: {bytes: 5}}", fault.Truncate{Bytes: 5}},
		{"{duplicate: {gap: 2s}}", fault.Duplicate{Gap: 2 * time.Second}},
		{"{corrupt: {what: mac}}", fault.Corrupt{What: "mac"}},
		{"refuse", fault.Refuse{For: 30 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			e, _ := newEngine(t, "name: f\nrules:\n  - action: "+tt.action+"\n")
			if got := e.Plan(request(txn.Sale, 100), noon).Fault; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Fault = %#v, want %#v", got, tt.want)
			}
		})
	}
}

// step is one request in a limits test and the rc it must get.
type step struct {
	req  *txn.Request
	at   time.Time
	want string
}

func runSteps(t *testing.T, e *scenarios.Engine, steps []step) {
	t.Helper()
	for i, s := range steps {
		at := s.at
		if at.IsZero() {
			at = noon
		}
		if got := e.Plan(s.req, at).Decision.RC; got != s.want {
			t.Errorf("request %d (%s %d from %s, card %s, at %s): rc %s, want %s",
				i+1, s.req.Type, s.req.Amount, s.req.TID, s.req.PAN, at.Format(time.RFC3339), got, s.want)
		}
	}
}

func TestLimits(t *testing.T) {
	reversal := func(stan string, orig *txn.Request) *txn.Request {
		return request(txn.Reversal, orig.Amount, withSTAN(stan), onTerminal(orig.TID), withCard(orig.PAN))
	}
	released := func(h *fakeHost, stan string, orig *txn.Request, origAt time.Time) {
		h.answer(stan, txn.Decision{RC: "00", Released: &txn.Released{
			Type: orig.Type, PAN: orig.PAN, MID: orig.MID, TID: orig.TID, Amount: orig.Amount, At: origAt}})
	}
	yesterday := noon.Add(-24 * time.Hour)

	t.Run("txn max_amount", func(t *testing.T) {
		e, _ := newEngine(t, "name: l\nlimits:\n  - {period: txn, max_amount: 5000}\n")
		runSteps(t, e, []step{
			{req: request(txn.Sale, 5000), want: "00"},
			{req: request(txn.Sale, 5001), want: "61"},
			{req: request(txn.PreAuth, 5001), want: "61"},
			{req: request(txn.Advice, 5001), want: "61"},
			{req: request(txn.Refund, 9999), want: "00"},
			{req: request(txn.Completion, 9999), want: "00"},
			{req: request(txn.Sale, 5000), want: "00"}, // nothing adds up
		})
	})

	t.Run("day max_amount per card, given back by a reversal", func(t *testing.T) {
		e, h := newEngine(t, "name: l\nlimits:\n  - {per: card, period: day, max_amount: 10000, rc: \"61\"}\n")
		first := request(txn.Sale, 6000)
		runSteps(t, e, []step{
			{req: first, want: "00"},
			{req: request(txn.Sale, 5000), want: "61"},
			{req: request(txn.Sale, 4000, onTerminal(tid2)), want: "00"}, // the card's, wherever it is used
			{req: request(txn.Sale, 1), want: "61"},
			{req: request(txn.Sale, 9000, withCard(pan2)), want: "00"},
		})
		released(h, "900001", first, noon)
		runSteps(t, e, []step{
			{req: reversal("900001", first), want: "00"},
			{req: request(txn.Sale, 6000), want: "00"},
			{req: request(txn.Sale, 1), want: "61"},
		})
	})

	t.Run("a declined reversal gives nothing back", func(t *testing.T) {
		e, h := newEngine(t, "name: l\nlimits:\n  - {period: day, max_amount: 10000}\n")
		first := request(txn.Sale, 10000)
		h.answer("900002", txn.Decision{RC: "25", Released: &txn.Released{Type: txn.Sale, PAN: pan1, Amount: 10000, At: noon}})
		runSteps(t, e, []step{
			{req: first, want: "00"},
			{req: reversal("900002", first), want: "25"},
			{req: request(txn.Sale, 1), want: "61"},
		})
	})

	t.Run("a release goes back to the original's day", func(t *testing.T) {
		e, h := newEngine(t, "name: l\nlimits:\n  - {per: card, period: day, max_amount: 10000}\n")
		old := request(txn.Sale, 8000)
		released(h, "900003", old, yesterday)
		runSteps(t, e, []step{
			{req: old, at: yesterday, want: "00"},
			{req: request(txn.Sale, 8000), want: "00"},
			{req: reversal("900003", old), want: "00"},
			{req: request(txn.Sale, 3000), want: "61"}, // today's 8000 still stands
		})
	})

	t.Run("max_count, default rc 65", func(t *testing.T) {
		e, _ := newEngine(t, "name: l\nlimits:\n  - {per: card, period: day, max_count: 2}\n")
		runSteps(t, e, []step{
			{req: request(txn.Sale, 1), want: "00"},
			{req: request(txn.PreAuth, 1), want: "00"},
			{req: request(txn.Sale, 1), want: "65"},
			{req: request(txn.Refund, 1), want: "00"},
			{req: request(txn.Sale, 1, withCard(pan2)), want: "00"},
		})
	})

	t.Run("max_amount, default rc 61", func(t *testing.T) {
		e, _ := newEngine(t, "name: l\nlimits:\n  - {per: card, period: month, max_amount: 100}\n")
		runSteps(t, e, []step{
			{req: request(txn.Sale, 100), want: "00"},
			{req: request(txn.Sale, 1), want: "61"},
			{req: request(txn.Sale, 1), at: time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), want: "00"},
		})
	})

	t.Run("a retransmission answered from cache counts once", func(t *testing.T) {
		e, h := newEngine(t, "name: l\nlimits:\n  - {per: card, period: day, max_count: 3}\n")
		h.answer("900004", txn.Decision{RC: "00", Cached: true})
		runSteps(t, e, []step{
			{req: request(txn.Sale, 1), want: "00"},
			{req: request(txn.Sale, 1, withSTAN("900004")), want: "00"},
			{req: request(txn.Sale, 1), want: "00"},
			{req: request(txn.Sale, 1), want: "00"},
			{req: request(txn.Sale, 1), want: "65"},
		})
	})

	t.Run("only approvals count", func(t *testing.T) {
		e, h := newEngine(t, "name: l\nlimits:\n  - {per: card, period: day, max_count: 1}\n")
		h.answer("900005", txn.Decision{RC: "51"})
		runSteps(t, e, []step{
			{req: request(txn.Sale, 1, withSTAN("900005")), want: "51"},
			{req: request(txn.Sale, 1), want: "00"},
			{req: request(txn.Sale, 1), want: "65"},
		})
	})

	t.Run("per terminal and per merchant", func(t *testing.T) {
		e, _ := newEngine(t, `name: l
limits:
  - {per: terminal, period: day, max_count: 2, rc: "T1"}
  - {per: merchant, period: day, max_count: 3, rc: "M1"}
`)
		runSteps(t, e, []step{
			{req: request(txn.Sale, 1), want: "00"},
			{req: request(txn.Sale, 1, withCard(pan2)), want: "00"},
			{req: request(txn.Sale, 1), want: "T1"},
			{req: request(txn.Sale, 1, onTerminal(tid2)), want: "00"},
			{req: request(txn.Sale, 1, onTerminal(tid3)), want: "M1"},
			{req: request(txn.Sale, 1, onTerminal(tid3), atMerchant(mid2)), want: "00"},
		})
	})

	t.Run("forced declines are booked through Force", func(t *testing.T) {
		e, h := newEngine(t, "name: l\nlimits:\n  - {period: txn, max_amount: 10}\n")
		r := request(txn.Sale, 11)
		e.Plan(r, noon)
		if calls, want := h.take(), []call{{Method: "Force", TID: tid1, STAN: r.STAN, RC: "61"}}; !reflect.DeepEqual(calls, want) {
			t.Errorf("calls %+v, want %+v", calls, want)
		}
	})
}

// A rule that lets the normal answer through (a delay, an action, rc 00)
// still respects the limits, and what it approves counts against them; a
// rule that scripts its own answer does not ask them.
func TestLimitsWithRules(t *testing.T) {
	e, h := newEngine(t, `name: l
rules:
  - name: slow big sales
    match: txn == "sale" && amount >= 8000
    delay: 90s
  - name: approved pre-authorisations
    match: txn == "preauth"
    respond: {rc: "00", requirement: 3}
  - name: dropped advices
    match: txn == "advice"
    action: no-response
  - name: scripted
    match: txn == "sale" && amount == 1
    respond: {rc: "05"}
limits:
  - {per: card, period: day, max_amount: 10000}
`)
	tests := []struct {
		req    *txn.Request
		want   result
		trace  scenarios.Trace
		prefix bool // only the start of trace.Action is checked
	}{
		{
			req:   request(txn.Sale, 8000),
			want:  delayed(90 * time.Second),
			trace: scenarios.Trace{Scenario: "l", Rule: "slow big sales", Action: "delay 90s"},
		},
		{
			req:   request(txn.Sale, 8000),
			want:  result{RC: "61", Delay: 90 * time.Second},
			trace: scenarios.Trace{Scenario: "l", Rule: "slow big sales", Action: "limit 1: respond rc=61, delay 90s"},
		},
		{
			req:   request(txn.Sale, 2000),
			want:  approved(),
			trace: scenarios.Trace{Scenario: "l"},
		},
		{
			req:   request(txn.PreAuth, 1),
			want:  rc("61"),
			trace: scenarios.Trace{Scenario: "l", Rule: "approved pre-authorisations", Action: "limit 1: respond rc=61"},
			// The trace goes on to say "respond rc=00 requirement=3", which
			// was not the answer; only its start is checked.
			prefix: true,
		},
		{
			req:   request(txn.Advice, 1),
			want:  result{RC: "61", Fault: "fault.NoResponse"},
			trace: scenarios.Trace{Scenario: "l", Rule: "dropped advices", Action: "limit 1: respond rc=61, no-response"},
		},
		{
			req:   request(txn.Sale, 1),
			want:  rc("05"),
			trace: scenarios.Trace{Scenario: "l", Rule: "scripted", Action: "respond rc=05"},
		},
		{
			req:   request(txn.Sale, 8000, withCard(pan2)),
			want:  delayed(90 * time.Second),
			trace: scenarios.Trace{Scenario: "l", Rule: "slow big sales", Action: "delay 90s"},
		},
	}
	for i, tt := range tests {
		p := e.Plan(tt.req, noon)
		if got := summary(p); got != tt.want {
			t.Errorf("request %d (%s %d): %v, want %v", i+1, tt.req.Type, tt.req.Amount, got, tt.want)
		}
		got := p.Trace
		if tt.prefix && strings.HasPrefix(got.Action, tt.trace.Action) {
			got.Action = tt.trace.Action
		}
		if got != tt.trace {
			t.Errorf("request %d: Trace = %+v, want %+v", i+1, p.Trace, tt.trace)
		}
		calls := h.take()
		want := call{Method: "Decide", TID: tid1, STAN: tt.req.STAN}
		if tt.want.RC != "00" {
			want = call{Method: "Force", TID: tid1, STAN: tt.req.STAN, RC: tt.want.RC}
		}
		if len(calls) != 1 || calls[0] != want {
			t.Errorf("request %d: calls %+v, want [%+v]", i+1, calls, want)
		}
	}
}

// A day is a day in the engine's time zone: the limit starts afresh at its
// midnight, not UTC's.
func TestLimitsDayInEngineZone(t *testing.T) {
	beijing := time.FixedZone("CST", 8*60*60)
	h := newFakeHost()
	e := scenarios.NewEngine(h, 1, beijing)
	e.SetGlobal(mustLoad(t, "name: l\nlimits:\n  - {per: card, period: day, max_amount: 10000}\n"))
	lastMinute := time.Date(2026, 6, 11, 23, 59, 0, 0, beijing)
	runSteps(t, e, []step{
		{req: request(txn.Sale, 8000), at: lastMinute, want: "00"},
		{req: request(txn.Sale, 8000), at: lastMinute.Add(59 * time.Second), want: "61"},
		// 16:00:30 UTC on the same UTC day, but the next day in Beijing.
		{req: request(txn.Sale, 8000), at: lastMinute.Add(90 * time.Second).UTC(), want: "00"},
		{req: request(txn.Sale, 8000), at: lastMinute.Add(2 * time.Hour), want: "61"},
	})
}

// A retransmission of an approved sale gets its first answer from the host,
// even when that sale used up the limit.
func TestLimitsRetransmissionAtTheLimit(t *testing.T) {
	e, h := newEngine(t, "name: l\nlimits:\n  - {per: card, period: day, max_count: 1}\n")
	h.answer("900006", txn.Decision{RC: "00", Cached: true})
	first := request(txn.Sale, 1, withSTAN("900006"))
	runSteps(t, e, []step{
		{req: first, want: "00"},
		{req: first, want: "00"},
	})
}

func TestRegistry(t *testing.T) {
	const (
		frozenT  = "terminals: {T0000001: {status: frozen}}"
		frozenM  = `merchants: {"898100012340001": {status: frozen}}`
		unregT   = "terminals: {T0000001: {status: unregistered}}"
		suspendM = `merchants: {"898100012340001": {status: settlement-suspended}}`
		noVoidT  = "terminals: {T0000001: {status: void-disabled}}"
		byRule   = "respond rc=ZZ" // the rule's trace: the status let the request through
	)
	tests := []struct {
		name    string
		parties string
		req     *txn.Request
		want    string
		why     string // Trace.Action
	}{
		{"frozen terminal refuses a sale", frozenT, request(txn.Sale, 1), "03", "terminal frozen"},
		{"frozen terminal refuses a sign-on", frozenT, request(txn.SignOn, 0), "03", "terminal frozen"},
		{"frozen terminal answers an echo", frozenT, request(txn.Echo, 0), "00", ""},
		{"frozen terminal lets it sign off", frozenT, request(txn.SignOff, 0), "00", ""},
		{"another terminal is not frozen", frozenT, request(txn.Sale, 1, onTerminal(tid2)), "ZZ", byRule},
		{"closed terminal", "terminals: {T0000001: {status: closed}}", request(txn.Refund, 1), "03", "terminal closed"},
		{"frozen merchant", frozenM, request(txn.Sale, 1), "03", "merchant frozen"},
		{"frozen merchant answers an echo", frozenM, request(txn.Echo, 0), "00", ""},
		{"another merchant is not frozen", frozenM, request(txn.Sale, 1, atMerchant(mid2)), "ZZ", byRule},
		{"unregistered terminal refuses a sign-on", unregT, request(txn.SignOn, 0), "97", "terminal unregistered"},
		{"unregistered terminal refuses a sign-off", unregT, request(txn.SignOff, 0), "97", "terminal unregistered"},
		{"unregistered terminal answers an echo", unregT, request(txn.Echo, 0), "00", ""},
		{"settlement suspended: settlement", suspendM, request(txn.Settlement, 0), "03", "merchant settlement-suspended"},
		{"settlement suspended: upload", suspendM, request(txn.Upload, 0), "03", "merchant settlement-suspended"},
		{"settlement suspended: end of upload", suspendM, request(txn.UploadEnd, 0), "03", "merchant settlement-suspended"},
		{"settlement suspended: sales go on", suspendM, request(txn.Sale, 1), "ZZ", byRule},
		{"void disabled: void", noVoidT, request(txn.Void, 1), "58", "terminal void-disabled"},
		{"void disabled: pre-authorisation void", noVoidT, request(txn.PreAuthVoid, 1), "58", "terminal void-disabled"},
		{"void disabled: refunds go on", noVoidT, request(txn.Refund, 1), "ZZ", byRule},
		{"active", "terminals: {T0000001: {status: active}}", request(txn.Sale, 1), "ZZ", byRule},
		{"rc override", `merchants: {"898100012340001": {status: frozen, rc: "62"}}`, request(txn.Sale, 1), "62", "merchant frozen"},
		{
			"rc override does not stop what the status lets through",
			"terminals: {T0000001: {status: void-disabled, rc: \"12\"}}", request(txn.Sale, 1), "ZZ", byRule,
		},
		{"the terminal's status is looked at first", unregT + "\n" + frozenM, request(txn.Sale, 1), "97", "terminal unregistered"},
		{"the merchant's status when the terminal's lets it through", noVoidT + "\n" + frozenM, request(txn.Sale, 1), "03", "merchant frozen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A rule that answers all but echo and sign-off shows that
			// statuses come before rules.
			e, h := newEngine(t, "name: reg\nrules:\n  - match: txn != \"echo\" && txn != \"signoff\"\n    respond: {rc: \"ZZ\"}\n"+tt.parties+"\n")
			p := e.Plan(tt.req, noon)
			if p.Decision.RC != tt.want || p.Trace.Action != tt.why {
				t.Errorf("rc %s, trace %+v; want rc %s, action %q", p.Decision.RC, p.Trace, tt.want, tt.why)
			}
			want := []call{{Method: "Force", TID: tt.req.TID, STAN: tt.req.STAN, RC: tt.want}}
			if tt.want == "00" {
				want = []call{{Method: "Decide", TID: tt.req.TID, STAN: tt.req.STAN}}
			}
			if calls := h.take(); !reflect.DeepEqual(calls, want) {
				t.Errorf("calls %+v, want %+v", calls, want)
			}
		})
	}
}

// signon_required refuses what needs a session with 97 and a header asking
// for a sign-on, until the host says the terminal has signed on.
func TestSignOnRequired(t *testing.T) {
	e, h := newEngine(t, "name: s\nsignon_required: true\n")
	refused := txn.Decision{RC: "97", Requirement: 3, Note: "not signed on"}
	for _, typ := range []txn.Type{txn.Sale, txn.Void, txn.Refund, txn.Balance, txn.PreAuth, txn.Reversal, txn.Settlement, txn.Upload} {
		r := request(typ, 100)
		p := e.Plan(r, noon)
		if !reflect.DeepEqual(p.Decision, refused) {
			t.Errorf("%s before sign-on: %+v, want %+v", typ, p.Decision, refused)
		}
		if calls, want := h.take(), []call{{Method: "SignedOn", TID: tid1}}; !reflect.DeepEqual(calls, want) {
			t.Errorf("%s before sign-on: calls %+v, want %+v", typ, calls, want)
		}
	}
	for _, typ := range []txn.Type{txn.SignOn, txn.SignOff, txn.Echo, txn.Unknown} {
		if p := e.Plan(request(typ, 0), noon); p.Decision.RC != "00" {
			t.Errorf("%s before sign-on: rc %s, want the default 00", typ, p.Decision.RC)
		}
	}
	h.signOn(mid1, tid1)
	h.take()
	r := request(txn.Sale, 100)
	if p := e.Plan(r, noon); p.Decision.RC != "00" {
		t.Errorf("sale after sign-on: rc %s, want 00", p.Decision.RC)
	}
	if calls, want := h.take(), []call{{Method: "SignedOn", TID: tid1}, {Method: "Decide", TID: tid1, STAN: r.STAN}}; !reflect.DeepEqual(calls, want) {
		t.Errorf("sale after sign-on: calls %+v, want %+v", calls, want)
	}
	if p := e.Plan(request(txn.Sale, 100, onTerminal(tid2)), noon); p.Decision.RC != "97" {
		t.Errorf("sale from another terminal: rc %s, want 97", p.Decision.RC)
	}
}

const (
	declines05 = "name: declines-05\nrules:\n  - match: txn == \"sale\"\n    respond: {rc: \"05\"}\n"
	declines51 = "name: declines-51\nrules:\n  - match: txn == \"sale\"\n    respond: {rc: \"51\"}\n"
	onceEach   = "name: once-each\nrules:\n  - match: txn == \"sale\"\n    steps:\n      - times: 1\n        respond: {rc: \"05\"}\n"
)

func rcFrom(e *scenarios.Engine, tid string) string {
	return e.Plan(request(txn.Sale, 100, onTerminal(tid)), noon).Decision.RC
}

func TestBindings(t *testing.T) {
	h := newFakeHost()
	e := scenarios.NewEngine(h, 1, time.UTC)
	a, b := mustLoad(t, declines05), mustLoad(t, declines51)

	check := func(when string, want map[string]string, wantGlobal string, wantTerminals map[string]string) {
		t.Helper()
		for tid, rc := range want {
			if got := rcFrom(e, tid); got != rc {
				t.Errorf("%s: %s gets %s, want %s", when, tid, got, rc)
			}
		}
		global, terminals := e.Bindings()
		if global != wantGlobal || !reflect.DeepEqual(terminals, wantTerminals) {
			t.Errorf("%s: Bindings() = %q, %v; want %q, %v", when, global, terminals, wantGlobal, wantTerminals)
		}
	}

	check("new engine", map[string]string{tid1: "00", tid2: "00"}, "", map[string]string{})
	e.SetGlobal(a)
	check("global", map[string]string{tid1: "05", tid2: "05", tid3: "05"}, "declines-05", map[string]string{})
	e.Bind(tid2, b)
	check("bound over global", map[string]string{tid1: "05", tid2: "51", tid3: "05"}, "declines-05", map[string]string{tid2: "declines-51"})
	e.Bind(tid3, nil)
	check("bound to nothing", map[string]string{tid1: "05", tid2: "51", tid3: "00"}, "declines-05", map[string]string{tid2: "declines-51", tid3: ""})
	e.SetGlobal(nil)
	check("global cleared", map[string]string{tid1: "00", tid2: "51", tid3: "00"}, "", map[string]string{tid2: "declines-51", tid3: ""})
	e.SetGlobal(a)
	e.Unbind(tid2)
	check("unbound", map[string]string{tid1: "05", tid2: "05", tid3: "00"}, "declines-05", map[string]string{tid3: ""})
	e.Unbind(tid3)
	e.Unbind("T-never-bound")
	check("all unbound", map[string]string{tid1: "05", tid2: "05", tid3: "05"}, "declines-05", map[string]string{})
}

// Binding a scenario, globally or to a terminal, starts its counters afresh.
func TestBindRestartsCounters(t *testing.T) {
	e, _ := newEngine(t, onceEach)
	sc := mustLoad(t, onceEach)
	seq := func() []string { return []string{rcFrom(e, tid1), rcFrom(e, tid1)} }
	if got, want := seq(), []string{"05", "00"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("first run %v, want %v", got, want)
	}
	e.SetGlobal(sc)
	if got, want := seq(), []string{"05", "00"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after SetGlobal %v, want %v", got, want)
	}
	e.Bind(tid1, sc)
	if got, want := seq(), []string{"05", "00"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after Bind %v, want %v", got, want)
	}
	e.Bind(tid1, sc)
	if got, want := seq(), []string{"05", "00"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after binding again %v, want %v", got, want)
	}
}

// Reset(tid) starts only that terminal's counters, limits and draws afresh;
// Reset("") all of them.
func TestReset(t *testing.T) {
	t.Run("rule counters", func(t *testing.T) {
		e, _ := newEngine(t, onceEach)
		e.Bind(tid3, mustLoad(t, onceEach))
		for _, tid := range []string{tid1, tid2, tid3} {
			if got := rcFrom(e, tid); got != "05" {
				t.Fatalf("first sale from %s: rc %s, want 05", tid, got)
			}
		}
		e.Reset(tid1)
		want := map[string]string{tid1: "05", tid2: "00", tid3: "00"}
		for _, tid := range []string{tid1, tid2, tid3} {
			if got := rcFrom(e, tid); got != want[tid] {
				t.Errorf("after Reset(%s): %s gets %s, want %s", tid1, tid, got, want[tid])
			}
		}
		e.Reset(tid3)
		if got := rcFrom(e, tid3); got != "05" {
			t.Errorf("after Reset(%s) of its own binding: rc %s, want 05", tid3, got)
		}
		e.Reset("")
		for _, tid := range []string{tid1, tid2, tid3} {
			if got := rcFrom(e, tid); got != "05" {
				t.Errorf("after Reset(\"\"): %s gets %s, want 05", tid, got)
			}
		}
	})

	t.Run("terminal limits", func(t *testing.T) {
		e, _ := newEngine(t, "name: l\nlimits:\n  - {per: terminal, period: day, max_count: 1}\n")
		runSteps(t, e, []step{
			{req: request(txn.Sale, 1), want: "00"},
			{req: request(txn.Sale, 1, onTerminal(tid2)), want: "00"},
			{req: request(txn.Sale, 1), want: "65"},
		})
		e.Reset(tid1)
		runSteps(t, e, []step{
			{req: request(txn.Sale, 1), want: "00"},
			{req: request(txn.Sale, 1, onTerminal(tid2)), want: "65"},
		})
	})

	t.Run("probability draws", func(t *testing.T) {
		e := engineWithSeed(t, probable, 5)
		first := applied(e, tid1, 50)
		other := applied(e, tid2, 20)
		e.Reset(tid1)
		if again := applied(e, tid1, 50); !reflect.DeepEqual(first, again) {
			t.Errorf("after Reset(%s) its draws do not start over:\n%v\n%v", tid1, first, again)
		}
		if next := applied(e, tid2, 20); reflect.DeepEqual(other, next) {
			t.Errorf("Reset(%s) started %s's draws over too", tid1, tid2)
		}
	})

	t.Run("no scenario", func(t *testing.T) {
		e := scenarios.NewEngine(newFakeHost(), 1, time.UTC)
		e.Bind(tid1, nil)
		e.Reset(tid1)
		e.Reset("")
		if got := rcFrom(e, tid1); got != "00" {
			t.Errorf("rc %s, want the default 00", got)
		}
	})
}

// The engine is safe for concurrent use: plans, bindings and resets at once
// (run with -race).
func TestEngineConcurrentUse(t *testing.T) {
	e, _ := newEngine(t, probable)
	sc := mustLoad(t, onceEach)
	var wg sync.WaitGroup
	for i := range 8 {
		tid := fmt.Sprintf("T%07d", i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 200 {
				e.Plan(request(txn.Sale, 100, onTerminal(tid)), noon)
				switch j % 50 {
				case 10:
					e.Bind(tid, sc)
				case 20:
					e.Reset(tid)
				case 30:
					e.Unbind(tid)
				case 40:
					e.Bindings()
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 20 {
			e.SetGlobal(sc)
			e.Reset("")
		}
	}()
	wg.Wait()
}

func TestDelayNeverNegative(t *testing.T) {
	// A normal distribution far wider than its mean draws below zero most of
	// the time; the engine must clamp every one.
	e, _ := newEngine(t, "name: d\nrules:\n  - delay: {distribution: normal, mean: 1ms, stddev: 1h}\n")
	clamped := 0
	for range 1000 {
		d := e.Plan(request(txn.Sale, 1), noon).Delay
		if d < 0 {
			t.Fatalf("delay %v", d)
		}
		if d == 0 {
			clamped++
		}
	}
	if clamped == 0 || math.Abs(float64(clamped)-500) > 150 {
		t.Errorf("%d of 1000 draws clamped to 0, want about half", clamped)
	}
}

// The variables and helpers a match expression sees, evaluated at fixed
// times in the engine's zone (UTC+8, so that it differs from the clock's).
func TestMatchVariables(t *testing.T) {
	beijing := time.FixedZone("CST", 8*60*60)
	at := func(hh, mm int) time.Time { return time.Date(2026, 6, 11, hh, mm, 0, 0, beijing).UTC() }
	fields := map[int]string{3: "000000", 55: "9F2608C2D1E0F3A4B5C6"}
	base := func(r *txn.Request) {
		r.STAN, r.RRN, r.Batch, r.EntryMode = "000123", "612345678901", "000042", "051"
		r.Field = func(id int) string { return fields[id] }
	}
	noFields := func(r *txn.Request) { r.Field = nil }
	shortPAN := withCard("62220")
	tests := []struct {
		match string
		opts  []reqOpt
		now   time.Time
		want  bool
	}{
		{match: `mti == "0200"`, want: true},
		{match: `mti == "0220"`, want: false},
		{match: `txn == "sale"`, want: true},
		{match: `txn == "refund"`, want: false},
		{match: `proc == "000000"`, want: true},
		{match: `amount == 1234`, want: true},
		{match: `amount > 1234`, want: false},
		{match: `amount % 100 == 34`, want: true},
		{match: `currency == "156"`, want: true},
		{match: `pan == "6222021234567890123"`, want: true},
		{match: `bin == "622202"`, want: true},
		{match: `bin == "62220"`, opts: []reqOpt{shortPAN}, want: true},
		{match: `tid == "T0000001"`, want: true},
		{match: `tid == "T0000001"`, opts: []reqOpt{onTerminal(tid2)}, want: false},
		{match: `mid == "898100012340001"`, want: true},
		{match: `stan == "000123"`, want: true},
		{match: `rrn == "612345678901"`, want: true},
		{match: `batch == "000042"`, want: true},
		{match: `entry_mode == "051"`, want: true},
		{match: `entry_mode startsWith "07"`, want: false},
		{match: `field(55) startsWith "9F26"`, want: true},
		{match: `field(3) == proc`, want: true},
		{match: `field(48) == ""`, want: true},
		{match: `field(55) == ""`, opts: []reqOpt{noFields}, want: true},
		{match: `now.Hour() == 20`, now: at(20, 0), want: true},
		{match: `now.Hour() == 12`, now: at(20, 0), want: false},
		{match: `now.Day() == 12`, now: at(0, 30).Add(24 * time.Hour), want: true},
		{match: `between("19:59", "20:01")`, now: at(20, 0), want: true},
		{match: `between("20:00", "20:01")`, now: at(20, 0), want: true},
		{match: `between("19:00", "20:00")`, now: at(20, 0), want: false},
		{match: `between("11:00", "13:00")`, now: at(20, 0), want: false}, // 20:00 here is 12:00 UTC
		{match: `between("08:00", "08:00")`, now: at(8, 0), want: false},
		{match: `between("23:50", "00:10")`, now: at(23, 49), want: false},
		{match: `between("23:50", "00:10")`, now: at(23, 50), want: true},
		{match: `between("23:50", "00:10")`, now: at(23, 59), want: true},
		{match: `between("23:50", "00:10")`, now: at(0, 0), want: true},
		{match: `between("23:50", "00:10")`, now: at(0, 9), want: true},
		{match: `between("23:50", "00:10")`, now: at(0, 10), want: false},
		{match: `between("23:50", "00:10")`, now: at(12, 0), want: false},
		{match: `txn == "sale" && between("00:00", "23:59") && bin in ["622202", "622848"]`, now: at(9, 0), want: true},
	}
	for _, tt := range tests {
		name := tt.match
		if !tt.now.IsZero() {
			name += " at " + tt.now.In(beijing).Format("15:04")
		}
		t.Run(name, func(t *testing.T) {
			h := newFakeHost()
			e := scenarios.NewEngine(h, 1, beijing)
			e.SetGlobal(mustLoad(t, fmt.Sprintf("name: m\nrules:\n  - match: '%s'\n    respond: {rc: \"ZZ\"}\n", tt.match)))
			now := tt.now
			if now.IsZero() {
				now = noon
			}
			r := request(txn.Sale, 1234, append([]reqOpt{base}, tt.opts...)...)
			if got := e.Plan(r, now).Decision.RC == "ZZ"; got != tt.want {
				t.Errorf("matched %v, want %v", got, tt.want)
			}
		})
	}
}

// Each thing a plan does is an act of its own kind, in order, and the
// trace's Action says the same acts in words.
func TestPlanActs(t *testing.T) {
	e, h := newEngine(t, `name: acts
signon_required: true
terminals:
  "T0000009": { status: frozen }
merchants:
  "*":
    settlement:
      fees: { debit: 0.005, debit_cap: 2000 }
      faults: [fee-no-cap, fee-rounding]
rules:
  - name: everything at once
    match: txn == "sale" && amount == 100
    respond: {rc: "05", requirement: 3, set: {38: "000000"}}
    delay: 45s
    action: {duplicate: {gap: 1s}}
  - name: slow
    match: txn == "sale"
    delay: 2s
limits:
  - {period: txn, max_amount: 1000}
`)
	h.signOn(mid1, tid1)
	tests := []struct {
		name   string
		req    *txn.Request
		acts   []scenarios.Act
		action string
	}{
		{"every part of a rule", request(txn.Sale, 100), []scenarios.Act{
			{Kind: scenarios.ActBooksFault, Name: "fee-no-cap"},
			{Kind: scenarios.ActBooksFault, Name: "fee-rounding"},
			{Kind: scenarios.ActRespond, Value: "rc=05 requirement=3 fields"},
			{Kind: scenarios.ActDelay, Value: "45s"},
			{Kind: scenarios.ActFault, Name: "duplicate"},
		}, "books fault: fee-no-cap, fee-rounding, respond rc=05 requirement=3 fields, delay 45s, duplicate"},
		{"a limit refuses what a rule let through", request(txn.Sale, 1001), []scenarios.Act{
			{Kind: scenarios.ActBooksFault, Name: "fee-no-cap"},
			{Kind: scenarios.ActBooksFault, Name: "fee-rounding"},
			{Kind: scenarios.ActLimit, Name: "limit 1", Value: "61"},
			{Kind: scenarios.ActDelay, Value: "2s"},
		}, "books fault: fee-no-cap, fee-rounding, limit 1: respond rc=61, delay 2s"},
		{"a limit, no rule", request(txn.PreAuth, 1001), []scenarios.Act{
			{Kind: scenarios.ActRespond, Value: "rc=61"},
		}, "respond rc=61"},
		{"a terminal's status", request(txn.Sale, 100, onTerminal("T0000009")), []scenarios.Act{
			{Kind: scenarios.ActTerminalStatus, Name: "frozen"},
		}, "terminal frozen"},
		{"not signed on", request(txn.Sale, 100, onTerminal("T0000002")), []scenarios.Act{
			{Kind: scenarios.ActSignOnRequired},
		}, "sign-on required"},
		{"the default answer", request(txn.PreAuth, 100), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := e.Plan(tt.req, noon)
			if !reflect.DeepEqual(p.Acts, tt.acts) {
				t.Errorf("Acts = %+v, want %+v", p.Acts, tt.acts)
			}
			if p.Trace.Action != tt.action {
				t.Errorf("Action = %q, want %q", p.Trace.Action, tt.action)
			}
		})
	}
}
