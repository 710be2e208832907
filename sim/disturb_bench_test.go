//go:build linux

package sim_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/expr-lang/expr"

	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/sim"
	"github.com/acqsim/acqsim/terminal"
	"github.com/acqsim/acqsim/txn"
)

// What the honest terminal does in each sub-benchmark, whatever b.N: one
// sale at a time, each begun honestEvery after the one before (or as soon as
// it is answered, when it took longer), until it has made honestSales of them
// or honestFor has passed (under an expression that holds the host for
// seconds, the time runs out first). Run it with -benchtime 1x. The pace is a
// busy lane's, and it keeps the sales spread over the disturbance: back to
// back, thousands of them would fit between two stalls and hide them from
// the p99.
const (
	honestSales = 2000
	honestEvery = 10 * time.Millisecond
	honestFor   = 60 * time.Second
	// honestPatience is the honest terminal's timeout: long enough that a
	// sale held up for seconds is measured, not lost.
	honestPatience = 2 * time.Minute

	honestTID, honestMID = "HONEST01", "898100012349999"
	abuserTID, abuserMID = "ABUSER01", "898100012340666"
	// abuserConns is how many connections the abusing terminal keeps busy at
	// once, one for each of the machine's two CPUs.
	abuserConns = 2
	// streamClients is how many journal stream subscribers the other party
	// opens.
	streamClients = 2000
)

// costlySizes are the array sizes of the costly expression, largest first,
// each a fifth below the one before: the first is a 2.3 s-class evaluation
// on a 2 vCPU machine (n² comparisons at about 35 ns each); a host with a
// cost budget at load refuses the largest, and the benchmark goes on with
// the largest it accepts.
var costlySizes = func() []int {
	var sizes []int
	for n := 8000; n >= 5; n = n * 4 / 5 {
		sizes = append(sizes, n)
	}
	return sizes
}()

// BenchmarkHonestTerminal measures an honest terminal's sale latency while
// another party abuses the host (issue 13): a global scenario whose match is
// expensive, whole-journal reads from the admin API, and 2,000 live journal
// streams. Each sub-benchmark starts its own host on loopback and reports
// the honest terminal's p50, p99 and maximum; any honest sale that is not
// approved fails it.
//
//	go test -run '^$' -bench BenchmarkHonestTerminal -benchtime 1x ./sim/
func BenchmarkHonestTerminal(b *testing.B) {
	raiseFileLimit(b, 2*streamClients+512)
	b.Run("quiet", func(b *testing.B) {
		s := start(b, sim.Config{})
		runHonest(b, s)
	})
	b.Run("expensive-expression", benchExpensiveExpression)
	b.Run("journal-read", benchJournalRead)
	b.Run("streams-2000", func(b *testing.B) {
		// With the host's default cap, most subscribers are turned away;
		// with a cap of 2,000 all of them are let in.
		b.Run("default-cap", func(b *testing.B) { benchStreams(b, 0) })
		b.Run("allowed", func(b *testing.B) { benchStreams(b, streamClients) })
	})
}

// benchExpensiveExpression installs as the global scenario a rule whose
// match costs seconds for the abusing terminal's requests: the honest
// terminal shares that binding (it has none of its own), and its own
// requests skip the costly part at once (tid differs), so what it waits for
// is the abuser's evaluation, not its own.
func benchExpensiveExpression(b *testing.B) {
	s := start(b, sim.Config{})
	n := installCostly(b, s)
	var cost time.Duration
	if n == 0 {
		b.Log("every costly expression was refused at load; the abuser sends plain sales")
	} else {
		cost = uncutCost(b, n)
		b.Logf("installed %s: %v an evaluation without a budget", costlyExpr(n), cost.Round(time.Microsecond))
	}

	abuse := newDisturbance()
	for i := range abuserConns {
		// Each connection counts its trace numbers in a range of its own,
		// as far apart as the six digits allow.
		term := disturbDial(b, s, abuserTID, abuserMID, i*1_000_000/abuserConns)
		abuse.loop(func() error {
			x, err := term.Sale(100)
			if err != nil {
				return err
			}
			abuse.record(x.Latency)
			return nil
		})
	}
	defer abuse.halt(b)
	runHonest(b, s)
	abuse.halt(b)
	// Metrics go after the honest run: its b.ResetTimer drops those before.
	abuse.report(b, "abuser", "abuser-sales")
	b.ReportMetric(float64(n), "array-size")
	b.ReportMetric(millis(cost), "eval-ms")
}

// costlyScenario is a global scenario whose one rule makes the abusing
// terminal's requests cost n² comparisons; no element is -1, so it never
// matches, and every request gets the default answer once it has been paid
// for. Other terminals' requests stop at the tid test.
func costlyScenario(n int) string {
	return fmt.Sprintf(`name: costly-%d
description: An expression that costs seconds per request of one terminal.
rules:
  - name: costly
    match: 'tid == "%s" && (%s)'
    respond: {rc: "05"}
`, n, abuserTID, costlyExpr(n))
}

func costlyExpr(n int) string {
	return fmt.Sprintf("let xs = 1..%d; any(xs, {any(xs, {# == -1})})", n)
}

// installCostly puts the costliest scenario the host accepts as its global
// one over the admin API, logging the first and last refusals, and returns
// its array size (0 when it accepts none).
func installCostly(b *testing.B, s *sim.Sim) int {
	b.Helper()
	refused := 0
	var last string
	for _, n := range costlySizes {
		status, body := disturbAdmin(b, s, http.MethodPut, "/scenario", "application/yaml", costlyScenario(n))
		switch status {
		case http.StatusOK:
			if refused > 1 {
				b.Logf("refused at load (%d sizes in all, the last): %s", refused, last)
			}
			return n
		case http.StatusBadRequest, http.StatusUnprocessableEntity:
			refused++
			last = fmt.Sprintf("%s: %s", costlyExpr(n), bytes.Join(bytes.Fields(body), []byte(" ")))
			if refused == 1 {
				b.Logf("refused at load: %s", last)
			}
		default:
			b.Fatalf("PUT /scenario: %d %s", status, body)
		}
	}
	if refused > 1 {
		b.Logf("refused at load (all %d sizes, the last): %s", refused, last)
	}
	return 0
}

// uncutCost is what one evaluation of the costly expression costs on this
// machine with no budget: how much of it the host spends is the abuser's
// latency.
func uncutCost(b *testing.B, n int) time.Duration {
	b.Helper()
	prog, err := expr.Compile(costlyExpr(n), expr.AsBool())
	if err != nil {
		b.Fatal(err)
	}
	began := time.Now()
	if _, err := expr.Run(prog, nil); err != nil {
		b.Logf("the costly expression fails without the host: %v", err)
	}
	return time.Since(began)
}

// benchJournalRead fills the journal's memory ring with realistic entries,
// then reads all of it over the admin API back to back (GET /journal, and
// each page a Link: rel="next" header names) while the honest terminal runs.
func benchJournalRead(b *testing.B) {
	s := start(b, sim.Config{})
	fillJournal(b, s, journal.DefaultCapacity)

	reader := newDisturbance()
	var reads, pages, entries, bytesRead atomic.Int64
	reader.loop(func() error {
		began := time.Now()
		p, e, n, whole, err := readJournal(s, reader.stop)
		if err != nil || !whole { // a read cut short by halt is not counted
			return err
		}
		reads.Add(1)
		pages.Add(int64(p))
		entries.Add(int64(e))
		bytesRead.Add(n)
		reader.record(time.Since(began))
		return nil
	})
	defer reader.halt(b)
	runHonest(b, s)
	reader.halt(b)
	reader.report(b, "read", "reads")
	if r := reads.Load(); r > 0 {
		b.ReportMetric(float64(pages.Load())/float64(r), "pages/read")
		b.ReportMetric(float64(entries.Load())/float64(r), "entries/read")
		b.ReportMetric(float64(bytesRead.Load())/float64(r)/1e6, "MB/read")
	}
}

// fillJournal appends entries to the journal until it holds n: copies of a
// real sale's entry, frames and all, each with a trace number and RRN of its
// own.
func fillJournal(b *testing.B, s *sim.Sim, n int) {
	b.Helper()
	term := disturbDial(b, s, "FILLER01", honestMID, 0)
	x, err := term.Sale(1234)
	if err != nil {
		b.Fatalf("the filler's sale: %v", err)
	}
	if rc := x.RC(); rc != txn.Approved {
		b.Fatalf("the filler's sale: RC %s", rc)
	}
	latest := s.Journal.Query(journal.Filter{TID: "FILLER01", Limit: 1})
	if len(latest) != 1 {
		b.Fatalf("the filler's sale is not in the journal: %v", latest)
	}
	e, ok := s.Journal.Get(latest[0].Seq)
	if !ok {
		b.Fatal("the filler's sale has gone from the journal")
	}
	for i := range n {
		e.STAN = fmt.Sprintf("%06d", i%1_000_000)
		e.RRN = fmt.Sprintf("%012d", 500_000_000+i)
		e.Time = e.Time.Add(time.Millisecond)
		if err := s.Journal.Append(e); err != nil {
			b.Fatal(err)
		}
	}
}

// readJournal reads the whole journal once, following next links, and
// returns how many pages, entries and bytes it took, and whether it read to
// the end: it stops between pages when stop is closed.
func readJournal(s *sim.Sim, stop <-chan struct{}) (pages, entries int, n int64, whole bool, err error) {
	next := "http://" + s.AdminAddr() + "/journal"
	for next != "" {
		select {
		case <-stop:
			return pages, entries, n, false, nil
		default:
		}
		resp, err := http.Get(next)
		if err != nil {
			return pages, entries, n, false, err
		}
		var c seqCounter
		m, err := io.Copy(&c, resp.Body)
		resp.Body.Close()
		if err != nil {
			return pages, entries, n, false, err
		}
		if resp.StatusCode != http.StatusOK {
			return pages, entries, n, false, fmt.Errorf("GET %s: %s", next, resp.Status)
		}
		pages++
		entries += c.n
		n += m
		next = ""
		if c.n > 0 && entries < 4*journal.DefaultCapacity { // an empty page or a chase without end stops the read
			next = nextPage(resp)
		}
	}
	return pages, entries, n, true, nil
}

// nextPage is the address a response's Link: <...>; rel="next" header
// names, resolved against its request's, or "".
func nextPage(resp *http.Response) string {
	for _, v := range resp.Header.Values("Link") {
		for _, link := range strings.Split(v, ",") {
			target, params, ok := strings.Cut(link, ";")
			if !ok || !strings.Contains(strings.ReplaceAll(params, `"`, ""), "rel=next") {
				continue
			}
			target = strings.Trim(strings.TrimSpace(target), "<>")
			u, err := resp.Request.URL.Parse(target)
			if err != nil {
				return ""
			}
			return u.String()
		}
	}
	return ""
}

// seqCounter counts the entries of a JSON answer, by their "seq" keys, as it
// is copied, without keeping it.
type seqCounter struct {
	n    int
	tail []byte
}

var seqKey = []byte(`"seq":`)

func (c *seqCounter) Write(p []byte) (int, error) {
	buf := append(c.tail, p...)
	c.n += bytes.Count(buf, seqKey)
	keep := min(len(seqKey)-1, len(buf))
	c.tail = append(c.tail[:0], buf[len(buf)-keep:]...)
	return len(p), nil
}

// benchStreams opens streamClients live journal streams, each read as it
// comes, and runs the honest terminal while they are open; it reports how
// many the host let in and turned away (503), and the process's resident
// memory before, while they are open and once they are closed (clients and
// host share the process: the clients' side is a small part of it).
func benchStreams(b *testing.B, maxStreams int) {
	s := start(b, sim.Config{AdminMaxStreams: maxStreams})
	baseline := runtime.NumGoroutine()
	// What the sub-benchmarks before this one freed, the runtime keeps
	// until it needs it or is told: told now, the process starts this one
	// from what it holds.
	debug.FreeOSMemory()
	rssBefore := residentMemory(b)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr := &http.Transport{DisableKeepAlives: true, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var opened, refused, failed atomic.Int64
	var errMu sync.Mutex
	var firstErr string
	fail := func(why string) {
		failed.Add(1)
		errMu.Lock()
		if firstErr == "" {
			firstErr = why
		}
		errMu.Unlock()
	}
	var ready, done sync.WaitGroup
	dialing := make(chan struct{}, 64) // connections being set up at once
	for range streamClients {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			dialing <- struct{}{}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.AdminAddr()+"/journal/stream", nil)
			resp, err := client.Do(req)
			<-dialing
			if err != nil {
				fail(err.Error())
				ready.Done()
				return
			}
			defer resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusOK:
				opened.Add(1)
				ready.Done()
				io.Copy(io.Discard, resp.Body) // until the stream is cancelled
			case http.StatusServiceUnavailable:
				refused.Add(1)
				ready.Done()
			default:
				fail(resp.Status)
				ready.Done()
			}
		}()
	}
	ready.Wait()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d streams failed: first %s", f, streamClients, firstErr)
	}
	b.Logf("cap %d: %d streams open, %d refused with 503", maxStreams, opened.Load(), refused.Load())
	rssOpen := residentMemory(b)

	runHonest(b, s)
	rssDuring := max(rssOpen, residentMemory(b))

	cancel()
	done.Wait()
	tr.CloseIdleConnections()
	// The host's stream handlers end when they see their connection gone;
	// nothing tells the benchmark when, so it polls the goroutine count.
	deadline := time.Now().Add(30 * time.Second)
	for runtime.NumGoroutine() > baseline+16 && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if g := runtime.NumGoroutine(); g > baseline+16 {
		b.Logf("%d goroutines still running after the streams closed, %d before they opened", g, baseline)
	}
	// Metrics go after the honest run: its b.ResetTimer drops those before.
	b.ReportMetric(float64(opened.Load()), "streams")
	b.ReportMetric(float64(refused.Load()), "refused-503")
	b.ReportMetric(rssBefore, "rss-before-MB")
	b.ReportMetric(rssDuring, "rss-during-MB")
	if n := opened.Load(); n > 0 {
		b.ReportMetric((rssDuring-rssBefore)*1000/float64(n), "rss-KB/stream")
	}
	// As an operator sees it once the streams are gone, then what the
	// process still holds when the runtime gives back all it can.
	b.ReportMetric(residentMemory(b), "rss-after-MB")
	b.ReportMetric(float64(hostMemory())/1e6, "heap-after-MB")
	debug.FreeOSMemory()
	b.ReportMetric(residentMemory(b), "rss-freed-MB")
}

// runHonest runs the honest terminal's sales, times them, and fails the
// benchmark on the first that is not approved. It resets the timer, and with
// it the metrics reported so far.
func runHonest(b *testing.B, s *sim.Sim) {
	b.Helper()
	term := disturbDial(b, s, honestTID, honestMID, 0)
	lat := make([]time.Duration, 0, honestSales)
	deadline := time.Now().Add(honestFor)
	pace := time.NewTicker(honestEvery)
	defer pace.Stop()
	b.ResetTimer()
	for i := 0; i < honestSales && time.Now().Before(deadline); i++ {
		<-pace.C
		amount := int64(100 + i)
		x, err := term.Sale(amount)
		if err != nil {
			b.Fatalf("honest sale %d: %v", i+1, err)
		}
		if rc := x.RC(); rc != txn.Approved {
			b.Fatalf("honest sale %d: RC %s, want %s", i+1, rc, txn.Approved)
		}
		lat = append(lat, x.Latency)
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat)), "sales")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(len(lat)), "ns/op")
	b.ReportMetric(millis(latencyQuantile(lat, 0.50)), "p50-ms")
	b.ReportMetric(millis(latencyQuantile(lat, 0.99)), "p99-ms")
	b.ReportMetric(millis(lat[len(lat)-1]), "max-ms")
}

// disturbDial connects a terminal of its own, counting its trace numbers
// from stan, with a timeout long enough to measure a request held for
// seconds.
func disturbDial(b *testing.B, s *sim.Sim, tid, mid string, stan int) *terminal.Terminal {
	b.Helper()
	term, err := terminal.Dial(context.Background(), terminal.Config{
		Addr: s.Addr(), Dialect: s.Dialect, TID: tid, MID: mid, Timeout: honestPatience,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { term.Close() })
	term.State.STAN = stan
	return term
}

// disturbance is the other party: goroutines doing one thing over and over
// until halt, with the time each turn took.
type disturbance struct {
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup
	mu   sync.Mutex
	took []time.Duration
	errs []error
}

func newDisturbance() *disturbance { return &disturbance{stop: make(chan struct{})} }

// loop runs f until halt, or until it fails.
func (d *disturbance) loop(f func() error) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		for {
			select {
			case <-d.stop:
				return
			default:
			}
			if err := f(); err != nil {
				d.mu.Lock()
				d.errs = append(d.errs, err)
				d.mu.Unlock()
				return
			}
		}
	}()
}

func (d *disturbance) record(took time.Duration) {
	d.mu.Lock()
	d.took = append(d.took, took)
	d.mu.Unlock()
}

// halt stops the goroutines, waits for them, and fails the benchmark if one
// failed.
func (d *disturbance) halt(b *testing.B) {
	d.once.Do(func() {
		close(d.stop)
		d.wg.Wait()
		for _, err := range d.errs {
			b.Errorf("the disturbance failed: %v", err)
		}
	})
}

// report gives the median and maximum time a turn took, as name-p50-ms and
// name-max-ms, and how many turns there were, as count.
func (d *disturbance) report(b *testing.B, name, count string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.took) == 0 {
		b.Logf("no %s finished while the honest terminal ran", name)
		return
	}
	slices.Sort(d.took)
	b.ReportMetric(float64(len(d.took)), count)
	b.ReportMetric(millis(latencyQuantile(d.took, 0.50)), name+"-p50-ms")
	b.ReportMetric(millis(d.took[len(d.took)-1]), name+"-max-ms")
}

// latencyQuantile is the q-quantile of sorted latencies (nearest rank).
func latencyQuantile(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(float64(len(sorted))*q)) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// disturbAdmin makes one admin API call and returns its status and body.
func disturbAdmin(b *testing.B, s *sim.Sim, method, path, contentType, body string) (int, []byte) {
	b.Helper()
	req, err := http.NewRequest(method, (&url.URL{Scheme: "http", Host: s.AdminAddr(), Path: path}).String(), strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	return resp.StatusCode, out
}

// residentMemory is the process's resident set (VmRSS), in MB.
func residentMemory(b *testing.B) float64 {
	b.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				b.Fatalf("VmRSS %q: %v", rest, err)
			}
			return float64(kb) / 1000
		}
	}
	b.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// raiseFileLimit raises the soft limit on open files to the hard one, and
// skips the benchmark if even that is below need (the streams' clients and
// the host's ends of them share the process).
func raiseFileLimit(b *testing.B, need uint64) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		b.Fatal(err)
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			b.Fatal(err)
		}
	}
	if rl.Cur < need {
		b.Skipf("the open-file limit is %d; the streams need %d (ulimit -n)", rl.Cur, need)
	}
}
