package bench

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"maps"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acqsim/acqsim/acqsimtest"
	"github.com/acqsim/acqsim/fixtures"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/terminal"
)

func load(t testing.TB, name string) *dialect.Dialect {
	t.Helper()
	d, err := fixtures.Dialect(name)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func run(t *testing.T, cfg Config) *Result {
	t.Helper()
	res, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

// checkSums checks that every request is accounted for, overall and per type.
func checkSums(t *testing.T, res *Result) {
	t.Helper()
	var sent, answered int64
	for typ, c := range res.ByType {
		if c.Sent != c.Answered+c.Timeouts+c.Errors {
			t.Errorf("%s: sent %d != answered %d + timeouts %d + errors %d", typ, c.Sent, c.Answered, c.Timeouts, c.Errors)
		}
		var rcs int64
		for _, n := range c.RC {
			rcs += n
		}
		if rcs != c.Answered {
			t.Errorf("%s: RCs add up to %d, answered %d", typ, rcs, c.Answered)
		}
		sent += c.Sent
		answered += c.Answered
	}
	if sent != res.Sent || answered != res.Answered {
		t.Errorf("types add up to sent %d answered %d; totals say %d, %d", sent, answered, res.Sent, res.Answered)
	}
	if res.Sent != res.Answered+res.Timeouts+res.Errors {
		t.Errorf("sent %d != answered %d + timeouts %d + errors %d", res.Sent, res.Answered, res.Timeouts, res.Errors)
	}
}

// TestAgainstAcqsim runs a mix with settlement against the default host in
// both dialects: everything approved, the host saw what the load generator
// counted, and every batch settles balanced.
func TestAgainstAcqsim(t *testing.T) {
	for _, name := range fixtures.DialectNames() {
		t.Run(name, func(t *testing.T) {
			h := acqsimtest.New(t, acqsimtest.Dialect(name))
			mix, err := ParseMix("sale=60,void=15,reversal=15,balance=10")
			if err != nil {
				t.Fatal(err)
			}
			res := run(t, Config{
				Addr: h.Addr(), Dialect: load(t, name), Connections: 3, Count: 900, Pipeline: 3,
				Mix: mix, Settle: true, SignOn: name == "cup", Timeout: 10 * time.Second, MID: acqsimtest.MID,
			})
			checkSums(t, res)
			if res.Sent != 900 || res.Answered != 900 || res.Timeouts != 0 || res.Errors != 0 || res.Unmatched != 0 {
				t.Fatalf("sent %d answered %d timeouts %d errors %d unmatched %d; want 900 answered, nothing else",
					res.Sent, res.Answered, res.Timeouts, res.Errors, res.Unmatched)
			}
			if !maps.Equal(res.RC, map[string]int64{"00": 900}) {
				t.Errorf("RC %v, want all 00", res.RC)
			}
			for _, typ := range []string{"sale", "void", "reversal", "balance"} {
				c := res.ByType[typ]
				if c.Sent == 0 {
					t.Errorf("no %s sent: %v", typ, res.ByType)
				}
				// The host journals what it answered, under the same name.
				if n := h.Count(journal.Filter{Txn: typ, RC: "00"}); int64(n) != c.Answered {
					t.Errorf("host approved %d %s, the load generator counted %d", n, typ, c.Answered)
				}
			}
			s := res.Settlement
			if s == nil || s.Terminals != 3 || s.Balanced != 3 || s.Failed != 0 || s.OutOfBalance != 0 {
				t.Fatalf("settlement %+v, want 3 balanced", s)
			}
			if n := h.Count(journal.Filter{Txn: "settlement"}); n != 3 {
				t.Errorf("host saw %d settlements, want 3", n)
			}
			if res.P50us <= 0 || res.P99us < res.P50us || res.MaxUs < res.P99us {
				t.Errorf("latency p50 %v p99 %v max %v", res.P50us, res.P99us, res.MaxUs)
			}
			if name == "cup" { // signed on, so requests carry a MAC the host checked (a bad one gets A0)
				sales := h.Journal(journal.Filter{Txn: "sale", Limit: 1})
				e, ok := h.Sim().Journal.Get(sales[0].Seq)
				if !ok {
					t.Fatal("the last sale is not in the journal's memory")
				}
				d := load(t, name)
				m, err := d.Decode([]byte(e.Request)[d.Preamble:])
				if err != nil {
					t.Fatal(err)
				}
				if m.GetField(64) == nil {
					t.Error("a cup sale after sign-on carries no MAC (F64)")
				}
				if n := h.Count(journal.Filter{Txn: "signon", RC: "00"}); n != 3 {
					t.Errorf("%d sign-ons approved, want 3", n)
				}
			}
		})
	}
}

// TestClosedLoopCount: -n sends exactly that many, over all connections.
func TestClosedLoopCount(t *testing.T) {
	h := acqsimtest.New(t)
	res := run(t, Config{Addr: h.Addr(), Dialect: load(t, "iso87ascii"), Connections: 4, Count: 1001, TIDPrefix: "CNT"})
	checkSums(t, res)
	if res.Sent != 1001 || res.Answered != 1001 {
		t.Errorf("sent %d answered %d, want 1001", res.Sent, res.Answered)
	}
	if n := h.Count(journal.Filter{Txn: "sale"}); n != 1001 {
		t.Errorf("host saw %d sales, want 1001", n)
	}
	for i := range 4 {
		tid := "CNT" + pad(int64(i+1), 5)
		if h.Count(journal.Filter{TID: tid}) == 0 {
			t.Errorf("terminal %s sent nothing", tid)
		}
	}
	if res.Mode != "closed" || res.TPS <= 0 || res.DurationS <= 0 {
		t.Errorf("mode %q tps %v duration %v", res.Mode, res.TPS, res.DurationS)
	}
}

// TestOpenLoopRate: an open loop sends rate × duration requests, on their
// schedule, whatever the host answers.
func TestOpenLoopRate(t *testing.T) {
	h := acqsimtest.New(t)
	start := time.Now()
	res := run(t, Config{Addr: h.Addr(), Dialect: load(t, "iso87ascii"), Connections: 3, Rate: 300, Duration: time.Second,
		Warmup: 200 * time.Millisecond, TIDPrefix: "OPEN"})
	took := time.Since(start)
	checkSums(t, res)
	if res.Sent != 300 || res.Answered != 300 {
		t.Errorf("sent %d answered %d, want 300 (300/s for 1 s)", res.Sent, res.Answered)
	}
	// 60 more in the warm-up reach the host but not the results.
	if n := h.Count(journal.Filter{Txn: "sale"}); n != 360 {
		t.Errorf("host saw %d sales, want 360 (60 of them in the warm-up)", n)
	}
	// The last one is due 1.2 s after the start: the schedule was kept, not
	// rushed (an upper bound would only measure the machine).
	if took < 1190*time.Millisecond {
		t.Errorf("300 requests at 300/s after a 0.2 s warm-up took %v", took)
	}
	if res.Mode != "open" || res.TPS < 150 || res.TPS > 400 {
		t.Errorf("mode %q tps %v, want open near 300", res.Mode, res.TPS)
	}

	res = run(t, Config{Addr: h.Addr(), Dialect: load(t, "iso87ascii"), Connections: 2, Rate: 2000, Count: 101, Pipeline: 4, TIDPrefix: "OPN2"})
	if res.Sent != 101 || res.Answered != 101 {
		t.Errorf("with a count: sent %d answered %d, want 101", res.Sent, res.Answered)
	}
}

// testHost is a host written for a test: handle gets each request's frame
// body (after the length header) and a function to answer with a body.
func testHost(t *testing.T, handle func(body []byte, reply func([]byte))) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	framer := dialect.Framer{Header: dialect.Binary2}
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				br := bufio.NewReader(c)
				reply := func(body []byte) {
					out, _ := framer.AppendFrame(nil, nil, body)
					c.Write(out)
				}
				for {
					frame, err := framer.ReadFrame(br, nil)
					if err != nil {
						return
					}
					handle(frame, reply)
				}
			})
		}
	})
	return ln.Addr().String()
}

// TestEchoHost: a host that only turns 0200 into 0210 gives responses
// without F39, counted as RC "none", not as errors.
func TestEchoHost(t *testing.T) {
	addr := testHost(t, func(body []byte, reply func([]byte)) {
		if len(body) >= 4 && body[2] == '0' {
			body[2] = '1'
		}
		reply(body)
	})
	mix, _ := ParseMix("sale=50,void=50")
	res := run(t, Config{Addr: addr, Dialect: load(t, "iso87ascii"), Connections: 2, Count: 200, Pipeline: 2, Mix: mix})
	checkSums(t, res)
	if res.Answered != 200 || res.Errors != 0 || !maps.Equal(res.RC, map[string]int64{"none": 200}) {
		t.Errorf("answered %d errors %d RC %v, want 200 answered, RC none", res.Answered, res.Errors, res.RC)
	}
	// Nothing was approved, so there was never a sale to void.
	if _, ok := res.ByType["sale"]; !ok || len(res.ByType) != 1 {
		t.Errorf("types %v, want sales only", slices.Collect(maps.Keys(res.ByType)))
	}
}

// TestPipelineMatchesBySTAN: a host that answers each pair of requests in
// the opposite order, sales with 00 and balance inquiries with 51. A load
// generator that matched responses by their order would put 51s on sales.
func TestPipelineMatchesBySTAN(t *testing.T) {
	d := load(t, "iso87ascii")
	answer := func(body []byte) []byte {
		m, err := d.Decode(body)
		if err != nil {
			t.Errorf("host: %v", err)
			return nil
		}
		resp := m
		mti, _ := m.GetMTI()
		resp.MTI(dialect.ResponseMTI(mti))
		rc := "00"
		if str(m, 3) == "310000" {
			rc = "51"
		}
		resp.Field(39, rc)
		out, err := resp.Pack()
		if err != nil {
			t.Errorf("host: %v", err)
		}
		return out
	}
	var held []byte
	addr := testHost(t, func(body []byte, reply func([]byte)) {
		if held == nil {
			held = answer(body)
			return
		}
		reply(answer(body))
		reply(held)
		held = nil
	})
	mix, _ := ParseMix("sale=1,balance=1")
	res := run(t, Config{Addr: addr, Dialect: d, Connections: 1, Count: 400, Pipeline: 2, Mix: mix, Timeout: 10 * time.Second})
	checkSums(t, res)
	sales, balances := res.ByType["sale"], res.ByType["balance"]
	if sales.Sent == 0 || balances.Sent == 0 || sales.Sent+balances.Sent != 400 {
		t.Fatalf("sent %d sales and %d balance inquiries", sales.Sent, balances.Sent)
	}
	if !maps.Equal(sales.RC, map[string]int64{"00": sales.Sent}) || !maps.Equal(balances.RC, map[string]int64{"51": balances.Sent}) {
		t.Errorf("sales got %v, balance inquiries %v: responses matched to the wrong requests", sales.RC, balances.RC)
	}
	if res.Unmatched != 0 || res.Errors != 0 {
		t.Errorf("unmatched %d errors %d", res.Unmatched, res.Errors)
	}
}

// TestTimeouts: a host that never answers; each request times out once.
func TestTimeouts(t *testing.T) {
	addr := testHost(t, func([]byte, func([]byte)) {})
	res := run(t, Config{Addr: addr, Dialect: load(t, "iso87ascii"), Connections: 2, Count: 6, Pipeline: 3, Timeout: 100 * time.Millisecond})
	checkSums(t, res)
	if res.Sent != 6 || res.Timeouts != 6 || res.Answered != 0 {
		t.Errorf("sent %d timeouts %d answered %d, want 6 timeouts", res.Sent, res.Timeouts, res.Answered)
	}
}

// TestBadResponses: responses with another terminal ID, or that do not
// decode, are errors; a response to nothing asked is unmatched.
func TestBadResponses(t *testing.T) {
	d := load(t, "iso87ascii")
	n := 0
	addr := testHost(t, func(body []byte, reply func([]byte)) {
		n++
		m, _ := d.Decode(body)
		mti, _ := m.GetMTI()
		m.MTI(dialect.ResponseMTI(mti))
		m.Field(39, "00")
		switch n % 3 {
		case 0:
			m.Field(41, "SOMEONE1")
		case 1:
			stray, _ := d.Decode(body)
			stray.MTI("0210")
			stray.Field(11, "999999")
			out, _ := stray.Pack()
			reply(out)
		}
		out, _ := m.Pack()
		reply(out)
	})
	res := run(t, Config{Addr: addr, Dialect: d, Connections: 1, Count: 30, Timeout: 10 * time.Second})
	checkSums(t, res)
	if res.Answered != 20 || res.Errors != 10 || res.ErrorsByKind["bad_response"] != 10 || res.Unmatched != 10 {
		t.Errorf("answered %d errors %v unmatched %d; want 20 answered, 10 bad responses, 10 unmatched", res.Answered, res.ErrorsByKind, res.Unmatched)
	}
}

func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = Run(t.Context(), Config{Addr: addr, Dialect: load(t, "iso87ascii"), Connections: 2, Count: 10, Timeout: 2 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "connecting to "+addr) {
		t.Errorf("Run against a closed port: %v, want a connection error", err)
	}
}

// TestInterrupt: cancelling the context ends the run with what it measured.
func TestInterrupt(t *testing.T) {
	h := acqsimtest.New(t)
	ctx, cancel := context.WithCancel(t.Context())
	cfg := Config{Addr: h.Addr(), Dialect: load(t, "iso87ascii"), Connections: 2, Duration: time.Hour, TIDPrefix: "INT"}
	cfg.Progress = func(p Progress) {
		if p.Answered > 0 {
			cancel() // once something was measured
		}
	}
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkSums(t, res)
	if !res.Interrupted || res.Answered == 0 {
		t.Errorf("interrupted %v answered %d", res.Interrupted, res.Answered)
	}
}

func TestSettleOversized(t *testing.T) {
	h := acqsimtest.New(t)
	res := run(t, Config{Addr: h.Addr(), Dialect: load(t, "iso87ascii"), Connections: 1, Count: 1000, Pipeline: 8, Settle: true, TIDPrefix: "BIG"})
	s := res.Settlement
	if s == nil || s.Oversized != 1 || s.OutOfBalance != 1 || s.Uploads != 1000 {
		t.Errorf("settlement of 1000 sales: %+v, want oversized, out of balance, 1000 uploaded", s)
	}
}

func TestParseMix(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Mix
		err  bool
	}{
		{in: "sale", want: Mix{kSale: 1}},
		{in: "sale=90,void=4,reversal=3,balance=3", want: Mix{90, 4, 3, 3}},
		{in: " sale = 2 , balance ", want: Mix{kSale: 2, kBalance: 1}},
		{in: "void=1", want: Mix{kVoid: 1}},
		{in: "sale=0", err: true},
		{in: "", err: true},
		{in: "refund=1", err: true},
		{in: "sale=-1", err: true},
		{in: "sale=x", err: true},
		{in: "sale=1,sale=2", err: true},
	} {
		got, err := ParseMix(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseMix(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.err)
		}
		if err == nil {
			if again, _ := ParseMix(got.String()); again != got {
				t.Errorf("ParseMix(%q).String() = %q does not read back", tc.in, got.String())
			}
		}
	}
	m := Mix{kSale: 2, kBalance: 1}
	counts := map[kind]int{}
	for r := range m.total() {
		counts[m.pick(r)]++
	}
	if counts[kSale] != 2 || counts[kBalance] != 1 {
		t.Errorf("pick over the whole range: %v", counts)
	}
}

func TestHistogramPercentiles(t *testing.T) {
	h := NewHistogram()
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	for _, tc := range []struct {
		p    float64
		want int64
	}{{50, 500}, {90, 900}, {99, 990}, {99.9, 999}, {100, 1000}} {
		if got := h.Percentile(tc.p); got != tc.want {
			t.Errorf("p%v of 1..1000 µs = %d, want %d", tc.p, got, tc.want)
		}
	}
	if h.Max() != time.Millisecond || h.Mean() != 500500*time.Nanosecond || h.Count() != 1000 {
		t.Errorf("max %v mean %v count %d", h.Max(), h.Mean(), h.Count())
	}

	// Large values to three significant digits; the maximum exactly.
	o := NewHistogram()
	for range 999 {
		o.Record(20 * time.Millisecond)
	}
	o.Record(3*time.Second + 7*time.Microsecond)
	if got := o.Percentile(50); got < 19980 || got > 20020 {
		t.Errorf("p50 of 20 ms = %d µs", got)
	}
	if got := o.Percentile(100); got < 2997000 || got > 3003000 {
		t.Errorf("p100 = %d µs, want 3 s to three digits", got)
	}
	if o.Max() != 3*time.Second+7*time.Microsecond {
		t.Errorf("max %v", o.Max())
	}

	h.Merge(o)
	if h.Count() != 2000 || h.Max() != o.Max() || h.Percentile(25) != 500 {
		t.Errorf("merged: count %d max %v p25 %d", h.Count(), h.Max(), h.Percentile(25))
	}
	h.Reset()
	if h.Count() != 0 || h.Percentile(99) != 0 || h.Max() != 0 || h.Mean() != 0 {
		t.Error("a reset histogram is not empty")
	}
	h.Record(2 * time.Hour) // beyond what it tells apart
	if h.Percentile(100) < highestMicros*999/1000 || h.Max() != 2*time.Hour {
		t.Errorf("2 h: p100 %d max %v", h.Percentile(100), h.Max())
	}
}

// TestTemplates: a request written over a template in place is the request
// built afresh, byte for byte, in both dialects and for every kind.
func TestTemplates(t *testing.T) {
	for _, name := range fixtures.DialectNames() {
		for _, mac := range []bool{false, true} {
			d := load(t, name)
			if mac && d.MAC == nil {
				continue
			}
			b := builder{d: d, tid: "BNCH0001", mid: DefaultMID, card: terminal.DefaultCard, currency: d.Currency, amount: 1234, batch: "000007", mac: mac}
			for k := range numKinds {
				tmpl, err := b.newTemplate(k)
				if err != nil {
					t.Fatal(err)
				}
				for _, v := range []vars{
					{stan: "000042", hhmmss: "235959", mmdd: "1231", orig: &sale{stan: 17, amount: 99, rrn: "000000000123", auth: "654321", date: "0102", batch: "000007"}},
					{stan: "999999", hhmmss: "000000", mmdd: "0101", orig: &sale{stan: 999998, amount: 999_999_999_999, rrn: "ABCDEF123456", auth: "A1B2C3", date: "1130", batch: "000007"}},
				} {
					if !tmpl.fill(&b, k, &v) {
						t.Fatalf("%s %s: values do not fit the template", name, k)
					}
					m, err := b.message(k, &v)
					if err != nil {
						t.Fatal(err)
					}
					want, err := m.Pack()
					if err != nil {
						t.Fatal(err)
					}
					if string(tmpl.body) != string(want) {
						t.Errorf("%s %s (mac %v): template gives\n%X\nbuilt afresh\n%X", name, k, mac, tmpl.body, want)
					}
				}
				// A value of another length does not fit: the request is then built afresh.
				if k == kVoid && tmpl.fill(&b, k, &vars{stan: "000001", hhmmss: "000000", mmdd: "0101", orig: &sale{rrn: "1", auth: "", date: "0101", batch: "000007"}}) {
					t.Errorf("%s: a void without an auth code fits the template", name)
				}
			}
		}
	}
}

// TestScanner: the scanner reads what moov-io's unpacking reads, for every
// golden vector of both dialects.
func TestScanner(t *testing.T) {
	for _, name := range fixtures.DialectNames() {
		raw, err := os.ReadFile("../host/dialect/testdata/" + name + ".json")
		if err != nil {
			t.Fatal(err)
		}
		var vf struct {
			Vectors []struct{ Name, Hex string } `json:"vectors"`
		}
		if err := json.Unmarshal(raw, &vf); err != nil {
			t.Fatal(err)
		}
		d := load(t, name)
		s := newScanner(d.Spec, true)
		for _, v := range vf.Vectors {
			wire, err := hex.DecodeString(v.Hex)
			if err != nil {
				t.Fatal(err)
			}
			body := wire[2+d.PreambleOf(wire[2:]):]
			m, err := d.Decode(body)
			if err != nil {
				t.Fatalf("%s %s: %v", name, v.Name, err)
			}
			want := unpacked(m, true)
			got, err := s.scan(body)
			if err != nil || !got.same(&want) {
				t.Errorf("%s %s: scan = %+v, %v; unpack = %+v", name, v.Name, got, err, want)
			}
			for cut := range body { // cut short anywhere, it fails cleanly
				if _, err := s.scan(body[:cut]); err == nil {
					t.Errorf("%s %s cut to %d bytes: scan does not notice", name, v.Name, cut)
				}
			}
		}
	}
}

func vectorBodies(f *testing.F, name string) [][]byte {
	raw, err := os.ReadFile("../host/dialect/testdata/" + name + ".json")
	if err != nil {
		f.Fatal(err)
	}
	var vf struct {
		Vectors []struct{ Hex string } `json:"vectors"`
	}
	if err := json.Unmarshal(raw, &vf); err != nil {
		f.Fatal(err)
	}
	var out [][]byte
	for _, v := range vf.Vectors {
		wire, _ := hex.DecodeString(v.Hex)
		out = append(out, wire[2:])
	}
	return out
}

// FuzzScan: the scanner never panics, and where it and moov-io's unpacking
// both read a message they read the same values.
func FuzzScan(f *testing.F) {
	var dialects []*dialect.Dialect
	var scanners []*scanner
	for i, name := range fixtures.DialectNames() {
		d := load(f, name)
		dialects, scanners = append(dialects, d), append(scanners, newScanner(d.Spec, true))
		for _, body := range vectorBodies(f, name) {
			f.Add(uint8(i), body[d.PreambleOf(body):])
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		i := int(which) % len(dialects)
		got, err := scanners[i].scan(body)
		m, uerr := dialects[i].Decode(body)
		if err != nil || uerr != nil {
			return
		}
		if want := unpacked(m, true); !got.same(&want) {
			t.Errorf("scan = %+v; unpack = %+v", got, want)
		}
	})
}

func TestValidate(t *testing.T) {
	d := load(t, "iso87ascii")
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"pipeline", func(c *Config) { c.Pipeline = -1 }},
		{"rate", func(c *Config) { c.Rate = -5 }},
		{"mid", func(c *Config) { c.MID = "SHORT" }},
		{"prefix", func(c *Config) { c.TIDPrefix = "TOOLONG1" }},
		{"room", func(c *Config) { c.TIDPrefix = "ABCDEF"; c.Connections = 100 }},
		{"key variant", func(c *Config) { c.KeyVariant = "002" }},
		{"no dialect", func(c *Config) { c.Dialect = nil }},
	} {
		cfg := Config{Addr: "127.0.0.1:1", Dialect: d}
		tc.edit(&cfg)
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: Validate accepts %+v", tc.name, cfg)
		}
	}
	cfg := Config{Addr: "127.0.0.1:1", Dialect: d, TIDPrefix: "ABCDEF", Connections: 99}
	if err := cfg.Validate(); err != nil || cfg.TID(98) != "ABCDEF99" || cfg.Timeout != DefaultTimeout || cfg.Duration != DefaultDuration {
		t.Errorf("Validate: %v, TID %q, timeout %v, duration %v", err, cfg.TID(98), cfg.Timeout, cfg.Duration)
	}
}

// TestReportKeepsCardDataOut: neither the text nor the JSON report shows the card.
func TestReportKeepsCardDataOut(t *testing.T) {
	h := acqsimtest.New(t)
	res := run(t, Config{Addr: h.Addr(), Dialect: load(t, "iso87ascii"), Connections: 1, Count: 20, Settle: true, TIDPrefix: "PAN"})
	var text strings.Builder
	if err := res.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(res)
	for _, out := range []string{text.String(), string(raw)} {
		if strings.Contains(out, terminal.DefaultCard.PAN) || strings.Contains(out, terminal.DefaultCard.Track2[17:]) {
			t.Errorf("report shows card data:\n%s", out)
		}
	}
}

// BenchmarkTemplateFill: what writing one sale's varying fields over its
// template costs the load generator (it shares the CPUs with the host it
// measures, so this stays small and allocation-free).
func BenchmarkTemplateFill(b *testing.B) {
	for _, name := range fixtures.DialectNames() {
		b.Run(name, func(b *testing.B) {
			d := load(b, name)
			bl := builder{d: d, tid: "BNCH0001", mid: DefaultMID, card: terminal.DefaultCard, currency: d.Currency, amount: 1234, batch: "000007"}
			tmpl, err := bl.newTemplate(kSale)
			if err != nil {
				b.Fatal(err)
			}
			v := vars{stan: "000042", hhmmss: "235959", mmdd: "1231", orig: &sale{}}
			b.ReportAllocs()
			for b.Loop() {
				if !tmpl.fill(&bl, kSale, &v) {
					b.Fatal("the values do not fit the template")
				}
			}
		})
	}
}
