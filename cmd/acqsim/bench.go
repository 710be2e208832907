package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/acqsim/acqsim/bench"
	"github.com/acqsim/acqsim/emv"
	"github.com/acqsim/acqsim/fixtures"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/keys"
	"github.com/acqsim/acqsim/terminal"
)

type benchFlags struct {
	addr         string
	dialect      string
	lengthHeader string
	connections  int
	duration     time.Duration
	count        int64
	warmup       time.Duration
	rate         float64
	pipeline     int
	mix          string
	amount       string
	settle       bool
	signOn       bool
	keyVariant   string
	masterKey    string
	tidPrefix    string
	mid          string
	timeout      time.Duration
	output       string
	quiet        bool
	chip         bool
	cardProfile  string
	tls          sendFlags // only its tls fields
}

func newBench() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load an ISO 8583 host with many terminals and measure throughput and latency",
		Long: `Load any ISO 8583 host (acqsim or another) with many terminals, each on a
connection of its own with its own terminal ID, and report throughput,
latency percentiles and response codes.

By default each connection sends its next request as soon as the previous is
answered (closed loop; --pipeline keeps more outstanding). With --rate the
requests go out on a fixed schedule whatever the host answers (open loop),
and latency counts from when each request was due, so a host that stalls is
charged for every request that waited behind it.

A void or reversal refers to one of its connection's latest approved sales
(a sale is sent while there is none). With --settle every terminal then
settles its batch: settlement, and batch upload and end of batch where the
host wants them. acqsim keeps each terminal's batch until it settles: a second
run with the same terminal IDs repeats trace numbers in the same batch, which
acqsim answers as duplicates. Settle, reset the host, or change --tid-prefix
between runs.

With --chip every sale and balance enquiry reads a chip card (F22 051), of the
--card profile, one card per connection: a fresh cryptogram (ARQC) in F55,
and the issuer's answer (tag 91, the ARPC) checked by the card. An approval
the card refuses counts as an error, card_refused.

One progress line a second goes to standard error (-q: none). Exit status 1
when the host cannot be reached, no request was answered or a settlement
failed; 2 for a usage error.`,
		Example: `  acqsim bench --addr 127.0.0.1:8583 -c 16 -d 10s
  acqsim bench --dialect cup --mix sale=90,void=4,reversal=3,balance=3 --settle
  acqsim bench -c 4 --rate 2000 -d 30s --warmup 5s -o json
  acqsim bench -n 100000 --pipeline 8 -q
  acqsim bench --chip --card visa-cvn18 -d 10s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBench(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", "127.0.0.1:8583", "the host's `address`")
	fl.StringVar(&f.dialect, "dialect", "iso87ascii", "wire dialect: "+oneOf(fixtures.DialectNames()))
	fl.StringVar(&f.lengthHeader, "length-header", "binary2", "frame length header: binary2, ascii4 or bcd2")
	fl.IntVarP(&f.connections, "connections", "c", bench.DefaultConnections, "terminals, each on a connection of its own")
	fl.DurationVarP(&f.duration, "duration", "d", bench.DefaultDuration, "how long to send, after the warm-up (not with --count)")
	fl.Int64VarP(&f.count, "count", "n", 0, "send this many transactions in all, after the warm-up, instead of for --duration")
	fl.DurationVar(&f.warmup, "warmup", 0, "send for this long first, and leave it out of the results")
	fl.Float64Var(&f.rate, "rate", 0, "open loop: transactions a second over all connections, whatever the host answers; 0: closed loop")
	fl.IntVar(&f.pipeline, "pipeline", 1, "requests outstanding per connection, matched by STAN")
	fl.StringVar(&f.mix, "mix", "sale=100", "transactions and their weights: sale, void, reversal, balance, e.g. sale=90,void=4,reversal=3,balance=3")
	fl.StringVar(&f.amount, "amount", "1.00", "amount of each sale, in major units")
	fl.BoolVar(&f.settle, "settle", false, "at the end, have every terminal settle its batch (upload and end of batch when the host asks)")
	fl.BoolVar(&f.signOn, "sign-on", false, "sign every terminal on first (default: on for cup, off for iso87ascii)")
	fl.StringVar(&f.keyVariant, "key-variant", "003", "cup sign-on 60.3: 001, 003 or 004")
	fl.StringVar(&f.masterKey, "master-key", keys.TestMasterKey, "terminal master key in hex, to decrypt the cup working keys")
	fl.StringVar(&f.tidPrefix, "tid-prefix", bench.DefaultTIDPrefix, "terminal IDs (F41): this prefix, then the connection's number filling 8 characters")
	fl.StringVar(&f.mid, "mid", bench.DefaultMID, "merchant ID (F42, 15 characters)")
	fl.DurationVar(&f.timeout, "timeout", bench.DefaultTimeout, "how long a request waits for its response (and a connection for the host)")
	outputFlag(cmd, fl, &f.output, "text", "json")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress lines")
	fl.BoolVar(&f.chip, "chip", false, "read a chip card in sales and balance enquiries (F22 051): a fresh ARQC in F55, the host's ARPC checked by the card")
	fl.StringVar(&f.cardProfile, "card", "", "with --chip: the card `profile` to play (its test card and keys; default emv-csk): "+strings.Join(emv.Builtin().Names(), ", "))
	fl.BoolVar(&f.tls.tls, "tls", false, "connect over TLS (implied by the other --tls-* flags)")
	fl.StringVar(&f.tls.tlsCA, "tls-ca", "", "trust the host certificates this CA `file` (PEM) signed (default the system's roots)")
	fl.StringVar(&f.tls.tlsCert, "tls-cert", "", "client certificate `file` (PEM) to present, with --tls-key")
	fl.StringVar(&f.tls.tlsKey, "tls-key", "", "private key `file` (PEM) of --tls-cert")
	fl.BoolVar(&f.tls.tlsInsecure, "tls-insecure", false, "do not verify the host's certificate (self-signed test hosts)")
	return cmd
}

// benchConfig checks the flags and makes the run's configuration.
func benchConfig(cmd *cobra.Command, f benchFlags) (bench.Config, error) {
	var cfg bench.Config
	if err := checkOutput(f.output, "text", "json"); err != nil {
		return cfg, err
	}
	if cmd.Flags().Changed("duration") && cmd.Flags().Changed("count") {
		return cfg, usagef("--duration and --count: give one or the other")
	}
	d, err := fixtures.Dialect(f.dialect)
	if err != nil {
		return cfg, usageError{err}
	}
	lh, err := dialect.ParseLengthHeader(f.lengthHeader)
	if err != nil {
		return cfg, usageError{err}
	}
	mix, err := bench.ParseMix(f.mix)
	if err != nil {
		return cfg, usagef("--mix: %v", err)
	}
	amt, err := terminal.ParseAmount(f.amount)
	if err != nil {
		return cfg, usagef("--amount: %v", err)
	}
	master, err := keys.Parse(f.masterKey)
	if err != nil {
		return cfg, usagef("--master-key: %v", err)
	}
	tlsCfg, err := clientTLS(f.tls)
	if err != nil {
		return cfg, err
	}
	var chip *emv.Profile
	switch name := cmp.Or(f.cardProfile, string(emv.CommonCore)); {
	case f.chip:
		if chip = emv.Builtin().Named(name); chip == nil {
			return cfg, usagef("--card %q: want one of %s", name, strings.Join(emv.Builtin().Names(), ", "))
		}
	case f.cardProfile != "":
		return cfg, usagef("--card %q: with --chip", f.cardProfile)
	}
	signOn := f.signOn
	if !cmd.Flags().Changed("sign-on") {
		signOn = d.Preamble > 0 // cup terminals sign on before anything else
	}
	switch {
	case f.connections < 1:
		return cfg, usagef("--connections must be at least 1")
	case f.count < 0:
		return cfg, usagef("--count must not be negative")
	case f.count == 0 && f.duration <= 0:
		return cfg, usagef("--duration must be above 0")
	case f.pipeline < 1:
		return cfg, usagef("--pipeline must be at least 1")
	case f.timeout <= 0:
		return cfg, usagef("--timeout must be above 0")
	}
	cfg = bench.Config{
		Addr: f.addr, Dialect: d, Header: lh, TLS: tlsCfg, Connections: f.connections, Count: f.count,
		Warmup: f.warmup, Rate: f.rate, Pipeline: f.pipeline, Mix: mix, Amount: amt, Settle: f.settle,
		SignOn: signOn, KeyVariant: f.keyVariant, MasterKey: master, TIDPrefix: f.tidPrefix, MID: f.mid,
		Timeout: f.timeout, Chip: chip,
	}
	if f.count == 0 {
		cfg.Duration = f.duration
	}
	if err := cfg.Validate(); err != nil {
		return cfg, usageError{err}
	}
	return cfg, nil
}

func runBench(cmd *cobra.Command, f benchFlags) error {
	cfg, err := benchConfig(cmd, f)
	if err != nil {
		return err
	}
	stderr := cmd.ErrOrStderr()
	tty := isTerminal(stderr)
	if !f.quiet {
		cfg.Progress = func(p bench.Progress) {
			if tty {
				fmt.Fprintf(stderr, "\r%s\x1b[K", p) // overwritten in place
			} else {
				fmt.Fprintln(stderr, p)
			}
		}
	}
	res, err := bench.Run(cmd.Context(), cfg)
	if tty && !f.quiet {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if f.output == "json" {
		raw, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(out, "%s\n", raw); err != nil {
			return err
		}
	} else if err := res.WriteText(out); err != nil {
		return err
	}
	switch {
	case res.Sent > 0 && res.Answered == 0 && res.ErrorsByKind["card_refused"] > 0:
		return fmt.Errorf("none of the %d requests was answered: the card refused %d approvals (tag 91, the ARPC)", res.Sent, res.ErrorsByKind["card_refused"])
	case res.Sent > 0 && res.Answered == 0:
		return fmt.Errorf("none of the %d requests was answered", res.Sent)
	case res.Settlement != nil && res.Settlement.Failed > 0:
		return fmt.Errorf("%d of %d settlements failed", res.Settlement.Failed, res.Settlement.Terminals)
	}
	return nil
}

// isTerminal reports whether w is a terminal, where a progress line can be
// rewritten in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
