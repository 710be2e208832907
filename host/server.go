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
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/acqsim/acqsim/clock"
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

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	wg        sync.WaitGroup
	closing   atomic.Bool
	// refuseUntil is when the host takes new connections again (Unix ns).
	refuseUntil atomic.Int64
	// refused counts connections turned away beyond MaxConnections;
	// refusedNoted is when the last refusal was journalled (Unix ns) and
	// refusedThen how many had been refused by then.
	refused      atomic.Uint64
	refusedNoted atomic.Int64
	refusedThen  atomic.Uint64
	// journalFailing is whether the journal was failing at the last request.
	journalFailing atomic.Bool
}

// Refused is how many connections have been turned away because
// MaxConnections were open.
func (s *Server) Refused() uint64 { return s.refused.Load() }

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
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) || isTemporary(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				log.Warn("accept failed; retrying", "err", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		if time.Now().UnixNano() < s.refuseUntil.Load() {
			resetConn(rwc) // refusing connections for a while (a scripted fault)
			continue
		}
		c := &conn{srv: s, rwc: rwc, addr: rwc.RemoteAddr().String(), timers: map[*time.Timer]func(){}}
		switch open, err := s.admit(c); {
		case errors.Is(err, errFull):
			s.refuse(c, open)
			continue
		case err != nil:
			rwc.Close()
			return err
		}
		go c.serve()
	}
}

// errFull reports a connection turned away because MaxConnections are open.
var errFull = errors.New("too many connections")

// refuse resets a connection beyond MaxConnections. The refusal is journalled
// and logged before the reset, so that a terminal that sees it finds it in
// the journal, and at most once a second, saying how many were refused since.
func (s *Server) refuse(c *conn, open int) {
	n := s.refused.Add(1)
	now := time.Now().UnixNano()
	if last := s.refusedNoted.Load(); now-last >= int64(time.Second) && s.refusedNoted.CompareAndSwap(last, now) {
		since := n - s.refusedThen.Swap(n)
		s.logger().Warn("connection refused: too many connections open", "conn", c.addr,
			"open", open, "max_connections", s.MaxConnections, "refused_since_last_warning", since)
		c.journal(journal.Entry{
			Error:    fmt.Sprintf("connection refused: %d connections open (--max-connections)", open),
			Decision: fmt.Sprintf("%d refused since the last such entry (this one included)", since),
		})
	}
	resetConn(c.rwc)
}

// isTemporary reports accept errors worth retrying, such as running out of
// file descriptors for a moment.
func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
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
	return true
}

// admit starts tracking a new connection, whose goroutine then calls forget
// and s.wg.Done. It refuses once Shutdown has begun (ErrServerClosed), so that
// no connection is left behind it, and when MaxConnections are open (errFull);
// open is how many are.
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
		c.journal(journal.Entry{Error: "tls handshake: " + err.Error()})
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
		c.journal(journal.Entry{Error: fmt.Sprintf("frame cut short: the rest did not come in time (read timeout %v, idle timeout %v)", c.srv.ReadTimeout, c.srv.IdleTimeout)})
	default:
		log.Warn("closing connection: unreadable frame", "err", err)
		c.journal(journal.Entry{Error: err.Error()})
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

// Refuse turns away new connections for d.
func (c *conn) Refuse(d time.Duration) {
	c.srv.refuseUntil.Store(time.Now().Add(d).UnixNano())
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
