// Package host is the TCP host terminals talk to. Each connection reads frames,
// decodes them in the configured dialect, asks the decider what to answer and
// writes the answer back, and the journal records every exchange. Given a
// listener from crypto/tls, it serves terminals over TLS.
package host

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/acqsim/acqsim/clock"
	"github.com/acqsim/acqsim/emv"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/scenarios"
	"github.com/acqsim/acqsim/txn"
)

// Planner decides what the host does with a request: the answer, and how and
// when it reaches the wire (scenarios.Engine).
type Planner interface {
	Plan(r *txn.Request, now time.Time) scenarios.Plan
}

// MACKeys gives the MAC key a terminal was handed at sign-on, for dialects
// whose terminals sign their messages.
type MACKeys interface {
	MACKey(mid, tid string) []byte
}

// Server is an ISO 8583 host. Set its fields, then call Serve; the zero values
// of the optional fields are usable defaults.
type Server struct {
	Dialect *dialect.Dialect
	Framer  dialect.Framer
	Planner Planner
	// Keys, when set, has the host check the MAC of requests that carry one
	// and sign the responses to them.
	Keys MACKeys
	// Cards are the chip card profiles: how the issuer checks each card's
	// cryptogram and answers it. nil means emv.Builtin().
	Cards *emv.Profiles
	// Location is the time zone of host times in responses (F12, F13); nil
	// means local time.
	Location *time.Location
	// Journal, when set, records every exchange.
	Journal *journal.Journal
	// Clock is the host's time (F12, F13, settlement dates); nil means real time.
	Clock *clock.Clock
	// Logger defaults to one that discards everything. At debug level it
	// gets a line for every exchange, with the journal's columns (the card
	// number masked) and never a frame.
	Logger *slog.Logger
	// IdleTimeout closes a connection that sends nothing for this long; zero
	// means never.
	IdleTimeout time.Duration
	// ReadTimeout bounds the reading of a frame once it has begun, so that a
	// peer that sends a frame byte by byte, or half a frame, cannot hold a
	// connection; zero means no bound (IdleTimeout aside).
	ReadTimeout time.Duration
	// WriteTimeout bounds each response write, so a terminal that stops
	// reading cannot hold the host; zero means DefaultWriteTimeout.
	WriteTimeout time.Duration
	// MaxConnections, when positive, is how many terminal connections may be
	// open at once: one more is accepted and reset at once, and journalled
	// (at most once a second, so that a flood cannot fill the journal).
	MaxConnections int
	// ReserveDescriptors is how many file descriptors, under the soft
	// RLIMIT_NOFILE read when Serve begins, terminal connections leave to
	// the rest of the process (the admin API, the journal), at most half of
	// those free then: a terminal connection beyond its share is reset at
	// once, as one beyond MaxConnections is. Zero means
	// DefaultReserveDescriptors; negative, no reserve.
	ReserveDescriptors int

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	wg        sync.WaitGroup
	closing   atomic.Bool
	// fdLimit is the soft RLIMIT_NOFILE read when Serve first began, and
	// fdShare how many terminal connections may be open under it (0: no
	// share known); both under mu.
	fdLimit, fdShare int
	// spare is a descriptor held back for the moment the process has none
	// left: closed, it lets the listener take one waiting connection and
	// reset it, instead of leaving it hanging in the backlog (under spareMu).
	spareMu sync.Mutex
	spare   *os.File

	// refuseUntil is when the host takes new connections again (Unix ns),
	// after a refuse of the global scenario.
	refuseUntil atomic.Int64
	// refuseTerminals is, by terminal ID, when a refuse of the terminal's
	// own scenario ends (Unix ns); under rmu.
	rmu             sync.Mutex
	refuseTerminals map[string]int64

	// Connections turned away, by reason, and accepts that failed.
	full, noFDs, scripted tally
	acceptFailed          tally
	fdFailures            atomic.Uint64
	lastFDFailure         atomic.Pointer[fdFailure]

	// journalFailing is whether the journal was failing at the last request.
	journalFailing atomic.Bool
}

// DefaultReserveDescriptors is how many file descriptors terminal connections
// leave to the rest of the process when nothing else is configured: enough for
// the admin API's callers, its live streams and a durable journal's files.
const DefaultReserveDescriptors = 64

// Refused is how many connections have been turned away because
// MaxConnections were open.
func (s *Server) Refused() uint64 { return s.full.n.Load() }

// Refusals counts the terminal connections the host turned away, by reason,
// and says when it last ran short of file descriptors.
type Refusals struct {
	// MaxConnections is how many were reset because MaxConnections were open.
	MaxConnections uint64 `json:"max_connections"`
	// Descriptors is how many were reset for want of file descriptors: the
	// terminals' share of RLIMIT_NOFILE was in use, or the process had none
	// left (EMFILE, ENFILE) and took the connection on its spare one.
	Descriptors uint64 `json:"descriptors"`
	// Scripted is how many were reset by a scenario's refuse fault.
	Scripted uint64 `json:"scripted"`
	// AcceptFailures is how many accepts failed for want of a descriptor.
	AcceptFailures uint64 `json:"accept_failures"`
	// LastDescriptorFailure is when a connection was last refused, or an
	// accept last failed, for want of descriptors (zero: never), and
	// LastDescriptorError what happened then.
	LastDescriptorFailure time.Time `json:"last_descriptor_failure,omitzero"`
	LastDescriptorError   string    `json:"last_descriptor_error,omitempty"`
	// DescriptorLimit is the soft RLIMIT_NOFILE read when Serve began (0:
	// unknown), and TerminalDescriptors how many terminal connections may be
	// open at once under it (0: no share known).
	DescriptorLimit     int `json:"descriptor_limit,omitempty"`
	TerminalDescriptors int `json:"terminal_descriptors,omitempty"`
}

// Refusals reports the connections turned away so far, for the admin API's
// health check and metrics.
func (s *Server) Refusals() Refusals {
	r := Refusals{
		MaxConnections: s.full.n.Load(),
		Descriptors:    s.noFDs.n.Load(),
		Scripted:       s.scripted.n.Load(),
		AcceptFailures: s.fdFailures.Load(),
	}
	if f := s.lastFDFailure.Load(); f != nil {
		r.LastDescriptorFailure, r.LastDescriptorError = f.at, f.what
	}
	s.mu.Lock()
	r.DescriptorLimit, r.TerminalDescriptors = s.fdLimit, s.fdShare
	s.mu.Unlock()
	return r
}

// fdFailure is a moment the host ran short of file descriptors.
type fdFailure struct {
	at   time.Time
	what string
}

// tally counts events of one kind, and lets one in a second be noted (logged,
// journalled), so that a flood cannot fill the log or the journal.
type tally struct {
	n     atomic.Uint64
	noted atomic.Int64  // when one was last noted (Unix ns)
	then  atomic.Uint64 // n by then
}

// add counts an event. Once a second at most, it says to note it, and how
// many there were since the last one noted (this one included).
func (t *tally) add() (since uint64, note bool) {
	n := t.n.Add(1)
	now := time.Now().UnixNano()
	if last := t.noted.Load(); now-last >= int64(time.Second) && t.noted.CompareAndSwap(last, now) {
		return n - t.then.Swap(n), true
	}
	return 0, false
}

// deadline is the Unix time in nanoseconds d from now, saturating rather than
// overflowing (into the past) for a d centuries long.
func deadline(d time.Duration) int64 {
	now := time.Now().UnixNano()
	if d > 0 && now > math.MaxInt64-int64(d) {
		return math.MaxInt64
	}
	return now + int64(d)
}

// Connections is how many terminal connections are open.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// DefaultWriteTimeout bounds a response write when nothing else is configured.
const DefaultWriteTimeout = 10 * time.Second

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("host: server closed")

// Serve accepts connections on l until Shutdown, and always returns a non-nil
// error: ErrServerClosed after Shutdown.
func (s *Server) Serve(l net.Listener) error {
	if !s.track(l, true) {
		l.Close()
		return ErrServerClosed
	}
	defer s.track(l, false)
	log := s.logger()
	var backoff time.Duration
	for {
		rwc, err := l.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			if isOutOfDescriptors(err) {
				s.outOfDescriptors(log, err)
				if s.acceptOnSpare(l) {
					backoff = 0
					continue
				}
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) || isTemporary(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				if since, note := s.acceptFailed.add(); note && !isOutOfDescriptors(err) {
					log.Warn("accept failed; retrying", "err", err, "in", backoff, "failed_since_last_line", since)
				}
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		s.keepSpare()
		c := &conn{srv: s, rwc: rwc, addr: rwc.RemoteAddr().String(), timers: map[*time.Timer]func(){}}
		if until := s.refuseUntil.Load(); time.Now().UnixNano() < until {
			s.refuseAll(c, until) // refusing connections for a while (a scripted fault)
			continue
		}
		switch open, err := s.admit(c); {
		case errors.Is(err, errFull):
			s.refuse(c, open)
			continue
		case errors.Is(err, errNoDescriptors):
			s.refuseForDescriptors(c, open)
			continue
		case err != nil:
			rwc.Close()
			return err
		}
		go c.serve()
	}
}

// errFull reports a connection turned away because MaxConnections are open,
// errNoDescriptors one beyond the terminals' share of file descriptors.
var (
	errFull          = errors.New("too many connections")
	errNoDescriptors = errors.New("out of file descriptors for terminals")
)

// refuse resets a connection beyond MaxConnections. The refusal is journalled
// and logged before the reset, so that a terminal that sees it finds it in
// the journal, and at most once a second, saying how many were refused since.
func (s *Server) refuse(c *conn, open int) {
	if since, note := s.full.add(); note {
		s.logger().Warn("connection refused: too many connections open", "conn", c.addr,
			"open", open, "max_connections", s.MaxConnections, "refused_since_last_warning", since)
		c.journal(journal.Entry{
			Error:     fmt.Sprintf("connection refused: %d connections open (--max-connections)", open),
			ErrorKind: journal.ErrorOther,
			Decision:  refusedSince(since),
		})
	}
	resetConn(c.rwc)
}

// refuseForDescriptors resets a connection beyond the terminals' share of
// file descriptors, noted as refuse notes one beyond MaxConnections.
func (s *Server) refuseForDescriptors(c *conn, open int) {
	s.mu.Lock()
	limit, share := s.fdLimit, s.fdShare
	s.mu.Unlock()
	what := fmt.Sprintf("connection refused: %d terminal connections open, all the file descriptors terminals may have (RLIMIT_NOFILE %d, the rest kept for the admin API and the journal)", open, limit)
	s.lastFDFailure.Store(&fdFailure{at: time.Now(), what: what})
	if since, note := s.noFDs.add(); note {
		s.logger().Warn("connection refused: out of file descriptors for terminals", "conn", c.addr,
			"open", open, "terminal_descriptors", share, "rlimit_nofile", limit, "refused_since_last_warning", since)
		c.journal(journal.Entry{Error: what, ErrorKind: journal.ErrorOther, Decision: refusedSince(since)})
	}
	resetConn(c.rwc)
}

// refuseAll resets a new connection while the global scenario's refuse lasts.
func (s *Server) refuseAll(c *conn, until int64) {
	if since, note := s.scripted.add(); note {
		left := time.Duration(until - time.Now().UnixNano()).Round(time.Second)
		s.logger().Info("connection refused: the scenario refuses new connections", "conn", c.addr,
			"for", left, "refused_since_last_line", since)
		c.journal(journal.Entry{
			Error:     fmt.Sprintf("connection refused: the scenario refuses new connections for another %v (refuse)", left),
			ErrorKind: journal.ErrorOther,
			Decision:  refusedSince(since),
		})
	}
	resetConn(c.rwc)
}

func refusedSince(n uint64) string {
	return fmt.Sprintf("%d refused since the last such entry (this one included)", n)
}

// refuseTerminal has new connections of one terminal refused for d, at their
// first message: a refuse of the terminal's own scenario.
func (s *Server) refuseTerminal(tid string, d time.Duration) {
	until := deadline(d)
	now := time.Now().UnixNano()
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if s.refuseTerminals == nil {
		s.refuseTerminals = map[string]int64{}
	}
	for t, u := range s.refuseTerminals {
		if u <= now {
			delete(s.refuseTerminals, t) // ended: the map holds refusals in force
		}
	}
	s.refuseTerminals[tid] = until
}

// terminalRefused reports whether a terminal's new connections are refused,
// and until when (Unix ns).
func (s *Server) terminalRefused(tid string) (until int64, refused bool) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	until, refused = s.refuseTerminals[tid]
	if refused && until <= time.Now().UnixNano() {
		delete(s.refuseTerminals, tid)
		return 0, false
	}
	return until, refused
}

// isTemporary reports accept errors worth retrying, such as running out of
// file descriptors for a moment.
func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// isOutOfDescriptors reports an accept that failed because the process (or
// the system) has no file descriptor left for the connection.
func isOutOfDescriptors(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

// outOfDescriptors counts an accept that failed for want of a descriptor,
// and logs it at most once a second, saying how many failed since: a host
// out of descriptors would otherwise log a line an accept.
func (s *Server) outOfDescriptors(log *slog.Logger, err error) {
	s.fdFailures.Add(1)
	s.lastFDFailure.Store(&fdFailure{at: time.Now(), what: "accept failed: " + err.Error()})
	if since, note := s.acceptFailed.add(); note {
		s.mu.Lock()
		limit := s.fdLimit
		s.mu.Unlock()
		log.Error("accept failed: the process is out of file descriptors (raise RLIMIT_NOFILE, ulimit -n); new terminal connections are reset until some close",
			"err", err, "rlimit_nofile", limit, "failed_since_last_line", since)
	}
}

// acceptOnSpare frees the spare descriptor, takes the connection waiting in
// the backlog with it and resets it, so that the terminal sees a reset
// instead of hanging; then it takes the spare back. It reports whether a
// connection was taken. (Called with neither mu nor spareMu held; it takes
// spareMu, then mu.)
func (s *Server) acceptOnSpare(l net.Listener) bool {
	s.spareMu.Lock()
	if s.spare == nil {
		s.spareMu.Unlock()
		return false
	}
	s.spare.Close()
	s.spare = nil
	// The failed accept left the connection in the backlog: this one does
	// not wait, unless another part of the process took the descriptor
	// first, and then it fails as the last did. Shutdown closing l ends it.
	rwc, err := l.Accept()
	if err == nil {
		// Reset first: its descriptor is the one the spare takes back.
		s.refuseForDescriptors(&conn{srv: s, rwc: rwc, addr: rwc.RemoteAddr().String()}, s.Connections())
	}
	if !s.closing.Load() {
		s.spare, _ = os.Open(os.DevNull) // nil while none is free: keepSpare tries again
	}
	s.spareMu.Unlock()
	return err == nil
}

// keepSpare opens the spare descriptor when it is missing: at the first
// accept, and once descriptors are free again after running out.
func (s *Server) keepSpare() {
	s.spareMu.Lock()
	defer s.spareMu.Unlock()
	if s.spare == nil && !s.closing.Load() {
		s.spare, _ = os.Open(os.DevNull)
	}
}

// shareDescriptors sets, when Serve first begins, how many terminal
// connections may be open under the soft RLIMIT_NOFILE: those free then
// (less the spare), less the reserve. Called with mu held.
func (s *Server) shareDescriptors() {
	if s.fdLimit != 0 {
		return
	}
	limit, open, ok := descriptors()
	if !ok {
		return
	}
	free := limit - open - 1 // the spare
	reserve := s.ReserveDescriptors
	switch {
	case reserve == 0:
		reserve = DefaultReserveDescriptors
	case reserve < 0:
		reserve = 0
	}
	reserve = min(reserve, free/2)
	s.fdLimit, s.fdShare = limit, max(free-reserve, 1)
}

// Shutdown stops accepting, lets each connection finish the request it is
// handling, and closes it. When ctx ends first, it closes the remaining
// connections at once and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing.Store(true)
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		// Wakes a connection waiting for its next frame; one busy with a
		// request finishes it first.
		c.rwc.SetReadDeadline(time.Now())
	}
	s.mu.Unlock()
	// After the listeners: an accept on the spare ends with them.
	s.spareMu.Lock()
	if s.spare != nil {
		s.spare.Close()
		s.spare = nil
	}
	s.spareMu.Unlock()

	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.rwc.Close()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

// track adds or removes a listener; it refuses to add one once Shutdown has
// begun, so that no listener is left open behind it.
func (s *Server) track(l net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listeners == nil {
		s.listeners = map[net.Listener]struct{}{}
	}
	if !add {
		delete(s.listeners, l)
		return true
	}
	if s.closing.Load() {
		return false
	}
	s.listeners[l] = struct{}{}
	s.shareDescriptors()
	return true
}

// admit starts tracking a new connection, whose goroutine then calls forget
// and s.wg.Done. It refuses once Shutdown has begun (ErrServerClosed), so that
// no connection is left behind it, when MaxConnections are open (errFull), and
// when the terminals' share of file descriptors is (errNoDescriptors); open is
// how many are.
func (s *Server) admit(c *conn) (open int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		s.conns = map[*conn]struct{}{}
	}
	if s.closing.Load() {
		return len(s.conns), ErrServerClosed
	}
	if s.MaxConnections > 0 && len(s.conns) >= s.MaxConnections {
		return len(s.conns), errFull
	}
	if s.fdShare > 0 && len(s.conns) >= s.fdShare {
		return len(s.conns), errNoDescriptors
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return len(s.conns), nil
}

// forget stops counting a connection that is closing.
func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func (s *Server) now() time.Time {
	now := time.Now()
	if s.Clock != nil {
		now = s.Clock.Now()
	}
	if s.Location != nil {
		now = now.In(s.Location)
	}
	return now
}

func (s *Server) writeTimeout() time.Duration {
	if s.WriteTimeout <= 0 {
		return DefaultWriteTimeout
	}
	return s.WriteTimeout
}

// conn is one terminal's connection.
type conn struct {
	srv  *Server
	rwc  net.Conn
	addr string

	wmu sync.Mutex // one response on the wire at a time, each written whole

	// identified is whether the connection's first message came (read and
	// written by its serve goroutine only).
	identified bool

	tmu      sync.Mutex             // guards timers and done
	timers   map[*time.Timer]func() // scheduled work, and what to do if it never runs
	done     bool
	inflight sync.WaitGroup // scheduled work running now
}

func (c *conn) serve() {
	s := c.srv
	log := s.logger().With("conn", c.addr)
	defer func() {
		// Forgotten before it is closed: once the terminal sees the host
		// hang up, its place under MaxConnections is free.
		s.forget(c)
		c.rwc.Close()
		c.stopTimers()
		s.wg.Done()
	}()
	log.Debug("connected")
	if tc, ok := c.rwc.(*tls.Conn); ok && !c.handshake(log, tc) {
		return
	}
	r := bufio.NewReaderSize(c.rwc, 4096)
	var buf []byte
	framing := false // a read deadline for the frame is set
	for {
		switch {
		case s.IdleTimeout > 0 && !c.pending():
			c.rwc.SetReadDeadline(time.Now().Add(s.IdleTimeout))
		case s.IdleTimeout > 0 || framing:
			// A connection waiting for a scripted late answer is not idle.
			c.rwc.SetReadDeadline(time.Time{})
		}
		framing = false
		// Checked after the deadline is set: a Shutdown that began while the
		// last request was being answered has had its deadline overwritten,
		// and one that begins from here on sets it again.
		if s.closing.Load() {
			log.Debug("closed for shutdown")
			return
		}
		if s.ReadTimeout > 0 {
			// A frame begun must end within ReadTimeout, unless it is here
			// whole already (as it nearly always is).
			if _, err := r.Peek(1); err != nil {
				c.readFailed(log, err)
				return
			}
			if !s.Framer.Buffered(r) {
				c.rwc.SetReadDeadline(time.Now().Add(s.ReadTimeout))
				framing = true
				if s.closing.Load() { // as above
					log.Debug("closed for shutdown")
					return
				}
			}
		}
		frame, err := s.Framer.ReadFrame(r, buf)
		if err != nil {
			c.readFailed(log, err)
			return
		}
		buf = frame
		if !c.exchange(log, frame) {
			return
		}
	}
}

// handshake runs the TLS handshake under the deadlines a frame would have, so
// that an idle timeout or Shutdown ends a terminal that never completes it.
func (c *conn) handshake(log *slog.Logger, tc *tls.Conn) bool {
	s := c.srv
	if s.IdleTimeout > 0 {
		tc.SetReadDeadline(time.Now().Add(s.IdleTimeout))
	}
	tc.SetWriteDeadline(time.Now().Add(s.writeTimeout()))
	if s.closing.Load() { // after the deadline is set: see serve
		log.Debug("closed for shutdown")
		return false
	}
	err := tc.Handshake()
	if err == nil {
		return true
	}
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded):
		c.readFailed(log, err) // a probe that connects and leaves, an idle peer, Shutdown
	default:
		log.Warn("closing connection: TLS handshake failed", "err", err)
		c.journal(journal.Entry{Error: "tls handshake: " + err.Error(), ErrorKind: journal.ErrorOther})
	}
	return false
}

// readFailed says why a connection ends. A peer hanging up or resetting
// between frames (a terminal switched off, a port scanner), an idle one or
// the host shutting down is normal; anything else, a frame cut short
// included, is journalled as an error.
func (c *conn) readFailed(log *slog.Logger, err error) {
	inFrame := errors.Is(err, dialect.ErrBadFrame) || errors.Is(err, dialect.ErrFrameTooLarge)
	switch {
	case c.srv.closing.Load() && (errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, net.ErrClosed)):
		log.Debug("closed for shutdown")
	case !inFrame && (errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET)):
		log.Debug("disconnected", "err", err)
	case !inFrame && errors.Is(err, os.ErrDeadlineExceeded):
		log.Info("closed idle connection", "idle_timeout", c.srv.IdleTimeout)
	case errors.Is(err, os.ErrDeadlineExceeded):
		log.Warn("closing connection: a frame cut short, the rest did not come in time", "err", err)
		c.journal(journal.Entry{
			Error:     fmt.Sprintf("frame cut short: the rest did not come in time (read timeout %v, idle timeout %v)", c.srv.ReadTimeout, c.srv.IdleTimeout),
			ErrorKind: journal.ErrorFrame,
		})
	default:
		log.Warn("closing connection: unreadable frame", "err", err)
		kind := journal.ErrorOther // a reset or a failing read inside a frame
		if inFrame {
			kind = journal.ErrorFrame
		}
		c.journal(journal.Entry{Error: err.Error(), ErrorKind: kind})
	}
}

// journal records an exchange; with a durable journal, once it is on disk.
func (c *conn) journal(e journal.Entry) error {
	if c.srv.Journal == nil {
		return nil
	}
	e.Conn = c.addr
	e.Dialect = c.srv.Dialect.Name
	if e.Time.IsZero() {
		e.Time = c.srv.now()
	}
	return c.srv.Journal.Append(e)
}

// Write sends bytes whole, within the write timeout: a frame, or what a fault
// makes of one. conn is the fault.Wire of its terminal.
func (c *conn) Write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.rwc.SetWriteDeadline(time.Now().Add(c.srv.writeTimeout()))
	_, err := c.rwc.Write(b)
	return err
}

// Close hangs up; the connection's reader sees it and ends.
func (c *conn) Close() { c.rwc.Close() }

// Reset aborts the connection with a TCP RST.
func (c *conn) Reset() { resetConn(c.rwc) }

// resetConn aborts a connection with a TCP RST. A TLS connection is aborted
// underneath, without the close_notify alert a clean close would send first.
func resetConn(rwc net.Conn) {
	if tc, ok := rwc.(*tls.Conn); ok {
		rwc = tc.NetConn()
	}
	if tc, ok := rwc.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	rwc.Close()
}

// Refuse turns away every new connection for d: the refuse of the global
// scenario (terminalWire is a terminal's own).
func (c *conn) Refuse(d time.Duration) {
	c.srv.refuseUntil.Store(deadline(d))
}

// Later runs f after d on a timer: no goroutine waits meanwhile. When the
// connection ends first, f never runs.
func (c *conn) Later(d time.Duration, f func()) { c.later(d, f, nil) }

// later is Later, calling abandoned instead of f when the connection ends
// first (it closed, or the host shut down).
func (c *conn) later(d time.Duration, f, abandoned func()) {
	c.tmu.Lock()
	defer c.tmu.Unlock()
	if c.done {
		return
	}
	var t *time.Timer
	// The callback takes tmu first, so it cannot see t before it is set.
	t = time.AfterFunc(d, func() {
		c.tmu.Lock()
		if _, ok := c.timers[t]; !ok || c.done {
			c.tmu.Unlock()
			return
		}
		delete(c.timers, t)
		c.inflight.Add(1)
		c.tmu.Unlock()
		defer c.inflight.Done()
		f()
		if idle := c.srv.IdleTimeout; idle > 0 && !c.pending() {
			c.rwc.SetReadDeadline(time.Now().Add(idle)) // idle again from now
		}
	})
	c.timers[t] = abandoned
}

// pending reports scheduled work not yet run.
func (c *conn) pending() bool {
	c.tmu.Lock()
	defer c.tmu.Unlock()
	return len(c.timers) > 0
}

// stopTimers abandons scheduled work, saying so where it was asked to, and
// waits for any already running.
func (c *conn) stopTimers() {
	c.tmu.Lock()
	c.done = true
	var abandoned []func()
	for t, ab := range c.timers {
		// Still here, it has not run: a timer that fired and waits for tmu
		// finds itself gone and returns.
		t.Stop()
		if ab != nil {
			abandoned = append(abandoned, ab)
		}
	}
	c.timers = nil
	c.tmu.Unlock()
	for _, ab := range abandoned {
		ab()
	}
	c.inflight.Wait()
}
