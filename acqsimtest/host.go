package acqsimtest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acqsim/acqsim/admin"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/scenarios"
	"github.com/acqsim/acqsim/sim"
	"github.com/acqsim/acqsim/terminal"
)

// MID is the merchant ID (F42) of the terminals Terminal and Dial connect.
const MID = "898100012340001"

// TerminalTimeout is how long the terminals Terminal and Dial connect wait
// for each response: long enough for a loaded CI machine, short enough that
// a scenario that never answers fails a test rather than hanging it.
const TerminalTimeout = 10 * time.Second

// shutdownTimeout bounds Close: in-flight exchanges (a scripted delay, say)
// get this long before their connections are cut.
const shutdownTimeout = 5 * time.Second

// Host is an acqsim host running in the test process, listening on loopback.
// Its methods are safe for concurrent use.
type Host struct {
	sim        *sim.Sim
	header     dialect.LengthHeader
	adminToken string

	closeOnce sync.Once
	closeErr  error
}

// An Option configures a host before it starts.
type Option func(*settings)

type settings struct {
	cfg      sim.Config
	scenario string
}

// Dialect sets the wire dialect: iso87ascii (the default) or cup.
func Dialect(name string) Option { return func(s *settings) { s.cfg.Dialect = name } }

// LengthHeader sets the frame length header: binary2 (the default), ascii4
// or bcd2. Terminal and Dial use the same.
func LengthHeader(name string) Option { return func(s *settings) { s.cfg.LengthHeader = name } }

// Scenario sets the scenario every terminal gets, as SetScenario does. A
// built-in name or a file is loaded as `acqsim serve --scenario` loads it,
// within the host's expression budget and checked against its dialect, so
// that a scenario the host would refuse makes Start fail with the file's
// line and the reason.
func Scenario(nameOrYAML string) Option {
	return func(s *settings) {
		if strings.Contains(nameOrYAML, "\n") {
			s.scenario, s.cfg.Scenario = nameOrYAML, ""
		} else {
			s.scenario, s.cfg.Scenario = "", nameOrYAML
		}
	}
}

// Admin sets the admin API's address: "off" for none, or another address
// than the default 127.0.0.1:0, such as one reachable from other hosts
// (which then needs AdminToken).
func Admin(addr string) Option { return func(s *settings) { s.cfg.Admin = addr } }

// AdminToken has the admin API want "Authorization: Bearer token" on every
// call.
func AdminToken(token string) Option { return func(s *settings) { s.cfg.AdminToken = token } }

// ExprBudget bounds what scenarios' match expressions may cost, at load and
// per evaluation (sim.Config.ExprBudget).
func ExprBudget(b scenarios.Budget) Option { return func(s *settings) { s.cfg.ExprBudget = b } }

// Logger gives the host a logger; by default it logs nothing.
func Logger(l *slog.Logger) Option { return func(s *settings) { s.cfg.Logger = l } }

// Clock starts the host's virtual clock at t; it then runs in real time.
func Clock(t time.Time) Option { return func(s *settings) { s.cfg.Clock = t } }

// Seed fixes every random draw (scenario probabilities, delays, RRNs), so
// that a run repeats.
func Seed(n uint64) Option { return func(s *settings) { s.cfg.Seed = n } }

// Configure edits the host's whole configuration, for what the other options
// do not cover (time zone, cut-over, holidays, a durable journal, timeouts).
// Listen and Admin start as 127.0.0.1:0; Admin may be set to "off".
func Configure(f func(*sim.Config)) Option { return func(s *settings) { f(&s.cfg) } }

// New starts a host for the test and shuts it down when the test and its
// subtests end. It fails the test at once if the host does not start.
func New(t testing.TB, opts ...Option) *Host {
	t.Helper()
	h, err := Start(opts...)
	if err != nil {
		t.Fatalf("acqsimtest: %v", err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("acqsimtest: shutting the host down: %v", err)
		}
	})
	return h
}

// Start starts a host that runs until Close. Tests use New; Start is for
// where there is no testing.TB, such as examples and TestMain.
func Start(opts ...Option) (*Host, error) {
	s := settings{cfg: sim.Config{Listen: "127.0.0.1:0", Admin: "127.0.0.1:0"}}
	for _, o := range opts {
		o(&s)
	}
	header := dialect.Binary2
	if s.cfg.LengthHeader != "" {
		var err error
		if header, err = dialect.ParseLengthHeader(s.cfg.LengthHeader); err != nil {
			return nil, err
		}
	}
	sm, err := sim.Start(s.cfg)
	if err != nil {
		return nil, fmt.Errorf("starting the host: %w", err)
	}
	h := &Host{sim: sm, header: header, adminToken: s.cfg.AdminToken}
	// The scenario is bound after the start because YAML text can only be
	// compiled into the host's own library; nobody knows the address yet,
	// so no request can arrive before it.
	if s.scenario != "" {
		if err := h.SetScenario(s.scenario); err != nil {
			h.Close()
			return nil, err
		}
	}
	return h, nil
}

// Close shuts the host down, giving in-flight exchanges a few seconds to
// finish. Calls after the first return the first one's result.
func (h *Host) Close() error {
	h.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		h.closeErr = h.sim.Shutdown(ctx)
	})
	return h.closeErr
}

// Sim is the running host itself, for what Host does not wrap (the books,
// the library, freezing the clock).
func (h *Host) Sim() *sim.Sim { return h.sim }

// Addr is the address terminals connect to, host:port.
func (h *Host) Addr() string { return h.sim.Addr() }

// AdminURL is the base URL of the admin API, "http://127.0.0.1:port"
// without a trailing slash; "" when the admin API is off.
func (h *Host) AdminURL() string {
	if a := h.sim.AdminAddr(); a != "off" {
		return "http://" + a
	}
	return ""
}

// Admin is a client of the host's admin API, with its token; nil when the
// admin API is off.
func (h *Host) Admin() *admin.Client {
	if h.AdminURL() == "" {
		return nil
	}
	return &admin.Client{Base: h.AdminURL(), Token: h.adminToken}
}

// scenario finds a scenario: YAML text (anything with a newline), which is
// then added to the host's library so that it can be named later, or the
// name of one in the library, or a file.
func (h *Host) scenario(nameOrYAML string) (*scenarios.Compiled, error) {
	if !strings.Contains(nameOrYAML, "\n") {
		return sim.Resolve(h.sim.Library, nameOrYAML)
	}
	sc, err := scenarios.Load("scenario", []byte(nameOrYAML))
	if err != nil {
		return nil, err
	}
	if err := h.sim.Library.Add(sc); err != nil {
		return nil, err
	}
	return sc, nil
}

// SetScenario gives every terminal without a scenario of its own this one:
// a built-in name (see fixtures/scenarios), YAML text when the argument
// contains a newline, or a file. "" restores the default host behaviour.
// Its counters start afresh.
func (h *Host) SetScenario(nameOrYAML string) error {
	if nameOrYAML == "" {
		h.sim.Engine.SetGlobal(nil)
		return nil
	}
	sc, err := h.scenario(nameOrYAML)
	if err != nil {
		return err
	}
	h.sim.Engine.SetGlobal(sc)
	return nil
}

// Bind gives one terminal (by F41) its own scenario, named or written as for
// SetScenario; "" gives it the default host behaviour whatever the global
// scenario. Its counters start afresh.
func (h *Host) Bind(tid, nameOrYAML string) error {
	if nameOrYAML == "" {
		h.sim.Engine.Bind(tid, nil)
		return nil
	}
	sc, err := h.scenario(nameOrYAML)
	if err != nil {
		return fmt.Errorf("binding %s: %w", tid, err)
	}
	h.sim.Engine.Bind(tid, sc)
	return nil
}

// Unbind returns a terminal to the global scenario.
func (h *Host) Unbind(tid string) { h.sim.Engine.Unbind(tid) }

// Reset forgets all host state: terminals, batches, transactions, scenario
// counters and the journal. Bindings stay. The journal then holds a single
// entry, the reset itself (Txn "reset").
func (h *Host) Reset() { h.sim.Reset() }

// ResetTerminal forgets one terminal's state and its scenario counters; the
// journal keeps its entries and gains one for the reset (Txn "reset").
func (h *Host) ResetTerminal(tid string) { h.sim.ResetTerminal(tid) }

// SetClock makes the host's virtual clock read t now; it runs on from there.
// It refuses a t more than a century from real time (clock.ErrRange).
func (h *Host) SetClock(t time.Time) error { return h.sim.Clock.Set(t) }

// Advance moves the host's virtual clock forward by d (back if negative),
// within a century of real time (clock.ErrRange).
func (h *Host) Advance(d time.Duration) error { return h.sim.Clock.Advance(d) }

// Now is the time on the host's virtual clock.
func (h *Host) Now() time.Time { return h.sim.Clock.Now() }

// Journal returns the exchanges f selects, oldest first. An exchange is in
// the journal before its response leaves, so a terminal that has its answer
// finds it there.
func (h *Host) Journal(f journal.Filter) []journal.Entry { return h.sim.Journal.Query(f) }

// TerminalConfig is how Terminal and Dial configure a terminal emulator: the
// host's address, dialect and length header, merchant MID, the test card
// terminal.DefaultCard, and TerminalTimeout. Change it and call
// terminal.Dial for another card, merchant or timeout.
func (h *Host) TerminalConfig(tid string) terminal.Config {
	return terminal.Config{
		Addr: h.Addr(), Dialect: h.sim.Dialect, Header: h.header,
		TID: tid, MID: MID, Card: terminal.DefaultCard, Timeout: TerminalTimeout,
	}
}

// Dial connects a terminal emulator configured by TerminalConfig; the
// caller closes it.
func (h *Host) Dial(ctx context.Context, tid string) (*terminal.Terminal, error) {
	term, err := terminal.Dial(ctx, h.TerminalConfig(tid))
	if err != nil {
		return nil, fmt.Errorf("dialling terminal %s: %w", tid, err)
	}
	return term, nil
}

// Terminal connects a terminal emulator, as Dial does, for the test: it
// fails the test at once if it cannot, and hangs up when the test ends.
func (h *Host) Terminal(t testing.TB, tid string) *terminal.Terminal {
	t.Helper()
	term, err := h.Dial(t.Context(), tid)
	if err != nil {
		t.Fatalf("acqsimtest: %v", err)
	}
	t.Cleanup(func() { term.Close() })
	return term
}
