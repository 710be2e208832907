// Package journal records every exchange the host has, so a test or a person
// can ask afterwards what the host saw and what it answered. Card numbers are
// masked in every entry; only the frames kept in memory for the detail view
// (Get) hold them in clear.
package journal

import (
	"slices"
	"sort"
	"sync"
	"time"
)

// Entry is one exchange: a request and what the host did with it.
type Entry struct {
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"` // the host's (virtual) time at the request
	Conn    string    `json:"conn"` // the terminal's address
	Dialect string    `json:"dialect"`
	MTI     string    `json:"mti"`
	RespMTI string    `json:"response_mti,omitempty"`
	Txn     string    `json:"txn,omitempty"`
	Proc    string    `json:"proc,omitempty"` // F3
	STAN    string    `json:"stan,omitempty"` // F11
	RRN     string    `json:"rrn,omitempty"`  // F37 of the response, else of the request
	// OrigRRN is the RRN a request named when the host gave its own (a void's original).
	OrigRRN  string `json:"orig_rrn,omitempty"`
	TID      string `json:"tid,omitempty"` // F41
	MID      string `json:"mid,omitempty"` // F42
	Batch    string `json:"batch,omitempty"`
	Amount   int64  `json:"amount,omitempty"`
	Currency string `json:"currency,omitempty"`
	PAN      string `json:"pan,omitempty"` // masked: first six and last four digits
	RC       string `json:"rc,omitempty"`  // F39 of the response
	// LatencyUS is the time from the request's arrival to its response being
	// ready to write (before any scripted delay), in microseconds.
	LatencyUS int64 `json:"latency_us"`
	// Decision says in words what the host decided.
	Decision string `json:"decision,omitempty"`
	// Scenario, Rule and Step say which scenario rule decided the exchange,
	// and Action what it did ("respond rc=51", "delay 45s", "no-response");
	// empty when the default host behaviour answered.
	Scenario string `json:"scenario,omitempty"`
	Rule     string `json:"rule,omitempty"`
	Step     int    `json:"step,omitempty"`
	Action   string `json:"action,omitempty"`
	// Replay is what rebuilds the host's books from a durable journal; it is
	// not part of the exported form.
	Replay string `json:"-"`
	// Request and Response are the frames as they were read and as the host
	// built them (preamble and message, no length header), for the detail
	// view. They hold card data in clear, so they stay in the memory ring:
	// never on disk, in the exported form, a subscriber's copy or Query's;
	// only Get returns them.
	Request  string `json:"-"`
	Response string `json:"-"`
	// Error is set when the request could not be answered normally.
	Error string `json:"error,omitempty"`
}

// Filter selects entries; empty fields match anything.
type Filter struct {
	TID, MID, STAN, RRN, MTI, Txn, RC, Scenario, Rule string
	// Since and Until bound the entries' time (inclusive, exclusive).
	Since, Until time.Time
	// After selects only entries numbered after it; with Paged, it is a page
	// cursor (0: from the start) and Limit keeps the first entries, not the
	// latest.
	After uint64
	Paged bool
	// Limit caps the number of entries returned (the latest ones); 0 means all.
	Limit int
}

// Match reports whether the filter selects e (Limit aside).
func (f Filter) Match(e *Entry) bool {
	return e.Seq > f.After &&
		(f.TID == "" || f.TID == e.TID) &&
		(f.MID == "" || f.MID == e.MID) &&
		(f.STAN == "" || f.STAN == e.STAN) &&
		(f.RRN == "" || f.RRN == e.RRN) &&
		(f.MTI == "" || f.MTI == e.MTI) &&
		(f.Txn == "" || f.Txn == e.Txn) &&
		(f.RC == "" || f.RC == e.RC) &&
		(f.Scenario == "" || f.Scenario == e.Scenario) &&
		(f.Rule == "" || f.Rule == e.Rule) &&
		(f.Since.IsZero() || !e.Time.Before(f.Since)) &&
		(f.Until.IsZero() || e.Time.Before(f.Until))
}

// Journal keeps the latest entries in memory, up to a capacity. It is safe for
// concurrent use.
type Journal struct {
	mu      sync.Mutex
	entries ring // a ring once full
	next    int  // where the next entry goes once full
	seq     uint64
	cap     int

	store *store // nil: memory only

	subs      map[*subscriber]struct{}
	observers []func(Entry)
}

type subscriber struct {
	ch      chan Entry
	dropped int
}

// DefaultCapacity is how many entries a journal keeps when not told otherwise.
const DefaultCapacity = 100_000

// New returns a journal that keeps the latest capacity entries.
func New(capacity int) *Journal {
	if capacity <= 0 {
		capacity = DefaultCapacity
	}
	return &Journal{cap: capacity}
}

// Append records e, numbering it. With a durable journal, it returns once
// the entry is on disk, or with the error that kept it off.
func (j *Journal) Append(e Entry) error {
	j.mu.Lock()
	j.seq++
	e.Seq = j.seq
	j.remember(e)
	j.notify(e)
	j.mu.Unlock()
	if j.store == nil {
		return nil
	}
	return j.store.append(e)
}

// notify hands e to observers and subscribers; j.mu is held. A subscriber
// that does not keep up loses entries rather than slowing the host.
func (j *Journal) notify(e Entry) {
	e.Replay = ""
	e.Request, e.Response = "", ""
	for _, f := range j.observers {
		f(e)
	}
	for s := range j.subs {
		select {
		case s.ch <- e:
		default:
			s.dropped++
		}
	}
}

// Observe calls f with every entry appended from now on, on the appending
// goroutine: f must be quick (it is how metrics are counted).
func (j *Journal) Observe(f func(Entry)) {
	j.mu.Lock()
	j.observers = append(j.observers, f)
	j.mu.Unlock()
}

// Subscribe returns the entries appended from now on, buffered; a
// subscriber that falls more than buffer entries behind misses some. cancel
// ends the subscription and closes the channel.
func (j *Journal) Subscribe(buffer int) (entries <-chan Entry, cancel func()) {
	s := &subscriber{ch: make(chan Entry, buffer)}
	j.mu.Lock()
	if j.subs == nil {
		j.subs = map[*subscriber]struct{}{}
	}
	j.subs[s] = struct{}{}
	j.mu.Unlock()
	return s.ch, func() {
		j.mu.Lock()
		defer j.mu.Unlock()
		if _, ok := j.subs[s]; ok {
			delete(j.subs, s)
			close(s.ch)
		}
	}
}

// remember keeps e in the in-memory ring; j.mu is held.
func (j *Journal) remember(e Entry) {
	e.Replay = "" // kept on disk only
	if j.entries.len() < j.cap {
		j.entries.append(&e)
	} else {
		j.entries.put(j.next, &e)
		j.next = (j.next + 1) % j.cap
	}
}

// Query returns the entries f selects, oldest first.
func (j *Journal) Query(f Filter) []Entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	// The lock holds every exchange up: entries are selected in place and
	// only those returned are unpacked; a page starts where its cursor
	// points, and the latest N are looked for from the newest back.
	out := []Entry{}
	n := j.entries.len()
	slot := func(i int) int { return (j.next + i) % n }
	switch {
	case f.Limit > 0 && !f.Paged:
		for i := n - 1; i >= 0 && len(out) < f.Limit; i-- {
			if j.entries.selects(slot(i), &f) {
				out = append(out, j.entries.at(slot(i), false))
			}
		}
		slices.Reverse(out)
	default:
		start := sort.Search(n, func(i int) bool { return j.entries.seq(slot(i)) > f.After })
		for i := start; i < n && (f.Limit <= 0 || len(out) < f.Limit); i++ {
			if j.entries.selects(slot(i), &f) {
				out = append(out, j.entries.at(slot(i), false))
			}
		}
	}
	return out
}

// Get returns the entry numbered seq, frames and all, while the memory ring
// still holds it.
func (j *Journal) Get(seq uint64) (Entry, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	n := j.entries.len()
	// Oldest first from j.next, numbered in increasing order (with gaps only
	// where a durable journal's file has them).
	i := sort.Search(n, func(i int) bool { return j.entries.seq((j.next+i)%n) >= seq })
	if i == n || j.entries.seq((j.next+i)%n) != seq {
		return Entry{}, false
	}
	return j.entries.at((j.next+i)%n, true), true
}

// Reset forgets every entry; numbering goes on.
func (j *Journal) Reset() {
	j.mu.Lock()
	j.entries = ring{}
	j.next = 0
	j.mu.Unlock()
}
