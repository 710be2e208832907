// Package sim assembles a whole acqsim host from its configuration: the ISO
// 8583 listener, the acquirer behind it, the journal, the virtual clock and the
// admin API. `acqsim serve` runs one; tests start one on loopback.
package sim

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/acqsim/acqsim/admin"
	"github.com/acqsim/acqsim/books"
	"github.com/acqsim/acqsim/clock"
	"github.com/acqsim/acqsim/emv"
	"github.com/acqsim/acqsim/fixtures"
	"github.com/acqsim/acqsim/host"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/keys"
	"github.com/acqsim/acqsim/metrics"
	"github.com/acqsim/acqsim/scenarios"
)

// Config is everything `acqsim serve` can be told. The zero value of each
// field is its documented default.
type Config struct {
	// Listen is the terminals' address; default 127.0.0.1:8583.
	Listen string
	// Admin is the admin API's address; default 127.0.0.1:8584, "off" for none.
	Admin string
	// Dialect is iso87ascii (default) or cup.
	Dialect string
	// LengthHeader is binary2 (default), ascii4 or bcd2.
	LengthHeader string
	// MaxFrame is the largest frame accepted, in bytes after the length header;
	// a bigger one closes its connection. Default dialect.DefaultMaxFrame.
	MaxFrame int
	// Clock, when set, is where the host's virtual clock starts; it then
	// advances in real time.
	Clock time.Time
	// Seed makes everything random repeat from run to run.
	Seed uint64
	// CutOver is the time of day (HH:MM) the clearing day changes; default 23:00.
	CutOver string
	// Location is the time zone of the cut-over and dates; nil means local time.
	Location *time.Location
	// Holidays are non-working days (YYYY-MM-DD) for settlement dates.
	Holidays []string
	// MasterKey is the terminal master key, in hex; default keys.TestMasterKey.
	MasterKey string
	// IdleTimeout closes a connection silent for this long; zero means never.
	IdleTimeout time.Duration
	// ReadTimeout bounds the reading of a frame once begun; zero means none.
	ReadTimeout time.Duration
	// WriteTimeout bounds each response write; default host.DefaultWriteTimeout.
	WriteTimeout time.Duration
	// MaxConnections, when positive, is how many terminal connections may be
	// open at once; one more is reset at once and journalled (at most once a
	// second). Zero means no limit.
	MaxConnections int
	// TLSCert and TLSKey, when set, are PEM files of the certificate and
	// private key terminals connect to over TLS (1.2 or later) instead of
	// plain TCP.
	TLSCert, TLSKey string
	// TLSClientCA, when set, is a PEM file of the CA certificates terminals'
	// client certificates must be signed by: a terminal without a valid one
	// is refused during the handshake. It needs TLSCert and TLSKey.
	TLSClientCA string
	// JournalSize is how many exchanges the journal keeps in memory; default
	// journal.DefaultCapacity.
	JournalSize int
	// JournalFile, when set, keeps the journal and the books in a SQLite
	// file: each response is written only once what it commits is in it,
	// and a restart with the same file brings the books back.
	JournalFile string
	// JournalFsync has each commit to the journal file wait for the disk, so
	// that it outlives a power loss as well as the host being killed.
	JournalFsync bool
	// AdminToken, when set, is required on every admin call
	// ("Authorization: Bearer TOKEN"). An admin API bound to anything but
	// loopback refuses to start without one.
	AdminToken string
	// AdminAllowHost are host names (or host:port) the admin API answers to
	// beyond loopback names and its listen address: a request whose Host
	// header names anything else is refused (DNS rebinding).
	AdminAllowHost []string
	// AdminMaxStreams caps live journal streams open at once; default
	// admin.DefaultMaxStreams.
	AdminMaxStreams int
	// ExprBudget bounds what scenarios' match expressions may cost: at load
	// (this host's --scenario, PUT /scenario) and per evaluation; its zero
	// fields take scenarios.DefaultBudget.
	ExprBudget scenarios.Budget
	// Scenario is the scenario every terminal gets: a built-in name or a
	// file; empty for the default host behaviour.
	Scenario string
	// Cards, when set, is a cards file (YAML): chip card profiles by BIN
	// range, on top of the built-in ones (emv.Builtin).
	Cards string
	// Logger defaults to discarding everything.
	Logger *slog.Logger
}

// ConfigError is a mistake in the configuration, as opposed to a failure of
// the machine (a port taken, a journal file unreadable).
type ConfigError struct{ Err error }

func (e ConfigError) Error() string { return e.Err.Error() }
func (e ConfigError) Unwrap() error { return e.Err }

// ErrAdminToken reports an admin API reachable from other hosts without a token.
var ErrAdminToken = errors.New("an admin token is required")

// Sim is a running host.
type Sim struct {
	Books   *books.Host
	Engine  *scenarios.Engine
	Library *scenarios.Library
	Journal *journal.Journal
	Clock   *clock.Clock
	Dialect *dialect.Dialect

	iso     *host.Server
	isoLn   net.Listener
	admin   *http.Server
	adminLn net.Listener
	// stopAdmin ends the admin API's long-lived calls (live streams) at shutdown.
	stopAdmin context.CancelFunc
	wg        sync.WaitGroup
	serveErr  chan error
}

// Start listens on the configured addresses and serves until Shutdown.
func Start(cfg Config) (*Sim, error) {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:8583"
	}
	if cfg.Admin == "" {
		cfg.Admin = "127.0.0.1:8584"
	}
	if cfg.Dialect == "" {
		cfg.Dialect = "iso87ascii"
	}
	if cfg.LengthHeader == "" {
		cfg.LengthHeader = string(dialect.Binary2)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d, err := fixtures.Dialect(cfg.Dialect)
	if err != nil {
		return nil, ConfigError{err}
	}
	lh, err := dialect.ParseLengthHeader(cfg.LengthHeader)
	if err != nil {
		return nil, ConfigError{err}
	}
	cal := books.Calendar{CutOver: books.DefaultCutOver, Location: cfg.Location}
	if cfg.CutOver != "" {
		if cal.CutOver, err = books.ParseTimeOfDay(cfg.CutOver); err != nil {
			return nil, ConfigError{fmt.Errorf("cut-over: %w", err)}
		}
	}
	for _, h := range cfg.Holidays {
		if err := cal.AddHoliday(h); err != nil {
			return nil, ConfigError{err}
		}
	}
	acfg := books.Config{Calendar: cal, Seed: cfg.Seed, VoidsAsCredits: d.VoidsAsCredits, BalancedCloses: d.BalancedCloses,
		Events: cfg.JournalFile != ""}
	if cfg.MasterKey != "" {
		if acfg.MasterKey, err = keys.Parse(cfg.MasterKey); err != nil {
			return nil, ConfigError{fmt.Errorf("master key: %w", err)}
		}
	}
	acq, err := books.New(acfg)
	if err != nil {
		return nil, ConfigError{err}
	}

	if !cfg.Clock.IsZero() {
		if err := clock.Check(cfg.Clock); err != nil {
			return nil, ConfigError{fmt.Errorf("clock %s: %w", cfg.Clock.Format(time.RFC3339), err)}
		}
	}
	if cfg.AdminToken != "" && (strings.TrimSpace(cfg.AdminToken) != cfg.AdminToken || !printable(cfg.AdminToken)) {
		// A bearer token is read trimmed, and a header cannot carry control
		// characters: such a token could never match.
		return nil, ConfigError{errors.New("admin token: want printable characters with no space at either end (a blank token could never match)")}
	}
	if cfg.AdminMaxStreams < 0 {
		return nil, ConfigError{errors.New("admin max streams must not be negative")}
	}
	if cfg.MaxConnections < 0 {
		return nil, ConfigError{errors.New("max connections must not be negative")}
	}
	tlsCfg, err := serverTLS(cfg)
	if err != nil {
		return nil, ConfigError{err}
	}

	cards := emv.Builtin()
	if cfg.Cards != "" {
		raw, err := os.ReadFile(cfg.Cards)
		if err != nil {
			return nil, ConfigError{fmt.Errorf("cards file: %w", err)}
		}
		if cards, err = emv.LoadProfiles(cfg.Cards, raw); err != nil {
			return nil, ConfigError{err}
		}
	}

	lib, err := scenarios.BuiltIn()
	if err != nil {
		return nil, err
	}
	lib.Fields = d.CheckField
	engine := scenarios.NewEngine(acq, cfg.Seed, cfg.Location)
	engine.Calendar = cal
	engine.Budget = cfg.ExprBudget
	if cfg.Scenario != "" {
		sc, err := resolve(lib, cfg.ExprBudget, cfg.Scenario)
		if err != nil {
			return nil, ConfigError{err}
		}
		if err := sc.CheckFields(d.CheckField); err != nil {
			return nil, ConfigError{err}
		}
		engine.SetGlobal(sc)
	}

	jn := journal.New(cfg.JournalSize)
	if cfg.JournalFile != "" {
		if jn, err = journal.Open(cfg.JournalFile, cfg.JournalSize, cfg.JournalFsync); err != nil {
			return nil, err
		}
		if err := replay(jn, acq); err != nil {
			jn.Close()
			return nil, err
		}
	}

	s := &Sim{
		Books:    acq,
		Engine:   engine,
		Library:  lib,
		Journal:  jn,
		Clock:    clock.New(cfg.Clock),
		Dialect:  d,
		serveErr: make(chan error, 2),
	}
	s.iso = &host.Server{
		Dialect: d, Framer: d.Framer(lh, cfg.MaxFrame), Planner: engine, Keys: acq, Cards: cards, Location: cfg.Location,
		Journal: s.Journal, Clock: s.Clock, Logger: log,
		IdleTimeout: cfg.IdleTimeout, ReadTimeout: cfg.ReadTimeout, WriteTimeout: cfg.WriteTimeout, MaxConnections: cfg.MaxConnections,
	}
	if s.isoLn, err = net.Listen("tcp", cfg.Listen); err != nil {
		jn.Close()
		return nil, fmt.Errorf("listening for terminals: %w", err)
	}
	if tlsCfg != nil {
		s.isoLn = tls.NewListener(s.isoLn, tlsCfg)
	}
	if cfg.Admin != "off" {
		if s.adminLn, err = net.Listen("tcp", cfg.Admin); err != nil {
			s.isoLn.Close()
			jn.Close()
			return nil, fmt.Errorf("listening for the admin API: %w", err)
		}
		if ip := s.adminLn.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() && cfg.AdminToken == "" {
			s.adminLn.Close()
			s.isoLn.Close()
			jn.Close()
			return nil, ConfigError{fmt.Errorf("%w: the admin API on %s is reachable from other hosts; give it a token", ErrAdminToken, cfg.Admin)}
		}
		api := &admin.API{Journal: s.Journal, Clock: s.Clock, Reset: s.Reset, ResetTerminal: s.ResetTerminal,
			Engine: s.Engine, Library: s.Library, Books: s.Books, Token: cfg.AdminToken, Describe: s.Dialect.Describe,
			Addr: cfg.Admin, AllowHosts: cfg.AdminAllowHost, MaxStreams: cfg.AdminMaxStreams,
			Descriptors: s.descriptors}
		m := metrics.New(s.Journal, s.Connections)
		m.CountRefusals(s.refusalsByReason)
		api.Metrics = m.Handler()
		ctx, cancel := context.WithCancel(context.Background())
		s.stopAdmin = cancel
		s.admin = &http.Server{
			Handler: api.Handler(), ReadHeaderTimeout: 10 * time.Second,
			BaseContext: func(net.Listener) context.Context { return ctx },
		}
	}

	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.iso.Serve(s.isoLn); !errors.Is(err, host.ErrServerClosed) {
			s.serveErr <- fmt.Errorf("terminal listener: %w", err)
		}
	}()
	if s.admin != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.admin.Serve(s.adminLn); !errors.Is(err, http.ErrServerClosed) {
				s.serveErr <- fmt.Errorf("admin listener: %w", err)
			}
		}()
	}
	return s, nil
}

// printable reports a string of printable ASCII only.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// Addr is the address terminals connect to.
func (s *Sim) Addr() string { return s.isoLn.Addr().String() }

// Connections is how many terminal connections are open.
func (s *Sim) Connections() int { return s.iso.Connections() }

// Refused is how many terminal connections were turned away because
// MaxConnections were open.
func (s *Sim) Refused() uint64 { return s.iso.Refused() }

// Refusals counts the terminal connections turned away, by why.
func (s *Sim) Refusals() host.Refusals { return s.iso.Refusals() }

// refusalsByReason is Refusals for the metrics.
func (s *Sim) refusalsByReason() map[string]uint64 {
	r := s.iso.Refusals()
	return map[string]uint64{
		metrics.RefusedMaxConnections: r.MaxConnections,
		metrics.RefusedDescriptors:    r.Descriptors,
		metrics.RefusedScripted:       r.Scripted,
	}
}

// descriptorsWindow is how long after the last shortage of file
// descriptors /healthz still reports it.
const descriptorsWindow = 10 * time.Second

// descriptors says why the host could not take a terminal connection for
// want of file descriptors in the last descriptorsWindow, or nil.
func (s *Sim) descriptors() error {
	r := s.iso.Refusals()
	if r.LastDescriptorFailure.IsZero() || time.Since(r.LastDescriptorFailure) > descriptorsWindow {
		return nil
	}
	return fmt.Errorf("%s (%s ago; %d terminal connections refused for want of them so far)", r.LastDescriptorError,
		time.Since(r.LastDescriptorFailure).Round(time.Millisecond), r.Descriptors)
}

// AdminAddr is the admin API's address, or "off".
func (s *Sim) AdminAddr() string {
	if s.adminLn == nil {
		return "off"
	}
	return s.adminLn.Addr().String()
}

// Err reports a listener that stopped on its own.
func (s *Sim) Err() <-chan error { return s.serveErr }

// Reset forgets all state: terminals, batches, transactions, scenario
// counters and the journal.
func (s *Sim) Reset() {
	s.Books.Reset()
	s.Engine.Reset("")
	s.Journal.Reset()
	s.journalReset("")
}

// journalReset records a reset in the journal, so that a durable one replays
// it: a restart does not bring back what was reset.
func (s *Sim) journalReset(tid string) {
	s.Journal.Append(journal.Entry{
		Time: s.Clock.Now(), TID: tid, Txn: "reset", Decision: "host state reset",
		Replay: string(books.ResetEvent(tid)),
	})
}

// ResetTerminal forgets one terminal's state and its scenario counters.
func (s *Sim) ResetTerminal(tid string) {
	s.Books.ResetTerminal(tid)
	s.Engine.Reset(tid)
	s.journalReset(tid)
}

// Resolve finds a scenario by built-in name, or else loads it from a file
// within the default expression budget.
func Resolve(lib *scenarios.Library, nameOrFile string) (*scenarios.Compiled, error) {
	return resolve(lib, scenarios.Budget{}, nameOrFile)
}

// resolve is Resolve within a budget.
func resolve(lib *scenarios.Library, budget scenarios.Budget, nameOrFile string) (*scenarios.Compiled, error) {
	if sc, ok := lib.Get(nameOrFile); ok {
		return sc, nil
	}
	sc, err := budget.LoadFile(nameOrFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("scenario %q: no built-in scenario or file of that name", nameOrFile)
	}
	return sc, err
}

// Shutdown stops accepting, lets in-flight exchanges finish until ctx ends,
// and closes everything.
func (s *Sim) Shutdown(ctx context.Context) error {
	err := s.iso.Shutdown(ctx)
	if s.admin != nil {
		s.stopAdmin()
		// Admin calls are short once streams are stopped; wait for them
		// even when the terminals used up ctx, so that none writes to the
		// journal after it is closed.
		actx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if aerr := s.admin.Shutdown(actx); aerr != nil {
			s.admin.Close()
			if err == nil {
				err = aerr
			}
		}
	}
	s.wg.Wait()
	if jerr := s.Journal.Close(); err == nil {
		err = jerr
	}
	return err
}

// serverTLS is the terminal listener's TLS configuration, or nil for plain TCP.
func serverTLS(cfg Config) (*tls.Config, error) {
	if cfg.TLSCert == "" && cfg.TLSKey == "" {
		if cfg.TLSClientCA != "" {
			return nil, errors.New("a TLS client CA needs a TLS certificate and key for the host")
		}
		return nil, nil
	}
	if cfg.TLSCert == "" || cfg.TLSKey == "" {
		return nil, errors.New("TLS needs both a certificate and its private key")
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s and key %s: %w", cfg.TLSCert, cfg.TLSKey, err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if cfg.TLSClientCA != "" {
		pem, err := os.ReadFile(cfg.TLSClientCA)
		if err != nil {
			return nil, fmt.Errorf("TLS client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TLS client CA %s: no PEM certificate in it", cfg.TLSClientCA)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// replay rebuilds the books from a durable journal's events.
func replay(j *journal.Journal, acq *books.Host) error {
	events, err := j.Events()
	if err != nil {
		return fmt.Errorf("reading the journal: %w", err)
	}
	for _, ev := range events {
		if err := acq.Replay(ev); err != nil {
			return err
		}
	}
	return nil
}
