package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/moov-io/iso8583"

	"github.com/acqsim/acqsim/emv"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/keys"
	"github.com/acqsim/acqsim/txn"
)

// Kinds of failed requests, as the report names them.
const (
	errBad       = iota // a response that does not decode or does not answer the request
	errIO               // the connection broke with the request outstanding, or was down
	errCancelled        // the run was interrupted with the request outstanding
	errBuild            // the request could not be built (a value the spec refuses)
	errCard             // a chip card did not approve what the host approved: tag 91 missing or wrong
	numErrKinds
)

var errKindNames = [numErrKinds]string{"bad_response", "io", "cancelled", "build", "card_refused"}

// conn is one terminal on its own connection. Its reader goroutine (run)
// reads responses, matches them to requests, expires requests that waited
// too long and, in a closed loop, sends the next ones; in an open loop a
// scheduler goroutine sends them at their times.
type conn struct {
	r     *runner
	idx   int
	tid   string
	shard *shard
	rng   *rand.Rand
	pre   []byte // cup TPDU and header

	// The reader goroutine's own.
	br   *bufio.Reader
	rbuf []byte

	mu      sync.Mutex // guards what follows
	nc      net.Conn
	bw      *bufio.Writer
	down    bool // lost its host; the reader is calling again
	done    bool // nothing more to send
	pending []pending
	slots   chan struct{} // open loop: a token per pending request
	stan    int
	b       builder
	card    *emv.Card // with Config.Chip: the terminal's chip card
	tmpl    [numKinds]*template
	macKey  []byte
	wbuf    []byte
	clock   clockCache
	pool    pool
	records []record // with Settle: the batch as the terminal booked it

	// What it counted (under mu too).
	kinds         [numKinds]kindStats
	all           struct{ answered, failed int64 } // warm-up included, for progress
	unmatched     int64
	reconnects    int64
	connectErrors int64
	lastAnswer    time.Time
}

// pending is a request waiting for its response.
type pending struct {
	stan     int
	kind     kind
	sched    time.Time // latency counts from here
	sent     time.Time // the timeout counts from here
	measured bool
	orig     sale // void, reversal
	// card is the chip card as its first GENERATE AC for this request left
	// it, for the second: with several requests outstanding, the
	// connection's card has gone on to the next ones.
	card *emv.Card
}

type kindStats struct {
	sent, answered, timeouts int64
	errs                     [numErrKinds]int64
	rc                       map[string]int64
}

// sale is an approved sale a void or reversal can refer to.
type sale struct {
	stan   int
	amount int64
	rrn    string
	auth   string
	date   string // MMDD
	batch  string
	rec    int // index in records; -1 when none are kept
}

// record is a transaction in the terminal's batch: a sale or a void.
type record struct {
	kind     kind
	stan     int
	orig     int // void: the sale's STAN
	amount   int64
	rrn      string
	auth     string
	date     string
	batch    string
	voided   bool
	reversed bool
}

// pool holds a connection's latest approved sales that nothing has voided or
// reversed yet; the newest is used first.
type pool struct {
	buf     [64]sale
	n, head int
}

func (p *pool) push(s sale) {
	p.buf[p.head] = s
	p.head = (p.head + 1) % len(p.buf)
	p.n = min(p.n+1, len(p.buf))
}

func (p *pool) pop() (sale, bool) {
	if p.n == 0 {
		return sale{}, false
	}
	p.head = (p.head + len(p.buf) - 1) % len(p.buf)
	p.n--
	return p.buf[p.head], true
}

// clockCache formats the local time for F12 and F13 once a second.
type clockCache struct {
	sec          int64
	hhmmss, mmdd string
}

func (c *clockCache) at(now time.Time) (string, string) {
	if s := now.Unix(); s != c.sec || c.mmdd == "" {
		c.sec = s
		c.hhmmss, c.mmdd = now.Format("150405"), now.Format("0102")
	}
	return c.hhmmss, c.mmdd
}

func newConn(r *runner, i int) *conn {
	cfg := &r.cfg
	c := &conn{
		r: r, idx: i, tid: cfg.TID(i), shard: r.shards[i%len(r.shards)],
		rng: rand.New(rand.NewPCG(uint64(i)+1, 0x5eed)),
		b: builder{d: r.d, tid: cfg.TID(i), mid: cfg.MID, card: cfg.Card, chip: cfg.Chip, currency: r.d.Currency,
			amount: cfg.Amount, batch: "000001"},
		pending: make([]pending, 0, cfg.Pipeline),
	}
	if cfg.Chip != nil {
		c.card = cfg.Chip.NewCard()
	}
	if r.d.Preamble > 0 {
		c.pre = []byte{0x60, 0x00, 0x03, 0x00, 0x00, 0x60, 0x31, 0x00, 0x00, 0x00, 0x00}
	}
	if cfg.Rate > 0 {
		c.slots = make(chan struct{}, cfg.Pipeline)
	}
	for k := range c.kinds {
		c.kinds[k].rc = map[string]int64{}
	}
	return c
}

// connect makes the first connection, and signs on.
func (c *conn) connect(ctx context.Context) error {
	nc, err := c.r.dial(ctx)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", c.r.cfg.Addr, err)
	}
	c.br = bufio.NewReaderSize(nc, 16<<10)
	if err := c.setUp(nc); err != nil {
		nc.Close()
		return err
	}
	c.mu.Lock()
	c.nc, c.bw = nc, bufio.NewWriterSize(nc, 16<<10)
	c.mu.Unlock()
	return nil
}

// setUp signs on when asked to, and prepares the request templates.
func (c *conn) setUp(nc net.Conn) error {
	if c.r.cfg.SignOn {
		if err := c.signOn(nc); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range numKinds {
		t, err := c.b.newTemplate(k)
		if err != nil {
			return err
		}
		c.tmpl[k] = t
	}
	return nil
}

// signOn signs the terminal on over nc, before any other request is sent on
// it; in cup it takes the batch number and the MAC key from the answer.
func (c *conn) signOn(nc net.Conn) error {
	cfg := &c.r.cfg
	c.mu.Lock()
	c.stan = c.stan%999999 + 1
	stan := stan6(c.stan)
	hh, md := c.clock.at(time.Now())
	m, err := c.b.signOn(stan, hh, md, cfg.KeyVariant)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	body, err := m.Pack()
	if err != nil {
		return fmt.Errorf("packing the sign-on of %s: %w", c.tid, err)
	}
	frame, err := c.r.framer.AppendFrame(nil, c.pre, body)
	if err != nil {
		return err
	}
	_ = nc.SetDeadline(time.Now().Add(cfg.Timeout))
	defer nc.SetDeadline(time.Time{})
	if _, err := nc.Write(frame); err != nil {
		return fmt.Errorf("sign-on of %s: %w", c.tid, err)
	}
	var resp *iso8583.Message
	for resp == nil || str(resp, 11) != stan { // anything else is a stray
		in, err := c.r.framer.ReadFrame(c.br, nil)
		if err != nil {
			return fmt.Errorf("sign-on of %s: waiting for the answer: %w", c.tid, err)
		}
		if resp, err = c.r.d.Decode(in[c.r.d.PreambleOf(in):]); err != nil {
			return fmt.Errorf("sign-on of %s: answer: %w", c.tid, err)
		}
	}
	if rc := str(resp, 39); rc != txn.Approved {
		return fmt.Errorf("sign-on of %s refused: RC %q", c.tid, rc)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if b := c.r.d.Batch(resp); b != "" {
		c.b.batch = b // the host says which batch to use
	}
	if f := resp.GetField(c.r.d.KeysField()); f != nil && c.r.d.MAC != nil {
		raw, _ := f.Bytes()
		_, mac, _, err := keys.SplitWorkingKeys(cfg.MasterKey, raw, cfg.KeyVariant)
		if err != nil {
			return fmt.Errorf("sign-on of %s: %w", c.tid, err)
		}
		c.macKey, c.b.mac = mac, true
	}
	return nil
}

// run is the reader goroutine; in a closed loop it sends as well.
func (c *conn) run(ctx context.Context) {
	closed := c.slots == nil
	if closed {
		c.mu.Lock()
		c.fill(time.Now())
		c.mu.Unlock()
	}
	for {
		c.mu.Lock()
		if ctx.Err() != nil {
			c.abandon(errCancelled)
			c.mu.Unlock()
			return
		}
		if c.done && len(c.pending) == 0 {
			c.mu.Unlock()
			return
		}
		// Requests written while responses were waiting in the buffer go out
		// together, before the reader waits for more.
		if c.br.Buffered() == 0 && c.bw.Buffered() > 0 {
			c.flush(time.Now())
		}
		_ = c.nc.SetReadDeadline(c.deadline(time.Now()))
		c.mu.Unlock()

		frame, err := c.r.framer.ReadFrame(c.br, c.rbuf)
		now := time.Now()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !errors.Is(err, dialect.ErrBadFrame) {
				c.mu.Lock()
				c.expire(now)
				if closed {
					c.fill(now)
				}
				c.mu.Unlock()
				continue
			}
			if !c.recover(ctx) {
				return
			}
			continue
		}
		c.rbuf = frame
		c.handle(frame, now)
	}
}

// deadline is when the oldest outstanding request times out, or a timeout
// from now when none is outstanding: the one deadline of the connection.
func (c *conn) deadline(now time.Time) time.Time {
	if len(c.pending) > 0 {
		return c.pending[0].sent.Add(c.r.cfg.Timeout)
	}
	return now.Add(c.r.cfg.Timeout)
}

// fill sends requests until the pipeline is full (closed loop).
func (c *conn) fill(now time.Time) {
	for !c.done && !c.down && len(c.pending) < c.r.cfg.Pipeline {
		send, measured := c.r.admit(now)
		if !send {
			c.done = true
			return
		}
		c.send(now, now, measured)
	}
}

// schedule is the scheduler goroutine of an open loop: it sends each of the
// connection's slots at its time, or as soon after as the pipeline allows.
func (c *conn) schedule(ctx context.Context) {
	defer c.finishSending()
	r := c.r
	n := int64(len(r.conns))
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	// The connection's slots are those congruent to its index.
	g := r.gmin + ((int64(c.idx)-r.gmin)%n+n)%n
	for ; g < r.gmax; g += n {
		due := r.measureFrom.Add(time.Duration(float64(g) * r.interval))
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		}
		select {
		case c.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		now := time.Now()
		c.mu.Lock()
		if c.down || c.nc == nil {
			if g >= 0 {
				c.kinds[kSale].sent++
				c.kinds[kSale].errs[errIO]++
			}
			c.all.failed++
			<-c.slots
		} else {
			c.send(now, due, g >= 0)
			c.flush(now)
		}
		c.mu.Unlock()
	}
}

// finishSending tells the reader that no more requests are coming.
func (c *conn) finishSending() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done = true
	if len(c.pending) == 0 && c.nc != nil {
		_ = c.nc.SetReadDeadline(time.Now())
	}
}

// interrupt wakes the reader to give up.
func (c *conn) interrupt() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done = true
	if c.nc != nil {
		_ = c.nc.SetReadDeadline(time.Now())
	}
}

// send writes one request into the write buffer. c.mu is held.
func (c *conn) send(now, sched time.Time, measured bool) {
	k := c.r.cfg.Mix.pick(c.rng.IntN(c.r.total))
	p := pending{kind: k, sched: sched, sent: now, measured: measured}
	if k == kVoid || k == kReversal {
		s, ok := c.pool.pop()
		switch {
		case !ok:
			p.kind, k = kSale, kSale
		case k == kReversal && c.outstanding(s.stan): // a new sale with its STAN, after the counter wrapped
			c.pool.push(s)
			p.kind, k = kSale, kSale
		default:
			p.orig = s
		}
	}
	if k == kReversal {
		p.stan = p.orig.stan // a reversal carries its original's STAN
	} else {
		c.stan = c.stan%999999 + 1
		p.stan = c.stan
	}
	hh, md := c.clock.at(now)
	v := vars{stan: stan6(p.stan), hhmmss: hh, mmdd: md, orig: &p.orig}
	if measured {
		c.kinds[k].sent++
		if c.slots != nil {
			c.shard.mu.Lock()
			c.shard.lag.Record(now.Sub(sched))
			c.shard.mu.Unlock()
		}
	}
	var err error
	if c.b.chipReads(k) {
		v.icc, p.card, err = c.firstAC(k, now)
	}
	var body []byte
	if err == nil {
		body, err = c.encode(k, &v)
	}
	if err == nil {
		c.wbuf, err = c.r.framer.AppendFrame(c.wbuf[:0], c.pre, body)
	}
	if err != nil {
		if measured {
			c.kinds[k].errs[errBuild]++
		}
		c.all.failed++
		c.release()
		return
	}
	c.pending = append(c.pending, p)
	if c.bw.Available() < len(c.wbuf) {
		c.flush(now) // here, with a fresh write deadline, rather than inside Write
	}
	if _, err := c.bw.Write(c.wbuf); err != nil {
		c.nc.Close() // the reader finds out, fails what is outstanding and calls again
	}
}

// firstAC has the connection's chip card compute a fresh cryptogram for a
// request of kind k, and returns it (F55, hex) with the card as it stands
// for that request's second GENERATE AC. c.mu is held.
func (c *conn) firstAC(k kind, now time.Time) (string, *emv.Card, error) {
	if c.card.ATC == 0xFFFF {
		c.card = c.b.chip.NewCard() // the card's counter has run out: a new card
	}
	icc, err := c.b.firstAC(c.card, k, now, c.rng.Uint32())
	if err != nil {
		return "", nil, err
	}
	at := *c.card // a copy holds this request's first GENERATE AC
	return icc, &at, nil
}

// secondAC gives an approved answer's F55 to the card's second GENERATE AC:
// errCard when the card does not approve, errBad when F55 does not decode,
// -1 when the card approves. c.mu is held.
func (c *conn) secondAC(card *emv.Card, resp *response) int {
	tags, err := emv.ParseTags(resp.icc)
	if err != nil {
		return errBad
	}
	out, err := card.SecondAC(resp.rc, tags)
	// What issuer scripts did to the card stays with it.
	c.card.Blocked, c.card.PINTries, c.card.PIN, c.card.Data = card.Blocked, card.PINTries, card.PIN, card.Data
	if err != nil || !out.Approved {
		return errCard
	}
	return -1
}

// encode fills the template of kind k in, or builds the request afresh when
// a value does not fit it, and signs it when the terminal holds a MAC key.
func (c *conn) encode(k kind, v *vars) ([]byte, error) {
	t := c.tmpl[k]
	body := t.body
	if !t.fill(&c.b, k, v) {
		m, err := c.b.message(k, v)
		if err != nil {
			return nil, err
		}
		if body, err = m.Pack(); err != nil {
			return nil, err
		}
	}
	if c.b.mac {
		mac, err := keys.MAC(c.macKey, body[:len(body)-8])
		if err != nil {
			return nil, err
		}
		copy(body[len(body)-8:], mac)
	}
	return body, nil
}

// outstanding reports whether a request with this STAN awaits its response.
func (c *conn) outstanding(stan int) bool {
	for i := range c.pending {
		if c.pending[i].stan == stan {
			return true
		}
	}
	return false
}

// flush writes out what is buffered. c.mu is held.
func (c *conn) flush(now time.Time) {
	_ = c.nc.SetWriteDeadline(now.Add(c.r.cfg.Timeout))
	if err := c.bw.Flush(); err != nil {
		c.nc.Close() // the reader finds out and calls again
	}
}

// release gives back the pipeline place of a request that is no longer
// outstanding (open loop).
func (c *conn) release() {
	if c.slots != nil {
		<-c.slots
	}
}

// take removes pending request i, keeping the rest in the order they were sent.
func (c *conn) take(i int) pending {
	p := c.pending[i]
	c.pending = append(c.pending[:i], c.pending[i+1:]...)
	c.release()
	return p
}

// expire counts the requests that have waited longer than the timeout.
func (c *conn) expire(now time.Time) {
	for len(c.pending) > 0 && !now.Before(c.pending[0].sent.Add(c.r.cfg.Timeout)) {
		p := c.take(0)
		if p.measured {
			c.kinds[p.kind].timeouts++
		}
		c.all.failed++
	}
}

// abandon fails every outstanding request.
func (c *conn) abandon(why int) {
	for len(c.pending) > 0 {
		p := c.take(0)
		if p.measured {
			c.kinds[p.kind].errs[why]++
		}
		c.all.failed++
	}
}

// recover handles a broken connection: its outstanding requests fail, and the
// terminal calls the host again (signing on again if asked to) until it gets
// through or the run is over. It reports whether the reader goes on.
func (c *conn) recover(ctx context.Context) bool {
	c.mu.Lock()
	why := errIO
	if ctx.Err() != nil {
		why = errCancelled
	}
	c.abandon(why)
	c.down = true
	c.nc.Close()
	c.mu.Unlock()

	backoff := time.NewTimer(0)
	defer backoff.Stop()
	<-backoff.C
	for {
		c.mu.Lock()
		over := c.done || c.r.over(time.Now())
		c.mu.Unlock()
		if over {
			return false
		}
		nc, err := c.r.dial(ctx)
		if err == nil {
			c.br.Reset(nc)
			if err = c.setUp(nc); err != nil {
				nc.Close()
			}
		}
		if err == nil {
			c.mu.Lock()
			c.nc = nc
			c.bw.Reset(nc)
			c.down = false
			c.reconnects++
			if c.slots == nil {
				c.fill(time.Now())
			}
			c.mu.Unlock()
			return true
		}
		c.mu.Lock()
		c.connectErrors++
		c.mu.Unlock()
		backoff.Reset(100 * time.Millisecond)
		select {
		case <-backoff.C:
		case <-ctx.Done():
			return false
		}
	}
}

// handle matches a response to its request and counts it.
func (c *conn) handle(frame []byte, now time.Time) {
	resp, err := c.read(frame[c.r.d.Preamble:])
	c.mu.Lock()
	defer c.mu.Unlock()
	i := -1
	if n, ok := digits(resp.stan); ok {
		for j := range c.pending {
			if c.pending[j].stan == n {
				i = j
				break
			}
		}
	} else if resp.stan == "" && len(c.pending) == 1 {
		i = 0 // a host that does not echo F11 can still be measured one request at a time
	}
	if i < 0 {
		c.unmatched++ // late (after its timeout), or never asked for
		return
	}
	p := c.take(i)
	c.expire(now)
	failed := -1
	switch {
	case err != nil || resp.mti != dialect.ResponseMTI(reqMTI(p.kind)) || (resp.tid != "" && resp.tid != c.tid):
		failed = errBad
	case p.card != nil && resp.rc == txn.Approved:
		if failed = c.secondAC(p.card, &resp); failed == errCard {
			// The host approved and booked it: so does the batch, which
			// then settles as the host's books say. (A terminal would
			// reverse it, F39 06; the load generator does not.)
			c.book(&p, &resp, now)
		}
	}
	if failed >= 0 {
		if p.measured {
			c.kinds[p.kind].errs[failed]++
		}
		c.all.failed++
	} else {
		c.all.answered++
		if resp.rc == txn.Approved {
			c.book(&p, &resp, now)
		}
		if p.measured {
			ks := &c.kinds[p.kind]
			ks.answered++
			rc := resp.rc
			if rc == "" {
				rc = "none"
			}
			ks.rc[rc]++
			c.lastAnswer = now
			c.shard.mu.Lock()
			c.shard.lat[p.kind].Record(now.Sub(p.sched))
			c.shard.mu.Unlock()
		}
	}
	if c.slots == nil {
		c.fill(now)
	}
}

// read reads a response with the scanner, or unpacks it whole when the
// scanner cannot.
func (c *conn) read(body []byte) (response, error) {
	resp, err := c.r.scan.scan(body)
	if !errors.Is(err, errScan) {
		return resp, err
	}
	m, err := c.r.d.Decode(body)
	if m == nil {
		return response{}, err
	}
	return unpacked(m, c.r.cfg.Chip != nil), err
}

// unpacked is what a load generator reads in a response unpacked whole.
func unpacked(m *iso8583.Message, icc bool) response {
	r := response{stan: str(m, 11), rrn: str(m, 37), auth: str(m, 38), rc: str(m, 39), tid: str(m, 41)}
	r.mti, _ = m.GetMTI()
	if f := m.GetField(55); icc && f != nil {
		r.icc, _ = f.Bytes()
	}
	return r
}

// book keeps what an approval changes in the terminal's batch.
func (c *conn) book(p *pending, resp *response, now time.Time) {
	keep := c.r.cfg.Settle
	switch p.kind {
	case kSale:
		_, md := c.clock.at(now)
		s := sale{stan: p.stan, amount: c.b.amount, rrn: resp.rrn, auth: resp.auth, date: md, batch: c.b.batch, rec: -1}
		if keep {
			s.rec = len(c.records)
			c.records = append(c.records, record{kind: kSale, stan: s.stan, amount: s.amount, rrn: s.rrn, auth: s.auth, date: s.date, batch: s.batch})
		}
		c.pool.push(s)
	case kVoid:
		if keep {
			if p.orig.rec >= 0 {
				c.records[p.orig.rec].voided = true
			}
			_, md := c.clock.at(now)
			c.records = append(c.records, record{kind: kVoid, stan: p.stan, orig: p.orig.stan, amount: p.orig.amount,
				rrn: resp.rrn, auth: resp.auth, date: md, batch: c.b.batch})
		}
	case kReversal:
		if keep && p.orig.rec >= 0 {
			c.records[p.orig.rec].reversed = true
		}
	}
}

// close hangs up.
func (c *conn) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nc != nil {
		c.nc.Close()
	}
}

// digits reads a decimal number of up to 9 digits.
func digits(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}
