package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/acqsim/acqsim/emv"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/keys"
	"github.com/acqsim/acqsim/terminal"
)

// Config describes a load run. Validate fills in the defaults.
type Config struct {
	// Addr is the host, host:port.
	Addr string
	// Dialect is the wire dialect; Header its frame length header (binary2
	// when empty).
	Dialect *dialect.Dialect
	Header  dialect.LengthHeader
	// TLS, when set, connects over TLS with this configuration; an empty
	// ServerName is taken from Addr.
	TLS *tls.Config
	// Connections is the number of terminals, each on a connection of its
	// own with its own terminal ID. Default 16.
	Connections int
	// Duration is how long transactions are sent after the warm-up. Default
	// 10 s; ignored when Count is set.
	Duration time.Duration
	// Count, when above zero, is the number of transactions sent after the
	// warm-up, over all connections together.
	Count int64
	// Warmup is how long transactions are sent before measuring starts; what
	// is sent during it is left out of the results (but booked, and settled).
	Warmup time.Duration
	// Rate, when above zero, sends this many transactions a second over all
	// connections together, each at its scheduled time whatever the host
	// answers (open loop); latency is then measured from the scheduled time,
	// so that a host that stalls is charged for the requests that waited
	// behind it. Zero sends the next request as soon as a response frees a
	// place in the pipeline (closed loop).
	Rate float64
	// Pipeline is the number of requests one connection may have waiting for
	// a response; responses are matched to requests by STAN (F11). Default 1.
	Pipeline int
	// Mix says how often each kind of transaction is sent; default sales only.
	// A void or reversal needs an approved sale of its connection to refer to;
	// while there is none, a sale is sent instead.
	Mix Mix
	// Amount is the amount of a sale, in minor units. Default 100.
	Amount int64
	// Settle has every terminal settle its batch once the load is over:
	// settlement, and batch upload and end of batch where the host wants them.
	Settle bool
	// SignOn has every terminal sign on before it sends anything (and after
	// a reconnection); cup terminals collect their MAC key this way.
	SignOn bool
	// KeyVariant is the cup sign-on's 60.3 (default 003); MasterKey the
	// terminal master key the working keys come encrypted under (default
	// keys.TestMasterKey).
	KeyVariant string
	MasterKey  []byte
	// TIDPrefix starts every terminal ID; the connection's number, from 1,
	// fills it up to 8 characters. Default "BNCH".
	TIDPrefix string
	// MID is the merchant ID (F42) every terminal sends. Default 898100012340001.
	MID string
	// Card is the test card of every transaction; default terminal.DefaultCard.
	Card terminal.Card
	// Chip, when set, plays a chip card of this profile, its test card
	// instead of Card: sales and balance enquiries read the chip, as
	// acqsim send --chip does (F22 051, F23 its sequence number, F55 its
	// first GENERATE AC with a fresh unpredictable number, no track 2);
	// each connection has a card of its own, whose ATC advances (a card
	// whose ATC runs out is replaced by a new one). An approved answer's
	// F55 goes to the card's second GENERATE AC: a card that does not
	// approve (the ARPC in tag 91 missing or wrong) makes the request an
	// error of kind card_refused. Voids and reversals stay magstripe (the
	// test card's track 2). Nil: every card is Card's magstripe.
	Chip *emv.Profile
	// Timeout is how long a request waits for its response, and a
	// connection attempt for the host. Default 5 s.
	Timeout time.Duration
	// Progress, when set, is called about once a second while the load runs.
	Progress func(Progress)
}

// Defaults for Config fields left zero.
const (
	DefaultConnections = 16
	DefaultDuration    = 10 * time.Second
	DefaultTimeout     = 5 * time.Second
	DefaultTIDPrefix   = "BNCH"
	DefaultMID         = "898100012340001"
)

// Validate fills in the defaults and checks the configuration.
func (c *Config) Validate() error {
	if c.Addr == "" {
		return errors.New("no host address")
	}
	if c.Dialect == nil {
		return errors.New("no dialect")
	}
	if c.Header == "" {
		c.Header = dialect.Binary2
	}
	if c.Connections == 0 {
		c.Connections = DefaultConnections
	}
	if c.Duration == 0 && c.Count == 0 {
		c.Duration = DefaultDuration
	}
	if c.Pipeline == 0 {
		c.Pipeline = 1
	}
	if c.Mix == (Mix{}) {
		c.Mix = SalesOnly
	}
	if c.Amount == 0 {
		c.Amount = 100
	}
	if c.KeyVariant == "" {
		c.KeyVariant = "003"
	}
	if c.MasterKey == nil {
		c.MasterKey, _ = keys.Parse(keys.TestMasterKey)
	}
	if c.TIDPrefix == "" {
		c.TIDPrefix = DefaultTIDPrefix
	}
	if c.MID == "" {
		c.MID = DefaultMID
	}
	if c.Chip != nil {
		tc := c.Chip.Card
		if tc.PAN == "" {
			return fmt.Errorf("card profile %q has no test card", c.Chip.Name)
		}
		// As acqsim send plays the profile's card for what it swipes.
		c.Card = terminal.Card{PAN: tc.PAN, Expiry: tc.Expiry, Track2: tc.PAN + "=" + tc.Expiry + tc.ServiceCode + "0000000000"}
	}
	if c.Card.PAN == "" {
		c.Card = terminal.DefaultCard
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	switch {
	case c.Connections < 1:
		return fmt.Errorf("connections must be at least 1, not %d", c.Connections)
	case c.Count < 0:
		return fmt.Errorf("count must not be negative")
	case c.Count == 0 && c.Duration < 0:
		return fmt.Errorf("duration must not be negative")
	case c.Warmup < 0:
		return fmt.Errorf("warm-up must not be negative")
	case c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0):
		return fmt.Errorf("rate must be a number of transactions a second, 0 or more")
	case c.Pipeline < 1:
		return fmt.Errorf("pipeline must be at least 1, not %d", c.Pipeline)
	case c.Amount < 1 || c.Amount > 999_999_999_999:
		return fmt.Errorf("amount must be from 0.01 to 9999999999.99")
	case c.Timeout < 0:
		return fmt.Errorf("timeout must not be negative")
	case len(c.MID) != 15:
		return fmt.Errorf("merchant ID %q: want 15 characters", c.MID)
	case len(c.TIDPrefix) > 7:
		return fmt.Errorf("terminal ID prefix %q: at most 7 characters, to leave room for the connection's number", c.TIDPrefix)
	}
	if c.Mix.total() == 0 {
		return errors.New("the mix has no transaction with a weight above 0")
	}
	if _, ok := keys.WorkingKeyLength[c.KeyVariant]; !ok {
		return fmt.Errorf("key variant %q: want 001, 003 or 004", c.KeyVariant)
	}
	if _, err := keys.Cipher(c.MasterKey); err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	if room := 8 - len(c.TIDPrefix); float64(c.Connections) >= math.Pow10(room) {
		return fmt.Errorf("terminal ID prefix %q leaves %d digits: too few for %d connections", c.TIDPrefix, room, c.Connections)
	}
	return nil
}

// TID is the terminal ID of connection i (from 0).
func (c *Config) TID(i int) string {
	return c.TIDPrefix + pad(int64(i+1), 8-len(c.TIDPrefix))
}

// Progress is how the run is going, for a progress line.
type Progress struct {
	// Elapsed is the time since the load started, warm-up included.
	Elapsed time.Duration
	// Warmup is set while the warm-up lasts.
	Warmup bool
	// TPS is the responses received in the last interval, per second.
	TPS float64
	// Answered counts the responses so far, warm-up included.
	Answered int64
	// P99 is the 99th percentile latency so far, warm-up excluded.
	P99 time.Duration
	// Errors counts the requests so far that timed out or failed otherwise,
	// warm-up included.
	Errors int64
}

// String is a progress line.
func (p Progress) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%6.1fs  tps %8.0f  answered %9d", p.Elapsed.Seconds(), p.TPS, p.Answered)
	if p.Warmup {
		b.WriteString("  p99 (warm-up)")
	} else {
		fmt.Fprintf(&b, "  p99 %7dµs", p.P99.Microseconds())
	}
	fmt.Fprintf(&b, "  errors %d", p.Errors)
	return b.String()
}

// runner is one run: its schedule, its connections and their latencies.
type runner struct {
	cfg    Config
	d      *dialect.Dialect
	framer dialect.Framer
	scan   *scanner
	total  int // of the mix's weights

	start, measureFrom time.Time
	end                time.Time // duration mode: when sending stops
	stopped            time.Time // when the last connection was done
	budget             atomic.Int64

	// Open loop: slot g (over all connections) is due at measureFrom +
	// g*interval; slots below 0 belong to the warm-up.
	interval   float64 // nanoseconds
	gmin, gmax int64

	conns  []*conn
	shards []*shard
	done   context.Context // ends when the run is interrupted

	progHist *Histogram
	progLast int64
	progAt   time.Time
}

// shard holds latencies of a few connections: one histogram per connection
// would cost a lot of memory with thousands of them, one for all would make
// them wait for each other.
type shard struct {
	mu  sync.Mutex
	lat [numKinds]*Histogram
	lag *Histogram // open loop: how late requests left after their due time
}

// Run sends the load and returns what came of it. It returns an error, and
// no result, when a terminal cannot connect or sign on at the start.
// Interrupted by ctx, it stops sending, abandons what is outstanding and
// returns the results so far.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, d: cfg.Dialect, framer: cfg.Dialect.Framer(cfg.Header, 0), scan: newScanner(cfg.Dialect.Spec, cfg.Chip != nil), total: cfg.Mix.total(), done: ctx}
	nShards := min(cfg.Connections, 4*runtime.GOMAXPROCS(0))
	for range nShards {
		s := &shard{lag: NewHistogram()}
		for k := range s.lat {
			s.lat[k] = NewHistogram()
		}
		r.shards = append(r.shards, s)
	}
	for i := range cfg.Connections {
		r.conns = append(r.conns, newConn(r, i))
	}
	if err := r.connectAll(ctx); err != nil {
		r.closeAll()
		return nil, err
	}

	r.start = time.Now()
	r.measureFrom = r.start.Add(cfg.Warmup)
	if cfg.Count > 0 {
		r.budget.Store(cfg.Count)
	} else {
		r.end = r.measureFrom.Add(cfg.Duration)
	}
	if cfg.Rate > 0 {
		r.interval = 1e9 / cfg.Rate
		r.gmin = -int64(math.Floor(cfg.Warmup.Seconds() * cfg.Rate))
		if cfg.Count > 0 {
			r.gmax = cfg.Count
		} else {
			r.gmax = int64(math.Ceil(cfg.Duration.Seconds() * cfg.Rate))
		}
	}

	var wg sync.WaitGroup
	for _, c := range r.conns {
		wg.Go(func() { c.run(ctx) })
		if cfg.Rate > 0 {
			wg.Go(func() { c.schedule(ctx) })
		}
	}
	finished := make(chan struct{})
	var helpers sync.WaitGroup
	helpers.Go(func() { // an interruption wakes every connection
		select {
		case <-ctx.Done():
			for _, c := range r.conns {
				c.interrupt()
			}
		case <-finished:
		}
	})
	if cfg.Progress != nil {
		r.progHist = NewHistogram()
		r.progAt = r.start
		helpers.Go(func() {
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case now := <-tick.C:
					cfg.Progress(r.progress(now))
				case <-finished:
					return
				}
			}
		})
	}
	wg.Wait()
	r.stopped = time.Now()
	close(finished)
	helpers.Wait()
	r.closeAll()

	res := r.result()
	if cfg.Settle && ctx.Err() == nil {
		res.Settlement = r.settle(ctx)
	}
	return res, nil
}

// connectAll connects every terminal (and signs it on), several at a time.
func (r *runner) connectAll(ctx context.Context) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	sem := make(chan struct{}, 64)
	for _, c := range r.conns {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := c.connect(ctx); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return first
}

func (r *runner) closeAll() {
	for _, c := range r.conns {
		c.close()
	}
}

// admit decides whether a closed-loop connection sends another request now,
// and whether it counts (false during the warm-up).
func (r *runner) admit(now time.Time) (send, measured bool) {
	if r.done.Err() != nil {
		return false, false
	}
	if now.Before(r.measureFrom) {
		return true, false
	}
	if r.cfg.Count > 0 {
		if r.budget.Add(-1) < 0 {
			return false, false
		}
		return true, true
	}
	return now.Before(r.end), true
}

// over reports whether nothing more is to be sent, for a connection that
// lost its host and wonders whether to call again.
func (r *runner) over(now time.Time) bool {
	if r.done.Err() != nil {
		return true
	}
	if r.cfg.Count > 0 && r.cfg.Rate == 0 {
		return r.budget.Load() <= 0
	}
	if r.cfg.Rate > 0 {
		return !now.Before(r.measureFrom.Add(time.Duration(float64(r.gmax) * r.interval)))
	}
	return !now.Before(r.end)
}

// progress sums up the run so far.
func (r *runner) progress(now time.Time) Progress {
	p := Progress{Elapsed: now.Sub(r.start), Warmup: now.Before(r.measureFrom)}
	for _, c := range r.conns {
		c.mu.Lock()
		p.Answered += c.all.answered
		p.Errors += c.all.failed
		c.mu.Unlock()
	}
	if dt := now.Sub(r.progAt).Seconds(); dt > 0 {
		p.TPS = float64(p.Answered-r.progLast) / dt
	}
	r.progLast, r.progAt = p.Answered, now
	r.progHist.Reset()
	for _, s := range r.shards {
		s.mu.Lock()
		for _, h := range s.lat {
			r.progHist.Merge(h)
		}
		s.mu.Unlock()
	}
	p.P99 = time.Duration(r.progHist.Percentile(99)) * time.Microsecond
	return p
}

// dial connects to the host, over TLS when configured.
func (r *runner) dial(ctx context.Context) (net.Conn, error) {
	d := net.Dialer{Timeout: r.cfg.Timeout}
	nc, err := d.DialContext(ctx, "tcp", r.cfg.Addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	if r.cfg.TLS == nil {
		return nc, nil
	}
	tcfg := r.cfg.TLS.Clone()
	if tcfg.ServerName == "" {
		if host, _, err := net.SplitHostPort(r.cfg.Addr); err == nil {
			tcfg.ServerName = host
		}
	}
	tlsConn := tls.Client(nc, tcfg)
	hctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	if err := tlsConn.HandshakeContext(hctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return tlsConn, nil
}
