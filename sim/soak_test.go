//go:build soak

// The soak test runs two hosts in process, one for each dialect, for a long
// while under a mixed load, and checks that what they hold stops growing and
// that their books agree with the terminals' at the end. It is behind the
// build tag soak, so `go test ./...` does not run it:
//
//	ACQSIM_SOAK=30m go test -tags soak -run Soak -timeout 40m ./sim/
//	ACQSIM_SOAK=1m go test -race -tags soak -run Soak -v ./sim/
//
// ACQSIM_SOAK (or -soak=30m after the package) is how long the load runs,
// 2m by default; ACQSIM_SOAK_RATE is each host's background load in
// transactions a second, 500 by default. The figures are logged (-v) as a
// table to paste into a report.
package sim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	connection "github.com/moov-io/iso8583-connection"

	"github.com/acqsim/acqsim/bench"
	"github.com/acqsim/acqsim/books"
	"github.com/acqsim/acqsim/fixtures"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/sim"
	"github.com/acqsim/acqsim/terminal"
	"github.com/acqsim/acqsim/txn"
)

var soakFlag = flag.Duration("soak", 0, "how long the soak test runs (default $ACQSIM_SOAK, else 2m)")

const (
	soakDefault     = 2 * time.Minute
	soakDefaultRate = 500

	// soakTerminals is how many terminals of each host follow the scenarios,
	// one transaction at a time, as POS terminals do.
	soakTerminals = 6
	// soakPace is such a terminal's time between transactions: 40 a second
	// each, enough to fill their 10,000-record windows on the host in about
	// ten minutes, without crowding out the background load.
	soakPace = 25 * time.Millisecond
	// soakLossTimeout is a terminal's response timeout while its sales go
	// unanswered (the timeout scenario): long enough for any answer that does
	// come (milliseconds, at most 75 ms seen under -race), short enough to
	// leave time for other transactions in a phase.
	soakLossTimeout = time.Second
	// soakMaxBatch is where a terminal settles whatever the phase: the
	// settlement totals count in three digits.
	soakMaxBatch = 400

	// soakBenchConns is the background load's terminals per host. They never
	// settle (their batch soon holds more than the three-digit counts of a
	// settlement can say), so two of them at the default rate each pass the
	// host's 10,000-record window within a minute and have the host fold
	// their older records into the batch's totals from then on.
	soakBenchConns  = 2
	soakBenchAmount = 100 // not a magic amount: approved under magic-amounts
	// soakBenchTimeout is how long a background request waits for its
	// answer: every journal query (the phases' checks) holds up every
	// exchange of its host until it has read the whole ring, up to 2 s
	// under -race; a host that stops answering still fails the soak.
	soakBenchTimeout = 4 * patience

	// soakCutoverEvery: every fourth phase crosses the 23:00 cut-over (the
	// 2nd, the 6th, ...).
	soakCutoverEvery = 4

	// soakGoroutineSlack and soakFDSlack bound the growth of goroutines and
	// open file descriptors over the warm baseline, measured while the same
	// connections are open (and, at the end, over the cold baseline once
	// every connection has closed): the runtime, net/http and a duplicate
	// response's timer may each hold one or two for a moment; anything that
	// leaks per connection or per exchange passes ten within a phase.
	soakGoroutineSlack = 10
	soakFDSlack        = 10
	// soakHeapGrowth and soakHeapFloor bound the live heap's growth from the
	// middle of the run to its end: 20% or 8 MiB, whichever is more. By the
	// middle of a long run the journal rings (100,000 entries a host), the
	// terminals' record windows (10,000) and duplicate windows (4,096) are
	// full, and the heap must have levelled off; what still grows is noise
	// (buffers in flight, the bench's histograms) and the per-batch state
	// of settled batches.
	soakHeapGrowth = 0.20
	soakHeapFloor  = 8 << 20
	// soakHeapPerEntry and soakHeapPerRecord allow for rings and windows
	// that were still filling at the middle (a short run): each journal
	// entry or host record held at the end and not at the middle may add this
	// much. Measured in 2-minute runs: about 0.5 KiB for each entry and
	// record together.
	soakHeapPerEntry  = 1 << 10
	soakHeapPerRecord = 1 << 10
)

// magicRC are the amounts' last two digits the magic-amounts scenario
// answers with that response code.
var magicRC = map[int64]bool{5: true, 12: true, 13: true, 14: true, 30: true, 51: true, 54: true, 55: true,
	57: true, 61: true, 62: true, 65: true, 75: true, 91: true, 96: true}

// soakGlobals are the global scenarios of the ordinary phases, in turn.
var soakGlobals = []string{"", "insufficient-funds", "magic-amounts"}

// soakOwn are the terminals' own scenarios, in turn: terminal i in phase p
// gets soakOwn[(p+i)%len].
var soakOwn = []string{"", "duplicate-response", "timeout", "", "connection-reset", "settlement-out-of-balance"}

func TestSoak(t *testing.T) {
	d, rate := soakSettings(t)
	phaseLen := min(max(d/12, 5*time.Second), 15*time.Second)
	t.Logf("soak: %v, phases of %v, background load %.0f tps a host, %d scenario terminals a host", d, phaseLen, rate, soakTerminals)

	sk := &soak{t: t, phaseLen: phaseLen, day: at(11, 10, 0)}
	for _, dn := range fixtures.DialectNames() {
		sk.hosts = append(sk.hosts, newSoakHost(t, dn))
	}
	sk.setClock(sk.day, false)
	sk.cold = sk.sample("cold", 0)

	ctx, cancel := context.WithCancel(context.Background())
	sk.start = time.Now()
	for _, h := range sk.hosts {
		h.startBench(ctx, d, rate)
	}
	t.Cleanup(func() { // before the hosts shut down
		cancel()
		for _, h := range sk.hosts {
			h.waitBench(patience)
		}
		for _, h := range sk.hosts {
			for _, w := range h.terms {
				if w.t != nil {
					w.t.Close()
				}
			}
		}
	})

	sk.run(d)
	if t.Failed() {
		return
	}
	sk.finish(d)
}

// soakSettings reads the duration and the background rate.
func soakSettings(t *testing.T) (time.Duration, float64) {
	d := soakDefault
	if v := os.Getenv("ACQSIM_SOAK"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil || d <= 0 {
			t.Fatalf("ACQSIM_SOAK=%q: want a positive Go duration such as 30m", v)
		}
	}
	if *soakFlag > 0 {
		d = *soakFlag
	}
	if d < 30*time.Second {
		t.Fatalf("soak of %v: want at least 30s, for a warm-up and a few phases", d)
	}
	rate := float64(soakDefaultRate)
	if v := os.Getenv("ACQSIM_SOAK_RATE"); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r <= 0 {
			t.Fatalf("ACQSIM_SOAK_RATE=%q: want transactions a second, above 0", v)
		}
		rate = r
	}
	return d, rate
}

// soak is the run: its hosts, its phases and what it measured.
type soak struct {
	t        *testing.T
	hosts    []*soakHost
	phaseLen time.Duration
	start    time.Time
	day      time.Time // the virtual day the hosts' clocks are on, at 10:00

	cold, warm, mid, end soakSample
	samples              []soakSample
	cutovers             int
	verifyMax            time.Duration // the longest per-phase journal check
}

// soakHost is one host with its admin client, its scenario terminals and
// its background load.
type soakHost struct {
	name   string
	s      *sim.Sim
	admin  *soakAdmin
	cal    books.Calendar
	terms  []*soakTerm
	global string // the global scenario in force
	// inWindow is set while the clock stands inside the cut-over (23:00 to
	// 23:05), when the cutover scenario refuses financial requests.
	inWindow bool

	seq       atomic.Uint64 // the journal's latest entry
	bench     chan soakBench
	benchRes  *soakBench
	verifiedN int // approved sales of its scenario terminals /verify confirmed
}

type soakBench struct {
	res *bench.Result
	err error
}

func newSoakHost(t *testing.T, dn string) *soakHost {
	s := start(t, sim.Config{Dialect: dn})
	h := &soakHost{
		name: dn, s: s,
		admin: &soakAdmin{base: "http://" + s.AdminAddr(), c: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2}}},
		cal:   books.Calendar{CutOver: books.DefaultCutOver},
		bench: make(chan soakBench, 1),
	}
	t.Cleanup(h.admin.c.CloseIdleConnections)
	// Where each phase's journal starts, without a query: a query holds the
	// journal while it reads every entry, and the load waits for it.
	s.Journal.Observe(func(e journal.Entry) { h.seq.Store(e.Seq) })
	prefix := map[string]string{"iso87ascii": "SOAKA", "cup": "SOAKC"}[dn]
	for i := range soakTerminals {
		h.terms = append(h.terms, &soakTerm{
			h: h, tid: fmt.Sprintf("%s%03d", prefix, i+1), rng: rand.New(rand.NewPCG(uint64(i+1), uint64(len(dn)))),
			batches: map[string]*soakBatch{}, lostSTANs: map[string]bool{},
		})
	}
	return h
}

// startBench starts the background load: a mix of sales, voids, reversals
// and balance inquiries at a steady rate, for the whole run.
func (h *soakHost) startBench(ctx context.Context, d time.Duration, rate float64) {
	mix, err := bench.ParseMix("sale=90,void=4,reversal=3,balance=3")
	if err != nil {
		panic(err)
	}
	cfg := bench.Config{
		Addr: h.s.Addr(), Dialect: h.s.Dialect, Connections: soakBenchConns, Duration: d, Rate: rate,
		Mix: mix, Amount: soakBenchAmount, SignOn: true, Timeout: soakBenchTimeout,
	}
	go func() {
		res, err := bench.Run(ctx, cfg)
		h.bench <- soakBench{res, err}
	}()
}

// waitBench waits for the background load to end, at most its own end and
// wait beyond it.
func (h *soakHost) waitBench(wait time.Duration) *soakBench {
	if h.benchRes != nil {
		return h.benchRes
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case b := <-h.bench:
		h.benchRes = &b
	case <-timer.C:
		return nil
	}
	return h.benchRes
}

// run runs the phases: a warm-up with the default host behaviour, then
// ordinary phases under a global scenario and each terminal's own, and every
// fourth phase a crossing of the cut-over, until the time is up.
func (sk *soak) run(d time.Duration) {
	t := sk.t
	for _, h := range sk.hosts {
		for _, w := range h.terms {
			if err := w.connect(patience); err != nil {
				t.Fatalf("%s %s: %v", h.name, w.tid, err)
			}
			w.newPhase() // the first phase's journal check starts after the sign-on
		}
	}
	if !sk.phase(0, false) {
		return
	}
	sk.warm = sk.sample("warm", 0)
	sk.checkSample(sk.warm, false)
	// The last phase ends, and is measured, while the background load runs.
	for p := 1; time.Since(sk.start)+sk.phaseLen+sk.verifyMax+2*time.Second <= d; p++ {
		if !sk.phase(p, p%soakCutoverEvery == 2) { // the second phase is one: a short run has one too
			return
		}
		smp := sk.sample(fmt.Sprintf("phase %d", p), p)
		sk.checkSample(smp, false)
		if sk.mid.label == "" && smp.elapsed >= d/2 {
			sk.mid = smp
		}
		sk.end = smp
		if t.Failed() {
			return
		}
	}
	if sk.end.label == "" {
		t.Fatalf("no phase after the warm-up in %v: give the soak more time", d)
	}
	if sk.mid.label == "" {
		sk.mid = sk.end
	}
}

// phase runs phase p on every host at once, then checks what each terminal
// saw against the journal. It reports whether the soak goes on.
func (sk *soak) phase(p int, cutover bool) bool {
	t := sk.t
	seq0 := map[*soakHost]uint64{}
	for _, h := range sk.hosts {
		seq0[h] = h.seq.Load()
	}
	var errs []error
	if cutover {
		errs = sk.crossCutover()
	} else {
		sk.bind(p)
		errs = sk.mixed(sk.phaseLen)
	}
	if len(errs) == 0 && !cutover { // a cut-over phase settles before the clock moves on
		errs = sk.each(func(w *soakTerm) error { return w.settle() })
	}
	for _, err := range errs {
		t.Errorf("phase %d: %v", p, err)
	}
	if len(errs) > 0 {
		return false
	}
	began := time.Now()
	for _, h := range sk.hosts {
		h.verifyPhase(t, p, seq0[h], false)
	}
	sk.verifyMax = max(sk.verifyMax, time.Since(began))
	return !t.Failed()
}

// bind sets phase p's scenarios through the admin API, and checks that the
// host reports them.
func (sk *soak) bind(p int) {
	t := sk.t
	global := soakGlobals[p%len(soakGlobals)]
	if p == 0 {
		global = ""
	}
	for _, h := range sk.hosts {
		h.setGlobal(t, global)
		for i, w := range h.terms {
			own := soakOwn[(p+i)%len(soakOwn)]
			if p == 0 {
				own = ""
			}
			w.own = own
			if own == "" {
				h.admin.must(t, "DELETE", "/terminals/"+w.tid+"/scenario", nil, nil)
			} else {
				h.admin.must(t, "PUT", "/terminals/"+w.tid+"/scenario", map[string]string{"name": own}, nil)
			}
		}
		h.checkBindings(t)
	}
}

func (h *soakHost) setGlobal(t *testing.T, name string) {
	if name == "" {
		h.admin.must(t, "DELETE", "/scenario", nil, nil)
	} else {
		h.admin.must(t, "PUT", "/scenario", map[string]string{"name": name}, nil)
	}
	h.global = name
}

func (h *soakHost) checkBindings(t *testing.T) {
	var got struct {
		Global    string            `json:"global"`
		Terminals map[string]string `json:"terminals"`
	}
	h.admin.must(t, "GET", "/scenarios", nil, &got)
	want := map[string]string{}
	for _, w := range h.terms {
		if w.own != "" {
			want[w.tid] = w.own
		}
	}
	if got.Global != h.global || !maps.Equal(got.Terminals, want) {
		t.Errorf("%s: GET /scenarios says global %q, terminals %v; want %q, %v", h.name, got.Global, got.Terminals, h.global, want)
	}
}

// mixed has every terminal transact for d.
func (sk *soak) mixed(d time.Duration) []error {
	stop := make(chan struct{})
	failed := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, h := range sk.hosts {
		for _, w := range h.terms {
			wg.Go(func() {
				if err := w.mixed(stop); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					once.Do(func() { close(failed) })
				}
			})
		}
	}
	timer := time.NewTimer(d)
	select {
	case <-timer.C:
	case <-failed:
		timer.Stop()
	}
	close(stop)
	wg.Wait()
	return errs
}

// each runs f on every terminal at once and waits for them all.
func (sk *soak) each(f func(w *soakTerm) error) []error {
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, h := range sk.hosts {
		for _, w := range h.terms {
			wg.Go(func() {
				if err := f(w); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	return errs
}

// crossCutover takes the hosts through the 23:00 cut-over of the current
// virtual day with the cutover scenario in force: transactions at 22:58
// settle on one day, those at 23:02 are refused (90) and the settlement
// with them, and those at 23:06 settle on the next clearing day's date; the
// batch spanning all three then settles. The next phase starts at 10:00 on
// the next weekday (a Friday cut-over would give the same date both sides).
func (sk *soak) crossCutover() []error {
	t := sk.t
	sk.cutovers++
	day := sk.day
	before, inside, after := day.Add(12*time.Hour+58*time.Minute), day.Add(13*time.Hour+2*time.Minute), day.Add(13*time.Hour+6*time.Minute)
	cal := sk.hosts[0].cal
	if a, b := cal.SettlementDate(before), cal.SettlementDate(after); a.Equal(b) {
		t.Fatalf("cut-over on %s: settlement date %s both sides; the soak picks days whose cut-over moves it", day.Format("Mon 2006-01-02"), a.Format("2006-01-02"))
	}
	for _, h := range sk.hosts {
		for _, w := range h.terms {
			w.own = ""
			h.admin.must(t, "DELETE", "/terminals/"+w.tid+"/scenario", nil, nil)
		}
		h.setGlobal(t, "cutover")
		h.checkBindings(t)
	}
	sk.setClock(before, true)
	if errs := sk.mixed(sk.phaseLen / 3); len(errs) > 0 {
		return errs
	}
	sk.setClock(inside, true)
	for _, h := range sk.hosts {
		h.inWindow = true
	}
	errs := sk.each(func(w *soakTerm) error { return w.inCutover() })
	for _, h := range sk.hosts {
		h.inWindow = false
	}
	if len(errs) > 0 {
		return errs
	}
	sk.setClock(after, true)
	if errs := sk.mixed(sk.phaseLen / 3); len(errs) > 0 {
		return errs
	}
	// The batch settles after 23:05 (phase's end), then the clock moves on.
	if errs := sk.each(func(w *soakTerm) error { return w.settle() }); len(errs) > 0 {
		return errs
	}
	sk.day = nextWeekday(day)
	sk.setClock(sk.day, false)
	return nil
}

// nextWeekday is the next Monday to Thursday after day.
func nextWeekday(day time.Time) time.Time {
	for {
		day = day.AddDate(0, 0, 1)
		if wd := day.Weekday(); wd >= time.Monday && wd <= time.Thursday {
			return day
		}
	}
}

// setClock sets every host's virtual clock through the admin API, running
// from there or frozen.
func (sk *soak) setClock(now time.Time, freeze bool) {
	for _, h := range sk.hosts {
		h.admin.must(sk.t, "PUT", "/clock", map[string]any{"now": now.Format(time.RFC3339), "freeze": freeze}, nil)
	}
}

// verifyPhase checks the journal (GET /journal) against what each terminal
// saw in the phase: the same exchanges (type, STAN, response code; an
// answer that never reached the terminal journalled as withheld or reset),
// each decided by the scenario in force; and GET /verify counts the sales
// the host approved, for one terminal a phase in turn (each call reads the
// whole journal twice, holding up the load) and for all of them when all
// is set.
func (h *soakHost) verifyPhase(t *testing.T, p int, seq0 uint64, all bool) {
	var es []journal.Entry
	h.admin.must(t, "GET", "/journal?after="+strconv.FormatUint(seq0, 10), nil, &es)
	byTID := map[string][]journal.Entry{}
	for _, e := range es {
		byTID[e.TID] = append(byTID[e.TID], e)
	}
	for _, w := range h.terms {
		want, got := map[string]int{}, map[string]int{}
		for _, s := range w.log {
			want[s.key()]++
		}
		for _, e := range byTID[w.tid] {
			lost := e.Action == "no-response" || e.Action == "reset"
			k := soakSeen{txn: e.Txn, stan: e.STAN, rc: e.RC, lost: lost}.key()
			if e.Error != "" {
				k += " error " + e.Error
			}
			got[k]++
			if e.Scenario != "" && !slices.Contains(w.scenarios, e.Scenario) {
				t.Errorf("%s phase %d %s: STAN %s %s decided by scenario %q, not one in force (%v)",
					h.name, p, w.tid, e.STAN, e.Txn, e.Scenario, w.scenarios)
			}
			if e.Txn == "reversal" && w.lostSTANs[e.STAN] && !strings.Contains(e.Decision, "reversed") {
				t.Errorf("%s phase %d %s: reversal of the unanswered sale %s: decision %q, want it found and reversed",
					h.name, p, w.tid, e.STAN, e.Decision)
			}
		}
		if !maps.Equal(want, got) {
			t.Errorf("%s phase %d %s: the journal disagrees with the terminal: %s", h.name, p, w.tid, soakDiff(want, got))
		}
		if !all && w != h.terms[p%len(h.terms)] {
			w.newPhase()
			continue
		}
		var v struct {
			OK       bool   `json:"ok"`
			Count    int    `json:"count"`
			Expected string `json:"expected"`
		}
		q := url.Values{"tid": {w.tid}, "txn": {"sale"}, "rc": {txn.Approved}, "after": {strconv.FormatUint(seq0, 10)},
			"count": {strconv.Itoa(w.hostSales)}}
		h.admin.must(t, "GET", "/verify?"+q.Encode(), nil, &v)
		if !v.OK {
			t.Errorf("%s phase %d %s: /verify counts %d approved sales, want %s", h.name, p, w.tid, v.Count, v.Expected)
		}
		h.verifiedN += v.Count
		w.newPhase()
	}
}

// soakDiff says how two multisets of exchanges differ, briefly.
func soakDiff(want, got map[string]int) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got[k] < want[k] {
			out = append(out, fmt.Sprintf("terminal saw %dx %q, journal has %d", want[k], k, got[k]))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if got[k] > want[k] {
			out = append(out, fmt.Sprintf("journal has %dx %q, terminal saw %d", got[k], k, want[k]))
		}
	}
	if len(out) > 8 {
		out = append(out[:8], fmt.Sprintf("and %d more", len(out)-8))
	}
	return strings.Join(out, "; ")
}

// finish ends the run: the background load's own checks, every terminal's
// last settlement, the books against the terminals, and what is left once
// every connection has closed.
func (sk *soak) finish(d time.Duration) {
	t := sk.t
	for _, h := range sk.hosts {
		b := h.waitBench(time.Until(sk.start.Add(d)) + 2*patience)
		if b == nil {
			t.Fatalf("%s: the background load did not end", h.name)
		}
		if b.err != nil {
			t.Fatalf("%s: background load: %v", h.name, b.err)
		}
	}
	for _, h := range sk.hosts {
		h.setGlobal(t, "")
		for _, w := range h.terms {
			w.own = ""
			h.admin.must(t, "DELETE", "/terminals/"+w.tid+"/scenario", nil, nil)
		}
	}
	seq0 := map[*soakHost]uint64{}
	for _, h := range sk.hosts {
		seq0[h] = h.seq.Load()
	}
	for _, err := range sk.each(func(w *soakTerm) error {
		if err := w.connect(patience); err != nil {
			return err
		}
		return w.settle()
	}) {
		t.Errorf("last settlement: %v", err)
	}
	for _, h := range sk.hosts {
		h.verifyPhase(t, -1, seq0[h], true)
		h.checkBooks(t)
		h.checkBench(t)
	}

	for _, h := range sk.hosts {
		for _, w := range h.terms {
			if w.t != nil {
				w.t.Close()
			}
		}
		h.admin.c.CloseIdleConnections()
	}
	final := sk.sample("closed", -1)
	sk.checkSample(final, true)
	sk.report(d, final)

	// The heap levelled off: the end of the run against its middle.
	allowed := uint64(max(float64(sk.mid.heap)*soakHeapGrowth, soakHeapFloor))
	var entries, records int
	for i := range sk.hosts {
		entries += max(0, sk.end.entries[i]-sk.mid.entries[i])
		records += max(0, sk.end.records[i]-sk.mid.records[i])
	}
	allowed += uint64(entries*soakHeapPerEntry + records*soakHeapPerRecord)
	t.Logf("heap: %.1f MiB at %s (%v), %.1f MiB at %s (%v): growth %+.1f MiB, allowed %.1f MiB (%d journal entries and %d records still filling)",
		mib(sk.mid.heap), sk.mid.label, sk.mid.elapsed.Round(time.Second), mib(sk.end.heap), sk.end.label, sk.end.elapsed.Round(time.Second),
		mib(sk.end.heap)-mib(sk.mid.heap), mib(allowed), entries, records)
	if sk.end.heap > sk.mid.heap+allowed {
		t.Errorf("live heap grew from %.1f MiB to %.1f MiB in the second half of the run; want at most %.1f MiB more",
			mib(sk.mid.heap), mib(sk.end.heap), mib(allowed))
	}
}

// checkBooks checks every batch of every scenario terminal as the host's
// books (GET /batches) have it: settled and closed, the host's totals the
// terminal's own, the totals it claimed, the outcome, and the upload that
// closed each batch out of balance, record for record.
func (h *soakHost) checkBooks(t *testing.T) {
	var bs []books.Batch
	began := time.Now()
	h.admin.must(t, "GET", "/batches", nil, &bs)
	t.Logf("%s: GET /batches lists %d batches, in %v", h.name, len(bs), time.Since(began).Round(time.Millisecond))
	byTID := map[string][]books.Batch{}
	for _, b := range bs {
		byTID[b.TID] = append(byTID[b.TID], b)
	}
	for _, w := range h.terms {
		seen := map[string]bool{}
		for _, b := range byTID[w.tid] {
			mine := w.batches[b.Batch]
			if mine == nil {
				if b.State != books.BatchOpen || b.Host != (txn.Totals{}) || b.Claimed != nil {
					t.Errorf("%s %s: batch %s is %s with host totals %+v; the terminal never settled it", h.name, w.tid, b.Batch, b.State, b.Host)
				}
				continue
			}
			seen[b.Batch] = true
			switch {
			case b.State != books.BatchClosed:
				t.Errorf("%s %s: batch %s is %s after its settlement, want closed", h.name, w.tid, b.Batch, b.State)
			case b.Host != mine.totals:
				t.Errorf("%s %s: batch %s: host totals %+v, terminal's %+v", h.name, w.tid, b.Batch, b.Host, mine.totals)
			case b.Claimed == nil || *b.Claimed != mine.claimed:
				t.Errorf("%s %s: batch %s: host has the terminal claiming %+v, it claimed %+v", h.name, w.tid, b.Batch, b.Claimed, mine.claimed)
			case b.Outcome != mine.outcome:
				t.Errorf("%s %s: batch %s: outcome %q, terminal was told %q", h.name, w.tid, b.Batch, b.Outcome, mine.outcome)
			case b.Outcome != "balanced" && b.Uploaded != mine.uploaded:
				t.Errorf("%s %s: batch %s out of balance: %d records uploaded, the terminal sent %d", h.name, w.tid, b.Batch, b.Uploaded, mine.uploaded)
			case b.Outcome != "balanced" && mine.uploaded == 0 && mine.totals != (txn.Totals{}):
				t.Errorf("%s %s: batch %s out of balance closed without an upload", h.name, w.tid, b.Batch)
			case len(b.Differences) > 0:
				t.Errorf("%s %s: batch %s: the upload differs from the host's record: %v", h.name, w.tid, b.Batch, b.Differences)
			}
		}
		for batch := range w.batches {
			if !seen[batch] {
				t.Errorf("%s %s: batch %s was settled, and GET /batches does not list it", h.name, w.tid, batch)
			}
		}
	}
}

// checkBench checks the background load: no timeouts or errors, answers
// consistent with the scenarios it ran under (only sales are declined, 51 or
// 90; voids only 90 in the cut-over), and the host's totals for its
// never-settled batches equal to what its approvals add up to.
func (h *soakHost) checkBench(t *testing.T) {
	res := h.benchRes.res
	if res.Timeouts > 0 || res.Errors > 0 || res.Unmatched > 0 || res.Reconnects > 0 || res.ConnectErrors > 0 {
		t.Errorf("%s background load: %d timeouts, %d errors %v, %d unmatched, %d reconnects, %d failed connects; want none",
			h.name, res.Timeouts, res.Errors, res.ErrorsByKind, res.Unmatched, res.Reconnects, res.ConnectErrors)
	}
	allowed := map[string][]string{"sale": {"00", "51", "90"}, "void": {"00", "90"}, "reversal": {"00"}, "balance": {"00"}}
	for typ, c := range res.ByType {
		for rc, n := range c.RC {
			if !slices.Contains(allowed[typ], rc) {
				t.Errorf("%s background load: %d %s answered %s; want one of %v", h.name, n, typ, rc, allowed[typ])
			}
		}
	}
	sales, voids, reversals := res.ByType["sale"].RC["00"], res.ByType["void"].RC["00"], res.ByType["reversal"].RC["00"]
	var want txn.Totals
	if h.s.Dialect.VoidsAsCredits {
		want = txn.Totals{DebitCount: int(sales - reversals), CreditCount: int(voids)}
	} else {
		want = txn.Totals{DebitCount: int(sales - reversals - voids)}
	}
	want.DebitAmount, want.CreditAmount = int64(want.DebitCount)*soakBenchAmount, int64(want.CreditCount)*soakBenchAmount
	var got txn.Totals
	var bs []books.Batch
	h.admin.must(t, "GET", "/batches", nil, &bs)
	for _, b := range bs {
		if strings.HasPrefix(b.TID, bench.DefaultTIDPrefix) {
			got.DebitCount += b.Host.DebitCount
			got.DebitAmount += b.Host.DebitAmount
			got.CreditCount += b.Host.CreditCount
			got.CreditAmount += b.Host.CreditAmount
		}
	}
	if got != want {
		t.Errorf("%s background load: the host's totals %+v; its %d approved sales, %d voids and %d reversals make %+v",
			h.name, got, sales, voids, reversals, want)
	}
}

// soakTerm is a terminal that follows the scenarios: one transaction at a
// time, checking each answer against the scenario in force.
type soakTerm struct {
	h       *soakHost
	tid     string
	rng     *rand.Rand
	t       *terminal.Terminal
	timeout time.Duration // of the current connection
	own     string        // its own scenario; "" for the global one

	// This phase: what it saw, the sales the host approved (answered or
	// not), the scenarios in force, and the STANs of unanswered sales.
	log       []soakSeen
	hostSales int
	scenarios []string
	lostSTANs map[string]bool

	batches map[string]*soakBatch // settled, by number
	n       soakCounts
}

// soakSeen is one exchange as the terminal saw it.
type soakSeen struct {
	txn, stan, rc string
	// lost: no answer reached the terminal (none came, or the connection
	// was reset); the host approved and booked it.
	lost bool
}

func (s soakSeen) key() string {
	if s.lost {
		return s.txn + " " + s.stan + " unanswered"
	}
	return s.txn + " " + s.stan + " rc " + s.rc
}

// soakBatch is a batch the terminal settled.
type soakBatch struct {
	totals, claimed txn.Totals
	outcome         string
	uploaded        int
}

type soakCounts struct {
	approved, declined, lost, voids, refunds, reversals, balances, echoes int
	settled, outOfBalance, uploads, reconnects, refused, exchanges        int
	maxLatency                                                            time.Duration
}

func (w *soakTerm) newPhase() {
	w.log, w.hostSales, w.lostSTANs = w.log[:0], 0, map[string]bool{}
	w.scenarios = w.scenarios[:0]
}

// effective is the scenario this terminal's requests meet.
func (w *soakTerm) effective() string {
	if w.own != "" {
		return w.own
	}
	return w.h.global
}

// connect hangs up (if connected), connects again with the given response
// timeout, carrying the terminal's state over, and signs on.
func (w *soakTerm) connect(timeout time.Duration) error {
	st := terminal.State{Batch: "000001"}
	if w.t != nil {
		st = w.t.State
		w.t.Close()
		w.n.reconnects++
	}
	t, err := terminal.Dial(context.Background(), terminal.Config{
		Addr: w.h.s.Addr(), Dialect: w.h.s.Dialect, TID: w.tid, MID: ourMID, Timeout: timeout,
	})
	if err != nil {
		w.t = nil
		return fmt.Errorf("%s %s: %w", w.h.name, w.tid, err)
	}
	t.State = st
	w.t, w.timeout = t, timeout
	x, err := t.SignOn()
	return w.answered("sign-on", x, err, txn.Approved)
}

// answered logs an exchange that was answered and checks its response code.
func (w *soakTerm) answered(what string, x *terminal.Exchange, err error, rc string) error {
	if err != nil {
		return fmt.Errorf("%s %s (scenario %q): %s: %w", w.h.name, w.tid, w.effective(), what, err)
	}
	w.logged(x)
	if got := x.RC(); got != rc {
		return fmt.Errorf("%s %s (scenario %q): %s: RC %s, want %s", w.h.name, w.tid, w.effective(), what, got, rc)
	}
	return nil
}

func (w *soakTerm) logged(x *terminal.Exchange) {
	w.log = append(w.log, soakSeen{txn: string(x.Type), stan: field(x.Request, 11), rc: x.RC()})
	w.n.exchanges++
	w.n.maxLatency = max(w.n.maxLatency, x.Latency)
}

// expected is the response code the scenario in force gives a request.
func (w *soakTerm) expected(typ txn.Type, amount int64) string {
	switch w.effective() {
	case "insufficient-funds":
		if typ == txn.Sale {
			return "51"
		}
	case "magic-amounts":
		if (typ == txn.Sale || typ == txn.Refund) && magicRC[amount%100] {
			return fmt.Sprintf("%02d", amount%100)
		}
	case "cutover":
		if w.h.inWindow && (typ == txn.Sale || typ == txn.Void || typ == txn.Refund || typ == txn.Settlement) {
			return "90"
		}
	}
	return txn.Approved
}

// mixed transacts until stop: mostly sales, with voids, refunds, balance
// inquiries, reversals, echoes, reconnections and settlements.
func (w *soakTerm) mixed(stop <-chan struct{}) error {
	timeout := patience
	if w.effective() == "timeout" {
		timeout = soakLossTimeout
	}
	w.noteScenario()
	if w.timeout != timeout {
		if err := w.connect(timeout); err != nil {
			return err
		}
	}
	tick := time.NewTicker(soakPace)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return nil
		case <-tick.C:
		}
		var err error
		switch r := w.rng.IntN(100); {
		case len(w.t.State.Records) >= soakMaxBatch:
			err = w.settle()
		case r < 46:
			err = w.sale()
		case r < 56:
			err = w.void()
		case r < 63:
			err = w.refund()
		case r < 71:
			err = w.balance()
		case r < 77:
			err = w.reverse()
		case r < 83:
			x, xerr := w.t.Echo()
			w.n.echoes++
			err = w.answered("echo", x, xerr, txn.Approved)
		case r < 86:
			err = w.connect(w.timeout)
		case r < 87:
			err = w.settle()
		default:
			err = w.sale()
		}
		if err != nil {
			return err
		}
	}
}

func (w *soakTerm) noteScenario() {
	if s := w.effective(); s != "" && !slices.Contains(w.scenarios, s) {
		w.scenarios = append(w.scenarios, s)
	}
}

func (w *soakTerm) amount() int64 { return 100 + w.rng.Int64N(50_000) }

func (w *soakTerm) sale() error {
	amt := w.amount()
	x, err := w.t.Sale(amt)
	stan := field(x.Request, 11)
	switch w.effective() {
	case "timeout":
		if !errors.Is(err, connection.ErrSendTimeout) {
			return fmt.Errorf("%s %s (timeout): sale %s: err %v, RC %q; want no answer", w.h.name, w.tid, stan, err, x.RC())
		}
		return w.reverseLost(stan, amt, w.rng.IntN(2) == 0)
	case "connection-reset":
		if err == nil || errors.Is(err, connection.ErrSendTimeout) {
			return fmt.Errorf("%s %s (connection-reset): sale %s: err %v, RC %q; want the connection reset", w.h.name, w.tid, stan, err, x.RC())
		}
		return w.reverseLost(stan, amt, true)
	}
	want := w.expected(txn.Sale, amt)
	if err := w.answered("sale", x, err, want); err != nil {
		return err
	}
	if want != txn.Approved {
		w.n.declined++
		if want == "90" {
			w.n.refused++
		}
		return nil
	}
	w.hostSales++
	w.n.approved++
	// In force for the whole phase: the clock runs in daytime, or stands still.
	if got, want := x.Get(15), w.h.cal.SettlementDate(w.h.s.Clock.Now()).Format("0102"); got != want {
		return fmt.Errorf("%s %s: sale %s at %s settles on %s (F15), want %s", w.h.name, w.tid, stan,
			w.h.s.Clock.Now().Format("Mon 01-02 15:04"), got, want)
	}
	return nil
}

// reverseLost reverses a sale whose answer never came, as a terminal does
// before anything else: on a new connection when asked (after a reset it
// has to), and checks the host found the sale (in the journal, later).
func (w *soakTerm) reverseLost(stan string, amt int64, reconnect bool) error {
	w.log = append(w.log, soakSeen{txn: string(txn.Sale), stan: stan, lost: true})
	w.hostSales++
	w.n.lost++
	w.lostSTANs[stan] = true
	if reconnect {
		if err := w.connect(w.timeout); err != nil {
			return err
		}
	}
	x, err := w.t.Reverse(stan, amt, "98", false)
	w.n.reversals++
	return w.answered("reversal of unanswered sale "+stan, x, err, txn.Approved)
}

func (w *soakTerm) void() error {
	orig := w.t.Last(txn.Sale)
	if orig == nil {
		return w.sale()
	}
	amt := orig.Amount
	x, err := w.t.Void(orig)
	w.n.voids++
	return w.answered("void", x, err, w.expected(txn.Void, amt))
}

func (w *soakTerm) refund() error {
	orig := w.t.Last(txn.Sale)
	if orig == nil {
		return w.balance()
	}
	amt := w.amount()
	x, err := w.t.Refund(amt, orig)
	w.n.refunds++
	return w.answered("refund", x, err, w.expected(txn.Refund, amt))
}

func (w *soakTerm) balance() error {
	x, err := w.t.Balance()
	w.n.balances++
	return w.answered("balance", x, err, txn.Approved)
}

// reverse reverses the latest sale, as after a MAC error on its answer.
// Not while sales are answered twice: the emulator matches a response to
// its request by STAN alone, so the sale's late copy, with the STAN the
// reversal carries, would be taken for the reversal's answer.
func (w *soakTerm) reverse() error {
	orig := w.t.Last(txn.Sale)
	if orig == nil || w.effective() == "duplicate-response" {
		return w.balance()
	}
	stan, n := orig.STAN, len(w.t.State.Records)
	x, err := w.t.Reverse(stan, 0, "06", false)
	w.n.reversals++
	if err := w.answered("reversal of sale "+stan, x, err, txn.Approved); err != nil {
		return err
	}
	if len(w.t.State.Records) != n-1 {
		return fmt.Errorf("%s %s: the reversal of sale %s left %d records of %d", w.h.name, w.tid, stan, len(w.t.State.Records), n)
	}
	return nil
}

// inCutover is what a terminal meets inside the cut-over: every financial
// request and the settlement refused with 90 (the batch kept), echoes and
// balance inquiries answered.
func (w *soakTerm) inCutover() error {
	w.noteScenario()
	amt := w.amount()
	x, err := w.t.Sale(amt)
	w.n.refused++
	if err := w.answered("sale in the cut-over", x, err, "90"); err != nil {
		return err
	}
	if orig := w.t.Last(txn.Sale); orig != nil {
		x, err := w.t.Void(orig)
		w.n.refused++
		if err := w.answered("void in the cut-over", x, err, "90"); err != nil {
			return err
		}
		x, err = w.t.Refund(amt, orig)
		w.n.refused++
		if err := w.answered("refund in the cut-over", x, err, "90"); err != nil {
			return err
		}
	}
	n, batch := len(w.t.State.Records), w.t.State.Batch
	xs, err := w.t.Settle()
	for _, x := range xs {
		if x != nil && x.Response != nil {
			w.logged(x)
		}
	}
	w.n.refused++
	if err == nil || len(xs) != 1 || xs[0].RC() != "90" || len(w.t.State.Records) != n || w.t.State.Batch != batch {
		return fmt.Errorf("%s %s: settlement in the cut-over: %d exchanges, err %v; want RC 90 and the batch (%d records) kept",
			w.h.name, w.tid, len(xs), err, n)
	}
	x, err = w.t.Echo()
	if err := w.answered("echo in the cut-over", x, err, txn.Approved); err != nil {
		return err
	}
	return w.balance()
}

// settle settles the batch: with its own totals, now and then with wrong
// ones to have it uploaded; under settlement-out-of-balance it is uploaded
// whatever the totals. It remembers what the host must have booked.
func (w *soakTerm) settle() error {
	tot, batch, records := w.t.Totals(), w.t.State.Batch, len(w.t.State.Records)
	forced := w.effective() == "settlement-out-of-balance"
	claim := tot
	wrong := !forced && records > 0 && w.rng.IntN(8) == 0
	if wrong {
		claim.DebitAmount++
	}
	xs, err := w.t.SettleWithTotals(claim)
	for _, x := range xs {
		if x != nil && x.Response != nil {
			w.logged(x)
		}
	}
	if err != nil {
		return fmt.Errorf("%s %s (scenario %q): settling batch %s: %w", w.h.name, w.tid, w.effective(), batch, err)
	}
	oob := forced || wrong
	cup := w.h.s.Dialect.Preamble > 0
	want := 1 // iso87: balanced at once
	if oob {
		want = 1 + records + 1 // the settlement, every record, the end
	} else if cup {
		want = 2 // the settlement and the end (207)
	}
	if len(xs) != want {
		return fmt.Errorf("%s %s: settling batch %s (%d records, out of balance %v): %d exchanges, want %d", w.h.name, w.tid, batch, records, oob, len(xs), want)
	}
	gotOOB := xs[0].RC() == txn.OutOfBalance
	if cup {
		gotOOB = xs[0].RC() == txn.Approved && len(xs[0].Get(48)) >= 62 && xs[0].Get(48)[30] == '2'
	}
	if gotOOB != oob {
		return fmt.Errorf("%s %s: settling batch %s: RC %s F48 %q; want out of balance %v", w.h.name, w.tid, batch, xs[0].RC(), xs[0].Get(48), oob)
	}
	for _, x := range xs[1:] {
		if x.RC() != txn.Approved {
			return fmt.Errorf("%s %s: settling batch %s: %s RC %s", w.h.name, w.tid, batch, x.Type, x.RC())
		}
	}
	b := &soakBatch{totals: tot, claimed: claim, outcome: "balanced"}
	if oob {
		b.outcome, b.uploaded = "out of balance", records
		w.n.outOfBalance++
		w.n.uploads += records
	}
	w.batches[batch] = b
	w.n.settled++
	return nil
}

// soakAdmin calls a host's admin API.
type soakAdmin struct {
	base string
	c    *http.Client
}

// must calls the API and decodes its JSON answer into out; anything but a
// 2xx fails the test.
func (a *soakAdmin) must(t *testing.T, method, path string, body, out any) {
	t.Helper()
	if err := a.call(method, path, body, out); err != nil {
		t.Fatal(err)
	}
}

func (a *soakAdmin) call(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*patience)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return err
	}
	resp, err := a.c.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}

// soakSample is what the process and its hosts hold at a moment.
type soakSample struct {
	label      string
	elapsed    time.Duration
	goroutines int
	fds        int // -1 where /proc/self/fd cannot be read
	heap       uint64
	conns      []int // per host, open terminal connections
	entries    []int // per host, journal entries held
	records    []int // per host, transactions held in the books
}

// sample measures, once the hosts' connection counts have settled to what
// is open (the host counts a connection out a moment after its terminal
// hangs up).
func (sk *soak) sample(label string, phase int) soakSample {
	want := 0
	switch {
	case phase > 0 || label == "warm":
		want = soakBenchConns + soakTerminals
	}
	for _, h := range sk.hosts {
		if !eventually(func() bool { return h.s.Connections() == want }) {
			sk.t.Errorf("%s: %s: host has %d connections open, want %d", label, h.name, h.s.Connections(), want)
		}
	}
	smp := soakSample{label: label}
	if !sk.start.IsZero() {
		smp.elapsed = time.Since(sk.start)
	}
	for _, h := range sk.hosts {
		smp.conns = append(smp.conns, h.s.Connections())
		smp.entries = append(smp.entries, int(min(h.seq.Load(), journal.DefaultCapacity))) // no resets
		smp.records = append(smp.records, len(h.s.Books.Records()))
	}
	smp.heap = liveHeap()
	smp.goroutines, smp.fds = goroutines(), openFDs()
	sk.samples = append(sk.samples, smp)
	return smp
}

// checkSample holds goroutines and file descriptors to their bound: over
// the warm baseline while the load runs, over the cold one once every
// connection has closed. Both may take a moment to come down (a connection's
// goroutines end after its peer hangs up; a duplicate's timer runs out).
func (sk *soak) checkSample(smp soakSample, closed bool) {
	base, what := sk.warm, "warm"
	if closed {
		base, what = sk.cold, "cold"
	}
	g, fds := smp.goroutines, smp.fds
	if g > base.goroutines+soakGoroutineSlack {
		if !eventually(func() bool { g = goroutines(); return g <= base.goroutines+soakGoroutineSlack }) {
			sk.t.Errorf("%s: %d goroutines, %d at the %s baseline; want at most %d more", smp.label, g, base.goroutines, what, soakGoroutineSlack)
		}
	}
	if fds >= 0 && fds > base.fds+soakFDSlack {
		if !eventually(func() bool { fds = openFDs(); return fds <= base.fds+soakFDSlack }) {
			sk.t.Errorf("%s: %d open file descriptors, %d at the %s baseline; want at most %d more", smp.label, fds, base.fds, what, soakFDSlack)
		}
	}
}

func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// report logs the figures as a table to paste into a report.
func (sk *soak) report(d time.Duration, final soakSample) {
	t := sk.t
	names := make([]string, len(sk.hosts))
	for i, h := range sk.hosts {
		names[i] = h.name
	}
	t.Logf("soak figures: %v, hosts %s; per host: connections / journal entries held / transactions held", d, strings.Join(names, " + "))
	t.Logf("  %-10s %8s %10s %5s %9s   %s", "sample", "elapsed", "goroutines", "fds", "heap MiB", "per host")
	for _, s := range sk.samples {
		var per []string
		for i := range s.conns {
			per = append(per, fmt.Sprintf("%d/%d/%d", s.conns[i], s.entries[i], s.records[i]))
		}
		mark := ""
		switch s.label {
		case sk.warm.label:
			mark = "  <- warm baseline"
		case sk.mid.label:
			mark = "  <- middle"
		case sk.end.label:
			mark = "  <- end of load"
		}
		t.Logf("  %-10s %8v %10d %5d %9.1f   %s%s", s.label, s.elapsed.Round(time.Second), s.goroutines, s.fds, mib(s.heap), strings.Join(per, "  "), mark)
	}
	t.Logf("bounds: goroutines and fds within +%d of the baseline; heap from the middle to the end within %.0f%% or %d MiB (+%d B an entry/record still filling)",
		soakGoroutineSlack, soakHeapGrowth*100, soakHeapFloor>>20, soakHeapPerEntry)
	t.Logf("phases: %d, of which %d crossed the 23:00 cut-over; longest journal check %v", len(sk.samples)-3, sk.cutovers, sk.verifyMax.Round(time.Millisecond))
	for _, h := range sk.hosts {
		var n soakCounts
		batches := 0
		for _, w := range h.terms {
			c := w.n
			n.approved += c.approved
			n.declined += c.declined
			n.lost += c.lost
			n.voids += c.voids
			n.refunds += c.refunds
			n.reversals += c.reversals
			n.balances += c.balances
			n.echoes += c.echoes
			n.settled += c.settled
			n.outOfBalance += c.outOfBalance
			n.uploads += c.uploads
			n.reconnects += c.reconnects
			n.refused += c.refused
			n.exchanges += c.exchanges
			n.maxLatency = max(n.maxLatency, c.maxLatency)
			batches += len(w.batches)
		}
		t.Logf("%s scenario terminals: %d exchanges; sales %d approved, %d declined, %d unanswered and reversed; %d voids, %d refunds, %d reversals, %d balance inquiries, %d echoes; %d requests refused in the cut-over; %d reconnections; slowest answer %v",
			h.name, n.exchanges, n.approved, n.declined, n.lost, n.voids, n.refunds, n.reversals, n.balances, n.echoes, n.refused, n.reconnects, n.maxLatency.Round(time.Millisecond))
		t.Logf("%s batches settled: %d (%d out of balance, closed by uploads of %d records); /verify confirmed %d approved sales (one terminal a phase, every one at the end)",
			h.name, n.settled, n.outOfBalance, n.uploads, h.verifiedN)

		if r := h.benchRes.res; r != nil {
			t.Logf("%s background load: %d sent, %d answered, %.0f tps, p99 %.0f µs, max %.0f µs; by RC %v",
				h.name, r.Sent, r.Answered, r.TPS, r.P99us, r.MaxUs, r.RC)
		}
		if batches != n.settled {
			t.Errorf("%s: %d settlements and %d batches settled; a batch number came twice", h.name, n.settled, batches)
		}
	}
}
