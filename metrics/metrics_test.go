package metrics_test

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/acqsim/acqsim/acqsimtest"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/host/fault"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/metrics"
	"github.com/acqsim/acqsim/scenarios"
	"github.com/acqsim/acqsim/terminal"
	"github.com/acqsim/acqsim/txn"
)

// serve exposes m over a real loopback HTTP server for the test's lifetime.
func serve(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// scrape fetches url and returns every sample, keyed by its series as the
// text format writes it: `name{label="value",...}`.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s", resp.Status)
	}
	samples := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("scrape: line %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return samples
}

// series returns the samples of one metric.
func series(samples map[string]float64, name string) map[string]float64 {
	out := map[string]float64{}
	for s, v := range samples {
		if s == name || strings.HasPrefix(s, name+"{") {
			out[s] = v
		}
	}
	return out
}

func appendAll(t *testing.T, j *journal.Journal, entries ...journal.Entry) {
	t.Helper()
	for _, e := range entries {
		if err := j.Append(e); err != nil {
			t.Fatal(err)
		}
	}
}

func sale(rc string, latencyUS int64) journal.Entry {
	return journal.Entry{
		MTI: "0200", RespMTI: "0210", Txn: "sale", RC: rc, LatencyUS: latencyUS,
		TID: "TERM0001", MID: "898100012340001", STAN: "000123", Amount: 1234, Currency: "156",
		PAN: "476173******0010",
	}
}

// TestExposition scrapes counters, the histogram and the gauge and checks
// them line for line.
func TestExposition(t *testing.T) {
	j := journal.New(100)
	url := serve(t, metrics.New(j, func() int { return 3 }))

	appendAll(t, j,
		sale("00", 150),   // 150 µs
		sale("00", 3_000), // 3 ms
		sale("51", 20),    // 20 µs
		journal.Entry{MTI: "0800", RespMTI: "0810", Txn: "echo", RC: "00", LatencyUS: 40},
		journal.Entry{MTI: "0210", Txn: "unknown", Decision: "not a request; no answer"},
		journal.Entry{Txn: "reset", Decision: "host state reset"}, // not a request
	)

	err := testutil.ScrapeAndCompare(url, strings.NewReader(`
# HELP acqsim_requests_total Requests the host was sent, by message type, transaction type and response code (none: no response decided).
# TYPE acqsim_requests_total counter
acqsim_requests_total{mti="0200",rc="00",txn="sale"} 2
acqsim_requests_total{mti="0200",rc="51",txn="sale"} 1
acqsim_requests_total{mti="0210",rc="none",txn="unknown"} 1
acqsim_requests_total{mti="0800",rc="00",txn="echo"} 1
# HELP acqsim_open_connections Terminal connections open.
# TYPE acqsim_open_connections gauge
acqsim_open_connections 3
# HELP acqsim_request_duration_seconds Time from a request's arrival to its response being ready to write, before any scripted delay.
# TYPE acqsim_request_duration_seconds histogram
acqsim_request_duration_seconds_bucket{txn="echo",le="1e-05"} 0
acqsim_request_duration_seconds_bucket{txn="echo",le="2.5e-05"} 0
acqsim_request_duration_seconds_bucket{txn="echo",le="5e-05"} 1
acqsim_request_duration_seconds_bucket{txn="echo",le="0.0001"} 1
acqsim_request_duration_seconds_bucket{txn="echo",le="0.00025"} 1
acqsim_request_duration_seconds_bucket{txn="echo",le="0.0005"} 1
acqsim_request_duration_seconds_bucket{txn="echo",le="0.001"} 1
acqsim_request_duration_seconds_bucket{txn="echo",le="0.0025"} 1
acqsim_request_duration_seconds_bucket{txn="echo",le="0.005"} 1
acqsim_request_duration_seconds_bucket{txn="echo",le="0.01"} 1
acqsim_request_duration_seconds_bucket{txn="echo",le="0.025"} 1
acqsim_request_duration_seconds_bucket{txn="echo",le="0.05"} 1
acqsim_request_duration_seconds_bucket{txn="echo",le="0.1"} 1
acqsim_request_duration_seconds_bucket{txn="echo",le="0.25"} 1
acqsim_request_duration_seconds_bucket{txn="echo",le="0.5"} 1
acqsim_request_duration_seconds_bucket{txn="echo",le="1"} 1
acqsim_request_duration_seconds_bucket{txn="echo",le="2.5"} 1
acqsim_request_duration_seconds_bucket{txn="echo",le="5"} 1
acqsim_request_duration_seconds_bucket{txn="echo",le="10"} 1
acqsim_request_duration_seconds_bucket{txn="echo",le="+Inf"} 1
acqsim_request_duration_seconds_sum{txn="echo"} 4e-05
acqsim_request_duration_seconds_count{txn="echo"} 1
acqsim_request_duration_seconds_bucket{txn="sale",le="1e-05"} 0
acqsim_request_duration_seconds_bucket{txn="sale",le="2.5e-05"} 1
acqsim_request_duration_seconds_bucket{txn="sale",le="5e-05"} 1
acqsim_request_duration_seconds_bucket{txn="sale",le="0.0001"} 1
acqsim_request_duration_seconds_bucket{txn="sale",le="0.00025"} 2
acqsim_request_duration_seconds_bucket{txn="sale",le="0.0005"} 2
acqsim_request_duration_seconds_bucket{txn="sale",le="0.001"} 2
acqsim_request_duration_seconds_bucket{txn="sale",le="0.0025"} 2
acqsim_request_duration_seconds_bucket{txn="sale",le="0.005"} 3
acqsim_request_duration_seconds_bucket{txn="sale",le="0.01"} 3
acqsim_request_duration_seconds_bucket{txn="sale",le="0.025"} 3
acqsim_request_duration_seconds_bucket{txn="sale",le="0.05"} 3
acqsim_request_duration_seconds_bucket{txn="sale",le="0.1"} 3
acqsim_request_duration_seconds_bucket{txn="sale",le="0.25"} 3
acqsim_request_duration_seconds_bucket{txn="sale",le="0.5"} 3
acqsim_request_duration_seconds_bucket{txn="sale",le="1"} 3
acqsim_request_duration_seconds_bucket{txn="sale",le="2.5"} 3
acqsim_request_duration_seconds_bucket{txn="sale",le="5"} 3
acqsim_request_duration_seconds_bucket{txn="sale",le="10"} 3
acqsim_request_duration_seconds_bucket{txn="sale",le="+Inf"} 3
acqsim_request_duration_seconds_sum{txn="sale"} 0.00317
acqsim_request_duration_seconds_count{txn="sale"} 3
`), "acqsim_requests_total", "acqsim_open_connections", "acqsim_request_duration_seconds")
	if err != nil {
		t.Error(err)
	}
}

// The acts a scenario engine records, as the journal keeps them.
func respond(value string) journal.Act { return act(scenarios.ActRespond, "", value) }
func delay(value string) journal.Act   { return act(scenarios.ActDelay, "", value) }
func wire(name string) journal.Act     { return act(scenarios.ActFault, name, "") }
func books(name string) journal.Act    { return act(scenarios.ActBooksFault, name, "") }

func act(kind scenarios.ActKind, name, value string) journal.Act {
	return journal.Act{Kind: string(kind), Name: name, Value: value}
}

// TestFaultsAndMatches checks how the acts the scenario engine records
// become fault kinds, and that rules are counted by scenario.
func TestFaultsAndMatches(t *testing.T) {
	j := journal.New(100)
	url := serve(t, metrics.New(j, func() int { return 0 }))

	scripted := func(rule string, acts ...journal.Act) journal.Entry {
		e := sale("51", 100)
		e.Scenario, e.Rule, e.Step, e.Acts = "flaky-host", rule, 1, journal.MakeActs(acts...)
		e.Action = "words metrics never read"
		return e
	}
	appendAll(t, j,
		scripted("decline", respond("rc=51")),
		scripted("slow", respond("rc=51"), delay("45s"), wire("no-response")),
		scripted("slow", delay("1.5s"), wire("close")),
		scripted("", books("fee-no-cap"), books("fee-rounding"), respond("rc=51")),
		scripted("", books("holiday-ignored"), wire("no-response")),
		scripted("limit 1", respond("rc=61")),
		scripted("storm", act(scenarios.ActLimit, "limit 2", "61"), wire("duplicate")),
		scripted("", act(scenarios.ActT0Limit, "T0 outside its window 09:00-17:00", "58")),
		scripted("", act(scenarios.ActTerminalStatus, "frozen", "")),
		scripted("", act(scenarios.ActMerchantStatus, "settlement-suspended", "")),
		scripted("", act(scenarios.ActSignOnRequired, "", "")),
		scripted("", books("Fee 12.34 Yuan")), // not a books fault name
		scripted("", act(scenarios.ActCut, "rule 1", "steps"), // never a label
			act("something new", "with free text", "")),
	)

	got := scrape(t, url)
	want := map[string]float64{
		`acqsim_faults_total{kind="respond"}`:                     4,
		`acqsim_faults_total{kind="delay"}`:                       2,
		`acqsim_faults_total{kind="no-response"}`:                 2,
		`acqsim_faults_total{kind="close"}`:                       1,
		`acqsim_faults_total{kind="duplicate"}`:                   1,
		`acqsim_faults_total{kind="books-fault:fee-no-cap"}`:      1,
		`acqsim_faults_total{kind="books-fault:fee-rounding"}`:    1,
		`acqsim_faults_total{kind="books-fault:holiday-ignored"}`: 1,
		`acqsim_faults_total{kind="books-fault:other"}`:           1,
		`acqsim_faults_total{kind="limit"}`:                       1,
		`acqsim_faults_total{kind="t0-limit"}`:                    1,
		`acqsim_faults_total{kind="terminal-status"}`:             1,
		`acqsim_faults_total{kind="merchant-status"}`:             1,
		`acqsim_faults_total{kind="sign-on-required"}`:            1,
		`acqsim_faults_total{kind="other"}`:                       2,

		`acqsim_scenario_matches_total{rule="decline",scenario="flaky-host"}`: 1,
		`acqsim_scenario_matches_total{rule="slow",scenario="flaky-host"}`:    2,
		`acqsim_scenario_matches_total{rule="limit 1",scenario="flaky-host"}`: 1,
		`acqsim_scenario_matches_total{rule="storm",scenario="flaky-host"}`:   1,

		`acqsim_requests_total{mti="0200",rc="51",txn="sale"}`: 13,
	}
	for s, v := range want {
		if got[s] != v {
			t.Errorf("%s = %v, want %v", s, got[s], v)
		}
	}
	// Every other kind is exported, at zero, from the start.
	for s, v := range series(got, "acqsim_faults_total") {
		if _, ok := want[s]; !ok && v != 0 {
			t.Errorf("unexpected %s = %v", s, v)
		}
	}
	if n := len(series(got, "acqsim_scenario_matches_total")); n != 4 {
		t.Errorf("%d scenario match series, want 4", n)
	}
}

// TestEveryFaultIsAKind guards against a new wire fault being counted as
// "other".
func TestEveryFaultIsAKind(t *testing.T) {
	j := journal.New(100)
	url := serve(t, metrics.New(j, func() int { return 0 }))
	names := fault.Names()
	e := sale("00", 10)
	var acts []journal.Act
	for _, name := range names {
		acts = append(acts, wire(name))
	}
	e.Acts = journal.MakeActs(acts...)
	appendAll(t, j, e)

	got := scrape(t, url)
	for _, name := range names {
		if s := `acqsim_faults_total{kind="` + name + `"}`; got[s] != 1 {
			t.Errorf("%s = %v, want 1", s, got[s])
		}
	}
	if s := `acqsim_faults_total{kind="other"}`; got[s] != 0 {
		t.Errorf("%s = %v, want 0", s, got[s])
	}
}

// TestErrors checks the error kinds, and that a response journalled again
// because it could not be written is not counted as a second request.
func TestErrors(t *testing.T) {
	j := journal.New(100)
	url := serve(t, metrics.New(j, func() int { return 0 }))

	formatErr := journal.Entry{MTI: "0200", RespMTI: "0210", Txn: "sale", RC: "30", LatencyUS: 80,
		Error: "field 4: does not decode", ErrorKind: journal.ErrorFormat}
	written := sale("00", 100)
	written.Acts = journal.MakeActs(respond("rc=00"), delay("2s"))
	written.Scenario, written.Rule = "slow", "late"
	unwritten := written
	unwritten.Error, unwritten.ErrorKind = "writing the response: write tcp 127.0.0.1:8583->127.0.0.1:51234: broken pipe", journal.ErrorWrite
	appendAll(t, j,
		formatErr,
		journal.Entry{Error: "message type indicator does not decode", ErrorKind: journal.ErrorFormat},
		journal.Entry{Error: "bad frame: connection closed inside a 120-byte frame: unexpected EOF", ErrorKind: journal.ErrorFrame},
		journal.Entry{Error: "frame too large: length header says 9000 bytes, limit is 8192", ErrorKind: journal.ErrorFrame},
		journal.Entry{MTI: "0200", Txn: "sale", Error: "building the response: field 39: too long", ErrorKind: journal.ErrorResponse},
		journal.Entry{MTI: "0200", Txn: "sale", Error: "framing the response: message of 70000 bytes does not fit a binary2 length header",
			ErrorKind: journal.ErrorResponse},
		written, unwritten,
		// Not the words: a kind this acqsim does not know, or none, is other.
		journal.Entry{Error: "writing the response: reworded", ErrorKind: "typo"},
		journal.Entry{MTI: "0200", Error: "bad frame: no kind"},
	)

	err := testutil.ScrapeAndCompare(url, strings.NewReader(`
# HELP acqsim_errors_total Journal entries with an error, by kind.
# TYPE acqsim_errors_total counter
acqsim_errors_total{kind="format"} 2
acqsim_errors_total{kind="frame"} 2
acqsim_errors_total{kind="other"} 2
acqsim_errors_total{kind="response"} 2
acqsim_errors_total{kind="write"} 1
# HELP acqsim_requests_total Requests the host was sent, by message type, transaction type and response code (none: no response decided).
# TYPE acqsim_requests_total counter
acqsim_requests_total{mti="0200",rc="00",txn="sale"} 1
acqsim_requests_total{mti="0200",rc="30",txn="sale"} 1
acqsim_requests_total{mti="0200",rc="none",txn="none"} 1
acqsim_requests_total{mti="0200",rc="none",txn="sale"} 2
# HELP acqsim_scenario_matches_total Requests decided by a scenario rule or limit.
# TYPE acqsim_scenario_matches_total counter
acqsim_scenario_matches_total{rule="late",scenario="slow"} 1
`), "acqsim_errors_total", "acqsim_requests_total", "acqsim_scenario_matches_total")
	if err != nil {
		t.Error(err)
	}
	got := scrape(t, url)
	if v := got[`acqsim_faults_total{kind="delay"}`]; v != 1 {
		t.Errorf("delay faults = %v, want 1 (the write error is not a second exchange)", v)
	}
	if v := got[`acqsim_request_duration_seconds_count{txn="sale"}`]; v != 2 {
		t.Errorf("sale durations = %v, want 2 (format error and written sale)", v)
	}
}

// TestCardinality feeds many exchanges that differ in everything a label must
// not carry (amounts, cards, STANs, terminals, delays, error details) and
// checks the number of series stays put and no such value became a label.
func TestCardinality(t *testing.T) {
	j := journal.New(100)
	url := serve(t, metrics.New(j, func() int { return 1 }))
	baseline := len(scrape(t, url))

	for i := range 500 {
		amount := int64(100_000 + i*37)
		e := journal.Entry{
			MTI: "0200", RespMTI: "0210", Txn: "sale", RC: "51", LatencyUS: int64(i * 13),
			TID: "T" + strconv.Itoa(10_000_000+i), MID: "M" + strconv.Itoa(i), STAN: strconv.Itoa(i),
			Amount: amount, PAN: "476173******" + strconv.Itoa(1000+i), Decision: "declined " + strconv.FormatInt(amount, 10),
			Scenario: "amounts", Rule: "big",
			Acts: journal.MakeActs(respond("rc=51 requirement=3 fields"), delay(strconv.Itoa(i)+"."+strconv.Itoa(i%10)+"s"),
				act(scenarios.ActLimit, "limit "+strconv.Itoa(i), "61")),
		}
		if i%5 == 0 {
			e.Error, e.ErrorKind = "field "+strconv.Itoa(i%128)+": does not decode", journal.ErrorFormat
		}
		if i%7 == 0 {
			e.MTI, e.RC = strconv.FormatInt(amount, 10), strconv.FormatInt(amount, 10) // not an MTI, not an RC
		}
		appendAll(t, j, e)
	}

	got := scrape(t, url)
	// New series: requests {0200,sale,51} and {other,sale,other}, one
	// duration histogram (19 buckets, +Inf, sum, count), one scenario match.
	// Faults, errors and the gauge existed from the start.
	if want := baseline + 2 + 22 + 1; len(got) != want {
		t.Errorf("%d series after 500 distinct exchanges, want %d", len(got), want)
		for s := range got {
			t.Log(s)
		}
	}
	for s := range got {
		for _, l := range labels(s) {
			if l[0] != "le" && l[1] != "0200" && longestDigits(l[1]) >= 3 {
				t.Errorf("series %s: label %s=%q carries a number", s, l[0], l[1])
			}
		}
	}
	if v := got[`acqsim_requests_total{mti="other",rc="other",txn="sale"}`]; v != 72 {
		t.Errorf("mangled requests = %v, want 72", v)
	}
}

// longestDigits is the length of the longest run of digits in s.
func longestDigits(s string) int {
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}

// labels splits a series' labels into names and values; good enough for
// values without quotes or commas.
func labels(series string) [][2]string {
	_, inner, ok := strings.Cut(series, "{")
	if !ok {
		return nil
	}
	var out [][2]string
	for _, kv := range strings.Split(strings.TrimSuffix(inner, "}"), ",") {
		k, v, _ := strings.Cut(kv, "=")
		out = append(out, [2]string{k, strings.Trim(v, `"`)})
	}
	return out
}

// TestEndToEnd runs a host on loopback, sends a sale from the terminal
// emulator, and scrapes what it counted.
func TestEndToEnd(t *testing.T) {
	s := acqsimtest.New(t, acqsimtest.Admin("off")).Sim()
	url := serve(t, metrics.New(s.Journal, s.Connections))

	term, err := terminal.Dial(context.Background(), terminal.Config{
		Addr: s.Addr(), Dialect: s.Dialect, Header: dialect.Binary2,
		TID: "TERM0001", MID: "898100012340001", Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	x, err := term.Sale(1234)
	if err != nil {
		t.Fatal(err)
	}
	if x.RC() != txn.Approved {
		t.Fatalf("sale: RC %s, want 00", x.RC())
	}

	err = testutil.ScrapeAndCompare(url, strings.NewReader(`
# HELP acqsim_requests_total Requests the host was sent, by message type, transaction type and response code (none: no response decided).
# TYPE acqsim_requests_total counter
acqsim_requests_total{mti="0200",rc="00",txn="sale"} 1
# HELP acqsim_open_connections Terminal connections open.
# TYPE acqsim_open_connections gauge
acqsim_open_connections 1
`), "acqsim_requests_total", "acqsim_open_connections")
	if err != nil {
		t.Error(err)
	}
	got := scrape(t, url)
	if v := got[`acqsim_request_duration_seconds_count{txn="sale"}`]; v != 1 {
		t.Errorf("sale durations = %v, want 1", v)
	}
}

// BenchmarkAppend measures what counting adds to the request path: compare
// the two sub-benchmarks' time and allocations.
func BenchmarkAppend(b *testing.B) {
	e := sale("00", 150)
	e.Scenario, e.Rule = "flaky-host", "slow"
	e.Acts = journal.MakeActs(respond("rc=00"), delay("2s"), wire("no-response"))
	for _, counted := range []bool{false, true} {
		b.Run("metrics="+strconv.FormatBool(counted), func(b *testing.B) {
			j := journal.New(1024)
			if counted {
				metrics.New(j, func() int { return 0 })
			}
			b.ReportAllocs()
			for b.Loop() {
				j.Append(e)
			}
		})
	}
}
