// Package metrics counts what the journal sees, for Prometheus to scrape: one
// observer on the journal keeps the counters, and Handler serves them from a
// registry of their own, so embedding acqsim never touches the global one.
//
// The metrics, all prefixed acqsim_:
//
//	acqsim_requests_total{mti, txn, rc}
//	    Requests the host was sent, by message type, transaction type and
//	    the response code it decided; rc is "none" when there was no
//	    response to decide (a message that is not a request, a response that
//	    could not be built). A scripted fault may keep the response off the
//	    wire: rc is what was decided, not what arrived.
//	acqsim_request_duration_seconds{txn}
//	    From a request's arrival to its response being ready to write,
//	    before any scripted delay; only for requests that got a response.
//	acqsim_faults_total{kind}
//	    Each thing a scenario did to an exchange, one count per act of the
//	    journal entry's Acts (the scenario engine's scenarios.Act). The
//	    kinds:
//	      respond            a scripted response (rc, fields, out-of-balance)
//	      delay              a scripted delay before the response
//	      <fault>            a wire fault by its registered name: no-response,
//	                         close, reset, garbage, truncate, duplicate,
//	                         corrupt, refuse, ...
//	      books-fault:<name> a books fault (fee-no-cap, holiday-ignored, ...)
//	      limit              a risk limit that refused the request
//	      t0-limit           a T0 product limit that refused the request
//	      terminal-status    the terminal's registry status refused it
//	      merchant-status    the merchant's registry status refused it
//	      sign-on-required   refused because the terminal had not signed on
//	      other              anything else, such as a match expression cut
//	                         short by its budget (never free text)
//	acqsim_scenario_matches_total{scenario, rule}
//	    Requests a scenario rule (or a limit, named as the journal names it)
//	    decided.
//	acqsim_errors_total{kind}
//	    Journal entries with an error, by the kind the host gives it
//	    (journal.Entry.ErrorKind). The kinds:
//	      format    a request that does not decode (answered 30, or the
//	                connection closed when even its MTI does not decode)
//	      frame     an unreadable frame (bad or too large length header,
//	                connection closed inside a frame, the rest of a frame
//	                not in time)
//	      response  the host could not build or frame its own response
//	      write     the response could not be written to the terminal
//	      other     anything else, such as a connection reset mid-read, a
//	                refused connection or a failed TLS handshake
//	acqsim_open_connections
//	    Terminal connections open at the time of the scrape.
//	acqsim_refused_connections_total{reason}
//	    Terminal connections the host refused, read at the time of the
//	    scrape from the source given to CountRefusals (absent until one is).
//	    The reasons:
//	      max-connections  the host already held its maximum of connections
//	      descriptors      the process had no file descriptor left
//	      refuse           a scenario's refuse fault
//	      other            a reason the source names that is none of these
//
// The process is described too, by the Prometheus client's standard
// collectors: go_* for the Go runtime (go_goroutines, go_memstats_*,
// go_gc_duration_seconds, ...) and, where the system tells (Linux),
// process_* for the process (process_resident_memory_bytes,
// process_open_fds, process_max_fds, process_cpu_seconds_total, ...).
//
// Label values come from closed sets (message types, transaction types,
// response codes, scenario and rule names from the loaded scenarios), never
// from amounts, card data, STANs, terminal IDs or delays; a value of an
// unexpected shape is counted as "other".
//
// A response that fails to be written is journalled a second time with the
// write error; that entry counts only as an error, so a request is never
// counted twice.
package metrics

import (
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/acqsim/acqsim/host/fault"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/scenarios"
)

// none is the label value for a field the entry does not have.
const none = "none"

// other is the label value for a field of an unexpected shape.
const other = "other"

// durationBuckets cover 10 µs (a decision from memory) to 10 s (a host that
// is thoroughly stuck), 1-2.5-5 per decade.
var durationBuckets = []float64{
	10e-6, 25e-6, 50e-6,
	100e-6, 250e-6, 500e-6,
	1e-3, 2.5e-3, 5e-3,
	10e-3, 25e-3, 50e-3,
	100e-3, 250e-3, 500e-3,
	1, 2.5, 5,
	10,
}

// Error kinds: the host's journal.Entry.ErrorKind values.
var errorKinds = []string{journal.ErrorFormat, journal.ErrorFrame, journal.ErrorResponse, journal.ErrorWrite, journal.ErrorOther}

// Act kinds counted by their own name; a wire fault is counted by the
// fault's, a books fault by "books-fault:" and its name.
var actKinds = []scenarios.ActKind{
	scenarios.ActRespond, scenarios.ActDelay, scenarios.ActLimit, scenarios.ActT0Limit,
	scenarios.ActTerminalStatus, scenarios.ActMerchantStatus, scenarios.ActSignOnRequired,
}

// Metrics counts the exchanges a journal records.
type Metrics struct {
	reg *prometheus.Registry

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	faults   *prometheus.CounterVec
	matches  *prometheus.CounterVec

	// Resolved once in New and only read afterwards.
	errors     map[string]prometheus.Counter // by journal.Entry.ErrorKind
	actKinds   map[string]prometheus.Counter // by scenarios.Act.Kind
	wireFaults map[string]prometheus.Counter // by the fault's name
	otherFault prometheus.Counter

	refusals refusals

	// Children resolved on first use; a map lookup with a struct key does
	// not allocate, where WithLabelValues does.
	mu         sync.Mutex
	byRequest  map[requestKey]prometheus.Counter
	byTxn      map[string]prometheus.Observer
	byMatch    map[matchKey]prometheus.Counter
	booksFault map[string]prometheus.Counter
}

type requestKey struct{ mti, txn, rc string }

type matchKey struct{ scenario, rule string }

// New returns metrics that count every entry appended to j from now on;
// connections reports how many terminal connections are open.
func New(j *journal.Journal, connections func() int) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "acqsim_requests_total",
			Help: "Requests the host was sent, by message type, transaction type and response code (none: no response decided).",
		}, []string{"mti", "txn", "rc"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "acqsim_request_duration_seconds",
			Help:    "Time from a request's arrival to its response being ready to write, before any scripted delay.",
			Buckets: durationBuckets,
		}, []string{"txn"}),
		faults: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "acqsim_faults_total",
			Help: "Scenario actions applied to exchanges, by kind.",
		}, []string{"kind"}),
		matches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "acqsim_scenario_matches_total",
			Help: "Requests decided by a scenario rule or limit.",
		}, []string{"scenario", "rule"}),
		errors:     map[string]prometheus.Counter{},
		actKinds:   map[string]prometheus.Counter{},
		wireFaults: map[string]prometheus.Counter{},
		byRequest:  map[requestKey]prometheus.Counter{},
		byTxn:      map[string]prometheus.Observer{},
		byMatch:    map[matchKey]prometheus.Counter{},
		booksFault: map[string]prometheus.Counter{},
	}
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "acqsim_errors_total",
		Help: "Journal entries with an error, by kind.",
	}, []string{"kind"})
	for _, k := range errorKinds {
		m.errors[k] = errs.WithLabelValues(k)
	}
	for _, kind := range actKinds {
		m.actKinds[string(kind)] = m.faults.WithLabelValues(string(kind))
	}
	for _, name := range fault.Names() {
		m.wireFaults[name] = m.faults.WithLabelValues(name)
	}
	m.otherFault = m.faults.WithLabelValues(other)
	m.reg.MustRegister(m.requests, m.duration, m.faults, m.matches, errs,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "acqsim_open_connections",
			Help: "Terminal connections open.",
		}, func() float64 { return float64(connections()) }),
		&m.refusals,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	j.Observe(m.observe)
	return m
}

// The reasons acqsim_refused_connections_total counts by.
const (
	RefusedMaxConnections = "max-connections" // the host held its maximum of connections
	RefusedDescriptors    = "descriptors"     // the process had no file descriptor left
	RefusedScripted       = "refuse"          // a scenario's refuse fault
)

// refusedReasons are the label values, other last.
var refusedReasons = []string{RefusedMaxConnections, RefusedDescriptors, RefusedScripted, other}

// CountRefusals exports acqsim_refused_connections_total from source, which
// returns the terminal connections refused so far by reason
// (RefusedMaxConnections, RefusedDescriptors, RefusedScripted; any other
// reason is counted as "other"). It is called at every scrape, from the
// scrape's goroutine; the counts must never go down. A later call replaces
// the source.
func (m *Metrics) CountRefusals(source func() map[string]uint64) {
	m.refusals.source.Store(&source)
}

// refusals collects acqsim_refused_connections_total from its source at
// scrape time.
type refusals struct {
	source atomic.Pointer[func() map[string]uint64]
}

var refusedDesc = prometheus.NewDesc("acqsim_refused_connections_total",
	"Terminal connections the host refused, by reason.", []string{"reason"}, nil)

func (r *refusals) Describe(ch chan<- *prometheus.Desc) { ch <- refusedDesc }

func (r *refusals) Collect(ch chan<- prometheus.Metric) {
	source := r.source.Load()
	if source == nil {
		return
	}
	counts := map[string]uint64{}
	for reason, n := range (*source)() {
		switch reason {
		case RefusedMaxConnections, RefusedDescriptors, RefusedScripted:
		default:
			reason = other
		}
		counts[reason] += n
	}
	for _, reason := range refusedReasons {
		ch <- prometheus.MustNewConstMetric(refusedDesc, prometheus.CounterValue, float64(counts[reason]), reason)
	}
}

// Handler serves the metrics in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// observe counts one journal entry. It runs on the request path, under the
// journal's lock, so it only looks things up and adds.
func (m *Metrics) observe(e journal.Entry) {
	if e.Error != "" {
		c, ok := m.errors[e.ErrorKind]
		if !ok {
			c = m.errors[journal.ErrorOther]
		}
		c.Inc()
		if e.ErrorKind == journal.ErrorWrite {
			return // the exchange itself was counted when first journalled
		}
	}
	if e.MTI == "" {
		return // a reset, or bytes that never became a request
	}
	txn := labelTxn(e.Txn)

	m.mu.Lock()
	defer m.mu.Unlock()
	m.request(requestKey{labelMTI(e.MTI), txn, labelRC(e.RC)}).Inc()
	if e.RespMTI != "" {
		m.latency(txn).Observe(float64(e.LatencyUS) / 1e6)
	}
	if e.Rule != "" {
		m.match(matchKey{e.Scenario, e.Rule}).Inc()
	}
	for a := range e.Acts.All() {
		m.countAct(a)
	}
}

// request, latency, match and booksFaultCounter return a label child,
// resolving it the first time; m.mu is held.
func (m *Metrics) request(k requestKey) prometheus.Counter {
	c, ok := m.byRequest[k]
	if !ok {
		c = m.requests.WithLabelValues(k.mti, k.txn, k.rc)
		m.byRequest[k] = c
	}
	return c
}

func (m *Metrics) latency(txn string) prometheus.Observer {
	o, ok := m.byTxn[txn]
	if !ok {
		o = m.duration.WithLabelValues(txn)
		m.byTxn[txn] = o
	}
	return o
}

func (m *Metrics) match(k matchKey) prometheus.Counter {
	c, ok := m.byMatch[k]
	if !ok {
		c = m.matches.WithLabelValues(k.scenario, k.rule)
		m.byMatch[k] = c
	}
	return c
}

func (m *Metrics) booksFaultCounter(name string) prometheus.Counter {
	if !isToken(name, 32) {
		name = other
	}
	c, ok := m.booksFault[name]
	if !ok {
		c = m.faults.WithLabelValues("books-fault:" + name)
		m.booksFault[name] = c
	}
	return c
}

// countAct counts one act of an entry. m.mu is held.
func (m *Metrics) countAct(a journal.Act) {
	var c prometheus.Counter
	switch scenarios.ActKind(a.Kind) {
	case scenarios.ActFault:
		c = m.wireFaults[a.Name]
	case scenarios.ActBooksFault:
		c = m.booksFaultCounter(a.Name)
	default:
		c = m.actKinds[a.Kind]
	}
	if c == nil {
		c = m.otherFault // a cut, or a kind or fault this acqsim does not know
	}
	c.Inc()
}

// labelMTI keeps an MTI as a label only if it is one: four digits.
func labelMTI(s string) string {
	if len(s) != 4 {
		return other
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return other
		}
	}
	return s
}

// labelRC keeps a response code as a label only if it is one: two letters
// or digits.
func labelRC(s string) string {
	if s == "" {
		return none
	}
	if len(s) != 2 || !isAlnum(s[0]) || !isAlnum(s[1]) {
		return other
	}
	return s
}

// labelTxn keeps a transaction type as a label only if it looks like one
// (txn.Type values are short lower-case words).
func labelTxn(s string) string {
	if s == "" {
		return none
	}
	if !isToken(s, 16) {
		return other
	}
	return s
}

// isToken reports whether s is a short lower-case identifier: letters,
// digits, '-' and '_'.
func isToken(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}
