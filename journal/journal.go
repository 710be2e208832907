// Package journal records every exchange the host has, so a test or a person
// can ask afterwards what the host saw and what it answered. Card numbers are
// masked in every entry; only the frames kept in memory for the detail view
// (Get) hold them in clear.
package journal

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
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
	// Acts are what the rule did, one by one, as the scenario engine
	// recorded them: what Action says in words, for a program to read.
	Acts Acts `json:"acts,omitzero"`
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
	// Error is set when the request could not be answered normally, and
	// ErrorKind says what failed (ErrorFormat, ErrorFrame, ...).
	Error     string `json:"error,omitempty"`
	ErrorKind string `json:"error_kind,omitempty"`
}

// Act is one thing a scenario did to an exchange: its kind (respond, delay,
// fault, books-fault, ...: the scenario engine's names), the fault, limit,
// status or rule it concerns, and a value (a response code, a delay).
type Act struct {
	Kind  string `json:"kind"`
	Name  string `json:"name,omitempty"`
	Value string `json:"value,omitempty"`
}

// The kinds of Entry.ErrorKind.
const (
	ErrorFormat   = "format"   // a request that does not decode
	ErrorFrame    = "frame"    // an unreadable frame
	ErrorResponse = "response" // the host could not build or frame its response
	ErrorWrite    = "write"    // the response could not be written
	ErrorOther    = "other"    // anything else: a refusal, a TLS handshake, a reset
)

// Acts is a list of acts as a value: it is compared with == and copied
// without sharing, so an Entry stays comparable. Its zero value is the empty
// list; in JSON it is an array of acts.
type Acts struct {
	packed string // each act's kind, name and value, as uvarint-prefixed strings
}

// MakeActs returns the list of acts.
func MakeActs(list ...Act) Acts {
	if len(list) == 0 {
		return Acts{}
	}
	n := 0
	for _, a := range list {
		n += 3*binary.MaxVarintLen64 + len(a.Kind) + len(a.Name) + len(a.Value)
	}
	var sb strings.Builder // one allocation: its bytes become the string
	sb.Grow(n)
	var lb [binary.MaxVarintLen64]byte
	for _, a := range list {
		for _, s := range [...]string{a.Kind, a.Name, a.Value} {
			sb.Write(binary.AppendUvarint(lb[:0], uint64(len(s))))
			sb.WriteString(s)
		}
	}
	return Acts{packed: sb.String()}
}

// Len is the number of acts.
func (a Acts) Len() int {
	n := 0
	for range a.All() {
		n++
	}
	return n
}

// All yields the acts in order, without allocating.
func (a Acts) All() iter.Seq[Act] {
	return func(yield func(Act) bool) {
		s := a.packed
		next := func() string {
			l, k := uvarint(s)
			v := s[k : k+int(l)]
			s = s[k+int(l):]
			return v
		}
		for s != "" {
			if !yield(Act{Kind: next(), Name: next(), Value: next()}) {
				return
			}
		}
	}
}

// List returns the acts as a slice (nil for none).
func (a Acts) List() []Act {
	var out []Act
	for act := range a.All() {
		out = append(out, act)
	}
	return out
}

// MarshalJSON writes the acts as an array.
func (a Acts) MarshalJSON() ([]byte, error) {
	list := a.List()
	if list == nil {
		list = []Act{}
	}
	return json.Marshal(list)
}

// UnmarshalJSON reads an array of acts.
func (a *Acts) UnmarshalJSON(raw []byte) error {
	var list []Act
	if err := json.Unmarshal(raw, &list); err != nil {
		return err
	}
	*a = MakeActs(list...)
	return nil
}

// uvarint is binary.Uvarint over a string, which it does not copy.
func uvarint(s string) (uint64, int) {
	var v uint64
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		c := s[i]
		if c < 0x80 {
			return v | uint64(c)<<(7*i), i + 1
		}
		v |= uint64(c&0x7f) << (7 * i)
	}
	return 0, 0
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
// concurrent use, and a query holds up no exchange: it takes the lock only to
// see what the journal holds, and reads it outside the lock.
type Journal struct {
	mu    sync.Mutex
	held  held     // the entries in memory, oldest first
	spare *segment // a dropped segment no query was reading: the next one
	seq   uint64
	cap   int

	store *store // nil: memory only

	subs      map[*subscriber]struct{}
	feeds     map[*Feed]struct{}
	observers []func(Entry)
}

// The memory ring is a list of segments of held.size slots each, oldest
// first. Append packs an entry into the next slot of the last segment, and a
// full journal forgets its oldest entry by moving past it, never by writing
// over it; once the oldest segment holds nothing the journal keeps, it is
// dropped. A slot is written before the count of entries passes it and not
// again while a query can see it, so what a query counted under the lock
// does not change under it when it reads outside.
//
// A dropped segment that no query was reading is kept for the next one, its
// slots' bytes reused: a full journal appends without allocating, as the
// ring always did.
type segment struct {
	r       ring         // one chunk of slots (held.size <= chunkSize)
	readers atomic.Int32 // queries reading the segment
}

// held is a run of n entries in segments, the first in slot head of segs[0].
type held struct {
	segs    []*segment
	head, n int
	size    int // slots a segment
}

// slot is where entry k of the run (0: the oldest) is.
func (h *held) slot(k int) (*ring, int) {
	p := h.head + k
	return &h.segs[p/h.size].r, p % h.size
}

func (h *held) seq(k int) uint64 {
	r, i := h.slot(k)
	return r.seq(i)
}

func (h *held) selects(k int, f *Filter) bool {
	r, i := h.slot(k)
	return r.selects(i, f)
}

func (h *held) at(k int, frames bool) Entry {
	r, i := h.slot(k)
	return r.at(i, frames)
}

// search returns the first entry numbered above seq, or n. Entries are
// numbered in increasing order (with gaps only where a durable journal's file
// has them).
func (h *held) search(seq uint64) int {
	return sort.Search(h.n, func(k int) bool { return h.seq(k) > seq })
}

// view returns what the journal holds now, for a query to read outside the
// lock; j.mu is held. The query calls release when it is done.
func (j *Journal) view() held {
	v := j.held
	v.segs = slices.Clone(v.segs)
	for _, s := range v.segs {
		s.readers.Add(1)
	}
	return v
}

func (v held) release() {
	for _, s := range v.segs {
		s.readers.Add(-1)
	}
}

// queryHook, when set (by tests), runs in Query once it has let the lock go
// and before it reads: a test holds a query there to see what it holds up.
var queryHook func()

type subscriber struct {
	ch chan Entry
}

// DefaultCapacity is how many entries a journal keeps when not told otherwise.
const DefaultCapacity = 100_000

// New returns a journal that keeps the latest capacity entries.
func New(capacity int) *Journal {
	if capacity <= 0 {
		capacity = DefaultCapacity
	}
	return &Journal{cap: capacity, held: held{size: min(capacity, chunkSize)}}
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

// notify hands e to observers, subscribers and feeds; j.mu is held. A
// subscriber that does not keep up loses entries, and a feed whose reader
// does not keep up is dropped, rather than slowing the host.
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
		}
	}
	// One copy, shared by every feed that selects it, and only when one
	// does: a feed's buffer costs a pointer a slot until it fills.
	var shared *Entry
	for fd := range j.feeds {
		if !fd.filter.Match(&e) {
			continue
		}
		if shared == nil {
			shared = new(Entry)
			*shared = e
		}
		select {
		case fd.ch <- shared:
		default:
			fd.dropped.Store(true)
			delete(j.feeds, fd)
			close(fd.ch)
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

// Wait returns the latest entry f selects, waiting for one to be appended
// when there is none yet, until ctx ends. It is for tests and tools that
// must see an exchange happen: it waits on the journal's own news, never on
// a timer.
func (j *Journal) Wait(ctx context.Context, f Filter) (Entry, error) {
	appended, cancel := j.Subscribe(64) // a wake-up only: each one queries
	defer cancel()
	for {
		if es := j.Query(f); len(es) > 0 {
			return es[len(es)-1], nil
		}
		select {
		case <-appended:
		case <-ctx.Done():
			return Entry{}, fmt.Errorf("no journal entry for %+v: %w", f, ctx.Err())
		}
	}
}

// ErrTooManyFeeds reports a Follow beyond the number of feeds allowed open.
var ErrTooManyFeeds = errors.New("too many live feeds open")

// A Feed is the entries a filter selects as they are appended, from
// Journal.Follow until it is closed or its reader falls behind: where a
// subscriber misses entries and never knows, a feed whose buffer fills is
// ended, so that its reader can say so and read the rest with Query.
type Feed struct {
	j       *Journal
	filter  Filter
	ch      chan *Entry
	since   uint64
	dropped atomic.Bool // set before ch is closed
}

// Follow returns a feed of the entries appended from now on that f selects
// (its Limit and paging aside), buffering up to buffer of them for a reader
// that is busy: one more ends the feed. With max above zero, it refuses
// with ErrTooManyFeeds when max feeds are open.
func (j *Journal) Follow(f Filter, buffer, max int) (*Feed, error) {
	f.Limit = 0
	fd := &Feed{j: j, filter: f, ch: make(chan *Entry, buffer)}
	j.mu.Lock()
	defer j.mu.Unlock()
	if max > 0 && len(j.feeds) >= max {
		return nil, ErrTooManyFeeds
	}
	if j.feeds == nil {
		j.feeds = map[*Feed]struct{}{}
	}
	fd.since = j.seq
	j.feeds[fd] = struct{}{}
	return fd, nil
}

// Entries are the feed's entries, oldest first, without their frames. Other
// feeds share them: read them, do not change them. The channel is closed
// when the feed ends, by Close or because its reader fell behind (Dropped).
func (fd *Feed) Entries() <-chan *Entry { return fd.ch }

// Since is the number of the last entry appended before the feed began.
func (fd *Feed) Since() uint64 { return fd.since }

// Dropped reports whether the journal ended the feed because its buffer was
// full. Once Entries is closed, the answer is final.
func (fd *Feed) Dropped() bool { return fd.dropped.Load() }

// Close ends the feed and closes its channel; closing it again does nothing.
func (fd *Feed) Close() {
	fd.j.mu.Lock()
	defer fd.j.mu.Unlock()
	if _, ok := fd.j.feeds[fd]; ok {
		delete(fd.j.feeds, fd)
		close(fd.ch)
	}
}

// Feeds is the number of feeds open.
func (j *Journal) Feeds() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.feeds)
}

// remember keeps e in the in-memory ring; j.mu is held (or the journal is
// not yet shared).
func (j *Journal) remember(e Entry) {
	e.Replay = "" // kept on disk only
	h := &j.held
	if h.head+h.n == len(h.segs)*h.size {
		s := j.spare
		if j.spare = nil; s == nil {
			s = new(segment)
		}
		h.segs = append(h.segs, s)
	}
	r, i := h.slot(h.n)
	if i < r.len() {
		r.put(i, &e) // a reused segment's slot: no query can see it
	} else {
		r.append(&e)
	}
	if h.n < j.cap {
		h.n++
		return
	}
	if h.head++; h.head < h.size {
		return
	}
	old := h.segs[0]
	copy(h.segs, h.segs[1:])
	h.segs[len(h.segs)-1] = nil
	h.segs = h.segs[:len(h.segs)-1]
	h.head = 0
	if old.readers.Load() == 0 {
		j.spare = old
	}
}

// Query returns the entries f selects, oldest first. It reads what the
// journal held when it was called, outside the lock: exchanges go on being
// appended meanwhile.
func (j *Journal) Query(f Filter) []Entry {
	j.mu.Lock()
	v := j.view()
	j.mu.Unlock()
	defer v.release()
	if queryHook != nil {
		queryHook()
	}
	// Entries are selected in place and only those returned are unpacked;
	// a page starts where its cursor points, and the latest N are looked
	// for from the newest back.
	out := []Entry{}
	switch {
	case f.Limit > 0 && !f.Paged:
		for k := v.n - 1; k >= 0 && len(out) < f.Limit; k-- {
			if v.selects(k, &f) {
				out = append(out, v.at(k, false))
			}
		}
		slices.Reverse(out)
	default:
		for k := v.search(f.After); k < v.n && (f.Limit <= 0 || len(out) < f.Limit); k++ {
			if v.selects(k, &f) {
				out = append(out, v.at(k, false))
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
	h := &j.held
	k := h.search(seq - 1)
	if seq == 0 || k == h.n || h.seq(k) != seq {
		return Entry{}, false
	}
	return h.at(k, true), true
}

// Reset forgets every entry; numbering goes on.
func (j *Journal) Reset() {
	j.mu.Lock()
	for _, s := range j.held.segs {
		if s.readers.Load() == 0 {
			j.spare = s
		}
	}
	j.held = held{size: j.held.size}
	j.mu.Unlock()
}
