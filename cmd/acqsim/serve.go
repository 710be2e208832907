package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/acqsim/acqsim/fixtures"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/scenarios"
	"github.com/acqsim/acqsim/sim"
)

type serveFlags struct {
	config       string
	listen       string
	admin        string
	dialect      string
	lengthHeader string
	maxFrame     int
	clock        string
	seed         uint64
	cutOver      string
	tz           string
	holidays     []string
	masterKey    string
	idleTimeout  time.Duration
	writeTimeout time.Duration
	readTimeout  time.Duration
	grace        time.Duration
	journalSize  int
	journalFile  string
	journalFsync bool
	logFormat    string
	logLevel     string
	scenario     string
	cards        string
	adminToken   string
	allowHosts   []string
	maxStreams   int
	budget       scenarios.Budget
	maxConns     int
	tlsCert      string
	tlsKey       string
	tlsClientCA  string
}

func newServe() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the host",
		Long: `Run the host: terminals connect to --listen, the admin API answers on --admin.
Once both listen, one line containing "listening", "iso8583=HOST:PORT" and
"admin=HOST:PORT" is printed on standard output. SIGINT or SIGTERM stops it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.config != "" {
				if err := applyConfigFile(cmd.Flags(), f.config); err != nil {
					return err
				}
			}
			return serve(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "read flags from a YAML `file` whose keys are flag names; flags given on the command line win")
	fl.StringVar(&f.listen, "listen", "127.0.0.1:8583", "`address` terminals connect to (port 0: the OS chooses)")
	fl.StringVar(&f.admin, "admin", "127.0.0.1:8584", "admin API `address`, or off")
	fl.StringVar(&f.adminToken, "admin-token", "", "token required on every admin call (Authorization: Bearer TOKEN); required when --admin is not loopback (default $ACQSIM_ADMIN_TOKEN)")
	fl.StringSliceVar(&f.allowHosts, "admin-allow-host", nil, "a host `name` the admin API also answers to, beyond loopback names and --admin (behind a proxy or a container name); repeat or comma-separate")
	fl.IntVar(&f.maxStreams, "admin-max-streams", 64, "live journal streams (GET /journal/stream) open at once; one more is answered 503")
	fl.StringVar(&f.dialect, "dialect", "iso87ascii", "wire dialect: "+oneOf(fixtures.DialectNames()))
	fl.StringVar(&f.lengthHeader, "length-header", "binary2", "frame length header: binary2, ascii4 or bcd2")
	fl.IntVar(&f.maxFrame, "max-frame", dialect.DefaultMaxFrame, "largest frame accepted, in `bytes` after the length header; a larger one closes its connection")
	fl.StringVar(&f.clock, "clock", "", "start the host's virtual clock at this RFC 3339 `time`; it then advances in real time")
	fl.Uint64Var(&f.seed, "seed", 1, "seed for everything random (auth codes, working keys)")
	fl.StringVar(&f.cutOver, "cut-over", "23:00", "time of day (HH:MM) the clearing day changes")
	fl.StringVar(&f.tz, "tz", "", "time zone (IANA name) for cut-over and dates; default the TZ environment variable / local time")
	fl.StringSliceVar(&f.holidays, "holiday", nil, "a non-working `day` (YYYY-MM-DD) for settlement dates; repeat or comma-separate")
	fl.StringVar(&f.masterKey, "master-key", "", "terminal master key in hex (8, 16 or 24 bytes) that cup working keys are encrypted under (default a well-known test key)")
	fl.DurationVar(&f.idleTimeout, "idle-timeout", 0, "close a terminal connection silent for this long (0: never)")
	fl.DurationVar(&f.readTimeout, "read-timeout", 30*time.Second, "close a terminal connection that begins a frame and does not finish it within this long (0: never)")
	fl.DurationVar(&f.writeTimeout, "write-timeout", 10*time.Second, "give up writing a response after this long and close the connection")
	fl.IntVar(&f.maxConns, "max-connections", 0, "terminal connections open at once; one more is reset at once (0: no limit)")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "serve terminals over TLS with this certificate `file` (PEM), with --tls-key")
	fl.StringVar(&f.tlsKey, "tls-key", "", "private key `file` (PEM) of --tls-cert")
	fl.StringVar(&f.tlsClientCA, "tls-client-ca", "", "require terminals to present a client certificate signed by a CA in this `file` (PEM)")
	fl.DurationVar(&f.grace, "grace", 10*time.Second, "on SIGINT/SIGTERM, how long in-flight requests may take to finish")
	fl.IntVar(&f.journalSize, "journal-size", 100_000, "how many exchanges the journal keeps in memory (for the admin API)")
	fl.StringVar(&f.journalFile, "journal", "", "keep the journal and the books in this SQLite `file`: responses wait until what they commit is in the file, and a restart brings the books back")
	fl.BoolVar(&f.journalFsync, "journal-fsync", false, "with --journal, flush the disk at every commit, so that answered exchanges outlive a power loss, not only acqsim being killed (slower)")
	fl.StringVar(&f.scenario, "scenario", "", "scenario for every terminal: a built-in `name` (acqsim scenarios list) or a file")
	fl.StringVar(&f.cards, "cards", "", "chip card profiles from this YAML `file` (BIN ranges, cryptogram methods, issuer master keys), on top of the built-in test profiles")
	addBudgetFlags(fl, &f.budget, true)
	fl.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return cmd
}

// applyConfigFile sets every flag named in a YAML file that was not given on
// the command line.
func applyConfigFile(fl *pflag.FlagSet, path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return usagef("config file: %v", err)
	}
	// Nodes keep each value's text as written: 2026-12-25 stays a string.
	var doc map[string]yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return usagef("config file %s: %v", path, err)
	}
	for key, node := range doc {
		fg := fl.Lookup(key)
		if fg == nil || key == "config" {
			return usagef("config file %s line %d: unknown key %q (keys are serve's flag names)", path, node.Line, key)
		}
		if fg.Changed {
			continue
		}
		vals := []*yaml.Node{&node}
		if node.Kind == yaml.SequenceNode {
			vals = node.Content
		}
		for _, v := range vals {
			if v.Kind != yaml.ScalarNode {
				return usagef("config file %s line %d: %s: want a value or a list of values", path, v.Line, key)
			}
			if err := fl.Set(key, v.Value); err != nil {
				return usagef("config file %s line %d: %s: %v", path, v.Line, key, err)
			}
		}
	}
	return nil
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usagef("--log-format %q: want text or json", format)
}

func serve(ctx context.Context, stdout, stderr io.Writer, f serveFlags) error {
	log, err := newLogger(stderr, f.logFormat, f.logLevel)
	if err != nil {
		return err
	}
	cfg := sim.Config{
		Listen: f.listen, Admin: f.admin, Dialect: f.dialect, LengthHeader: f.lengthHeader,
		MaxFrame: f.maxFrame, Seed: f.seed, CutOver: f.cutOver, Holidays: f.holidays,
		MasterKey: f.masterKey, IdleTimeout: f.idleTimeout, ReadTimeout: f.readTimeout, WriteTimeout: f.writeTimeout,
		JournalSize: f.journalSize, JournalFile: f.journalFile, JournalFsync: f.journalFsync, Scenario: f.scenario, Cards: f.cards, Logger: log,
		AdminToken: cmp.Or(f.adminToken, os.Getenv("ACQSIM_ADMIN_TOKEN")),
		ExprBudget: f.budget, AdminAllowHost: f.allowHosts, AdminMaxStreams: f.maxStreams,
		MaxConnections: f.maxConns, TLSCert: f.tlsCert, TLSKey: f.tlsKey, TLSClientCA: f.tlsClientCA,
	}
	if !slices.Contains(fixtures.DialectNames(), f.dialect) {
		return usagef("--dialect %q: want %s", f.dialect, oneOf(fixtures.DialectNames()))
	}
	if _, err := dialect.ParseLengthHeader(f.lengthHeader); err != nil {
		return usagef("--length-header: %v", err)
	}
	if f.clock != "" {
		if cfg.Clock, err = time.Parse(time.RFC3339Nano, f.clock); err != nil {
			return usagef("--clock %q: want an RFC 3339 time such as 2026-06-11T22:59:00+08:00", f.clock)
		}
	}
	if f.tz != "" {
		if cfg.Location, err = time.LoadLocation(f.tz); err != nil {
			return usagef("--tz %q: unknown time zone", f.tz)
		}
	}
	if f.maxFrame <= 0 {
		return usagef("--max-frame must be positive")
	}
	if f.maxConns < 0 {
		return usagef("--max-connections must not be negative")
	}
	if f.maxStreams <= 0 {
		return usagef("--admin-max-streams must be positive")
	}

	s, err := sim.Start(cfg)
	if err != nil {
		if errors.As(err, new(sim.ConfigError)) {
			return usageError{err}
		}
		return err
	}
	tlsOn := ""
	if f.tlsCert != "" {
		tlsOn = " tls=on"
	}
	fmt.Fprintf(stdout, "acqsim listening iso8583=%s admin=%s dialect=%s length-header=%s scenario=%s%s\n",
		s.Addr(), s.AdminAddr(), f.dialect, f.lengthHeader, orNone(f.scenario), tlsOn)
	log.Info("listening", "iso8583", s.Addr(), "admin", s.AdminAddr(), "dialect", f.dialect, "length_header", f.lengthHeader,
		"tls", f.tlsCert != "")

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down", "grace", f.grace)
	case serveErr = <-s.Err():
		log.Error("listener failed", "err", serveErr)
	}
	sctx, cancel := context.WithTimeout(context.Background(), f.grace)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil {
		log.Warn("grace period over; in-flight requests abandoned", "err", err)
	}
	log.Info("stopped")
	return serveErr
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
